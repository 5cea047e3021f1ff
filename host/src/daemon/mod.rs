//! The hosted validator daemon (being written).
