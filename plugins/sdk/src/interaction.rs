//! Application commands (slash commands), their autocomplete, and the components and modals a
//! plugin sends. A plugin declares its commands in its manifest; when a member uses one, the
//! plugin alone receives an [`Interaction`] and answers with an [`InteractionReply`]. The host
//! sends the answer as Discord's response, or — when the answer comes later than Discord's 3 s —
//! as the edit of the "thinking…" response it sent meanwhile.
//!
//! Buttons, select menus and modals come back to the plugin that sent them: every `custom_id` a
//! plugin sends must start with its own name and `:` (`dice:again`), and the host refuses any
//! that does not. A click arrives as an [`Interaction`] of kind
//! [`InteractionKind::Component`]; the answer can [`update`](Interaction::update) the clicked
//! message, send a new one, or open a [`modal`](Interaction::modal), whose submission arrives
//! as [`InteractionKind::ModalSubmit`] with its [`fields`](Interaction::field). An option that
//! autocompletes arrives as [`InteractionKind::Autocomplete`] and is answered with
//! [`choices`](Interaction::choices) at once (Discord does not let it wait).
//!
//! WIT `0.1.0` has no case for these two messages: they travel as
//! [`crate::types::CustomMessage`]s named `INTERACTION_CREATED` and `INTERACTION_REPLY`, which
//! this module reads and writes.
//!
//! ```toml
//! # plugin.toml
//! name = "dice"
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
//! use guildhost_plugin::{component, Context, Error, Incoming, Interaction, Output, Plugin};
//!
//! struct Dice;
//!
//! impl Plugin for Dice {
//!     fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
//!         let Some(interaction) = Interaction::from_message(&msg.message)? else {
//!             return Ok(vec![]);
//!         };
//!         let roll = ctx.now() % 6 + 1;
//!         let again = component::row([component::button("dice:again", "Roll again")]);
//!         let answer = match interaction.custom_id.as_deref() {
//!             // The button under an earlier roll: replace that message.
//!             Some("dice:again") => interaction.update(format!("🎲 {roll}")),
//!             _ => interaction.reply(format!("🎲 {roll}")),
//!         };
//!         Ok(vec![Output::execute(answer.with_components([again]))])
//!     }
//! }
//! # guildhost_plugin::export!(Dice);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::embed::Embed;
use crate::error::Error;
use crate::types::{CustomMessage, Message};

/// What the member did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InteractionKind {
    /// Used a command the plugin declared.
    #[default]
    Command,
    /// Clicked a button or picked from a select menu the plugin sent.
    Component,
    /// Is typing an option of the plugin's command that autocompletes.
    Autocomplete,
    /// Submitted a modal the plugin opened.
    ModalSubmit,
}

/// A member used a command the plugin declared, or a component or modal it sent
/// (`INTERACTION_CREATED`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Interaction {
    /// What the member did.
    #[serde(default)]
    pub kind: InteractionKind,
    /// The interaction; the reply names it.
    pub interaction_id: String,
    /// The bot's application.
    pub application_id: String,
    /// The token the reply needs.
    pub token: String,
    /// The registered command's id (commands and autocomplete).
    #[serde(default)]
    pub command_id: Option<String>,
    /// The command's name, as declared (commands and autocomplete).
    #[serde(default)]
    pub command_name: Option<String>,
    /// The options filled in, as Discord sends them (`name`, `type`, `value`; nested `options`
    /// for subcommands; `focused: true` on the one being typed, in autocomplete).
    #[serde(default)]
    pub options: Vec<Value>,
    /// The component's or the modal's `custom_id`, as the plugin sent it.
    #[serde(default)]
    pub custom_id: Option<String>,
    /// The component's type (2 button, 3 string select, 5–8 user, role, mentionable, channel
    /// selects).
    #[serde(default)]
    pub component_type: Option<u8>,
    /// What was picked in a select menu.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// A submitted modal's text, by each input's `custom_id`.
    #[serde(default)]
    pub fields: Option<BTreeMap<String, String>>,
    /// The message the component is on.
    #[serde(default)]
    pub message_id: Option<String>,
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

    /// In an autocomplete, the option being typed: its name and what was typed so far.
    pub fn focused(&self) -> Option<(&str, &Value)> {
        self.options
            .iter()
            .find(|option| option["focused"] == true)
            .and_then(|option| Some((option["name"].as_str()?, option.get("value")?)))
    }

    /// In a modal submit, the text typed into the input `custom_id`.
    pub fn field(&self, custom_id: &str) -> Option<&str> {
        self.fields.as_ref()?.get(custom_id).map(String::as_str)
    }

    fn answer(&self, response: Option<&'static str>) -> InteractionReply {
        InteractionReply {
            interaction_id: self.interaction_id.clone(),
            token: self.token.clone(),
            response,
            content: None,
            embeds: Vec::new(),
            components: Vec::new(),
            ephemeral: false,
            custom_id: None,
            title: None,
            choices: None,
        }
    }

    /// A text answer to this interaction (a new message).
    pub fn reply(&self, content: impl Into<String>) -> InteractionReply {
        InteractionReply {
            content: Some(content.into()),
            ..self.answer(None)
        }
    }

    /// Replaces the message the clicked component is on (components, and modals opened from
    /// one) with `content`; add components to keep or change its buttons.
    pub fn update(&self, content: impl Into<String>) -> InteractionReply {
        InteractionReply {
            content: Some(content.into()),
            ..self.answer(Some("update"))
        }
    }

    /// Opens a modal (`custom_id` starting with the plugin's name, a title of at most 45
    /// characters, 1–5 [`component::text_input`]s). Only as the first answer: the host cannot
    /// open one for an interaction it had to defer, so answer within 2.5 s.
    pub fn modal(
        &self,
        custom_id: impl Into<String>,
        title: impl Into<String>,
        inputs: impl IntoIterator<Item = Value>,
    ) -> InteractionReply {
        InteractionReply {
            custom_id: Some(custom_id.into()),
            title: Some(title.into()),
            components: inputs
                .into_iter()
                .map(|input| component::row([input]))
                .collect(),
            ..self.answer(Some("modal"))
        }
    }

    /// The autocomplete choices, as `(shown name, value)` pairs (at most 25).
    pub fn choices<N: Into<String>>(
        &self,
        choices: impl IntoIterator<Item = (N, Value)>,
    ) -> InteractionReply {
        let choices = choices
            .into_iter()
            .map(|(name, value)| serde_json::json!({ "name": name.into(), "value": value }))
            .collect();
        InteractionReply {
            choices: Some(choices),
            ..self.answer(Some("autocomplete"))
        }
    }

    /// The same interaction as a message, for tests.
    pub fn to_message(&self) -> Message {
        let data = serde_json::json!({
            "kind": self.kind,
            "interactionId": self.interaction_id,
            "applicationId": self.application_id,
            "token": self.token,
            "commandId": self.command_id,
            "commandName": self.command_name,
            "options": self.options,
            "customId": self.custom_id,
            "componentType": self.component_type,
            "values": self.values,
            "fields": self.fields,
            "messageId": self.message_id,
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
    response: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    embeds: Vec<Embed>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ephemeral: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<Vec<Value>>,
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

    /// Adds components (action rows from [`component::row`]); each `custom_id` must start with
    /// the plugin's name and `:`.
    pub fn with_components(mut self, rows: impl IntoIterator<Item = Value>) -> Self {
        self.components.extend(rows);
        self
    }
}

/// Discord's message components as the JSON Discord takes, for
/// [`InteractionReply::with_components`] and [`Interaction::modal`].
pub mod component {
    use serde_json::{Value, json};

    /// An action row holding `components` (up to 5 buttons, or one select menu).
    pub fn row(components: impl IntoIterator<Item = Value>) -> Value {
        json!({ "type": 1, "components": components.into_iter().collect::<Vec<_>>() })
    }

    /// A primary button.
    pub fn button(custom_id: &str, label: &str) -> Value {
        json!({ "type": 2, "style": 1, "custom_id": custom_id, "label": label })
    }

    /// A select menu of `(label, value)` options.
    pub fn select<'a>(
        custom_id: &str,
        options: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Value {
        let options: Vec<Value> = options
            .into_iter()
            .map(|(label, value)| json!({ "label": label, "value": value }))
            .collect();
        json!({ "type": 3, "custom_id": custom_id, "options": options })
    }

    /// A one-line text input for a modal.
    pub fn text_input(custom_id: &str, label: &str) -> Value {
        json!({ "type": 4, "style": 1, "custom_id": custom_id, "label": label })
    }
}

impl From<InteractionReply> for Message {
    fn from(reply: InteractionReply) -> Self {
        // Strings, bools, embeds and JSON values always serialize.
        let data = serde_json::to_value(&reply).unwrap_or(Value::Null);
        CustomMessage::new(InteractionReply::TYPE, &data).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction() -> Interaction {
        Interaction {
            kind: InteractionKind::Command,
            interaction_id: "1".into(),
            application_id: "2".into(),
            token: "tok".into(),
            command_id: Some("3".into()),
            command_name: Some("roll".into()),
            options: vec![serde_json::json!({ "name": "sides", "type": 4, "value": 20 })],
            custom_id: None,
            component_type: None,
            values: None,
            fields: None,
            message_id: None,
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

    fn data(reply: InteractionReply) -> Value {
        let Message::Custom(custom) = Message::from(reply) else {
            panic!("a custom message")
        };
        serde_json::from_str(&custom.data).unwrap()
    }

    #[test]
    fn components_modals_and_choices_serialize_as_the_host_reads_them() {
        let click = Interaction {
            kind: InteractionKind::Component,
            custom_id: Some("dice:again".into()),
            component_type: Some(2),
            ..interaction()
        };
        let read = Interaction::from_message(&click.to_message()).unwrap();
        assert_eq!(read.as_ref(), Some(&click));
        assert_eq!(
            data(
                click
                    .update("🎲 4")
                    .with_components([component::row([component::button("dice:again", "Again")])])
            ),
            serde_json::json!({
                "interactionId": "1", "token": "tok", "response": "update", "content": "🎲 4",
                "components": [{ "type": 1, "components": [
                    { "type": 2, "style": 1, "custom_id": "dice:again", "label": "Again" }]}],
            })
        );
        assert_eq!(
            data(click.modal(
                "dice:why",
                "Why?",
                [component::text_input("dice:reason", "Reason")]
            )),
            serde_json::json!({
                "interactionId": "1", "token": "tok", "response": "modal", "customId": "dice:why",
                "title": "Why?", "components": [{ "type": 1, "components": [
                    { "type": 4, "style": 1, "custom_id": "dice:reason", "label": "Reason" }]}],
            })
        );
        let typing = Interaction {
            kind: InteractionKind::Autocomplete,
            options: vec![
                serde_json::json!({ "name": "sides", "type": 4, "value": "1", "focused": true }),
            ],
            ..interaction()
        };
        assert_eq!(typing.focused(), Some(("sides", &serde_json::json!("1"))));
        assert_eq!(
            data(typing.choices([("ten", serde_json::json!(10))])),
            serde_json::json!({
                "interactionId": "1", "token": "tok", "response": "autocomplete",
                "choices": [{ "name": "ten", "value": 10 }],
            })
        );
        let submitted = Interaction {
            kind: InteractionKind::ModalSubmit,
            fields: Some([("dice:reason".to_owned(), "fun".to_owned())].into()),
            ..interaction()
        };
        assert_eq!(submitted.field("dice:reason"), Some("fun"));
        assert_eq!(submitted.field("dice:other"), None);
    }

    #[test]
    fn other_messages_are_not_interactions() {
        let other: Message = CustomMessage::new("POLL_CREATED", &serde_json::json!({})).into();
        assert_eq!(Interaction::from_message(&other).unwrap(), None);
    }
}
