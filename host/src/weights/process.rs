//! What the SDK does to a validator's scores before `set_weights`, on the module's weights.

use subnet_chain::Hyperparams;

use crate::bindings::types::Weight;

/// Turns a module's weights into what `set_weights` takes, as the SDK does for a validator's
/// scores: a dense vector over the `n` uids (a uid given twice keeps its last value, uids past
/// `n` are dropped, negative or non-finite values count 0), divided by its maximum in f64 so
/// any finite input fits f32, then `process_weights_for_netuid` (min allowed weights, max weight
/// limit, exclude quantile) and `convert_weights_and_uids_for_emit`. Errors say why the SDK
/// would refuse; an all-zero result is an error too (nothing to set).
pub fn chain_weights(
    weights: &[Weight],
    n: usize,
    hyper: &Hyperparams,
    exclude_quantile: u16,
) -> Result<(Vec<u16>, Vec<u16>), String> {
    let mut dense = vec![0f64; n];
    for w in weights {
        if let Some(slot) = dense.get_mut(usize::from(w.uid)) {
            *slot = if w.value.is_finite() && w.value > 0.0 { w.value } else { 0.0 };
        }
    }
    let max = dense.iter().copied().fold(0.0f64, f64::max);
    let scaled: Vec<f32> = dense.iter().map(|w| if max > 0.0 { (w / max) as f32 } else { 0.0 }).collect();
    let n16 = u16::try_from(n).map_err(|_| format!("{n} uids: a subnet holds at most 65535"))?;
    let uids: Vec<u16> = (0..n16).collect();
    let (uids, values) = subnet_chain::weights::process_weights_for_netuid(
        &uids,
        &scaled,
        n16,
        hyper.min_allowed_weights,
        hyper.max_weight_limit,
        exclude_quantile,
    )
    .and_then(|(uids, weights)| subnet_chain::weights::weights_for_emit(&uids, &weights))
    .map_err(|e| format!("weights cannot be processed: {e}"))?;
    if uids.is_empty() {
        return Err("no non-zero weights to set".into());
    }
    Ok((uids, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(uid: u16, value: f64) -> Weight {
        Weight { uid, value }
    }

    #[test]
    fn huge_weights_do_not_overflow_and_duplicates_keep_the_last() {
        let hyper = Hyperparams::default();
        let (uids, values) = chain_weights(&[w(0, 1e39), w(1, 5e38)], 3, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![0, 1], vec![65535, 32768]));
        let (uids, values) = chain_weights(&[w(0, 3e38), w(1, 3e38)], 2, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![0, 1], vec![65535, 65535]));
        let (uids, values) = chain_weights(&[w(1, 1.0), w(1, 0.5), w(2, 1.0), w(9, 1.0)], 3, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![1, 2], vec![32768, 65535]));
    }

    #[test]
    fn all_zero_weights_follow_the_sdk() {
        // The SDK sets uniform weights when no score is positive.
        let hyper = Hyperparams::default();
        let (uids, values) = chain_weights(&[w(0, 0.0), w(1, f64::NAN)], 2, &hyper, 0).unwrap();
        assert_eq!((uids, values), (vec![0, 1], vec![65535, 65535]));
    }
}
