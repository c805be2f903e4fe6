//! Conveniences on the WIT message types: the queue type name of every case, conversions from
//! each record into [`Message`], and constructors for the commands plugins emit most.

use std::time::Duration;

use crate::embed::Embed;
use crate::types::*;

/// Declares, once, the mapping between `Message` cases and queue type names.
macro_rules! message_cases {
    (commands: [$($command:ident => $command_name:literal),* $(,)?],
     events: [$($event:ident => $event_name:literal),* $(,)?] $(,)?) => {
        /// The queue type names of the commands this WIT version knows, e.g. `"BAN_USER"`.
        pub const COMMAND_TYPES: &[&str] = &[$($command_name),*];

        /// The queue type names of the events this WIT version knows, e.g. `"MEMBER_JOINED"`.
        pub const EVENT_TYPES: &[&str] = &[$($event_name),*];

        impl Message {
            /// The queue type name, e.g. `"BAN_USER"`; a `Custom` message's own name.
            pub fn type_name(&self) -> &str {
                match self {
                    $(Message::$command(_) => $command_name,)*
                    $(Message::$event(_) => $event_name,)*
                    Message::Custom(custom) => &custom.type_name,
                }
            }

            /// Whether this is a command (something the bot executes) rather than an event.
            /// A `Custom` message counts as neither.
            pub fn is_command(&self) -> bool {
                matches!(self, $(Message::$command(_))|*)
            }

            /// Whether this is an event (something that happened).
            pub fn is_event(&self) -> bool {
                matches!(self, $(Message::$event(_))|*)
            }
        }

        $(impl From<$command> for Message {
            fn from(command: $command) -> Self {
                Message::$command(command)
            }
        })*

        $(impl From<$event> for Message {
            fn from(event: $event) -> Self {
                Message::$event(event)
            }
        })*
    };
}

// The cases of `variant message`, generated from `wit/types.wit`.
include!("message_cases.rs");

impl From<CustomMessage> for Message {
    fn from(custom: CustomMessage) -> Self {
        Message::Custom(custom)
    }
}

impl CustomMessage {
    /// A message of a type this WIT version does not know: its type name and its `data` JSON.
    pub fn new(type_name: impl Into<String>, data: &serde_json::Value) -> Self {
        Self {
            type_name: type_name.into(),
            data: data.to_string(),
        }
    }
}

impl MessageCreated {
    /// A plain text message: no mentions, attachments or optional details, sent at time 0.
    /// Mostly for tests; set the other fields on the result as needed.
    pub fn text(
        message_id: impl Into<Snowflake>,
        channel_id: impl Into<Snowflake>,
        author_id: impl Into<Snowflake>,
        content: impl Into<String>,
    ) -> Self {
        Self {
            message_id: message_id.into(),
            channel_id: channel_id.into(),
            author_id: author_id.into(),
            content: content.into(),
            mentions: Mentions {
                users: Vec::new(),
                roles: Vec::new(),
                everyone: false,
            },
            attachment_count: 0,
            timestamp: 0,
            author_roles: None,
            is_bot: None,
            is_webhook: None,
            author_created_at: None,
            member_joined_at: None,
            embed_count: None,
            sticker_count: None,
            referenced_message_id: None,
        }
    }
}

impl SendMessage {
    /// A plain text message in `channel_id`.
    pub fn text(channel_id: impl Into<Snowflake>, content: impl Into<String>) -> Self {
        Self {
            channel_id: channel_id.into(),
            content: Some(content.into()),
            embeds: None,
            components: None,
            files: None,
            reply: None,
        }
    }

    /// A message in `channel_id` showing one embed.
    pub fn embed(channel_id: impl Into<Snowflake>, embed: &Embed) -> Self {
        Self {
            channel_id: channel_id.into(),
            content: None,
            embeds: Some(vec![embed.to_json()]),
            components: None,
            files: None,
            reply: None,
        }
    }

    /// Adds an embed.
    pub fn with_embed(mut self, embed: &Embed) -> Self {
        self.embeds
            .get_or_insert_with(Vec::new)
            .push(embed.to_json());
        self
    }

    /// Makes the message a reply to `message_id` (still sent if that message is gone).
    pub fn replying_to(mut self, message_id: impl Into<Snowflake>) -> Self {
        self.reply = Some(ReplyTo {
            message_id: message_id.into(),
            fail_if_not_exists: Some(false),
        });
        self
    }
}

impl SendDm {
    /// A plain text direct message to `user_id`.
    pub fn text(user_id: impl Into<Snowflake>, content: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            content: Some(content.into()),
            embeds: None,
            reason: None,
        }
    }
}

impl DeleteMessage {
    /// Delete `message_id` in `channel_id`.
    pub fn new(channel_id: impl Into<Snowflake>, message_id: impl Into<Snowflake>) -> Self {
        Self {
            channel_id: channel_id.into(),
            message_id: message_id.into(),
            reason: None,
        }
    }

    /// Sets the audit-log reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

impl WarnUser {
    /// Warn `user_id` for `reason`, on behalf of `moderator_id`.
    pub fn new(
        user_id: impl Into<Snowflake>,
        reason: impl Into<String>,
        moderator_id: impl Into<Snowflake>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            reason: reason.into(),
            moderator_id: moderator_id.into(),
            case_id: None,
            severity: None,
        }
    }

    /// Sets the severity.
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = Some(severity);
        self
    }
}

impl TimeoutUser {
    /// Time `user_id` out for `duration` (whole seconds, rounded down), on behalf of
    /// `moderator_id`; the user is not notified and no case is opened unless asked.
    pub fn new(
        user_id: impl Into<Snowflake>,
        duration: Duration,
        reason: impl Into<String>,
        moderator_id: impl Into<Snowflake>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            duration: duration.as_secs(),
            reason: reason.into(),
            moderator_id: moderator_id.into(),
            case_id: None,
            notify_user: false,
            create_case: false,
        }
    }

    /// Tells the user by DM.
    pub fn notifying_user(mut self) -> Self {
        self.notify_user = true;
        self
    }

    /// Opens a moderation case.
    pub fn creating_case(mut self) -> Self {
        self.create_case = true;
        self
    }
}

impl KickUser {
    /// Kick `user_id` for `reason`, on behalf of `moderator_id`.
    pub fn new(
        user_id: impl Into<Snowflake>,
        reason: impl Into<String>,
        moderator_id: impl Into<Snowflake>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            reason: reason.into(),
            moderator_id: moderator_id.into(),
            case_id: None,
            notify_user: false,
            create_case: false,
        }
    }
}

impl BanUser {
    /// Ban `user_id` permanently for `reason`, on behalf of `moderator_id`, deleting none of
    /// their messages.
    pub fn new(
        user_id: impl Into<Snowflake>,
        reason: impl Into<String>,
        moderator_id: impl Into<Snowflake>,
    ) -> Self {
        Self {
            user_id: user_id.into(),
            reason: reason.into(),
            delete_message_days: 0,
            duration: None,
            moderator_id: moderator_id.into(),
            case_id: None,
            notify_user: false,
            create_case: false,
        }
    }

    /// Deletes the user's messages of the last `days` days (0 to 7).
    pub fn deleting_message_days(mut self, days: u32) -> Self {
        self.delete_message_days = days;
        self
    }
}

impl AutomodTriggered {
    /// Reports that `rule` fired against `user_id` in `channel_id`.
    pub fn new(
        rule: impl Into<String>,
        user_id: impl Into<Snowflake>,
        channel_id: impl Into<Snowflake>,
        action: AutomodAction,
        severity: Severity,
    ) -> Self {
        Self {
            rule: rule.into(),
            user_id: user_id.into(),
            channel_id: channel_id.into(),
            message_id: None,
            action,
            severity,
            content: None,
        }
    }

    /// Names the offending message.
    pub fn with_message(mut self, message_id: impl Into<Snowflake>) -> Self {
        self.message_id = Some(message_id.into());
        self
    }

    /// Attaches the offending content.
    pub fn with_content(mut self, content: impl Into<String>) -> Self {
        self.content = Some(content.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_is_a_command_or_an_event_exactly_once() {
        let mut all: Vec<&str> = COMMAND_TYPES.iter().chain(EVENT_TYPES).copied().collect();
        assert_eq!(
            COMMAND_TYPES.len(),
            15,
            "13 seed commands + DELETE_MESSAGE + WARN_USER"
        );
        assert_eq!(EVENT_TYPES.len(), 22, "21 seed events + MESSAGE_CREATED");
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 37);
    }

    #[test]
    fn type_names_follow_the_case() {
        let delete: Message = DeleteMessage::new("1", "2").into();
        assert_eq!(delete.type_name(), "DELETE_MESSAGE");
        assert!(delete.is_command() && !delete.is_event());
        let custom: Message = CustomMessage::new("POLL_CREATED", &serde_json::json!({})).into();
        assert_eq!(custom.type_name(), "POLL_CREATED");
        assert!(!custom.is_command() && !custom.is_event());
    }
}
