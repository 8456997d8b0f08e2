//! `vodfarm serve`: the ops console (the `vodfarm-console` crate) on the configured backends.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use vodfarm_console::Console;

use crate::config::Backends;

pub fn serve(b: Backends, listen: SocketAddr, token: Option<String>) -> Result<()> {
    let token = token
        .or_else(|| std::env::var("VODFARM_TOKEN").ok())
        .filter(|t| !t.trim().is_empty());
    if token.is_none() {
        eprintln!("no --token or VODFARM_TOKEN: the console is read-only");
    }
    // The console's Retry records a `retried` event: its sinks deliver it.
    let _sinks = crate::sinks::start(&b.config.events, Some(b.queue.clone()))?;
    let app = vodfarm_console::router(Console {
        store: b.store,
        queue: b.queue,
        token: token.map(Into::into),
    });
    vodfarm_console::serve(app, listen, |addr| println!("console at http://{addr}/"))
        .with_context(|| format!("serving the console at {listen}"))
}
