//! Hostile input: one test per way an attacker (a miner, a validator, a module, a file) was
//! found to hurt the host, sending that input and asserting that the host holds: honest calls
//! keep succeeding, the refusal is the documented one, memory stays bounded, nothing panics.
//! Areas, one module each.

mod chain;
mod daemon;
mod network;
mod parsers;
mod round;
mod runtime;
