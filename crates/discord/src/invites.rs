//! Which invite a member joined with. Discord's join event does not say, so each guild's
//! invites and their use counts are kept (read when the guild becomes available, updated on
//! `INVITE_CREATE` / `INVITE_DELETE`) and read again on a join: the one invite whose count went
//! up is the one used. When none did, or several did (two members joined at once), nobody can
//! tell, and the join says so by naming no invite.
//!
//! Needs the `GUILD_INVITES` intent and the bot's `MANAGE_GUILD` permission (to list invites);
//! without the permission every join names no invite.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serenity::all::{GuildId, RichInvite};
use serenity::http::Http;

/// An invite's uses, and its limit (0: none), as last seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    uses: u64,
    max_uses: u64,
}

/// One guild's invites by code, behind the lock that makes its joins one at a time.
type GuildInvites = Arc<tokio::sync::Mutex<HashMap<String, Seen>>>;

/// Each guild's invites as last seen. Joins of one guild are worked out one at a time.
#[derive(Debug, Default)]
pub(crate) struct InviteTracker {
    guilds: Mutex<HashMap<u64, GuildInvites>>,
}

impl InviteTracker {
    fn guild(&self, guild: GuildId) -> GuildInvites {
        self.guilds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(guild.get())
            .or_default()
            .clone()
    }

    /// Reads `guild`'s invites afresh (the guild became available).
    pub(crate) async fn refresh(&self, http: &Http, guild: GuildId) {
        let invites = self.guild(guild);
        let mut known = invites.lock().await;
        match guild.invites(http).await {
            Ok(list) => *known = snapshot(&list),
            Err(e) => tracing::debug!(
                guild = guild.get(),
                error = %e,
                "cannot list the guild's invites (MANAGE_GUILD?): joins will name no invite"
            ),
        }
    }

    /// Notes a new invite.
    pub(crate) async fn created(&self, guild: GuildId, code: &str, uses: u64, max_uses: u8) {
        self.guild(guild).lock().await.insert(
            code.to_owned(),
            Seen {
                uses,
                max_uses: u64::from(max_uses),
            },
        );
    }

    /// Forgets a deleted invite.
    pub(crate) async fn deleted(&self, guild: GuildId, code: &str) {
        self.guild(guild).lock().await.remove(code);
    }

    /// The invite a member who just joined `guild` used, if exactly one invite's count went up
    /// (or one at its last use disappeared).
    pub(crate) async fn used_by_join(&self, http: &Http, guild: GuildId) -> Option<String> {
        let invites = self.guild(guild);
        let mut known = invites.lock().await;
        let now = match guild.invites(http).await {
            Ok(list) => snapshot(&list),
            Err(e) => {
                tracing::debug!(guild = guild.get(), error = %e, "cannot list the guild's invites");
                return None;
            }
        };
        let used = used_between(&known, &now);
        *known = now;
        used
    }
}

fn snapshot(list: &[RichInvite]) -> HashMap<String, Seen> {
    list.iter()
        .map(|invite| {
            (
                invite.code.clone(),
                Seen {
                    uses: invite.uses,
                    max_uses: u64::from(invite.max_uses),
                },
            )
        })
        .collect()
}

/// The one invite used between two snapshots, if exactly one was.
fn used_between(before: &HashMap<String, Seen>, after: &HashMap<String, Seen>) -> Option<String> {
    let mut used = before
        .iter()
        .filter_map(|(code, seen)| match after.get(code) {
            Some(now) if now.uses > seen.uses => Some(code),
            // Gone at what was its last use: used up by this join.
            None if seen.max_uses > 0 && seen.uses + 1 == seen.max_uses => Some(code),
            _ => None,
        });
    // New since the last look and already used once: created and used in between.
    let mut fresh = after
        .iter()
        .filter(|(code, now)| !before.contains_key(*code) && now.uses > 0)
        .map(|(code, _)| code);
    let candidates: Vec<&String> = used.by_ref().chain(fresh.by_ref()).take(2).collect();
    match candidates.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(entries: &[(&str, u64, u64)]) -> HashMap<String, Seen> {
        entries
            .iter()
            .map(|(code, uses, max_uses)| {
                (
                    (*code).to_owned(),
                    Seen {
                        uses: *uses,
                        max_uses: *max_uses,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_one_invite_whose_count_went_up_is_named() {
        let before = seen(&[("abc", 3, 0), ("xyz", 1, 0)]);
        let after = seen(&[("abc", 3, 0), ("xyz", 2, 0)]);
        assert_eq!(used_between(&before, &after).as_deref(), Some("xyz"));
    }

    #[test]
    fn two_changes_at_once_or_none_name_no_invite() {
        let before = seen(&[("abc", 3, 0), ("xyz", 1, 0)]);
        let both = seen(&[("abc", 4, 0), ("xyz", 2, 0)]);
        assert_eq!(used_between(&before, &both), None);
        assert_eq!(used_between(&before, &before), None);
    }

    #[test]
    fn an_invite_used_up_or_new_and_used_counts() {
        let before = seen(&[("last", 4, 5), ("other", 0, 0)]);
        let after = seen(&[("other", 0, 0)]);
        assert_eq!(used_between(&before, &after).as_deref(), Some("last"));
        let after = seen(&[("last", 4, 5), ("other", 0, 0), ("new", 1, 0)]);
        assert_eq!(used_between(&before, &after).as_deref(), Some("new"));
    }
}
