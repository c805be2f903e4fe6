//! The message protocol shared with the Node API: the envelope, every message type, validation.
//!
//! The specification is the seed `message-queue-patterns.md`: every message is a JSON object
//! `BaseQueueMessage` (`id`, `type`, `timestamp`, `source`, optional `guildId`, `userId`,
//! `requestId`, `priority`, and a type-specific `data`). A [`Message`] is an [`Envelope`] plus a
//! [`Payload`], the enum with one variant per [`MessageType`] and [`Payload::Custom`] for types
//! the protocol does not define (the API's `webhooks` and `analytics` queues carry such).
//!
//! ```
//! use guildhost_protocol::{Message, MessageType, Payload};
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
//! # Ok::<(), guildhost_protocol::ProtocolError>(())
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
//! * `host/tests/protocol_node.rs` checks all of this against real Node: documents built as the
//!   seed builds them decode, and Node re-stringifies what the host writes to the same text.
//! * Fields this version does not define — in the envelope or in any payload object — are kept
//!   in an `extra` map and written back, so a newer API can add fields without breaking the host.
//!
//! # Extensions
//!
//! guildhost adds five types the seed lacks, marked by [`MessageType::is_extension`]:
//! `MESSAGE_CREATED` (an event, for automod), `DELETE_MESSAGE` and `WARN_USER` (commands that
//! plugins emit), and `INTERACTION_CREATED` / `INTERACTION_REPLY` (an application command used,
//! and the declaring plugin's answer). They follow the seed's conventions and travel on the
//! seed's queues. The two interaction types have no case of their own in WIT `0.1.0`: plugins
//! see and emit them as `custom` messages with this JSON as `data`.
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
//! WIT case is the `message` variant's case in `wit/types.wit`; the conversion to and from it is
//! `guildhost::dispatch::convert`, whose test converts every valid fixture both ways. The table is
//! checked against [`MessageType::ALL`] and the fixture files by `host/tests/protocol_coverage.rs`.
//!
//! | Type | Kind | Queue | Rust payload | Fixture | WIT case | Conversion |
//! |------|------|-------|--------------|---------|----------|------------|
//! | `SEND_MESSAGE` | command | `bot:commands` | [`SendMessage`] | `valid/SEND_MESSAGE.json` | `send-message` | `dispatch::convert`, both ways |
//! | `SEND_DM` | command | `bot:commands` | [`SendDm`] | `valid/SEND_DM.json` | `send-dm` | `dispatch::convert`, both ways |
//! | `DELETE_MESSAGE` (ext.) | command | `bot:commands` | [`DeleteMessage`] | `valid/DELETE_MESSAGE.json` | `delete-message` | `dispatch::convert`, both ways |
//! | `INTERACTION_REPLY` (ext.) | command | `bot:commands` | [`InteractionReply`] | `valid/INTERACTION_REPLY.json` | `custom` | `dispatch::convert`, both ways |
//! | `BAN_USER` | command | `bot:moderation` | [`BanUser`] | `valid/BAN_USER.json` | `ban-user` | `dispatch::convert`, both ways |
//! | `KICK_USER` | command | `bot:moderation` | [`KickUser`] | `valid/KICK_USER.json` | `kick-user` | `dispatch::convert`, both ways |
//! | `TIMEOUT_USER` | command | `bot:moderation` | [`TimeoutUser`] | `valid/TIMEOUT_USER.json` | `timeout-user` | `dispatch::convert`, both ways |
//! | `UNBAN_USER` | command | `bot:moderation` | [`UnbanUser`] | `valid/UNBAN_USER.json` | `unban-user` | `dispatch::convert`, both ways |
//! | `WARN_USER` (ext.) | command | `bot:moderation` | [`WarnUser`] | `valid/WARN_USER.json` | `warn-user` | `dispatch::convert`, both ways |
//! | `PLAY_MUSIC` | command | `bot:music` | [`PlayMusic`] | `valid/PLAY_MUSIC.json` | `play-music` | `dispatch::convert`, both ways |
//! | `SKIP_MUSIC` | command | `bot:music` | [`SkipMusic`] | `valid/SKIP_MUSIC.json` | `skip-music` | `dispatch::convert`, both ways |
//! | `PAUSE_MUSIC` | command | `bot:music` | [`PauseMusic`] | `valid/PAUSE_MUSIC.json` | `pause-music` | `dispatch::convert`, both ways |
//! | `SET_VOLUME` | command | `bot:music` | [`SetVolume`] | `valid/SET_VOLUME.json` | `set-volume` | `dispatch::convert`, both ways |
//! | `SET_REPEAT` | command | `bot:music` | [`SetRepeat`] | `valid/SET_REPEAT.json` | `set-repeat` | `dispatch::convert`, both ways |
//! | `UPDATE_CONFIG` | command | `bot:config` | [`UpdateConfig`] | `valid/UPDATE_CONFIG.json` | `update-config` | `dispatch::convert`, both ways |
//! | `RELOAD_COMMANDS` | command | `bot:config` | [`ReloadCommands`] | `valid/RELOAD_COMMANDS.json` | `reload-commands` | `dispatch::convert`, both ways |
//! | `MEMBER_JOINED` | event | `discord:events` | [`MemberJoined`] | `valid/MEMBER_JOINED.json` | `member-joined` | `dispatch::convert`, both ways |
//! | `MEMBER_LEFT` | event | `discord:events` | [`MemberLeft`] | `valid/MEMBER_LEFT.json` | `member-left` | `dispatch::convert`, both ways |
//! | `MEMBER_UPDATED` | event | `discord:events` | [`MemberUpdated`] | `valid/MEMBER_UPDATED.json` | `member-updated` | `dispatch::convert`, both ways |
//! | `MESSAGE_CREATED` (ext.) | event | `discord:events` | [`MessageCreated`] | `valid/MESSAGE_CREATED.json` | `message-created` | `dispatch::convert`, both ways |
//! | `INTERACTION_CREATED` (ext.) | event | `discord:events` | [`InteractionCreated`] | `valid/INTERACTION_CREATED.json` | `custom` | `dispatch::convert`, both ways |
//! | `MESSAGE_DELETED` | event | `discord:events` | [`MessageDeleted`] | `valid/MESSAGE_DELETED.json` | `message-deleted` | `dispatch::convert`, both ways |
//! | `MESSAGE_EDITED` | event | `discord:events` | [`MessageEdited`] | `valid/MESSAGE_EDITED.json` | `message-edited` | `dispatch::convert`, both ways |
//! | `MESSAGE_BULK_DELETED` | event | `discord:events` | [`MessageBulkDeleted`] | `valid/MESSAGE_BULK_DELETED.json` | `message-bulk-deleted` | `dispatch::convert`, both ways |
//! | `CHANNEL_CREATED` | event | `discord:events` | [`ChannelCreated`] | `valid/CHANNEL_CREATED.json` | `channel-created` | `dispatch::convert`, both ways |
//! | `ROLE_CREATED` | event | `discord:events` | [`RoleCreated`] | `valid/ROLE_CREATED.json` | `role-created` | `dispatch::convert`, both ways |
//! | `CASE_CREATED` | event | `moderation:events` | [`CaseCreated`] | `valid/CASE_CREATED.json` | `case-created` | `dispatch::convert`, both ways |
//! | `CASE_UPDATED` | event | `moderation:events` | [`CaseUpdated`] | `valid/CASE_UPDATED.json` | `case-updated` | `dispatch::convert`, both ways |
//! | `MODERATION_ACTION_COMPLETED` | event | `moderation:events` | [`ModerationActionCompleted`] | `valid/MODERATION_ACTION_COMPLETED.json` | `moderation-action-completed` | `dispatch::convert`, both ways |
//! | `AUTOMOD_TRIGGERED` | event | `moderation:events` | [`AutomodTriggered`] | `valid/AUTOMOD_TRIGGERED.json` | `automod-triggered` | `dispatch::convert`, both ways |
//! | `MUSIC_STARTED` | event | `music:events` | [`MusicStarted`] | `valid/MUSIC_STARTED.json` | `music-started` | `dispatch::convert`, both ways |
//! | `MUSIC_ENDED` | event | `music:events` | [`MusicEnded`] | `valid/MUSIC_ENDED.json` | `music-ended` | `dispatch::convert`, both ways |
//! | `MUSIC_PAUSED` | event | `music:events` | [`MusicPaused`] | `valid/MUSIC_PAUSED.json` | `music-paused` | `dispatch::convert`, both ways |
//! | `TRACK_ADDED` | event | `music:events` | [`TrackAdded`] | `valid/TRACK_ADDED.json` | `track-added` | `dispatch::convert`, both ways |
//! | `QUEUE_CLEARED` | event | `music:events` | [`QueueCleared`] | `valid/QUEUE_CLEARED.json` | `queue-cleared` | `dispatch::convert`, both ways |
//! | `USER_NOTIFICATION` | event | `notifications` | [`UserNotification`] | `valid/USER_NOTIFICATION.json` | `user-notification` | `dispatch::convert`, both ways |
//! | `BROADCAST_NOTIFICATION` | event | `notifications` | [`BroadcastNotification`] | `valid/BROADCAST_NOTIFICATION.json` | `broadcast-notification` | `dispatch::convert`, both ways |
//! | `SCHEDULED_TASK` | event | `scheduled:tasks` | [`ScheduledTask`] | `valid/SCHEDULED_TASK.json` | `scheduled-task` | `dispatch::convert`, both ways |
//! | `CLEANUP_EXPIRED_CASES` | event | `cleanup:tasks` | [`CleanupExpiredCases`] | `valid/CLEANUP_EXPIRED_CASES.json` | `cleanup-expired-cases` | `dispatch::convert`, both ways |
//! | any other `type` | — | `webhooks`, `analytics`, … | [`Payload::Custom`] | `valid/custom/ANALYTICS_PAGE_VIEW.json` | `custom` | `dispatch::convert`, both ways |

mod commands;
mod discord;
mod envelope;
mod error;
mod events;
mod message;
mod message_type;
mod primitives;
mod validate;

pub use commands::*;
pub use discord::*;
pub use envelope::{Envelope, Priority, Source};
pub use error::ProtocolError;
pub use events::*;
pub use message::{Message, Payload, TypePolicy};
pub use message_type::{MessageKind, MessageType, QueueName};
pub use primitives::{JsNumber, Snowflake, Timestamp};
pub use validate::{Validate, limits};
