//! `subnetd wallet`: create and inspect keys in bittensor wallet directories
//! (`<root>/<wallet>/coldkey`, `coldkeypub.txt`, `hotkeys/<name>`, `hotkeys/<name>pub.txt`, the
//! layout and JSON keyfiles the bittensor SDK and btcli read and write).
//!
//! Also the wallet helpers the other subcommands share: the wallets root, loading a hotkey or a
//! coldkey (an encrypted keyfile is unlocked with `$SUBNETD_WALLET_PASSWORD`, else refused with
//! a message saying so), and reading public keys without touching secrets.
//!
//! New keys come from BIP-39 mnemonics (Substrate's derivation, as btcli's), printed once by
//! `wallet new` and never stored: the phrase is the only backup besides the keyfile, and
//! `wallet regen` (or btcli's `regen_coldkey`/`regen_hotkey`) rebuilds the key from it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};
use subnet_keys::{AccountId, CryptoType, KeyError, Keypair};

/// Environment variable holding the password of encrypted keyfiles.
pub const PASSWORD_ENV: &str = "SUBNETD_WALLET_PASSWORD";

/// Arguments of `subnetd wallet`.
#[derive(Args)]
pub struct WalletArgs {
    #[command(subcommand)]
    command: WalletCommand,
}

/// Where wallets live, shared by the subcommands that read them.
#[derive(Args, Clone, Debug)]
pub struct WalletsDir {
    /// Wallets directory (default ~/.bittensor/wallets).
    #[arg(long = "wallets-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

impl WalletsDir {
    /// The directory, or the SDK's default.
    pub fn root(&self) -> Result<PathBuf> {
        match &self.dir {
            Some(d) => Ok(d.clone()),
            None => subnet_keys::default_wallets_root().ok_or_else(|| anyhow!("HOME is not set: pass --wallets-dir")),
        }
    }
}

#[derive(Subcommand)]
enum WalletCommand {
    /// Create a wallet's coldkey (if it has none) and a new hotkey.
    New {
        /// Wallet name.
        #[arg(long)]
        wallet: String,
        /// Hotkey name.
        #[arg(long, default_value = "default")]
        hotkey: String,
        /// Signature scheme of the new hotkey (coldkeys are always sr25519, as btcli makes them).
        #[arg(long, default_value = "sr25519", value_parser = parse_crypto)]
        crypto: CryptoType,
        /// Encrypt the new coldkey with the password in $SUBNETD_WALLET_PASSWORD ($NACL, as btcli).
        #[arg(long)]
        encrypt_coldkey: bool,
        /// Replace an existing hotkey of that name.
        #[arg(long)]
        overwrite: bool,
        /// Words of the new keys' mnemonics (12, 15, 18, 21 or 24).
        #[arg(long, default_value_t = 12)]
        words: usize,
        #[command(flatten)]
        dir: WalletsDir,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild a coldkey or a hotkey from its mnemonic (read from $SUBNETD_MNEMONIC, else one
    /// line of standard input, so the phrase stays out of the shell's history).
    Regen {
        /// Wallet name.
        #[arg(long)]
        wallet: String,
        /// The hotkey to rebuild; without it, the wallet's coldkey.
        #[arg(long)]
        hotkey: Option<String>,
        /// Signature scheme (a coldkey is always sr25519).
        #[arg(long, default_value = "sr25519", value_parser = parse_crypto)]
        crypto: CryptoType,
        /// Encrypt a rebuilt coldkey with the password in $SUBNETD_WALLET_PASSWORD.
        #[arg(long)]
        encrypt_coldkey: bool,
        /// Replace an existing keyfile.
        #[arg(long)]
        overwrite: bool,
        #[command(flatten)]
        dir: WalletsDir,
    },
    /// Show a wallet's coldkey address and its hotkeys.
    Show {
        /// Wallet name.
        #[arg(long)]
        wallet: String,
        #[command(flatten)]
        dir: WalletsDir,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the wallets in the wallets directory.
    List {
        #[command(flatten)]
        dir: WalletsDir,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_crypto(text: &str) -> Result<CryptoType, String> {
    CryptoType::parse(text).ok_or_else(|| format!("`{text}` is not a scheme: use sr25519 or ed25519"))
}

fn password() -> Option<String> {
    std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty())
}

fn with_hint(e: KeyError) -> anyhow::Error {
    match e {
        KeyError::Encrypted { .. } => anyhow!("{e}: set {PASSWORD_ENV} to unlock it"),
        KeyError::AlreadyExists { path } => {
            anyhow!("{} already exists: pass --overwrite to replace it", path.display())
        }
        other => anyhow!(other),
    }
}

/// Loads the hotkey `<root>/<wallet>/hotkeys/<hotkey>`.
pub fn load_hotkey(root: &Path, wallet: &str, hotkey: &str) -> Result<Keypair> {
    Keypair::load_hotkey(root, wallet, hotkey, password().as_deref()).map_err(with_hint)
}

/// Loads a wallet's coldkey (needed only to sign registrations, stake and subnet admin on a
/// chain node).
pub fn load_coldkey(root: &Path, wallet: &str) -> Result<Keypair> {
    let path = subnet_keys::coldkey_path(root, wallet)?;
    Keypair::load_from_file(&path, password().as_deref()).map_err(with_hint)
}

/// A wallet's coldkey address, from `coldkeypub.txt`.
pub fn coldkey_public(root: &Path, wallet: &str) -> Result<AccountId> {
    Ok(subnet_keys::load_coldkeypub(root, wallet)?.0)
}

/// A hotkey's address, from `<hotkey>pub.txt` or else the (plain) hotkey file.
pub fn hotkey_public(root: &Path, wallet: &str, hotkey: &str) -> Result<AccountId> {
    let pub_path = subnet_keys::hotkey_path(root, wallet, &format!("{hotkey}pub.txt"))?;
    let path = if pub_path.is_file() { pub_path } else { subnet_keys::hotkey_path(root, wallet, hotkey)? };
    let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(subnet_keys::public_from_keyfile_data(&data, &path)?.0)
}

/// Runs `subnetd wallet`.
pub async fn run(args: WalletArgs) -> Result<()> {
    match args.command {
        WalletCommand::New { wallet, hotkey, crypto, encrypt_coldkey, overwrite, words, dir, json } => {
            let options = NewOptions { crypto, encrypt: encrypt_coldkey, overwrite, words, json };
            new(&dir.root()?, &wallet, &hotkey, &options)
        }
        WalletCommand::Regen { wallet, hotkey, crypto, encrypt_coldkey, overwrite, dir } => {
            regen(&dir.root()?, &wallet, hotkey.as_deref(), crypto, encrypt_coldkey, overwrite)
        }
        WalletCommand::Show { wallet, dir, json } => {
            let info = describe(&dir.root()?, &wallet)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&info)?);
            } else {
                print_wallet(&info);
            }
            Ok(())
        }
        WalletCommand::List { dir, json } => {
            let root = dir.root()?;
            let mut wallets = Vec::new();
            if root.is_dir() {
                let mut names: Vec<String> = std::fs::read_dir(&root)
                    .with_context(|| format!("reading {}", root.display()))?
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect();
                names.sort();
                for name in names {
                    wallets.push(describe(&root, &name)?);
                }
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&wallets)?);
            } else if wallets.is_empty() {
                println!("no wallets in {}", root.display());
            } else {
                for w in &wallets {
                    print_wallet(w);
                }
            }
            Ok(())
        }
    }
}

/// How `wallet new` makes keys.
struct NewOptions {
    crypto: CryptoType,
    encrypt: bool,
    overwrite: bool,
    words: usize,
    json: bool,
}

/// Writes a coldkey (and its `coldkeypub.txt`), encrypted when asked.
fn write_coldkey(root: &Path, wallet: &str, coldkey: &Keypair, encrypt: bool, overwrite: bool) -> Result<PathBuf> {
    let coldkey_path = subnet_keys::coldkey_path(root, wallet)?;
    if encrypt {
        let pw = password().ok_or_else(|| anyhow!("--encrypt-coldkey needs the password in {PASSWORD_ENV}"))?;
        coldkey.save_to_file_encrypted(&coldkey_path, &pw, overwrite).map_err(with_hint)?;
    } else {
        coldkey.save_to_file(&coldkey_path, overwrite).map_err(with_hint)?;
    }
    let pub_path = coldkey_path.with_file_name("coldkeypub.txt");
    std::fs::write(&pub_path, coldkey.to_public_keyfile_json())
        .with_context(|| format!("writing {}", pub_path.display()))?;
    Ok(coldkey_path)
}

fn new(root: &Path, wallet: &str, hotkey: &str, o: &NewOptions) -> Result<()> {
    let coldkey_path = subnet_keys::coldkey_path(root, wallet)?;
    let created_coldkey = if coldkey_path.exists() {
        None
    } else {
        let phrase = subnet_keys::generate_mnemonic(o.words)?;
        let coldkey = Keypair::from_mnemonic(CryptoType::Sr25519, &phrase, "")?;
        write_coldkey(root, wallet, &coldkey, o.encrypt, false)?;
        Some((coldkey.account_id(), phrase))
    };
    let hotkey_phrase = subnet_keys::generate_mnemonic(o.words)?;
    let key = Keypair::from_mnemonic(o.crypto, &hotkey_phrase, "")?;
    let path = key.save_to_wallet(root, wallet, hotkey, o.overwrite)?;
    let coldkey = coldkey_public(root, wallet).ok();
    if o.json {
        println!(
            "{}",
            serde_json::json!({
                "wallet": wallet,
                "coldkey": coldkey,
                "coldkey_created": created_coldkey.is_some(),
                "coldkey_mnemonic": created_coldkey.as_ref().map(|(_, p)| p.as_str()),
                "hotkey": hotkey,
                "hotkey_ss58": key.account_id(),
                "hotkey_mnemonic": hotkey_phrase.as_str(),
                "crypto": o.crypto.name(),
                "path": path,
            })
        );
        return Ok(());
    }
    if let Some((c, phrase)) = &created_coldkey {
        println!("coldkey  {c}  (new; {})", coldkey_path.display());
        println!("         mnemonic: {}", phrase.as_str());
    }
    println!("hotkey   {}  {} ({})", key.ss58_address(), hotkey, o.crypto.name());
    println!("         mnemonic: {}", hotkey_phrase.as_str());
    println!("written  {}", path.display());
    println!();
    println!("The mnemonics are shown this once and stored nowhere: write them down. Each rebuilds its");
    println!("key with `subnetd wallet regen` or btcli's `regen_coldkey` / `regen_hotkey`.");
    Ok(())
}

/// The mnemonic for `wallet regen`: `$SUBNETD_MNEMONIC`, else one line of standard input.
fn read_mnemonic() -> Result<zeroize::Zeroizing<String>> {
    if let Ok(phrase) = std::env::var(MNEMONIC_ENV)
        && !phrase.trim().is_empty()
    {
        return Ok(zeroize::Zeroizing::new(phrase));
    }
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        eprint!("mnemonic: ");
    }
    let mut line = zeroize::Zeroizing::new(String::new());
    std::io::stdin().read_line(&mut line).context("reading the mnemonic from standard input")?;
    if line.trim().is_empty() {
        bail!("no mnemonic: set {MNEMONIC_ENV} or type it on standard input");
    }
    Ok(line)
}

/// Environment variable `wallet regen` reads the mnemonic from.
pub const MNEMONIC_ENV: &str = "SUBNETD_MNEMONIC";

fn regen(
    root: &Path,
    wallet: &str,
    hotkey: Option<&str>,
    crypto: CryptoType,
    encrypt: bool,
    overwrite: bool,
) -> Result<()> {
    let phrase = read_mnemonic()?;
    match hotkey {
        None => {
            let coldkey = Keypair::from_mnemonic(CryptoType::Sr25519, &phrase, "")?;
            let path = write_coldkey(root, wallet, &coldkey, encrypt, overwrite)?;
            println!("coldkey  {}  (rebuilt; {})", coldkey.ss58_address(), path.display());
        }
        Some(name) => {
            let key = Keypair::from_mnemonic(crypto, &phrase, "")?;
            let path = key.save_to_wallet(root, wallet, name, overwrite).map_err(with_hint)?;
            println!("hotkey   {}  {} ({}; rebuilt; {})", key.ss58_address(), name, crypto.name(), path.display());
        }
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct WalletInfo {
    wallet: String,
    coldkey: Option<String>,
    hotkeys: Vec<HotkeyInfo>,
}

#[derive(serde::Serialize)]
struct HotkeyInfo {
    name: String,
    ss58: Option<String>,
    error: Option<String>,
}

fn describe(root: &Path, wallet: &str) -> Result<WalletInfo> {
    let dir = root.join(wallet);
    if !dir.is_dir() {
        bail!("no wallet `{wallet}` in {}", root.display());
    }
    let coldkey = coldkey_public(root, wallet).ok().map(|a| a.to_ss58());
    let mut hotkeys = Vec::new();
    let hk_dir = dir.join("hotkeys");
    if hk_dir.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&hk_dir)
            .with_context(|| format!("reading {}", hk_dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.ends_with("pub.txt") && !n.ends_with(".tmp"))
            .collect();
        names.sort();
        for name in names {
            let (ss58, error) = match hotkey_public(root, wallet, &name) {
                Ok(a) => (Some(a.to_ss58()), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            };
            hotkeys.push(HotkeyInfo { name, ss58, error });
        }
    }
    Ok(WalletInfo { wallet: wallet.to_owned(), coldkey, hotkeys })
}

fn print_wallet(w: &WalletInfo) {
    println!("{}  coldkey {}", w.wallet, w.coldkey.as_deref().unwrap_or("(no coldkeypub.txt)"));
    for h in &w.hotkeys {
        match (&h.ss58, &h.error) {
            (Some(a), _) => println!("  {}  {a}", h.name),
            (None, Some(e)) => println!("  {}  ({e})", h.name),
            (None, None) => println!("  {}", h.name),
        }
    }
}
