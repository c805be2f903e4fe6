//! The pipeline end to end in one process, against the real Redis and real plugins: a job on a
//! seed queue → validation → plugins → replies enqueued with the completion → the executor
//! (dry run) → events for the API.

mod common;
mod host_support;

use guildhost::dispatch::routes::GATEWAY_QUEUE;
use guildhost::queue::{Backoff, DeadLetters, JobOptions};
use serde_json::{Value, json};

use common::eventually;
use host_support::{Host, envelope, message_created};

fn ban(days: u64) -> Value {
    envelope(
        "BAN_USER",
        "100000000000000001",
        json!({
            "userId": "300000000000000001",
            "reason": "spam",
            "deleteMessageDays": days,
            "moderatorId": "200000000000000001",
            "notifyUser": false,
            "createCase": false,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_plugin_handles_is_executed_as_is_and_reported() {
    let host = Host::start(&[]).await;
    host.send("bot:moderation", &ban(1)).await;

    let record = host
        .expect_action("BAN_USER", |r| r["data"]["userId"] == "300000000000000001")
        .await;
    assert_eq!(record["guildId"], "100000000000000001");
    assert_eq!(record["nonce"].as_str().map(str::len), Some(25));

    let done = host
        .expect_on("moderation:events", "MODERATION_ACTION_COMPLETED", |_| true)
        .await;
    assert_eq!(done["data"]["action"], "BAN");
    assert_eq!(done["data"]["success"], true);
    assert_eq!(done["data"]["executedBy"], "200000000000000001");
    assert_eq!(done["source"], "bot");
    assert_eq!(done["requestId"], "req-1");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_message_is_dead_lettered_with_the_field_named_and_the_worker_carries_on() {
    let host = Host::start(&[]).await;
    host.send("bot:moderation", &ban(9)).await;
    host.send("bot:moderation", &ban(2)).await;

    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(20, "a dead letter", || async {
        letters.list().await.ok()?.into_iter().next()
    })
    .await;
    assert_eq!(letter.queue, "bot:moderation");
    assert!(
        letter
            .error
            .contains("data.deleteMessageDays: must be within 0..=7, got 9"),
        "{}",
        letter.error
    );
    assert_eq!(letter.attempts_made, 1, "bad input is not retried");
    // The next, valid job still runs.
    host.expect_action("BAN_USER", |r| r["data"]["deleteMessageDays"] == 2)
        .await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_events_reach_plugins_and_the_api_and_config_updates_apply() {
    let host = Host::start_with_guests(&["echo"]).await;
    let guild = "100000000000000002";
    host.send(GATEWAY_QUEUE, &message_created(guild, "hello"))
        .await;

    let reply = host
        .expect_action("SEND_MESSAGE", |r| r["data"]["content"] == "echo: hello")
        .await;
    assert_eq!(reply["guildId"], guild);
    assert_eq!(reply["data"]["reply"]["messageId"], "400000000000000001");
    // The API hears about the message too.
    host.expect_on("discord:events", "MESSAGE_CREATED", |m| {
        m["data"]["content"] == "hello"
    })
    .await;

    // UPDATE_CONFIG changes what the plugin reads from the next message on.
    let update = envelope(
        "UPDATE_CONFIG",
        guild,
        json!({ "config": { "echo": { "prefix": ">> " } }, "updatedBy": "200000000000000001" }),
    );
    host.send("bot:config", &update).await;
    eventually(20, "the configuration stored", || async {
        let mut conn = host.conn.clone();
        let stored: Option<String> = redis::cmd("HGET")
            .arg(format!("{}:guildhost:config:{guild}", host.prefix))
            .arg("echo")
            .query_async(&mut conn)
            .await
            .ok()?;
        stored
    })
    .await;
    host.send(GATEWAY_QUEUE, &message_created(guild, "again"))
        .await;
    host.expect_action("SEND_MESSAGE", |r| r["data"]["content"] == ">> again")
        .await;
    host.stop().await;
}

/// Every invalid golden fixture, sent as a job: each fails with its field named, lands in the
/// dead-letter queue without retries, and the worker carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_invalid_fixture_is_dead_lettered_with_its_field_named() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/invalid");
    let expected: toml::Table = std::fs::read_to_string(dir.join("expected.toml"))
        .expect("expected.toml")
        .parse()
        .expect("valid TOML");
    let host = Host::start(&[]).await;
    let queue = host.queue("bot:commands");
    let mut sent = Vec::new();
    for (name, expectation) in &expected {
        let data = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("fixture");
        // The producer refuses data that is not JSON (the queue suite covers a foreign producer
        // writing such a job); everything else goes in as a careless API would send it.
        if serde_json::from_str::<Value>(&data).is_err() {
            continue;
        }
        let path = expectation["path"].as_str().expect("path").to_owned();
        let id = queue
            .add("invalid", &data, guildhost::queue::JobOptions::default())
            .await
            .expect("add");
        sent.push((id, name.clone(), path));
    }
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let all = eventually(30, "a dead letter per invalid fixture", || async {
        let list = letters.list().await.ok()?;
        (list.len() >= sent.len()).then_some(list)
    })
    .await;
    for (id, name, path) in &sent {
        let letter = all
            .iter()
            .find(|l| &l.job_id == id)
            .unwrap_or_else(|| panic!("no dead letter for {name}"));
        assert!(
            letter.error.contains(&format!("{path}:")),
            "{name}: expected the error to name {path}, got {:?}",
            letter.error
        );
        assert_eq!(letter.attempts_made, 1, "{name}: bad input is not retried");
    }
    // The worker carries on.
    host.send("bot:moderation", &ban(3)).await;
    host.expect_action("BAN_USER", |r| r["data"]["deleteMessageDays"] == 3)
        .await;
    host.stop().await;
}

/// A message type the protocol does not define reaches the plugins subscribed to its name
/// through the WIT catch-all on the API-defined queues (`webhooks`, `analytics`), and is refused
/// with its field named on the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_types_reach_their_plugins_on_webhooks_and_are_refused_elsewhere() {
    let host = Host::start_and(&["music"], |c| host_support::consume(c, "webhooks")).await;
    let guild = "100000000000000003";
    for query in ["one", "two"] {
        let play = envelope(
            "PLAY_MUSIC",
            guild,
            json!({ "query": query, "requestedBy": "300000000000000001",
                    "voiceChannelId": "600000000000000001", "playNext": false, "playNow": false }),
        );
        host.send("bot:music", &play).await;
    }
    host.expect_on("music:events", "TRACK_ADDED", |m| {
        m["data"]["position"] == 2
    })
    .await;
    let clear = envelope(
        "CLEAR_MUSIC",
        guild,
        json!({ "requestedBy": "300000000000000001" }),
    );
    host.send("webhooks", &clear).await;
    let cleared = host
        .expect_on("music:events", "QUEUE_CLEARED", |_| true)
        .await;
    assert_eq!(cleared["data"]["clearedBy"], "300000000000000001");

    host.send("bot:commands", &clear).await;
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(20, "the refused custom type", || async {
        letters.list().await.ok()?.into_iter().next()
    })
    .await;
    assert!(
        letter
            .error
            .contains("type: unknown message type \"CLEAR_MUSIC\""),
        "{}",
        letter.error
    );
    host.stop().await;
}

/// A plugin error marked `retryable: false` (the music plugin refusing a custom message's data)
/// fails the job at once into the dead letters, whatever attempts the API allowed; the worker
/// carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_error_marked_not_retryable_fails_the_job_at_once() {
    let host = Host::start_and(&["music"], |c| host_support::consume(c, "webhooks")).await;
    let guild = "100000000000000004";
    let bad = envelope("CLEAR_MUSIC", guild, json!({ "requestedBy": 5 }));
    let seed_options = JobOptions {
        attempts: Some(3),
        backoff: Some(Backoff::Millis(60_000)),
        ..JobOptions::default()
    };
    host.queue("webhooks")
        .add("CLEAR_MUSIC", &bad.to_string(), seed_options)
        .await
        .expect("add");
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(20, "the dead letter", || async {
        letters.list().await.ok()?.into_iter().next()
    })
    .await;
    assert_eq!(letter.queue, "webhooks");
    assert!(
        letter
            .error
            .contains("plugin music: returned an error: CLEAR_MUSIC: data:"),
        "{}",
        letter.error
    );
    assert!(!letter.error.contains("(retryable)"), "{}", letter.error);
    assert_eq!(
        letter.attempts_made, 1,
        "a final plugin error is not retried"
    );
    // The next job still runs.
    let clear = envelope(
        "CLEAR_MUSIC",
        guild,
        json!({ "requestedBy": "300000000000000001" }),
    );
    host.send("webhooks", &clear).await;
    host.expect_on("music:events", "QUEUE_CLEARED", |_| true)
        .await;
    host.stop().await;
}
