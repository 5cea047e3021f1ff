//! The `log` capability: guest log lines become `tracing` events with the subnet and module
//! as fields. Lines are cut at [`MAX_LINE`] bytes so a guest cannot flood the host's logs
//! with one giant message.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use crate::bindings::validator::subnet::plugin::log::{self as wit, Level};
use crate::runtime::HostState;

/// Longest log line kept, in bytes.
pub const MAX_LINE: usize = 4096;

/// Per-instance state: who is logging.
pub struct LogState {
    pub(crate) subnet: Arc<str>,
    pub(crate) module: Arc<str>,
}

/// Cuts `text` to at most `max` bytes on a character boundary.
pub(crate) fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl wit::Host for LogState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let line = truncate(&message, MAX_LINE);
        let (subnet, module) = (&*self.subnet, &*self.module);
        match level {
            Level::Trace => tracing::trace!(target: "guest", subnet, module, "{line}"),
            Level::Debug => tracing::debug!(target: "guest", subnet, module, "{line}"),
            Level::Info => tracing::info!(target: "guest", subnet, module, "{line}"),
            Level::Warn => tracing::warn!(target: "guest", subnet, module, "{line}"),
            Level::Error => tracing::error!(target: "guest", subnet, module, "{line}"),
        }
        Ok(())
    }
}

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<HostState, HasSelf<LogState>>(linker, |s| &mut s.log)
}
