//! Isolation between subnets, with the daemon in-process (so the test can flip the faulty
//! module's mode through its subnet's store): subnet 1 runs a validator that loops, exhausts
//! its memory and traps on command; subnet 2 runs hello-subnet next to it; subnet 3 gets too
//! little fuel to run anything. Each fault is stopped, counted by kind in the metrics and
//! charged to subnet 1 only; subnet 2's rounds go on without an error; subnet 3's module is
//! refused for fuel while subnet 2 (with fuel metering too, but enough of it) runs.

use crate::common;

use std::time::{Duration, Instant};

use super::support::*;
use subnet_host::daemon::client::metric_value;
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions};

async fn wait_metric(daemon: &Daemon, what: &str, name: &str, labels: &[(&str, &str)], at_least: f64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = daemon.metrics().encode();
        if metric_value(&text, name, labels) >= at_least {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rounds_ok(daemon: &Daemon, netuid: u16) -> u64 {
    daemon.subnet(netuid).unwrap().status().rounds_ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_faulty_module_only_hurts_its_own_subnet() {
    let hello = common::bundle("examples/hello-subnet");
    let faulty = common::bundle("examples/faulty-subnet");
    let fx = Fixture::new();
    std::fs::copy(&faulty.validator, fx.path("modules/faulty.wasm")).unwrap();
    std::fs::copy(&hello.validator, fx.path("modules/hello.wasm")).unwrap();
    let miner = hello.miners[0].2.display().to_string();
    let subnet = |netuid: u16, module: &str, limits: &str| {
        format!(
            r#"
[[subnet]]
netuid = {netuid}
module = "modules/{module}"
[subnet.limits]
memory = "64MiB"
call_timeout = "400ms"
{limits}
[subnet.tasks]
interval = "100ms"
[subnet.capabilities]
preopen = {{ dir = "data/{netuid}", writable = true }}
[subnet.local]
tempo = 20
[subnet.local.miners]
module = "{miner}"
honest = 2
"#
        )
    };
    let config_text = format!(
        "{}{}{}",
        subnet(1, "faulty.wasm", ""),
        subnet(2, "hello.wasm", "fuel = 50_000_000_000"),
        subnet(3, "hello.wasm", "fuel = 1_000"),
    );
    let path = fx.write_config("50ms", &config_text);
    let config = DaemonConfig::load(&path).unwrap();
    let daemon = Daemon::start(config, DaemonOptions { hotkey: Some(validator_key()), ..Default::default() })
        .await
        .expect("daemon starts");
    for netuid in [1u16, 2, 3] {
        assert!(fx.path(&format!("data/{netuid}")).is_dir(), "each subnet gets its own directory");
    }

    // Subnet 3: hello cannot even generate its tasks on 1000 units of fuel.
    let s3 = daemon.subnet(3).unwrap().status();
    assert!(s3.module.is_none());
    let reason = s3.reloads[0].reason.clone().unwrap_or_default();
    assert!(reason.contains("ran out of fuel"), "{reason}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while rounds_ok(&daemon, 1) < 2 || rounds_ok(&daemon, 2) < 2 {
        assert!(Instant::now() < deadline, "rounds did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b_start = rounds_ok(&daemon, 2);
    let started = Instant::now();

    let store = daemon.kv(1).expect("subnet 1 has a store");
    for (mode, kind) in [("loop", "timeout"), ("alloc", "memory"), ("trap", "trap")] {
        store.set("faulty/mode", mode.as_bytes()).unwrap();
        wait_metric(
            &daemon,
            &format!("`{mode}` counted as {kind}"),
            "subnetd_module_call_errors_total",
            &[("subnet", "1"), ("call", "score"), ("kind", kind)],
            2.0,
        )
        .await;
    }
    store.set("faulty/mode", b"ok").unwrap();
    let a = daemon.subnet(1).unwrap().status();
    let before = a.rounds_ok;
    let deadline = Instant::now() + Duration::from_secs(30);
    while rounds_ok(&daemon, 1) < before + 2 {
        assert!(Instant::now() < deadline, "subnet 1 recovers once its module behaves");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let elapsed = started.elapsed();
    let text = daemon.metrics().encode();
    let a = daemon.subnet(1).unwrap().status();
    let b = daemon.subnet(2).unwrap().status();
    // Subnet 1 paid for its faults: counted, its tasks unscored, its rounds went on.
    assert!(a.call_errors >= 6, "{}", a.call_errors);
    assert!(a.tasks_unscored >= 6, "{}", a.tasks_unscored);
    assert_eq!(a.module.as_ref().unwrap().generation, 1, "the module was never unloaded");
    // Subnet 2 did not notice.
    assert_eq!(b.call_errors, 0);
    assert_eq!(b.rounds_failed, 0);
    assert_eq!(b.tasks_unscored, 0);
    assert_eq!(metric_value(&text, "subnetd_module_call_errors_total", &[("subnet", "2")]), 0.0);
    let b_rounds = b.rounds_ok - b_start;
    let cadence = elapsed.as_secs_f64() / 0.1;
    assert!(b_rounds as f64 >= cadence / 4.0, "subnet 2: {b_rounds} rounds in {elapsed:?}");
    assert!(metric_value(&text, "subnetd_module_calls_total", &[("subnet", "2"), ("call", "score")]) > 0.0);
    assert_eq!(metric_value(&text, "subnetd_reloads_total", &[("subnet", "3"), ("outcome", "refused")]), 1.0);
    daemon.shutdown().await;
}
