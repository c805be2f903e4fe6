//! Hostile test guest: returns `count` outputs (config, default 10 000) for every message, far
//! beyond any sane `max-outputs` limit.

use guildhost_plugin::types::SendMessage;
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct ManyOutputs;

impl Plugin for ManyOutputs {
    fn handle(ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let count: usize = ctx.config_value("count")?.unwrap_or(10_000);
        Ok((0..count)
            .map(|i| {
                Output::execute(SendMessage::text(
                    "100000000000000001",
                    format!("output {i}"),
                ))
            })
            .collect())
    }
}

guildhost_plugin::export!(ManyOutputs);
