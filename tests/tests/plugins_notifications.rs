//! The first-party `notifications` plugin through the real pipeline (real Redis, the plugin
//! built for wasm32-wasip2, dry-run executor): notifications on the `notifications` queue
//! become DMs and announcement-channel messages.

mod common;
mod host_support;

use serde_json::json;

use host_support::{GUILD, Host, MEMBER, envelope};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_notification_becomes_a_styled_dm() {
    let host = Host::start_and(&["notifications"], |c| {
        host_support::consume(c, "notifications")
    })
    .await;
    let notification = envelope(
        "USER_NOTIFICATION",
        GUILD,
        json!({
            "targetUserId": MEMBER,
            "notification": {
                "id": "n-1", "type": "WARNING", "title": "Storage almost full",
                "message": "Your guild uses 95% of its storage.",
                "actionUrl": "https://dashboard.example/storage", "actionText": "Manage",
                "persistent": true,
            },
        }),
    );
    host.send("notifications", &notification).await;
    let dm = host
        .expect_action("SEND_DM", |a| a["data"]["userId"] == MEMBER)
        .await;
    let embed = &dm["data"]["embeds"][0];
    assert_eq!(embed["title"], "⚠️ Storage almost full");
    assert_eq!(embed["color"], 0xF1C40F);
    assert_eq!(embed["url"], "https://dashboard.example/storage");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_goes_to_the_guilds_announcement_channel_with_its_roles() {
    let host = Host::start_and(&["notifications"], |c| {
        host_support::consume(c, "notifications")
    })
    .await;
    host.configure(
        GUILD,
        json!({ "notifications": { "announcementChannel": "600000000000000001" } }),
    )
    .await;

    let broadcast = envelope(
        "BROADCAST_NOTIFICATION",
        GUILD,
        json!({
            "targetGuildId": GUILD,
            "targetRoles": ["700000000000000001"],
            "notification": {
                "type": "ANNOUNCEMENT", "title": "New feature", "message": "Music is here.",
                "priority": "NORMAL", "channels": ["DISCORD", "DASHBOARD"],
            },
        }),
    );
    host.send("notifications", &broadcast).await;
    let sent = host.expect_action("SEND_MESSAGE", |_| true).await;
    assert_eq!(sent["guildId"], GUILD);
    assert_eq!(sent["data"]["channelId"], "600000000000000001");
    assert_eq!(sent["data"]["content"], "<@&700000000000000001>");
    assert_eq!(sent["data"]["embeds"][0]["title"], "New feature");
    host.stop().await;
}
