//! The first-party `moderation` plugin: turns moderation requests into cases and actions.
//!
//! * BAN_USER / KICK_USER / TIMEOUT_USER: with `createCase`, a case with the guild's next case
//!   number and CASE_CREATED; with `notifyUser`, a SEND_DM executed *before* the action (so a
//!   refused DM never blocks it); then the action itself, carrying the case id. A temporary ban
//!   (`duration` in hours) schedules its UNBAN_USER after that duration.
//! * UNBAN_USER: closes the user's ban case (the one named by `caseId`, else their active one):
//!   EXPIRED if its time has come, REVOKED if a moderator lifts it early (CASE_UPDATED), then
//!   executes the unban.
//! * MODERATION_ACTION_COMPLETED (the executor's report) of an unban naming a ban case still
//!   open — the temporary ban this plugin scheduled — expires that case (CASE_UPDATED).
//! * WARN_USER: a WARN case, a DM, and the escalation ladder of the configuration (by default 3
//!   warnings within 7 days → a one-hour timeout, 5 → a ban).
//! * CLEANUP_EXPIRED_CASES (and SCHEDULED_TASK of type CLEANUP): expires the guild's
//!   bans and timeouts whose time has passed.
//!
//! MODERATION_ACTION_COMPLETED is not this plugin's: the executor publishes it after it ran each
//! action. State lives in the plugin's per-guild KV store (see [`cases`]).

pub mod actions;
pub mod cases;
pub mod cleanup;
pub mod config;
pub mod notice;
pub mod warnings;

use guildhost_plugin::types::{CleanupExpiredCases, TaskType};
use guildhost_plugin::{Context, Error, Incoming, Message, Output, Plugin, warn};

use actions::Request;
use config::ModerationConfig;

/// The plugin.
pub struct Moderation;

impl Plugin for Moderation {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Some(guild_id) = msg.guild_id() else {
            return match &msg.message {
                Message::CleanupExpiredCases(_) => {
                    // Cases are kept per guild; a guild-less cleanup has no store to look in (the
                    // host sends one per guild the plugin keeps data for; `plugin run` does not).
                    warn!(
                        ctx,
                        "{} without a guildId in the envelope: cases are kept per guild, send one per guild",
                        msg.type_name()
                    );
                    Ok(Vec::new())
                }
                // Tasks are the whole platform's; only a guild's cleanup concerns this plugin.
                Message::ScheduledTask(_) => Ok(Vec::new()),
                _ => Err(Error::new(format!(
                    "guildId: {} needs the guild it is for",
                    msg.type_name()
                ))),
            };
        };
        let req = Request {
            ctx,
            guild_id,
            key: &msg.envelope.id,
            now: ctx.now(),
        };
        match &msg.message {
            Message::BanUser(ban) => actions::ban(req, ban, ""),
            Message::KickUser(kick) => actions::kick(req, kick, ""),
            Message::TimeoutUser(timeout) => actions::timeout(req, timeout, ""),
            Message::UnbanUser(unban) => actions::unban(req, unban),
            Message::ModerationActionCompleted(done) => actions::unban_executed(req, done),
            Message::WarnUser(warning) => {
                let config = ModerationConfig::load(ctx)?;
                warnings::warn(req, &config, warning)
            }
            Message::CleanupExpiredCases(run) => {
                let updated_by = msg.user_id().unwrap_or_default();
                cleanup::cleanup(req, run, updated_by)
            }
            Message::ScheduledTask(task) if task.task_type == TaskType::Cleanup => {
                let run = CleanupExpiredCases {
                    guild_id: Some(guild_id.to_owned()),
                    case_types: Vec::new(),
                    expired_before: req.now,
                };
                let updated_by = msg.user_id().unwrap_or_default();
                cleanup::cleanup(req, &run, updated_by)
            }
            _ => Ok(Vec::new()),
        }
    }
}

guildhost_plugin::export!(Moderation);

#[cfg(test)]
mod tests;
