//! How notifications look: one embed per notification, coloured and labelled by its kind.

use guildhost_plugin::Embed;
use guildhost_plugin::types::{
    Broadcast, BroadcastKind, NoticeKind, Priority, Timestamp, UserNotice,
};

/// Discord's limit for an embed title, in characters.
const MAX_TITLE: usize = 256;
/// Discord's limit for an embed description, in characters.
const MAX_DESCRIPTION: usize = 4096;

/// The embed of a notification for one user.
pub fn user_embed(notice: &UserNotice, now: Timestamp) -> Embed {
    let (icon, color) = match notice.kind {
        NoticeKind::Success => ("✅", 0x2E_CC_71),
        NoticeKind::Info => ("ℹ️", 0x34_98_DB),
        NoticeKind::Warning => ("⚠️", 0xF1_C4_0F),
        NoticeKind::Error => ("❌", 0xE7_4C_3C),
    };
    let mut embed = Embed::new()
        .title(truncate(&format!("{icon} {}", notice.title), MAX_TITLE))
        .description(truncate(&notice.message, MAX_DESCRIPTION))
        .color(color)
        .timestamp(now);
    if let Some(url) = &notice.action_url {
        let label = notice.action_text.as_deref().unwrap_or("Open");
        embed = embed
            .url(url.clone())
            .field(label, format!("[{label}]({url})"), false);
    }
    embed
}

/// The embed of a broadcast.
pub fn broadcast_embed(broadcast: &Broadcast, now: Timestamp) -> Embed {
    let (label, color) = match broadcast.kind {
        BroadcastKind::Announcement => ("📢 Announcement", 0x58_65_F2),
        BroadcastKind::Maintenance => ("🛠️ Maintenance", 0xE6_7E_22),
        BroadcastKind::Update => ("✨ Update", 0x1A_BC_9C),
    };
    let title = if broadcast.priority == Priority::High {
        format!("❗ {}", broadcast.title)
    } else {
        broadcast.title.clone()
    };
    Embed::new()
        .author(label)
        .title(truncate(&title, MAX_TITLE))
        .description(truncate(&broadcast.message, MAX_DESCRIPTION))
        .color(color)
        .timestamp(now)
}

/// `text` cut to at most `max` characters.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}
