//! The message protocol shared with the Node API: the envelope, every message type, validation.
//!
//! The specification is the seed `message-queue-patterns.md`: every message is a JSON object
//! `BaseQueueMessage` (`id`, `type`, `timestamp`, `source`, optional `guildId`, `userId`,
//! `requestId`, `priority`, and a type-specific `data`). A [`Message`] is an [`Envelope`] plus a
//! [`Payload`], the enum with one variant per [`MessageType`] and [`Payload::Custom`] for types
//! the protocol does not define (the API's `webhooks` and `analytics` queues carry such).
//!
//! ```
//! use guildhost::protocol::{Message, MessageType, Payload};
//!
//! let json = br#"{"id":"m-1","type":"SET_VOLUME","timestamp":"2026-11-30T17:33:03.123Z",
//!     "source":"api","guildId":"81384788765712384","data":{"volume":40,"requestedBy":"80351110224678912"}}"#;
//! let message = Message::decode(json)?;
//! assert_eq!(message.message_type(), Some(MessageType::SetVolume));
//! if let Payload::SetVolume(set_volume) = &message.payload {
//!     assert_eq!(set_volume.volume, 40);
//! }
//! assert_eq!(message.to_value()?["timestamp"], "2026-11-30T17:33:03.123Z");
//!
//! let too_loud = br#"{"id":"m-2","type":"SET_VOLUME","timestamp":1764523983123,
//!     "source":"api","data":{"volume":140,"requestedBy":"80351110224678912"}}"#;
//! let error = Message::decode(too_loud).unwrap_err();
//! assert_eq!(error.to_string(), "data.volume: must be within 0..=100, got 140");
//! # Ok::<(), guildhost::protocol::ProtocolError>(())
//! ```
//!
//! # Wire format
//!
//! * Field names are the seed's TypeScript names (camelCase), `type` is the tag, absent
//!   optionals are omitted. A `null` optional reads as absent (the seed uses `null` for "none",
//!   e.g. a permanent ban's `duration`) and is written back as absent.
//! * Dates ([`Timestamp`]) read ISO-8601 as Node's `JSON.stringify(new Date())` writes it, and
//!   epoch milliseconds; they are written as ISO-8601 with milliseconds and `Z`.
//! * Discord ids ([`Snowflake`]) are decimal strings; numbers, which JavaScript cannot hold
//!   exactly, are refused. Ids that are not Discord's (case, track, notification ids) are strings.
//! * Numbers the seed leaves open to fractions are [`JsNumber`], written as JavaScript writes
//!   them (`3600`, not `3600.0`); counts, seconds, days and percentages are integers.
//! * Embeds and attachments follow Discord's own objects (snake_case, as Discord and discord.js
//!   write them); components and guild configuration are open JSON that round-trips unchanged.
//! * Fields this version does not define — in the envelope or in any payload object — are kept
//!   in an `extra` map and written back, so a newer API can add fields without breaking the host.
//!
//! # Extensions
//!
//! guildhost adds three types the seed lacks, marked by [`MessageType::is_extension`]:
//! `MESSAGE_CREATED` (an event, for automod), and `DELETE_MESSAGE` and `WARN_USER` (commands that
//! plugins emit). They follow the seed's conventions and travel on the seed's queues.
//!
//! # Errors
//!
//! Decoding and [`Message::validate`] report the first broken rule as a [`ProtocolError`] naming
//! the field, e.g. `data.deleteMessageDays: must be within 0..=7, got 9`. The rules are in
//! [`validate`]; the golden fixtures in `tests/fixtures/invalid/` show one failure per rule.
//!
//! # Coverage
//!
//! Every message type with its Rust payload and golden fixture (under `tests/fixtures/`). The
//! WIT-case and conversion columns belong to the plugin interface (`wit/`); the table is checked
//! against [`MessageType::ALL`] and the fixture files by `host/tests/protocol_coverage.rs`.
//!
//! | Type | Kind | Queue | Rust payload | Fixture | WIT case | Conversion |
//! |------|------|-------|--------------|---------|----------|------------|
//! | `SEND_MESSAGE` | command | `bot:commands` | [`SendMessage`] | `valid/SEND_MESSAGE.json` | see wit/ | see wit/ |
//! | `SEND_DM` | command | `bot:commands` | [`SendDm`] | `valid/SEND_DM.json` | see wit/ | see wit/ |
//! | `DELETE_MESSAGE` (ext.) | command | `bot:commands` | [`DeleteMessage`] | `valid/DELETE_MESSAGE.json` | see wit/ | see wit/ |
//! | `BAN_USER` | command | `bot:moderation` | [`BanUser`] | `valid/BAN_USER.json` | see wit/ | see wit/ |
//! | `KICK_USER` | command | `bot:moderation` | [`KickUser`] | `valid/KICK_USER.json` | see wit/ | see wit/ |
//! | `TIMEOUT_USER` | command | `bot:moderation` | [`TimeoutUser`] | `valid/TIMEOUT_USER.json` | see wit/ | see wit/ |
//! | `UNBAN_USER` | command | `bot:moderation` | [`UnbanUser`] | `valid/UNBAN_USER.json` | see wit/ | see wit/ |
//! | `WARN_USER` (ext.) | command | `bot:moderation` | [`WarnUser`] | `valid/WARN_USER.json` | see wit/ | see wit/ |
//! | `PLAY_MUSIC` | command | `bot:music` | [`PlayMusic`] | `valid/PLAY_MUSIC.json` | see wit/ | see wit/ |
//! | `SKIP_MUSIC` | command | `bot:music` | [`SkipMusic`] | `valid/SKIP_MUSIC.json` | see wit/ | see wit/ |
//! | `PAUSE_MUSIC` | command | `bot:music` | [`PauseMusic`] | `valid/PAUSE_MUSIC.json` | see wit/ | see wit/ |
//! | `SET_VOLUME` | command | `bot:music` | [`SetVolume`] | `valid/SET_VOLUME.json` | see wit/ | see wit/ |
//! | `SET_REPEAT` | command | `bot:music` | [`SetRepeat`] | `valid/SET_REPEAT.json` | see wit/ | see wit/ |
//! | `UPDATE_CONFIG` | command | `bot:config` | [`UpdateConfig`] | `valid/UPDATE_CONFIG.json` | see wit/ | see wit/ |
//! | `RELOAD_COMMANDS` | command | `bot:config` | [`ReloadCommands`] | `valid/RELOAD_COMMANDS.json` | see wit/ | see wit/ |
//! | `MEMBER_JOINED` | event | `discord:events` | [`MemberJoined`] | `valid/MEMBER_JOINED.json` | see wit/ | see wit/ |
//! | `MEMBER_LEFT` | event | `discord:events` | [`MemberLeft`] | `valid/MEMBER_LEFT.json` | see wit/ | see wit/ |
//! | `MEMBER_UPDATED` | event | `discord:events` | [`MemberUpdated`] | `valid/MEMBER_UPDATED.json` | see wit/ | see wit/ |
//! | `MESSAGE_CREATED` (ext.) | event | `discord:events` | [`MessageCreated`] | `valid/MESSAGE_CREATED.json` | see wit/ | see wit/ |
//! | `MESSAGE_DELETED` | event | `discord:events` | [`MessageDeleted`] | `valid/MESSAGE_DELETED.json` | see wit/ | see wit/ |
//! | `MESSAGE_EDITED` | event | `discord:events` | [`MessageEdited`] | `valid/MESSAGE_EDITED.json` | see wit/ | see wit/ |
//! | `MESSAGE_BULK_DELETED` | event | `discord:events` | [`MessageBulkDeleted`] | `valid/MESSAGE_BULK_DELETED.json` | see wit/ | see wit/ |
//! | `CHANNEL_CREATED` | event | `discord:events` | [`ChannelCreated`] | `valid/CHANNEL_CREATED.json` | see wit/ | see wit/ |
//! | `ROLE_CREATED` | event | `discord:events` | [`RoleCreated`] | `valid/ROLE_CREATED.json` | see wit/ | see wit/ |
//! | `CASE_CREATED` | event | `moderation:events` | [`CaseCreated`] | `valid/CASE_CREATED.json` | see wit/ | see wit/ |
//! | `CASE_UPDATED` | event | `moderation:events` | [`CaseUpdated`] | `valid/CASE_UPDATED.json` | see wit/ | see wit/ |
//! | `MODERATION_ACTION_COMPLETED` | event | `moderation:events` | [`ModerationActionCompleted`] | `valid/MODERATION_ACTION_COMPLETED.json` | see wit/ | see wit/ |
//! | `AUTOMOD_TRIGGERED` | event | `moderation:events` | [`AutomodTriggered`] | `valid/AUTOMOD_TRIGGERED.json` | see wit/ | see wit/ |
//! | `MUSIC_STARTED` | event | `music:events` | [`MusicStarted`] | `valid/MUSIC_STARTED.json` | see wit/ | see wit/ |
//! | `MUSIC_ENDED` | event | `music:events` | [`MusicEnded`] | `valid/MUSIC_ENDED.json` | see wit/ | see wit/ |
//! | `MUSIC_PAUSED` | event | `music:events` | [`MusicPaused`] | `valid/MUSIC_PAUSED.json` | see wit/ | see wit/ |
//! | `TRACK_ADDED` | event | `music:events` | [`TrackAdded`] | `valid/TRACK_ADDED.json` | see wit/ | see wit/ |
//! | `QUEUE_CLEARED` | event | `music:events` | [`QueueCleared`] | `valid/QUEUE_CLEARED.json` | see wit/ | see wit/ |
//! | `USER_NOTIFICATION` | event | `notifications` | [`UserNotification`] | `valid/USER_NOTIFICATION.json` | see wit/ | see wit/ |
//! | `BROADCAST_NOTIFICATION` | event | `notifications` | [`BroadcastNotification`] | `valid/BROADCAST_NOTIFICATION.json` | see wit/ | see wit/ |
//! | `SCHEDULED_TASK` | event | `scheduled:tasks` | [`ScheduledTask`] | `valid/SCHEDULED_TASK.json` | see wit/ | see wit/ |
//! | `CLEANUP_EXPIRED_CASES` | event | `cleanup:tasks` | [`CleanupExpiredCases`] | `valid/CLEANUP_EXPIRED_CASES.json` | see wit/ | see wit/ |
//! | any other `type` | — | `webhooks`, `analytics`, … | [`Payload::Custom`] | `valid/custom/ANALYTICS_PAGE_VIEW.json` | see wit/ | see wit/ |

pub mod commands;
pub mod discord;
pub mod envelope;
pub mod error;
pub mod events;
pub mod message;
pub mod message_type;
pub mod primitives;
pub mod validate;

pub use commands::*;
pub use discord::*;
pub use envelope::{Envelope, Priority, Source};
pub use error::ProtocolError;
pub use events::*;
pub use message::{Message, Payload, TypePolicy};
pub use message_type::{MessageKind, MessageType, QueueName};
pub use primitives::{JsNumber, Snowflake, Timestamp};
pub use validate::{Validate, limits};
