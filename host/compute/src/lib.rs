//! Model serving for subnetd's `compute` capability (work in progress).
#![deny(missing_docs)]
