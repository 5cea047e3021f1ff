//! Building guest sources into components: one entry point, [`build`], for every language.
//!
//! A guest is a directory that holds one module (a validator or a miner). Its language is
//! detected from what the directory holds ([`Language::detect`]): `Cargo.toml` is Rust,
//! `app.py` is Python, `app.js` or `package.json` is JavaScript, `*.c` is C. Each language has
//! its own module here that runs that language's toolchain and writes the component to the
//! requested output path.
//!
//! Invariants and failure modes:
//! - A missing tool is [`BuildError::MissingTool`], naming the tool and how to install it; a
//!   tool that fails is [`BuildError::ToolFailed`] with the tail of what it printed. Nothing
//!   here panics on a user's directory.
//! - Output is written to a temporary name and renamed, so a failed build never leaves a
//!   half-written component where a previous good one was.
//! - The contract comes from [`Toolchain::wit_dir`]; guests never carry their own copy.
//! - A build is skipped only when nothing it read changed: the guest's directory, the contract,
//!   the language's SDK, the running subnetd, and every file the bundler or compiler reported
//!   reading ([`inputs_path`]: rolldown's module ids for JavaScript, `clang -MM` for C), so a
//!   guest that imports `../shared/util.js` or includes `../common.h` rebuilds when that file
//!   changes. Cargo decides for Rust guests itself (it tracks path dependencies).

pub mod c;
pub mod js;
pub mod python;
pub mod rust;
mod standalone;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::runtime::World;

/// A guest language subnetd can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// Rust, built with cargo for `wasm32-wasip2`.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with componentize-js.
    #[serde(rename = "js", alias = "javascript")]
    JavaScript,
    /// C, built with clang for wasm32-wasi and wrapped as a component.
    C,
}

impl Language {
    /// Every language, in the order the docs list them.
    pub const ALL: [Language; 4] = [Language::Rust, Language::Python, Language::JavaScript, Language::C];

    /// The language of the guest in `dir`, from the files it holds.
    pub fn detect(dir: &Path) -> Option<Language> {
        let has = |name: &str| dir.join(name).is_file();
        if has("Cargo.toml") {
            return Some(Language::Rust);
        }
        if has("app.py") {
            return Some(Language::Python);
        }
        if has("app.js") || has("package.json") {
            return Some(Language::JavaScript);
        }
        let has_c =
            std::fs::read_dir(dir).ok()?.flatten().any(|entry| entry.path().extension().is_some_and(|ext| ext == "c"));
        has_c.then_some(Language::C)
    }

    /// The name used on the command line (`rust`, `python`, `js`, `c`).
    pub fn name(self) -> &'static str {
        match self {
            Language::Rust => "rust",
            Language::Python => "python",
            Language::JavaScript => "js",
            Language::C => "c",
        }
    }

    /// Parses a command-line name.
    pub fn parse(text: &str) -> Option<Language> {
        match text.to_ascii_lowercase().as_str() {
            "rust" | "rs" => Some(Language::Rust),
            "python" | "py" => Some(Language::Python),
            "js" | "javascript" => Some(Language::JavaScript),
            "c" => Some(Language::C),
            _ => None,
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a guest could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The directory holds no guest subnetd recognises.
    #[error(
        "cannot tell the language of {dir}: expected Cargo.toml (Rust), app.py (Python), \
         app.js or package.json (JavaScript), or *.c files (C)"
    )]
    UnknownLanguage {
        /// The directory.
        dir: PathBuf,
    },
    /// A tool the build needs is not installed.
    #[error("`{tool}` is needed to build {language} guests but was not found; install it with: {install}")]
    MissingTool {
        /// The language being built.
        language: Language,
        /// The missing tool.
        tool: String,
        /// The command that installs it.
        install: String,
    },
    /// A tool ran and failed.
    #[error("`{tool}` failed ({status}) building {dir}:\n{output}")]
    ToolFailed {
        /// The tool.
        tool: String,
        /// The directory being built.
        dir: PathBuf,
        /// Its exit status.
        status: String,
        /// The tail of what it printed.
        output: String,
    },
    /// The build ran but its product is not where it should be, or is not a component.
    #[error("building {dir} produced no usable component: {reason}")]
    BadOutput {
        /// The directory being built.
        dir: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl BuildError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BuildError::Io { path: path.into(), source }
    }
}

/// Where the contract and the SDKs live, for toolchains that need them at build time.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// The repository (or installation) root holding `wit/` and `sdk/`.
    pub root: PathBuf,
    /// Cargo's target directory for Rust guests (shared, so dependencies build once).
    pub cargo_target_dir: PathBuf,
    /// Build Rust guests with optimisations (the default; debug guests are large and slow).
    pub release: bool,
}

impl Toolchain {
    /// The toolchain rooted at `$SUBNETD_ROOT`, else the source tree subnetd was built from.
    pub fn locate() -> Self {
        let root = std::env::var_os("SUBNETD_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".."));
        let root = root.canonicalize().unwrap_or(root);
        let cargo_target_dir =
            std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"));
        Self { root, cargo_target_dir, release: true }
    }

    /// The `wit/` directory: the contract every guest is built against.
    pub fn wit_dir(&self) -> PathBuf {
        self.root.join("wit")
    }

    /// The `sdk/` directory.
    pub fn sdk_dir(&self) -> PathBuf {
        self.root.join("sdk")
    }

    /// `sdk/wit/`: the worlds Python and C guests build in (the contract's plus WASI HTTP's
    /// `outgoing-handler`) and the WASI packages they name.
    pub fn guest_wit_dir(&self) -> PathBuf {
        self.sdk_dir().join("wit")
    }
}

/// Assembles, beside `out`, the WIT directory Python and C guests build against: the guest
/// worlds of [`Toolchain::guest_wit_dir`], its WASI packages, and the current contract as
/// `deps/subnet-plugin`. Made afresh at every build, so it always matches the checkout; the
/// caller removes it after a build that succeeded.
pub(crate) fn guest_world_dir(toolchain: &Toolchain, out: &Path) -> Result<PathBuf, BuildError> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("guest");
    let wit = parent.join(format!(".{stem}.wit"));
    let source = toolchain.guest_wit_dir();
    let fail = |e: std::io::Error, what: &Path| BuildError::BadOutput {
        dir: source.clone(),
        reason: format!("assembling the guest WIT world in {}: {}: {e}", wit.display(), what.display()),
    };
    if wit.exists() {
        std::fs::remove_dir_all(&wit).map_err(|e| fail(e, &wit))?;
    }
    copy_dir(&source, &wit).map_err(|e| fail(e, &source))?;
    // The guest worlds include the contract's worlds by version: follow the contract in
    // `wit/`, so a checkout whose contract moved on (or a test's copy) builds against it.
    let contract_wit = toolchain.wit_dir().join("subnet-plugin.wit");
    let contract_text = std::fs::read_to_string(&contract_wit).map_err(|e| fail(e, &contract_wit))?;
    if let Some(version) = contract_version(&contract_text) {
        let world = wit.join("world.wit");
        let text = std::fs::read_to_string(&world).map_err(|e| fail(e, &world))?;
        std::fs::write(&world, retarget_contract(&text, version)).map_err(|e| fail(e, &world))?;
    }
    let contract = wit.join("deps").join("subnet-plugin");
    std::fs::create_dir_all(&contract).map_err(|e| fail(e, &contract))?;
    for entry in std::fs::read_dir(toolchain.wit_dir()).map_err(|e| fail(e, &toolchain.wit_dir()))? {
        let path = entry.map_err(|e| fail(e, &toolchain.wit_dir()))?.path();
        // The current contract only: the frozen versions beside it are other packages' copies.
        if path.is_file() && path.extension().is_some_and(|x| x == "wit") {
            let to = contract.join(path.file_name().unwrap_or_default());
            std::fs::copy(&path, &to).map_err(|e| fail(e, &path))?;
        }
    }
    Ok(wit)
}

/// The version in a contract file's `package subnet:plugin@VERSION;`.
fn contract_version(contract: &str) -> Option<&str> {
    contract.lines().find_map(|l| l.trim().strip_prefix("package subnet:plugin@")?.strip_suffix(';'))
}

/// `text` with every `subnet:plugin/<item>@<version>` naming `version` instead.
fn retarget_contract(text: &str, version: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("subnet:plugin/") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let end = from.find(|c: char| c == ';' || c.is_whitespace()).unwrap_or(from.len());
        let (reference, after) = from.split_at(end);
        match reference.split_once('@') {
            Some((item, _)) => {
                out.push_str(item);
                out.push('@');
                out.push_str(version);
            }
            None => out.push_str(reference),
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// One module to build.
#[derive(Debug, Clone)]
pub struct GuestSource {
    /// The guest's directory.
    pub dir: PathBuf,
    /// The world it implements.
    pub world: World,
    /// Its language; `None` detects it.
    pub language: Option<Language>,
}

/// Builds the guest in `source.dir` into a component at `out`; returns the language built.
pub fn build(toolchain: &Toolchain, source: &GuestSource, out: &Path) -> Result<Language, BuildError> {
    let language = match source.language {
        Some(l) => l,
        None => Language::detect(&source.dir).ok_or_else(|| BuildError::UnknownLanguage { dir: source.dir.clone() })?,
    };
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|e| BuildError::io(parent, e))?;
    }
    // Toolchains run in other working directories: give them absolute paths.
    let dir = source.dir.canonicalize().map_err(|e| BuildError::io(&source.dir, e))?;
    // Cargo knows when a Rust guest is up to date; the other toolchains rebuild (and produce new
    // bytes, so new compile-cache keys) every time, so skip them when nothing changed.
    if language != Language::Rust
        && is_up_to_date(
            out,
            &[&dir, &toolchain.wit_dir(), &toolchain.guest_wit_dir(), &language_sdk(toolchain, language)],
            language,
        )
    {
        tracing::debug!(dir = %dir.display(), out = %out.display(), "guest up to date");
        return Ok(language);
    }
    let tmp = std::path::absolute(out.with_extension("wasm.partial")).map_err(|e| BuildError::io(out, e))?;
    let started = std::time::Instant::now();
    let inputs = match language {
        Language::Rust => rust::build(toolchain, &dir, source.world, &tmp).map(|()| Vec::new())?,
        Language::Python => python::build(toolchain, &dir, source.world, &tmp).map(|()| Vec::new())?,
        Language::JavaScript => js::build(toolchain, &dir, source.world, &tmp)?,
        Language::C => c::build(toolchain, &dir, source.world, &tmp)?,
    };
    let bytes = std::fs::read(&tmp).map_err(|e| BuildError::io(&tmp, e))?;
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" || bytes[6..8] == [0, 0] {
        let _ = std::fs::remove_file(&tmp);
        return Err(BuildError::BadOutput {
            dir: source.dir.clone(),
            reason: format!("{} is not a WebAssembly component", tmp.display()),
        });
    }
    let listed = inputs_path(out);
    let text: String = inputs.iter().map(|p| format!("{}\n", p.display())).collect();
    std::fs::write(&listed, text).map_err(|e| BuildError::io(&listed, e))?;
    std::fs::rename(&tmp, out).map_err(|e| BuildError::io(out, e))?;
    tracing::info!(dir = %source.dir.display(), %language, world = %source.world,
        out = %out.display(), bytes = bytes.len(), elapsed = ?started.elapsed(), "built guest");
    Ok(language)
}

/// The SDK directory a language's builds read.
fn language_sdk(toolchain: &Toolchain, language: Language) -> PathBuf {
    toolchain.sdk_dir().join(match language {
        Language::Rust => "rust",
        Language::Python => "python",
        Language::JavaScript => "js",
        Language::C => "c",
    })
}

/// Directories that hold build products or caches, never sources.
const NOT_SOURCES: &[&str] = &["build", "target", "node_modules", "__pycache__", ".git"];

/// Newest modification time of the files under `dir` (sources only).
fn newest_source(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                if !NOT_SOURCES.iter().any(|skip| entry.file_name() == *skip) {
                    stack.push(path);
                }
            } else if let Ok(modified) = meta.modified() {
                newest = newest.max(Some(modified));
            }
        }
    }
    newest
}

/// Where the build of the component at `out` lists the files its bundler or compiler read,
/// one absolute path per line: `<out>.inputs` (a builder's `.partial` suffix dropped).
pub fn inputs_path(out: &Path) -> PathBuf {
    let out = if out.extension().is_some_and(|e| e == "partial") { out.with_extension("") } else { out.to_path_buf() };
    let mut name = out.into_os_string();
    name.push(".inputs");
    PathBuf::from(name)
}

/// Whether `out` exists and is newer than every source file under `dirs`, than every file its
/// last build listed as read ([`inputs_path`]; a missing list or a missing file means no), and
/// than the running subnetd itself (a new subnetd may build differently).
fn is_up_to_date(out: &Path, dirs: &[&Path], language: Language) -> bool {
    let Ok(built) = std::fs::metadata(out).and_then(|m| m.modified()) else { return false };
    let builder = std::env::current_exe().and_then(std::fs::metadata).and_then(|m| m.modified()).ok();
    if !dirs.iter().map(|dir| newest_source(dir)).chain([builder]).all(|t| t.is_none_or(|t| t < built)) {
        return false;
    }
    let listed = match std::fs::read_to_string(inputs_path(out)) {
        Ok(text) => text,
        // Python's imports are not reported by componentize-py: its directories are the inputs.
        Err(_) => return language == Language::Python,
    };
    listed
        .lines()
        .filter(|l| !l.is_empty())
        .all(|file| std::fs::metadata(file).and_then(|m| m.modified()).is_ok_and(|modified| modified < built))
}

/// Runs a prepared command, mapping "not found" to [`BuildError::MissingTool`] and a non-zero
/// exit to [`BuildError::ToolFailed`] with the tail of its output.
pub(crate) fn run_tool(
    mut command: Command,
    language: Language,
    tool: &str,
    install: &str,
    dir: &Path,
) -> Result<std::process::Output, BuildError> {
    let output = command.output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            BuildError::MissingTool { language, tool: tool.to_owned(), install: install.to_owned() }
        } else {
            BuildError::io(dir, e)
        }
    })?;
    if !output.status.success() {
        let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
        text.push_str(&String::from_utf8_lossy(&output.stdout));
        return Err(BuildError::ToolFailed {
            tool: tool.to_owned(),
            dir: dir.to_path_buf(),
            status: output.status.to_string(),
            output: tail_lines(&text, 40),
        });
    }
    Ok(output)
}

/// The last `n` lines of `text`.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_worlds_follow_the_contracts_version() {
        assert_eq!(contract_version("// x\npackage subnet:plugin@0.2.0;\n"), Some("0.2.0"));
        let world =
            "world miner {\n  include subnet:plugin/miner@0.1.2;\n  import wasi:http/outgoing-handler@0.2.12;\n}\n";
        assert_eq!(
            retarget_contract(world, "0.1.3"),
            "world miner {\n  include subnet:plugin/miner@0.1.3;\n  import wasi:http/outgoing-handler@0.2.12;\n}\n"
        );
    }
}
