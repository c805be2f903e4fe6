//! The direct messages that tell a user what happened to them, as embeds styled per action.

use guildhost_plugin::Embed;
use guildhost_plugin::types::{SendDm, Snowflake, Timestamp};

/// What the user is told about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Notice {
    /// They were banned (with the ban's length in hours, if temporary).
    Banned(Option<f64>),
    /// They were kicked.
    Kicked,
    /// They were timed out for this many seconds.
    TimedOut(u64),
    /// Their ban was lifted.
    Unbanned,
    /// They were warned; this is their warning count within the escalation window.
    Warned(usize),
}

impl Notice {
    fn title(self) -> &'static str {
        match self {
            Notice::Banned(_) => "You have been banned",
            Notice::Kicked => "You have been kicked",
            Notice::TimedOut(_) => "You have been timed out",
            Notice::Unbanned => "Your ban has been lifted",
            Notice::Warned(_) => "You have received a warning",
        }
    }

    fn color(self) -> u32 {
        match self {
            Notice::Banned(_) => 0xE7_4C_3C,
            Notice::Kicked => 0xE6_7E_22,
            Notice::TimedOut(_) | Notice::Warned(_) => 0xF1_C4_0F,
            Notice::Unbanned => 0x2E_CC_71,
        }
    }
}

/// The `SEND_DM` telling `user_id` about `notice`, with the reason and the case number.
pub fn direct_message(
    user_id: &Snowflake,
    notice: Notice,
    reason: &str,
    case_number: Option<u64>,
    now: Timestamp,
) -> SendDm {
    let mut embed = Embed::new()
        .title(notice.title())
        .color(notice.color())
        .timestamp(now);
    if !reason.trim().is_empty() {
        embed = embed.field("Reason", truncate(reason, 1024), false);
    }
    match notice {
        Notice::Banned(Some(hours)) => embed = embed.field("Duration", hours_text(hours), true),
        Notice::Banned(None) => embed = embed.field("Duration", "Permanent", true),
        Notice::TimedOut(seconds) => embed = embed.field("Duration", seconds_text(seconds), true),
        Notice::Warned(count) => embed = embed.field("Warnings", count.to_string(), true),
        Notice::Kicked | Notice::Unbanned => {}
    }
    if let Some(number) = case_number {
        embed = embed.footer(format!("Case #{number}"));
    }
    SendDm {
        user_id: user_id.clone(),
        content: None,
        embeds: Some(vec![embed.to_json()]),
        reason: Some(String::from("moderation notice")),
    }
}

/// `text` cut to at most `max` characters (Discord counts characters, not bytes).
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

fn hours_text(hours: f64) -> String {
    if hours >= 24.0 && (hours / 24.0).fract() == 0.0 {
        plural(hours / 24.0, "day")
    } else if hours >= 1.0 {
        plural(hours, "hour")
    } else {
        plural((hours * 60.0).round().max(1.0), "minute")
    }
}

fn seconds_text(seconds: u64) -> String {
    if seconds >= 86_400 && seconds.is_multiple_of(86_400) {
        plural((seconds / 86_400) as f64, "day")
    } else if seconds >= 3600 && seconds.is_multiple_of(3600) {
        plural((seconds / 3600) as f64, "hour")
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        plural((seconds / 60) as f64, "minute")
    } else {
        plural(seconds as f64, "second")
    }
}

fn plural(amount: f64, unit: &str) -> String {
    if amount == 1.0 {
        format!("1 {unit}")
    } else {
        format!("{amount} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_notice_names_reason_duration_and_case() {
        let dm = direct_message(&"3".into(), Notice::Banned(Some(48.0)), "spam", Some(7), 0);
        let embed: serde_json::Value = serde_json::from_str(&dm.embeds.unwrap()[0]).unwrap();
        assert_eq!(embed["title"], "You have been banned");
        assert_eq!(embed["fields"][0]["value"], "spam");
        assert_eq!(embed["fields"][1]["value"], "2 days");
        assert_eq!(embed["footer"]["text"], "Case #7");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(seconds_text(3600), "1 hour");
        assert_eq!(seconds_text(90), "90 seconds");
        assert_eq!(hours_text(0.5), "30 minutes");
        assert_eq!(hours_text(1.5), "1.5 hours");
        assert_eq!(truncate("héllo", 2), "hé");
    }
}
