//! The epoch as it was before the CSR rewrite, kept verbatim as the oracle of
//! the differential tests (`super::diff_tests`). Test-only; nothing in the
//! crate calls it outside `cfg(test)`.

// Verbatim copies: some helpers are only reached through others or not at all.
#![allow(dead_code)]

pub mod consensus;
pub mod epoch;
pub mod math;
