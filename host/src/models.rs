//! The operator's model registry: which models this host has on disk, by name.
//!
//! A registry is a TOML file:
//!
//! ```toml
//! [[model]]
//! name = "all-minilm-l6-v2"
//! kind = "text-embedding"          # text-embedding | image-embedding | text-generation
//! path = "/srv/models/all-MiniLM-L6-v2"   # relative paths are relative to this file
//! ```
//!
//! Subnets name the models they need (`[compute] models = [...]` in `subnet.toml`, or the
//! daemon's per-subnet grants); the host starts a [`subnet_compute::ComputeService`] with those
//! models only. Where the registry comes from ([`ModelRegistry::discover`]): `$SUBNETD_MODELS`,
//! else `~/.config/subnetd/models.toml`, else `.venv/share/subnetd/models.toml` under the
//! source tree (written by `scripts/setup.sh` for the models the tests use).
//!
//! Failure modes: a registry that does not parse, or names a model twice, is a
//! [`ModelsError`] naming the file and the entry; asking for a model the registry lacks says
//! which registry was read and what it has.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use subnet_compute::ModelSpec;

/// Where `scripts/setup.sh` writes the registry of the test models, under the source tree.
pub const TREE_REGISTRY: &str = ".venv/share/subnetd/models.toml";

/// Why the registry cannot serve a request.
#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    /// The registry file is unreadable or malformed.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model is not in the registry.
    #[error(
        "model `{name}` is not in the model registry ({source_desc}); it has [{known}]. \
         Add it to a models.toml (see SUBNETD_MODELS) or run scripts/setup.sh for the test models"
    )]
    Unknown {
        /// The model asked for.
        name: String,
        /// Where the registry came from.
        source_desc: String,
        /// What it has.
        known: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    #[serde(default)]
    model: Vec<ModelSpec>,
}

/// The models this host has.
#[derive(Debug, Clone, Default)]
pub struct ModelRegistry {
    models: Vec<ModelSpec>,
    source: Option<PathBuf>,
}

impl ModelRegistry {
    /// Reads a registry file.
    pub fn load(path: &Path) -> Result<Self, ModelsError> {
        let err = |message: String| ModelsError::File { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: RegistryFile = toml::from_str(&text).map_err(|e| err(e.message().to_owned()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut models: Vec<ModelSpec> = Vec::new();
        for (i, m) in file.model.into_iter().enumerate() {
            if models.iter().any(|s| s.name == m.name) {
                return Err(err(format!("model[{i}]: `{}` is listed twice", m.name)));
            }
            models.push(m.relative_to(base));
        }
        Ok(Self { models, source: Some(path.to_path_buf()) })
    }

    /// The registry this host uses (see the module docs); empty when there is none. Logs
    /// which file was loaded and its models.
    pub fn discover(tree_root: &Path) -> Result<Self, ModelsError> {
        let explicit = std::env::var_os("SUBNETD_MODELS").filter(|v| !v.is_empty()).map(PathBuf::from);
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let registry = Self::discover_from(explicit, home.as_deref(), tree_root)?;
        match &registry.source {
            Some(path) => tracing::info!(path = %path.display(), models = %registry.names(), "model registry loaded"),
            None => tracing::info!(
                "no model registry: none at $SUBNETD_MODELS, ~/.config/subnetd/models.toml or {}",
                tree_root.join(TREE_REGISTRY).display()
            ),
        }
        Ok(registry)
    }

    /// [`ModelRegistry::discover`] with its inputs given: `explicit` (`$SUBNETD_MODELS`) must
    /// name a file that exists, since an operator who set it means that file and no other.
    pub fn discover_from(
        explicit: Option<PathBuf>,
        home: Option<&Path>,
        tree_root: &Path,
    ) -> Result<Self, ModelsError> {
        if let Some(path) = explicit {
            if !path.is_file() {
                return Err(ModelsError::File {
                    path,
                    message: "SUBNETD_MODELS names this registry, which is not a file (unset SUBNETD_MODELS to use \
                              ~/.config/subnetd/models.toml or the one scripts/setup.sh writes)"
                        .into(),
                });
            }
            return Self::load(&path);
        }
        let candidates = [home.map(|h| h.join(".config/subnetd/models.toml")), Some(tree_root.join(TREE_REGISTRY))];
        for candidate in candidates.into_iter().flatten() {
            if candidate.is_file() {
                return Self::load(&candidate);
            }
        }
        Ok(Self::default())
    }

    /// The file the registry was read from, if any.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    fn names(&self) -> String {
        self.models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// Every model.
    pub fn all(&self) -> &[ModelSpec] {
        &self.models
    }

    /// The specs of `names`, in that order.
    pub fn select(&self, names: &[String]) -> Result<Vec<ModelSpec>, ModelsError> {
        names
            .iter()
            .map(|name| {
                self.models.iter().find(|m| &m.name == name).cloned().ok_or_else(|| ModelsError::Unknown {
                    name: name.clone(),
                    source_desc: self
                        .source
                        .as_ref()
                        .map_or_else(|| "no registry file found".into(), |p| p.display().to_string()),
                    known: self.names(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_relative_to_the_file_and_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("models.toml");
        std::fs::write(&path, "[[model]]\nname = \"mini\"\nkind = \"text-embedding\"\npath = \"m/mini\"\n").unwrap();
        let registry = ModelRegistry::load(&path).unwrap();
        let specs = registry.select(&["mini".into()]).unwrap();
        assert_eq!(specs[0].path(), Some(dir.path().join("m/mini").as_path()));
        let err = registry.select(&["clip".into()]).unwrap_err().to_string();
        assert!(err.contains("`clip`") && err.contains("mini"), "{err}");

        std::fs::write(&path, "[[model]]\nname = \"a\"\nkind = \"text-embedding\"\npath = \"x\"\n[[model]]\nname = \"a\"\nkind = \"text-embedding\"\npath = \"y\"\n").unwrap();
        assert!(ModelRegistry::load(&path).unwrap_err().to_string().contains("listed twice"));
        std::fs::write(&path, "[[model]]\nname = \"a\"\nkind = \"telepathy\"\npath = \"x\"\n").unwrap();
        assert!(ModelRegistry::load(&path).is_err());
    }

    #[test]
    fn an_explicit_registry_must_exist_and_discovery_falls_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nonexistent.toml");
        let err = ModelRegistry::discover_from(Some(missing.clone()), None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("nonexistent.toml") && err.contains("SUBNETD_MODELS"), "{err}");

        let tree = dir.path().join("tree");
        std::fs::create_dir_all(tree.join(".venv/share/subnetd")).unwrap();
        let entry = |name: &str| format!("[[model]]\nname = \"{name}\"\nkind = \"text-embedding\"\npath = \"m\"\n");
        std::fs::write(tree.join(TREE_REGISTRY), entry("tree-model")).unwrap();
        let home = dir.path().join("home");
        let found = ModelRegistry::discover_from(None, Some(&home), &tree).unwrap();
        assert_eq!(found.source(), Some(tree.join(TREE_REGISTRY).as_path()));
        std::fs::create_dir_all(home.join(".config/subnetd")).unwrap();
        std::fs::write(home.join(".config/subnetd/models.toml"), entry("home-model")).unwrap();
        let found = ModelRegistry::discover_from(None, Some(&home), &tree).unwrap();
        assert_eq!(found.all()[0].name, "home-model");
        let explicit = dir.path().join("mine.toml");
        std::fs::write(&explicit, entry("mine")).unwrap();
        let found = ModelRegistry::discover_from(Some(explicit), Some(&home), &tree).unwrap();
        assert_eq!(found.all()[0].name, "mine");
        assert!(ModelRegistry::discover_from(None, None, dir.path()).unwrap().source().is_none());
    }
}
