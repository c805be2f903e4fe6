//! Who did it, from the audit log: who created a channel or a role, which moderator deleted a
//! member's message. Discord writes the entry a moment after the gateway event, so a lookup
//! looks again within a bound (about 1.3 s) before it says nobody can tell.
//!
//! A message deleted by its own author leaves no entry (Discord logs deletions of others'
//! messages only), so such a deletion names nobody. Discord folds repeated deletions by one
//! moderator in one channel into one entry whose `count` grows; a deletion matches an entry that
//! is new and recent, or whose count went up since it was last seen. Needs the bot's
//! `VIEW_AUDIT_LOG` permission; without it nothing is named.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serenity::all::GuildId;
use serenity::http::Http;
use serenity::model::guild::audit_log::{Action, AuditLogEntry, MessageAction};

/// The pauses before each look: at once, then twice more.
const LOOKS: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(300),
    Duration::from_millis(1000),
];

/// How recent a new entry must be to explain an event now.
const RECENT: chrono::Duration = chrono::Duration::seconds(60);

/// Entries remembered (their counts) before the oldest are forgotten.
const REMEMBERED: usize = 4096;

/// The audit-log lookups of one gateway connection.
#[derive(Debug, Default)]
pub(crate) struct AuditTrail {
    /// Message-delete entries seen, with their counts.
    delete_counts: Mutex<HashMap<u64, u64>>,
}

impl AuditTrail {
    /// Who made `target` (a channel or role id) by `action`.
    pub(crate) async fn creator(
        &self,
        http: &Http,
        guild: GuildId,
        action: Action,
        target: u64,
    ) -> Option<u64> {
        look(http, guild, action, |entries| {
            entries
                .iter()
                .find(|e| e.target_id.map(|t| t.get()) == Some(target))
                .map(|e| e.user_id.get())
        })
        .await
    }

    /// The moderator who deleted `author`'s message in `channel`, if the audit log names one.
    pub(crate) async fn message_deleter(
        &self,
        http: &Http,
        guild: GuildId,
        channel: u64,
        author: u64,
    ) -> Option<u64> {
        let recently = chrono::Utc::now() - RECENT;
        look(
            http,
            guild,
            Action::Message(MessageAction::Delete),
            |entries| {
                let mut counts = self.delete_counts.lock().unwrap_or_else(|e| e.into_inner());
                let mut found = None;
                for entry in entries {
                    let count = entry.options.as_ref().and_then(|o| o.count).unwrap_or(1);
                    let before = counts.insert(entry.id.get(), count);
                    let grew = match before {
                        Some(seen) => count > seen,
                        None => *entry.id.created_at() >= recently,
                    };
                    let same_place = entry.target_id.map(|t| t.get()) == Some(author)
                        && entry
                            .options
                            .as_ref()
                            .and_then(|o| o.channel_id)
                            .map(|c| c.get())
                            == Some(channel);
                    if found.is_none() && grew && same_place {
                        found = Some(entry.user_id.get());
                    }
                }
                if counts.len() > REMEMBERED {
                    counts.clear();
                }
                found
            },
        )
        .await
    }
}

/// Looks at `guild`'s latest entries of `action` until `find` names someone or the looks run
/// out; a refusal (no permission) ends it at once.
async fn look(
    http: &Http,
    guild: GuildId,
    action: Action,
    find: impl Fn(&[AuditLogEntry]) -> Option<u64>,
) -> Option<u64> {
    for pause in LOOKS {
        tokio::time::sleep(pause).await;
        match guild
            .audit_logs(http, Some(action), None, None, Some(25))
            .await
        {
            Ok(logs) => {
                let entries: Vec<AuditLogEntry> = logs
                    .entries
                    .into_iter()
                    .filter(|e| e.action.num() == action.num())
                    .collect();
                if let Some(user) = find(&entries) {
                    return Some(user);
                }
            }
            Err(e) => {
                tracing::debug!(guild = guild.get(), error = %e, "audit log unavailable (VIEW_AUDIT_LOG?)");
                return None;
            }
        }
    }
    None
}
