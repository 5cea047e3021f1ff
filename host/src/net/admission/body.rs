//! Reading an unverified body under three bounds: size, a deadline, and a minimum transfer
//! rate, hashing it (sha256) frame by frame as it arrives.
//!
//! Invariants:
//! - At most `max_bytes` are held (plus nothing: a frame that would pass the limit is refused
//!   before it is copied); a declared `Content-Length` over the limit is refused before any read.
//! - The read ends by `deadline` whatever the peer does.
//! - Pace: after `grace`, the bytes received must keep up with `min_rate` on average: by time
//!   `start + grace + t` at least `t × min_rate` bytes have arrived, or the read ends with
//!   [`BodyError::TooSlow`]. A trickling client therefore holds its slot for about `grace`
//!   plus what it actually sent divided by `min_rate`, not for the task's timeout.
//! - The digest covers exactly the bytes returned; hashing is incremental, so no pass over the
//!   whole body runs after the last byte.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use hyper::body::Body;
use sha2::{Digest as _, Sha256};

use super::slots::Progress;

/// The bounds of one read.
#[derive(Debug, Clone, Copy)]
pub struct BodyBounds {
    /// Largest body.
    pub max_bytes: usize,
    /// When the read must be over.
    pub deadline: Instant,
    /// Least average rate after the grace period, bytes per second (0: no pace check).
    pub min_rate: u64,
    /// Time before the pace check starts.
    pub grace: Duration,
}

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Declared or received bytes pass the limit.
    #[error("the body is larger than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// The deadline passed first.
    #[error("the body did not arrive in time")]
    Timeout,
    /// The transfer fell below the minimum rate.
    #[error("the body arrived slower than {min_rate} bytes/s")]
    TooSlow {
        /// The rate required.
        min_rate: u64,
    },
    /// The connection failed while reading (text truncated to 200 bytes).
    #[error("reading the body failed: {0}")]
    Io(String),
    /// A faster request took this one's unverified place (see [`super::slots`]).
    #[error("the body was too slow to keep its place; a faster request took it")]
    Evicted,
}

/// A body and its sha256.
#[derive(Debug, Clone)]
pub struct HashedBody {
    /// The bytes.
    pub bytes: Bytes,
    /// Their sha256.
    pub sha256: [u8; 32],
}

/// When `received` bytes stop being enough (see the module docs), or `None` without a pace.
fn pace_deadline(start: Instant, bounds: &BodyBounds, received: usize) -> Option<Instant> {
    if bounds.min_rate == 0 {
        return None;
    }
    let secs = received as f64 / bounds.min_rate as f64;
    // Far beyond any deadline: saturate instead of overflowing `Instant`.
    let allowed = Duration::try_from_secs_f64(secs).unwrap_or(Duration::from_secs(1 << 30));
    start.checked_add(bounds.grace.saturating_add(allowed))
}

/// Reads `body` under `bounds` (see the module docs), reporting to `progress` (and ending with
/// [`BodyError::Evicted`] when it is evicted).
pub async fn read_paced<B>(
    mut body: B,
    bounds: BodyBounds,
    progress: Option<&Progress>,
) -> Result<HashedBody, BodyError>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    let max = bounds.max_bytes;
    let max64 = u64::try_from(max).unwrap_or(u64::MAX);
    let hint = body.size_hint();
    if hint.lower() > max64 {
        return Err(BodyError::TooLarge { max });
    }
    let start = Instant::now();
    let exact = hint.exact();
    // Preallocate from an exact declared length only (bounded by `max` and 1 MiB); a lying
    // length just costs a reallocation.
    let mut buf = BytesMut::with_capacity(exact.map_or(0, |n| n.min(max64) as usize).min(1 << 20));
    let mut hasher = Sha256::new();
    let mut single: Option<Bytes> = None;
    loop {
        let received = buf.len() + single.as_ref().map_or(0, Bytes::len);
        let pace = pace_deadline(start, &bounds, received);
        let wait_until = pace.map_or(bounds.deadline, |p| p.min(bounds.deadline));
        let next = tokio::time::timeout_at(wait_until.into(), body.frame());
        let next = async {
            match progress {
                Some(p) => tokio::select! {
                    biased;
                    e = p.evicted() => Err(e),
                    r = next => Ok(r),
                },
                None => Ok(next.await),
            }
        };
        let frame = match next.await? {
            Ok(Some(frame)) => {
                frame.map_err(|e| BodyError::Io(crate::util::truncate(&e.to_string(), 200).to_owned()))?
            }
            Ok(None) => break,
            Err(_) if pace.is_some_and(|p| p < bounds.deadline) => {
                return Err(BodyError::TooSlow { min_rate: bounds.min_rate });
            }
            Err(_) => return Err(BodyError::Timeout),
        };
        let Ok(data) = frame.into_data() else { continue };
        if received.saturating_add(data.len()) > max {
            return Err(BodyError::TooLarge { max });
        }
        hasher.update(&data);
        if let Some(p) = progress {
            p.add(data.len());
        }
        // One frame holding the whole declared body needs no copy.
        if received == 0 && single.is_none() && exact == Some(data.len() as u64) {
            single = Some(data);
            continue;
        }
        if let Some(s) = single.take() {
            buf.extend_from_slice(&s);
        }
        buf.extend_from_slice(&data);
    }
    let bytes = single.unwrap_or_else(|| buf.freeze());
    Ok(HashedBody { bytes, sha256: hasher.finalize().into() })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{Full, StreamBody};
    use hyper::body::Frame;
    use proptest::prelude::*;

    use super::*;

    fn bounds(max: usize, secs: u64, rate: u64) -> BodyBounds {
        BodyBounds {
            max_bytes: max,
            deadline: Instant::now() + Duration::from_secs(secs),
            min_rate: rate,
            grace: Duration::from_millis(50),
        }
    }

    type Frames = StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    fn chunks(parts: Vec<Vec<u8>>) -> Frames {
        let frames: Vec<_> = parts.into_iter().map(|p| Ok(Frame::data(Bytes::from(p)))).collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn digest_matches_and_limits_hold() {
        let body = b"hello world".to_vec();
        let got = read_paced(Full::new(Bytes::from(body.clone())), bounds(64, 5, 1), None).await.unwrap();
        assert_eq!(got.bytes, body);
        assert_eq!(got.sha256, <[u8; 32]>::from(Sha256::digest(&body)));
        let e = read_paced(Full::new(Bytes::from(vec![0u8; 65])), bounds(64, 5, 1), None).await.unwrap_err();
        assert_eq!(e, BodyError::TooLarge { max: 64 });
        let e = read_paced(chunks(vec![vec![1; 40], vec![2; 40]]), bounds(64, 5, 1), None).await.unwrap_err();
        assert_eq!(e, BodyError::TooLarge { max: 64 });
    }

    #[tokio::test]
    async fn a_trickle_is_cut_off_by_the_pace_not_the_deadline() {
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(4);
        tokio::spawn(async move {
            use futures::SinkExt as _;
            loop {
                if tx.send(Ok(Frame::data(Bytes::from_static(b"x")))).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        // 10 bytes/s against a 1 KiB/s minimum, with an hour of deadline left.
        let e = read_paced(StreamBody::new(rx), bounds(1 << 20, 3600, 1024), None).await.unwrap_err();
        assert_eq!(e, BodyError::TooSlow { min_rate: 1024 });
        let (_tx, rx) = futures::channel::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
        let e = read_paced(StreamBody::new(rx), bounds(1 << 20, 0, 0), None).await.unwrap_err();
        assert_eq!(e, BodyError::Timeout);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Any split of any body, under any limit: the bytes and digest are exact or the error
        /// is the typed size refusal; never a panic.
        #[test]
        fn any_framing_reads_exactly_or_refuses_typed(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..12),
            max in 0usize..2000,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let whole: Vec<u8> = parts.concat();
            let r = rt.block_on(read_paced(chunks(parts), bounds(max, 5, 0), None));
            match r {
                Ok(b) => {
                    prop_assert!(whole.len() <= max);
                    prop_assert_eq!(&b.bytes[..], &whole[..]);
                    prop_assert_eq!(b.sha256, <[u8; 32]>::from(Sha256::digest(&whole)));
                }
                Err(e) => {
                    prop_assert!(whole.len() > max);
                    prop_assert_eq!(e, BodyError::TooLarge { max });
                }
            }
        }
    }
}
