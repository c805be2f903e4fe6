//! Moderation cases in the plugin's KV store (scoped to the guild by the host): per-guild case
//! numbers, the cases that can still change state, and the index of those that expire.
//!
//! Keys:
//! * `case-number` — the guild's counter (`increment`), so numbers are unique and gap-free
//!   under concurrency;
//! * `case:<id>` — a case that can still change (an active ban or timeout); kicks and warnings
//!   are only announced (the API keeps the record), which keeps the store small;
//! * `ban:<userId>` — the id of the user's active ban case, so an unban without `caseId` still
//!   closes it;
//! * `expiring` — `[{caseId, expiresAt}]` for cleanup runs;
//! * `recent-requests` — the last request ids with the case each opened, so a retried request
//!   reuses its case instead of taking a new number.

use serde::{Deserialize, Serialize};

use guildhost_plugin::types::{
    CaseChanges, CaseCreated, CaseStatus, CaseType, DurationChange, ModerationCase, Snowflake,
    TextChange, Timestamp,
};
use guildhost_plugin::{Error, Kv};

const COUNTER_KEY: &str = "case-number";
const EXPIRING_KEY: &str = "expiring";
const RECENT_KEY: &str = "recent-requests";
/// Request ids remembered for retries: enough for any retry window at realistic rates.
const RECENT_REQUESTS: usize = 32;

/// The kind of case, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Kind {
    /// A ban.
    Ban,
    /// A kick.
    Kick,
    /// A timeout.
    Timeout,
    /// A warning.
    Warn,
}

impl Kind {
    /// The API's name, e.g. `"BAN"`.
    pub fn api_name(self) -> &'static str {
        match self {
            Kind::Ban => "BAN",
            Kind::Kick => "KICK",
            Kind::Timeout => "TIMEOUT",
            Kind::Warn => "WARN",
        }
    }

    fn wit(self) -> CaseType {
        match self {
            Kind::Ban => CaseType::Ban,
            Kind::Kick => CaseType::Kick,
            Kind::Timeout => CaseType::Timeout,
            Kind::Warn => CaseType::Warn,
        }
    }
}

/// The state of a case, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// In force.
    Active,
    /// Ran out.
    Expired,
    /// Lifted by a moderator.
    Revoked,
}

impl Status {
    /// The API's name, e.g. `"ACTIVE"`.
    pub fn api_name(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Expired => "EXPIRED",
            Status::Revoked => "REVOKED",
        }
    }

    fn wit(self) -> CaseStatus {
        match self {
            Status::Active => CaseStatus::Active,
            Status::Expired => CaseStatus::Expired,
            Status::Revoked => CaseStatus::Revoked,
        }
    }
}

/// A case as the plugin keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Case {
    /// Case id: `<guildId>-<number>`.
    pub id: String,
    /// The guild-wide sequence number.
    pub number: u64,
    /// Kind of case.
    pub kind: Kind,
    /// User the case is about.
    pub user_id: Snowflake,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Why.
    pub reason: String,
    /// Hours for bans, seconds for timeouts (as the API records it).
    pub duration: Option<f64>,
    /// Current state.
    pub status: Status,
    /// When it was opened.
    pub created_at: Timestamp,
    /// When it runs out, for temporary bans and timeouts.
    pub expires_at: Option<Timestamp>,
}

impl Case {
    /// The `CASE_CREATED` event announcing this case.
    pub fn created_event(&self) -> CaseCreated {
        CaseCreated {
            case: ModerationCase {
                id: self.id.clone(),
                case_number: self.number,
                case_type: self.kind.wit(),
                user_id: self.user_id.clone(),
                moderator_id: self.moderator_id.clone(),
                reason: self.reason.clone(),
                duration: self.duration,
                status: self.status.wit(),
                evidence: None,
            },
        }
    }

    /// Whether the case can still change state, and so is worth keeping.
    fn is_open(&self) -> bool {
        self.status == Status::Active && matches!(self.kind, Kind::Ban | Kind::Timeout)
    }
}

/// One entry of the expiry index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expiring {
    /// The case.
    pub case_id: String,
    /// When it runs out.
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RecentRequest {
    request: String,
    case: Case,
}

/// What a new case is made of; the store assigns the id and number.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    /// Kind of case.
    pub kind: Kind,
    /// User the case is about.
    pub user_id: Snowflake,
    /// Moderator responsible.
    pub moderator_id: Snowflake,
    /// Why.
    pub reason: String,
    /// Hours for bans, seconds for timeouts.
    pub duration: Option<f64>,
    /// When it runs out, if it does.
    pub expires_at: Option<Timestamp>,
}

/// The guild's cases.
#[derive(Clone, Copy)]
pub struct CaseStore<'h> {
    kv: Kv<'h>,
}

impl<'h> CaseStore<'h> {
    /// The store over the current guild's KV.
    pub fn new(kv: Kv<'h>) -> Self {
        Self { kv }
    }

    /// Opens a case for request `request` (the incoming message id, plus a suffix when one
    /// request opens several cases). A retry of the same request gets the case it opened the
    /// first time, with `true` for "already announced".
    pub fn open(
        &self,
        guild_id: &str,
        request: &str,
        new: NewCase,
        now: Timestamp,
    ) -> Result<(Case, bool), Error> {
        if let Some(case) = self.recall(request)? {
            return Ok((case, true));
        }
        let number = self.kv.increment(COUNTER_KEY, 1)?;
        let number = u64::try_from(number).map_err(|_| {
            Error::new(format!("kv `{COUNTER_KEY}`: negative case number {number}"))
        })?;
        let case = Case {
            id: format!("{guild_id}-{number}"),
            number,
            kind: new.kind,
            user_id: new.user_id,
            moderator_id: new.moderator_id,
            reason: new.reason,
            duration: new.duration,
            status: Status::Active,
            created_at: now,
            expires_at: new.expires_at,
        };
        self.save(&case)?;
        if case.kind == Kind::Ban && case.is_open() {
            self.kv.set_string(&ban_key(&case.user_id), &case.id)?;
        }
        self.index_expiry(&case)?;
        self.remember(request, &case)?;
        Ok((case, false))
    }

    /// Gives the open `case` the reason, duration and expiry of `new` (a second sanction of the
    /// same kind while the first holds: the case is the same one, amended). Returns what
    /// changed; nothing when it already says so (a retry).
    pub fn amend(&self, case: &mut Case, new: &NewCase) -> Result<CaseChanges, Error> {
        let mut changes = CaseChanges {
            status: None,
            reason: None,
            duration: None,
        };
        if case.reason != new.reason {
            changes.reason = Some(TextChange {
                old: std::mem::replace(&mut case.reason, new.reason.clone()),
                new: new.reason.clone(),
            });
        }
        if case.duration != new.duration {
            changes.duration = Some(DurationChange {
                old: std::mem::replace(&mut case.duration, new.duration),
                new: new.duration,
            });
        }
        if case.expires_at != new.expires_at {
            if case.expires_at.is_some() {
                self.forget_expiry(&case.id)?;
            }
            case.expires_at = new.expires_at;
            self.index_expiry(case)?;
        }
        self.save(case)?;
        Ok(changes)
    }

    /// The case request `request` opened or closed, if it ran before (a retry).
    pub fn recall(&self, request: &str) -> Result<Option<Case>, Error> {
        let recent: Vec<RecentRequest> = self.kv.get_json(RECENT_KEY)?.unwrap_or_default();
        Ok(recent
            .into_iter()
            .find(|r| r.request == request)
            .map(|r| r.case))
    }

    /// Records that request `request` left `case` as it is now.
    pub fn remember(&self, request: &str, case: &Case) -> Result<(), Error> {
        let mut recent: Vec<RecentRequest> = self.kv.get_json(RECENT_KEY)?.unwrap_or_default();
        recent.retain(|r| r.request != request);
        recent.push(RecentRequest {
            request: request.to_owned(),
            case: case.clone(),
        });
        let excess = recent.len().saturating_sub(RECENT_REQUESTS);
        recent.drain(..excess);
        self.kv.set_json(RECENT_KEY, &recent)
    }

    /// The open case `id`, if the plugin keeps it.
    pub fn get(&self, id: &str) -> Result<Option<Case>, Error> {
        self.kv.get_json(&case_key(id))
    }

    /// The user's active ban case, if any.
    pub fn active_ban_of(&self, user_id: &str) -> Result<Option<Case>, Error> {
        match self.kv.get_string(&ban_key(user_id))? {
            None => Ok(None),
            Some(id) => self.get(&id),
        }
    }

    /// Moves `case` to `status` and forgets it (a closed case never changes again); returns the
    /// previous status.
    pub fn close(&self, case: &mut Case, status: Status) -> Result<Status, Error> {
        let old = case.status;
        case.status = status;
        self.kv.delete(&case_key(&case.id))?;
        if case.kind == Kind::Ban
            && self.kv.get_string(&ban_key(&case.user_id))?.as_deref() == Some(case.id.as_str())
        {
            self.kv.delete(&ban_key(&case.user_id))?;
        }
        if case.expires_at.is_some() {
            self.forget_expiry(&case.id)?;
        }
        Ok(old)
    }

    /// Adds `case` to the expiry index when it expires.
    fn index_expiry(&self, case: &Case) -> Result<(), Error> {
        let Some(expires_at) = case.expires_at else {
            return Ok(());
        };
        let mut index = self.expiring()?;
        index.push(Expiring {
            case_id: case.id.clone(),
            expires_at,
        });
        self.kv.set_json(EXPIRING_KEY, &index)
    }

    /// Removes case `id` from the expiry index.
    pub fn forget_expiry(&self, id: &str) -> Result<(), Error> {
        let mut index = self.expiring()?;
        let before = index.len();
        index.retain(|entry| entry.case_id != id);
        if index.len() != before {
            self.kv.set_json(EXPIRING_KEY, &index)?;
        }
        Ok(())
    }

    /// The expiry index, oldest first.
    pub fn expiring(&self) -> Result<Vec<Expiring>, Error> {
        let mut index: Vec<Expiring> = self.kv.get_json(EXPIRING_KEY)?.unwrap_or_default();
        index.sort_by_key(|entry| entry.expires_at);
        Ok(index)
    }

    fn save(&self, case: &Case) -> Result<(), Error> {
        if case.is_open() {
            self.kv.set_json(&case_key(&case.id), case)?;
        }
        Ok(())
    }
}

fn case_key(id: &str) -> String {
    format!("case:{id}")
}

fn ban_key(user_id: &str) -> String {
    format!("ban:{user_id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;

    fn ban(expires_at: Option<Timestamp>) -> NewCase {
        NewCase {
            kind: Kind::Ban,
            user_id: "3".into(),
            moderator_id: "2".into(),
            reason: "spam".into(),
            duration: expires_at.map(|_| 1.0),
            expires_at,
        }
    }

    #[test]
    fn numbers_count_up_and_retries_reuse_their_case() {
        let host = TestHost::new();
        let store = CaseStore::new(host.context().kv());
        let (first, replay) = store.open("9", "req-a", ban(None), 10).unwrap();
        assert_eq!((first.id.as_str(), first.number, replay), ("9-1", 1, false));
        let (second, _) = store.open("9", "req-b", ban(None), 11).unwrap();
        assert_eq!(second.number, 2);
        let (again, replay) = store.open("9", "req-a", ban(None), 12).unwrap();
        assert_eq!((again.number, replay), (1, true));
    }

    #[test]
    fn closing_forgets_the_case_its_ban_and_its_expiry() {
        let host = TestHost::new();
        let store = CaseStore::new(host.context().kv());
        let (mut case, _) = store.open("9", "req", ban(Some(500)), 10).unwrap();
        assert_eq!(
            store.active_ban_of("3").unwrap().map(|c| c.id),
            Some("9-1".into())
        );
        assert_eq!(store.expiring().unwrap().len(), 1);
        assert_eq!(
            store.close(&mut case, Status::Expired).unwrap(),
            Status::Active
        );
        assert_eq!(store.get("9-1").unwrap(), None);
        assert_eq!(store.active_ban_of("3").unwrap(), None);
        assert!(store.expiring().unwrap().is_empty());
    }

    #[test]
    fn kicks_and_warnings_are_numbered_but_not_kept() {
        let host = TestHost::new();
        let store = CaseStore::new(host.context().kv());
        let new = NewCase {
            kind: Kind::Warn,
            ..ban(None)
        };
        let (case, _) = store.open("9", "req", new.clone(), 10).unwrap();
        assert_eq!(case.number, 1);
        assert_eq!(store.get(&case.id).unwrap(), None);
        assert_eq!(
            store.open("9", "req", new, 11).unwrap(),
            (case.clone(), true)
        );
        let event = case.created_event();
        assert_eq!(event.case.case_type, CaseType::Warn);
        assert_eq!(event.case.status, CaseStatus::Active);
    }
}
