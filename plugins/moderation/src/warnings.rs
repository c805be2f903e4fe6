//! WARN_USER: a WARN case, the warning recorded with its time, a DM, and the escalation ladder
//! applied to the count of warnings within the window.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use guildhost_plugin::types::{BanUser, KickUser, TimeoutUser, WarnUser};
use guildhost_plugin::{Error, Output, info};

use crate::actions::{self, MAX_REASON, Request};
use crate::cases::{Kind, NewCase};
use crate::config::{EscalationAction, ModerationConfig};
use crate::notice::{Notice, direct_message, truncate};

/// Timeout length of a TIMEOUT step that does not say (one hour).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// One recorded warning: when, and the request that made it (so a retry does not count twice).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Warning {
    at: u64,
    request: String,
}

/// Most warnings looked at per user: the count only matters up to the ladder's last step.
const MAX_SLOTS: u32 = 100;

/// Handles a warning.
pub fn warn(
    req: Request<'_, '_>,
    config: &ModerationConfig,
    warning: &WarnUser,
) -> Result<Vec<Output>, Error> {
    let mut outputs = Vec::new();
    let mut case_number = None;
    if warning.case_id.is_none() {
        let (case, _) = req.cases().open(
            req.guild_id,
            req.key,
            NewCase {
                kind: Kind::Warn,
                user_id: warning.user_id.clone(),
                moderator_id: warning.moderator_id.clone(),
                reason: warning.reason.clone(),
                duration: None,
                expires_at: None,
            },
            req.now,
        )?;
        case_number = Some(case.number);
        outputs.push(Output::publish(case.created_event()));
    }

    let count = record(req, config, &warning.user_id)?;
    info!(
        req.ctx,
        "warning for {} ({count} within the escalation window)", warning.user_id
    );
    if config.notify_on_warn {
        outputs.push(Output::execute(direct_message(
            &warning.user_id,
            Notice::Warned(count),
            &warning.reason,
            case_number,
            req.now,
        )));
    }

    let Some(step) = u32::try_from(count)
        .ok()
        .and_then(|count| config.escalation.step_for(count))
    else {
        return Ok(outputs);
    };
    let reason = truncate(
        &format!(
            "Automatic escalation: {count} warnings within {} hours (latest: {})",
            config.escalation.window_hours, warning.reason
        ),
        MAX_REASON,
    );
    info!(req.ctx, "escalating {}: {:?}", warning.user_id, step.action);
    // The escalation's case belongs to this request too; the suffix keeps it apart from the
    // warning's own case when a retry recalls them.
    let suffix = ":escalation";
    let escalated = match step.action {
        EscalationAction::Timeout => {
            let seconds = step.duration_seconds.unwrap_or(DEFAULT_TIMEOUT.as_secs());
            let mut command = TimeoutUser::new(
                &warning.user_id,
                Duration::from_secs(seconds),
                reason,
                &warning.moderator_id,
            );
            command.notify_user = true;
            command.create_case = true;
            actions::timeout(req, &command, suffix)?
        }
        EscalationAction::Kick => {
            let mut command = KickUser::new(&warning.user_id, reason, &warning.moderator_id);
            command.notify_user = true;
            command.create_case = true;
            actions::kick(req, &command, suffix)?
        }
        EscalationAction::Ban => {
            let mut command = BanUser::new(&warning.user_id, reason, &warning.moderator_id);
            command.duration = step.duration_hours;
            command.notify_user = true;
            command.create_case = true;
            actions::ban(req, &command, suffix)?
        }
    };
    outputs.extend(escalated);
    Ok(outputs)
}

/// Records the warning (once per request) and returns the user's count within the window.
///
/// Each warning takes a sequence number from an atomic counter (`warn-seq:<userId>`) and is
/// stored in its own slot (`warn:<userId>:<seq>`); its count is made of itself and the slots
/// before it, so two warnings handled at once get distinct counts (3 and 4, never 4 twice). A
/// slot not written yet belongs to a warning in flight, which is recent by definition.
fn record(req: Request<'_, '_>, config: &ModerationConfig, user_id: &str) -> Result<usize, Error> {
    let kv = req.ctx.kv();
    let slots = config
        .escalation
        .steps
        .last()
        .map_or(1, |step| step.warnings)
        .clamp(1, MAX_SLOTS);
    let seq_key = format!("warn-seq:{user_id}");
    let slot_key = |seq: i64| format!("warn:{user_id}:{seq}");
    let read = |seq: i64| kv.get_json::<Warning>(&slot_key(seq));

    let latest = kv.get_i64(&seq_key)?.unwrap_or(0);
    let mut own = None;
    for seq in (latest - i64::from(slots) + 1).max(1)..=latest {
        if read(seq)?.is_some_and(|w| w.request == req.key) {
            own = Some(seq);
        }
    }
    let seq = match own {
        Some(seq) => seq,
        None => {
            let seq = kv.increment(&seq_key, 1)?;
            let warning = Warning {
                at: req.now,
                request: req.key.to_owned(),
            };
            kv.set_json(&slot_key(seq), &warning)?;
            // The slot that just left the look-back range is never read again.
            let gone = seq - i64::from(slots);
            if gone >= 1 {
                kv.delete(&slot_key(gone))?;
            }
            seq
        }
    };
    let window = config.escalation.window_ms();
    let mut count = 0;
    for earlier in (seq - i64::from(slots) + 1).max(1)..=seq {
        let recent = match read(earlier)? {
            Some(warning) => req.now.saturating_sub(warning.at) < window,
            None => true,
        };
        if recent {
            count += 1;
        }
    }
    Ok(count)
}
