//! Reload latency of the daemon: from a module file being replaced (renamed into place) to the
//! new version serving (swapped into the subnet's slot, so the next round runs it), for the
//! Rust hello-subnet validator (~3 MB) and the Python one (componentize-py, ~19 MB), with the
//! compile cache warm (the version was compiled before, e.g. by `subnetd check` or a previous
//! run) and without a compile cache (every version compiled from scratch).
//!
//! The path measured is the real one: an in-process daemon on a local chain, the notify file
//! watcher with a 50 ms debounce, signature check (none required), compile/validate on a
//! blocking thread, the smoke round (generate, score, reward) and the atomic swap. The same
//! reload triggered by the admin API (no watcher, no debounce) is measured too.
//!
//! Run with `cargo bench -p subnet-host --bench reload` (add `-- --quick` for fewer runs).
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

// The test helper is shared with the tests; benches use a part of it.
#[allow(dead_code)]
#[path = "../tests/all/common.rs"]
mod common;
#[allow(dead_code)]
#[path = "../tests/all/daemon/support.rs"]
mod daemon_support;

use std::path::Path;
use std::time::{Duration, Instant};

use daemon_support::{Fixture, hash, replace_atomically, validator_key, variant};
use subnet_host::daemon::{Daemon, DaemonConfig, DaemonOptions, Outcome, ReloadRecord};

const DEBOUNCE_MS: u64 = 50;

struct Sample {
    total: Duration,
    record: ReloadRecord,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn wait_applied(rx: &mut tokio::sync::broadcast::Receiver<ReloadRecord>, h: &str) -> ReloadRecord {
    loop {
        let record = tokio::time::timeout(Duration::from_secs(600), rx.recv())
            .await
            .expect("a reload within 10 minutes")
            .expect("reload events");
        if record.hash.as_deref() == Some(h) {
            assert_eq!(record.outcome, Outcome::Applied, "{record:?}");
            return record;
        }
    }
}

/// Measures `runs` reloads of versions of `bytes`, through the file watcher (`watch`) or the
/// admin API.
async fn measure(bytes: &[u8], cache: bool, watch: bool, runs: usize) -> Vec<Sample> {
    let fx = Fixture::new();
    let file = fx.path("modules/validator.wasm");
    std::fs::write(&file, bytes).unwrap();
    let cache_dir = fx.path("cwasm-cache");
    let config = format!(
        r#"state_dir = "state"
[wallet]
name = "unused"
hotkey = "unused"
[chain]
backend = "local"
block_time = "1s"
[admin]
listen = "127.0.0.1:0"
[runtime]
cache = {cache}
cache_dir = "{cache_dir}"
[[subnet]]
netuid = 1
module = "modules/validator.wasm"
[subnet.tasks]
interval = "2s"
[subnet.reload]
watch = {watch}
debounce = "{DEBOUNCE_MS}ms"
[subnet.local]
tempo = 20
[subnet.local.miners]
lazy = 4
"#,
        cache_dir = cache_dir.display()
    );
    let path = fx.path("subnetd.toml");
    std::fs::write(&path, config).unwrap();
    let options = DaemonOptions { hotkey: Some(validator_key()), ..Default::default() };
    let daemon = Daemon::start(DaemonConfig::load(&path).unwrap(), options).await.expect("daemon");
    let mut rx = daemon.subscribe_reloads();
    // Let the first round run, so smoke rounds use the subnet's real metagraph.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // With the cache: two versions compiled once before measuring, then alternated (every
    // measured load is a cache hit). Without: a new version (new hash) every time.
    let versions: Vec<Vec<u8>> = if cache {
        let a = variant(bytes, 1);
        let b = variant(bytes, 2);
        for v in [&a, &b] {
            std::fs::write(&file, v).unwrap();
            let r = daemon.reload(Some(1)).await.unwrap().remove(0);
            assert_eq!(r.outcome, Outcome::Applied, "{r:?}");
        }
        // Let the watcher's own reloads of those writes (unchanged) pass before measuring.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while rx.try_recv().is_ok() {}
        (0..runs).map(|i| if i % 2 == 0 { a.clone() } else { b.clone() }).collect()
    } else {
        (0..runs).map(|i| variant(bytes, 1000 + i as u32)).collect()
    };
    let mut samples = Vec::new();
    for v in versions {
        let h = hash(&v);
        // The clock starts when the new file is in place (the rename), not while it is written.
        replace_atomically(&file, &v);
        let t0 = Instant::now();
        let record =
            if watch { wait_applied(&mut rx, &h).await } else { daemon.reload(Some(1)).await.unwrap().remove(0) };
        assert_eq!(record.outcome, Outcome::Applied, "{record:?}");
        assert_eq!(record.hash.as_deref(), Some(h.as_str()));
        samples.push(Sample { total: t0.elapsed(), record });
        eprint!(".");
    }
    daemon.shutdown().await;
    samples
}

fn report(label: &str, size: usize, cache: bool, path: &str, samples: &[Sample]) {
    let mut totals: Vec<f64> = samples.iter().map(|s| s.total.as_secs_f64() * 1000.0).collect();
    totals.sort_by(f64::total_cmp);
    let mean =
        |f: &dyn Fn(&ReloadRecord) -> f64| samples.iter().map(|s| f(&s.record)).sum::<f64>() / samples.len() as f64;
    println!(
        "{label:<8} {:>6.1} MB  cache {:<4} {path:<6} n={:<2}  p50 {:>8.1} ms  min {:>8.1}  max {:>8.1}  | read {:>6.1}  compile {:>8.1}  smoke {:>6.1}  hits {}/{}",
        size as f64 / 1e6,
        if cache { "warm" } else { "off" },
        samples.len(),
        percentile(&totals, 0.5),
        totals[0],
        totals[totals.len() - 1],
        mean(&|r| r.stages.read_ms),
        mean(&|r| r.stages.compile_ms),
        mean(&|r| r.stages.smoke_ms),
        samples.iter().filter(|s| s.record.cache_hit == Some(true)).count(),
        samples.len(),
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let rust = common::bundle("examples/hello-subnet");
    let python = common::bundle("examples/hello-subnet-py");
    let cases: Vec<(&str, &Path, bool, usize)> = vec![
        ("rust", &rust.validator, true, if quick { 3 } else { 10 }),
        ("rust", &rust.validator, false, if quick { 3 } else { 6 }),
        ("python", &python.validator, true, if quick { 2 } else { 5 }),
        ("python", &python.validator, false, if quick { 1 } else { 3 }),
    ];
    println!(
        "reload latency: file renamed into place -> new version serving (watch, debounce {DEBOUNCE_MS} ms), \
         and POST-reload -> serving (admin); {} CPUs",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (label, path, cache, runs) in cases {
        let bytes = common::read(path);
        for watch in [true, false] {
            let samples = rt.block_on(measure(&bytes, cache, watch, runs));
            eprintln!();
            report(label, bytes.len(), cache, if watch { "watch" } else { "admin" }, &samples);
        }
    }
}
