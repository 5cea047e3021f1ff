//! Differential tests: the CSR epoch against the pre-rewrite epoch kept in
//! `super::reference`, on seeded random subnets, and the rewritten helpers
//! against their reference versions on malformed rows (unsorted, duplicate and
//! out-of-range columns) that the epoch's fast paths route elsewhere.
//!
//! Every output field must be identical. The generator covers sizes 1..=300,
//! sparse to full weight rows, zero and huge stakes, TAO stake, missing
//! permits, inactive uids, re-registered targets, commit-reveal, an owner,
//! both bond modes with liquid alpha on and off, and extreme parameters; each
//! subnet runs several chained epochs so that bonds carry over.

use substrate_fixed::types::I32F32;

use super::math::{self, Csr, bonds, liquid_alpha, passes, sparse};
use super::reference;
use super::{EpochInput, EpochOutput, EpochParams, LiquidAlpha, run_epoch};

/// `rng.pick(&[..])` with the candidates (which may draw from `rng`) evaluated first.
macro_rules! pick {
    ($rng:expr, [$($x:expr),* $(,)?]) => {{
        let xs = [$($x),*];
        $rng.pick(&xs)
    }};
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, m: u64) -> u64 {
        if m == 0 { 0 } else { self.next() % m }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Row shapes: how a stored row departs from "sorted, unique, in range".
#[derive(Clone, Copy)]
enum Shape {
    Sorted,
    Shuffled,
    Duplicates,
    OutOfRange,
}

fn random_row(rng: &mut Rng, n: usize, density: u64, shape: Shape) -> Vec<(u16, u16)> {
    let mut row: Vec<(u16, u16)> = Vec::new();
    for j in 0..n as u16 {
        if rng.below(100) < density {
            row.push((j, if rng.chance(5) { 0 } else { rng.below(65_536) as u16 }));
        }
    }
    match shape {
        Shape::Sorted => {}
        Shape::Shuffled => {
            for k in (1..row.len()).rev() {
                row.swap(k, rng.below(k as u64 + 1) as usize);
            }
        }
        Shape::Duplicates => {
            if let Some(&(j, _)) = row.first() {
                let at = rng.below(row.len() as u64 + 1) as usize;
                row.insert(at, (j, rng.below(65_536) as u16));
            }
        }
        Shape::OutOfRange => row.push((n as u16 + rng.below(3) as u16, rng.below(65_536) as u16)),
    }
    row
}

fn random_params(rng: &mut Rng, n: usize) -> EpochParams {
    EpochParams {
        kappa: pick!(rng, [32_767, 32_767, 0, 65_535, rng.below(65_536) as u16]),
        bonds_penalty: pick!(rng, [65_535, 65_535, 0, rng.below(65_536) as u16]),
        bonds_moving_average: pick!(rng, [900_000, 975_000, 0, 1_000_000, 1_500_000, rng.below(1_000_001)]),
        activity_cutoff: pick!(rng, [5_000, rng.below(300)]),
        max_allowed_validators: pick!(rng, [64, 0, 1, rng.below(n as u64 + 3) as u16]),
        tempo: pick!(rng, [360, 10, 0]),
        yuma3: rng.chance(50),
        liquid_alpha: rng.chance(60).then(|| {
            let a = rng.below(65_536) as u16;
            let b = rng.below(65_536) as u16;
            LiquidAlpha {
                alpha_low: if rng.chance(80) { a.min(b) } else { a },
                alpha_high: if rng.chance(80) { a.max(b) } else { b },
                alpha_sigmoid_steepness: pick!(rng, [1000, 10, 0, -500, i16::MAX, i16::MIN, rng.next() as i16]),
            }
        }),
        stake_threshold: pick!(rng, [0, 0, 1_000, rng.below(1 << 40)]),
        tao_weight: pick!(rng, [0, 0, u64::MAX, rng.next()]),
    }
}

fn random_input(rng: &mut Rng, n: usize) -> EpochInput {
    let current_block = 1_000 + rng.below(10_000);
    let density = pick!(rng, [1, 5, 30, 90, 100, 100]);
    let validators = pick!(rng, [n, n / 4 + 1, 1 + rng.below(n as u64) as usize]);
    let malformed = rng.chance(20);
    let shape = |rng: &mut Rng| {
        if malformed {
            pick!(rng, [Shape::Sorted, Shape::Shuffled, Shape::Duplicates, Shape::OutOfRange])
        } else {
            Shape::Sorted
        }
    };
    let stake_mode = rng.below(4);
    EpochInput {
        current_block,
        last_epoch_block: pick!(rng, [0, current_block.saturating_sub(1 + rng.below(500))]),
        last_update: (0..n).map(|_| current_block.saturating_sub(pick!(rng, [0, 1, rng.below(400)]))).collect(),
        block_at_registration: (0..n)
            .map(|_| if rng.chance(80) { rng.below(current_block / 2) } else { rng.below(current_block + 2) })
            .collect(),
        stake: (0..n)
            .map(|i| match stake_mode {
                _ if i >= validators && rng.chance(90) => 0,
                0 => 1_000_000_000 + rng.below(1_000_000_000_000),
                1 => pick!(rng, [0, 1, rng.below(1 << 20)]),
                2 => pick!(rng, [0, u64::MAX / 2, rng.next() >> 1]),
                _ => rng.next() >> rng.below(64),
            })
            .collect(),
        tao_stake: if rng.chance(30) { (0..n).map(|_| rng.below(1 << 45)).collect() } else { Vec::new() },
        weights: (0..n)
            .map(|i| {
                if i < validators || rng.chance(5) {
                    let s = shape(rng);
                    random_row(rng, n, density, s)
                } else {
                    Vec::new()
                }
            })
            .collect(),
        bonds: (0..n)
            .map(|i| {
                if i < validators && rng.chance(50) {
                    let s = shape(rng);
                    random_row(rng, n, density, s)
                } else {
                    Vec::new()
                }
            })
            .collect(),
        validator_permit: (0..n).map(|i| if i < validators { rng.chance(90) } else { rng.chance(5) }).collect(),
        owner_uid: rng.chance(40).then(|| rng.below(n as u64 + 1) as u16),
        commit_blocks: rng
            .chance(25)
            .then(|| (0..n).map(|_| if rng.chance(30) { u64::MAX } else { rng.below(current_block + 1) }).collect()),
    }
}

/// Names the first differing field, so a failure points at the step that broke.
fn assert_same(got: &EpochOutput, want: &EpochOutput, what: &str) {
    macro_rules! field {
        ($($f:ident)*) => {$(
            assert!(got.$f == want.$f, "{what}: field `{}` differs:\n new {:?}\n old {:?}",
                stringify!($f), got.$f, want.$f);
        )*};
    }
    field!(active validator_permit stake_weight consensus incentive dividends validator_trust bonds
        server_emission validator_emission emission stake);
}

#[test]
fn epoch_equals_reference_on_random_subnets() {
    let mut rng = Rng(0x05ee_d0fa_110f_7e57);
    let cases = 160;
    // How often the interesting paths ran, so that the test cannot pass by
    // generating only degenerate subnets.
    let (mut with_consensus, mut liquid, mut classic_bonds, mut yuma3_bonds, mut dividends) = (0, 0, 0, 0, 0);
    for case in 0..cases {
        let n = match case % 4 {
            0 => 1 + rng.below(8) as usize,
            1 => 1 + rng.below(40) as usize,
            _ => 1 + rng.below(300) as usize,
        };
        let params = random_params(&mut rng, n);
        let mut input = random_input(&mut rng, n);
        let emission = pick!(rng, [0, 1_000_000_000, rng.next()]);
        for epoch in 0..3 {
            let what = format!("case {case} (n = {n}) epoch {epoch}");
            let got = run_epoch(&params, &input, emission).expect("valid input");
            let want = reference::epoch::run_epoch(&params, &input, emission).expect("valid input");
            assert_same(&got, &want, &what);
            let has_consensus = want.consensus.iter().any(|c| *c > 0);
            let has_bonds = want.bonds.iter().any(|r| !r.is_empty());
            with_consensus += usize::from(has_consensus);
            liquid += usize::from(has_consensus && params.yuma3 && params.liquid_alpha.is_some() && has_bonds);
            classic_bonds += usize::from(!params.yuma3 && has_bonds);
            yuma3_bonds += usize::from(params.yuma3 && has_bonds);
            dividends += usize::from(want.dividends.iter().any(|d| *d > 0));
            // Carry state over as the chain does, and move some weights.
            input.bonds = want.bonds;
            input.validator_permit = want.validator_permit;
            input.last_epoch_block = input.current_block;
            input.current_block += 1 + rng.below(400);
            for i in 0..n {
                if rng.chance(20) {
                    input.weights[i] = random_row(&mut rng, n, 50, Shape::Sorted);
                    input.last_update[i] = input.current_block;
                }
            }
        }
    }
    let epochs = cases * 3;
    for (what, count) in [
        ("consensus", with_consensus),
        ("liquid alpha", liquid),
        ("classic bonds", classic_bonds),
        ("yuma3 bonds", yuma3_bonds),
        ("dividends", dividends),
    ] {
        assert!(count * 8 >= epochs, "only {count} of {epochs} epochs had {what}");
    }
}

#[test]
fn malformed_inputs_fail_the_same_way() {
    let params = EpochParams::default();
    let mut input = random_input(&mut Rng(7), 5);
    input.bonds.pop();
    assert_eq!(run_epoch(&params, &input, 1), reference::epoch::run_epoch(&params, &input, 1));
    let empty = EpochInput::default();
    assert_eq!(run_epoch(&params, &empty, 1), reference::epoch::run_epoch(&params, &empty, 1));
}

fn random_matrix(rng: &mut Rng, rows: usize, n: usize, max_value: i64) -> Vec<Vec<(u16, I32F32)>> {
    (0..rows)
        .map(|_| {
            let shape = pick!(rng, [Shape::Sorted, Shape::Shuffled, Shape::Duplicates, Shape::OutOfRange]);
            let density = pick!(rng, [10, 60, 100]);
            random_row(rng, n, density, shape)
                .into_iter()
                .map(|(j, _)| (j, I32F32::from_bits(rng.below(max_value as u64) as i64)))
                .collect()
        })
        .collect()
}

#[test]
fn helpers_equal_reference_on_malformed_rows() {
    let mut rng = Rng(0x0dd_5eed);
    let one = 1i64 << 32;
    for case in 0..400 {
        let n = 1 + rng.below(30) as usize;
        let rows = if rng.chance(90) { n } else { 1 + rng.below(30) as usize };
        let big = if rng.chance(10) { i64::MAX } else { one + one / 2 };
        let a = random_matrix(&mut rng, rows, n, big);
        let b = random_matrix(&mut rng, rows, n, big);
        let ratio = I32F32::from_bits(pick!(rng, [0, one, rng.below(one as u64) as i64]));
        let alpha = I32F32::from_bits(rng.below(one as u64 + 1) as i64);
        let (ca, cb) = (Csr::from_rows(&a), Csr::from_rows(&b));

        let want = reference::consensus::interpolate_sparse(&a, &b, n as u16, ratio);
        let got = sparse::interpolate(ca.clone(), cb.clone(), n as u16, ratio).to_rows();
        assert_eq!(got, want, "case {case}: interpolate");

        if rows == n {
            let want = reference::consensus::mat_ema_sparse(&a, &b, alpha);
            assert_eq!(bonds::mat_ema(&ca, &cb, alpha).to_rows(), want, "case {case}: mat_ema");
        }

        let consensus: Vec<I32F32> = (0..n).map(|_| I32F32::from_bits(rng.below(one as u64) as i64)).collect();
        let (lo, hi) = (rng.below(one as u64) as i64, rng.below(one as u64) as i64);
        let (lo, hi) = (I32F32::from_bits(lo), I32F32::from_bits(hi));
        let steep = I32F32::from_num(pick!(rng, [1000i64, 10, -300, 32_767, rng.below(2_000) as i64 - 1_000]));
        let dense = reference::consensus::liquid_alpha_values_sparse(&a, &b, &consensus, lo, hi, steep);
        let want = reference::consensus::mat_ema_alpha_sparse(&a, &b, &dense);
        let sig = liquid_alpha::AlphaSigmoid::new(lo, hi, steep);
        let got = liquid_alpha::mat_ema_liquid_alpha(&ca, &cb, &consensus, &sig).to_rows();
        assert_eq!(got, want, "case {case}: liquid alpha");

        let stake: Vec<I32F32> = (0..rows)
            .map(|_| I32F32::from_bits(if rng.chance(20) { 0 } else { rng.below(big as u64) as i64 }))
            .collect();
        let kappa = I32F32::from_bits(pick!(rng, [one / 2, 0, one, rng.below(one as u64 * 2) as i64]));
        let want = reference::consensus::weighted_median_col_sparse(&stake, &a, n as u16, kappa);
        assert_eq!(math::weighted_median_col_sparse(&stake, &a, n as u16, kappa), want, "case {case}: median");

        fused_passes_equal_reference(&mut rng, case, n, rows, &a, &b, big);
    }
}

/// The epoch's fused passes against the reference steps they replace.
fn fused_passes_equal_reference(
    rng: &mut Rng,
    case: usize,
    n: usize,
    rows: usize,
    a: &[Vec<(u16, I32F32)>],
    b: &[Vec<(u16, I32F32)>],
    big: i64,
) {
    let cols = n as u16;
    let stored: Vec<Vec<(u16, u16)>> = (0..rows)
        .map(|_| {
            let shape = pick!(rng, [Shape::Sorted, Shape::Shuffled, Shape::Duplicates, Shape::OutOfRange]);
            let density = pick!(rng, [10, 60, 100]);
            random_row(rng, n, density, shape)
        })
        .collect();
    let keep = |i: usize, j: u16| !(i + usize::from(j)).is_multiple_of(5);
    let read = |convert: fn(u16) -> I32F32| -> Vec<Vec<(u16, I32F32)>> {
        (0..rows)
            .map(|i| stored[i].iter().filter(|(j, _)| keep(i, *j)).map(|&(j, v)| (j, convert(v))).collect())
            .collect()
    };

    let mut want = read(math::u16_to_fixed);
    reference::math::inplace_row_normalize_sparse(&mut want);
    assert_eq!(
        passes::read_row_normalized(&stored, keep, math::u16_to_fixed).to_rows(),
        want,
        "case {case}: read rows"
    );

    let mut want = read(math::u16_to_fixed);
    reference::math::inplace_col_normalize_sparse(&mut want, cols);
    let got = passes::read_col_normalized(&stored, keep, math::u16_to_fixed, cols).to_rows();
    assert_eq!(got, want, "case {case}: read columns");

    let vector = |rng: &mut Rng, len: usize| -> Vec<I32F32> {
        (0..len).map(|_| I32F32::from_bits(if rng.chance(20) { 0 } else { rng.below(big as u64) as i64 })).collect()
    };
    let consensus = vector(rng, n);
    let stake = vector(rng, rows);
    let clipped = reference::math::col_clip_sparse(a, &consensus);
    let want = (
        clipped.clone(),
        reference::math::row_sum_sparse(&clipped),
        reference::math::matmul_sparse(&clipped, &stake, cols),
    );
    let mut c = Csr::from_rows(a);
    let (trust, incentive) = passes::clip_trust_incentive(&mut c, &consensus, &stake, cols);
    assert_eq!((c.to_rows(), trust, incentive), want, "case {case}: clip, trust, incentive");

    for len in [rows, rows / 2] {
        let stake = vector(rng, len);
        let mut want = reference::math::row_hadamard_sparse(a, &stake);
        reference::math::inplace_col_normalize_sparse(&mut want, cols);
        want.resize(rows, Vec::new());
        let mut got = Csr::from_rows(a);
        passes::scale_rows_col_normalize(&mut got, &stake, cols);
        assert_eq!(got.to_rows(), want, "case {case}: scaled columns ({len} of {rows} rows)");
    }

    let permits: Vec<bool> = (0..rows).map(|_| rng.chance(70)).collect();
    let mut want = b.to_vec();
    reference::math::inplace_col_normalize_sparse(&mut want, cols);
    let incentive = vector(rng, n);
    let want_dot = reference::math::matmul_transpose_sparse(&want, &incentive);
    reference::math::inplace_col_max_upscale_sparse(&mut want, cols);
    let want_rows: Vec<Vec<(u16, u16)>> = want
        .iter()
        .zip(permits.iter())
        .map(
            |(r, p)| {
                if *p { r.iter().map(|(j, v)| (*j, math::fixed_proportion_to_u16(*v))).collect() } else { Vec::new() }
            },
        )
        .collect();
    let mut got = Csr::from_rows(b);
    let sums = got.col_sums(cols);
    let upscale = passes::col_normalize_with_max(&mut got, &sums);
    assert_eq!(got.matmul_transpose(&incentive), want_dot, "case {case}: dividends");
    assert_eq!(passes::stored_rows(&got, &permits, Some(&upscale)), want_rows, "case {case}: upscaled rows");

    let mut norm = b.to_vec();
    reference::math::inplace_col_normalize_sparse(&mut norm, cols);
    let want = reference::math::row_sum_sparse(&reference::consensus::mat_vec_mul_sparse(&norm, &incentive));
    let ema = Csr::from_rows(b);
    let got = passes::normalized_matmul_transpose(&ema, &ema.col_sums(cols), &incentive);
    assert_eq!(got, want, "case {case}: normalised dividends");
}
