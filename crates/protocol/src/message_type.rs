//! The catalogue of message types and queues: each type's wire name, whether it is a command or
//! an event, and the queue it travels on.

use std::fmt;
use std::str::FromStr;

use super::error::ProtocolError;

/// Whether a message asks the bot to act or reports something that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A request to act (API → bot, or plugin → executor).
    Command,
    /// A report of something that happened (bot → API, or a scheduled trigger).
    Event,
}

/// The queues of the seed's `QUEUES` constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QueueName {
    /// `bot:commands`: Discord actions (send a message or a DM).
    BotCommands,
    /// `bot:moderation`: moderation commands.
    BotModeration,
    /// `bot:music`: music commands.
    BotMusic,
    /// `bot:config`: configuration commands.
    BotConfig,
    /// `discord:events`: gateway events for the API.
    DiscordEvents,
    /// `moderation:events`: case and moderation events.
    ModerationEvents,
    /// `music:events`: playback and queue events.
    MusicEvents,
    /// `notifications`: cross-service notifications.
    Notifications,
    /// `webhooks`: cross-service webhook deliveries (message types defined by the API, not here).
    Webhooks,
    /// `analytics`: cross-service analytics (message types defined by the API, not here).
    Analytics,
    /// `scheduled:tasks`: delayed and recurring tasks.
    ScheduledTasks,
    /// `cleanup:tasks`: cleanup tasks.
    CleanupTasks,
}

impl QueueName {
    /// Every queue, in the seed's order.
    pub const ALL: [QueueName; 12] = [
        Self::BotCommands,
        Self::BotModeration,
        Self::BotMusic,
        Self::BotConfig,
        Self::DiscordEvents,
        Self::ModerationEvents,
        Self::MusicEvents,
        Self::Notifications,
        Self::Webhooks,
        Self::Analytics,
        Self::ScheduledTasks,
        Self::CleanupTasks,
    ];

    /// The Bull queue name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BotCommands => "bot:commands",
            Self::BotModeration => "bot:moderation",
            Self::BotMusic => "bot:music",
            Self::BotConfig => "bot:config",
            Self::DiscordEvents => "discord:events",
            Self::ModerationEvents => "moderation:events",
            Self::MusicEvents => "music:events",
            Self::Notifications => "notifications",
            Self::Webhooks => "webhooks",
            Self::Analytics => "analytics",
            Self::ScheduledTasks => "scheduled:tasks",
            Self::CleanupTasks => "cleanup:tasks",
        }
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueName {
    type Err = ProtocolError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|queue| queue.as_str() == name)
            .ok_or_else(|| ProtocolError::new("queue", format!("unknown queue {name:?}")))
    }
}

/// Where a message type comes from (the table's last column).
enum Origin {
    /// The seed's specification.
    Seed,
    /// Added by guildhost.
    Extension,
}

/// Declares [`MessageType`] from one table, so a type's name, kind and queue cannot drift apart.
macro_rules! message_types {
    ($($(#[$doc:meta])* $variant:ident = $wire:literal, $kind:ident, $queue:ident, $origin:ident;)+) => {
        /// Every message type the protocol defines: the seed's 13 commands and 21 events, plus
        /// guildhost's extensions ([`MessageType::is_extension`]).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum MessageType {
            $($(#[$doc])* $variant,)+
        }

        impl MessageType {
            /// Every defined message type, in the order of `variant message` in `wit/types.wit`
            /// (commands first, then events).
            pub const ALL: &'static [MessageType] = &[$(Self::$variant,)+];

            /// The wire name carried in the envelope's `type` field.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)+
                }
            }

            /// Whether the type is a command or an event.
            pub const fn kind(self) -> MessageKind {
                match self {
                    $(Self::$variant => MessageKind::$kind,)+
                }
            }

            /// The queue the seed routes this type through.
            pub const fn queue(self) -> QueueName {
                match self {
                    $(Self::$variant => QueueName::$queue,)+
                }
            }

            /// Whether the type is a guildhost extension rather than part of the seed.
            pub const fn is_extension(self) -> bool {
                match self {
                    $(Self::$variant => matches!(Origin::$origin, Origin::Extension),)+
                }
            }
        }
    };
}

// The list, generated from the cases of `variant message` in `wit/types.wit`.
include!("generated/message_types.rs");

impl MessageType {
    /// Whether the type is a command.
    pub const fn is_command(self) -> bool {
        matches!(self.kind(), MessageKind::Command)
    }

    /// Whether the type is an event.
    pub const fn is_event(self) -> bool {
        matches!(self.kind(), MessageKind::Event)
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageType {
    type Err = ProtocolError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|message_type| message_type.as_str() == name)
            .ok_or_else(|| ProtocolError::new("type", format!("unknown message type {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's 13 commands and 21 events, by kind.
    const SEED: [(&str, MessageKind); 34] = {
        use MessageKind::{Command as C, Event as E};
        [
            ("SEND_MESSAGE", C),
            ("SEND_DM", C),
            ("BAN_USER", C),
            ("KICK_USER", C),
            ("TIMEOUT_USER", C),
            ("UNBAN_USER", C),
            ("PLAY_MUSIC", C),
            ("SKIP_MUSIC", C),
            ("PAUSE_MUSIC", C),
            ("SET_VOLUME", C),
            ("SET_REPEAT", C),
            ("UPDATE_CONFIG", C),
            ("RELOAD_COMMANDS", C),
            ("MEMBER_JOINED", E),
            ("MEMBER_LEFT", E),
            ("MEMBER_UPDATED", E),
            ("MESSAGE_DELETED", E),
            ("MESSAGE_EDITED", E),
            ("MESSAGE_BULK_DELETED", E),
            ("CHANNEL_CREATED", E),
            ("ROLE_CREATED", E),
            ("CASE_CREATED", E),
            ("CASE_UPDATED", E),
            ("MODERATION_ACTION_COMPLETED", E),
            ("AUTOMOD_TRIGGERED", E),
            ("MUSIC_STARTED", E),
            ("MUSIC_ENDED", E),
            ("MUSIC_PAUSED", E),
            ("TRACK_ADDED", E),
            ("QUEUE_CLEARED", E),
            ("USER_NOTIFICATION", E),
            ("BROADCAST_NOTIFICATION", E),
            ("SCHEDULED_TASK", E),
            ("CLEANUP_EXPIRED_CASES", E),
        ]
    };

    #[test]
    fn the_catalogue_holds_the_seed_and_marks_every_other_type_an_extension() {
        for (name, kind) in SEED {
            let defined: MessageType = name.parse().expect("every seed type is defined");
            assert_eq!(defined.kind(), kind, "{name}");
            assert!(!defined.is_extension(), "{name} is the seed's");
        }
        for message_type in MessageType::ALL {
            let in_seed = SEED.iter().any(|(name, _)| *name == message_type.as_str());
            assert_eq!(message_type.is_extension(), !in_seed, "{message_type}");
        }
    }

    #[test]
    fn names_parse_back() {
        for message_type in MessageType::ALL {
            assert_eq!(
                message_type.as_str().parse::<MessageType>(),
                Ok(*message_type)
            );
        }
        for queue in QueueName::ALL {
            assert_eq!(queue.as_str().parse::<QueueName>(), Ok(queue));
        }
        let error = "FOO".parse::<MessageType>().unwrap_err();
        assert_eq!(error.to_string(), "type: unknown message type \"FOO\"");
    }

    #[test]
    fn events_go_to_their_seed_queue() {
        assert_eq!(MessageType::BanUser.queue().as_str(), "bot:moderation");
        assert_eq!(
            MessageType::CaseCreated.queue().as_str(),
            "moderation:events"
        );
        assert_eq!(
            MessageType::UserNotification.queue().as_str(),
            "notifications"
        );
        assert_eq!(
            MessageType::CleanupExpiredCases.queue().as_str(),
            "cleanup:tasks"
        );
    }
}
