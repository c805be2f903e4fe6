//! Test guest: answers `/report` 3 s later (a delayed command), past the 3 s Discord allows for
//! the first response, so the host must defer the interaction and edit the deferred response.

use std::time::Duration;

use guildhost_plugin::{Context, Error, Incoming, Interaction, Output, Plugin};

struct SlowCommand;

impl Plugin for SlowCommand {
    fn handle(_ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Some(interaction) = Interaction::from_message(&msg.message)? else {
            return Ok(Vec::new());
        };
        let member = interaction
            .option("member")
            .and_then(|v| v.as_str())
            .unwrap_or("nobody");
        let reply = interaction.reply(format!(
            "/{} filed about <@{member}>",
            interaction.command_name.as_deref().unwrap_or_default()
        ));
        Ok(vec![Output::execute_after(Duration::from_secs(3), reply)])
    }
}

guildhost_plugin::export!(SlowCommand);
