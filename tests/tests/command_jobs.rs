//! The command job is the command, seen from the API's side: each seed command that reaches
//! Discord's REST (the music ones are covered in `pipeline_node.rs`, dry: the fake has no voice
//! server), sent from Node with the seed's options (`attempts: 3`, exponential backoff 2000),
//! settles `job.finished()` only once Discord (the fake) has acted; a refusal rejects it at once
//! with Discord's reason after one request; a Discord answering 500 every time gets the job's
//! three attempts, then the dead letters; a host SIGKILLed while Discord acts leaves one effect
//! once another host finishes the job.

mod common;
mod host_support;

use std::process::{Command, Stdio};
use std::time::Duration;

use axum::http::Method;
use guildhost::queue::DeadLetters;
use guildhost_tests::fake_discord::{FakeDiscord, Recorded, Scripted};
use guildhost_tests::{KillOnDrop, eventually, redis_url, unique_prefix};
use serde_json::{Value, json};

use host_support::{Host, MEMBER, MODERATOR, node_finished};

/// The guild at the fake; its `general` channel is the guild id + 1.
const GUILD: u64 = 100_000_000_000_000_001;
const CHANNEL: u64 = GUILD + 1;

/// A seed message as the API builds it.
fn command(kind: &str, data: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": GUILD.to_string(),
        "userId": MODERATOR,
        "requestId": format!("req-{kind}"),
        "data": data,
    })
}

fn moderation(kind: &str, extra: Value) -> Value {
    command(kind, host_support::moderation_data(extra))
}

fn send_message(content: &str) -> Value {
    command(
        "SEND_MESSAGE",
        json!({ "channelId": CHANNEL.to_string(), "content": content }),
    )
}

async fn fake() -> FakeDiscord {
    match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    }
}

async fn host_on(fake: &FakeDiscord, plugins: &[&str]) -> Host {
    let base = fake.base_url();
    let host = Host::start_and(plugins, move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base);
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    host
}

fn count(requests: &[Recorded], method: &str, path: &str) -> usize {
    requests
        .iter()
        .filter(|r| r.method == method && r.path.contains(path))
        .count()
}

fn assert_resolved(outcome: &Value) {
    assert_eq!(outcome["ok"], true, "{outcome}");
    assert_eq!(outcome["attemptsMade"], 0, "{outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_command_settles_after_discord_acted_and_says_what_was_done() {
    let fake = fake().await;
    let host = host_on(&fake, &["moderation"]).await;
    let prefix = host.prefix.clone();
    let ban_path = format!("/guilds/{GUILD}/bans/{MEMBER}");
    let member_path = format!("/guilds/{GUILD}/members/{MEMBER}");

    let sent = node_finished(
        &prefix,
        "bot:commands",
        &[
            send_message("hello from the API"),
            command(
                "SEND_DM",
                json!({ "userId": MEMBER, "content": "a private word" }),
            ),
        ],
    )
    .await;
    // `finished()` resolved: by then the fake has the post, and the returnvalue names it.
    let posts = fake.posts();
    let post = posts
        .iter()
        .find(|p| p["content"] == "hello from the API")
        .unwrap_or_else(|| panic!("no post at the fake when the job resolved: {posts:?}"));
    assert_resolved(&sent[0]);
    assert_eq!(
        sent[0]["value"]["done"][0]["outcome"]["sent"]["messageId"], post["id"],
        "{}",
        sent[0]
    );
    assert_resolved(&sent[1]);
    assert!(
        posts.iter().any(|p| p["content"] == "a private word"),
        "{posts:?}"
    );

    let moderated = node_finished(
        &prefix,
        "bot:moderation",
        &[
            moderation(
                "BAN_USER",
                json!({ "deleteMessageDays": 1, "notifyUser": true }),
            ),
            moderation("TIMEOUT_USER", json!({ "duration": 600 })),
            moderation("KICK_USER", json!({})),
            moderation("UNBAN_USER", json!({})),
        ],
    )
    .await;
    let requests = fake.requests();
    for outcome in &moderated {
        assert_resolved(outcome);
        // The case the plugin opened (or, for the unban, revoked) is in the returnvalue.
        let published = outcome["value"]["published"].as_array().cloned();
        assert!(
            published.unwrap_or_default().iter().any(|e| {
                (e["type"] == "CASE_CREATED" && e["data"]["case"]["id"].is_string())
                    || (e["type"] == "CASE_UPDATED" && e["data"]["caseId"].is_string())
            }),
            "{outcome}"
        );
    }
    assert_eq!(count(&requests, "PUT", &ban_path), 1);
    assert_eq!(count(&requests, "PATCH", &member_path), 1);
    assert_eq!(count(&requests, "DELETE", &member_path), 1);
    assert_eq!(count(&requests, "DELETE", &ban_path), 1);
    // The ban's DM went before the ban.
    let dm = requests
        .iter()
        .position(|r| r.method == "POST" && r.path == "/users/@me/channels");
    let ban = requests
        .iter()
        .position(|r| r.method == "PUT" && r.path.contains(&ban_path));
    assert!(dm < ban, "DM at {dm:?}, ban at {ban:?}");

    let configured = node_finished(
        &prefix,
        "bot:config",
        &[
            command(
                "UPDATE_CONFIG",
                json!({ "config": { "moderation": { "dmOnAction": true } },
                "updatedBy": MODERATOR, "section": "moderation" }),
            ),
            command("RELOAD_COMMANDS", json!({ "global": false })),
        ],
    )
    .await;
    assert_resolved(&configured[0]);
    assert_resolved(&configured[1]);
    let registered = fake.requests_to("PUT", &format!("/guilds/{GUILD}/commands"));
    assert_eq!(registered.len(), 1, "{:?}", fake.requests());
    // The first-party plugins declare no command: the guild's list is replaced by an empty one.
    assert_eq!(
        configured[1]["value"]["done"][0]["outcome"]["registered"]["scope"],
        GUILD.to_string(),
        "{}",
        configured[1]
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_rejects_the_job_at_once_with_discords_reason_and_one_report() {
    let fake = fake().await;
    let host = host_on(&fake, &["moderation"]).await;
    let ban_path = format!("/guilds/{GUILD}/bans/");
    fake.script(Scripted::error(Method::PUT, &ban_path, 403, 50013).times(usize::MAX));
    fake.script(Scripted::error(Method::POST, "/messages", 403, 50001).times(usize::MAX));

    let banned = node_finished(
        &host.prefix,
        "bot:moderation",
        &[moderation("BAN_USER", json!({ "deleteMessageDays": 0 }))],
    )
    .await;
    let sent = node_finished(&host.prefix, "bot:commands", &[send_message("refused")]).await;
    for outcome in banned.iter().chain(&sent) {
        assert_eq!(outcome["ok"], false, "{outcome}");
        assert_eq!(outcome["attemptsMade"], 1, "one attempt only: {outcome}");
    }
    assert!(
        banned[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("BAN_USER") && r.contains("50013")),
        "{}",
        banned[0]
    );
    assert!(
        sent[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("50001")),
        "{}",
        sent[0]
    );
    let requests = fake.requests();
    assert_eq!(count(&requests, "PUT", &ban_path), 1);
    assert_eq!(
        count(&requests, "POST", &format!("/channels/{CHANNEL}/messages")),
        1
    );

    // Both in the dead letters; the API hears of the ban in one report, success: false.
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    eventually(Duration::from_secs(10), "two dead letters", || async {
        (letters.ids().await.ok()?.len() == 2).then_some(())
    })
    .await;
    let report = host
        .expect_on("moderation:events", "MODERATION_ACTION_COMPLETED", |_| true)
        .await;
    assert_eq!(report["data"]["success"], false, "{report}");
    assert!(
        report["data"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("50013")),
        "{report}"
    );
    let reports = host
        .waiting("moderation:events")
        .await
        .into_iter()
        .filter(|m| m["type"] == "MODERATION_ACTION_COMPLETED")
        .count();
    assert_eq!(reports, 1);
    host.stop().await;
}

/// Each seed command that reaches Discord's REST, as the API sends it with no plugin adding
/// to it, and the route it takes there: (queue, message, method, path).
fn rest_commands() -> Vec<(&'static str, Value, Method, String)> {
    let plain = |kind: &str, extra: Value| {
        let mut message = moderation(kind, extra);
        message["data"]["createCase"] = json!(false);
        message
    };
    vec![
        (
            "bot:commands",
            send_message("refused"),
            Method::POST,
            format!("/channels/{CHANNEL}/messages"),
        ),
        (
            "bot:commands",
            command(
                "SEND_DM",
                json!({ "userId": MEMBER, "content": "a private word" }),
            ),
            Method::POST,
            "/users/@me/channels".to_owned(),
        ),
        (
            "bot:moderation",
            plain("BAN_USER", json!({ "deleteMessageDays": 0 })),
            Method::PUT,
            format!("/guilds/{GUILD}/bans/{MEMBER}"),
        ),
        (
            "bot:moderation",
            plain("KICK_USER", json!({})),
            Method::DELETE,
            format!("/guilds/{GUILD}/members/{MEMBER}"),
        ),
        (
            "bot:moderation",
            plain("TIMEOUT_USER", json!({ "duration": 600 })),
            Method::PATCH,
            format!("/guilds/{GUILD}/members/{MEMBER}"),
        ),
        (
            "bot:moderation",
            plain("UNBAN_USER", json!({})),
            Method::DELETE,
            format!("/guilds/{GUILD}/bans/{MEMBER}"),
        ),
        (
            "bot:config",
            command("RELOAD_COMMANDS", json!({ "global": false })),
            Method::PUT,
            format!("/guilds/{GUILD}/commands"),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_refused_rejects_at_once_and_one_failing_each_time_after_three_attempts() {
    let fake = fake().await;
    let host = host_on(&fake, &[]).await;
    let commands = rest_commands();
    // Every route refused (403, 50013) for the first round.
    for (_, _, method, path) in &commands {
        fake.script(Scripted::error(method.clone(), path, 403, 50013).times(usize::MAX));
    }
    for (queue, message, method, path) in &commands {
        let before = count(&fake.requests(), method.as_str(), path);
        let outcome = node_finished(&host.prefix, queue, std::slice::from_ref(message)).await;
        let outcome = &outcome[0];
        let kind = message["type"].as_str().unwrap_or_default();
        assert_eq!(outcome["ok"], false, "{kind}: {outcome}");
        assert_eq!(
            outcome["attemptsMade"], 1,
            "{kind}: one attempt only: {outcome}"
        );
        assert!(
            outcome["reason"]
                .as_str()
                .is_some_and(|r| r.contains(kind) && r.contains("50013")),
            "{kind}: Discord's reason: {outcome}"
        );
        let after = count(&fake.requests(), method.as_str(), path);
        assert_eq!(after - before, 1, "{kind}: one request");
    }
    // Then Discord fails (500) every time: each job gets its three attempts, all at once.
    fake.clear_script();
    for (_, _, method, path) in &commands {
        fake.script(Scripted::error(method.clone(), path, 500, 0).times(usize::MAX));
    }
    let before: Vec<usize> = commands
        .iter()
        .map(|(_, _, method, path)| count(&fake.requests(), method.as_str(), path))
        .collect();
    let runs = commands.iter().map(|(queue, message, _, _)| {
        let prefix = host.prefix.clone();
        let message = message.clone();
        async move { node_finished(&prefix, queue, &[message]).await }
    });
    let outcomes = futures_util::future::join_all(runs).await;
    for (((_, message, method, path), outcome), before) in
        commands.iter().zip(&outcomes).zip(before)
    {
        let kind = message["type"].as_str().unwrap_or_default();
        assert_eq!(outcome[0]["ok"], false, "{kind}: {}", outcome[0]);
        assert_eq!(outcome[0]["attemptsMade"], 3, "{kind}: {}", outcome[0]);
        let requests = count(&fake.requests(), method.as_str(), path) - before;
        assert_eq!(requests, 3, "{kind}: one request per attempt");
    }
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    eventually(
        Duration::from_secs(10),
        "every job dead-lettered",
        || async { (letters.ids().await.ok()?.len() == 2 * commands.len()).then_some(()) },
    )
    .await;
    host.stop().await;
}

/// A host process on `prefix` against `fake`, with short locks so a killed one's job is
/// recovered within seconds.
fn start_host_process(dir: &std::path::Path, prefix: &str, fake: &FakeDiscord) -> KillOnDrop {
    let config = dir.join(format!("{}.toml", uuid::Uuid::new_v4()));
    let text = format!(
        "[redis]\nurl = \"{}\"\nprefix = \"{prefix}\"\n[plugins]\ndir = \"{}\"\nfirst_party = false\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\
         [discord]\ntoken = \"fake-token\"\nproxy = \"{}\"\n\
         [discord.shards]\nfirst = 0\nlast = 0\ntotal = 1\n\
         [queues.defaults]\nlock_duration_ms = 2000\nstalled_interval_ms = 1000\n",
        redis_url(),
        dir.join("plugins").display(),
        fake.base_url(),
    );
    if let Err(e) = std::fs::write(&config, text) {
        panic!("writing {}: {e}", config.display());
    }
    let child = Command::new(env!("CARGO_BIN_EXE_host_process"))
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    match child {
        Ok(child) => KillOnDrop(child),
        Err(e) => panic!("the host process does not start: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_while_discord_acts_leaves_one_effect_once_another_finishes() {
    let fake = fake().await;
    let prefix = unique_prefix("cmdkill");
    let dir = std::env::temp_dir().join(format!("{prefix}-hosts"));
    if let Err(e) = std::fs::create_dir_all(dir.join("plugins")) {
        panic!("{}: {e}", dir.display());
    }
    // Discord posts the message, then the answer never comes: the host is killed waiting.
    fake.script(
        Scripted::error(Method::POST, "/messages", 500, 0)
            .after_applying()
            .stalling(),
    );
    let mut first = start_host_process(&dir, &prefix, &fake);
    let waiting = tokio::spawn({
        let prefix = prefix.clone();
        async move { node_finished(&prefix, "bot:commands", &[send_message("exactly once")]).await }
    });
    eventually(Duration::from_secs(30), "the post at the fake", || async {
        (!fake.posts().is_empty()).then_some(())
    })
    .await;
    first.kill();

    let _second = start_host_process(&dir, &prefix, &fake);
    let outcome = match waiting.await {
        Ok(outcomes) => outcomes.into_iter().next().unwrap_or(Value::Null),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(outcome["ok"], true, "{outcome}");
    let posts: Vec<Value> = fake
        .posts()
        .into_iter()
        .filter(|p| p["content"] == "exactly once")
        .collect();
    assert_eq!(posts.len(), 1, "one message at Discord: {posts:?}");
    // The second host's request carried the same nonce, and Discord answered with the first post.
    let requests = fake.requests_to("POST", &format!("/channels/{CHANNEL}/messages"));
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].body["nonce"], requests[1].body["nonce"]);
    assert_eq!(
        outcome["value"]["done"][0]["outcome"]["sent"]["messageId"],
        posts[0]["id"]
    );
    let conn = guildhost_tests::connect().await;
    let _ = guildhost_tests::cleanup(&conn, &prefix).await;
    let _ = std::fs::remove_dir_all(&dir);
}
