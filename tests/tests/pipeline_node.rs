//! The product end to end with the real Node side: a Node Bull producer sends each command type
//! of the seed, with the seed's job options, to the seed's queues; guildhost (first-party
//! plugins, dry-run executor) acts; a Node Bull worker reads the events.

mod common;
mod host_support;

use serde_json::{Value, json};

use host_support::{GUILD, Host, MEMBER, MODERATOR};

const CHANNEL: &str = "500000000000000001";
const VOICE: &str = "600000000000000001";

/// A seed message as the API builds it (`timestamp: new Date()` is stringified by Bull).
fn command(kind: &str, data: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": GUILD,
        "userId": MODERATOR,
        "requestId": format!("req-{kind}"),
        "data": data,
    })
}

/// Sends `commands` as the seed's `commandFlow` does, from Node; returns once each job's
/// `job.finished()` resolved (each must: the command was carried out, here dry).
async fn node_send(prefix: &str, queue: &str, commands: &[Value]) {
    for outcome in host_support::node_finished(prefix, queue, commands).await {
        assert_eq!(outcome["ok"], true, "{outcome}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_type_from_node_is_acted_on_and_its_events_reach_a_node_worker() {
    let host = Host::start(&["moderation", "music", "notifications"]).await;
    let prefix = host.prefix.clone();

    node_send(
        &prefix,
        "bot:commands",
        &[
            command(
                "SEND_MESSAGE",
                json!({ "channelId": CHANNEL, "content": "hello from the API" }),
            ),
            command(
                "SEND_DM",
                json!({ "userId": MEMBER, "content": "a private word" }),
            ),
        ],
    )
    .await;
    let moderation = |kind: &str, extra: Value| command(kind, host_support::moderation_data(extra));
    node_send(
        &prefix,
        "bot:moderation",
        &[
            moderation(
                "BAN_USER",
                json!({ "deleteMessageDays": 1, "notifyUser": true }),
            ),
            moderation("KICK_USER", json!({})),
            moderation("TIMEOUT_USER", json!({ "duration": 600 })),
            moderation("UNBAN_USER", json!({})),
        ],
    )
    .await;
    node_send(
        &prefix,
        "bot:music",
        &[
            command(
                "PLAY_MUSIC",
                json!({ "query": "first song", "requestedBy": MEMBER,
                "voiceChannelId": VOICE, "playNext": false, "playNow": false }),
            ),
            command(
                "PLAY_MUSIC",
                json!({ "query": "second song", "requestedBy": MEMBER,
                "voiceChannelId": VOICE, "playNext": false, "playNow": false }),
            ),
            command("SET_VOLUME", json!({ "volume": 40, "requestedBy": MEMBER })),
            command(
                "PAUSE_MUSIC",
                json!({ "paused": true, "requestedBy": MEMBER }),
            ),
            command(
                "SET_REPEAT",
                json!({ "mode": "QUEUE", "requestedBy": MEMBER }),
            ),
            command(
                "SKIP_MUSIC",
                json!({ "requestedBy": MEMBER, "skipCount": 1 }),
            ),
        ],
    )
    .await;
    node_send(
        &prefix,
        "bot:config",
        &[
            command(
                "UPDATE_CONFIG",
                json!({ "config": { "music": { "maxQueueSize": 50 } },
                "updatedBy": MODERATOR, "section": "music" }),
            ),
            command(
                "RELOAD_COMMANDS",
                json!({ "global": false, "commandNames": ["ban"] }),
            ),
        ],
    )
    .await;

    // What reached Discord (dry run): each was recorded before its job resolved, so it is
    // there now without waiting.
    let actions = host.actions().await;
    for action in [
        "SEND_MESSAGE",
        "SEND_DM",
        "BAN_USER",
        "KICK_USER",
        "TIMEOUT_USER",
        "UNBAN_USER",
        "PLAY_MUSIC",
        "SET_VOLUME",
        "PAUSE_MUSIC",
        "RELOAD_COMMANDS",
    ] {
        assert!(
            actions.iter().any(|a| a["action"] == action),
            "{action} not recorded when its job resolved: {actions:?}"
        );
    }
    host.expect_action("SEND_MESSAGE", |a| {
        a["data"]["content"] == "hello from the API"
    })
    .await;
    host.expect_action("SEND_DM", |a| a["data"]["userId"] == MEMBER)
        .await;

    // The events, as the API's Node workers read them.
    let wanted_moderation = ["CASE_CREATED", "MODERATION_ACTION_COMPLETED"];
    let waiting = host_support_wait(&host, "moderation:events", &wanted_moderation).await;
    let events = host_support::node_read_events(&prefix, "moderation:events", waiting).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in wanted_moderation {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
    let completed: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "MODERATION_ACTION_COMPLETED")
        .filter_map(|e| e["data"]["action"].as_str())
        .collect();
    for action in ["BAN", "KICK", "TIMEOUT", "UNBAN"] {
        assert!(completed.contains(&action), "{action} not in {completed:?}");
    }
    assert!(
        events
            .iter()
            .all(|e| e["source"] == "bot" && e["guildId"] == GUILD)
    );

    let wanted_music = ["TRACK_ADDED", "MUSIC_STARTED", "MUSIC_PAUSED"];
    let waiting = host_support_wait(&host, "music:events", &wanted_music).await;
    let events = host_support::node_read_events(&prefix, "music:events", waiting).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in wanted_music {
        assert!(kinds.contains(&kind), "{kind} not in {kinds:?}");
    }
    host.stop().await;
}

/// Waits until every type in `wanted` is waiting on `queue`; returns how many jobs wait there.
async fn host_support_wait(host: &Host, queue: &str, wanted: &[&str]) -> usize {
    for kind in wanted {
        host.expect_on(queue, kind, |_| true).await;
    }
    host.waiting(queue).await.len()
}
