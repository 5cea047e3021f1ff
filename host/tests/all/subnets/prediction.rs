//! `examples/prediction-subnet` (Python validator and miners, issue 16's acceptance): the
//! validator fetches its truth over outbound HTTP from the example's price feed (a real HTTP
//! server on loopback, `feed.py`), keeps each round's predictions and scores them once the
//! feed has the target block (deferred scoring, abstaining for miners that did not answer).
//! In the sandbox the honest miners earn at least 80 % and the constant guesser and the
//! last-value copier at most 5 % each; without the feed on the allow-list every request is
//! refused, with the rule named.

use crate::common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The port `validator/app.py` reads the feed on.
const FEED_PORT: u16 = 18790;

struct Feed(Child);

impl Drop for Feed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn feed() -> Feed {
    let script = common::root().join("examples/prediction-subnet/feed.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .arg(FEED_PORT.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the price feed (python3)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.contains(&format!("127.0.0.1:{FEED_PORT}")), "the feed did not start (port taken?): {line:?}");
    Feed(child)
}

fn sandbox(extra: &[&str]) -> (bool, String, String) {
    let bundle = common::root().join("examples/prediction-subnet");
    let out = Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .arg("sandbox")
        .arg(&bundle)
        .args(extra)
        .env("NO_COLOR", "1")
        .output()
        .expect("run subnetd sandbox");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn honest_forecasters_earn_and_guessers_do_not() {
    common::bundle("examples/prediction-subnet");
    let _feed = feed();
    let allowed = format!("http://127.0.0.1:{FEED_PORT}");
    let (ok, stdout, stderr) = sandbox(&["--outbound-host", &allowed, "--epochs", "10", "--seed", "3", "--json"]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("sandbox --json");
    let share = |role: &str| {
        report["totals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["kind"] == "miner" && t["role"] == role)
            .and_then(|t| t["share"].as_f64())
            .unwrap_or_else(|| panic!("no {role} miners in {:#}", report["totals"]))
    };
    let (honest, constant, copier) = (share("honest"), share("constant"), share("copier"));
    eprintln!("shares: honest {honest:.4}, constant {constant:.4}, copier {copier:.4}");
    assert!(honest >= 0.8, "honest miners' share {honest}");
    assert!(constant <= 0.05, "the constant guesser's share {constant}");
    assert!(copier <= 0.05, "the last-value copier's share {copier}");

    // Not on the list: every request refused, naming the rule.
    let (_, stdout, stderr) = sandbox(&["--outbound-host", "http://127.0.0.1:1", "--epochs", "1"]);
    let text = format!("{stdout}{stderr}");
    assert!(
        text.contains("outbound_hosts: http://127.0.0.1:18790") && text.contains("not allowed"),
        "the refusal names the rule: {text}"
    );
}
