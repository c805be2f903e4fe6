//! Payloads of the events (the `data` of a message reporting what happened): the seed's 21
//! events — Discord, moderation, music, notification and scheduled — and guildhost's
//! `MESSAGE_CREATED` and `INTERACTION_CREATED` extensions.
//!
//! Field names are the seed's TypeScript names; absent optionals are omitted on output, and a
//! `null` optional reads as absent. Fields a newer sender adds land in `extra` and are written back.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::commands::Severity;
use super::discord::{ChannelType, CommandOption, ExtraFields};
use super::primitives::{JsNumber, Snowflake, Timestamp};

// ---------------------------------------------------------------- shared shapes

/// A change where both sides are always known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change<T> {
    /// Value before.
    pub old: T,
    /// Value after.
    pub new: T,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A change where either side may be unset (no nickname, no timeout, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionalChange<T> {
    /// Value before, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<T>,
    /// Value after, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<T>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

// ---------------------------------------------------------------- member events

/// `MEMBER_JOINED`: a user joined the guild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberJoined {
    /// The user.
    pub user: JoinedUser,
    /// The new membership.
    pub member: JoinedMember,
    /// Invite used to join.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_code: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The user of a [`MemberJoined`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedUser {
    /// User id.
    pub id: Snowflake,
    /// User name.
    pub username: String,
    /// Legacy discriminator (`"0"` for migrated users).
    pub discriminator: String,
    /// Avatar hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Whether the user is a bot.
    pub bot: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The membership of a [`MemberJoined`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinedMember {
    /// When the user joined.
    pub joined_at: Timestamp,
    /// Role ids.
    pub roles: Vec<Snowflake>,
    /// Guild nickname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Whether membership screening is still pending.
    pub pending: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `MEMBER_LEFT`: a member left, was kicked or banned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberLeft {
    /// The user.
    pub user: DepartedUser,
    /// The membership that ended.
    pub member: DepartedMember,
    /// How the member left.
    pub reason: LeaveReason,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The user of a [`MemberLeft`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartedUser {
    /// User id.
    pub id: Snowflake,
    /// User name.
    pub username: String,
    /// Legacy discriminator.
    pub discriminator: String,
    /// Avatar hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The membership of a [`MemberLeft`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartedMember {
    /// When the user had joined.
    pub joined_at: Timestamp,
    /// Role ids held.
    pub roles: Vec<Snowflake>,
    /// Guild nickname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// How a member left the guild.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LeaveReason {
    /// `LEFT`: on their own.
    Left,
    /// `KICKED`
    Kicked,
    /// `BANNED`
    Banned,
}

/// `MEMBER_UPDATED`: a member's nickname, roles or timeout changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberUpdated {
    /// Member changed.
    pub user_id: Snowflake,
    /// What changed.
    pub changes: MemberChanges,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The changes of a [`MemberUpdated`] event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberChanges {
    /// Nickname change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<OptionalChange<String>>,
    /// Roles added and removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<RoleChanges>,
    /// Timeout change (the instant the timeout ends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<OptionalChange<Timestamp>>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Roles added to and removed from a member.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleChanges {
    /// Role ids added.
    pub added: Vec<Snowflake>,
    /// Role ids removed.
    pub removed: Vec<Snowflake>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

// ---------------------------------------------------------------- message events

/// `MESSAGE_CREATED` (guildhost extension, not in the seed): a message was posted in a guild.
///
/// What automod plugins inspect. The required fields come from Discord's `MESSAGE_CREATE`;
/// the optional ones let a demanding automod judge the author (roles, bot, account age) without
/// a Discord call, and are filled by the gateway ingest when it knows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageCreated {
    /// The message.
    pub message_id: Snowflake,
    /// Channel it was posted in.
    pub channel_id: Snowflake,
    /// Author.
    pub author_id: Snowflake,
    /// Text (empty without the MESSAGE_CONTENT intent, or for attachment-only messages).
    pub content: String,
    /// Who the message mentions.
    pub mentions: Mentions,
    /// Number of attachments.
    pub attachment_count: u32,
    /// When it was posted.
    pub timestamp: Timestamp,
    /// The author's role ids in the guild.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_roles: Option<Vec<Snowflake>>,
    /// Whether the author is a bot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_bot: Option<bool>,
    /// Whether a webhook posted it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_webhook: Option<bool>,
    /// When the author's account was created (for new-account rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_created_at: Option<Timestamp>,
    /// When the author joined the guild (for new-member rules).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_joined_at: Option<Timestamp>,
    /// Number of embeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed_count: Option<u32>,
    /// Number of stickers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticker_count: Option<u32>,
    /// Message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referenced_message_id: Option<Snowflake>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Mentions in a [`MessageCreated`] event.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mentions {
    /// User ids mentioned.
    pub users: Vec<Snowflake>,
    /// Role ids mentioned.
    pub roles: Vec<Snowflake>,
    /// Whether `@everyone` or `@here` was mentioned.
    pub everyone: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `INTERACTION_CREATED` (guildhost extension, not in the seed): a member used an application
/// command, clicked a button, picked from a select menu, submitted a modal, or is typing an
/// option that autocompletes. The envelope names the guild (absent in a DM) and the member
/// (`userId`). Only one plugin receives it, and its `INTERACTION_REPLY` is the answer: for a
/// command or an autocomplete, the plugin that declared the command; for a component or a modal,
/// the plugin whose name prefixes the `customId` (`poll:vote` belongs to the plugin `poll`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionCreated {
    /// What the member did (`command` when absent, as before the other kinds existed).
    #[serde(default)]
    pub kind: InteractionKind,
    /// The interaction.
    pub interaction_id: Snowflake,
    /// The bot's application.
    pub application_id: Snowflake,
    /// The token the answer needs (valid for 15 minutes).
    pub token: String,
    /// The registered command (commands and autocomplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Snowflake>,
    /// The command's name, as declared, 1–32 characters (commands and autocomplete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_name: Option<String>,
    /// The options the member filled in, as Discord sends them (`name`, `type`, `value`, nested
    /// `options` for subcommands; in an autocomplete, the option being typed has
    /// `focused: true`).
    #[serde(default)]
    pub options: Vec<CommandOption>,
    /// The component's or the modal's `custom_id` (components and modal submits), 1–100
    /// characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<String>,
    /// The component's type: 2 button, 3 string select, 5–8 user, role, mentionable and channel
    /// selects (components).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_type: Option<u8>,
    /// What the member picked in a select menu (components).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
    /// The text the member typed into each field of a modal, by the field's `custom_id`
    /// (modal submits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
    /// The message the component is on (components; modals opened from a component).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Snowflake>,
    /// The member (or user, in a DM) who used the command.
    pub user_id: Snowflake,
    /// The channel it was used in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<Snowflake>,
    /// The member's permissions in that channel, a bitfield as a decimal string (guilds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_permissions: Option<String>,
    /// The member's client language, e.g. `en-US`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// What a member did to cause an [`InteractionCreated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InteractionKind {
    /// Used an application command (Discord's type 2).
    #[default]
    Command,
    /// Clicked a button or picked from a select menu (type 3).
    Component,
    /// Typed into an option that autocompletes (type 4); answered with choices only, and
    /// within Discord's 3 s (it cannot be deferred).
    Autocomplete,
    /// Submitted a modal (type 5).
    ModalSubmit,
}

impl InteractionKind {
    /// Whether the interaction belongs to a declared command (else to a component's owner).
    pub fn is_command(self) -> bool {
        matches!(self, Self::Command | Self::Autocomplete)
    }
}

/// `MESSAGE_DELETED`: a message was deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    /// The message.
    pub message_id: Snowflake,
    /// Its channel.
    pub channel_id: Snowflake,
    /// Author, if the message was cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author_id: Option<Snowflake>,
    /// Text, if the message was cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Who deleted it, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<Snowflake>,
    /// When it was deleted.
    pub timestamp: Timestamp,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `MESSAGE_EDITED`: a message was edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    /// The message.
    pub message_id: Snowflake,
    /// Its channel.
    pub channel_id: Snowflake,
    /// Author.
    pub author_id: Snowflake,
    /// Text before, if cached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_content: Option<String>,
    /// Text after.
    pub new_content: String,
    /// When it was edited.
    pub edited_at: Timestamp,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `MESSAGE_BULK_DELETED`: messages were deleted in bulk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageBulkDeleted {
    /// The messages.
    pub message_ids: Vec<Snowflake>,
    /// Their channel.
    pub channel_id: Snowflake,
    /// Who deleted them, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<Snowflake>,
    /// Number of messages; equals the length of `messageIds`.
    pub count: u32,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

// ---------------------------------------------------------------- server events

/// `CHANNEL_CREATED`: a channel was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCreated {
    /// The channel.
    pub channel: CreatedChannel,
    /// Who created it, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Snowflake>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The channel of a [`ChannelCreated`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedChannel {
    /// Channel id.
    pub id: Snowflake,
    /// Name (1–100 characters).
    pub name: String,
    /// Channel type.
    #[serde(rename = "type")]
    pub channel_type: ChannelType,
    /// Sorting position.
    pub position: i64,
    /// Parent category.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Snowflake>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `ROLE_CREATED`: a role was created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleCreated {
    /// The role.
    pub role: CreatedRole,
    /// Who created it, if known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<Snowflake>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The role of a [`RoleCreated`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedRole {
    /// Role id.
    pub id: Snowflake,
    /// Name (1–100 characters).
    pub name: String,
    /// Colour, `0xRRGGBB`.
    pub color: u32,
    /// Sorting position.
    pub position: i64,
    /// Permission bitfield as a decimal string, as Discord writes it.
    pub permissions: String,
    /// Whether anyone may mention it.
    pub mentionable: bool,
    /// Whether members are listed apart.
    pub hoist: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

// ---------------------------------------------------------------- moderation events

/// `CASE_CREATED`: a moderation case was opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseCreated {
    /// The case.
    pub case: ModerationCase,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A moderation case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModerationCase {
    /// Case id (the API's database id).
    pub id: String,
    /// Case number within the guild.
    pub case_number: u64,
    /// What kind of case.
    #[serde(rename = "type")]
    pub case_type: CaseType,
    /// Member concerned.
    pub user_id: Snowflake,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Reason (≤ 512 characters).
    pub reason: String,
    /// Length (hours for bans, seconds for timeouts, as the command carried it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<JsNumber>,
    /// Case status.
    pub status: CaseStatus,
    /// Evidence links or notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Vec<String>>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Kind of moderation case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseType {
    /// `BAN`
    Ban,
    /// `KICK`
    Kick,
    /// `TIMEOUT`
    Timeout,
    /// `WARN`
    Warn,
    /// `NOTE`
    Note,
}

/// Status of a moderation case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CaseStatus {
    /// `ACTIVE`
    Active,
    /// `EXPIRED`
    Expired,
    /// `REVOKED`
    Revoked,
}

/// `CASE_UPDATED`: a moderation case changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseUpdated {
    /// Case changed.
    pub case_id: String,
    /// What changed.
    pub changes: CaseChanges,
    /// Who changed it.
    pub updated_by: Snowflake,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The changes of a [`CaseUpdated`] event (the seed types status and reason as plain strings).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseChanges {
    /// Status change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Change<String>>,
    /// Reason change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Change<String>>,
    /// Duration change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<OptionalChange<JsNumber>>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `MODERATION_ACTION_COMPLETED`: a moderation action ran against Discord.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModerationActionCompleted {
    /// Action run.
    pub action: ModerationAction,
    /// Member concerned.
    pub user_id: Snowflake,
    /// Whether Discord accepted it.
    pub success: bool,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Linked case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// Moderator responsible.
    pub executed_by: Snowflake,
    /// When it ran.
    pub timestamp: Timestamp,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// A moderation action run against Discord.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ModerationAction {
    /// `BAN`
    Ban,
    /// `KICK`
    Kick,
    /// `TIMEOUT`
    Timeout,
    /// `UNBAN`
    Unban,
}

/// `AUTOMOD_TRIGGERED`: an automod rule fired.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutomodTriggered {
    /// Rule that fired.
    pub rule: String,
    /// Author of the offending message.
    pub user_id: Snowflake,
    /// Channel.
    pub channel_id: Snowflake,
    /// Offending message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<Snowflake>,
    /// Action taken.
    pub action: AutomodAction,
    /// Severity.
    pub severity: Severity,
    /// Offending content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// What automod did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AutomodAction {
    /// `DELETE`
    Delete,
    /// `TIMEOUT`
    Timeout,
    /// `WARN`
    Warn,
}

// ---------------------------------------------------------------- music events

/// A track, as music events describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Track {
    /// Track id (the player's, not a snowflake).
    pub id: String,
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: String,
    /// Length (the player's unit; ≥ 0).
    pub duration: JsNumber,
    /// Thumbnail URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// Source URL.
    pub url: String,
    /// User who asked for it.
    pub requested_by: Snowflake,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `MUSIC_STARTED`: a track started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicStarted {
    /// The track.
    pub track: Track,
    /// Voice channel playing.
    pub voice_channel_id: Snowflake,
    /// Its position in the queue.
    pub queue_position: u32,
    /// Queue length.
    pub total_queue_size: u32,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `MUSIC_ENDED`: a track stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicEnded {
    /// The track.
    pub track_id: String,
    /// Why it stopped.
    pub reason: MusicEndReason,
    /// How long it played (≥ 0).
    pub duration: JsNumber,
    /// Track that plays next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_track_id: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Why a track stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MusicEndReason {
    /// `FINISHED`
    Finished,
    /// `SKIPPED`
    Skipped,
    /// `STOPPED`
    Stopped,
    /// `ERROR`
    Error,
}

/// `MUSIC_PAUSED`: playback paused or resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicPaused {
    /// `true` when paused.
    pub paused: bool,
    /// User who asked.
    pub requested_by: Snowflake,
    /// Playback position at that moment (≥ 0).
    pub current_position: JsNumber,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `TRACK_ADDED`: a track joined the queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackAdded {
    /// The track.
    pub track: Track,
    /// Its position in the queue.
    pub position: u32,
    /// Queue length.
    pub total_queue_size: u32,
    /// When it was added.
    pub added_at: Timestamp,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `QUEUE_CLEARED`: the music queue was emptied.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueCleared {
    /// Who cleared it.
    pub cleared_by: Snowflake,
    /// Tracks removed.
    pub track_count: u32,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

// ---------------------------------------------------------------- notifications

/// `USER_NOTIFICATION`: notify one user on the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserNotification {
    /// Recipient.
    pub target_user_id: Snowflake,
    /// The notification.
    pub notification: UserNotice,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The notification of a [`UserNotification`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserNotice {
    /// Notification id.
    pub id: String,
    /// Tone.
    #[serde(rename = "type")]
    pub notice_type: NoticeType,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// Link for the action button.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_url: Option<String>,
    /// Label of the action button.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action_text: Option<String>,
    /// Whether it persists across sessions.
    pub persistent: bool,
    /// When it expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Tone of a user notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoticeType {
    /// `SUCCESS`
    Success,
    /// `INFO`
    Info,
    /// `WARNING`
    Warning,
    /// `ERROR`
    Error,
}

/// `BROADCAST_NOTIFICATION`: notify every user of a guild, or of all guilds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastNotification {
    /// Guild addressed; absent means all guilds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_guild_id: Option<Snowflake>,
    /// Only users holding one of these roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_roles: Option<Vec<Snowflake>>,
    /// The notification.
    pub notification: Broadcast,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The notification of a [`BroadcastNotification`] event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Broadcast {
    /// Kind.
    #[serde(rename = "type")]
    pub broadcast_type: BroadcastType,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// Urgency.
    pub priority: BroadcastPriority,
    /// Where to show it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<BroadcastChannel>>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Kind of broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BroadcastType {
    /// `ANNOUNCEMENT`
    Announcement,
    /// `MAINTENANCE`
    Maintenance,
    /// `UPDATE`
    Update,
}

/// Urgency of a broadcast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BroadcastPriority {
    /// `LOW`
    Low,
    /// `NORMAL`
    Normal,
    /// `HIGH`
    High,
}

/// Where a broadcast is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BroadcastChannel {
    /// `DASHBOARD`
    Dashboard,
    /// `DISCORD`
    Discord,
}

// ---------------------------------------------------------------- scheduled tasks

/// `SCHEDULED_TASK`: a scheduled task is due.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledTask {
    /// Kind of task.
    pub task_type: TaskType,
    /// Task-specific data, kept as JSON (`null` included; absent when the sender left it undefined).
    #[serde(
        default,
        deserialize_with = "present_json",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_data: Option<Value>,
    /// When it runs.
    pub schedule: Schedule,
    /// Next run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_run: Option<Timestamp>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Reads a present field as `Some`, even when it is `null`, so `unknown` data round-trips.
fn present_json<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Kind of scheduled task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskType {
    /// `CLEANUP`
    Cleanup,
    /// `BACKUP`
    Backup,
    /// `ANALYTICS`
    Analytics,
    /// `REMINDERS`
    Reminders,
}

/// When a [`ScheduledTask`] runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// Cron expression (not empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Interval in milliseconds (≥ 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<u64>,
    /// Whether it runs once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_once: Option<bool>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `CLEANUP_EXPIRED_CASES`: expired moderation cases are due for cleanup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupExpiredCases {
    /// Guild to clean; absent means all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<Snowflake>,
    /// Case types to clean (the seed types them as plain strings).
    pub case_types: Vec<String>,
    /// Clean cases that expired before this instant.
    pub expired_before: Timestamp,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}
