//! Application commands (slash commands). A plugin declares its commands in its manifest; when a
//! member uses one, the plugin alone receives an [`Interaction`] and answers with an
//! [`InteractionReply`]. The host sends the answer as Discord's response, or — when the answer
//! comes later than Discord's 3 s — as the edit of the "thinking…" response it sent meanwhile.
//!
//! WIT `0.1.0` has no case for these two messages: they travel as
//! [`crate::types::CustomMessage`]s named `INTERACTION_CREATED` and `INTERACTION_REPLY`, which
//! this module reads and writes.
//!
//! ```toml
//! # plugin.toml
//! emits = ["INTERACTION_REPLY"]
//!
//! [[commands]]
//! name = "roll"
//! description = "Roll a die"
//! [[commands.options]]
//! name = "sides"
//! type = 4            # INTEGER
//! description = "How many sides"
//! ```
//!
//! ```
//! use guildhost_plugin::{Context, Error, Incoming, Interaction, Output, Plugin};
//!
//! struct Dice;
//!
//! impl Plugin for Dice {
//!     fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
//!         let Some(interaction) = Interaction::from_message(&msg.message)? else {
//!             return Ok(vec![]);
//!         };
//!         let sides = interaction.option("sides").and_then(|v| v.as_u64()).unwrap_or(6);
//!         let roll = ctx.now() % sides + 1;
//!         Ok(vec![Output::execute(interaction.reply(format!("🎲 {roll}")))])
//!     }
//! }
//! # guildhost_plugin::export!(Dice);
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::embed::Embed;
use crate::error::Error;
use crate::types::{CustomMessage, Message};

/// A member used a command the plugin declared (`INTERACTION_CREATED`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    /// The interaction; the reply names it.
    pub interaction_id: String,
    /// The bot's application.
    pub application_id: String,
    /// The token the reply needs.
    pub token: String,
    /// The registered command's id.
    pub command_id: String,
    /// The command's name, as declared.
    pub command_name: String,
    /// The options filled in, as Discord sends them (`name`, `type`, `value`; nested `options`
    /// for subcommands).
    #[serde(default)]
    pub options: Vec<Value>,
    /// Who used the command.
    pub user_id: String,
    /// Where.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The member's permissions there, a decimal bitfield (in guilds).
    #[serde(default)]
    pub member_permissions: Option<String>,
    /// The member's language, e.g. `en-US`.
    #[serde(default)]
    pub locale: Option<String>,
}

impl Interaction {
    /// The message type name.
    pub const TYPE: &'static str = "INTERACTION_CREATED";

    /// The interaction `message` carries, or `None` for any other message.
    pub fn from_message(message: &Message) -> Result<Option<Self>, Error> {
        match message {
            Message::Custom(custom) if custom.type_name == Self::TYPE => {
                Ok(Some(serde_json::from_str(&custom.data)?))
            }
            _ => Ok(None),
        }
    }

    /// The value of the top-level option `name`, if the member filled it in.
    pub fn option(&self, name: &str) -> Option<&Value> {
        self.options
            .iter()
            .find(|option| option["name"] == name)
            .and_then(|option| option.get("value"))
    }

    /// A text answer to this interaction.
    pub fn reply(&self, content: impl Into<String>) -> InteractionReply {
        InteractionReply {
            interaction_id: self.interaction_id.clone(),
            token: self.token.clone(),
            content: Some(content.into()),
            embeds: Vec::new(),
            ephemeral: false,
        }
    }

    /// The same interaction as a message, for tests.
    pub fn to_message(&self) -> Message {
        let data = serde_json::json!({
            "interactionId": self.interaction_id,
            "applicationId": self.application_id,
            "token": self.token,
            "commandId": self.command_id,
            "commandName": self.command_name,
            "options": self.options,
            "userId": self.user_id,
            "channelId": self.channel_id,
            "memberPermissions": self.member_permissions,
            "locale": self.locale,
        });
        CustomMessage::new(Self::TYPE, &data).into()
    }
}

/// The answer to an [`Interaction`] (`INTERACTION_REPLY`); execute it with
/// [`crate::Output::execute`] (or [`crate::Output::execute_after`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionReply {
    interaction_id: String,
    token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    embeds: Vec<Embed>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ephemeral: bool,
}

impl InteractionReply {
    /// The message type name.
    pub const TYPE: &'static str = "INTERACTION_REPLY";

    /// Shows the answer to the member who used the command only. (An answer the host had to
    /// defer stays visible to everyone.)
    pub fn ephemeral(mut self) -> Self {
        self.ephemeral = true;
        self
    }

    /// Adds an embed.
    pub fn with_embed(mut self, embed: Embed) -> Self {
        self.embeds.push(embed);
        self
    }
}

impl From<InteractionReply> for Message {
    fn from(reply: InteractionReply) -> Self {
        // Strings, bools and embeds always serialize.
        let data = serde_json::to_value(&reply).unwrap_or(Value::Null);
        CustomMessage::new(InteractionReply::TYPE, &data).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction() -> Interaction {
        Interaction {
            interaction_id: "1".into(),
            application_id: "2".into(),
            token: "tok".into(),
            command_id: "3".into(),
            command_name: "roll".into(),
            options: vec![serde_json::json!({ "name": "sides", "type": 4, "value": 20 })],
            user_id: "4".into(),
            channel_id: Some("5".into()),
            member_permissions: None,
            locale: None,
        }
    }

    #[test]
    fn an_interaction_reads_back_from_its_message_and_replies() {
        let original = interaction();
        let read = Interaction::from_message(&original.to_message()).unwrap();
        assert_eq!(read.as_ref(), Some(&original));
        assert_eq!(original.option("sides"), Some(&serde_json::json!(20)));
        assert_eq!(original.option("faces"), None);

        let message: Message = original.reply("20").ephemeral().into();
        assert_eq!(message.type_name(), "INTERACTION_REPLY");
        let Message::Custom(custom) = message else {
            panic!("a custom message")
        };
        let data: Value = serde_json::from_str(&custom.data).unwrap();
        assert_eq!(
            data,
            serde_json::json!({ "interactionId": "1", "token": "tok", "content": "20", "ephemeral": true })
        );
    }

    #[test]
    fn other_messages_are_not_interactions() {
        let other: Message = CustomMessage::new("POLL_CREATED", &serde_json::json!({})).into();
        assert_eq!(Interaction::from_message(&other).unwrap(), None);
    }
}
