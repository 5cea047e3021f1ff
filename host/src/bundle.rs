//! Subnet bundles: a validator module and the miner modules that go with it.
//!
//! A bundle is a directory with a `subnet.toml`:
//!
//! ```toml
//! name = "hello-subnet"
//! [validator]
//! path = "validator"            # a guest directory (any language) or a prebuilt .wasm
//! [[miner]]
//! name = "honest"
//! path = "miner"
//! [[miner]]
//! name = "copycat"              # an adversary the sandbox should show earning little
//! path = "miners/copycat"
//! honest = false
//! [compute]
//! models = ["all-minilm-l6-v2"] # models (by registry name, see crate::models) the modules call
//! ```
//!
//! [`Bundle::resolve`] accepts a bundle directory, a single guest directory, or a `.wasm`
//! file, and [`Bundle::build`] turns every source into a component under `<bundle>/build/`.
//!
//! Failure modes: a manifest that does not parse, names no validator, or points at paths that
//! do not exist is a [`BundleError`] naming the file and the field; build failures are the
//! guest builder's errors, naming the tool.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::guest_build::{self, BuildError, GuestSource, Language, Toolchain};
use crate::runtime::World;

/// The manifest file name.
pub const MANIFEST: &str = "subnet.toml";

/// Why a bundle could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The path does not exist.
    #[error("{0}: no such file or directory")]
    NotFound(PathBuf),
    /// The manifest does not parse or a field is wrong.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A module failed to build.
    #[error(transparent)]
    Build(#[from] BuildError),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestFile {
    name: Option<String>,
    validator: ModuleEntry,
    #[serde(default)]
    miner: Vec<MinerEntry>,
    #[serde(default)]
    compute: ComputeEntry,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComputeEntry {
    /// Models (by registry name) the subnet's modules call.
    #[serde(default)]
    models: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModuleEntry {
    path: PathBuf,
    language: Option<Language>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MinerEntry {
    name: String,
    path: PathBuf,
    language: Option<Language>,
    #[serde(default = "yes")]
    honest: bool,
}

fn yes() -> bool {
    true
}

/// Where a module comes from.
#[derive(Debug, Clone)]
pub enum ModuleSource {
    /// A prebuilt component.
    Wasm(PathBuf),
    /// A guest directory to build.
    Guest {
        /// The directory.
        dir: PathBuf,
        /// Its language, when the manifest says.
        language: Option<Language>,
    },
}

impl ModuleSource {
    fn from_path(path: PathBuf, language: Option<Language>) -> Result<Self, BundleError> {
        if !path.exists() {
            return Err(BundleError::NotFound(path));
        }
        Ok(if path.is_dir() { ModuleSource::Guest { dir: path, language } } else { ModuleSource::Wasm(path) })
    }
}

/// One miner module of a bundle.
#[derive(Debug, Clone)]
pub struct MinerSource {
    /// Its name in reports.
    pub name: String,
    /// Whether it is a reference (honest) miner; adversaries are `false`.
    pub honest: bool,
    /// The module.
    pub source: ModuleSource,
}

/// A resolved bundle: sources, not yet built.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The subnet's name.
    pub name: String,
    /// Where build outputs go.
    pub build_dir: PathBuf,
    /// The validator module.
    pub validator: ModuleSource,
    /// The miner modules.
    pub miners: Vec<MinerSource>,
    /// Models the subnet's modules call through the compute capability.
    pub compute_models: Vec<String>,
}

/// A bundle whose modules are all components on disk.
#[derive(Debug, Clone)]
pub struct BuiltBundle {
    /// The subnet's name.
    pub name: String,
    /// The validator component.
    pub validator: PathBuf,
    /// The miner components: `(name, honest, path)`.
    pub miners: Vec<(String, bool, PathBuf)>,
    /// Models the subnet's modules call through the compute capability.
    pub compute_models: Vec<String>,
}

impl Bundle {
    /// Resolves `path`: a bundle directory (with `subnet.toml`), a guest directory (its
    /// validator; no miners), or a validator `.wasm` file.
    pub fn resolve(path: &Path) -> Result<Self, BundleError> {
        if !path.exists() {
            return Err(BundleError::NotFound(path.to_path_buf()));
        }
        let manifest = path.join(MANIFEST);
        if manifest.is_file() {
            return Self::from_manifest(&manifest);
        }
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("subnet").to_owned();
        let build_dir =
            if path.is_dir() { path.join("build") } else { path.parent().unwrap_or(Path::new(".")).to_path_buf() };
        Ok(Self {
            name,
            build_dir,
            validator: ModuleSource::from_path(path.to_path_buf(), None)?,
            miners: Vec::new(),
            compute_models: Vec::new(),
        })
    }

    fn from_manifest(manifest: &Path) -> Result<Self, BundleError> {
        let err = |message: String| BundleError::Manifest { path: manifest.to_path_buf(), message };
        let text = std::fs::read_to_string(manifest).map_err(|e| err(e.to_string()))?;
        let file: ManifestFile = serde_path_to_error::deserialize(toml::Deserializer::new(&text)).map_err(|e| {
            let (key, message) = crate::util::toml_error(&text, e);
            err(if key.is_empty() { message } else { format!("{key}: {message}") })
        })?;
        let dir = manifest.parent().unwrap_or(Path::new("."));
        let validator = ModuleSource::from_path(dir.join(&file.validator.path), file.validator.language)
            .map_err(|e| err(format!("[validator] path: {e}")))?;
        let mut miners = Vec::new();
        for (i, m) in file.miner.into_iter().enumerate() {
            if m.name.is_empty() || !m.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(err(format!("[[miner]] #{} name `{}`: use letters, digits, - and _", i + 1, m.name)));
            }
            if miners.iter().any(|known: &MinerSource| known.name == m.name) {
                return Err(err(format!(
                    "miner[{i}].name: `{}` names two miners (names pick miners in --mix)",
                    m.name
                )));
            }
            let source = ModuleSource::from_path(dir.join(&m.path), m.language)
                .map_err(|e| err(format!("[[miner]] `{}` path: {e}", m.name)))?;
            miners.push(MinerSource { name: m.name, honest: m.honest, source });
        }
        let name = file.name.unwrap_or_else(|| dir.file_name().and_then(|s| s.to_str()).unwrap_or("subnet").to_owned());
        Ok(Self { name, build_dir: dir.join("build"), validator, miners, compute_models: file.compute.models })
    }

    /// Builds every guest source (prebuilt components are used as they are).
    pub fn build(&self, toolchain: &Toolchain) -> Result<BuiltBundle, BundleError> {
        let build_one = |source: &ModuleSource, world: World, stem: &str| -> Result<PathBuf, BundleError> {
            match source {
                ModuleSource::Wasm(path) => Ok(path.clone()),
                ModuleSource::Guest { dir, language } => {
                    let out = self.build_dir.join(format!("{stem}.wasm"));
                    guest_build::build(toolchain, &GuestSource { dir: dir.clone(), world, language: *language }, &out)?;
                    Ok(out)
                }
            }
        };
        let validator = build_one(&self.validator, World::Validator, "validator")?;
        let miners = self
            .miners
            .iter()
            .map(|m| Ok((m.name.clone(), m.honest, build_one(&m.source, World::Miner, &format!("miner-{}", m.name))?)))
            .collect::<Result<Vec<_>, BundleError>>()?;
        Ok(BuiltBundle { name: self.name.clone(), validator, miners, compute_models: self.compute_models.clone() })
    }
}
