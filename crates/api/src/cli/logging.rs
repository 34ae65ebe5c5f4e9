//! Logging for the operator commands: to stderr (stdout carries the command's output), at `warn`
//! unless `RUST_LOG` says otherwise, in `TENANTRY_LOG_FORMAT` (`auto`: readable on a terminal,
//! JSON otherwise). While a progress bar is drawn, log lines are written around it.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, PoisonError};

use indicatif::ProgressBar;
use tenantry_api::config::LogFormat;
use tracing_subscriber::EnvFilter;

/// The progress bar on stderr, if one is drawn.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Installs the global subscriber for a command.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| AroundBar);
    let installed = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
    // Only fails if one is installed already, which then keeps logging.
    drop(installed);
}

/// Routes log lines around `bar` until `detach_bar` is called.
pub fn attach_bar(bar: &ProgressBar) {
    *BAR.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
}

pub fn detach_bar() {
    *BAR.lock().unwrap_or_else(PoisonError::into_inner) = None;
}

/// stderr, with the progress bar (if any) cleared while a line is written.
struct AroundBar;

impl Write for AroundBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = BAR.lock().unwrap_or_else(PoisonError::into_inner).clone();
        match bar {
            Some(bar) => bar.suspend(|| std::io::stderr().lock().write_all(buf))?,
            None => std::io::stderr().lock().write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}
