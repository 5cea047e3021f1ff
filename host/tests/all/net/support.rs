//! Helpers of the networking tests: `subnetd` child processes (killed on drop), wallets on disk,
//! raw HTTP/1.1 on loopback (to send what a well-behaved client never would), and the Python
//! with the bittensor SDK for the interop tests.
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use subnet_keys::{CryptoType, Keypair};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The `subnetd` binary under test.
pub fn subnetd() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_subnetd"))
}

/// The compile cache the test helper uses, so the miner process does not recompile guests.
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/subnetd-test-cache")
}

/// Runs `subnetd ARGS` to completion; returns stdout, panicking with stderr on failure.
pub fn run_ok<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = Command::new(subnetd())
        .args(args)
        .env("SUBNETD_CACHE_DIR", cache_dir())
        .env("NO_COLOR", "1")
        .output()
        .expect("run subnetd");
    let shown: Vec<_> = args.iter().map(|a| a.as_ref().to_string_lossy().into_owned()).collect();
    assert!(out.status.success(), "subnetd {shown:?} failed: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs `subnetd ARGS` expecting failure; returns stderr.
pub fn run_err<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = Command::new(subnetd()).args(args).env("NO_COLOR", "1").output().expect("run subnetd");
    assert!(!out.status.success(), "expected failure, got {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A long-running child (a `subnetd` server or a Python helper), killed when dropped. Its
/// stderr goes to `log`; `line` is the first line it printed on stdout (its address).
pub struct Proc {
    child: Child,
    /// First stdout line.
    pub line: String,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Proc {
    /// Starts `program ARGS` and waits (up to 120 s) for its first stdout line.
    pub fn start<S: AsRef<std::ffi::OsStr>>(program: &Path, args: &[S], log: PathBuf) -> Proc {
        let err = std::fs::File::create(&log).expect("log file");
        let mut child = Command::new(program)
            .args(args)
            .env("SUBNETD_CACHE_DIR", cache_dir())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next());
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(Some(Ok(line))) => line.trim().to_owned(),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} printed no first line ({other:?}); its log:\n{}",
                    program.display(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Proc { child, line, log }
    }

    /// Its stderr so far, with ANSI escapes removed.
    pub fn log_text(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // Only our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Writes a wallet as btcli lays it out: a plain coldkey, `coldkeypub.txt`, and the hotkey
/// `default` (with `defaultpub.txt`). Returns (coldkey, hotkey).
pub fn make_wallet(root: &Path, name: &str, crypto: CryptoType) -> (Keypair, Keypair) {
    let coldkey = Keypair::generate(CryptoType::Sr25519);
    let path = subnet_keys::coldkey_path(root, name).unwrap();
    coldkey.save_to_file(&path, false).unwrap();
    std::fs::write(path.with_file_name("coldkeypub.txt"), coldkey.to_public_keyfile_json()).unwrap();
    let hotkey = Keypair::generate(crypto);
    hotkey.save_to_wallet(root, name, "default", false).unwrap();
    (coldkey, hotkey)
}

/// What came back from a raw request.
#[derive(Debug)]
pub struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// The body parsed as JSON (Null if it is not JSON).
    pub json: serde_json::Value,
    /// The raw body.
    pub body: Vec<u8>,
}

impl RawAnswer {
    /// The refusal code (`error` field).
    pub fn reason(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }
}

fn parse_answer(raw: &[u8]) -> RawAnswer {
    let text = String::from_utf8_lossy(raw);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"));
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |p| p + 4);
    let body = raw[split..].to_vec();
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    RawAnswer { status, json, body }
}

/// Sends one request with exactly these headers and body (plus Host, Content-Length and
/// Connection: close) and reads the whole answer.
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> RawAnswer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("answer within 20 s")
        .expect("read answer");
    parse_answer(&raw)
}

/// Declares a body of `declared` bytes, sends none of it, and reads the answer: a server that
/// answers has refused the body from its headers alone.
pub async fn declare_huge_body(addr: SocketAddr, headers: &[(String, String)], declared: u64) -> RawAnswer {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("POST /v1/task HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {declared}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    read_head(&mut stream).await
}

async fn read_head(stream: &mut tokio::net::TcpStream) -> RawAnswer {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let n =
            tokio::time::timeout_at(deadline, stream.read(&mut buf)).await.expect("answer within 20 s").unwrap_or(0);
        raw.extend_from_slice(&buf[..n]);
        if n == 0 {
            break;
        }
        // Headers and a Content-Length body complete?
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..p]).to_ascii_lowercase();
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                .unwrap_or(0);
            if raw.len() >= p + 4 + len {
                break;
            }
        }
    }
    parse_answer(&raw)
}

/// Streams a chunked body of up to `total` bytes while reading the answer; returns the answer
/// and how many body bytes the server let us write before it answered and closed.
pub async fn stream_chunked_body(addr: SocketAddr, headers: &[(String, String)], total: usize) -> (RawAnswer, usize) {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let mut head = format!("POST /v1/task HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    wr.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'7'; 256 << 10];
        let frame_head = format!("{:x}\r\n", chunk.len());
        let mut written = 0usize;
        while written < total {
            if wr.write_all(frame_head.as_bytes()).await.is_err()
                || wr.write_all(&chunk).await.is_err()
                || wr.write_all(b"\r\n").await.is_err()
            {
                break;
            }
            written += chunk.len();
        }
        written
    });
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), rd.read_to_end(&mut raw)).await;
    drop(rd);
    let written = tokio::time::timeout(Duration::from_secs(30), writer).await.expect("writer stops").unwrap();
    (parse_answer(&raw), written)
}

/// The Python with bittensor 11 for the interop tests: `SUBNETD_PYTHON`, else the workspace
/// venv. Panics with set-up instructions when absent: these tests never pass silently.
pub fn python() -> PathBuf {
    const HINT: &str = "create the interop venv at the workspace root: `python3 -m venv .venv && \
.venv/bin/pip install bittensor==11.3.0`, or set SUBNETD_PYTHON to a Python with bittensor 11";
    let path = match std::env::var_os("SUBNETD_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"),
    };
    assert!(path.exists(), "no Python for the bittensor interop tests at {}: {HINT}", path.display());
    let out = Command::new(&path)
        .args(["-c", "import bittensor, bittensor.http_auth as a; print(bittensor.__version__, a.PROTOCOL)"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {HINT}", path.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("11.") && text.contains("btauth/1"),
        "{} does not have bittensor 11 with btauth/1 ({text:?} {}); {HINT}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

/// The Python with bittensor 10.5 (Axon, Dendrite) for the Synapse and Epistula interop tests:
/// `$SUBNETD_PYTHON_BT10`, else `<workspace>/.venv-bt10/bin/python` (scripts/setup.sh makes it;
/// 10.5 cannot share a venv with 11.x).
pub fn python_bt10() -> PathBuf {
    const HINT: &str = "run scripts/setup.sh, which creates the bittensor 10.5 venv at the workspace root \
(`python3 -m venv .venv-bt10 && .venv-bt10/bin/pip install bittensor==10.5.0`), or set SUBNETD_PYTHON_BT10";
    let path = match std::env::var_os("SUBNETD_PYTHON_BT10") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv-bt10/bin/python"),
    };
    assert!(path.exists(), "no Python for the bittensor 10.5 interop tests at {}: {HINT}", path.display());
    path
}

/// A helper script under tests/all/net/.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/all/net").join(name)
}

/// Polls `f` every 50 ms for up to `secs` seconds.
pub async fn eventually<F: FnMut() -> bool>(secs: u64, mut f: F) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f()
}
