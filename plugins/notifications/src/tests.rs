//! The plugin as the host runs it, natively against `TestHost`.

use guildhost_plugin::testing::TestHost;
use guildhost_plugin::types::{
    Broadcast, BroadcastChannel, BroadcastKind, BroadcastNotification, NoticeKind, Priority,
    UserNotice, UserNotification,
};
use guildhost_plugin::{Incoming, Message, Output};
use serde_json::{Value, json};

use super::Notifications;

fn notice(kind: NoticeKind) -> UserNotification {
    UserNotification {
        target_user_id: "300".into(),
        notification: UserNotice {
            id: "n1".into(),
            kind,
            title: "Backup done".into(),
            message: "Your server backup finished.".into(),
            action_url: Some("https://example.com/backups".into()),
            action_text: Some("View".into()),
            persistent: false,
            expires_at: None,
        },
    }
}

fn broadcast(
    target: Option<&str>,
    roles: Option<Vec<&str>>,
    channels: Option<Vec<BroadcastChannel>>,
) -> BroadcastNotification {
    BroadcastNotification {
        target_guild_id: target.map(str::to_owned),
        target_roles: roles.map(|r| r.into_iter().map(str::to_owned).collect()),
        notification: Broadcast {
            kind: BroadcastKind::Maintenance,
            title: "Downtime tonight".into(),
            message: "From 02:00 to 03:00 UTC.".into(),
            priority: Priority::High,
            channels,
        },
    }
}

fn embed(output: &Output) -> Value {
    let embeds = match output.message() {
        Message::SendDm(dm) => dm.embeds.clone(),
        Message::SendMessage(m) => m.embeds.clone(),
        other => panic!("unexpected {}", other.type_name()),
    };
    serde_json::from_str(&embeds.expect("an embed")[0]).unwrap()
}

fn targets(outputs: &[Output]) -> Vec<(String, String)> {
    outputs
        .iter()
        .map(|o| match o.message() {
            Message::SendMessage(m) => {
                (o.guild_id().unwrap_or("-").to_owned(), m.channel_id.clone())
            }
            other => panic!("unexpected {}", other.type_name()),
        })
        .collect()
}

#[test]
fn a_user_notification_is_a_dm_styled_by_its_kind() {
    let host = TestHost::new();
    let outputs = host
        .handle::<Notifications>(&Incoming::new(notice(NoticeKind::Error)))
        .unwrap();
    let Message::SendDm(dm) = outputs[0].message() else {
        panic!("a DM")
    };
    assert_eq!(dm.user_id, "300");
    let embed = embed(&outputs[0]);
    assert_eq!(embed["title"], "❌ Backup done");
    assert_eq!(embed["color"], 0xE74C3C);
    assert_eq!(embed["url"], "https://example.com/backups");
    assert_eq!(
        embed["fields"][0]["value"],
        "[View](https://example.com/backups)"
    );
    let success = host
        .handle::<Notifications>(&Incoming::new(notice(NoticeKind::Success)))
        .unwrap();
    assert_eq!(embed_color(&success), 0x2ECC71);
}

fn embed_color(outputs: &[Output]) -> u64 {
    embed(&outputs[0])["color"].as_u64().unwrap()
}

#[test]
fn an_expired_notification_is_dropped() {
    let host = TestHost::new().with_now(10_000);
    let mut expired = notice(NoticeKind::Info);
    expired.notification.expires_at = Some(5_000);
    assert!(
        host.handle::<Notifications>(&Incoming::new(expired))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_guild_broadcast_goes_to_its_announcement_channel_mentioning_the_roles() {
    let host = TestHost::new().with_config(json!({ "announcementChannel": "555" }));
    let msg = Incoming::new(broadcast(Some("100"), Some(vec!["7", "8"]), None)).in_guild("100");
    let outputs = host.handle::<Notifications>(&msg).unwrap();
    assert_eq!(targets(&outputs), [("100".to_owned(), "555".to_owned())]);
    let Message::SendMessage(m) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(m.content.as_deref(), Some("<@&7> <@&8>"));
    let embed = embed(&outputs[0]);
    assert_eq!(embed["title"], "❗ Downtime tonight");
    assert_eq!(embed["author"]["name"], "🛠️ Maintenance");
}

#[test]
fn a_guild_cannot_broadcast_into_another_guild() {
    let host = TestHost::new().with_config(json!({
        "announcementChannel": "555", "announcementChannels": { "101": "666" }
    }));
    let msg = Incoming::new(broadcast(Some("101"), None, None)).in_guild("100");
    assert!(host.handle::<Notifications>(&msg).unwrap().is_empty());
}

#[test]
fn a_platform_broadcast_reaches_the_target_or_every_configured_guild() {
    let host = TestHost::new().with_config(json!({
        "announcementChannels": { "100": "555", "101": "666" }
    }));
    let one = host
        .handle::<Notifications>(&Incoming::new(broadcast(Some("101"), None, None)))
        .unwrap();
    assert_eq!(targets(&one), [("101".to_owned(), "666".to_owned())]);
    let all = host
        .handle::<Notifications>(&Incoming::new(broadcast(None, None, None)))
        .unwrap();
    assert_eq!(
        targets(&all),
        [
            ("100".to_owned(), "555".to_owned()),
            ("101".to_owned(), "666".to_owned())
        ]
    );
    let Message::SendMessage(m) = all[0].message() else {
        unreachable!()
    };
    assert_eq!(m.content, None);
    let unknown = host
        .handle::<Notifications>(&Incoming::new(broadcast(Some("102"), None, None)))
        .unwrap();
    assert!(unknown.is_empty());
}

#[test]
fn a_dashboard_only_broadcast_sends_nothing_to_discord() {
    let host = TestHost::new().with_config(json!({ "announcementChannel": "555" }));
    let dashboard = broadcast(None, None, Some(vec![BroadcastChannel::Dashboard]));
    assert!(
        host.handle::<Notifications>(&Incoming::new(dashboard).in_guild("100"))
            .unwrap()
            .is_empty()
    );
    let both = broadcast(
        None,
        None,
        Some(vec![BroadcastChannel::Dashboard, BroadcastChannel::Discord]),
    );
    assert_eq!(
        host.handle::<Notifications>(&Incoming::new(both).in_guild("100"))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn no_channel_configured_means_nothing_sent() {
    let host = TestHost::new();
    let msg = Incoming::new(broadcast(None, None, None)).in_guild("100");
    assert!(host.handle::<Notifications>(&msg).unwrap().is_empty());
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("no announcement channel"))
    );
}
