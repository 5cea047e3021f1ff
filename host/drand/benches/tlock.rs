//! Timelock commit cost: encrypting one 256-uid `WeightsTlockPayload` to a quicknet round (what
//! the daemon does per commit), decrypting it with the round's signature (what the chain does per
//! reveal), and verifying a pulse (what the chain does per stored round).
// criterion's `criterion_group!` generates undocumented public functions.
#![allow(missing_docs)]

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use subnet_drand::{BeaconInfo, LocalBeacon, WeightsTlockPayload, decrypt, encrypt, recorded, verify_pulse};

fn payload() -> Vec<u8> {
    let uids: Vec<u16> = (0..256).collect();
    let values: Vec<u16> = uids.iter().map(|u| u.wrapping_mul(251)).collect();
    WeightsTlockPayload { hotkey: vec![7; 32], uids, values, version_key: 843_000 }.encode()
}

fn bench(c: &mut Criterion) {
    let quicknet = BeaconInfo::quicknet();
    let plaintext = payload();
    let pulse = recorded::quicknet_round_1000();
    let mut seed = 0u64;
    c.bench_function("encrypt 256-uid payload", |b| {
        b.iter(|| {
            seed += 1;
            let mut entropy = [0u8; 32];
            entropy[..8].copy_from_slice(&seed.to_le_bytes());
            encrypt(black_box(&quicknet), 1000, black_box(&plaintext), entropy)
        })
    });
    let ciphertext = encrypt(&quicknet, 1000, &plaintext, [1; 32]).expect("quicknet key is valid");
    c.bench_function("decrypt 256-uid payload", |b| {
        b.iter(|| decrypt(black_box(&ciphertext), black_box(&pulse.signature)))
    });
    c.bench_function("verify_pulse", |b| b.iter(|| verify_pulse(black_box(&quicknet), black_box(&pulse))));
    let local = LocalBeacon::from_seed([3; 32], 0, 3);
    c.bench_function("LocalBeacon::pulse", |b| b.iter(|| local.pulse(black_box(1000))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
