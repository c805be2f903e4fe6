//! Test guest: answers `/ping` with `pong` (and the `text` option when given) and `/about`
//! with an ephemeral line, in the same call.

use guildhost_plugin::{Context, Error, Incoming, Interaction, Output, Plugin};

struct SlashCommand;

impl Plugin for SlashCommand {
    fn handle(_ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Some(interaction) = Interaction::from_message(&msg.message)? else {
            return Ok(Vec::new());
        };
        let reply = match interaction.command_name.as_deref().unwrap_or_default() {
            "ping" => match interaction.option("text").and_then(|v| v.as_str()) {
                Some(text) => interaction.reply(format!("pong: {text}")),
                None => interaction.reply("pong"),
            },
            "about" => interaction.reply("a guildhost test guest").ephemeral(),
            other => return Err(Error::new(format!("/{other} is not mine"))),
        };
        Ok(vec![Output::execute(reply)])
    }
}

guildhost_plugin::export!(SlashCommand);
