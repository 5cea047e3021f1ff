//! Parsing a task's own headers (`X-Subnet-*`, `Content-Type`; see [`crate::net`]): untrusted
//! input, so every value is checked for shape and length and every failure is a typed
//! [`Refused`] (400 `bad_request` or 421 `wrong_netuid`).

use std::time::Duration;

use axum::http::{HeaderMap, header};
use subnet_chain::NetUid;

use super::admission::Refused;
use super::{DEFAULT_TASK_TIMEOUT, HEADER_NETUID, HEADER_TASK_ID, HEADER_TIMEOUT_MS, MAX_TASK_ID_LEN};

/// Longest `Content-Type` accepted, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 256;

/// The task headers, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskHeaders {
    /// The task id (`-` when absent).
    pub task_id: String,
    /// The time asked for, capped by the miner.
    pub timeout: Duration,
    /// The payload's content type (`application/octet-stream` when absent).
    pub content_type: String,
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, Refused> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(Refused::BadRequest(format!("{name} given more than once")));
    }
    first.to_str().map(|s| Some(s.trim())).map_err(|_| Refused::BadRequest(format!("{name} is not valid text")))
}

/// Parses and checks the task headers for a miner of `netuid` that caps timeouts at
/// `max_timeout`.
pub fn parse(headers: &HeaderMap, netuid: NetUid, max_timeout: Duration) -> Result<TaskHeaders, Refused> {
    if let Some(n) = header_text(headers, HEADER_NETUID)? {
        let asked: NetUid = n.parse().map_err(|_| Refused::BadRequest(format!("{HEADER_NETUID} is not a netuid")))?;
        if asked != netuid {
            return Err(Refused::WrongNetuid { served: netuid, asked });
        }
    }
    let task_id = header_text(headers, HEADER_TASK_ID)?.unwrap_or("-");
    if task_id.len() > MAX_TASK_ID_LEN {
        return Err(Refused::BadRequest(format!("{HEADER_TASK_ID} is longer than {MAX_TASK_ID_LEN} bytes")));
    }
    let timeout = match header_text(headers, HEADER_TIMEOUT_MS)? {
        None => DEFAULT_TASK_TIMEOUT,
        Some(t) => Duration::from_millis(
            t.parse::<u64>()
                .map_err(|_| Refused::BadRequest(format!("{HEADER_TIMEOUT_MS} is not a number of milliseconds")))?,
        ),
    };
    let content_type = match header_text(headers, header::CONTENT_TYPE.as_str())? {
        None | Some("") => "application/octet-stream".to_owned(),
        Some(ct) if ct.len() > MAX_CONTENT_TYPE_LEN => {
            return Err(Refused::BadRequest(format!("Content-Type is longer than {MAX_CONTENT_TYPE_LEN} bytes")));
        }
        Some(ct) => ct.to_owned(),
    };
    Ok(TaskHeaders { task_id: task_id.to_owned(), timeout: timeout.min(max_timeout), content_type })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue};
    use proptest::prelude::*;

    use super::*;

    fn names() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(HEADER_NETUID.to_owned()),
            Just(HEADER_TASK_ID.to_owned()),
            Just(HEADER_TIMEOUT_MS.to_owned()),
            Just("content-type".to_owned()),
            "[a-z-]{1,12}",
        ]
    }

    proptest! {
        /// Any header list: a parse within the bounds, or a typed 400/421; never a panic.
        #[test]
        fn any_headers_parse_or_refuse_typed(
            pairs in proptest::collection::vec((names(), proptest::collection::vec(any::<u8>(), 0..300)), 0..10),
            netuid in any::<u16>(),
        ) {
            let mut headers = HeaderMap::new();
            for (k, v) in pairs {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_bytes(&v)) {
                    headers.append(k, v);
                }
            }
            let max = Duration::from_secs(60);
            match parse(&headers, netuid, max) {
                Ok(t) => {
                    prop_assert!(t.task_id.len() <= MAX_TASK_ID_LEN);
                    prop_assert!(t.content_type.len() <= MAX_CONTENT_TYPE_LEN);
                    prop_assert!(t.timeout <= max);
                }
                Err(e) => prop_assert!(matches!((e.status(), e.reason()), (400, "bad_request") | (421, "wrong_netuid"))),
            }
        }
    }
}
