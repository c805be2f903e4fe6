//! What guildhost itself just did to members, so the gateway can say why a member left: Discord
//! sends the same removal event for a leave, a kick and a ban.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use guildhost_protocol::LeaveReason;

/// How long an executed kick or ban explains a removal; the gateway event follows within
/// seconds, and an old note must not mislabel a later voluntary leave.
const REMEMBERED_FOR: Duration = Duration::from_secs(120);

/// Kicks and bans executed recently, per (guild, user).
#[derive(Debug, Default)]
pub struct RecentActions {
    by_member: Mutex<HashMap<(u64, u64), (LeaveReason, Instant)>>,
}

impl RecentActions {
    /// Notes that `user` is being removed from `guild` for `reason`.
    pub fn note(&self, guild: u64, user: u64, reason: LeaveReason) {
        let now = Instant::now();
        let mut map = self.by_member.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (_, at)| now.duration_since(*at) < REMEMBERED_FOR);
        map.insert((guild, user), (reason, now));
    }

    /// Why `user` left `guild`, if guildhost removed them recently (the note is used up).
    pub fn take(&self, guild: u64, user: u64) -> Option<LeaveReason> {
        let mut map = self.by_member.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&(guild, user))
            .filter(|(_, at)| at.elapsed() < REMEMBERED_FOR)
            .map(|(reason, _)| reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_explains_one_removal() {
        let recent = RecentActions::default();
        recent.note(1, 2, LeaveReason::Kicked);
        assert_eq!(recent.take(1, 3), None);
        assert_eq!(recent.take(1, 2), Some(LeaveReason::Kicked));
        assert_eq!(recent.take(1, 2), None);
    }
}
