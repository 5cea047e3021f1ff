//! A client of the admin API, for `subnetd reload` and for tests and tools.
//!
//! One HTTP/1.1 request per call over a fresh loopback connection; every call is bounded by a
//! timeout. Failures are [`AdminClientError`]s naming the address. Mutating calls carry the
//! daemon's token (`Authorization: Bearer`), read from `<state_dir>/admin.token` by
//! [`AdminClient::from_state_dir`] or given with [`AdminClient::with_token`]; without one the
//! daemon answers them 401.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// Why an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    /// No connection, or the exchange broke.
    #[error("admin API at {addr}: {message}")]
    Transport {
        /// The address.
        addr: SocketAddr,
        /// What went wrong.
        message: String,
    },
    /// The daemon answered with an error status.
    #[error("admin API at {addr}: {status}: {body}")]
    Status {
        /// The address.
        addr: SocketAddr,
        /// The HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// The answer is not the JSON expected.
    #[error("admin API at {addr}: unexpected answer: {message}")]
    Decode {
        /// The address.
        addr: SocketAddr,
        /// What is wrong.
        message: String,
    },
}

/// A client of one daemon's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    addr: SocketAddr,
    timeout: Duration,
    token: Option<String>,
}

/// Largest token file read (a token is 64 hex digits).
const MAX_TOKEN_FILE: u64 = 1024;

impl AdminClient {
    /// A client of the daemon at `addr`, with a 5-minute timeout per call (a reload of a large
    /// module compiles it first).
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, timeout: Duration::from_secs(300), token: None }
    }

    /// The same client sending `token` with its calls.
    pub fn with_token(self, token: impl Into<String>) -> Self {
        Self { token: Some(token.into()), ..self }
    }

    /// The same client with another timeout.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// The address a running daemon wrote to `<state_dir>/admin.addr`, and its token from
    /// `<state_dir>/admin.token` when that file is there (a daemon older than the token has
    /// none).
    pub fn from_state_dir(state_dir: &Path) -> Result<Self, String> {
        use std::io::Read as _;
        let path = state_dir.join(super::ADMIN_ADDR_FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e} (is `subnetd run` running with this state_dir?)", path.display()))?;
        let addr = text.trim().parse().map_err(|e| format!("{}: {e}", path.display()))?;
        let token_path = state_dir.join(super::admin::ADMIN_TOKEN_FILE);
        let token = match std::fs::File::open(&token_path) {
            Ok(file) => {
                let mut token = String::new();
                file.take(MAX_TOKEN_FILE)
                    .read_to_string(&mut token)
                    .map_err(|e| format!("{}: {e}", token_path.display()))?;
                Some(token.trim().to_owned())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(format!("{}: {e}", token_path.display())),
        };
        Ok(Self { token, ..Self::new(addr) })
    }

    /// The daemon's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends one request; returns the status and body.
    pub async fn request(&self, method: &str, path: &str) -> Result<(u16, String), AdminClientError> {
        let addr = self.addr;
        let transport = |message: String| AdminClientError::Transport { addr, message };
        let exchange = async {
            let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| transport(e.to_string()))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| transport(e.to_string()))?;
            let driver = tokio::spawn(conn);
            let mut request = Request::builder().method(method).uri(path).header(hyper::header::HOST, addr.to_string());
            if let Some(token) = &self.token {
                request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let request = request.body(Empty::<Bytes>::new()).map_err(|e| transport(e.to_string()))?;
            let response = sender.send_request(request).await.map_err(|e| transport(e.to_string()))?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map_err(|e| transport(e.to_string()))?.to_bytes();
            driver.abort();
            Ok((status, String::from_utf8_lossy(&body).into_owned()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| transport(format!("no answer within {:?}", self.timeout)))?
    }

    async fn json(&self, method: &str, path: &str) -> Result<serde_json::Value, AdminClientError> {
        let (status, body) = self.request(method, path).await?;
        if !(200..300).contains(&status) {
            return Err(AdminClientError::Status { addr: self.addr, status, body });
        }
        serde_json::from_str(&body).map_err(|e| AdminClientError::Decode { addr: self.addr, message: e.to_string() })
    }

    /// `GET /status`.
    pub async fn status(&self) -> Result<serde_json::Value, AdminClientError> {
        self.json("GET", "/status").await
    }

    /// `POST /reload` or `POST /reload/{netuid}`: the reload records.
    pub async fn reload(&self, netuid: Option<u16>) -> Result<Vec<serde_json::Value>, AdminClientError> {
        self.reload_with(netuid, false).await
    }

    /// [`Self::reload`], applying versions signed before the serving ones when
    /// `allow_rollback` (`?allow_rollback=true`).
    pub async fn reload_with(
        &self,
        netuid: Option<u16>,
        allow_rollback: bool,
    ) -> Result<Vec<serde_json::Value>, AdminClientError> {
        let mut path = match netuid {
            Some(n) => format!("/reload/{n}"),
            None => "/reload".to_owned(),
        };
        if allow_rollback {
            path.push_str("?allow_rollback=true");
        }
        let answer = self.json("POST", &path).await?;
        answer
            .get("reloads")
            .and_then(|r| r.as_array())
            .cloned()
            .ok_or_else(|| AdminClientError::Decode { addr: self.addr, message: "no `reloads` list".into() })
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> Result<String, AdminClientError> {
        let (status, body) = self.request("GET", "/metrics").await?;
        if status != 200 {
            return Err(AdminClientError::Status { addr: self.addr, status, body });
        }
        Ok(body)
    }
}

/// The value of one series in Prometheus text (`name{labels} value`), for tools and tests:
/// `labels` are `key="value"` pairs that must all appear. Sums every matching series.
pub fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (series_name, rest) = match series.find('{') {
                Some(i) => (&series[..i], &series[i..]),
                None => (series, ""),
            };
            if series_name != name {
                return None;
            }
            labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}
