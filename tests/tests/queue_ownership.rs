//! Every queue has one owner. With the default configuration a running host stays off the
//! cross-service queues a stock Node API works itself (`notifications`, `analytics`), so each
//! of their jobs is handled once, by the API's own Bull workers. When the host owns
//! `notifications`, each channel a notification names is served once: Discord by the host, the
//! dashboard by the API through the forwarded copy. A type nobody handles on a consumed queue
//! is never completed as if handled: it is dead-lettered with the reason and counted, or
//! forwarded where the operator says.

mod common;
mod host_support;

use std::collections::HashMap;
use std::time::Duration;

use guildhost::config::Unhandled;
use guildhost::queue::DeadLetters;
use guildhost_tests::fake_discord::FakeDiscord;
use guildhost_tests::{eventually, node, node_ready};
use serde_json::{Value, json};

use host_support::{GUILD, Host, MEMBER, envelope, metric, metric_reaches};

/// Sends `jobs` (name, data) to `queue` with Bull's own producer, in bulks that fit a command
/// line.
async fn node_add(prefix: &str, queue: &str, jobs: &[(String, Value)]) {
    for chunk in jobs.chunks(100) {
        let chunk: Vec<Value> = chunk
            .iter()
            .map(|(name, data)| json!({ "name": name, "data": data }))
            .collect();
        let result = node(
            "add.js",
            json!({ "prefix": prefix, "queue": queue, "jobs": chunk, "bulk": true }),
        )
        .await;
        assert_eq!(
            result["ids"].as_array().map(Vec::len),
            Some(chunk.len()),
            "{result}"
        );
    }
}

fn user_notification(n: usize) -> Value {
    envelope(
        "USER_NOTIFICATION",
        GUILD,
        json!({
            "targetUserId": MEMBER,
            "notification": {
                "id": format!("n-{n}"), "type": "INFO", "title": "Hello",
                "message": "For the dashboard", "persistent": false,
            },
        }),
    )
}

fn broadcast(channels: Value) -> Value {
    envelope(
        "BROADCAST_NOTIFICATION",
        GUILD,
        json!({
            "targetGuildId": GUILD,
            "notification": {
                "type": "ANNOUNCEMENT", "title": "New feature", "message": "Music is here.",
                "priority": "NORMAL", "channels": channels,
            },
        }),
    )
}

/// An analytics event the API defines (no guildhost plugin knows it).
fn page_view(n: usize) -> Value {
    envelope("PAGE_VIEW", GUILD, json!({ "page": format!("/guild/{n}") }))
}

/// The job ids a Node worker's calls name, with how often each was handled.
fn handled(result: &Value) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for call in result["calls"].as_array().cloned().unwrap_or_default() {
        let id = call["id"].as_str().unwrap_or_default().to_owned();
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn by_default_the_apis_queues_are_left_to_the_apis_own_workers() {
    const EACH: usize = 500;
    let host = Host::start(&["notifications"]).await;
    let prefix = host.prefix.clone();
    let worker = |queue: &str| {
        json!({
            "prefix": prefix, "queue": queue, "count": EACH, "concurrency": 50,
            "deadlineMs": 60000,
        })
    };
    let notifications = node_ready("worker.js", worker("notifications")).await;
    let analytics = node_ready("worker.js", worker("analytics")).await;

    let mixed: Vec<(String, Value)> = (0..EACH)
        .map(|n| match n % 3 {
            0 => ("USER_NOTIFICATION".to_owned(), user_notification(n)),
            1 => (
                "BROADCAST_NOTIFICATION".to_owned(),
                broadcast(json!(["DASHBOARD", "DISCORD"])),
            ),
            _ => (
                "BROADCAST_NOTIFICATION".to_owned(),
                broadcast(json!(["DASHBOARD"])),
            ),
        })
        .collect();
    node_add(&prefix, "notifications", &mixed).await;
    let views: Vec<(String, Value)> = (0..EACH)
        .map(|n| ("PAGE_VIEW".to_owned(), page_view(n)))
        .collect();
    node_add(&prefix, "analytics", &views).await;

    for (queue, running) in [("notifications", notifications), ("analytics", analytics)] {
        let result = match running.result(Duration::from_secs(65)).await {
            Ok(result) => result,
            Err(e) => panic!("the Node worker on {queue}: {e:#}"),
        };
        let seen = handled(&result);
        assert_eq!(
            seen.len(),
            EACH,
            "{queue}: every job reached the API's worker"
        );
        assert!(seen.values().all(|&n| n == 1), "{queue}: each handled once");
        // Completed by the API's worker, not by the host.
        let queue_handle = host.queue(queue);
        for id in seen.keys().take(50) {
            let job = queue_handle.get_job(id).await.ok().flatten();
            let value = job.and_then(|j| j.return_value).unwrap_or_default();
            assert!(value.contains("\"by\":\"node\""), "{queue} {id}: {value}");
        }
        let processed = format!("guildhost_jobs_processed_total{{queue=\"{queue}\",type=");
        let text = host_support::metrics_text(&host).await;
        assert!(
            !text.contains(&processed),
            "the host processed jobs of {queue}:\n{text}"
        );
    }
    assert!(host.actions().await.is_empty(), "the host acted on none");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_for_dashboard_and_discord_reaches_each_once() {
    let fake = match FakeDiscord::start(&[GUILD.parse().unwrap_or_default()]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    let base = fake.base_url();
    let host = Host::start_and(&["notifications"], move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base);
        host_support::consume(config, "notifications");
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    let channel = (GUILD.parse::<u64>().unwrap_or_default() + 1).to_string();
    host.configure(
        GUILD,
        json!({ "notifications": { "announcementChannel": channel } }),
    )
    .await;
    let dashboard = node_ready(
        "worker.js",
        json!({
            "prefix": host.prefix, "queue": "notifications:dashboard", "count": 2,
            "exitWhenIdleMs": 1500,
        }),
    )
    .await;

    let sent = broadcast(json!(["DASHBOARD", "DISCORD"]));
    let id = host.send("notifications", &sent).await;
    host.completed("notifications", &id).await;
    let result = match dashboard.result(Duration::from_secs(30)).await {
        Ok(result) => result,
        Err(e) => panic!("the dashboard worker: {e:#}"),
    };
    let calls = result["calls"].as_array().cloned().unwrap_or_default();
    assert_eq!(calls.len(), 1, "one dashboard copy: {calls:?}");
    assert_eq!(calls[0]["data"], sent, "forwarded unchanged");
    let posts: Vec<Value> = fake
        .posts()
        .into_iter()
        .filter(|p| p["embeds"][0]["title"] == "New feature")
        .collect();
    assert_eq!(posts.len(), 1, "one post at Discord: {posts:?}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_nobody_handles_is_dead_lettered_with_its_reason_and_counted() {
    let host = Host::start_and(&[], |config| host_support::consume(config, "analytics")).await;
    host.send("analytics", &page_view(1)).await;
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(Duration::from_secs(20), "the dead letter", || async {
        letters.list().await.ok()?.into_iter().next()
    })
    .await;
    assert_eq!(letter.queue, "analytics");
    assert_eq!(letter.attempts_made, 1, "not retried");
    assert!(
        letter.error.contains("PAGE_VIEW") && letter.error.contains("analytics"),
        "{}",
        letter.error
    );
    metric_reaches(
        &host,
        r#"guildhost_jobs_unhandled_total{queue="analytics",type="other",action="dead_letter"}"#,
        1.0,
    )
    .await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_forward_a_type_nobody_handles_arrives_on_the_named_queue() {
    let host = Host::start_and(&[], |config| {
        host_support::consume(config, "analytics");
        if let Some(table) = config.queues.per_queue.get_mut("analytics") {
            table.unhandled = Some(Unhandled::Forward("api:analytics".to_owned()));
        }
    })
    .await;
    let sent = page_view(2);
    host.send("analytics", &sent).await;
    let forwarded = host.expect_on("api:analytics", "PAGE_VIEW", |_| true).await;
    assert_eq!(forwarded, sent);
    let series =
        r#"guildhost_jobs_unhandled_total{queue="analytics",type="other",action="forward"}"#;
    metric_reaches(&host, series, 1.0).await;
    assert_eq!(metric(&host, series).await, 1.0);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_task_reaches_the_plugins_of_its_kind_and_else_the_unhandled_rule() {
    let host = Host::start(&["moderation"]).await;
    let task = |kind: &str| {
        envelope(
            "SCHEDULED_TASK",
            GUILD,
            json!({ "taskType": kind, "taskData": {}, "schedule": { "interval": 60000 } }),
        )
    };
    // The moderation plugin takes CLEANUP tasks.
    let cleanup = host.send("scheduled:tasks", &task("CLEANUP")).await;
    host.completed("scheduled:tasks", &cleanup).await;
    // Nobody takes BACKUP: dead-lettered, with the kind named.
    host.send("scheduled:tasks", &task("BACKUP")).await;
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(Duration::from_secs(20), "the dead letter", || async {
        letters.list().await.ok()?.into_iter().next()
    })
    .await;
    assert_eq!(letter.queue, "scheduled:tasks");
    assert!(
        letter.error.contains("SCHEDULED_TASK:BACKUP"),
        "{}",
        letter.error
    );
    assert_eq!(letters.ids().await.map(|ids| ids.len()).ok(), Some(1));
    host.stop().await;
}
