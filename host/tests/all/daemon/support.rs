//! Helpers of the daemon's integration tests: a scratch directory with a wallet, config files,
//! the `subnetd run` process and its admin API, atomic module replacement and module variants.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use subnet_host::daemon::client::{AdminClient, metric_value};
use subnet_keys::{CryptoType, Keypair};

use crate::common;

/// The validator hotkey every fixture uses (its wallet is written into the fixture).
pub fn validator_key() -> Keypair {
    Keypair::from_seed(CryptoType::Sr25519, &[0x11; 32])
}

/// A subnet owner's ed25519 signing key.
pub fn owner_key(byte: u8) -> Keypair {
    Keypair::from_seed(CryptoType::Ed25519, &[byte; 32])
}

/// A scratch directory with `wallets/`, `state/` and `modules/`.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        validator_key().save_to_wallet(&dir.path().join("wallets"), "test", "validator", false).expect("wallet");
        std::fs::create_dir_all(dir.path().join("modules")).unwrap();
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.path("state")
    }

    /// Writes `subnetd.toml`: the common head (state, wallet, local chain, admin on a free port)
    /// followed by `subnets`.
    pub fn write_config(&self, block_time: &str, subnets: &str) -> PathBuf {
        let text = format!(
            r#"state_dir = "state"
shutdown_grace = "30s"
[wallet]
path = "wallets"
name = "test"
hotkey = "validator"
[chain]
backend = "local"
block_time = "{block_time}"
[admin]
listen = "127.0.0.1:0"
[runtime]
cache_dir = "{cache}"
{subnets}"#,
            cache = common::root().join("target").join("subnetd-test-cache").display()
        );
        let path = self.path("subnetd.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Replaces `path` with `bytes` the clean way: a temporary file in the same directory, renamed.
pub fn replace_atomically(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("incoming");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// `bytes` with a custom section appended: another module version (another hash) that behaves
/// exactly the same.
pub fn variant(bytes: &[u8], tag: u32) -> Vec<u8> {
    fn leb(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"subnetd-test-variant";
    let payload = tag.to_le_bytes();
    let mut body = Vec::new();
    leb(name.len() as u32, &mut body);
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = bytes.to_vec();
    out.push(0);
    leb(body.len() as u32, &mut out);
    out.extend_from_slice(&body);
    out
}

/// SHA-256 hex of bytes (the daemon's module hash).
pub fn hash(bytes: &[u8]) -> String {
    subnet_host::runtime::content_hash(bytes)
}

/// A `subnetd run` process.
pub struct DaemonProcess {
    pub child: Child,
    pub client: AdminClient,
    pub log: PathBuf,
}

impl DaemonProcess {
    /// Starts `subnetd -v run --config <config>` and waits until its admin API answers.
    pub async fn start(config: &Path, state_dir: &Path, log: &Path) -> Self {
        Self::start_with(config, state_dir, log, &[]).await
    }

    /// [`DaemonProcess::start`] with `extra` arguments before `run` (e.g. `--log-format json`).
    pub async fn start_with(config: &Path, state_dir: &Path, log: &Path, extra: &[&str]) -> Self {
        let _ = std::fs::remove_file(state_dir.join(subnet_host::daemon::ADMIN_ADDR_FILE));
        let log_file = std::fs::File::create(log).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_subnetd"))
            .args(extra)
            .args(["-v", "run", "--config"])
            .arg(config)
            .env("RUST_LOG", "info,subnet_host::net=warn")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn subnetd");
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut process = Self { child, client: AdminClient::new(([127, 0, 0, 1], 1).into()), log: log.to_path_buf() };
        loop {
            if let Some(status) = process.child.try_wait().unwrap() {
                panic!("subnetd exited early ({status}):\n{}", process.log_text());
            }
            if let Ok(client) = AdminClient::from_state_dir(state_dir) {
                let client = client.with_timeout(Duration::from_secs(60));
                if client.status().await.is_ok() {
                    process.client = client;
                    return process;
                }
            }
            assert!(Instant::now() < deadline, "subnetd did not come up:\n{}", process.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn status(&self) -> Value {
        self.client.status().await.unwrap_or_else(|e| panic!("status: {e}\n{}", self.log_text()))
    }

    pub async fn subnet(&self, netuid: u64) -> Value {
        let status = self.status().await;
        status["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["netuid"].as_u64() == Some(netuid))
            .cloned()
            .unwrap_or_else(|| panic!("no subnet {netuid} in {status}"))
    }

    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let text = self.client.metrics().await.expect("metrics");
        metric_value(&text, name, labels)
    }

    /// Polls subnet `netuid`'s status until `pred` holds (or panics after `timeout`).
    pub async fn wait_for(&self, netuid: u64, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.subnet(netuid).await;
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; last status: {s:#}\n--- log ---\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child process by its pid.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit; returns the exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        // SAFETY: sending a signal to our own child process by its pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "subnetd did not stop on SIGTERM:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for DaemonProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Reload records of a subnet status with `seq` above `after`.
pub fn reloads_after(subnet: &Value, after: u64) -> Vec<Value> {
    subnet["reloads"]
        .as_array()
        .map(|r| r.iter().filter(|r| r["seq"].as_u64().unwrap_or(0) > after).cloned().collect())
        .unwrap_or_default()
}

/// The highest reload seq of a subnet status.
pub fn last_seq(subnet: &Value) -> u64 {
    subnet["reloads"].as_array().and_then(|r| r.iter().filter_map(|r| r["seq"].as_u64()).max()).unwrap_or(0)
}
