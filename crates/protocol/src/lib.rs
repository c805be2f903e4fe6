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
//! [`Validate`]; the golden fixtures in `tests/fixtures/invalid/` show one failure per rule.
//!
//! # Coverage
//!
//! Every message type with its Rust payload and golden fixture (under `tests/fixtures/`). The
//! WIT case is the `message` variant's case in `wit/types.wit`; the conversion to and from it is
//! `guildhost::dispatch::convert`, whose test converts every valid fixture both ways. The table is
//! generated from `wit/types.wit` by `guildhost-sourcegen`; `host/tests/protocol_coverage.rs`
//! checks it against [`MessageType::ALL`] and the fixture files.
#![doc = ""]
#![doc = include_str!("generated/coverage.md")]

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
