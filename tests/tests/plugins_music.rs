//! The first-party `music` plugin through the real pipeline (real Redis, the plugin built for
//! wasm32-wasip2, dry-run executor): a music session on `bot:music`, with the player's
//! "track finished" arriving on the gateway queue.

mod common;
mod host_support;

use guildhost::dispatch::routes::GATEWAY_QUEUE;
use serde_json::{Value, json};

use host_support::{GUILD, Host, MEMBER, envelope};

const VOICE: &str = "600000000000000001";

fn play(query: &str, play_next: bool) -> Value {
    envelope(
        "PLAY_MUSIC",
        GUILD,
        json!({ "query": query, "requestedBy": MEMBER, "voiceChannelId": VOICE,
                "playNext": play_next, "playNow": false }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_music_session_reports_positions_and_sizes() {
    let host = Host::start(&["music"]).await;
    for (query, next) in [
        ("one", false),
        ("two", false),
        ("three", false),
        ("urgent", true),
    ] {
        host.send("bot:music", &play(query, next)).await;
    }
    let started = host
        .expect_on("music:events", "MUSIC_STARTED", |_| true)
        .await;
    assert_eq!(started["data"]["track"]["title"], "one");
    assert_eq!(started["data"]["queuePosition"], 1);
    assert_eq!(started["data"]["voiceChannelId"], VOICE);
    let first_id = started["data"]["track"]["id"].clone();
    let player = host.expect_action("PLAY_MUSIC", |_| true).await;
    assert_eq!(player["data"]["query"], "search:one");
    assert_eq!(player["data"]["playNow"], true);
    let urgent = host
        .expect_on("music:events", "TRACK_ADDED", |m| {
            m["data"]["track"]["title"] == "urgent"
        })
        .await;
    assert_eq!(urgent["data"]["position"], 2);
    assert_eq!(urgent["data"]["totalQueueSize"], 4);
    let three = host
        .expect_on("music:events", "TRACK_ADDED", |m| {
            m["data"]["track"]["title"] == "three"
        })
        .await;
    assert_eq!(
        (&three["data"]["position"], &three["data"]["totalQueueSize"]),
        (&json!(3), &json!(3))
    );

    // Skip: "one" ends, "urgent" starts.
    host.send(
        "bot:music",
        &envelope(
            "SKIP_MUSIC",
            GUILD,
            json!({ "requestedBy": MEMBER, "skipCount": 1 }),
        ),
    )
    .await;
    let ended = host
        .expect_on("music:events", "MUSIC_ENDED", |_| true)
        .await;
    assert_eq!(ended["data"]["trackId"], first_id);
    assert_eq!(ended["data"]["reason"], "SKIPPED");
    let urgent_started = host
        .expect_on("music:events", "MUSIC_STARTED", |m| {
            m["data"]["track"]["title"] == "urgent"
        })
        .await;
    assert_eq!(urgent_started["data"]["queuePosition"], 1);
    assert_eq!(urgent_started["data"]["totalQueueSize"], 3);

    // Repeat the track: when the player reports it finished, it starts again.
    host.send(
        "bot:music",
        &envelope(
            "SET_REPEAT",
            GUILD,
            json!({ "mode": "TRACK", "requestedBy": MEMBER }),
        ),
    )
    .await;
    host.send(
        "bot:music",
        &envelope(
            "PAUSE_MUSIC",
            GUILD,
            json!({ "paused": true, "requestedBy": MEMBER }),
        ),
    )
    .await;
    let paused = host
        .expect_on("music:events", "MUSIC_PAUSED", |_| true)
        .await;
    assert_eq!(paused["data"]["paused"], true);
    host.expect_action("PAUSE_MUSIC", |a| a["data"]["paused"] == true)
        .await;
    host.send(
        "bot:music",
        &envelope(
            "SET_VOLUME",
            GUILD,
            json!({ "volume": 35, "requestedBy": MEMBER }),
        ),
    )
    .await;
    host.expect_action("SET_VOLUME", |a| a["data"]["volume"] == 35)
        .await;

    let mut finished = envelope(
        "MUSIC_ENDED",
        GUILD,
        json!({ "trackId": urgent_started["data"]["track"]["id"], "reason": "FINISHED",
                "duration": 3.0 }),
    );
    finished["source"] = json!("bot");
    host.send(GATEWAY_QUEUE, &finished).await;
    common::eventually(20, "urgent started a second time", || async {
        let starts = host
            .waiting("music:events")
            .await
            .into_iter()
            .filter(|m| m["type"] == "MUSIC_STARTED" && m["data"]["track"]["title"] == "urgent")
            .count();
        (starts == 2).then_some(())
    })
    .await;
    host.stop().await;
}
