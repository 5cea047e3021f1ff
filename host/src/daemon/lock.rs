//! The hotkey guard: two daemons must not validate one subnet with one hotkey.
//!
//! Two checks, both at start and when a config reload adds or enables a subnet:
//! - **A lock beside the wallet**: per subnet, an exclusive `flock` on
//!   `<wallets>/<wallet>/locks/<hotkey>.<netuid>.lock` (or `[wallet] lock_dir`), held for as
//!   long as the daemon runs that subnet. The kernel drops it when the process dies, `kill -9`
//!   included, so a stale file never blocks a restart. The file holds the holder's pid and
//!   state directory, which the refusal names. This catches every daemon sharing the wallet
//!   directory, whatever its `state_dir`.
//! - **The chain** ([`check_chain`]): the hotkey's `last_update` on the subnet must not be
//!   newer than the last weights the local state recorded (allowing two weights cadences plus
//!   `weights_rate_limit` blocks, as a daemon killed between `set_weights` and its own commit
//!   leaves the chain one set ahead). A newer one means someone else sets weights with this
//!   hotkey, e.g. a daemon on another machine. A state with no weights yet refuses weights set
//!   on chain within the same allowance before the start. Skipped on the `local` backend,
//!   whose chain is the daemon's own (in its state directory).
//!
//! `subnetd run --allow-shared-hotkey` skips both (for a planned migration).
//!
//! Failure modes: [`LockError`], naming the other holder where known; a lock directory that
//! cannot be made is an error too (fails closed), with the path to fix.

use std::fs::File;
use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use subnet_chain::{AccountId, Chain};

/// Why the guard refused.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another live process holds the lock.
    #[error(
        "subnet {netuid}: another subnetd ({holder}) holds the hotkey {hotkey} for this subnet (lock {path}); \
         stop it first, or pass --allow-shared-hotkey if you really mean two validators on one hotkey"
    )]
    Held {
        /// The subnet.
        netuid: u16,
        /// The hotkey, SS58.
        hotkey: String,
        /// The lock file.
        path: PathBuf,
        /// What the lock file says about its holder.
        holder: String,
    },
    /// The lock file cannot be made.
    #[error("subnet {netuid}: hotkey lock {path}: {message} (set [wallet] lock_dir to a writable directory)")]
    Io {
        /// The subnet.
        netuid: u16,
        /// The lock file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The chain shows weights this daemon did not set.
    #[error(
        "subnet {netuid}: the chain shows weights set by hotkey {hotkey} at block {chain_block}, newer than this \
         daemon's last ({local}); another validator is using this hotkey. Stop it, or pass --allow-shared-hotkey"
    )]
    Chain {
        /// The subnet.
        netuid: u16,
        /// The hotkey, SS58.
        hotkey: String,
        /// The chain's `last_update`.
        chain_block: u64,
        /// The local state's last weights block, described.
        local: String,
    },
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct HotkeyLock {
    _file: File,
    /// The lock file.
    pub path: PathBuf,
}

/// The lock file of `hotkey` on `netuid` under `dir`.
pub fn lock_path(dir: &Path, hotkey: &AccountId, netuid: u16) -> PathBuf {
    dir.join(format!("{}.{netuid}.lock", hotkey.to_ss58()))
}

impl HotkeyLock {
    /// Takes the lock of `hotkey` on `netuid` in `dir`, or says who holds it.
    pub fn acquire(dir: &Path, hotkey: &AccountId, netuid: u16, state_dir: &Path) -> Result<Self, LockError> {
        let path = lock_path(dir, hotkey, netuid);
        let io = |e: std::io::Error| LockError::Io { netuid, path: path.clone(), message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        // SAFETY: flock on a file descriptor this function owns for the call's duration.
        let taken = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
        if !taken {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim().replace('\n', ", ");
            return Err(LockError::Held {
                netuid,
                hotkey: hotkey.to_ss58(),
                path,
                holder: if holder.is_empty() { "unknown pid".into() } else { holder },
            });
        }
        let note = format!("pid {}\nstate_dir {}\n", std::process::id(), state_dir.display());
        file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(note.as_bytes())).map_err(io)?;
        Ok(Self { _file: file, path })
    }
}

/// The chain side of the guard (see the module docs): `local_last` is the block of the last
/// weights the local state holds for the subnet, `None` if it holds none; `every_blocks` the
/// subnet's weights cadence.
pub async fn check_chain(
    chain: &dyn Chain,
    netuid: u16,
    mecid: u8,
    hotkey: &AccountId,
    local_last: Option<u64>,
    every_blocks: u64,
) -> Result<(), LockError> {
    // A chain that cannot be read here is not proof of anything: the rounds will say so.
    let metagraph = match mecid {
        0 => chain.metagraph(netuid).await,
        m => chain.mechanism_metagraph(netuid, m).await,
    };
    let Ok(metagraph) = metagraph else { return Ok(()) };
    let Some(neuron) = metagraph.uid_of(hotkey).and_then(|uid| metagraph.neurons.get(usize::from(uid))) else {
        return Ok(());
    };
    let Ok(hyper) = chain.hyperparams(netuid).await else { return Ok(()) };
    // One weights set may be missing from the local state (killed between `set_weights` and
    // its commit, which lands one cadence plus a round's latency after the last recorded
    // one): allow two cadences plus the rate limit before calling it someone else's.
    let slack = hyper.weights_rate_limit.max(1) + 2 * every_blocks;
    let last_update = neuron.last_update;
    // `last_update` starts at the registration block: nothing was set yet.
    if last_update <= neuron.block_at_registration {
        return Ok(());
    }
    let refused = match local_last {
        Some(local) => last_update > local + slack,
        None => metagraph.block.saturating_sub(last_update) < slack,
    };
    if refused {
        return Err(LockError::Chain {
            netuid,
            hotkey: hotkey.to_ss58(),
            chain_block: last_update,
            local: local_last.map_or("none in its state".into(), |b| format!("block {b}")),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named_and_a_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let hotkey = AccountId([7; 32]);
        let first = HotkeyLock::acquire(dir.path(), &hotkey, 1, Path::new("/a")).unwrap();
        let e = HotkeyLock::acquire(dir.path(), &hotkey, 1, Path::new("/b")).unwrap_err();
        assert!(e.to_string().contains("state_dir /a"), "{e}");
        // Another subnet, same hotkey: a separate lock.
        let _other = HotkeyLock::acquire(dir.path(), &hotkey, 2, Path::new("/b")).unwrap();
        drop(first);
        HotkeyLock::acquire(dir.path(), &hotkey, 1, Path::new("/b")).unwrap();
    }
}
