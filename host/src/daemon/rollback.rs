//! The rollback guard of signed module versions: under `require_signers`, a version signed
//! ([`signing::Binding::signed_at`]) before the last one a subnet applied is refused, unless the
//! operator asked for the rollback, so whoever can write a module directory cannot bring back
//! an old, perhaps vulnerable, signed release. The last applied version is kept in the state
//! database ([`super::store::AppliedModule`]) by [`super::reload::ModuleSlot`].
//!
//! The same bytes are never a rollback (re-applying the applied version is a no-op), and two
//! versions signed in the same second are both accepted.

use super::metrics::short;
use super::signing;
use super::store::AppliedModule;

/// Accepts `v` (signed with `binding`) after `last`, or says why it is a rollback.
pub fn check(
    last: &AppliedModule,
    v: &signing::Verified,
    binding: signing::Binding,
    allow_rollback: bool,
    netuid: u16,
    label: &str,
) -> Result<(), String> {
    let older = binding.signed_at < last.signed_at && last.sha256 != v.sha256;
    if !older {
        return Ok(());
    }
    if allow_rollback {
        tracing::warn!(subnet = netuid, name = %label, applied = %short(&last.sha256),
            "rolling back to a version signed before the applied one, as asked");
        return Ok(());
    }
    Err(format!(
        "rollback: this version ({}) was signed at {} (Unix seconds), {} s before the applied version {} ({}, sha256 {}); an old signed module is refused so it cannot be replayed: re-sign it to roll back for good, or run `subnetd reload --allow-rollback` to apply it once",
        v.version.as_deref().unwrap_or("no label"),
        binding.signed_at,
        last.signed_at - binding.signed_at,
        last.version.as_deref().unwrap_or("(no label)"),
        if last.signer.is_empty() { "unsigned".to_owned() } else { format!("signed by {}", last.signer) },
        short(&last.sha256),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use subnet_keys::AccountId;

    fn applied(signed_at: u64) -> AppliedModule {
        AppliedModule { sha256: "aa".repeat(32), version: Some("2.0".into()), signer: "5F".into(), signed_at }
    }

    fn verified(sha: &str, signed_at: u64) -> (signing::Verified, signing::Binding) {
        let binding = signing::Binding { netuid: 1, signed_at };
        let v = signing::Verified {
            signer: AccountId([1; 32]),
            version: Some("1.0".into()),
            sha256: sha.into(),
            binding: Some(binding),
        };
        (v, binding)
    }

    #[test]
    fn older_is_refused_unless_asked_and_newer_same_time_or_same_bytes_pass() {
        let last = applied(1000);
        let (old, b) = verified(&"bb".repeat(32), 999);
        let refused = check(&last, &old, b, false, 1, "s").unwrap_err();
        assert!(
            refused.starts_with("rollback:") && refused.contains("1 s before") && refused.contains("2.0"),
            "{refused}"
        );
        check(&last, &old, b, true, 1, "s").unwrap();
        for at in [1000, 1001] {
            let (v, b) = verified(&"bb".repeat(32), at);
            check(&last, &v, b, false, 1, "s").unwrap();
        }
        let (same, b) = verified(&"aa".repeat(32), 1);
        check(&last, &same, b, false, 1, "s").unwrap();
    }
}
