//! The worker against a real Redis: completion with retention, retries with exact backoff, dead
//! letters and replay, atomic outputs, stale completions, priorities, pause, delayed promotion,
//! stalled recovery, repeat scheduling, bad input, timeouts and graceful shutdown.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guildhost::queue::{
    Backoff, Completion, DeadLetters, JobFailure, JobOptions, KeepJobs, NewJob, Queue, RedisConn,
    RepeatOptions, Worker, WorkerOptions, WorkerStats, handler_fn, now_ms,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use common::{cleanup, cmd, eventually, redis, shutdown_pair, unique_prefix};

fn fast_options() -> WorkerOptions {
    WorkerOptions {
        concurrency: 4,
        drain_delay: Duration::from_millis(200),
        guard_interval: Duration::from_millis(100),
        stalled_interval: Duration::from_millis(200),
        shutdown_timeout: Duration::from_secs(2),
        ..WorkerOptions::default()
    }
}

struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: JoinHandle<WorkerStats>,
}

impl Running {
    async fn stop(self) -> WorkerStats {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("worker stops within 10 s")
            .expect("worker task")
    }
}

fn spawn_worker<F, Fut>(
    conn: &RedisConn,
    prefix: &str,
    queue: &str,
    options: WorkerOptions,
    handler: F,
) -> Running
where
    F: Fn(guildhost::queue::Job) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Completion, JobFailure>> + Send + 'static,
{
    let worker = Worker::new(conn.clone(), prefix, queue, options);
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(async move {
        worker
            .run(handler_fn(handler), shutdown)
            .await
            .expect("worker run")
    });
    Running { stop, task }
}

async fn hash(conn: &RedisConn, key: &str) -> HashMap<String, String> {
    cmd(conn, &["HGETALL", key]).await
}

#[tokio::test]
async fn completes_jobs_with_retention_and_bull_fields() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let keep_one = JobOptions {
        remove_on_complete: Some(KeepJobs::Count(1)),
        ..JobOptions::default()
    };
    let first = queue
        .add("a", r#"{"n":1}"#, keep_one.clone())
        .await
        .unwrap();
    let second = queue.add("a", r#"{"n":2}"#, keep_one).await.unwrap();
    let removed = queue
        .add(
            "a",
            r#"{"n":3}"#,
            JobOptions {
                remove_on_complete: Some(KeepJobs::Remove(true)),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |job| async move {
        let n = job
            .data_json()
            .map_err(|e| JobFailure::permanent(e.to_string()))?["n"]
            .clone();
        Ok(Completion::value(json!({"ok": true, "n": n})))
    });
    eventually(10, "all three finished", || async {
        let counts = queue.job_counts().await.unwrap();
        (counts.waiting == 0
            && counts.active == 0
            && queue.get_job(&removed).await.unwrap().is_none())
        .then_some(())
    })
    .await;
    let stats = running.stop().await;
    assert_eq!(stats.completed, 3);
    let completed: Vec<String> = cmd(
        &conn,
        &["ZRANGE", &format!("{prefix}:q:completed"), "0", "-1"],
    )
    .await;
    assert_eq!(
        completed.len(),
        1,
        "removeOnComplete 1 keeps the newest only: {completed:?}"
    );
    let kept = &completed[0];
    assert!(kept == &first || kept == &second);
    let job = hash(&conn, &format!("{prefix}:q:{kept}")).await;
    let value: Value = serde_json::from_str(&job["returnvalue"]).unwrap();
    assert_eq!(value["ok"], true);
    assert!(job.contains_key("finishedOn") && job.contains_key("processedOn"));
    assert!(
        !job.contains_key("attemptsMade"),
        "attemptsMade is only written on failure"
    );
    let locks: Vec<String> = cmd(&conn, &["KEYS", &format!("{prefix}:q:*:lock")]).await;
    assert!(locks.is_empty());
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn retries_with_fixed_then_exponential_backoff_scores() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let fixed = queue
        .add(
            "f",
            "{}",
            JobOptions {
                attempts: Some(2),
                backoff: Some(Backoff::Millis(60_000)),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let exponential = queue
        .add(
            "e",
            "{}",
            JobOptions {
                attempts: Some(3),
                backoff: Some(Backoff::Strategy {
                    kind: "exponential".into(),
                    delay: Some(150),
                    options: None,
                }),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let scores: Arc<Mutex<Vec<(String, i64)>>> = Arc::default();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |_job| async move {
        Err(JobFailure::retryable("boom"))
    });
    let delayed_key = format!("{prefix}:q:delayed");
    // First failure of the fixed job: due = failure time + 60000, low bits = numeric id.
    let (fixed_score, fixed_hash) = eventually(10, "fixed job delayed", || async {
        let score: Option<f64> = cmd(&conn, &["ZSCORE", &delayed_key, &fixed]).await;
        let job = hash(&conn, &format!("{prefix}:q:{fixed}")).await;
        score
            .filter(|_| job.get("attemptsMade").map(String::as_str) == Some("1"))
            .map(|s| (s as i64, job))
    })
    .await;
    let processed: i64 = fixed_hash["processedOn"].parse().unwrap();
    let due = fixed_score / 4096;
    assert_eq!(fixed_score % 4096, fixed.parse::<i64>().unwrap() & 4095);
    assert!(
        (processed + 60_000..processed + 61_000).contains(&due),
        "due {due} vs processed {processed}"
    );
    assert_eq!(fixed_hash["failedReason"], "boom");
    let stack: Vec<String> = serde_json::from_str(&fixed_hash["stacktrace"]).unwrap();
    assert_eq!(stack.len(), 1);

    // The exponential job: 150 ms after the first failure, 450 ms after the second, then failed.
    let mut seen_delays = Vec::new();
    for attempt in 1..=2u32 {
        let (score, job) = eventually(10, "exponential job delayed", || async {
            let score: Option<f64> = cmd(&conn, &["ZSCORE", &delayed_key, &exponential]).await;
            let job = hash(&conn, &format!("{prefix}:q:{exponential}")).await;
            score
                .filter(|_| job.get("attemptsMade") == Some(&attempt.to_string()))
                .map(|s| (s as i64, job))
        })
        .await;
        let processed: i64 = job["processedOn"].parse().unwrap();
        seen_delays.push(score / 4096 - processed);
        scores.lock().unwrap().push((exponential.clone(), score));
    }
    assert!((150..400).contains(&seen_delays[0]), "{seen_delays:?}");
    assert!((450..700).contains(&seen_delays[1]), "{seen_delays:?}");
    let state = eventually(10, "exponential job failed for good", || async {
        let score: Option<f64> = cmd(
            &conn,
            &["ZSCORE", &format!("{prefix}:q:failed"), &exponential],
        )
        .await;
        score
    })
    .await;
    assert!(state > 0.0);
    let job = hash(&conn, &format!("{prefix}:q:{exponential}")).await;
    assert_eq!(job["attemptsMade"], "3");
    let stack: Vec<String> = serde_json::from_str(&job["stacktrace"]).unwrap();
    assert_eq!(stack.len(), 3);
    running.stop().await;
    let letters = DeadLetters::new(conn.clone(), &prefix, None)
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].job_id, exponential);
    assert_eq!(letters[0].attempts_made, 3);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn retry_without_backoff_requeues_at_the_tail() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let id = queue
        .add(
            "r",
            "{}",
            JobOptions {
                attempts: Some(2),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), move |_job| {
        let counter = counter.clone();
        async move {
            if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                Err(JobFailure::retryable("first try fails"))
            } else {
                Ok(Completion::empty())
            }
        }
    });
    eventually(10, "completed on the second try", || async {
        let score: Option<f64> =
            cmd(&conn, &["ZSCORE", &format!("{prefix}:q:completed"), &id]).await;
        score
    })
    .await;
    running.stop().await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let job = queue.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.attempts_made, 1);
    assert_eq!(job.failed_reason.as_deref(), Some("first try fails"));
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn permanent_failure_goes_to_dead_letters_and_replays() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "bot:commands");
    let id = queue
        .add(
            "ban",
            r#"{"user":"42"}"#,
            JobOptions {
                attempts: Some(5),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let healed = Arc::new(AtomicBool::new(false));
    let flag = healed.clone();
    let running = spawn_worker(&conn, &prefix, "bot:commands", fast_options(), move |job| {
        let flag = flag.clone();
        async move {
            if flag.load(Ordering::SeqCst) {
                Ok(Completion::value(json!(
                    job.data_json()
                        .map_err(|e| JobFailure::permanent(e.to_string()))?
                )))
            } else {
                Err(JobFailure::permanent("field `user` must be a snowflake"))
            }
        }
    });
    let letters = DeadLetters::new(conn.clone(), &prefix, None);
    let letter = eventually(10, "dead letter", || async {
        letters.list().await.unwrap().pop()
    })
    .await;
    assert_eq!(letter.queue, "bot:commands");
    assert_eq!(letter.job_id, id);
    assert_eq!(letter.job_name, "ban");
    assert_eq!(letter.error, "field `user` must be a snowflake");
    assert_eq!(
        letter.attempts_made, 1,
        "permanent failures skip the remaining attempts"
    );
    assert_eq!(letter.original_data, r#"{"user":"42"}"#);
    assert!(letter.failed_at.ends_with('Z'));
    let failed: Option<f64> = cmd(
        &conn,
        &["ZSCORE", &format!("{prefix}:bot:commands:failed"), &id],
    )
    .await;
    assert!(failed.is_some());
    let letter_hash = hash(&conn, &format!("{prefix}:dead-letters:{}", letter.id)).await;
    assert_eq!(letter_hash["name"], "failed_job");

    healed.store(true, Ordering::SeqCst);
    let new_id = letters.replay(&letter.id).await.unwrap().expect("replayed");
    assert_ne!(new_id, id);
    eventually(10, "replayed job completed", || async {
        let score: Option<f64> = cmd(
            &conn,
            &[
                "ZSCORE",
                &format!("{prefix}:bot:commands:completed"),
                &new_id,
            ],
        )
        .await;
        score
    })
    .await;
    assert!(
        letters.list().await.unwrap().is_empty(),
        "the letter is gone once replayed"
    );
    assert_eq!(letters.replay(&letter.id).await.unwrap(), None);
    running.stop().await;
    let replayed = queue.get_job(&new_id).await.unwrap().unwrap();
    assert_eq!(replayed.data, r#"{"user":"42"}"#);
    assert_eq!(replayed.opts.attempts, Some(5));
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn outputs_are_added_exactly_once_with_their_options() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "in");
    for n in 0..5 {
        queue
            .add("req", &format!(r#"{{"n":{n}}}"#), JobOptions::default())
            .await
            .unwrap();
    }
    let running = spawn_worker(&conn, &prefix, "in", fast_options(), |job| async move {
        let n = job
            .data_json()
            .map_err(|e| JobFailure::permanent(e.to_string()))?["n"]
            .as_i64()
            .unwrap_or(-1);
        Ok(Completion::empty().with_outputs(vec![
            NewJob::new("out", "exec", format!(r#"{{"n":{n}}}"#)),
            NewJob::new("later", "unban", format!(r#"{{"n":{n}}}"#)).with_opts(JobOptions {
                delay: Some(60_000),
                job_id: Some(guildhost::queue::JobIdOption::Text(format!("unban-{n}"))),
                ..JobOptions::default()
            }),
        ]))
    });
    let out = Queue::new(conn.clone(), &prefix, "out");
    let later = Queue::new(conn.clone(), &prefix, "later");
    eventually(10, "all inputs completed", || async {
        let counts = queue.job_counts().await.unwrap();
        (counts.completed == 5).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(out.job_counts().await.unwrap().waiting, 5);
    let delayed = later.job_counts().await.unwrap();
    assert_eq!(delayed.delayed, 5);
    for n in 0..5 {
        assert!(
            later
                .get_job(&format!("unban-{n}"))
                .await
                .unwrap()
                .is_some()
        );
    }
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn a_completion_after_losing_the_lock_writes_nothing() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let id = queue
        .add("slow", "{}", JobOptions::default())
        .await
        .unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Notify::new());
    let (s, r) = (started.clone(), release.clone());
    let options = WorkerOptions {
        lock_renew_time: Some(Duration::from_secs(60)),
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, move |_job| {
        let (s, r) = (s.clone(), r.clone());
        async move {
            s.notify_one();
            r.notified().await;
            Ok(Completion::empty().with_outputs(vec![NewJob::new("out", "x", "{}")]))
        }
    });
    started.notified().await;
    let lock = format!("{prefix}:q:{id}:lock");
    let _: () = cmd(&conn, &["SET", &lock, "someone-else", "PX", "60000"]).await;
    release.notify_one();
    // Stopping waits for the in-flight job, so its (stale) completion is settled first.
    let stats = running.stop().await;
    assert_eq!(stats.stale, 1);
    assert_eq!(stats.completed, 0);
    let out = Queue::new(conn.clone(), &prefix, "out");
    assert_eq!(
        out.job_counts().await.unwrap().waiting,
        0,
        "no output from a stale completion"
    );
    let active: Vec<String> =
        cmd(&conn, &["LRANGE", &format!("{prefix}:q:active"), "0", "-1"]).await;
    assert_eq!(
        active,
        vec![id.clone()],
        "the job stays with the lock holder"
    );
    let holder: String = cmd(&conn, &["GET", &lock]).await;
    assert_eq!(holder, "someone-else");
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn priorities_and_lifo_run_in_bulls_order() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let priority = |p: u32| JobOptions {
        priority: Some(p),
        ..JobOptions::default()
    };
    for (name, opts) in [
        ("A", JobOptions::default()),
        ("B", JobOptions::default()),
        ("C", priority(3)),
        ("D", priority(1)),
        ("E", priority(3)),
        ("F", priority(2)),
        ("G", JobOptions::default()),
        (
            "L",
            JobOptions {
                lifo: Some(true),
                ..JobOptions::default()
            },
        ),
    ] {
        queue.add(name, "{}", opts).await.unwrap();
    }
    let order: Arc<Mutex<String>> = Arc::default();
    let seen = order.clone();
    let options = WorkerOptions {
        concurrency: 1,
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, move |job| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push_str(&job.name);
            Ok(Completion::empty())
        }
    });
    eventually(10, "all processed", || async {
        (order.lock().unwrap().len() == 8).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(order.lock().unwrap().as_str(), "LDFCEABG");
    let priority_set: Vec<String> = cmd(
        &conn,
        &["ZRANGE", &format!("{prefix}:q:priority"), "0", "-1"],
    )
    .await;
    assert!(
        priority_set.is_empty(),
        "taking a job removes it from the priority set"
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn pause_holds_the_worker_and_resume_releases_it() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    queue.pause().await.unwrap();
    let id = queue.add("p", "{}", JobOptions::default()).await.unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |_job| async {
        Ok(Completion::empty())
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        queue.job_counts().await.unwrap().paused,
        1,
        "a paused queue is not consumed"
    );
    queue.resume().await.unwrap();
    eventually(10, "processed after resume", || async {
        let score: Option<f64> =
            cmd(&conn, &["ZSCORE", &format!("{prefix}:q:completed"), &id]).await;
        score
    })
    .await;
    running.stop().await;
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn delayed_jobs_are_promoted_when_due() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |job| async move {
        Ok(Completion::value(json!(
            now_ms() - job.timestamp.unwrap_or(0)
        )))
    });
    let id = queue
        .add(
            "d",
            "{}",
            JobOptions {
                delay: Some(400),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    eventually(10, "delayed job completed", || async {
        let score: Option<f64> =
            cmd(&conn, &["ZSCORE", &format!("{prefix}:q:completed"), &id]).await;
        score
    })
    .await;
    running.stop().await;
    let job = queue.get_job(&id).await.unwrap().unwrap();
    let waited: i64 = job.return_value.unwrap().parse().unwrap();
    assert!(waited >= 400, "ran after {waited} ms");
    assert_eq!(job.delay, Some(0), "promotion resets the delay field");
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn stalled_jobs_are_recovered_or_failed_over_the_limit() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let base = format!("{prefix}:q:");
    let recoverable = queue
        .add("s", r#"{"k":1}"#, JobOptions::default())
        .await
        .unwrap();
    let hopeless = queue
        .add("s", r#"{"k":2}"#, JobOptions::default())
        .await
        .unwrap();
    // A crashed worker: both ids moved to active, no lock; one has already stalled once.
    let _: Option<String> = cmd(
        &conn,
        &[
            "RPOPLPUSH",
            &format!("{base}wait"),
            &format!("{base}active"),
        ],
    )
    .await;
    let _: Option<String> = cmd(
        &conn,
        &[
            "RPOPLPUSH",
            &format!("{base}wait"),
            &format!("{base}active"),
        ],
    )
    .await;
    let _: i64 = cmd(
        &conn,
        &["HSET", &format!("{base}{hopeless}"), "stalledCounter", "1"],
    )
    .await;
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |_job| async {
        Ok(Completion::empty())
    });
    eventually(10, "stalled job recovered and completed", || async {
        let score: Option<f64> = cmd(
            &conn,
            &["ZSCORE", &format!("{base}completed"), &recoverable],
        )
        .await;
        score
    })
    .await;
    eventually(10, "over-limit stalled job failed", || async {
        let score: Option<f64> = cmd(&conn, &["ZSCORE", &format!("{base}failed"), &hopeless]).await;
        score
    })
    .await;
    running.stop().await;
    let job = queue.get_job(&recoverable).await.unwrap().unwrap();
    assert_eq!(job.stalled_counter, 1);
    let job = queue.get_job(&hopeless).await.unwrap().unwrap();
    assert_eq!(
        job.failed_reason.as_deref(),
        Some("job stalled more than allowable limit")
    );
    let letters = DeadLetters::new(conn.clone(), &prefix, None)
        .list()
        .await
        .unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].original_data, r#"{"k":2}"#);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn repeat_every_schedules_the_next_iteration_when_taken() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let repeat = RepeatOptions {
        every: Some(300),
        ..RepeatOptions::default()
    };
    let first = queue
        .add(
            "tick",
            r#"{"t":1}"#,
            JobOptions {
                repeat: Some(repeat.clone()),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = ids.clone();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), move |job| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(job.id.clone());
            Ok(Completion::empty())
        }
    });
    eventually(10, "three iterations", || async {
        (ids.lock().unwrap().len() >= 3).then_some(())
    })
    .await;
    running.stop().await;
    let ids = ids.lock().unwrap().clone();
    assert_eq!(ids[0], first);
    let prefix_of_ids = guildhost::queue::iteration_id_prefix("tick", &repeat, "tick:::300");
    let mut previous = 0;
    for id in &ids {
        let millis: i64 = id
            .strip_prefix(&prefix_of_ids)
            .expect("same series")
            .parse()
            .unwrap();
        assert_eq!(millis % 300, 0);
        assert!(millis > previous);
        previous = millis;
    }
    let series = queue.repeatable_keys().await.unwrap();
    assert_eq!(series.len(), 1);
    assert!(
        series[0].1 > previous - 1,
        "the zset score follows the newest scheduled iteration"
    );
    let job = queue.get_job(&ids[1]).await.unwrap().unwrap();
    assert_eq!(job.opts.repeat.as_ref().and_then(|r| r.count), Some(2));
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn bad_data_and_missing_opts_fail_into_dead_letters() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let base = format!("{prefix}:q:");
    let now = now_ms().to_string();
    let _: i64 = cmd(
        &conn,
        &[
            "HSET",
            &format!("{base}bad-data"),
            "name",
            "x",
            "data",
            "{not json",
            "opts",
            "{}",
            "timestamp",
            &now,
            "delay",
            "0",
            "priority",
            "0",
        ],
    )
    .await;
    let _: i64 = cmd(
        &conn,
        &[
            "HSET",
            &format!("{base}no-opts"),
            "name",
            "y",
            "data",
            "{}",
            "timestamp",
            &now,
        ],
    )
    .await;
    let _: i64 = cmd(
        &conn,
        &[
            "HSET",
            &format!("{base}bad-opts"),
            "name",
            "z",
            "data",
            "{}",
            "opts",
            "[1,",
            "timestamp",
            &now,
        ],
    )
    .await;
    let _: i64 = cmd(
        &conn,
        &[
            "LPUSH",
            &format!("{base}wait"),
            "bad-data",
            "no-opts",
            "bad-opts",
            "ghost",
        ],
    )
    .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), move |_job| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok(Completion::empty()) }
    });
    let letters = DeadLetters::new(conn.clone(), &prefix, None);
    let all = eventually(10, "three dead letters", || async {
        let all = letters.list().await.unwrap();
        (all.len() == 3).then_some(all)
    })
    .await;
    running.stop().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler never sees bad input"
    );
    let reasons: HashMap<String, String> = all.into_iter().map(|l| (l.job_id, l.error)).collect();
    assert!(
        reasons["bad-data"].contains("`data` is not valid JSON"),
        "{reasons:?}"
    );
    assert!(
        reasons["no-opts"].contains("`opts` is missing"),
        "{reasons:?}"
    );
    assert!(
        reasons["bad-opts"].contains("`opts` is not valid"),
        "{reasons:?}"
    );
    let active: Vec<String> = cmd(&conn, &["LRANGE", &format!("{base}active"), "0", "-1"]).await;
    assert!(active.is_empty(), "nothing stays in active: {active:?}");
    let failed: i64 = cmd(&conn, &["ZCARD", &format!("{base}failed")]).await;
    assert_eq!(failed, 3);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn timeout_fails_the_attempt_with_bulls_message() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let id = queue
        .add(
            "t",
            "{}",
            JobOptions {
                timeout: Some(100),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |_job| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(Completion::empty())
    });
    eventually(10, "timed out job failed", || async {
        let score: Option<f64> = cmd(&conn, &["ZSCORE", &format!("{prefix}:q:failed"), &id]).await;
        score
    })
    .await;
    running.stop().await;
    let job = queue.get_job(&id).await.unwrap().unwrap();
    assert_eq!(
        job.failed_reason.as_deref(),
        Some("Promise timed out after 100 milliseconds")
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn graceful_shutdown_releases_unfinished_jobs_without_using_an_attempt() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let id = queue
        .add(
            "forever",
            "{}",
            JobOptions {
                attempts: Some(1),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let s = started.clone();
    let options = WorkerOptions {
        shutdown_timeout: Duration::from_millis(200),
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, move |_job| {
        let s = s.clone();
        async move {
            s.notify_one();
            std::future::pending::<()>().await;
            Ok(Completion::empty())
        }
    });
    started.notified().await;
    let stats = running.stop().await;
    assert_eq!(stats.released, 1);
    let wait: Vec<String> = cmd(&conn, &["LRANGE", &format!("{prefix}:q:wait"), "0", "-1"]).await;
    assert_eq!(wait, vec![id.clone()]);
    let job = queue.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.attempts_made, 0);
    let lock: Option<String> = cmd(&conn, &["GET", &format!("{prefix}:q:{id}:lock")]).await;
    assert!(lock.is_none());
    assert_eq!(queue.job_counts().await.unwrap().active, 0);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn survives_connection_kills_without_losing_or_repeating_completions() {
    let conn = redis().await;
    let killer = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let total = 300;
    let jobs: Vec<NewJob> = (0..total)
        .map(|n| NewJob::new("q", "k", format!(r#"{{"n":{n}}}"#)).with_opts(JobOptions::default()))
        .collect();
    queue.add_bulk(&jobs).await.unwrap();
    let runs: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen = runs.clone();
    let options = WorkerOptions {
        concurrency: 8,
        batch_size: 8,
        lock_duration: Duration::from_millis(1000),
        stalled_interval: Duration::from_millis(300),
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, move |job| {
        let seen = seen.clone();
        async move {
            *seen.lock().unwrap().entry(job.id.clone()).or_default() += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(Completion::empty().with_outputs(vec![NewJob::new(
                "out",
                "o",
                format!(r#"{{"of":"{}"}}"#, job.id),
            )]))
        }
    });
    // The worker shares this connection (a clone): kill it under the worker a few times.
    let mut kills_mid_run = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        // The shared connection may be reconnecting from the previous kill: ask until it answers.
        let id: i64 = eventually(5, "the shared connection answers", || async {
            let mut shared = conn.clone();
            redis::cmd("CLIENT")
                .arg("ID")
                .query_async::<i64>(&mut shared)
                .await
                .ok()
        })
        .await;
        let _: redis::Value = cmd(&killer, &["CLIENT", "KILL", "ID", &id.to_string()]).await;
        let completed: u64 = cmd(&killer, &["ZCARD", &format!("{prefix}:q:completed")]).await;
        if completed < total as u64 {
            kills_mid_run += 1;
        }
    }
    assert!(
        kills_mid_run >= 3,
        "the connection was killed while jobs were running"
    );
    eventually(30, "every job completed", || async {
        let counts = queue.job_counts().await.ok()?;
        (counts.completed == total as u64 && counts.active == 0).then_some(())
    })
    .await;
    running.stop().await;
    let out = Queue::new(conn.clone(), &prefix, "out");
    let outputs: Vec<String> =
        cmd(&conn, &["LRANGE", &format!("{prefix}:out:wait"), "0", "-1"]).await;
    let mut parents = Vec::new();
    for id in &outputs {
        parents.push(out.get_job(id).await.unwrap().unwrap().data);
    }
    parents.sort();
    parents.dedup();
    assert_eq!(outputs.len(), total, "one output per completed job");
    assert_eq!(parents.len(), total, "no output twice");
    let distinct_jobs_run = runs.lock().unwrap().len();
    assert_eq!(distinct_jobs_run, total);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn a_delayed_add_announced_on_the_channel_is_promoted_on_time() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    // A guard tick far away: only the `delayed` announcement can wake the promotion in time.
    let options = WorkerOptions {
        guard_interval: Duration::from_secs(60),
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, |_job| async {
        Ok(Completion::empty())
    });
    // Let the worker finish its first promotion pass and subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let id = queue
        .add(
            "d",
            "{}",
            JobOptions {
                delay: Some(300),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    eventually(
        5,
        "the delayed job completed well before the guard tick",
        || async {
            let score: Option<f64> =
                cmd(&conn, &["ZSCORE", &format!("{prefix}:q:completed"), &id]).await;
            score
        },
    )
    .await;
    running.stop().await;
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn a_lost_lock_found_by_renewal_cancels_the_handler() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let id = queue
        .add("slow", "{}", JobOptions::default())
        .await
        .unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let dropped = Arc::new(AtomicBool::new(false));
    let (s, d) = (started.clone(), dropped.clone());
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let options = WorkerOptions {
        lock_renew_time: Some(Duration::from_millis(50)),
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, move |_job| {
        let (s, d) = (s.clone(), d.clone());
        async move {
            let _guard = SetOnDrop(d);
            s.notify_one();
            std::future::pending::<()>().await;
            Ok(Completion::empty())
        }
    });
    started.notified().await;
    let _: () = cmd(
        &conn,
        &[
            "SET",
            &format!("{prefix}:q:{id}:lock"),
            "someone-else",
            "PX",
            "60000",
        ],
    )
    .await;
    eventually(5, "the handler is cancelled", || async {
        dropped.load(Ordering::SeqCst).then_some(())
    })
    .await;
    let stats = running.stop().await;
    assert_eq!((stats.stale, stats.completed, stats.released), (1, 0, 0));
    let active: Vec<String> =
        cmd(&conn, &["LRANGE", &format!("{prefix}:q:active"), "0", "-1"]).await;
    assert_eq!(active, vec![id], "the job is left to the lock holder");
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn an_output_redis_refuses_fails_only_its_own_job() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    // A key of the wrong type where the output queue's id counter should be.
    let _: i64 = cmd(
        &conn,
        &["HSET", &format!("{prefix}:broken:id"), "not", "a counter"],
    )
    .await;
    let good = queue
        .add("good", "{}", JobOptions::default())
        .await
        .unwrap();
    let bad = queue.add("bad", "{}", JobOptions::default()).await.unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |job| async move {
        let target = if job.name == "bad" { "broken" } else { "fine" };
        Ok(Completion::empty().with_outputs(vec![NewJob::new(target, "o", "{}")]))
    });
    eventually(10, "both settled", || async {
        let counts = queue.job_counts().await.unwrap();
        (counts.completed == 1 && counts.failed == 1).then_some(())
    })
    .await;
    running.stop().await;
    assert_eq!(
        queue.get_state(&good).await.unwrap(),
        guildhost::queue::JobState::Completed
    );
    let job = queue.get_job(&bad).await.unwrap().unwrap();
    let reason = job.failed_reason.unwrap();
    assert!(
        reason.contains("refused by Redis") && reason.contains(":broken:id"),
        "{reason}"
    );
    assert_eq!(
        Queue::new(conn.clone(), &prefix, "fine")
            .job_counts()
            .await
            .unwrap()
            .waiting,
        1
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn bull_events_are_published_on_bulls_channels() {
    use futures_util::StreamExt;
    let conn = redis().await;
    let prefix = unique_prefix();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let client = redis::Client::open(url).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.psubscribe(format!("{prefix}:q:*")).await.unwrap();
    let mut messages = pubsub.into_on_message();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let ok = queue.add("ok", "{}", JobOptions::default()).await.unwrap();
    let bad = queue.add("bad", "{}", JobOptions::default()).await.unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |job| async move {
        if job.name == "bad" {
            Err(JobFailure::retryable("it broke"))
        } else {
            Ok(Completion::value(json!({"ok": true})))
        }
    });
    let mut seen: Vec<(String, String)> = Vec::new();
    let base = format!("{prefix}:q:");
    let wanted = |seen: &[(String, String)]| {
        ["waiting@", "active@", "completed", "failed", "drained"]
            .iter()
            .all(|channel| seen.iter().any(|(name, _)| name.starts_with(channel)))
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !wanted(&seen) {
        let message = tokio::time::timeout_at(deadline, messages.next())
            .await
            .expect("all Bull events within 10 s")
            .expect("pub/sub stream open");
        let channel = message
            .get_channel_name()
            .strip_prefix(&base)
            .unwrap_or_default()
            .to_owned();
        seen.push((channel, message.get_payload::<String>().unwrap()));
    }
    running.stop().await;
    // Bull publishes `drained` only when a look for jobs finds none: not with the first take,
    // which found two where it asked for more, so only after a job completed.
    let first = |channel: &str| seen.iter().position(|(name, _)| name == channel);
    assert!(
        first("drained") > first("completed"),
        "drained before any completion: {seen:?}"
    );
    let payload = |channel: &str| {
        seen.iter()
            .find(|(name, _)| name == channel)
            .map(|(_, payload)| payload.clone())
            .unwrap_or_default()
    };
    let completed: Value = serde_json::from_str(&payload("completed")).unwrap();
    assert_eq!(completed, json!({"jobId": ok, "val": "{\"ok\":true}"}));
    let failed: Value = serde_json::from_str(&payload("failed")).unwrap();
    assert_eq!(failed, json!({"jobId": bad, "val": "it broke"}));
    let tokens: Vec<&str> = seen
        .iter()
        .filter_map(|(name, _)| name.strip_prefix("active@"))
        .collect();
    assert!(
        !tokens.is_empty() && tokens.iter().all(|token| token.len() == 36),
        "active@<uuid>: {tokens:?}"
    );
    assert!(
        seen.iter()
            .any(|(name, id)| name.starts_with("waiting@") && id == &ok)
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn a_panicking_handler_fails_the_attempt_and_the_worker_goes_on() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let panicking = queue
        .add("panic", "{}", JobOptions::default())
        .await
        .unwrap();
    let fine = queue
        .add("fine", "{}", JobOptions::default())
        .await
        .unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |job| async move {
        if job.name == "panic" {
            panic!("plugin bug");
        }
        Ok(Completion::empty())
    });
    eventually(10, "both settled", || async {
        let counts = queue.job_counts().await.unwrap();
        (counts.completed == 1 && counts.failed == 1).then_some(())
    })
    .await;
    running.stop().await;
    let job = queue.get_job(&panicking).await.unwrap().unwrap();
    assert_eq!(
        job.failed_reason.as_deref(),
        Some("handler panicked: plugin bug")
    );
    assert_eq!(
        queue.get_state(&fine).await.unwrap(),
        guildhost::queue::JobState::Completed
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn retention_by_age_drops_old_completed_jobs() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let by_age = JobOptions {
        remove_on_complete: Some(KeepJobs::Policy {
            age: Some(1),
            count: None,
        }),
        ..JobOptions::default()
    };
    let old = queue.add("old", "{}", by_age.clone()).await.unwrap();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), |_job| async {
        Ok(Completion::empty())
    });
    let completed_key = format!("{prefix}:q:completed");
    eventually(10, "first job completed", || async {
        let score: Option<f64> = cmd(&conn, &["ZSCORE", &completed_key, &old]).await;
        score
    })
    .await;
    // Age the first completion by five seconds.
    let aged = (now_ms() - 5_000).to_string();
    let _: i64 = cmd(&conn, &["ZADD", &completed_key, &aged, &old]).await;
    let new = queue.add("new", "{}", by_age).await.unwrap();
    eventually(
        10,
        "second job completed and the old one dropped",
        || async {
            let members: Vec<String> = cmd(&conn, &["ZRANGE", &completed_key, "0", "-1"]).await;
            (members == vec![new.clone()]).then_some(())
        },
    )
    .await;
    running.stop().await;
    assert!(
        queue.get_job(&old).await.unwrap().is_none(),
        "its hash is deleted too"
    );
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn repeat_cron_iterations_continue_in_the_worker() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let repeat = RepeatOptions {
        cron: Some("* * * * * *".into()),
        tz: Some("Europe/Berlin".into()),
        ..RepeatOptions::default()
    };
    queue
        .add(
            "cron",
            "{}",
            JobOptions {
                repeat: Some(repeat.clone()),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let ids: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = ids.clone();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), move |job| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(job.id.clone());
            Ok(Completion::empty())
        }
    });
    eventually(10, "two cron iterations", || async {
        (ids.lock().unwrap().len() >= 2).then_some(())
    })
    .await;
    running.stop().await;
    let key = "cron:::Europe/Berlin:* * * * * *";
    let series = guildhost::queue::iteration_id_prefix("cron", &repeat, key);
    let ids = ids.lock().unwrap().clone();
    let seconds: Vec<i64> = ids
        .iter()
        .map(|id| {
            id.strip_prefix(&series)
                .expect("same series")
                .parse::<i64>()
                .unwrap()
        })
        .collect();
    assert!(seconds.iter().all(|ms| ms % 1000 == 0), "{seconds:?}");
    // Normally the very next second; a starved machine may skip seconds, never repeat one.
    assert!(seconds[1] > seconds[0], "later seconds: {seconds:?}");
    assert_eq!(queue.repeatable_keys().await.unwrap()[0].0, key);
    cleanup(&conn, &prefix).await;
}

#[tokio::test]
async fn a_job_popped_after_shutdown_began_goes_back_to_wait() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    // A long blocking wait, so the job added below is the one it pops.
    let options = WorkerOptions {
        drain_delay: Duration::from_secs(5),
        ..fast_options()
    };
    let running = spawn_worker(&conn, &prefix, "q", options, move |_job| {
        c.fetch_add(1, Ordering::SeqCst);
        async { Ok(Completion::empty()) }
    });
    // The idle worker is blocked in BRPOPLPUSH on its named connection.
    let name = format!("name={prefix}:");
    eventually(10, "the worker blocks waiting for jobs", || async {
        let clients: String = cmd(&conn, &["CLIENT", "LIST"]).await;
        clients
            .lines()
            .any(|l| l.contains(&name) && l.contains("cmd=brpoplpush"))
            .then_some(())
    })
    .await;
    let Running { stop, task } = running;
    let _ = stop.send(());
    // On this single-threaded runtime the woken worker runs before we go on: it is stopping.
    tokio::task::yield_now().await;
    let id = queue
        .add("late", "{}", JobOptions::default())
        .await
        .unwrap();
    let stats = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("worker stops within 10 s")
        .expect("worker task");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler ran after shutdown"
    );
    assert_eq!(stats.released, 1, "{stats:?}");
    let wait: Vec<String> = cmd(&conn, &["LRANGE", &format!("{prefix}:q:wait"), "0", "-1"]).await;
    assert_eq!(wait, vec![id.clone()]);
    assert_eq!(queue.job_counts().await.unwrap().active, 0);
    let lock: Option<String> = cmd(&conn, &["GET", &format!("{prefix}:q:{id}:lock")]).await;
    assert!(lock.is_none());
    cleanup(&conn, &prefix).await;
}

/// What a failure owes others (`outputs_if_final`) is added with the final failure only: the
/// retried attempts add nothing, the last one adds it once, beside its dead letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_owed_by_a_failure_are_added_only_when_it_is_final() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "bot:commands");
    let id = queue
        .add(
            "SEND_MESSAGE",
            "{}",
            JobOptions {
                attempts: Some(3),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let tries = Arc::new(AtomicUsize::new(0));
    let counted = tries.clone();
    let running = spawn_worker(
        &conn,
        &prefix,
        "bot:commands",
        fast_options(),
        move |_job| {
            let tries = counted.clone();
            async move {
                let attempt = tries.fetch_add(1, Ordering::SeqCst) + 1;
                Err::<Completion, _>(
                    JobFailure::retryable(format!("attempt {attempt} failed"))
                        .with_outputs_if_final(vec![NewJob::new(
                            "moderation:events",
                            "REPORT",
                            format!("{{\"attempt\":{attempt}}}"),
                        )]),
                )
            }
        },
    );
    let letters = DeadLetters::new(conn.clone(), &prefix, None);
    eventually(10, "the dead letter", || async {
        letters.list().await.unwrap().pop()
    })
    .await;
    let events = Queue::new(conn.clone(), &prefix, "moderation:events");
    let waiting: Vec<String> = cmd(&conn, &["LRANGE", &events.keys().wait(), "0", "-1"]).await;
    assert_eq!(waiting.len(), 1, "one owed job, from the last attempt");
    let owed = events
        .get_job(&waiting[0])
        .await
        .unwrap()
        .expect("the owed job");
    assert_eq!(owed.data, r#"{"attempt":3}"#);
    assert_eq!(tries.load(Ordering::SeqCst), 3);
    assert!(queue.get_job(&id).await.unwrap().is_some());
    running.stop().await;
    cleanup(&conn, &prefix).await;
}

/// `removeOnComplete: {age: 0}` and `removeOnFail: {age: 0}` remove every job finished by now,
/// the finishing one included, as Bull's `removeJobsByMaxAge` does (age 0 is a limit, not "no
/// limit"); an absent age keeps jobs of any age.
#[tokio::test]
async fn an_age_of_zero_removes_every_job_finished_by_now() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let age_zero = Some(guildhost::queue::KeepJobs::Policy {
        age: Some(0),
        count: None,
    });
    let kept = queue.add("ok", "{}", JobOptions::default()).await.unwrap();
    let ok = queue
        .add(
            "ok",
            "{}",
            JobOptions {
                remove_on_complete: age_zero.clone(),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let bad = queue
        .add(
            "bad",
            "{}",
            JobOptions {
                remove_on_fail: age_zero,
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let running = spawn_worker(
        &conn,
        &prefix,
        "q",
        WorkerOptions {
            concurrency: 1,
            ..fast_options()
        },
        |job| async move {
            if job.name == "bad" {
                Err(JobFailure::retryable("it broke"))
            } else {
                Ok(Completion::empty())
            }
        },
    );
    eventually(10, "all three finished", || async {
        let gone = queue.get_job(&ok).await.unwrap().is_none()
            && queue.get_job(&bad).await.unwrap().is_none();
        gone.then_some(())
    })
    .await;
    running.stop().await;
    // The one kept before was finished by then too: {age: 0} took it with it.
    assert!(queue.get_job(&kept).await.unwrap().is_none());
    let counts = queue.job_counts().await.unwrap();
    assert_eq!((counts.completed, counts.failed), (0, 0));
    cleanup(&conn, &prefix).await;
}

/// A postponed failure (not the job's fault: a dependency down, a suspended plugin) sends the
/// job to `delayed` without using an attempt, however often it happens; what the failure owes
/// now goes out with the first postponement, with a note the next attempt reads back.
#[tokio::test]
async fn a_postponed_job_uses_no_attempt_and_sends_what_it_owes_once() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let queue = Queue::new(conn.clone(), &prefix, "q");
    let id = queue
        .add(
            "flaky",
            "{}",
            JobOptions {
                attempts: Some(1),
                ..JobOptions::default()
            },
        )
        .await
        .unwrap();
    let tries = Arc::new(AtomicUsize::new(0));
    let seen = tries.clone();
    let running = spawn_worker(&conn, &prefix, "q", fast_options(), move |job| {
        let attempt = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            if attempt < 3 {
                let owed = if job.notes.contains_key("sent") {
                    Vec::new()
                } else {
                    vec![NewJob::new("events", "OWED", "{}")]
                };
                Err(
                    JobFailure::postponed("the store is down", Duration::from_millis(50))
                        .with_outputs_now(owed, &[("sent", "1")]),
                )
            } else {
                Ok(Completion::value(
                    json!({"attemptsMade": job.attempts_made}),
                ))
            }
        }
    });
    eventually(10, "the job completed", || async {
        let score: Option<f64> =
            cmd(&conn, &["ZSCORE", &format!("{prefix}:q:completed"), &id]).await;
        score
    })
    .await;
    let stats = running.stop().await;
    assert_eq!(tries.load(Ordering::SeqCst), 4);
    assert_eq!((stats.completed, stats.dead_lettered), (1, 0));
    let job = queue.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.attempts_made, 0, "no attempt used by a postponement");
    assert_eq!(job.return_value.as_deref(), Some(r#"{"attemptsMade":0}"#));
    let owed: Vec<String> = cmd(
        &conn,
        &["LRANGE", &format!("{prefix}:events:wait"), "0", "-1"],
    )
    .await;
    assert_eq!(owed.len(), 1, "owed once, not once per postponement");
    cleanup(&conn, &prefix).await;
}
