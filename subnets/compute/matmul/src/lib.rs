//! The compute subnet's proof of work, shared by its validator and miners: two `n × n`
//! matrices generated from a seed, their product modulo the prime `p = 2^31 − 1`, the wire
//! format of the product, and Freivalds' check of a claimed product.
//!
//! # The specification (what any miner, in any language, implements)
//!
//! - `mix(z)` is SplitMix64's output function, in wrapping 64-bit arithmetic:
//!   `z = (z ^ (z >> 30)) · 0xbf58476d1ce4e5b9; z = (z ^ (z >> 27)) · 0x94d049bb133111eb;
//!   return z ^ (z >> 31)`.
//! - The SplitMix64 stream of `seed` is `s_k = mix(seed + k · 0x9e3779b97f4a7c15)` for
//!   k = 1, 2, … (wrapping). Entry `(i, j)` of A is `s_{2(i·n+j)+1} mod p`, of B
//!   `s_{2(i·n+j)+2} mod p`: the two matrices interleave one stream, and any entry can be
//!   computed on its own in O(1).
//! - `C = A·B mod p`, every entry in `[0, p)`.
//! - The answer is `C` row-major, each entry a little-endian `u32`: `4·n²` bytes of
//!   `application/octet-stream`.
//!
//! # Verification
//!
//! [`freivalds`] checks a claimed `C` in O(n²) against the O(n³) of computing it: with a vector
//! `r` drawn uniformly from `[0, p)^n` *after* the answer is fixed, it compares `C·r` with
//! `A·(B·r)`. A correct `C` always passes. For a wrong one, `D = C − A·B` has a non-zero row `d`,
//! and `d·r` is uniform over the field, so the check passes with probability at most `1/p`
//! (≈ 4.66·10⁻¹⁰), however few entries are wrong. (Sampling `k` entries instead would catch a
//! single wrong entry with probability only `k/n²`.)
//!
//! The challenge must be unknown to the miner until its answer is fixed. The host's randomness
//! is seeded from public values (hotkey, block, round count), so a miner could predict a vector
//! drawn from it, and with a known `r` a wrong `C` passing the check costs only O(n²) to make.
//! [`challenge`] therefore binds `r` to the answer (Fiat–Shamir): its key is the SHA-256 of the
//! task, a nonce from the validator and the answer's bytes, and `r` is the SplitMix64 stream of
//! that key, mod p. Changing any byte of the answer gives an unrelated `r`, so a forger's only
//! strategy is to try answers at random, each passing with probability `1/p`.
//!
//! Failure modes: [`decode`] rejects a body of the wrong length or with an entry `≥ p` with a
//! [`FormatError`]; nothing here panics on miner input.
#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The prime modulus, `2^31 − 1`.
pub const MODULUS: u64 = 2_147_483_647;
/// SplitMix64's increment (the golden ratio in 64-bit fixed point).
pub const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
/// Content type of an answer.
pub const CONTENT_TYPE: &str = "application/octet-stream";
/// Largest matrix side a task may ask for (a 256² product is 256 KiB on the wire).
pub const MAX_N: u32 = 256;

/// What a miner receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatmulTask {
    /// Seed of the SplitMix64 stream both matrices come from.
    pub seed: u64,
    /// Side of the square matrices.
    pub n: u32,
    /// Always [`MODULUS`]; sent so a miner can refuse a task it does not understand.
    pub modulus: u64,
}

/// SplitMix64's output function.
pub fn mix(z: u64) -> u64 {
    let z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Output `k` (1-based) of the SplitMix64 stream of `seed`, reduced mod [`MODULUS`].
fn stream(seed: u64, k: u64) -> u32 {
    (mix(seed.wrapping_add(k.wrapping_mul(GAMMA))) % MODULUS) as u32
}

/// Entry `(i, j)` of A.
pub fn a_entry(seed: u64, n: usize, i: usize, j: usize) -> u32 {
    stream(seed, 2 * (i * n + j) as u64 + 1)
}

/// Entry `(i, j)` of B.
pub fn b_entry(seed: u64, n: usize, i: usize, j: usize) -> u32 {
    stream(seed, 2 * (i * n + j) as u64 + 2)
}

/// A and B, row-major.
pub fn matrices(seed: u64, n: usize) -> (Vec<u32>, Vec<u32>) {
    let mut a = Vec::with_capacity(n * n);
    let mut b = Vec::with_capacity(n * n);
    for i in 0..n {
        for j in 0..n {
            a.push(a_entry(seed, n, i, j));
            b.push(b_entry(seed, n, i, j));
        }
    }
    (a, b)
}

/// `A·B mod p`, row-major. Entries below `p < 2^31` make each product less than `2^62`, so a
/// `u64` accumulator takes three of them on top of a reduced value before it must be reduced.
pub fn multiply(a: &[u32], b: &[u32], n: usize) -> Vec<u32> {
    let mut c = vec![0u32; n * n];
    let mut acc = vec![0u64; n];
    for i in 0..n {
        acc.iter_mut().for_each(|x| *x = 0);
        for k in 0..n {
            let aik = u64::from(a[i * n + k]);
            let row = &b[k * n..(k + 1) * n];
            for (x, &bkj) in acc.iter_mut().zip(row) {
                *x += aik * u64::from(bkj);
            }
            if k % 3 == 2 {
                acc.iter_mut().for_each(|x| *x %= MODULUS);
            }
        }
        for (cij, x) in c[i * n..(i + 1) * n].iter_mut().zip(&acc) {
            *cij = (x % MODULUS) as u32;
        }
    }
    c
}

/// The product of the task's matrices: the honest miner's whole job.
pub fn product(seed: u64, n: usize) -> Vec<u32> {
    let (a, b) = matrices(seed, n);
    multiply(&a, &b, n)
}

/// The wire form of a product.
pub fn encode(c: &[u32]) -> Vec<u8> {
    c.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Why an answer is not a well-formed product.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The body is not `4·n²` bytes.
    #[error("{got} bytes; an {n}×{n} product is {expected}")]
    Length {
        /// Side of the task's matrices.
        n: usize,
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// An entry is not reduced mod p.
    #[error("entry {index} is {value}, not below {MODULUS}")]
    NotReduced {
        /// Row-major index of the entry.
        index: usize,
        /// Its value.
        value: u32,
    },
}

/// Reads a product sent for an `n × n` task.
pub fn decode(body: &[u8], n: usize) -> Result<Vec<u32>, FormatError> {
    let expected = 4 * n * n;
    if body.len() != expected {
        return Err(FormatError::Length { n, expected, got: body.len() });
    }
    let c: Vec<u32> = body.chunks_exact(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    match c.iter().position(|&x| u64::from(x) >= MODULUS) {
        Some(index) => Err(FormatError::NotReduced { index, value: c[index] }),
        None => Ok(c),
    }
}

/// `M·v mod p` for a row-major `n × n` matrix.
fn mat_vec(m: &[u32], v: &[u64], n: usize) -> Vec<u64> {
    m.chunks_exact(n)
        .map(|row| {
            let sum: u128 = row.iter().zip(v).map(|(&x, &y)| u128::from(x) * u128::from(y)).sum();
            (sum % u128::from(MODULUS)) as u64
        })
        .collect()
}

/// Freivalds' check of `c` as the product of the seed's matrices, with the challenge vector
/// `r` (entries taken mod p; it must have `n` of them, drawn after `c` was received). Passes
/// always for the true product, and for any other `c` with probability at most `1/p` over `r`.
pub fn freivalds(seed: u64, n: usize, c: &[u32], r: &[u64]) -> bool {
    if c.len() != n * n || r.len() != n {
        return false;
    }
    let r: Vec<u64> = r.iter().map(|x| x % MODULUS).collect();
    let (a, b) = matrices(seed, n);
    let br = mat_vec(&b, &r, n);
    mat_vec(&a, &br, n) == mat_vec(c, &r, n)
}

/// Domain separation of [`challenge`]'s hash.
const CHALLENGE_DOMAIN: &[u8] = b"subnetd/compute/freivalds-challenge/v1";

/// The challenge vector of Freivalds' check for one answer: `n` entries in `[0, p)`, the
/// SplitMix64 stream (as for the matrices) of the key `k` = the first 8 bytes, little-endian, of
/// `SHA-256(domain ‖ seed ‖ n ‖ nonce ‖ answer)` (integers as 8 little-endian bytes).
pub fn challenge(task: &MatmulTask, nonce: u64, answer: &[u8]) -> Vec<u64> {
    let mut hash = Sha256::new();
    hash.update(CHALLENGE_DOMAIN);
    hash.update(task.seed.to_le_bytes());
    hash.update(u64::from(task.n).to_le_bytes());
    hash.update(nonce.to_le_bytes());
    hash.update(answer);
    let digest = hash.finalize();
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    let key = u64::from_le_bytes(key);
    (1..=u64::from(task.n)).map(|k| u64::from(stream(key, k))).collect()
}

/// Multiply-adds in the naive product of two `n × n` matrices: the work a task asks for.
pub fn work(n: usize) -> f64 {
    (n as f64).powi(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first outputs of SplitMix64 seeded with 0, as its reference implementation
    /// (Vigna's splitmix64.c) prints them.
    #[test]
    fn the_stream_is_splitmix64() {
        let expected = [0xe220_a839_7b1d_cdaf_u64, 0x6e78_9e6a_a1b9_65f4, 0x06c4_5d18_8009_454f];
        for (k, want) in expected.iter().enumerate() {
            assert_eq!(mix(GAMMA.wrapping_mul(k as u64 + 1)), *want);
        }
        assert_eq!(u64::from(a_entry(0, 4, 0, 0)), expected[0] % MODULUS);
        assert_eq!(u64::from(b_entry(0, 4, 0, 0)), expected[1] % MODULUS);
        assert_eq!(u64::from(a_entry(0, 4, 0, 1)), expected[2] % MODULUS);
    }

    fn naive(a: &[u32], b: &[u32], n: usize) -> Vec<u32> {
        let mut c = vec![0u32; n * n];
        for i in 0..n {
            for j in 0..n {
                let s: u128 = (0..n).map(|k| u128::from(a[i * n + k]) * u128::from(b[k * n + j])).sum();
                c[i * n + j] = (s % u128::from(MODULUS)) as u32;
            }
        }
        c
    }

    #[test]
    fn the_product_matches_a_naive_u128_product() {
        for (seed, n) in [(1u64, 1usize), (2, 2), (3, 7), (u64::MAX, 33), (42, 64)] {
            let (a, b) = matrices(seed, n);
            assert_eq!(multiply(&a, &b, n), naive(&a, &b, n), "seed {seed} n {n}");
        }
        // The largest entries: (p−1)² summed n times must not overflow the accumulator.
        let n = 10;
        let big = vec![(MODULUS - 1) as u32; n * n];
        assert_eq!(multiply(&big, &big, n), naive(&big, &big, n));
    }

    #[test]
    fn freivalds_accepts_the_product_and_rejects_one_wrong_entry() {
        let (seed, n) = (9u64, 16usize);
        let c = product(seed, n);
        let r: Vec<u64> = (0..n as u64).map(|k| mix(k + 1000)).collect();
        assert!(freivalds(seed, n, &c, &r));
        for index in [0, 17, n * n - 1] {
            let mut wrong = c.clone();
            wrong[index] = (wrong[index] + 1) % MODULUS as u32;
            assert!(!freivalds(seed, n, &wrong, &r), "entry {index}");
        }
        assert!(!freivalds(seed + 1, n, &c, &r), "another seed's product");
        assert!(!freivalds(seed, n, &c[1..], &r));
    }

    #[test]
    fn the_challenge_is_bound_to_the_answer_and_the_nonce() {
        let task = MatmulTask { seed: 1, n: 8, modulus: MODULUS };
        let body = encode(&product(1, 8));
        let r = challenge(&task, 7, &body);
        assert_eq!(r.len(), 8);
        assert!(r.iter().all(|&x| x < MODULUS));
        assert_eq!(r, challenge(&task, 7, &body), "deterministic");
        let mut other = body.clone();
        other[0] ^= 1;
        assert_ne!(r, challenge(&task, 7, &other), "one bit of the answer changes it");
        assert_ne!(r, challenge(&task, 8, &body), "the nonce changes it");
        assert_ne!(r, challenge(&MatmulTask { seed: 2, ..task }, 7, &body), "the task changes it");
        assert!(freivalds(1, 8, &product(1, 8), &r));
    }

    #[test]
    fn decoding_checks_length_and_range() {
        let c = product(5, 3);
        assert_eq!(decode(&encode(&c), 3).unwrap(), c);
        assert_eq!(decode(&[0; 35], 3), Err(FormatError::Length { n: 3, expected: 36, got: 35 }));
        let mut body = encode(&c);
        body[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode(&body, 3), Err(FormatError::NotReduced { index: 1, value: u32::MAX }));
    }
}
