//! Payloads of the commands (the `data` of a message asking the bot to act): the seed's 13
//! commands and guildhost's three extensions, `DELETE_MESSAGE`, `WARN_USER` and
//! `INTERACTION_REPLY`.
//!
//! Field names are the seed's TypeScript names; absent optionals are omitted on output, and a
//! `null` optional reads as absent. Fields a newer API adds land in `extra` and are written back.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::discord::{DiscordAttachment, DiscordComponent, DiscordEmbed, ExtraFields, GuildConfig};
use super::primitives::{JsNumber, Snowflake};

/// `SEND_MESSAGE`: post a message in a channel. Needs `content`, `embeds` or `files`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    /// Channel to post in.
    pub channel_id: Snowflake,
    /// Text (≤ 2000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Embeds (≤ 10, 6000 characters in total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<DiscordEmbed>>,
    /// Components, passed to Discord as they are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<DiscordComponent>>,
    /// Files (≤ 10).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<DiscordAttachment>>,
    /// Message this one replies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<ReplyTo>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// The message a [`SendMessage`] replies to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyTo {
    /// Message replied to.
    pub message_id: Snowflake,
    /// Whether to fail when that message is gone (Discord's default is `true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_if_not_exists: Option<bool>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `INTERACTION_REPLY` (guildhost extension, not in the seed): the answer to an
/// `INTERACTION_CREATED`, emitted by the plugin it reached. What it does is its `response`:
///
/// - `message` (the default): a message answering the member. Needs `content`, `embeds` or
///   `components`. Sent as the interaction's response, or, when the host had to defer it
///   (Discord allows 3 s for the first answer), as the edit of the deferred response (a command)
///   or as a follow-up message (a component).
/// - `update`: replaces the message the clicked component is on (components and modals opened
///   from one). Needs `content`, `embeds` or `components`.
/// - `modal`: opens a form (`customId`, `title`, and 1–5 action rows of text inputs in
///   `components`). Only as the first answer: a deferred interaction cannot open one.
/// - `autocomplete`: the choices for the option being typed (`choices`, at most 25).
///
/// Every `custom_id` a plugin sends (components, the modal's) must start with the plugin's name
/// and `:`, so the clicks come back to it and to no other plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InteractionReply {
    /// The interaction answered (its `INTERACTION_CREATED`'s `interactionId`).
    pub interaction_id: Snowflake,
    /// The interaction's token (its `INTERACTION_CREATED`'s `token`).
    pub token: String,
    /// What the answer does (`message` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<ReplyKind>,
    /// Text (≤ 2000 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Embeds (≤ 10, 6000 characters in total).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<DiscordEmbed>>,
    /// Components, passed to Discord as they are (a modal's action rows of text inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<DiscordComponent>>,
    /// Only the member who used the command sees the answer. A response the host already
    /// deferred stays visible to everyone (Discord fixes that when deferring).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<bool>,
    /// The modal's `custom_id` (≤ 100 characters; `modal` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<String>,
    /// The modal's title (≤ 45 characters; `modal` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The choices offered, each `{name, value}` as Discord takes them (≤ 25; `autocomplete`
    /// only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<Value>>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

impl InteractionReply {
    /// What the answer does.
    pub fn kind(&self) -> ReplyKind {
        self.response.unwrap_or_default()
    }
}

/// What an [`InteractionReply`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReplyKind {
    /// A message answering the member.
    #[default]
    Message,
    /// Replaces the message the component is on.
    Update,
    /// Opens a modal.
    Modal,
    /// Offers autocomplete choices.
    Autocomplete,
}

/// `SEND_DM`: send a direct message. Needs `content` or `embeds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendDm {
    /// Recipient.
    pub user_id: Snowflake,
    /// Text (≤ 2000 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Embeds (≤ 10, 6000 characters in total).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeds: Option<Vec<DiscordEmbed>>,
    /// Audit-log reason (≤ 512 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `DELETE_MESSAGE` (guildhost extension, not in the seed): delete one message. Emitted by
/// automod plugins; the executor deletes it with `reason` in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteMessage {
    /// Channel holding the message.
    pub channel_id: Snowflake,
    /// Message to delete.
    pub message_id: Snowflake,
    /// Audit-log reason (≤ 512 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `BAN_USER`: ban a user, optionally for a limited time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BanUser {
    /// User to ban.
    pub user_id: Snowflake,
    /// Audit-log reason (≤ 512 characters).
    pub reason: String,
    /// Days of the user's messages to delete (0–7).
    pub delete_message_days: u32,
    /// Ban length in hours (> 0); absent or `null` means permanent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<JsNumber>,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Moderation case to link (the API's case id, not a snowflake).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// Whether to DM the user first.
    pub notify_user: bool,
    /// Whether to open a moderation case.
    pub create_case: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `KICK_USER`: remove a member from the guild.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KickUser {
    /// Member to kick.
    pub user_id: Snowflake,
    /// Audit-log reason (≤ 512 characters).
    pub reason: String,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Moderation case to link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// Whether to DM the user first.
    pub notify_user: bool,
    /// Whether to open a moderation case.
    pub create_case: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `TIMEOUT_USER`: time a member out with Discord's timeout feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeoutUser {
    /// Member to time out.
    pub user_id: Snowflake,
    /// Length in seconds (1 s to 28 days).
    pub duration: u64,
    /// Audit-log reason (≤ 512 characters).
    pub reason: String,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Moderation case to link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// Whether to DM the user first.
    pub notify_user: bool,
    /// Whether to open a moderation case.
    pub create_case: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `UNBAN_USER`: lift a ban.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnbanUser {
    /// User to unban.
    pub user_id: Snowflake,
    /// Audit-log reason (≤ 512 characters).
    pub reason: String,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Existing case to update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// Whether to DM the user.
    pub notify_user: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `WARN_USER` (guildhost extension, not in the seed): record a warning against a member.
/// Emitted by moderation and automod plugins; warnings feed escalation ladders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WarnUser {
    /// Member warned.
    pub user_id: Snowflake,
    /// Why (≤ 512 characters, like every moderation reason).
    pub reason: String,
    /// Moderator responsible (the bot's id for automatic warnings).
    pub moderator_id: Snowflake,
    /// Moderation case to link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    /// How serious the warning is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Severity of a warning or automod hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    /// `LOW`
    Low,
    /// `MEDIUM`
    Medium,
    /// `HIGH`
    High,
}

/// `PLAY_MUSIC`: queue a track or play it at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayMusic {
    /// Search query or URL (not empty).
    pub query: String,
    /// User asking.
    pub requested_by: Snowflake,
    /// Voice channel to join.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_channel_id: Option<Snowflake>,
    /// Put the track at the front of the queue.
    pub play_next: bool,
    /// Skip the current track and play this one now.
    pub play_now: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `SKIP_MUSIC`: skip tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkipMusic {
    /// User asking.
    pub requested_by: Snowflake,
    /// Number of tracks to skip (≥ 1).
    pub skip_count: u32,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `PAUSE_MUSIC`: pause or resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseMusic {
    /// `true` pauses, `false` resumes.
    pub paused: bool,
    /// User asking.
    pub requested_by: Snowflake,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `SET_VOLUME`: set the player volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetVolume {
    /// Volume in percent (0–100).
    pub volume: u32,
    /// User asking.
    pub requested_by: Snowflake,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `SET_REPEAT`: set the repeat mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetRepeat {
    /// Repeat mode.
    pub mode: RepeatMode,
    /// User asking.
    pub requested_by: Snowflake,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// What the player repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RepeatMode {
    /// `OFF`: nothing.
    Off,
    /// `TRACK`: the current track.
    Track,
    /// `QUEUE`: the whole queue.
    Queue,
}

/// `UPDATE_CONFIG`: a guild's configuration changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateConfig {
    /// The changed part of the configuration (`Partial<GuildConfig>`), kept as JSON.
    pub config: GuildConfig,
    /// User who changed it.
    pub updated_by: Snowflake,
    /// Configuration section changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// `RELOAD_COMMANDS`: re-register application commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReloadCommands {
    /// Commands to reload (each 1–32 characters); absent means all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_names: Option<Vec<String>>,
    /// Reload global rather than guild commands.
    pub global: bool,
    /// Fields this version does not define.
    #[serde(flatten)]
    pub extra: ExtraFields,
}
