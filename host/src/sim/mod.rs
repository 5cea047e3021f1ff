//! Simulated neurons, in one place for the sandbox, `sandbox --network` and the daemon's
//! `local` chain backend: the miners' behaviours ([`SimMiner`]), their deterministic keys
//! ([`sim_key`]), how they are served (in process: [`InProcessMiners`]; over HTTP on loopback:
//! [`serve_sim_miners`]), and how a subnet of them is set up on the embedded chain
//! ([`local::LocalSubnet`]).
//!
//! Reproducibility: keys, noise and simulated latencies derive from seeds only, so the same
//! seed gives the same neurons and the same answers.

pub mod in_process;
pub mod local;
pub mod served;

use rand::{Rng, RngExt, SeedableRng};
use subnet_keys::{CryptoType, Keypair};

use crate::bindings::types::Payload;
use crate::caps::random::{derive_seed, seed_part};
use crate::runtime::MinerModule;
pub use in_process::InProcessMiners;
pub use served::{SimMinerHandler, serve_sim_miners};

/// What a simulated miner does with a task.
#[derive(Clone)]
pub enum SimMiner {
    /// Runs a miner module (honest or adversarial, as the module is written).
    Module(MinerModule),
    /// Never answers: every query times out.
    Lazy,
    /// Answers noise of the task's content type ([`noise`]).
    Random,
}

impl SimMiner {
    /// A short label for reports.
    pub fn label(&self) -> String {
        match self {
            SimMiner::Module(m) => m.info().name.clone(),
            SimMiner::Lazy => "lazy".into(),
            SimMiner::Random => "random".into(),
        }
    }
}

/// Noise of `content_type`, from `seed`: a random JSON number for JSON tasks, else 16 to 255
/// random bytes.
pub fn noise(content_type: &str, seed: u64) -> Payload {
    let mut rng = rand_chacha::ChaCha12Rng::seed_from_u64(seed);
    let body = if content_type.starts_with("application/json") {
        rng.next_u64().to_string().into_bytes()
    } else {
        let len = rng.random_range(16..256);
        (0..len).map(|_| rng.random::<u8>()).collect()
    };
    Payload { content_type: content_type.to_owned(), body }
}

/// The deterministic sr25519 key of simulated role `role` number `index` under `seed`. These
/// are public test keys: never for real funds.
pub fn sim_key(seed: u64, role: &str, index: u64) -> Keypair {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&derive_seed(&[seed, seed_part(role), index, i as u64]).to_le_bytes());
    }
    Keypair::from_seed(CryptoType::Sr25519, &bytes)
}
