//! Python guests: `componentize-py` turns the directory's `app.py` plus the Python SDK
//! (`sdk/python`, package `subnet_sdk`) into a component that embeds CPython.
//!
//! The command is `componentize-py -d <wit> -w <world> componentize app -p <guest> -p
//! <sdk/python> -o <out>`. componentize-py imports `app` at build time (pre-initialisation), so
//! an import error or a syntax error in the guest fails the build with the Python traceback,
//! not the first call. Only modules the app imports are bundled (about 19 MB with CPython's
//! standard library); packages from the active virtual environment are found through
//! `VIRTUAL_ENV`, as componentize-py does.
//!
//! The tool is looked up as `$SUBNETD_COMPONENTIZE_PY`, then `componentize-py` on `PATH`, then
//! the repository's `.venv/bin/componentize-py`; when none exists the error names the pip
//! command that installs the pinned version.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{BuildError, Language, Toolchain, run_tool};
use crate::runtime::World;

/// The componentize-py release the SDK is tested with.
pub const COMPONENTIZE_PY_VERSION: &str = "0.25.1";

/// The module name every Python guest's entry point has (`app.py`).
pub const APP_MODULE: &str = "app";

/// The install command shown when componentize-py is missing.
pub fn install_hint() -> String {
    format!("pip install componentize-py=={COMPONENTIZE_PY_VERSION}")
}

/// The componentize-py executable to run.
pub fn tool_path(toolchain: &Toolchain) -> PathBuf {
    if let Some(explicit) = std::env::var_os("SUBNETD_COMPONENTIZE_PY") {
        return PathBuf::from(explicit);
    }
    if super::c::find_on_path("componentize-py").is_some() {
        return PathBuf::from("componentize-py");
    }
    let venv = toolchain.root.join(".venv/bin/componentize-py");
    if venv.is_file() {
        return venv;
    }
    PathBuf::from("componentize-py")
}

/// Whether `app.py` binds `DeferredScorer` at top level (`DeferredScorer = ...`).
fn defines_deferred_scorer(app: &Path) -> bool {
    std::fs::read_to_string(app).is_ok_and(|text| {
        text.lines().any(|l| l.strip_prefix("DeferredScorer").is_some_and(|rest| rest.trim_start().starts_with('=')))
    })
}

/// Builds the Python guest in `dir` (which holds `app.py`) into a component at `out`.
pub fn build(toolchain: &Toolchain, dir: &Path, world: World, out: &Path) -> Result<(), BuildError> {
    if !dir.join("app.py").is_file() {
        return Err(BuildError::BadOutput { dir: dir.to_path_buf(), reason: "a Python guest needs an app.py".into() });
    }
    let sdk = toolchain.sdk_dir().join("python");
    if !sdk.join("subnet_sdk").is_dir() {
        return Err(BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: format!("the Python SDK is not at {}", sdk.display()),
        });
    }
    // A validator that binds `DeferredScorer` (the SDK's `export_deferred_scorer`) exports the
    // optional `deferred-scorer` too: the `validator-deferred` world (contract 0.1.2).
    let world_name = match world {
        World::Validator if defines_deferred_scorer(&dir.join("app.py")) => "validator-deferred".to_owned(),
        other => other.to_string(),
    };
    let wit = super::guest_world_dir(toolchain, out)?;
    let mut command = Command::new(tool_path(toolchain));
    command
        .current_dir(dir)
        .arg("--quiet")
        .arg("-d")
        .arg(&wit)
        .args(["-w", &world_name, "componentize", APP_MODULE])
        .arg("-p")
        .arg(dir)
        .arg("-p")
        .arg(&sdk)
        .arg("-o")
        .arg(out)
        // Bytecode caches in the author's tree are noise; the component embeds its own.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // componentize-py is Rust: with backtraces on, its Rust stack buries the Python
        // traceback that says what is wrong in the author's code.
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0");
    run_tool(command, Language::Python, "componentize-py", &install_hint(), dir)?;
    let _ = std::fs::remove_dir_all(&wit);
    Ok(())
}
