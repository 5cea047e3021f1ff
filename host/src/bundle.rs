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
use sha2::Digest;

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
        self.build_reporting(toolchain, &|_| {}).map(|(built, _)| built)
    }

    /// Builds every guest source, the modules in parallel (each toolchain is mostly one core),
    /// calling `done` as each finishes; returns the bundle and what each module's build gave, in
    /// manifest order (validator first). The first failure, in that order, is the error.
    pub fn build_reporting(
        &self,
        toolchain: &Toolchain,
        done: &(dyn Fn(&ModuleBuild) + Sync),
    ) -> Result<(BuiltBundle, Vec<ModuleBuild>), BundleError> {
        let build_one = |source: &ModuleSource, world: World, role: String, stem: &str| {
            let started = std::time::Instant::now();
            let (path, from, language) = match source {
                ModuleSource::Wasm(path) => (path.clone(), None, None),
                ModuleSource::Guest { dir, language } => {
                    let out = self.build_dir.join(format!("{stem}.wasm"));
                    let source = GuestSource { dir: dir.clone(), world, language: *language };
                    let language = guest_build::build(toolchain, &source, &out)?;
                    (out, Some(dir.clone()), Some(language))
                }
            };
            let built = ModuleBuild::of(role, world, path, from, language, started.elapsed())?;
            done(&built);
            Ok::<_, BundleError>(built)
        };
        let mut jobs: Vec<(&ModuleSource, World, String, String)> =
            vec![(&self.validator, World::Validator, "validator".to_owned(), "validator".to_owned())];
        for m in &self.miners {
            jobs.push((&m.source, World::Miner, format!("miner {}", m.name), format!("miner-{}", m.name)));
        }
        let results: Vec<Result<ModuleBuild, BundleError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = jobs
                .iter()
                .map(|(source, world, role, stem)| scope.spawn(|| build_one(source, *world, role.clone(), stem)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(BundleError::Build(BuildError::BadOutput {
                            dir: self.build_dir.clone(),
                            reason: "a module's build panicked".into(),
                        }))
                    })
                })
                .collect()
        });
        let builds = results.into_iter().collect::<Result<Vec<_>, _>>()?;
        let built = BuiltBundle {
            name: self.name.clone(),
            validator: builds[0].path.clone(),
            miners: self
                .miners
                .iter()
                .zip(&builds[1..])
                .map(|(m, b)| (m.name.clone(), m.honest, b.path.clone()))
                .collect(),
            compute_models: self.compute_models.clone(),
        };
        Ok((built, builds))
    }
}

/// What building one module of a bundle gave.
#[derive(Debug, Clone)]
pub struct ModuleBuild {
    /// `validator` or `miner <name>`.
    pub role: String,
    /// The world it implements.
    pub world: World,
    /// The component.
    pub path: PathBuf,
    /// The guest directory it was built from (`None` for a prebuilt `.wasm`).
    pub source: Option<PathBuf>,
    /// The guest's language (`None` for a prebuilt `.wasm`).
    pub language: Option<Language>,
    /// The component's SHA-256, hex: what `subnetd sign` signs and a daemon reports.
    pub sha256: String,
    /// Its size.
    pub bytes: usize,
    /// How long its build (or up-to-date check) took.
    pub elapsed: std::time::Duration,
}

impl ModuleBuild {
    /// The record of the component at `path`: reads it for its size and SHA-256.
    pub fn of(
        role: String,
        world: World,
        path: PathBuf,
        source: Option<PathBuf>,
        language: Option<Language>,
        elapsed: std::time::Duration,
    ) -> Result<Self, BuildError> {
        let bytes = std::fs::read(&path).map_err(|e| BuildError::io(&path, e))?;
        let sha256 = hex::encode(sha2::Sha256::digest(&bytes));
        Ok(Self { role, world, path, source, language, sha256, bytes: bytes.len(), elapsed })
    }
}
