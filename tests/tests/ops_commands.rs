//! The operator's commands against the real Redis: queue counts, enqueue (validated as the host
//! validates), and replaying thousands of dead letters in chunks.

use std::time::Duration;

use guildhost::config::Config;
use guildhost::queue::{DeadLetters, JobFailure, JobOptions, NewJob, Queue};
use guildhost_tests::{
    cleanup, connect, eventually, fast_worker_options, redis_url, spawn_worker, unique_prefix,
};
use serde_json::json;

fn config(prefix: &str) -> Config {
    let mut config = Config::default();
    config.redis.url = redis_url();
    config.redis.prefix = prefix.to_owned();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_validates_then_adds_as_the_api_would_and_queues_counts_it() {
    let conn = connect().await;
    let prefix = unique_prefix("ops");
    let config = config(&prefix);
    let ban = json!({
        "id": "m-1", "type": "BAN_USER", "timestamp": "2026-11-30T12:00:00.000Z", "source": "api",
        "guildId": "100000000000000001",
        "data": { "userId": "300000000000000001", "reason": "spam", "deleteMessageDays": 9,
                  "moderatorId": "200000000000000001", "notifyUser": false, "createCase": false },
    });
    let refused = guildhost::ops::enqueue(&config, "bot:moderation", &ban.to_string())
        .await
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("data.deleteMessageDays: must be within 0..=7, got 9"),
        "{refused}"
    );
    let mut fixed = ban.clone();
    fixed["data"]["deleteMessageDays"] = json!(1);
    let added = guildhost::ops::enqueue(&config, "bot:moderation", &fixed.to_string())
        .await
        .expect("a valid message is added");
    assert!(
        added.starts_with("added BAN_USER to bot:moderation as job "),
        "{added}"
    );
    let job = Queue::new(conn.clone(), &prefix, "bot:moderation")
        .get_job("1")
        .await
        .expect("get_job")
        .expect("the job exists");
    assert_eq!(job.name, "BAN_USER");
    assert_eq!(job.opts.attempts, Some(3), "the seed's defaults");

    let table = guildhost::ops::queue_counts(&config).await.expect("counts");
    let line = table
        .lines()
        .find(|line| line.starts_with("bot:moderation "))
        .expect("a line for bot:moderation");
    assert_eq!(line.split_whitespace().nth(1), Some("1"), "{table}");
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_dead_letters_replay_in_chunks() {
    const LETTERS: usize = 1_200;
    let conn = connect().await;
    let prefix = unique_prefix("dlq");
    let config = config(&prefix);
    let queue = Queue::new(conn.clone(), &prefix, "bot:commands");
    let jobs: Vec<NewJob> = (0..LETTERS)
        .map(|n| {
            NewJob::new("bot:commands", "bad", json!({ "n": n }).to_string())
                .with_opts(JobOptions::default())
        })
        .collect();
    for chunk in jobs.chunks(500) {
        queue.add_bulk(chunk).await.expect("add_bulk");
    }
    let worker = spawn_worker(
        &conn,
        &prefix,
        "bot:commands",
        fast_worker_options(16),
        |_job| async { Err(JobFailure::permanent("bad input")) },
    );
    let letters = DeadLetters::new(conn.clone(), &prefix, None);
    eventually(
        Duration::from_secs(60),
        "every job dead-lettered",
        || async { (letters.ids().await.ok()?.len() == LETTERS).then_some(()) },
    )
    .await;
    worker.stop().await;

    let listed = guildhost::ops::dlq_list(&config).await.expect("list");
    assert!(
        listed.ends_with(&format!("{LETTERS} dead letter(s)\n")),
        "{listed}"
    );
    let report = guildhost::ops::dlq_replay(&config, None)
        .await
        .expect("replay");
    assert_eq!(report, format!("replayed {LETTERS} dead letter(s)\n"));
    assert!(letters.ids().await.expect("ids").is_empty());
    let counts = queue.job_counts().await.expect("counts");
    assert_eq!(counts.waiting, LETTERS as u64);
    assert_eq!(
        guildhost::ops::dlq_purge(&config).await.expect("purge"),
        "purged 0 dead letter(s)\n"
    );
    cleanup(&conn, &prefix).await.ok();
}
