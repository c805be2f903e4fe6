//! Application commands (slash commands): registering them with Discord, globally or in one
//! guild — the whole list in one `PUT` (Discord replaces what was there), or named ones each
//! with a `POST` (Discord's upsert, leaving the others alone).
//!
//! What to register is the caller's choice: this module knows commands, not the plugins that
//! declare them.

use serde_json::{Value, json};
use serenity::all::{ApplicationId, GuildId};

use super::classify::classify;
use super::rest::{SerenityDiscord, discord_id};
use super::{DiscordError, Outcome};
use guildhost_protocol::Snowflake;

/// Discord's `CHAT_INPUT` command type: a slash command.
const CHAT_INPUT: u8 = 1;
/// Discord's `GUILD` interaction context: usable in servers, not in DMs.
const GUILD_CONTEXT: u8 = 0;

/// One command to register.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandSpec {
    /// Its name (1–32 characters).
    pub name: String,
    /// What it does (1–100 characters).
    pub description: String,
    /// Discord's option objects, as a JSON array.
    pub options: Value,
    /// Usable in servers only, never in DMs (a global command's `contexts`; guild commands are
    /// never in DMs anyway).
    pub guild_only: bool,
}

impl CommandSpec {
    /// The command as Discord's JSON for `scope`.
    pub fn body(&self, scope: CommandScope) -> Value {
        let options = match &self.options {
            Value::Array(options) => Value::Array(options.clone()),
            _ => Value::Array(Vec::new()),
        };
        let mut body = json!({
            "name": self.name,
            "description": self.description,
            "type": CHAT_INPUT,
            "options": options,
        });
        if self.guild_only && scope == CommandScope::Global {
            body["contexts"] = json!([GUILD_CONTEXT]);
        }
        body
    }
}

/// Where commands are registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandScope {
    /// For every guild the bot is in (and DMs); Discord may take a while to show changes.
    Global,
    /// For one guild only; changes show at once.
    Guild(Snowflake),
}

impl CommandScope {
    /// `"global"`, or the guild's id.
    pub fn label(self) -> String {
        match self {
            Self::Global => "global".to_owned(),
            Self::Guild(guild) => guild.to_string(),
        }
    }
}

/// A registration to perform.
#[derive(Debug, Clone, Copy)]
pub struct Registration<'a> {
    /// Where.
    pub scope: CommandScope,
    /// What.
    pub commands: &'a [CommandSpec],
    /// `true`: `commands` is the whole list and replaces the registered one (commands left out
    /// are removed). `false`: each of `commands` is created or updated, nothing else changes.
    pub replace_all: bool,
    /// Names asked for that no declaration matches, reported back in the outcome.
    pub unknown: &'a [String],
}

impl Registration<'_> {
    /// The outcome of this registration once Discord accepted it.
    pub fn outcome(&self) -> Outcome {
        Outcome::Registered {
            scope: self.scope.label(),
            commands: self.commands.iter().map(|c| c.name.clone()).collect(),
            unknown: self.unknown.to_vec(),
        }
    }
}

impl SerenityDiscord {
    /// The bot's application id, which command routes and interaction edits name: known to the
    /// client once the gateway said READY, else asked of Discord once.
    pub(super) async fn application_id(&self) -> Result<ApplicationId, DiscordError> {
        let http = self.http();
        if let Some(id) = http.application_id() {
            return Ok(id);
        }
        if let Some(id) = self.interactions().application_id() {
            let id = ApplicationId::new(id);
            http.set_application_id(id);
            return Ok(id);
        }
        let info = self
            .timed("application info", http.get_current_application_info())
            .await?
            .map_err(classify)?;
        http.set_application_id(info.id);
        Ok(info.id)
    }

    /// Registers `registration`'s commands.
    pub(super) async fn register(
        &self,
        registration: Registration<'_>,
    ) -> Result<Outcome, DiscordError> {
        self.application_id().await?;
        let http = self.http();
        let scope = registration.scope;
        let guild = match scope {
            CommandScope::Global => None,
            CommandScope::Guild(guild) => Some(discord_id::<GuildId>("guildId", guild)?),
        };
        if registration.replace_all {
            let bodies: Vec<Value> = registration
                .commands
                .iter()
                .map(|c| c.body(scope))
                .collect();
            let result = match guild {
                None => {
                    self.timed("register commands", http.create_global_commands(&bodies))
                        .await?
                }
                Some(guild) => {
                    self.timed(
                        "register commands",
                        http.create_guild_commands(guild, &bodies),
                    )
                    .await?
                }
            };
            result.map_err(classify)?;
        } else {
            for command in registration.commands {
                let body = command.body(scope);
                let result = match guild {
                    None => {
                        self.timed("register command", http.create_global_command(&body))
                            .await?
                    }
                    Some(guild) => {
                        self.timed("register command", http.create_guild_command(guild, &body))
                            .await?
                    }
                };
                result.map_err(classify)?;
            }
        }
        Ok(registration.outcome())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(guild_only: bool) -> CommandSpec {
        CommandSpec {
            name: "warn".into(),
            description: "Warn a member".into(),
            options: json!([{ "name": "member", "type": 6, "description": "Who" }]),
            guild_only,
        }
    }

    #[test]
    fn guild_only_commands_are_kept_out_of_dms_when_global() {
        let global = spec(true).body(CommandScope::Global);
        assert_eq!(global["contexts"], json!([0]));
        assert_eq!(global["type"], 1);
        assert_eq!(global["options"][0]["name"], "member");
        let in_guild = spec(true).body(CommandScope::Guild(Snowflake::new(1)));
        assert!(in_guild.get("contexts").is_none());
        assert!(
            spec(false)
                .body(CommandScope::Global)
                .get("contexts")
                .is_none()
        );
    }
}
