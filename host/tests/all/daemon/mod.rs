//! `subnetd run`: the hosted validator daemon, in process and as a child process.

mod commit_reveal;
mod config;
mod isolation;
mod node;
mod ops_health;
mod ops_process;
mod reload;
mod restart;
mod signing;
mod subtensor;
pub mod support;
mod timelocked;
