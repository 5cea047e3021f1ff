//! Runs one synthetic subnet's Yuma epoch many times and prints the mean time
//! per epoch: a target for profilers (`valgrind --tool=callgrind`, `perf
//! record`) whose profile holds only the epoch, not criterion's setup.
//!
//! `cargo bench -p subnet-chain --bench yuma_profile -- <classic|yuma3> <uids> <epochs>`
//! (defaults: `yuma3 256 200`). The subnet is the criterion bench's
//! (`yuma_subnet`): a quarter of the uids, at most 64, validating, each
//! weighting every uid.

use std::hint::black_box;
use std::time::Instant;

use subnet_chain::yuma::run_epoch;
use yuma_subnet::{params, subnet};

mod yuma_subnet;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let yuma3 = args.first().is_none_or(|m| m != "classic");
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let epochs: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let validators = (n / 4).clamp(1, 64);
    let p = params(yuma3, validators as u16);
    let input = subnet(n, validators, &p);
    let start = Instant::now();
    for _ in 0..epochs {
        let _ = black_box(run_epoch(black_box(&p), black_box(&input), black_box(1_000_000_000)));
    }
    let per = start.elapsed() / epochs.max(1);
    println!(
        "{} n={n} validators={validators} epochs={epochs}: {per:?} per epoch",
        if yuma3 { "yuma3" } else { "classic" }
    );
}
