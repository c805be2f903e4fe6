//! Test guest: spends `delay-ms` (from its configuration) of wall time on every message, then
//! executes the command it was given. The shutdown suite uses it so a host provably has jobs in
//! flight when it is signalled.

use std::time::Duration;

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, warn};

struct Slow;

impl Plugin for Slow {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let delay: u64 = ctx.config_value("delay-ms")?.unwrap_or(300);
        // At warn so the line passes a host's default `warn` filter: the suite reads it to know
        // which jobs had reached a plugin when the host was signalled.
        warn!(ctx, "slow: started {}", msg.envelope.id);
        // Sleeping (WASI's monotonic clock) holds the call without burning a core.
        std::thread::sleep(Duration::from_millis(delay));
        Ok(vec![Output::execute(msg.message.clone())])
    }
}

guildhost_plugin::export!(Slow);
