//! The producer side against a real Redis: the exact layout Bull writes for adds, priorities,
//! lifo, delays, duplicates, bulk adds, pause/resume, counts and repeatable jobs.

mod common;

use std::collections::HashMap;

use guildhost::queue::{
    Backoff, JobIdOption, JobOptions, JobState, KeepJobs, NewJob, Queue, RepeatOptions,
    iteration_id_prefix, now_ms, repeat_key,
};
use serde_json::Value;

use common::{cleanup, cmd, redis, unique_prefix};

fn opts() -> JobOptions {
    JobOptions::default()
}

#[tokio::test]
async fn add_writes_bulls_job_hash_and_wait_list() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "bot:commands");
    let id = queue
        .add(
            "cmd",
            r#"{"n":2}"#,
            JobOptions {
                attempts: Some(3),
                backoff: Some(Backoff::Millis(1000)),
                remove_on_complete: Some(KeepJobs::Count(10)),
                ..opts()
            },
        )
        .await
        .unwrap();
    assert_eq!(id, "1");
    let hash: HashMap<String, String> =
        cmd(&conn, &["HGETALL", &format!("{prefix}:bot:commands:1")]).await;
    assert_eq!(
        hash.len(),
        6,
        "exactly the six fields of a fresh Bull job: {hash:?}"
    );
    assert_eq!(hash["name"], "cmd");
    assert_eq!(hash["data"], r#"{"n":2}"#);
    assert_eq!(hash["delay"], "0");
    assert_eq!(hash["priority"], "0");
    let stored: Value = serde_json::from_str(&hash["opts"]).unwrap();
    assert_eq!(stored["attempts"], 3);
    assert_eq!(
        stored["backoff"],
        serde_json::json!({"type": "fixed", "delay": 1000})
    );
    assert_eq!(stored["delay"], 0);
    assert_eq!(stored["removeOnComplete"], 10);
    assert_eq!(
        stored["timestamp"].as_i64().unwrap().to_string(),
        hash["timestamp"]
    );
    let wait: Vec<String> = cmd(
        &conn,
        &["LRANGE", &format!("{prefix}:bot:commands:wait"), "0", "-1"],
    )
    .await;
    assert_eq!(wait, vec!["1"]);
    assert_eq!(queue.get_state("1").await.unwrap(), JobState::Waiting);
    let job = queue.get_job("1").await.unwrap().unwrap();
    assert_eq!(job.opts.attempts, Some(3));
    assert!(job.input_error().is_none());
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn priorities_lifo_delays_and_duplicates_follow_bull() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let base = format!("{prefix}:q:");
    let priority = |p: u32| JobOptions {
        priority: Some(p),
        ..opts()
    };
    // The facts file's observed example: A, B (p0), C p3, D p1, E p3, F p2, G p0 -> D F C E A B G.
    let mut ids = HashMap::new();
    for (name, job_opts) in [
        ("A", opts()),
        ("B", opts()),
        ("C", priority(3)),
        ("D", priority(1)),
        ("E", priority(3)),
        ("F", priority(2)),
        ("G", opts()),
    ] {
        ids.insert(queue.add(name, "{}", job_opts).await.unwrap(), name);
    }
    let wait: Vec<String> = cmd(&conn, &["LRANGE", &format!("{base}wait"), "0", "-1"]).await;
    let order: String = wait.iter().rev().map(|id| ids[id.as_str()]).collect();
    assert_eq!(order, "DFCEABG");

    let lifo = queue
        .add(
            "L",
            "{}",
            JobOptions {
                lifo: Some(true),
                ..opts()
            },
        )
        .await
        .unwrap();
    let head: String = cmd(&conn, &["LINDEX", &format!("{base}wait"), "-1"]).await;
    assert_eq!(head, lifo);

    let before = now_ms();
    let delayed = queue
        .add(
            "later",
            "{}",
            JobOptions {
                delay: Some(60_000),
                ..opts()
            },
        )
        .await
        .unwrap();
    let after = now_ms();
    let score: f64 = cmd(&conn, &["ZSCORE", &format!("{base}delayed"), &delayed]).await;
    let score = score as i64;
    let counter: i64 = delayed.parse().unwrap();
    assert_eq!(score % 4096, counter & 4095);
    assert!((before + 60_000..=after + 60_000).contains(&(score / 4096)));
    assert_eq!(queue.get_state(&delayed).await.unwrap(), JobState::Delayed);

    let custom = JobOptions {
        job_id: Some(JobIdOption::Text("custom-7".into())),
        ..opts()
    };
    assert_eq!(
        queue.add("c", "{}", custom.clone()).await.unwrap(),
        "custom-7"
    );
    let counter_before: i64 = cmd(&conn, &["GET", &format!("{base}id")]).await;
    assert_eq!(
        queue.add("c", r#"{"other":1}"#, custom).await.unwrap(),
        "custom-7"
    );
    let counter_after: i64 = cmd(&conn, &["GET", &format!("{base}id")]).await;
    assert_eq!(
        counter_after,
        counter_before + 1,
        "a duplicate still consumes a counter value"
    );
    let data: String = cmd(&conn, &["HGET", &format!("{base}custom-7"), "data"]).await;
    assert_eq!(data, "{}", "a duplicate never overwrites");
    let numeric = JobOptions {
        job_id: Some(JobIdOption::Number(123.into())),
        ..opts()
    };
    assert_eq!(queue.add("n", "{}", numeric).await.unwrap(), "123");

    let counts = queue.job_counts().await.unwrap();
    assert_eq!((counts.waiting, counts.delayed, counts.active), (10, 1, 0));
    assert!(queue.add("bad", "not json", opts()).await.is_err());
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn bulk_add_targets_several_queues_in_one_call() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "a");
    let jobs = vec![
        NewJob::new("a", "one", r#"{"i":1}"#),
        NewJob::new("b", "two", r#"{"i":2}"#),
        NewJob::new("a", "three", r#"{"i":3}"#),
    ];
    let ids = queue.add_bulk(&jobs).await.unwrap();
    assert_eq!(
        ids,
        vec![Some("1".into()), Some("1".into()), Some("2".into())]
    );
    let other = Queue::new(conn.clone(), &prefix, "b");
    assert_eq!(queue.job_counts().await.unwrap().waiting, 2);
    assert_eq!(other.get_job("1").await.unwrap().unwrap().name, "two");
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn pause_moves_waiting_jobs_and_new_adds_to_paused() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    queue.add("x", "{}", opts()).await.unwrap();
    queue.pause().await.unwrap();
    assert!(queue.is_paused().await.unwrap());
    queue.add("y", "{}", opts()).await.unwrap();
    let counts = queue.job_counts().await.unwrap();
    assert_eq!((counts.waiting, counts.paused), (0, 2));
    let meta: String = cmd(&conn, &["HGET", &format!("{prefix}:q:meta"), "paused"]).await;
    assert_eq!(meta, "1");
    queue.resume().await.unwrap();
    assert!(!queue.is_paused().await.unwrap());
    let counts = queue.job_counts().await.unwrap();
    assert_eq!((counts.waiting, counts.paused), (2, 0));
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn repeat_every_matches_bulls_key_and_iteration_id() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let repeat = RepeatOptions {
        every: Some(2000),
        ..RepeatOptions::default()
    };
    let before = now_ms();
    let id = queue
        .add(
            "tick",
            "{}",
            JobOptions {
                repeat: Some(repeat.clone()),
                ..opts()
            },
        )
        .await
        .unwrap();
    let key = repeat_key("tick", &repeat).unwrap();
    assert_eq!(key, "tick:::2000");
    // The verified example: repeat: + md5("tick" + ":" + md5("tick:::2000")).
    assert_eq!(
        iteration_id_prefix("tick", &repeat, &key),
        "repeat:b257202d91e81bd5f4fa6156c3bb6bd2:"
    );
    let next: i64 = id.rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(next % 2000, 0);
    assert!(next > before && next <= before + 2000 + 50);
    assert_eq!(
        id,
        format!("repeat:b257202d91e81bd5f4fa6156c3bb6bd2:{next}")
    );
    let keys = queue.repeatable_keys().await.unwrap();
    assert_eq!(keys, vec![("tick:::2000".to_owned(), next)]);
    let job = queue.get_job(&id).await.unwrap().unwrap();
    let stored: Value = serde_json::from_str(job.opts_raw.as_deref().unwrap()).unwrap();
    assert_eq!(stored["repeat"]["count"], 1);
    assert_eq!(stored["repeat"]["key"], "tick:::2000");
    assert_eq!(stored["prevMillis"], next);
    assert_eq!(stored["jobId"], id.as_str());
    assert_eq!(queue.get_state(&id).await.unwrap(), JobState::Delayed);
    // Adding the same series again is idempotent (same iteration id).
    let again = queue
        .add(
            "tick",
            "{}",
            JobOptions {
                repeat: Some(repeat.clone()),
                ..opts()
            },
        )
        .await
        .unwrap();
    if again == id {
        assert_eq!(queue.job_counts().await.unwrap().delayed, 1);
    }
    assert!(
        queue
            .remove_repeatable("tick", &repeat, None)
            .await
            .unwrap()
    );
    assert!(queue.repeatable_keys().await.unwrap().is_empty());
    assert!(queue.get_job(&id).await.unwrap().is_none());
    cleanup(&conn, &prefix).await;
}

/// Bull's `removeRepeatableByKey` deletes the pending iteration only while it is delayed: one
/// already promoted to `wait` keeps its hash (no id in `wait` without a job behind it).
#[tokio::test]
async fn removing_a_series_keeps_an_iteration_already_waiting() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let repeat = RepeatOptions {
        every: Some(60_000),
        ..RepeatOptions::default()
    };
    let opts = JobOptions {
        repeat: Some(repeat.clone()),
        ..opts()
    };
    let id = queue.add("tick", "{}", opts).await.unwrap();
    // Promoted as Bull's `promote` (or the delay's end) moves it.
    let _: i64 = cmd(&conn, &["ZREM", &format!("{prefix}:q:delayed"), &id]).await;
    let _: i64 = cmd(&conn, &["LPUSH", &format!("{prefix}:q:wait"), &id]).await;
    assert!(
        queue
            .remove_repeatable("tick", &repeat, None)
            .await
            .unwrap()
    );
    assert!(queue.repeatable_keys().await.unwrap().is_empty());
    assert!(queue.get_job(&id).await.unwrap().is_some());
    assert_eq!(queue.get_state(&id).await.unwrap(), JobState::Waiting);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn repeat_cron_with_tz_and_custom_id() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let repeat = RepeatOptions {
        cron: Some("*/3 * * * * *".into()),
        tz: Some("Europe/Berlin".into()),
        ..RepeatOptions::default()
    };
    let id = queue
        .add(
            "cronjob",
            "{}",
            JobOptions {
                repeat: Some(repeat),
                job_id: Some(JobIdOption::Text("myid".into())),
                ..opts()
            },
        )
        .await
        .unwrap();
    let keys = queue.repeatable_keys().await.unwrap();
    assert_eq!(keys[0].0, "cronjob:myid::Europe/Berlin:*/3 * * * * *");
    assert_eq!(keys[0].1 % 3000, 0, "every third second");
    let series = RepeatOptions {
        job_id: Some(JobIdOption::Text("myid".into())),
        ..RepeatOptions::default()
    };
    let prefix_of_ids = iteration_id_prefix("cronjob", &series, &keys[0].0);
    assert_eq!(id, format!("{prefix_of_ids}{}", keys[0].1));
    let job = queue.get_job(&id).await.unwrap().unwrap();
    let stored: Value = serde_json::from_str(job.opts_raw.as_deref().unwrap()).unwrap();
    assert_eq!(stored["repeat"]["jobId"], "myid");
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn a_bulk_add_redis_would_refuse_writes_nothing() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "a");
    let _: () = cmd(
        &conn,
        &["SET", &format!("{prefix}:broken:wait"), "not a list"],
    )
    .await;
    let jobs = vec![
        NewJob::new("a", "one", "{}"),
        NewJob::new("broken", "two", "{}"),
    ];
    let error = queue.add_bulk(&jobs).await.unwrap_err().to_string();
    assert!(error.contains(":broken:wait"), "{error}");
    let counts = queue.job_counts().await.unwrap();
    assert_eq!(counts.waiting, 0, "all or nothing");
    let counter: Option<String> = cmd(&conn, &["GET", &format!("{prefix}:a:id")]).await;
    assert!(counter.is_none());
    cleanup(&conn, &prefix).await;
}

/// `debounce` as Bull 4.16's addJob: the first add takes the slot `de:<id>` (with its TTL),
/// stores `deid`, and later adds return the holder's id without adding; removing the series of
/// a repeatable job frees the slot its pending iteration held.
#[tokio::test]
async fn a_debounced_add_takes_its_slot_and_removal_frees_it() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let with = |debounce: Value| {
        JobOptions::from_json(&serde_json::json!({ "debounce": debounce }).to_string()).unwrap()
    };
    let first = queue
        .add(
            "a",
            "{}",
            with(serde_json::json!({"id": "s", "ttl": 60_000})),
        )
        .await
        .unwrap();
    let second = queue
        .add("a", "{}", with(serde_json::json!({"id": "s"})))
        .await
        .unwrap();
    assert_eq!(second, first);
    let holder: Option<String> = cmd(&conn, &["GET", &format!("{prefix}:q:de:s")]).await;
    assert_eq!(holder.as_deref(), Some(first.as_str()));
    let ttl: i64 = cmd(&conn, &["PTTL", &format!("{prefix}:q:de:s")]).await;
    assert!(ttl > 0 && ttl <= 60_000, "ttl {ttl}");
    let deid: Option<String> = cmd(&conn, &["HGET", &format!("{prefix}:q:{first}"), "deid"]).await;
    assert_eq!(deid.as_deref(), Some("s"));
    assert_eq!(queue.job_counts().await.unwrap().waiting, 1);
    // Bull ignores a debounce without an id; a TTL it would refuse is refused naming the field.
    queue
        .add("a", "{}", with(serde_json::json!({"ttl": 5})))
        .await
        .unwrap();
    let error = queue
        .add("a", "{}", with(serde_json::json!({"id": "t", "ttl": -1})))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("debounce.ttl"), "{error}");

    let repeat = RepeatOptions {
        every: Some(60_000),
        ..RepeatOptions::default()
    };
    let mut repeating = with(serde_json::json!({"id": "r"}));
    repeating.repeat = Some(repeat.clone());
    queue.add("tick", "{}", repeating).await.unwrap();
    let exists: i64 = cmd(&conn, &["EXISTS", &format!("{prefix}:q:de:r")]).await;
    assert_eq!(exists, 1);
    assert!(
        queue
            .remove_repeatable("tick", &repeat, None)
            .await
            .unwrap()
    );
    let exists: i64 = cmd(&conn, &["EXISTS", &format!("{prefix}:q:de:r")]).await;
    assert_eq!(exists, 0, "the removed iteration's slot is free");
    cleanup(&conn, &prefix).await;
}
