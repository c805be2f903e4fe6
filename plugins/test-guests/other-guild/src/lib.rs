//! Hostile test guest: answers every message with a `SEND_MESSAGE` aimed at another guild
//! (`target_guild` in the config); a guild-scoped plugin must never reach another guild.

use guildhost_plugin::types::SendMessage;
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct OtherGuild;

impl Plugin for OtherGuild {
    fn handle(ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let target: String = ctx
            .config_value("target_guild")?
            .unwrap_or_else(|| String::from("999999999999999999"));
        Ok(vec![
            Output::execute(SendMessage::text(
                "100000000000000001",
                "hello from elsewhere",
            ))
            .for_guild(target),
        ])
    }
}

guildhost_plugin::export!(OtherGuild);
