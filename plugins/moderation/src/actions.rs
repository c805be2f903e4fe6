//! BAN_USER, KICK_USER, TIMEOUT_USER and UNBAN_USER requests: open the case (CASE_CREATED), DM
//! the user first, then execute the action carrying the case id; a temporary ban also schedules
//! its unban, and an unban closes the ban's case (CASE_UPDATED). A ban of a member whose ban
//! case is still open amends that case (CASE_UPDATED with the reason and duration changes).

use std::time::Duration;

use guildhost_plugin::types::{
    BanUser, CaseChanges, CaseUpdated, KickUser, ModerationAction, ModerationActionCompleted,
    Snowflake, TextChange, TimeoutUser, UnbanUser,
};
use guildhost_plugin::{Context, Error, Output, info};

use crate::cases::{Case, CaseStore, Kind, NewCase, Status};
use crate::config::hours_to_ms;
use crate::notice::{Notice, direct_message, truncate};

/// Longest audit-log reason Discord accepts, in characters.
pub const MAX_REASON: usize = 512;

/// Everything a handler needs about the request being handled.
#[derive(Clone, Copy)]
pub struct Request<'a, 'h> {
    /// The host.
    pub ctx: &'a Context<'h>,
    /// The guild the request is for.
    pub guild_id: &'a str,
    /// A key unique to this request (and stable across its retries).
    pub key: &'a str,
    /// The time now.
    pub now: u64,
}

impl<'h> Request<'_, 'h> {
    /// The guild's cases.
    pub fn cases(&self) -> CaseStore<'h> {
        CaseStore::new(self.ctx.kv())
    }

    /// Opens a case (or recalls it on a retry) and returns it with the CASE_CREATED output.
    fn open_case(&self, new: NewCase, key_suffix: &str) -> Result<(Case, Output), Error> {
        let key = format!("{}{key_suffix}", self.key);
        let (case, replay) = self.cases().open(self.guild_id, &key, new, self.now)?;
        if !replay {
            info!(
                self.ctx,
                "case #{} ({}) opened against {}",
                case.number,
                case.kind.api_name(),
                case.user_id
            );
        }
        let event = Output::publish(case.created_event());
        Ok((case, event))
    }

    /// What every action request does before its action: open the case when asked, then DM
    /// the user when asked (`notice`), so a refused DM never blocks the action. Returns those
    /// outputs and the id of the case opened, which the action must carry.
    fn case_and_notice(
        &self,
        case: NewCase,
        open_case: bool,
        notice: Option<Notice>,
        key_suffix: &str,
    ) -> Result<(Vec<Output>, Option<String>), Error> {
        let mut outputs = Vec::new();
        let (user_id, reason) = (case.user_id.clone(), case.reason.clone());
        let moderator = case.moderator_id.clone();
        let mut opened = None;
        // A ban while the member's ban case is still open amends that case (its reason,
        // duration and expiry) instead of opening a second one.
        // A retry of the request that opened a case gets that case again, as `open_case` does.
        let retried = || -> Result<bool, Error> {
            Ok(self
                .cases()
                .recall(&format!("{}{key_suffix}", self.key))?
                .is_some())
        };
        let active = match (open_case, case.kind) {
            (true, Kind::Ban) if !retried()? => self.cases().active_ban_of(&case.user_id)?,
            _ => None,
        };
        if let Some(mut active) = active {
            let changes = self.cases().amend(&mut active, &case)?;
            if changes.reason.is_some() || changes.duration.is_some() {
                info!(self.ctx, "case #{} amended by a new ban", active.number);
                outputs.push(Output::publish(CaseUpdated {
                    case_id: active.id.clone(),
                    changes,
                    updated_by: moderator,
                }));
            }
            opened = Some(active);
        } else if open_case {
            let (case, event) = self.open_case(case, key_suffix)?;
            outputs.push(event);
            opened = Some(case);
        }
        if let Some(notice) = notice {
            outputs.push(Output::execute(direct_message(
                &user_id,
                notice,
                &reason,
                opened.as_ref().map(|case| case.number),
                self.now,
            )));
        }
        Ok((outputs, opened.map(|case| case.id)))
    }
}

/// A ban: case, DM, the ban itself and, for a temporary ban, the scheduled unban.
pub fn ban(req: Request<'_, '_>, ban: &BanUser, key_suffix: &str) -> Result<Vec<Output>, Error> {
    let mut command = ban.clone();
    // The plugin has done both: the executor must neither DM again nor expect a case.
    command.notify_user = false;
    command.create_case = false;
    let duration_ms = ban.duration.map(hours_to_ms);
    let (mut outputs, case_id) = req.case_and_notice(
        NewCase {
            kind: Kind::Ban,
            user_id: ban.user_id.clone(),
            moderator_id: ban.moderator_id.clone(),
            reason: ban.reason.clone(),
            duration: ban.duration,
            expires_at: duration_ms.map(|ms| req.now.saturating_add(ms)),
        },
        ban.create_case && ban.case_id.is_none(),
        ban.notify_user.then_some(Notice::Banned(ban.duration)),
        key_suffix,
    )?;
    if case_id.is_some() {
        command.case_id = case_id;
    }
    outputs.push(Output::execute(command.clone()));
    if let Some(ms) = duration_ms {
        let unban = UnbanUser {
            user_id: ban.user_id.clone(),
            reason: truncate(
                &format!("Temporary ban expired: {}", ban.reason),
                MAX_REASON,
            ),
            moderator_id: ban.moderator_id.clone(),
            case_id: command.case_id.clone(),
            notify_user: false,
        };
        outputs.push(Output::execute_after(Duration::from_millis(ms), unban));
    }
    Ok(outputs)
}

/// A kick: case, DM, the kick.
pub fn kick(req: Request<'_, '_>, kick: &KickUser, key_suffix: &str) -> Result<Vec<Output>, Error> {
    let mut command = kick.clone();
    command.notify_user = false;
    command.create_case = false;
    let (mut outputs, case_id) = req.case_and_notice(
        NewCase {
            kind: Kind::Kick,
            user_id: kick.user_id.clone(),
            moderator_id: kick.moderator_id.clone(),
            reason: kick.reason.clone(),
            duration: None,
            expires_at: None,
        },
        kick.create_case && kick.case_id.is_none(),
        kick.notify_user.then_some(Notice::Kicked),
        key_suffix,
    )?;
    if case_id.is_some() {
        command.case_id = case_id;
    }
    outputs.push(Output::execute(command));
    Ok(outputs)
}

/// A timeout: case (expiring with the timeout), DM, the timeout.
pub fn timeout(
    req: Request<'_, '_>,
    timeout: &TimeoutUser,
    key_suffix: &str,
) -> Result<Vec<Output>, Error> {
    let mut command = timeout.clone();
    command.notify_user = false;
    command.create_case = false;
    let (mut outputs, case_id) = req.case_and_notice(
        NewCase {
            kind: Kind::Timeout,
            user_id: timeout.user_id.clone(),
            moderator_id: timeout.moderator_id.clone(),
            reason: timeout.reason.clone(),
            duration: Some(timeout.duration as f64),
            expires_at: Some(
                req.now
                    .saturating_add(timeout.duration.saturating_mul(1000)),
            ),
        },
        timeout.create_case && timeout.case_id.is_none(),
        timeout
            .notify_user
            .then_some(Notice::TimedOut(timeout.duration)),
        key_suffix,
    )?;
    if case_id.is_some() {
        command.case_id = case_id;
    }
    outputs.push(Output::execute(command));
    Ok(outputs)
}

/// An unban: closes the ban's case — EXPIRED when its time has come (the scheduled unban of a
/// temporary ban), REVOKED otherwise — then DMs the user if asked and executes the unban.
pub fn unban(req: Request<'_, '_>, unban: &UnbanUser) -> Result<Vec<Output>, Error> {
    let mut outputs = Vec::new();
    let mut command = unban.clone();
    command.notify_user = false;
    let cases = req.cases();
    let closed = match cases.recall(req.key)? {
        // A retry: announce the same change again.
        Some(case) if case.status != Status::Active => Some(case),
        _ => {
            let open = match &unban.case_id {
                Some(id) => cases.get(id)?,
                None => cases.active_ban_of(&unban.user_id)?,
            };
            match open {
                Some(mut case) if case.kind == Kind::Ban => {
                    let due = case.expires_at.is_some_and(|at| at <= req.now);
                    let status = if due {
                        Status::Expired
                    } else {
                        Status::Revoked
                    };
                    cases.close(&mut case, status)?;
                    cases.remember(req.key, &case)?;
                    info!(
                        req.ctx,
                        "case #{} {} by the unban of {}",
                        case.number,
                        status.api_name(),
                        case.user_id
                    );
                    Some(case)
                }
                _ => None,
            }
        }
    };
    if let Some(case) = &closed {
        outputs.push(Output::publish(status_change(case, &unban.moderator_id)));
        command.case_id = Some(case.id.clone());
    }
    if unban.notify_user {
        outputs.push(Output::execute(direct_message(
            &unban.user_id,
            Notice::Unbanned,
            &unban.reason,
            closed.as_ref().map(|case| case.number),
            req.now,
        )));
    }
    outputs.push(Output::execute(command));
    Ok(outputs)
}

/// The CASE_UPDATED announcing that `case` went from ACTIVE to its current status.
pub fn status_change(case: &Case, updated_by: &Snowflake) -> CaseUpdated {
    CaseUpdated {
        case_id: case.id.clone(),
        changes: CaseChanges {
            status: Some(TextChange {
                old: Status::Active.api_name().to_owned(),
                new: case.status.api_name().to_owned(),
            }),
            reason: None,
            duration: None,
        },
        updated_by: updated_by.clone(),
    }
}

/// The executor ran an unban: a ban case it names that is still open is closed — EXPIRED when
/// its time has come (the temporary ban this plugin scheduled), REVOKED otherwise. A case the
/// unban request already closed is gone from the store, so nothing is announced twice.
pub fn unban_executed(
    req: Request<'_, '_>,
    completed: &ModerationActionCompleted,
) -> Result<Vec<Output>, Error> {
    if completed.action != ModerationAction::Unban || !completed.success {
        return Ok(Vec::new());
    }
    let Some(case_id) = &completed.case_id else {
        return Ok(Vec::new());
    };
    let cases = req.cases();
    let Some(mut case) = cases.get(case_id)? else {
        return Ok(Vec::new());
    };
    if case.kind != Kind::Ban || case.status != Status::Active {
        return Ok(Vec::new());
    }
    let due = case.expires_at.is_some_and(|at| at <= req.now);
    let status = if due {
        Status::Expired
    } else {
        Status::Revoked
    };
    cases.close(&mut case, status)?;
    info!(
        req.ctx,
        "case #{} {} after the unban of {} ran",
        case.number,
        status.api_name(),
        case.user_id
    );
    Ok(vec![Output::publish(status_change(
        &case,
        &completed.executed_by,
    ))])
}
