//! One Yuma epoch (`subnet_chain::yuma::run_epoch`) on synthetic subnets.
//!
//! * `yuma_epoch/{classic,yuma3}/256`: 256 uids, 64 validators with dense
//!   weights over every uid and bonds carried from a previous epoch.
//! * `yuma_epoch_scaling/{classic,yuma3}/{64,256,1024,4096}`: same shape, a
//!   quarter of the uids (capped at 64 permits, as on mainnet) validating.
//!
//! Weight density: every validator weights every uid (itself included, which
//! the epoch masks), i.e. `validators x n` stored weights, the heaviest
//! realistic case. Yuma3 runs with liquid alpha on.
//!
//! Inputs come from `yuma_subnet` (fixed-seed xorshift), so runs are comparable.
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use subnet_chain::yuma::run_epoch;
use yuma_subnet::{params, subnet};

mod yuma_subnet;

fn bench_256(c: &mut Criterion) {
    let mut g = c.benchmark_group("yuma_epoch");
    for (name, yuma3) in [("classic", false), ("yuma3", true)] {
        let p = params(yuma3, 64);
        let input = subnet(256, 64, &p);
        g.throughput(Throughput::Elements(256));
        g.bench_function(BenchmarkId::new(name, 256), |b| {
            b.iter(|| run_epoch(black_box(&p), black_box(&input), black_box(1_000_000_000)))
        });
    }
    g.finish();
}

fn bench_scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("yuma_epoch_scaling");
    g.sample_size(10);
    for (name, yuma3) in [("classic", false), ("yuma3", true)] {
        for n in [64usize, 256, 1024, 4096] {
            let validators = (n / 4).min(64);
            let p = params(yuma3, validators as u16);
            let input = subnet(n, validators, &p);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new(name, n), &input, |b, input| {
                b.iter(|| run_epoch(black_box(&p), black_box(input), black_box(1_000_000_000)))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_256, bench_scaling);
criterion_main!(benches);
