//! The epoch of the whole project ([`EpochSchedule`]) against the embedded chain's own
//! behaviour: the epoch it reports is the one the chain's commit-reveal checks use, block for
//! block, with epochs deferred by the per-block cap; its predicted epoch starts are the blocks
//! where the chain runs them.

use subnet_chain::local::{LocalChain, LocalChainConfig};
use subnet_chain::{AccountId, ChainEvent, EpochSchedule, NetUid, SubtensorError as E, commit_hash};

fn key(tag: u8, i: u16) -> AccountId {
    let mut k = [0u8; 32];
    k[0] = tag;
    k[1..3].copy_from_slice(&i.to_le_bytes());
    AccountId(k)
}

fn epoch_runs(events: &[ChainEvent], netuid: NetUid) -> usize {
    events.iter().filter(|e| matches!(e, ChainEvent::EpochRun { netuid: n, .. } if *n == netuid)).count()
}

/// Three subnets of tempo 7 whose cycles restart in the same block, one epoch per block at
/// most: every third cycle collides and two of them are deferred. Subnet 1 has a validator
/// (its owner hotkey) that can commit.
fn colliding_chain() -> (LocalChain, Vec<NetUid>, AccountId) {
    let chain = LocalChain::in_memory_with(LocalChainConfig { max_epochs_per_block: 1, ..LocalChainConfig::default() });
    let owner = key(9, 0);
    let netuids: Vec<NetUid> =
        (0..3).map(|i| chain.create_subnet(&key(8, i), (i == 0).then_some(&owner)).expect("subnet")).collect();
    chain.advance_blocks(3).unwrap();
    for &n in &netuids {
        // A tempo change restarts every cycle at this block: all three fall due together.
        chain
            .update_hyperparams(n, |h| {
                h.tempo = 7;
                h.weights_rate_limit = 0;
            })
            .unwrap();
    }
    (chain, netuids, owner)
}

#[test]
fn epoch_is_the_chains_epoch_through_deferred_epochs() {
    let (chain, netuids, _) = colliding_chain();
    let mut deferred_seen = 0;
    for _ in 0..60 {
        let before: Vec<u64> = netuids.iter().map(|&n| chain.epoch_index(n).unwrap()).collect();
        for &n in &netuids {
            let s = chain.epoch_schedule_now(n).unwrap();
            let index = chain.epoch_index(n).unwrap();
            assert_eq!(s.block, chain.block());
            assert_eq!(s.extrinsic_block, s.block, "the embedded chain applies extrinsics in its head block");
            assert_eq!(s.epoch_index, Some(index));
            // The look-ahead counts only an epoch that is due now and was deferred.
            let deferred = s.pending_epoch_at == s.block + 1;
            assert_eq!(s.epoch(), index + u64::from(deferred), "{s:?}");
            deferred_seen += usize::from(deferred);
        }
        let events = chain.advance_blocks(1).unwrap();
        // Each epoch that ran moved its index by one, and no index moved without one.
        for (&n, before) in netuids.iter().zip(before) {
            assert_eq!(chain.epoch_index(n).unwrap(), before + epoch_runs(&events, n) as u64);
        }
    }
    // Block 10: one of three runs, two are deferred; block 11: one of them is deferred again.
    assert_eq!(deferred_seen, 3, "the scenario must defer epochs");
}

#[test]
fn predicted_epoch_starts_are_where_the_chain_runs_them() {
    let chain = LocalChain::in_memory();
    let netuid = chain.create_subnet(&key(8, 0), None).unwrap();
    chain.update_hyperparams(netuid, |h| h.tempo = 11).unwrap();
    chain.advance_blocks(5).unwrap();
    let s = chain.epoch_schedule_now(netuid).unwrap();
    let now = s.epoch();
    let predicted: Vec<u64> = (now + 1..=now + 4).map(|e| s.first_block_of_epoch(e)).collect();
    let mut ran = Vec::new();
    while ran.len() < 4 {
        let events = chain.advance_blocks(1).unwrap();
        if epoch_runs(&events, netuid) > 0 {
            ran.push(chain.block());
        }
    }
    assert_eq!(predicted, ran);
    assert_eq!(s.first_block_of_epoch(now), s.last_epoch_block.unwrap(), "the current epoch began at LastEpochBlock");
    // A commit sent now is revealed in the epoch after next-reveal-period epochs.
    assert_eq!(s.first_reveal_block(), predicted[0]);
}

/// A v2 reveal is accepted exactly in the blocks whose `epoch()` is the commit's epoch plus
/// the reveal period, deferred blocks included (tried on a copy each block, so the commit
/// stays for the next block's try).
#[test]
fn v2_reveal_window_agrees_with_epoch() {
    let (chain, netuids, owner) = colliding_chain();
    let netuid = netuids[0];
    chain
        .update_hyperparams(netuid, |h| {
            h.commit_reveal_enabled = true;
            h.commit_reveal_period = 2;
        })
        .unwrap();
    let (uids, values, salt) = ([0u16], [1u16], [5u16]);
    let mut checked = 0;
    for start in 0..8 {
        let c = chain.snapshot();
        c.advance_blocks(start).unwrap();
        let commit_epoch = c.epoch_schedule_now(netuid).unwrap().epoch();
        let salt = [salt[0] + start as u16];
        c.commit_weights_now(&owner, netuid, commit_hash(&owner, netuid, &uids, &values, &salt, 0)).unwrap();
        let mut opened = false;
        for _ in 0..40 {
            c.advance_blocks(1).unwrap();
            let s: EpochSchedule = c.epoch_schedule_now(netuid).unwrap();
            let attempt = c.snapshot().reveal_weights_now(&owner, netuid, &uids, &values, &salt, 0);
            let in_window = s.epoch() == commit_epoch + 2;
            match attempt {
                Ok(_) => assert!(in_window, "revealed outside the window at {s:?}"),
                Err(e) => {
                    assert!(!in_window, "refused inside the window at {s:?}: {e}");
                    assert!(e.is(E::RevealTooEarly), "{e}");
                }
            }
            opened |= in_window;
            checked += 1;
        }
        assert!(opened, "the window of a commit at start {start} never opened");
    }
    assert!(checked > 300);
}
