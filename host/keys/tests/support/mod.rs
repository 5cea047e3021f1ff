//! Drives the real bittensor SDKs from the interop tests: one Python process per test, one JSON
//! request and answer per line.
//!
//! - bittensor 11 (tests/interop/sdk_helper.py, btauth and wallets): the Python comes from
//!   `SUBNETD_PYTHON`, else the workspace venv (`<workspace>/.venv`).
//! - bittensor 10.5 (tests/interop/bt10_helper.py, Synapse and Epistula; it cannot share a venv
//!   with 11.x): `SUBNETD_PYTHON_BT10`, else `<workspace>/.venv-bt10`.
//!
//! If the interpreter is missing, or cannot import the right bittensor, the test fails and says
//! how to set it up: these tests never pass without having talked to the SDK.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// What to do when the SDK is not there.
const SETUP_HINT: &str = "create the interop venv at the workspace root: `python3 -m venv .venv && \
.venv/bin/pip install bittensor==11.3.0` (the project's setup does this), or set SUBNETD_PYTHON to \
a Python that has bittensor 11 installed";

/// What to do when bittensor 10.5 is not there.
const SETUP_HINT_BT10: &str = "run scripts/setup.sh, which creates the bittensor 10.5 venv at the workspace root \
(`python3 -m venv .venv-bt10 && .venv-bt10/bin/pip install bittensor==10.5.0`), or set SUBNETD_PYTHON_BT10 to a \
Python that has bittensor 10.5.0 installed";

/// The Python interpreter with bittensor 10.5.
pub fn python_bt10() -> PathBuf {
    let path = match std::env::var_os("SUBNETD_PYTHON_BT10") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-bt10/bin/python"),
    };
    assert!(path.exists(), "no Python for the bittensor 10.5 interop tests at {}: {SETUP_HINT_BT10}", path.display());
    path
}

/// The Python interpreter with the bittensor SDK.
pub fn python() -> PathBuf {
    let path = match std::env::var_os("SUBNETD_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
    };
    assert!(path.exists(), "no Python for the bittensor interop tests at {}: {SETUP_HINT}", path.display());
    path
}

/// A running SDK helper process.
pub struct Sdk {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    python: PathBuf,
    hint: &'static str,
}

impl Sdk {
    fn spawn(python: PathBuf, script: &str, hint: &'static str) -> Sdk {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop").join(script);
        let mut child = Command::new(&python)
            .arg(&script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}; {hint}", python.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Sdk { child, stdin, stdout, python, hint }
    }

    /// Starts the bittensor 10.5 helper and checks its version.
    pub fn start_bt10() -> Sdk {
        let mut sdk = Sdk::spawn(python_bt10(), "bt10_helper.py", SETUP_HINT_BT10);
        let v = sdk.ok(json!({"op": "version"}));
        let version = v["bittensor"].as_str().unwrap_or_default().to_string();
        assert_eq!(version, "10.5.0", "the Synapse interop tests need bittensor 10.5.0; {SETUP_HINT_BT10}");
        sdk
    }

    /// Starts the helper and checks it runs bittensor 11 with `btauth/1`.
    pub fn start() -> Sdk {
        let mut sdk = Sdk::spawn(python(), "sdk_helper.py", SETUP_HINT);
        let v = sdk.ok(json!({"op": "version"}));
        let version = v["bittensor"].as_str().unwrap_or_default().to_string();
        assert!(version.starts_with("11."), "the interop tests need bittensor 11.x, found {version:?}; {SETUP_HINT}");
        assert_eq!(v["protocol"], "btauth/1");
        sdk
    }

    /// Sends one request; returns the answer (`ok` true or false).
    pub fn call(&mut self, request: Value) -> Value {
        writeln!(self.stdin, "{request}").expect("write to the SDK helper");
        self.stdin.flush().expect("flush to the SDK helper");
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).expect("read from the SDK helper");
        assert!(
            n > 0,
            "the SDK helper exited (see its traceback above); is bittensor installed for {}? {}",
            self.python.display(),
            self.hint
        );
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("SDK helper answered {line:?}: {e}"))
    }

    /// Sends one request that must succeed.
    pub fn ok(&mut self, request: Value) -> Value {
        let answer = self.call(request.clone());
        assert_eq!(answer["ok"], true, "SDK call {request} failed: {answer}");
        answer
    }
}

impl Drop for Sdk {
    fn drop(&mut self) {
        // Our own child only: closing stdin ends its loop; kill covers a hung one.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Headers as the helper takes and gives them: `[[name, value], ...]`.
pub fn headers_to_json(headers: &[(String, String)]) -> Value {
    Value::Array(headers.iter().map(|(k, v)| json!([k, v])).collect())
}

/// The inverse of [`headers_to_json`].
pub fn headers_from_json(value: &Value) -> Vec<(String, String)> {
    value
        .as_array()
        .expect("headers array")
        .iter()
        .map(|pair| (pair[0].as_str().expect("name").to_string(), pair[1].as_str().expect("value").to_string()))
        .collect()
}
