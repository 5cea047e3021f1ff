//! `subnetd sign` and `subnetd verify`: detached ed25519 module signatures
//! (format: [`subnet_host::daemon::signing`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use subnet_host::daemon::config::parse_public_key;
use subnet_host::daemon::signing::{self, ModuleSignature};
use subnet_keys::Keypair;

/// Arguments of `subnetd sign`.
#[derive(Args)]
pub struct SignArgs {
    /// The module to sign.
    module: PathBuf,
    /// The ed25519 signing key: a keyfile path, or WALLET/HOTKEY in the wallets directory.
    #[arg(long)]
    key: String,
    /// The wallets directory for WALLET/HOTKEY (default ~/.bittensor/wallets).
    #[arg(long)]
    wallets: Option<PathBuf>,
    /// Environment variable holding the key's password (encrypted keyfiles).
    #[arg(long)]
    password_env: Option<String>,
    /// The subnet the module is signed for: a daemon loads it for that netuid only.
    #[arg(long)]
    netuid: u16,
    /// A version label signed with the module (shown by the daemon with the module's hash).
    #[arg(long = "module-version")]
    version: Option<String>,
    /// Where to write the signature (default: <module>.sig).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn load_key(args: &SignArgs) -> Result<Keypair> {
    let password = match &args.password_env {
        Some(var) => Some(std::env::var(var).map_err(|_| anyhow!("--password-env names `{var}`, which is not set"))?),
        None => None,
    };
    let as_path = Path::new(&args.key);
    if as_path.is_file() {
        return Ok(Keypair::load_from_file(as_path, password.as_deref())?);
    }
    let Some((wallet, hotkey)) = args.key.split_once('/').filter(|(w, h)| !w.is_empty() && !h.contains('/')) else {
        bail!("--key {}: no such keyfile, and not of the form WALLET/HOTKEY", args.key);
    };
    let root = args
        .wallets
        .clone()
        .or_else(subnet_keys::default_wallets_root)
        .ok_or_else(|| anyhow!("no wallets directory: pass --wallets"))?;
    Ok(Keypair::load_hotkey(&root, wallet, hotkey, password.as_deref())?)
}

/// Runs `subnetd sign`: writes `<module>.sig`.
pub async fn run(args: SignArgs) -> Result<()> {
    let key = load_key(&args)?;
    let bytes = std::fs::read(&args.module).with_context(|| format!("reading {}", args.module.display()))?;
    // The signing time orders an owner's versions (daemons refuse older ones as rollbacks).
    let signed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let binding = signing::Binding { netuid: args.netuid, signed_at };
    let sig = signing::sign_module(&key, &bytes, args.version.as_deref(), binding)?;
    let out = args.out.clone().unwrap_or_else(|| signing::signature_path(&args.module));
    sig.write(&out).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "signed {} (sha256 {}, {} bytes) as {} for subnet {} at {signed_at}",
        args.module.display(),
        sig.sha256,
        sig.size,
        sig.signer,
        args.netuid
    );
    println!("wrote {}", out.display());
    Ok(())
}

/// Arguments of `subnetd verify`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The module to verify.
    module: PathBuf,
    /// Require the signature to be by this key (SS58 or 0x-hex public key); may be repeated.
    #[arg(long)]
    signer: Vec<String>,
    /// The signature file (default: <module>.sig).
    #[arg(long)]
    sig: Option<PathBuf>,
    /// Require the signature to be bound to this subnet (as a daemon serving it does).
    #[arg(long)]
    netuid: Option<u16>,
}

/// Runs `subnetd verify`: exits non-zero unless the signature is valid (and by a listed key).
pub async fn run_verify(args: VerifyArgs) -> Result<()> {
    let required = args
        .signer
        .iter()
        .map(|s| parse_public_key(s).map_err(|e| anyhow!("--signer: {e}")))
        .collect::<Result<Vec<_>>>()?;
    let bytes = std::fs::read(&args.module).with_context(|| format!("reading {}", args.module.display()))?;
    let sig_path = args.sig.clone().unwrap_or_else(|| signing::signature_path(&args.module));
    let sig = ModuleSignature::read(&sig_path)?;
    let verified = signing::verify_module(&bytes, &sig)?;
    signing::check_signer(&verified, &required)?;
    if let Some(netuid) = args.netuid {
        signing::check_subnet(&verified, netuid)?;
    }
    let bound = match verified.binding {
        Some(b) => format!(" for subnet {} (signed at {})", b.netuid, b.signed_at),
        None => " (format 1: bound to no subnet, which daemons refuse; re-sign with --netuid)".to_owned(),
    };
    println!(
        "valid: {} (sha256 {}, {} bytes) is signed by {}{}{bound}",
        args.module.display(),
        verified.sha256,
        bytes.len(),
        verified.signer.to_ss58(),
        verified.version.as_deref().map(|v| format!(", version {v}")).unwrap_or_default()
    );
    Ok(())
}
