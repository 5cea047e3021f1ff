//! Shared set-up of the embedded-chain tests: keys, a subnet with an owner, staked validators
//! and miners, and the check that a rejected call leaves the chain unchanged.

#![allow(dead_code)]

use subnet_chain::local::LocalChain;
use subnet_chain::{AccountId, ChainError, ExtrinsicOutcome, NetUid, SUBTENSOR_PALLET, SubtensorError as E};

pub fn key(tag: u8, i: u16) -> AccountId {
    let mut k = [0u8; 32];
    k[0] = tag;
    k[1..3].copy_from_slice(&i.to_le_bytes());
    AccountId(k)
}

pub const TAO: u64 = 1_000_000_000;

/// A subnet that sets weights directly: commit-reveal (on by default, as on today's network)
/// turned off.
pub fn plain_subnet(
    chain: &LocalChain,
    owner_ck: &AccountId,
    owner_hk: Option<&AccountId>,
) -> Result<NetUid, ChainError> {
    let netuid = chain.create_subnet(owner_ck, owner_hk)?;
    chain.update_hyperparams(netuid, |h| h.commit_reveal_enabled = false)?;
    Ok(netuid)
}

/// A subnet with an owner hotkey (uid 0), `v` staked validators (uids 1..=v) and `m` miners,
/// tempo 10, after one epoch so that the validators hold permits.
pub struct Net {
    pub chain: LocalChain,
    pub netuid: NetUid,
    pub owner_hk: AccountId,
    pub validators: Vec<AccountId>,
    pub miners: Vec<AccountId>,
}

impl Net {
    pub fn new(v: u16, m: u16) -> Self {
        Self::with(LocalChain::in_memory(), v, m)
    }

    pub fn with(chain: LocalChain, v: u16, m: u16) -> Self {
        let (netuid, owner_hk, validators, miners) = setup(&chain, v, m);
        Self { chain, netuid, owner_hk, validators, miners }
    }

    pub fn uid(&self, hk: &AccountId) -> u16 {
        self.chain.metagraph_now(self.netuid).expect("metagraph").uid_of(hk).expect("registered")
    }

    pub fn miner_uids(&self) -> Vec<u16> {
        self.miners.iter().map(|m| self.uid(m)).collect()
    }
}

/// Creates the subnet of [`Net`] on `chain`; returns `(netuid, owner hotkey, validators, miners)`.
pub fn setup(chain: &LocalChain, v: u16, m: u16) -> (NetUid, AccountId, Vec<AccountId>, Vec<AccountId>) {
    let owner_ck = key(0xf0, 0);
    let owner_hk = key(0xf1, 0);
    let netuid = plain_subnet(chain, &owner_ck, Some(&owner_hk)).expect("subnet");
    chain
        .update_hyperparams(netuid, |h| {
            h.tempo = 10;
            h.weights_rate_limit = 0;
        })
        .expect("hyperparams");
    let validators: Vec<AccountId> = (0..v).map(|i| key(1, i)).collect();
    let miners: Vec<AccountId> = (0..m).map(|i| key(3, i)).collect();
    for (i, hk) in validators.iter().enumerate() {
        chain.register_now(hk, &key(2, i as u16), netuid).expect("register validator");
        chain.add_stake(&key(2, i as u16), hk, netuid, (100 + 10 * i as u64) * TAO).expect("stake");
    }
    for (i, hk) in miners.iter().enumerate() {
        chain.register_now(hk, &key(4, i as u16), netuid).expect("register miner");
    }
    chain.advance_to_next_epoch(netuid).expect("epoch");
    (netuid, owner_hk, validators, miners)
}

/// Runs `f`, expects the subtensor error `want`, and checks that the chain did not change.
pub fn rejected(chain: &LocalChain, want: E, f: impl FnOnce(&LocalChain) -> Result<ExtrinsicOutcome, ChainError>) {
    let before = chain.snapshot();
    let got = f(chain).expect_err("the call should fail");
    assert_eq!(got, ChainError::Module { pallet: SUBTENSOR_PALLET.into(), name: want.name().into() }, "wrong error");
    assert!(chain.same_state_as(&before), "a failed {} changed the chain", want.name());
}
