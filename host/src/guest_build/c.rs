//! c guests (being written; see the guest_build module docs).

use std::path::Path;

use super::{BuildError, Toolchain};
use crate::runtime::World;

/// Builds the c guest in `dir` implementing `world` into a component at `out`.
pub fn build(_toolchain: &Toolchain, dir: &Path, _world: World, _out: &Path) -> Result<(), BuildError> {
    Err(BuildError::BadOutput { dir: dir.to_path_buf(), reason: "c guests are not supported yet".into() })
}
