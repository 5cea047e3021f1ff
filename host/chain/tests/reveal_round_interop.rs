//! [`EpochSchedule::reveal_round_at`] against the real PyPI package bittensor-drand 2.0, whose
//! `get_encrypted_commit_v2` (the Rust `generate_commit_v2` behind bittensor 10.5/11.x's
//! timelocked commits) takes the schedule state as arguments and reads the wall clock itself.
//! The clock is bracketed: for each state the Python side prints `time.time()` before and
//! after the call and the round it chose; our round at the first instant must be at most theirs
//! and our round at the second at least theirs (the call takes milliseconds, so this pins the
//! same `now` to within one round).
//!
//! The interpreter is `SUBNETD_DRAND_PYTHON` (a Python with `bittensor-drand==2.0.0`), else the
//! workspace's `.venv/bin/python` if it has the package; without either the test says SKIPPED
//! and passes.

use std::path::PathBuf;
use std::process::Command;

use subnet_chain::EpochSchedule;

const QUICKNET_GENESIS: u64 = 1_692_803_367;
const QUICKNET_PERIOD: u64 = 3;

fn python() -> Option<PathBuf> {
    let candidates = std::env::var_os("SUBNETD_DRAND_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")]);
    candidates
        .into_iter()
        .find(|p| Command::new(p).args(["-c", "import bittensor_drand"]).output().is_ok_and(|o| o.status.success()))
}

#[allow(clippy::too_many_arguments)]
fn state(
    last: u64,
    pending: u64,
    index: u64,
    tempo: u16,
    since: u64,
    head: u64,
    period: u64,
    ms: u64,
) -> EpochSchedule {
    EpochSchedule {
        netuid: 7,
        block: head,
        extrinsic_block: head + 1,
        tempo,
        reveal_period_epochs: period,
        epoch_index: Some(index),
        last_epoch_block: Some(last),
        pending_epoch_at: pending,
        blocks_since_last_step: since,
        block_time_ms: ms,
        timestamp_ms: None,
    }
}

const SCRIPT: &str = r#"
import sys, time, bittensor_drand as bd
for line in sys.stdin:
    last, pending, index, tempo, since, head, period, ms = (int(x) for x in line.split())
    before = time.time()
    _, rnd = bd.get_encrypted_commit_v2([0, 1], [65535, 1], 7, last, pending, index, tempo, since, head, period, ms / 1000.0, bytes(32))
    after = time.time()
    print(repr(before), rnd, repr(after))
"#;

#[test]
fn reveal_round_matches_bittensor_drand_2() {
    let Some(py) = python() else {
        println!(
            "SKIPPED reveal_round_matches_bittensor_drand_2: no Python with bittensor-drand 2.0 (set SUBNETD_DRAND_PYTHON)"
        );
        return;
    };
    let states = [
        // A subnet mid-cycle (tempo 360, one-epoch reveal period, 12 s blocks).
        state(6_000_000, 0, 16_000, 360, 120, 6_000_120, 1, 12_000),
        // The commit lands in the block that fires the next epoch (look-ahead).
        state(6_000_000, 0, 16_000, 360, 359, 6_000_359, 1, 12_000),
        // An owner-triggered epoch pending before the automatic one; three-epoch period.
        state(80, 95, 3, 20, 11, 91, 3, 12_000),
        // More than MAX_TEMPO blocks without a step: an epoch is forced.
        state(0, 0, 9, 60_000, 50_401, 70_000, 1, 12_000),
        // A fast-blocks chain (250 ms) with a short tempo.
        state(1_000, 0, 50, 10, 4, 1_004, 2, 250),
    ];
    let input: String = states
        .iter()
        .map(|s| {
            format!(
                "{} {} {} {} {} {} {} {}\n",
                s.last_epoch_block.unwrap(),
                s.pending_epoch_at,
                s.epoch_index.unwrap(),
                s.tempo,
                s.blocks_since_last_step,
                s.block,
                s.reveal_period_epochs,
                s.block_time_ms
            )
        })
        .collect();
    let mut child = Command::new(&py)
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python starts");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), states.len());
    for (s, line) in states.iter().zip(lines) {
        let mut f = line.split_whitespace();
        let before: f64 = f.next().unwrap().parse().unwrap();
        let theirs: u64 = f.next().unwrap().parse().unwrap();
        let after: f64 = f.next().unwrap().parse().unwrap();
        let (lo, hi) = (
            s.reveal_round_at(QUICKNET_GENESIS, QUICKNET_PERIOD, before),
            s.reveal_round_at(QUICKNET_GENESIS, QUICKNET_PERIOD, after),
        );
        assert!(lo <= theirs && theirs <= hi && hi - lo <= 1, "ours {lo}..={hi}, bittensor-drand {theirs}, for {s:?}");
        // The round names a time after the first reveal block: a reveal needs its pulse.
        let reveal_at = before + (s.first_reveal_block() - s.block) as f64 * s.block_time_ms as f64 / 1000.0;
        assert!((theirs * QUICKNET_PERIOD + QUICKNET_GENESIS) as f64 >= reveal_at - QUICKNET_PERIOD as f64);
    }
}
