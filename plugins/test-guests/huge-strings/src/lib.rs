//! Hostile test guest: logs one line of `bytes` bytes and returns a `SEND_MESSAGE` whose content
//! is `bytes` long (config, default 4 MiB), far beyond Discord's 2000 characters and any sane
//! `max-output-bytes`.

use guildhost_plugin::types::SendMessage;
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, warn};

struct HugeStrings;

impl Plugin for HugeStrings {
    fn handle(ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let bytes: usize = ctx.config_value("bytes")?.unwrap_or(4 << 20);
        let huge = "x".repeat(bytes);
        warn!(ctx, "{huge}");
        Ok(vec![Output::execute(SendMessage::text(
            "100000000000000001",
            huge,
        ))])
    }
}

guildhost_plugin::export!(HugeStrings);
