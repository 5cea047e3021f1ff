//! Rust guests: `cargo build --target wasm32-wasip2`, whose output is already a component.
//!
//! The `wasm32-wasip2` target is installed with rustup on first use, so a fresh machine needs
//! nothing but rustup. Guests share one cargo target directory ([`Toolchain::cargo_target_dir`])
//! so the SDK and its dependencies compile once for all of them.
//!
//! Invariant: the component copied out is the one built from *this* directory. Cargo names a
//! path crate's cdylib by its library name only (`hello_subnet_validator.wasm`, no hash), so two
//! copies of one crate in different directories (`hello-v3/`, `hello-broken/`) overwrite each
//! other's file in the shared target directory, and the one cargo deems fresh afterwards would
//! hand out the other's bytes. So builds of one library name take a lock in the target
//! directory, a stamp records which directory its file was last built from, and a build from
//! another directory first cleans that package (`cargo clean -p`, which keeps the dependencies).
//!
//! A guest copied out of subnetd's workspace that still inherits from it builds through a
//! generated standalone manifest ([`super::standalone`]).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{BuildError, Language, Toolchain, run_tool};
use crate::runtime::World;

/// The target every Rust guest is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The crate name and library file stem of the guest in `dir`.
fn crate_names(dir: &Path) -> Result<(String, String), BuildError> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| BuildError::io(&manifest, e))?;
    let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| BuildError::BadOutput {
        dir: dir.to_path_buf(),
        reason: format!("Cargo.toml does not parse: {}", e.message()),
    })?;
    let package = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or_else(|| BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: "Cargo.toml has no [package] name".into(),
        })?
        .to_owned();
    let lib = doc
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| package.replace('-', "_"));
    Ok((package, lib))
}

/// Installs the wasm target with rustup when it is missing.
pub fn ensure_target() -> Result<(), BuildError> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == TARGET))
        // Without rustup, let cargo say whether the target works.
        .unwrap_or(true);
    if installed {
        return Ok(());
    }
    tracing::info!("installing the {TARGET} target with rustup");
    let mut command = Command::new("rustup");
    command.args(["target", "add", TARGET]);
    run_tool(command, Language::Rust, "rustup", "https://rustup.rs", Path::new("."))?;
    Ok(())
}

fn cargo(toolchain: &Toolchain, dir: &Path, manifest: &Path, subcommand: &str, package: &str) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(dir)
        .args([subcommand, "--quiet", "--target", TARGET, "--package", package])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(&toolchain.cargo_target_dir);
    if toolchain.release {
        command.arg("--release");
    }
    command
}

/// Builds the crate in `dir` and copies its component to `out`.
pub fn build(toolchain: &Toolchain, dir: &Path, _world: World, out: &Path) -> Result<(), BuildError> {
    ensure_target()?;
    let (package, lib) = crate_names(dir)?;
    let manifest = super::standalone::manifest_for(toolchain, dir)?;
    let profile = if toolchain.release { "release" } else { "debug" };
    let artifacts = toolchain.cargo_target_dir.join(TARGET).join(profile);
    std::fs::create_dir_all(&artifacts).map_err(|e| BuildError::io(&artifacts, e))?;
    // Held until the component is copied out: no other build of this library name in between.
    let lock_path = artifacts.join(format!(".subnetd-{lib}.lock"));
    let lock = std::fs::File::create(&lock_path).map_err(|e| BuildError::io(&lock_path, e))?;
    lock.lock().map_err(|e| BuildError::io(&lock_path, e))?;
    let stamp = artifacts.join(format!(".subnetd-{lib}.source"));
    let artifact: PathBuf = artifacts.join(format!("{lib}.wasm"));
    let source = dir.to_string_lossy();
    let built_from = std::fs::read_to_string(&stamp).ok();
    if artifact.exists() && built_from.as_deref() != Some(&*source) {
        tracing::info!(dir = %dir.display(), previous = built_from.as_deref().unwrap_or("unknown"),
            "`{lib}.wasm` was last built from another directory: cleaning it first");
        run_tool(
            cargo(toolchain, dir, &manifest, "clean", &package),
            Language::Rust,
            "cargo",
            "https://rustup.rs",
            dir,
        )?;
    }
    run_tool(cargo(toolchain, dir, &manifest, "build", &package), Language::Rust, "cargo", "https://rustup.rs", dir)?;
    std::fs::write(&stamp, source.as_bytes()).map_err(|e| BuildError::io(&stamp, e))?;
    std::fs::copy(&artifact, out).map_err(|e| BuildError::BadOutput {
        dir: dir.to_path_buf(),
        reason: format!("expected {} after cargo build ({e}); is the crate a `cdylib`?", artifact.display()),
    })?;
    drop(lock);
    Ok(())
}
