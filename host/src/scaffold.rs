//! `subnetd new`: a working subnet project (validator and miner) in any guest language.
//!
//! The templates are the hello-subnet examples of each language, compiled into subnetd, so a
//! scaffold builds, passes `subnetd check` and runs in the sandbox unchanged, and every change
//! to an example is a change to its template. A Rust scaffold is its own cargo workspace (so it
//! may live anywhere, inside another workspace too) that depends on the Rust SDK of the
//! subnetd source tree ([`Toolchain::sdk_dir`]) and starts from subnetd's own `Cargo.lock`.
//!
//! Failure modes: an invalid name or an existing, non-empty target directory is refused before
//! anything is written; a write failure is reported with the path.

use std::path::{Path, PathBuf};

use crate::guest_build::{Language, Toolchain};

/// Why a scaffold could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a crate or directory name.
    #[error("`{0}` is not a usable subnet name: use lowercase letters, digits and `-`, starting with a letter")]
    BadName(String),
    /// The directory exists and holds files.
    #[error("{0} already exists and is not empty")]
    Exists(PathBuf),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

macro_rules! example {
    ($path:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/", $path))
    };
}

/// `(relative path, contents)` of a language's template, with `hello-subnet` still in it.
fn template(language: Language) -> Vec<(&'static str, &'static str)> {
    match language {
        Language::Rust => vec![
            ("validator/src/lib.rs", example!("hello-subnet/validator/src/lib.rs")),
            ("miner/src/lib.rs", example!("hello-subnet/miner/src/lib.rs")),
        ],
        Language::Python => vec![
            ("validator/app.py", example!("hello-subnet-py/validator/app.py")),
            ("miner/app.py", example!("hello-subnet-py/miner/app.py")),
        ],
        Language::JavaScript => vec![
            ("validator/app.js", example!("hello-subnet-js/validator/app.js")),
            ("miner/app.js", example!("hello-subnet-js/miner/app.js")),
        ],
        Language::C => vec![
            ("validator/validator.c", example!("hello-subnet-c/validator/validator.c")),
            ("miner/miner.c", example!("hello-subnet-c/miner/miner.c")),
        ],
    }
}

fn rust_manifest(name: &str, module: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}-{module}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
subnet-sdk = {{ path = "{sdk}" }}

# A project of its own, wherever it lives.
[workspace]

[profile.release]
debug = "line-tables-only"
"#,
        sdk = sdk.join("rust").display()
    )
}

fn manifest(name: &str, language: Language) -> String {
    format!(
        r#"# The {name} subnet ({language}): a validator and the reference miner.
# `subnetd build .` builds both into build/; `subnetd sandbox .` runs them locally.
name = "{name}"

[validator]
path = "validator"

[[miner]]
name = "honest"
path = "miner"

# Adversarial miners the sandbox should show earning little go here too, with `honest = false`.
# Models the modules call through the compute capability:
# [compute]
# models = ["all-minilm-l6-v2"]
"#
    )
}

/// Whether `name` can name a subnet (and its crates).
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.len() <= 64
}

/// Writes a new subnet project named `name` in `language` into `dir`; returns the files written.
pub fn create(
    toolchain: &Toolchain,
    dir: &Path,
    name: &str,
    language: Language,
) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    if dir.exists() && std::fs::read_dir(dir).map(|mut d| d.next().is_some()).unwrap_or(true) {
        return Err(ScaffoldError::Exists(dir.to_path_buf()));
    }
    let mut files: Vec<(String, String)> = template(language)
        .into_iter()
        .map(|(path, text)| (path.to_owned(), text.replace("hello-subnet", name)))
        .collect();
    files.push(("subnet.toml".into(), manifest(name, language)));
    files.push((".gitignore".into(), "build/\n".into()));
    if language == Language::Rust {
        let sdk = toolchain.sdk_dir();
        files.push(("validator/Cargo.toml".into(), rust_manifest(name, "validator", &sdk)));
        files.push(("miner/Cargo.toml".into(), rust_manifest(name, "miner", &sdk)));
        // The versions subnetd itself is built and tested with: the first build resolves
        // nothing anew, so it needs no registry access when cargo's cache is warm.
        let lock = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"));
        files.push(("validator/Cargo.lock".into(), lock.to_owned()));
        files.push(("miner/Cargo.lock".into(), lock.to_owned()));
    }
    let mut written = Vec::new();
    for (relative, text) in files {
        let path = dir.join(&relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| ScaffoldError::Io { path: parent.to_path_buf(), source })?;
        }
        std::fs::write(&path, text).map_err(|source| ScaffoldError::Io { path: path.clone(), source })?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_names_and_occupied_directories() {
        let toolchain = Toolchain::locate();
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "Demo", "9lives", "a b", "../x", "a_b"] {
            assert!(
                matches!(
                    create(&toolchain, &dir.path().join("x"), bad, Language::Rust),
                    Err(ScaffoldError::BadName(_))
                ),
                "{bad}"
            );
        }
        std::fs::write(dir.path().join("taken"), "x").unwrap();
        assert!(matches!(create(&toolchain, dir.path(), "demo", Language::C), Err(ScaffoldError::Exists(_))));
        let files = create(&toolchain, &dir.path().join("demo"), "demo", Language::Python).unwrap();
        assert!(files.iter().any(|f| f.ends_with("validator/app.py")));
        let manifest = std::fs::read_to_string(dir.path().join("demo/subnet.toml")).unwrap();
        assert!(manifest.contains("name = \"demo\""));
    }
}
