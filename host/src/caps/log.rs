//! The `log` capability: guest log lines become `tracing` events with the subnet and module
//! as fields. Lines are cut at [`MAX_LINE`] bytes so a guest cannot flood the host's logs
//! with one giant message.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::{CallContext, CapConfigError, Capability, HostResources};
use crate::bindings::validator::subnet::plugin::log::{self as wit, Level};

/// Longest log line kept, in bytes.
pub const MAX_LINE: usize = 4096;

/// Per-instance state: who is logging.
pub struct LogState {
    pub(crate) subnet: Arc<str>,
    pub(crate) module: Arc<str>,
}

/// The capability: always granted, no settings.
pub struct Log;

impl Capability for Log {
    const KEYS: &'static [&'static str] = &[];
    type Config = ();
    type Subnet = ();
    type Instance = LogState;

    fn subnet(_: &(), _: &HostResources<'_>) -> Result<(), CapConfigError> {
        Ok(())
    }

    fn instance(_: &(), call: &CallContext<'_>) -> LogState {
        LogState { subnet: call.subnet.clone(), module: call.module.into() }
    }

    fn add_to_linker<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut LogState,
    ) -> wasmtime::Result<()> {
        wit::add_to_linker::<T, HasSelf<LogState>>(linker, get)
    }
}

impl wit::Host for LogState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let line = crate::util::truncate(&message, MAX_LINE);
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
