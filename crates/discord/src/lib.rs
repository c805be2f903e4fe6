//! The Discord boundary: the actions the executor can take, the error classes that decide
//! whether a job retries, and the dry-run implementation used when no token is configured.
//!
//! Knows the protocol's command types and nothing of queues, plugins or Redis: recording what a
//! dry run did is the caller's business ([`ActionRecord`] is what it gets to record).
//!
//! - [`rest`]: the boundary over serenity's REST client, in direct or proxy mode.
//! - `classify`: serenity's errors sorted into [`DiscordError`] classes.
//! - [`fetch`]: the guarded download of what a command names by URL (attachments, music):
//!   public addresses only unless the operator allows more, redirects checked, size and time
//!   capped.
//! - [`recent`]: kicks and bans guildhost executed, so a removal can be explained.
//! - `commands`: application commands registered globally or per guild.
//! - `interactions`: interactions awaiting their answer, deferred when it comes late.
//! - [`gateway`]: serenity's gateway client turning dispatches into the seed's events.
//! - [`voice`]: the music player (songbird) and the track ends it reports.

mod audit;
mod classify;
mod commands;
pub mod fetch;
pub mod gateway;
mod interactions;
mod invites;
pub mod recent;
pub mod rest;
pub mod voice;

pub use commands::{CommandScope, CommandSpec, Registration};
pub use interactions::Interactions;
pub use voice::{Player, PlayerError, SongbirdPlayer, TrackEnded, TrackEvents};

use std::future::Future;

use serde::Serialize;
use serde_json::Value;

use guildhost_protocol::{Message, MessageType, Payload};

/// One command to carry out, with what makes it idempotent.
#[derive(Debug, Clone, Copy)]
pub struct Action<'a> {
    /// The command (its envelope names the guild).
    pub message: &'a Message,
    /// Stable across retries of the same job: a message send carries it as Discord's `nonce`
    /// (with `enforce_nonce`) so a retry never posts twice. At most 25 characters.
    pub nonce: &'a str,
}

/// What happened when an action ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Outcome {
    /// Done now.
    Done,
    /// A message was posted (or had been, under the same nonce).
    Sent {
        /// Its id.
        message_id: String,
    },
    /// Discord says it was already so (unban of a user not banned, kick of a member who left).
    AlreadyDone,
    /// The member does not accept DMs (50007). Reported, never a reason to block what follows.
    Undeliverable {
        /// Discord's code.
        code: u32,
        /// Discord's message.
        message: String,
    },
    /// Application commands were registered.
    Registered {
        /// `"global"` or the guild's id.
        scope: String,
        /// The commands registered, by name.
        commands: Vec<String>,
        /// Names asked for that nothing declares (not registered).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        unknown: Vec<String>,
    },
}

/// Why an action did not happen; the class decides what the job does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscordError {
    /// Worth retrying with backoff: 429 without retry information, 5xx, network, timeout.
    #[error("retriable: {0}")]
    Retriable(String),
    /// No retry can fix it (403 missing permissions, 400 invalid form body, …).
    #[error("refused by Discord ({code}): {message}")]
    Permanent {
        /// Discord's JSON error code, or the HTTP status when there is none.
        code: u32,
        /// Discord's message.
        message: String,
    },
    /// The token is invalid (401): stop executing, keep the jobs.
    #[error("unauthorized: the bot token was rejected")]
    Unauthorized,
    /// The command is not something this boundary executes.
    #[error("not executable: {0}")]
    NotExecutable(String),
}

/// What a dry run did, for the operator to inspect.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    /// The message type, e.g. `BAN_USER`.
    pub action: String,
    /// The guild it concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guild_id: Option<String>,
    /// The envelope id of the command.
    pub message_id: String,
    /// The idempotency nonce.
    pub nonce: String,
    /// The command's `data`.
    pub data: Value,
}

/// Carries out commands against Discord.
pub trait Discord: Send + Sync + 'static {
    /// Runs one command.
    fn execute(
        &self,
        action: Action<'_>,
    ) -> impl Future<Output = Result<Outcome, DiscordError>> + Send;

    /// Whether the token is accepted now; asked while execution is stopped after a 401.
    fn verify_token(&self) -> impl Future<Output = Result<(), DiscordError>> + Send {
        async { Ok(()) }
    }

    /// Registers application commands (what `RELOAD_COMMANDS` asks for; the caller chose them).
    fn register_commands(
        &self,
        registration: Registration<'_>,
    ) -> impl Future<Output = Result<Outcome, DiscordError>> + Send {
        let _ = registration;
        async {
            Err(DiscordError::NotExecutable(
                "this boundary does not register application commands".into(),
            ))
        }
    }
}

/// Asks Discord which guild a target belongs to; what the scope check of plugin outputs falls
/// back on when the gateway has not shown the target yet. Answers are the caller's to cache.
pub trait TargetLookup: Send + Sync + 'static {
    /// The guild a channel (or thread) belongs to; `None` for a channel outside any guild (a DM)
    /// or one Discord does not show this bot.
    fn channel_guild(
        &self,
        channel: guildhost_protocol::Snowflake,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<Option<guildhost_protocol::Snowflake>, DiscordError>,
    >;

    /// Whether `user` is a member of `guild` now.
    fn is_member(
        &self,
        guild: guildhost_protocol::Snowflake,
        user: guildhost_protocol::Snowflake,
    ) -> futures_util::future::BoxFuture<'_, Result<bool, DiscordError>>;
}

/// Whether the executor knows how to run a message of this type.
pub fn is_executable(message_type: MessageType) -> bool {
    use MessageType as T;
    matches!(
        message_type,
        T::SendMessage
            | T::SendDm
            | T::BanUser
            | T::KickUser
            | T::TimeoutUser
            | T::UnbanUser
            | T::DeleteMessage
            | T::InteractionReply
            | T::PlayMusic
            | T::SkipMusic
            | T::PauseMusic
            | T::SetVolume
            | T::SetRepeat
            | T::ReloadCommands
    )
}

/// Logs every action instead of performing it; used when no token is configured.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRun;

impl DryRun {
    /// The record of `action`, or why it cannot be executed.
    pub fn record(action: Action<'_>) -> Result<ActionRecord, DiscordError> {
        let message = action.message;
        let type_name = message.payload.type_name().to_owned();
        if !message.payload.message_type().is_some_and(is_executable) {
            return Err(DiscordError::NotExecutable(format!(
                "{type_name} is not a command the executor runs"
            )));
        }
        let data = message
            .to_value()
            .ok()
            .and_then(|mut v| v.get_mut("data").map(Value::take))
            .unwrap_or(Value::Null);
        Ok(ActionRecord {
            action: type_name,
            guild_id: message.envelope.guild_id.map(|g| g.to_string()),
            message_id: message.envelope.id.clone(),
            nonce: action.nonce.to_owned(),
            data,
        })
    }
}

impl Discord for DryRun {
    async fn execute(&self, action: Action<'_>) -> Result<Outcome, DiscordError> {
        let record = Self::record(action)?;
        tracing::info!(
            action = %record.action,
            guild = record.guild_id.as_deref().unwrap_or("-"),
            message_id = %record.message_id,
            "dry run: not sent to Discord"
        );
        Ok(Outcome::Done)
    }

    async fn register_commands(
        &self,
        registration: Registration<'_>,
    ) -> Result<Outcome, DiscordError> {
        let outcome = registration.outcome();
        tracing::info!(
            scope = %registration.scope.label(),
            commands = ?outcome,
            "dry run: commands not registered with Discord"
        );
        Ok(outcome)
    }
}

/// The moderation action a command performs, for `MODERATION_ACTION_COMPLETED`.
pub fn moderation_action(payload: &Payload) -> Option<guildhost_protocol::ModerationAction> {
    use guildhost_protocol::ModerationAction as A;
    match payload {
        Payload::BanUser(_) => Some(A::Ban),
        Payload::KickUser(_) => Some(A::Kick),
        Payload::TimeoutUser(_) => Some(A::Timeout),
        Payload::UnbanUser(_) => Some(A::Unban),
        _ => None,
    }
}
