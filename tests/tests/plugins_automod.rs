//! The first-party `automod` plugin through the real pipeline (real Redis, the plugin built for
//! wasm32-wasip2, dry-run executor): gateway messages that break a rule are acted on and
//! reported, clean ones produce nothing, and UPDATE_CONFIG changes the rules.

mod common;
mod host_support;

use guildhost::dispatch::routes::{EXECUTE_QUEUE, GATEWAY_QUEUE};
use serde_json::{Value, json};

use common::eventually;
use host_support::{GUILD, Host, MEMBER, envelope};

fn message_created(message_id: &str, content: &str) -> Value {
    let mut message = envelope(
        "MESSAGE_CREATED",
        GUILD,
        json!({
            "messageId": message_id,
            "channelId": "500000000000000001",
            "authorId": MEMBER,
            "content": content,
            "mentions": { "users": [], "roles": [], "everyone": false },
            "attachmentCount": 0,
            "timestamp": "2026-11-30T12:00:00.000Z",
            "authorRoles": ["700000000000000001"],
        }),
    );
    message["source"] = json!("bot");
    message["userId"] = json!(MEMBER);
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_with_an_invite_is_deleted_and_reported_and_a_clean_one_is_left_alone() {
    let host = Host::start(&["automod"]).await;

    let clean = host
        .send(
            GATEWAY_QUEUE,
            &message_created("400000000000000001", "hello everyone"),
        )
        .await;
    host.completed(GATEWAY_QUEUE, &clean).await;
    // Outputs are enqueued with the completion, so by now anything the plugin asked for exists.
    assert_eq!(
        host.jobs_ever_added(EXECUTE_QUEUE).await,
        0,
        "nothing to execute"
    );
    assert_eq!(
        host.jobs_ever_added("moderation:events").await,
        0,
        "nothing to report"
    );

    host.send(
        GATEWAY_QUEUE,
        &message_created("400000000000000002", "join my server discord.gg/raiders"),
    )
    .await;
    let deleted = host.expect_action("DELETE_MESSAGE", |_| true).await;
    assert_eq!(deleted["data"]["messageId"], "400000000000000002");
    assert_eq!(deleted["data"]["channelId"], "500000000000000001");
    assert_eq!(deleted["guildId"], GUILD);
    let triggered = host
        .expect_on("moderation:events", "AUTOMOD_TRIGGERED", |_| true)
        .await;
    assert_eq!(triggered["data"]["rule"], "invites");
    assert_eq!(triggered["data"]["action"], "DELETE");
    assert_eq!(triggered["data"]["severity"], "MEDIUM");
    assert_eq!(triggered["data"]["userId"], MEMBER);
    assert_eq!(triggered["data"]["messageId"], "400000000000000002");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_keywords_set_through_update_config_time_the_author_out() {
    let host = Host::start(&["automod"]).await;
    host.configure(GUILD, json!({ "automod": {
                "moderatorId": "900000000000000001",
                "keywords": { "words": ["free nitro*"], "action": "TIMEOUT", "severity": "HIGH", "timeoutSeconds": 900 }
            }})).await;

    host.send(
        GATEWAY_QUEUE,
        &message_created("400000000000000003", "get FREE NITRO now"),
    )
    .await;
    let timeout = host.expect_action("TIMEOUT_USER", |_| true).await;
    assert_eq!(timeout["data"]["userId"], MEMBER);
    assert_eq!(timeout["data"]["duration"], 900);
    assert_eq!(timeout["data"]["moderatorId"], "900000000000000001");
    let triggered = host
        .expect_on("moderation:events", "AUTOMOD_TRIGGERED", |_| true)
        .await;
    assert_eq!(triggered["data"]["rule"], "keywords");
    assert_eq!(triggered["data"]["action"], "TIMEOUT");
    assert_eq!(triggered["data"]["severity"], "HIGH");
    assert_eq!(triggered["data"]["content"], "get FREE NITRO now");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warn_rule_becomes_a_warning_case_in_the_moderation_plugin() {
    let host = Host::start(&["automod", "moderation"]).await;
    host.configure(
        GUILD,
        json!({ "automod": {
            "moderatorId": "900000000000000001",
            "keywords": { "words": ["dang"], "action": "WARN", "severity": "LOW" }
        }}),
    )
    .await;

    host.send(
        GATEWAY_QUEUE,
        &message_created("400000000000000004", "dang it"),
    )
    .await;
    let case = host
        .expect_on("moderation:events", "CASE_CREATED", |_| true)
        .await;
    assert_eq!(case["data"]["case"]["type"], "WARN");
    assert_eq!(case["data"]["case"]["userId"], MEMBER);
    assert_eq!(case["data"]["case"]["moderatorId"], "900000000000000001");
    host.expect_on("moderation:events", "AUTOMOD_TRIGGERED", |m| {
        m["data"]["action"] == "WARN"
    })
    .await;
    // The warned member hears about it.
    let dm = host.expect_action("SEND_DM", |_| true).await;
    assert_eq!(dm["data"]["userId"], MEMBER);
    eventually(5, "no deletion for a WARN rule", || async {
        Some(
            host.actions()
                .await
                .iter()
                .all(|a| a["action"] != "DELETE_MESSAGE"),
        )
        .filter(|ok| *ok)
    })
    .await;
    host.stop().await;
}

/// A message from `author` with `mentions` user mentions.
fn from(author: &str, message_id: &str, content: &str, mentions: usize) -> Value {
    let mut message = message_created(message_id, content);
    message["data"]["authorId"] = json!(author);
    message["userId"] = json!(author);
    message["data"]["mentions"]["users"] = json!(
        (0..mentions)
            .map(|i| format!("31000000000000000{i}"))
            .collect::<Vec<_>>()
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rule_fires_on_a_breaking_message_and_stays_quiet_on_a_near_miss() {
    let host = Host::start(&["automod", "moderation"]).await;
    host.configure(GUILD, json!({ "automod": {
                "moderatorId": "900000000000000001",
                "keywords": { "words": ["badword"] },
                "regex": { "patterns": [{ "name": "phone", "pattern": "\\d{3}-\\d{4}" }], "action": "WARN" },
            }})).await;

    // Near misses, each from its own author: none may cause anything.
    let mut quiet = vec![
        from("301000000000000001", "410000000000000001", "a good word", 0),
        from(
            "301000000000000002",
            "410000000000000002",
            "call me maybe",
            0,
        ),
        from(
            "301000000000000003",
            "410000000000000003",
            "discord is fun",
            0,
        ),
        from("301000000000000004", "410000000000000004", "hi all", 5),
        from("301000000000000006", "410000000000000006", "OK FINE", 0),
    ];
    for n in 0..5 {
        quiet.push(from(
            "301000000000000005",
            &format!("41000000000000001{n}"),
            "hello",
            0,
        ));
    }
    let mut ids = Vec::new();
    for message in &quiet {
        ids.push(host.send(GATEWAY_QUEUE, message).await);
    }
    for id in &ids {
        host.completed(GATEWAY_QUEUE, id).await;
    }
    assert_eq!(
        host.jobs_ever_added(EXECUTE_QUEUE).await,
        0,
        "nothing to execute"
    );
    assert_eq!(
        host.jobs_ever_added("moderation:events").await,
        0,
        "nothing to report"
    );
    assert_eq!(
        host.jobs_ever_added("bot:moderation").await,
        0,
        "nobody warned"
    );

    // Breaking messages: (author, message, content, mentions, rule, action).
    let cases = [
        (
            "302000000000000001",
            "420000000000000001",
            "what a badword",
            0,
            "keywords",
            "DELETE",
        ),
        (
            "302000000000000002",
            "420000000000000002",
            "call 555-1234",
            0,
            "regex:phone",
            "WARN",
        ),
        (
            "302000000000000003",
            "420000000000000003",
            "discord.gg/raid",
            0,
            "invites",
            "DELETE",
        ),
        (
            "302000000000000004",
            "420000000000000004",
            "hi all",
            6,
            "mentions",
            "TIMEOUT",
        ),
        (
            "302000000000000006",
            "420000000000000006",
            "WHY IS NOBODY ANSWERING",
            0,
            "caps",
            "DELETE",
        ),
    ];
    for (author, message_id, content, mentions, _, _) in cases {
        host.send(GATEWAY_QUEUE, &from(author, message_id, content, mentions))
            .await;
    }
    for n in 0..6 {
        host.send(
            GATEWAY_QUEUE,
            &from(
                "302000000000000005",
                &format!("42000000000000001{n}"),
                "hello",
                0,
            ),
        )
        .await;
    }
    for (author, message_id, _, _, rule, action) in cases {
        let event = host
            .expect_on("moderation:events", "AUTOMOD_TRIGGERED", |m| {
                m["data"]["messageId"] == message_id
            })
            .await;
        assert_eq!(event["data"]["rule"], rule);
        assert_eq!(event["data"]["action"], action);
        assert_eq!(event["data"]["userId"], author);
        match action {
            "DELETE" => {
                host.expect_action("DELETE_MESSAGE", |a| a["data"]["messageId"] == message_id)
                    .await;
            }
            "TIMEOUT" => {
                host.expect_action("TIMEOUT_USER", |a| a["data"]["userId"] == author)
                    .await;
            }
            _ => {
                // The moderation plugin turns the warning into a case.
                host.expect_on("moderation:events", "CASE_CREATED", |m| {
                    m["data"]["case"]["type"] == "WARN" && m["data"]["case"]["userId"] == author
                })
                .await;
            }
        }
    }
    let rate = host
        .expect_on("moderation:events", "AUTOMOD_TRIGGERED", |m| {
            m["data"]["rule"] == "rate"
        })
        .await;
    assert_eq!(rate["data"]["userId"], "302000000000000005");
    host.expect_action("TIMEOUT_USER", |a| {
        a["data"]["userId"] == "302000000000000005"
    })
    .await;
    let rate_hits = host
        .waiting("moderation:events")
        .await
        .into_iter()
        .filter(|m| m["data"]["rule"] == "rate")
        .count();
    assert_eq!(rate_hits, 1, "only the sixth message is one too many");
    host.stop().await;
}
