//! Checks what a plugin returned against its limits and its manifest: too many or too large
//! outputs end the call; outputs of a type not granted, or for a guild the plugin may not act in,
//! are dropped and reported.

use std::borrow::Cow;

use super::bindings::{Message, Output};
use super::error::PluginError;
use super::manifest::{Manifest, Scope, is_snowflake};

/// The message type name a WIT message stands for, as written on the queue (`BAN_USER`), or the
/// custom message's own name.
pub fn message_type_name(message: &Message) -> Cow<'_, str> {
    Cow::Borrowed(match message {
        Message::SendMessage(_) => "SEND_MESSAGE",
        Message::SendDm(_) => "SEND_DM",
        Message::BanUser(_) => "BAN_USER",
        Message::KickUser(_) => "KICK_USER",
        Message::TimeoutUser(_) => "TIMEOUT_USER",
        Message::UnbanUser(_) => "UNBAN_USER",
        Message::DeleteMessage(_) => "DELETE_MESSAGE",
        Message::WarnUser(_) => "WARN_USER",
        Message::PlayMusic(_) => "PLAY_MUSIC",
        Message::SkipMusic(_) => "SKIP_MUSIC",
        Message::PauseMusic(_) => "PAUSE_MUSIC",
        Message::SetVolume(_) => "SET_VOLUME",
        Message::SetRepeat(_) => "SET_REPEAT",
        Message::UpdateConfig(_) => "UPDATE_CONFIG",
        Message::ReloadCommands(_) => "RELOAD_COMMANDS",
        Message::MemberJoined(_) => "MEMBER_JOINED",
        Message::MemberLeft(_) => "MEMBER_LEFT",
        Message::MemberUpdated(_) => "MEMBER_UPDATED",
        Message::MessageCreated(_) => "MESSAGE_CREATED",
        Message::MessageDeleted(_) => "MESSAGE_DELETED",
        Message::MessageEdited(_) => "MESSAGE_EDITED",
        Message::MessageBulkDeleted(_) => "MESSAGE_BULK_DELETED",
        Message::ChannelCreated(_) => "CHANNEL_CREATED",
        Message::RoleCreated(_) => "ROLE_CREATED",
        Message::CaseCreated(_) => "CASE_CREATED",
        Message::CaseUpdated(_) => "CASE_UPDATED",
        Message::ModerationActionCompleted(_) => "MODERATION_ACTION_COMPLETED",
        Message::AutomodTriggered(_) => "AUTOMOD_TRIGGERED",
        Message::MusicStarted(_) => "MUSIC_STARTED",
        Message::MusicEnded(_) => "MUSIC_ENDED",
        Message::MusicPaused(_) => "MUSIC_PAUSED",
        Message::TrackAdded(_) => "TRACK_ADDED",
        Message::QueueCleared(_) => "QUEUE_CLEARED",
        Message::UserNotification(_) => "USER_NOTIFICATION",
        Message::BroadcastNotification(_) => "BROADCAST_NOTIFICATION",
        Message::ScheduledTask(_) => "SCHEDULED_TASK",
        Message::CleanupExpiredCases(_) => "CLEANUP_EXPIRED_CASES",
        Message::Custom(custom) => return Cow::Borrowed(custom.type_name.as_str()),
    })
}

/// The message an output carries and the guild it names (if any).
pub(crate) fn output_parts(output: &Output) -> (&Message, Option<&str>) {
    match output {
        Output::Execute(emission) | Output::Publish(emission) => {
            (&emission.message, emission.guild_id.as_deref())
        }
        Output::ExecuteAfter(delayed) => (&delayed.message, delayed.guild_id.as_deref()),
    }
}

/// Why an output was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// The manifest does not grant this output type.
    #[error("output type {type_name} is not granted by the manifest's `emits`")]
    NotGranted {
        /// The output's message type.
        type_name: String,
    },
    /// A guild-scoped plugin targeted another guild.
    #[error("targets guild {target}, but the plugin is scoped to guild {scope}")]
    OtherGuild {
        /// The guild the output named.
        target: String,
        /// The plugin's guild.
        scope: String,
    },
    /// The output names a guild id that is not a snowflake.
    #[error("names guild {target:?}, which is not a guild id")]
    InvalidGuild {
        /// What the output named.
        target: String,
    },
}

/// An output the host refused, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedOutput {
    /// The output as the plugin returned it.
    pub output: Output,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// Counts bytes without storing them.
struct ByteCounter(u64);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The size of an output as JSON, the form it travels in.
pub(crate) fn encoded_size(output: &Output) -> u64 {
    let mut counter = ByteCounter(0);
    match serde_json::to_writer(&mut counter, output) {
        Ok(()) => counter.0,
        // Serializing generated plain-data types cannot fail; if it ever did, the output
        // counts as too large rather than slipping through unmeasured.
        Err(_) => u64::MAX,
    }
}

/// Applies the limits and the manifest to a call's outputs. `incoming_guild` is the guild of
/// the message being handled (the target of outputs that name none).
pub(crate) fn enforce(
    manifest: &Manifest,
    incoming_guild: Option<&str>,
    outputs: Vec<Output>,
) -> Result<(Vec<Output>, Vec<DroppedOutput>), PluginError> {
    let limits = &manifest.limits;
    if outputs.len() > limits.max_outputs as usize {
        return Err(PluginError::Limit {
            plugin: manifest.name.clone(),
            limit: format!(
                "outputs {} (returned {})",
                limits.max_outputs,
                outputs.len()
            ),
        });
    }
    for output in &outputs {
        let size = encoded_size(output);
        if size > limits.max_output_bytes {
            return Err(PluginError::Limit {
                plugin: manifest.name.clone(),
                limit: format!(
                    "output-bytes {} (an output of {size} bytes)",
                    limits.max_output_bytes
                ),
            });
        }
    }
    let mut accepted = Vec::with_capacity(outputs.len());
    let mut dropped = Vec::new();
    for output in outputs {
        match check(manifest, incoming_guild, &output) {
            Ok(()) => accepted.push(output),
            Err(reason) => dropped.push(DroppedOutput { output, reason }),
        }
    }
    Ok((accepted, dropped))
}

fn check(
    manifest: &Manifest,
    incoming_guild: Option<&str>,
    output: &Output,
) -> Result<(), DropReason> {
    let (message, named_guild) = output_parts(output);
    let type_name = message_type_name(message);
    if !manifest.may_emit(&type_name) {
        return Err(DropReason::NotGranted {
            type_name: type_name.into_owned(),
        });
    }
    if let Some(target) = named_guild
        && !is_snowflake(target)
    {
        return Err(DropReason::InvalidGuild {
            target: target.to_owned(),
        });
    }
    if let Scope::Guild(scope) = &manifest.scope {
        let target = named_guild.or(incoming_guild).unwrap_or("none");
        if target != scope {
            return Err(DropReason::OtherGuild {
                target: target.to_owned(),
                scope: scope.clone(),
            });
        }
    }
    Ok(())
}
