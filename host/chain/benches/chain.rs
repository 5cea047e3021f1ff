//! Extrinsics of the embedded chain at sandbox size.
//!
//! * `set_weights/{memory,redb}/256`: one validator's `set_weights` with dense weights over
//!   256 uids, on a subnet of 256 neurons where 64 validators already hold dense weight rows
//!   and bonds (after two epochs), in memory and with a redb database.
//! * `epoch_block/{memory,redb}/256`: the block in which that subnet runs its epoch
//!   (Yuma over 256 uids / 64 validators, payouts, persistence).
//! * `timelocked_commit/memory/256`: what a validator's commit-reveal v4 costs, to inclusion:
//!   encrypting a 256-uid `WeightsTlockPayload` to the chain's drand round
//!   (`encrypt`) and that plus the `commit_timelocked_mechanism_weights` extrinsic
//!   (`encrypt+commit`), each of the 64 validators once per epoch.
//!
//! The rate limit is 0 so one validator can set weights on every iteration.
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, NetUid};

const N: u16 = 256;
const VALIDATORS: u16 = 64;

fn key(tag: u8, i: u16) -> AccountId {
    let mut k = [0u8; 32];
    k[0] = tag;
    k[1..3].copy_from_slice(&i.to_le_bytes());
    AccountId(k)
}

fn dense_row(seed: u16) -> (Vec<u16>, Vec<u16>) {
    let uids: Vec<u16> = (0..N).collect();
    let weights = (0..N).map(|j| 1 + ((u32::from(j) * 7919 + u32::from(seed) * 104_729) % 65_000) as u16).collect();
    (uids, weights)
}

/// A subnet of `N` neurons, the first `VALIDATORS` staked and holding dense weights, after two
/// epochs so that permits and bonds exist.
fn populated(chain: &LocalChain) -> NetUid {
    let owner = key(0xff, 0);
    let netuid = chain.create_subnet(&owner, None).expect("subnet");
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 20;
            h.weights_rate_limit = 0;
            h.immunity_period = 0;
            h.commit_reveal_enabled = false;
        })
        .expect("hyperparams");
    for i in 0..N {
        chain.register_now(&key(1, i), &key(2, i), netuid).expect("register");
        if i < VALIDATORS {
            chain.add_stake(&key(2, i), &key(1, i), netuid, 1_000_000_000 + u64::from(i) * 1_000_000).expect("stake");
        }
    }
    chain.advance_to_next_epoch(netuid).expect("first epoch");
    for _ in 0..2 {
        for v in 0..VALIDATORS {
            let (uids, w) = dense_row(v);
            chain.set_weights_now(&key(1, v), netuid, &uids, &w, 0).expect("weights");
        }
        chain.advance_to_next_epoch(netuid).expect("epoch");
    }
    netuid
}

fn bench_set_weights(c: &mut Criterion) {
    let mut g = c.benchmark_group("set_weights");
    g.sample_size(30);
    let dir = tempfile::tempdir().expect("tempdir");
    let chains = [("memory", LocalChain::in_memory()), ("redb", LocalChain::open(dir.path()).expect("open"))];
    for (name, chain) in &chains {
        let netuid = populated(chain);
        // Alternate two rows so every call changes the stored row (an unchanged row is not
        // rewritten).
        let rows = [dense_row(998), dense_row(999)];
        let signer = key(1, 3);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new(*name, N), |b| {
            b.iter(|| {
                i += 1;
                let (uids, w) = &rows[i % 2];
                chain.set_weights_now(black_box(&signer), netuid, black_box(uids), black_box(w), 0)
            })
        });
    }
    g.finish();
}

fn bench_epoch_block(c: &mut Criterion) {
    let mut g = c.benchmark_group("epoch_block");
    g.sample_size(10);
    let dir = tempfile::tempdir().expect("tempdir");
    let chains = [("memory", LocalChain::in_memory()), ("redb", LocalChain::open(dir.path()).expect("open"))];
    for (name, chain) in &chains {
        let netuid = populated(chain);
        g.bench_function(BenchmarkId::new(*name, N), |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let next = chain.next_epoch_block(netuid).expect("schedule");
                    let before = chain.block();
                    if next > before + 1 {
                        chain.advance_blocks(next - before - 1).expect("blocks");
                    }
                    let t = std::time::Instant::now();
                    black_box(chain.advance_blocks(1).expect("epoch block"));
                    total += t.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

fn bench_timelocked_commit(c: &mut Criterion) {
    use subnet_drand::{WeightsTlockPayload, encrypt};
    let mut g = c.benchmark_group("timelocked_commit");
    g.sample_size(20);
    let chain = LocalChain::in_memory();
    let netuid = populated(&chain);
    chain.update_hyperparams(netuid, |h| h.commit_reveal_enabled = true).expect("commit-reveal on");
    let beacon = chain.beacon();
    let (uids, values) = dense_row(997);
    let payload = |v: u16| {
        WeightsTlockPayload { hotkey: key(1, v).0.to_vec(), uids: uids.clone(), values: values.clone(), version_key: 0 }
            .encode()
    };
    let round = |chain: &LocalChain| {
        let s = chain.epoch_schedule_now(netuid).expect("schedule");
        s.reveal_round_at(beacon.genesis_unix, beacon.period_secs, s.timestamp_secs().unwrap_or_default())
    };
    g.bench_function(BenchmarkId::new("encrypt", N), |b| {
        let plaintext = payload(0);
        let r = round(&chain);
        b.iter(|| encrypt(black_box(&beacon), r, black_box(&plaintext), [5; 32]).expect("encrypt"))
    });
    let mut next = 0u16;
    g.bench_function(BenchmarkId::new("encrypt+commit", N), |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                if next.is_multiple_of(VALIDATORS) {
                    // Each validator commits once per epoch.
                    chain.advance_to_next_epoch(netuid).expect("epoch");
                }
                let v = next % VALIDATORS;
                next = next.wrapping_add(1);
                let plaintext = payload(v);
                let t = std::time::Instant::now();
                let r = round(&chain);
                let commit = encrypt(&beacon, r, &plaintext, [v as u8; 32]).expect("encrypt");
                chain
                    .commit_timelocked_weights_now(&key(1, v), netuid, 0, black_box(&commit), r, 4)
                    .expect("commit included");
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench_set_weights, bench_epoch_block, bench_timelocked_commit);
criterion_main!(benches);
