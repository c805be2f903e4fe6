//! Node's `bull` adds jobs, guildhost's worker processes them, and Node's own getters
//! (`getJobCounts`, `getJob`, `job.finished()`) and `global:*` events agree with what guildhost did.
//! One test per group of Bull options; each test has its own key prefix.

use std::collections::HashSet;
use std::time::Duration;

use guildhost::queue::{Completion, DEFAULT_DEAD_LETTER_QUEUE, DeadLetters, JobFailure, Queue};
use guildhost_tests::{
    Calls, cleanup, connect, eventually, fast_worker_options, node, node_ready, spawn_worker,
    unique_prefix,
};
use serde_json::{Value, json};

const QUEUE: &str = "bot:commands";
const WAIT: Duration = Duration::from_secs(15);

/// The handler of most tests: records the call and returns `{"by":"rust","id":<id>}`.
fn echo(calls: &Calls, job: &guildhost::queue::Job) -> Result<Completion, JobFailure> {
    calls.record(job);
    Ok(Completion::value(json!({"by": "rust", "id": job.id})))
}

async fn node_add(prefix: &str, jobs: Value) -> Vec<String> {
    let added = node(
        "add.js",
        json!({"prefix": prefix, "queue": QUEUE, "jobs": jobs}),
    )
    .await;
    added["ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn node_inspect(prefix: &str, args: Value) -> Value {
    let mut args = args;
    args["prefix"] = json!(prefix);
    args["queue"] = json!(QUEUE);
    node("inspect.js", args).await
}

fn data_of(job: &guildhost::queue::Job) -> Value {
    serde_json::from_str(&job.data).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_data_counts_job_finished_and_global_events_agree() {
    let conn = connect().await;
    let prefix = unique_prefix("ids");
    let events = node_ready(
        "events.js",
        json!({"prefix": prefix, "queue": QUEUE, "count": 3, "events": ["completed"]}),
    )
    .await;
    let ids = node_add(
        &prefix,
        json!([
            {"name": "ban", "data": {"n": 1, "text": "plain"}},
            {"name": "ban", "data": {"n": 2}, "opts": {"jobId": "custom-7"}},
            {"name": "kick", "data": {"n": 3, "nested": {"list": [1, 2]}}, "opts": {"jobId": 123}},
        ]),
    )
    .await;
    assert_eq!(ids[1..], ["custom-7".to_owned(), "123".to_owned()]);

    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(4), move |job| {
        let outcome = echo(&seen, &job);
        async move { outcome }
    });
    calls.wait_for(3, WAIT).await;
    let report = node_inspect(
        &prefix,
        json!({"ids": ids, "finished": ids, "finishedTimeoutMs": 10000}),
    )
    .await;
    let stats = worker.stop().await;
    assert_eq!(stats.completed, 3);

    let by_id: Vec<(String, String, Value)> = calls
        .all()
        .iter()
        .map(|job| (job.id.clone(), job.name.clone(), data_of(job)))
        .collect();
    assert!(by_id.contains(&(
        ids[0].clone(),
        "ban".into(),
        json!({"n": 1, "text": "plain"})
    )));
    assert!(by_id.contains(&("custom-7".into(), "ban".into(), json!({"n": 2}))));
    assert!(by_id.contains(&(
        "123".into(),
        "kick".into(),
        json!({"n": 3, "nested": {"list": [1, 2]}})
    )));
    let numeric = calls.all().into_iter().find(|job| job.id == "123");
    let numeric_opts: Value = numeric
        .and_then(|job| job.opts_raw)
        .and_then(|raw| serde_json::from_str(&raw).ok())
        .unwrap_or(Value::Null);
    assert_eq!(
        numeric_opts["jobId"],
        json!(123),
        "a numeric jobId stays a number"
    );

    assert_eq!(
        report["counts"],
        json!({"waiting": 0, "active": 0, "completed": 3, "failed": 0, "delayed": 0, "paused": 0})
    );
    for id in &ids {
        let job = &report["jobs"][id];
        assert_eq!(job["state"], "completed", "getJob({id}): {job}");
        assert_eq!(job["returnvalue"], json!({"by": "rust", "id": id}));
        assert!(job["finishedOn"].as_i64() >= job["processedOn"].as_i64());
        assert_eq!(
            report["finished"][id],
            json!({"value": {"by": "rust", "id": id}}),
            "job.finished() of {id}"
        );
    }

    let heard = events
        .result(WAIT)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let mut heard_ids = HashSet::new();
    for event in heard["events"].as_array().into_iter().flatten() {
        assert_eq!(event["event"], "completed");
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        // Bull passes the return value as JSON text inside the event.
        let value: Value =
            serde_json::from_str(event["value"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
        assert_eq!(value, json!({"by": "rust", "id": id}));
        heard_ids.insert(id);
    }
    assert_eq!(heard_ids, ids.iter().cloned().collect::<HashSet<_>>());
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_and_backoff_number_fixed_exponential_are_honoured() {
    let conn = connect().await;
    let prefix = unique_prefix("backoff");
    let events = node_ready(
        "events.js",
        json!({"prefix": prefix, "queue": QUEUE, "count": 4, "events": ["completed", "failed"]}),
    )
    .await;
    let ids = node_add(
        &prefix,
        json!([
            {"name": "number", "data": {}, "opts": {"attempts": 3, "backoff": 150}},
            {"name": "fixed", "data": {}, "opts": {"attempts": 3, "backoff": {"type": "fixed", "delay": 200}}},
            {"name": "exponential", "data": {}, "opts": {"attempts": 3, "backoff": {"type": "exponential", "delay": 100}}},
            {"name": "hopeless", "data": {}, "opts": {"attempts": 2}},
        ]),
    )
    .await;
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(4), move |job| {
        let earlier = seen.record(&job);
        let outcome = if job.name == "hopeless" || earlier < 2 {
            Err(JobFailure::retryable(format!(
                "attempt {} of {} failed",
                earlier + 1,
                job.name
            )))
        } else {
            Ok(Completion::value(json!({"attempts": earlier + 1})))
        };
        async move { outcome }
    });
    // 3 tries for each of the three retried jobs, 2 for the hopeless one.
    calls.wait_for(11, WAIT).await;
    let heard = events
        .result(WAIT)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let report = node_inspect(&prefix, json!({"ids": ids, "finished": ids})).await;
    worker.stop().await;

    let times = |id: &str| -> Vec<i64> {
        calls
            .all()
            .iter()
            .filter(|job| job.id == id)
            .filter_map(|job| job.processed_on)
            .collect()
    };
    // Each try starts no earlier than the previous one plus Bull's backoff for it.
    for (id, gaps) in [
        (&ids[0], [150, 150]),
        (&ids[1], [200, 200]),
        (&ids[2], [100, 300]),
    ] {
        let starts = times(id);
        assert_eq!(starts.len(), 3, "job {id} ran 3 times: {starts:?}");
        for (pair, gap) in starts.windows(2).zip(gaps) {
            assert!(
                pair[1] - pair[0] >= gap,
                "job {id}: tries at {starts:?} need a gap of {gap} ms"
            );
        }
        let job = &report["jobs"][id.as_str()];
        assert_eq!(job["state"], "completed");
        assert_eq!(
            job["attemptsMade"], 2,
            "two failed attempts recorded on {id}"
        );
        assert_eq!(job["stacktrace"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            report["finished"][id.as_str()],
            json!({"value": {"attempts": 3}})
        );
    }
    let hopeless = &report["jobs"][ids[3].as_str()];
    assert_eq!(hopeless["state"], "failed");
    assert_eq!(hopeless["attemptsMade"], 2);
    assert_eq!(hopeless["failedReason"], "attempt 2 of hopeless failed");
    assert_eq!(
        report["finished"][ids[3].as_str()],
        json!({"error": "attempt 2 of hopeless failed"}),
        "job.finished() rejects with the reason"
    );
    assert_eq!(report["counts"]["completed"], 3);
    assert_eq!(report["counts"]["failed"], 1);
    let failed_events: Vec<&Value> = heard["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["event"] == "failed")
        .collect();
    assert_eq!(
        failed_events.len(),
        1,
        "global:failed only on the final failure: {heard}"
    );
    assert_eq!(failed_events[0]["id"], json!(ids[3]));
    assert_eq!(failed_events[0]["value"], "attempt 2 of hopeless failed");
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priorities_and_lifo_added_by_node_run_in_bulls_order() {
    let conn = connect().await;
    let prefix = unique_prefix("prio");
    let ids = node_add(
        &prefix,
        json!([
            {"name": "A", "data": {}},
            {"name": "B", "data": {}},
            {"name": "C", "data": {}, "opts": {"priority": 3}},
            {"name": "D", "data": {}, "opts": {"priority": 1}},
            {"name": "E", "data": {}, "opts": {"priority": 3}},
            {"name": "F", "data": {}, "opts": {"priority": 2}},
            {"name": "G", "data": {}},
            {"name": "L", "data": {}, "opts": {"lifo": true}},
        ]),
    )
    .await;
    assert_eq!(ids.len(), 8);
    let calls = Calls::default();
    let seen = calls.clone();
    let mut options = fast_worker_options(1);
    options.batch_size = 1;
    let worker = spawn_worker(&conn, &prefix, QUEUE, options, move |job| {
        let outcome = echo(&seen, &job);
        async move { outcome }
    });
    calls.wait_for(8, WAIT).await;
    worker.stop().await;
    let order: String = calls.all().iter().map(|job| job.name.as_str()).collect();
    // The lifo job goes to the head, past the prioritized ones; equal priorities stay FIFO.
    assert_eq!(order, "LDFCEABG");
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_and_timeout_added_by_node_are_honoured() {
    let conn = connect().await;
    let prefix = unique_prefix("delay");
    let ids = node_add(
        &prefix,
        json!([
            {"name": "later", "data": {}, "opts": {"delay": 700}},
            {"name": "slow", "data": {}, "opts": {"timeout": 200}},
        ]),
    )
    .await;
    let before = node_inspect(&prefix, json!({"ids": [ids[0]]})).await;
    assert_eq!(before["jobs"][ids[0].as_str()]["state"], "delayed");
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(2), move |job| {
        seen.record(&job);
        let slow = job.name == "slow";
        async move {
            if slow {
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            Ok(Completion::value(json!("done")))
        }
    });
    calls.wait_for(2, WAIT).await;
    let report = node_inspect(&prefix, json!({"ids": ids, "finished": ids})).await;
    worker.stop().await;

    let later = calls.all().into_iter().find(|job| job.name == "later");
    let (created, started) = later
        .map(|job| (job.timestamp.unwrap_or(0), job.processed_on.unwrap_or(0)))
        .unwrap_or_default();
    assert!(
        started >= created + 700,
        "delayed job ran at {started}, created {created}"
    );
    assert_eq!(
        report["finished"][ids[0].as_str()],
        json!({"value": "done"})
    );
    assert_eq!(
        report["jobs"][ids[0].as_str()]["delay"],
        0,
        "promotion resets delay"
    );
    let slow = &report["jobs"][ids[1].as_str()];
    assert_eq!(slow["state"], "failed");
    assert_eq!(
        slow["failedReason"],
        "Promise timed out after 200 milliseconds"
    );
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_on_complete_and_fail_bool_count_and_age_count() {
    let conn = connect().await;
    let prefix = unique_prefix("retention");
    // Custom ids sort like their finishing order, so retention ties (same finishedOn ms) are
    // broken the same way whichever side finished them.
    let mut jobs = vec![
        json!({"name": "gone", "data": {}, "opts": {"removeOnComplete": true}}),
        json!({"name": "failgone", "data": {}, "opts": {"removeOnFail": true}}),
    ];
    for n in 1..=3 {
        jobs.push(json!({"name": "count", "data": {}, "opts": {"jobId": format!("c{n}"), "removeOnComplete": 2}}));
        jobs.push(json!({"name": "failcount", "data": {}, "opts": {"jobId": format!("f{n}"), "removeOnFail": {"age": 3600, "count": 1}}}));
    }
    // Jobs that keep everything finish last: a later count-limited job would trim them too.
    jobs.push(
        json!({"name": "kept", "data": {}, "opts": {"jobId": "c9", "removeOnComplete": false}}),
    );
    jobs.push(
        json!({"name": "failkept", "data": {}, "opts": {"jobId": "f9", "removeOnFail": false}}),
    );
    let ids = node_add(&prefix, json!(jobs)).await;
    let calls = Calls::default();
    let seen = calls.clone();
    let mut options = fast_worker_options(1);
    options.dead_letter_queue = None;
    options.batch_size = 1;
    let worker = spawn_worker(&conn, &prefix, QUEUE, options, move |job| {
        seen.record(&job);
        let outcome = if job.name.starts_with("fail") {
            Err(JobFailure::retryable("no"))
        } else {
            Ok(Completion::empty())
        };
        async move { outcome }
    });
    calls.wait_for(ids.len(), WAIT).await;
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    eventually(WAIT, "every job finished", || async {
        let counts = queue.job_counts().await.ok()?;
        (counts.waiting + counts.active == 0).then_some(())
    })
    .await;
    let report = node_inspect(&prefix, json!({"ids": ids})).await;
    worker.stop().await;

    let state = |id: &str| report["jobs"][id]["state"].clone();
    assert_eq!(
        report["jobs"][ids[0].as_str()],
        Value::Null,
        "removeOnComplete true deletes"
    );
    assert_eq!(
        report["jobs"][ids[1].as_str()],
        Value::Null,
        "removeOnFail true deletes"
    );
    assert_eq!(state("c9"), "completed");
    assert_eq!(state("f9"), "failed");
    let completed: Vec<Value> = ["c1", "c2", "c3"].iter().map(|id| state(id)).collect();
    assert_eq!(
        completed,
        [Value::Null, json!("completed"), json!("completed")],
        "removeOnComplete 2"
    );
    let failed: Vec<Value> = ["f1", "f2", "f3"].iter().map(|id| state(id)).collect();
    assert_eq!(
        failed,
        [Value::Null, Value::Null, json!("failed")],
        "removeOnFail {{age, count: 1}}"
    );
    assert_eq!(report["counts"]["completed"], 3);
    assert_eq!(report["counts"]["failed"], 2);
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_on_complete_age_drops_jobs_older_than_the_age() {
    let conn = connect().await;
    let prefix = unique_prefix("age");
    let old = node_add(
        &prefix,
        json!([{"name": "old", "data": {}, "opts": {"removeOnComplete": {"age": 1}}}]),
    )
    .await;
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        let outcome = echo(&seen, &job);
        async move { outcome }
    });
    calls.wait_for(1, WAIT).await;
    let kept = node_inspect(&prefix, json!({"ids": old})).await;
    assert_eq!(kept["jobs"][old[0].as_str()]["state"], "completed");
    // Retention by age compares finishedOn with the next finish: let more than 1 s pass.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let new = node_add(
        &prefix,
        json!([{"name": "new", "data": {}, "opts": {"removeOnComplete": {"age": 1}}}]),
    )
    .await;
    calls.wait_for(2, WAIT).await;
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    eventually(WAIT, "the new job completed", || async {
        matches!(
            queue.get_state(&new[0]).await,
            Ok(guildhost::queue::JobState::Completed)
        )
        .then_some(())
    })
    .await;
    worker.stop().await;
    let report = node_inspect(&prefix, json!({"ids": [old[0], new[0]]})).await;
    assert_eq!(
        report["jobs"][old[0].as_str()],
        Value::Null,
        "older than 1 s: removed"
    );
    assert_eq!(report["jobs"][new[0].as_str()]["state"], "completed");
    assert_eq!(report["counts"]["completed"], 1);
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_plain_bull_jobs_node_can_read_and_replay_returns_the_job() {
    let conn = connect().await;
    let prefix = unique_prefix("dead");
    let ids = node_add(
        &prefix,
        json!([{"name": "ban", "data": {"userId": "42"}, "opts": {"attempts": 5}}]),
    )
    .await;
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        seen.record(&job);
        async move { Err(JobFailure::permanent("userId is not a snowflake")) }
    });
    calls.wait_for(1, WAIT).await;
    let letters = DeadLetters::new(conn.clone(), &prefix, None);
    let letter = eventually(WAIT, "a dead letter", || async {
        letters.list().await.ok()?.pop()
    })
    .await;
    worker.stop().await;
    assert_eq!(
        calls.len(),
        1,
        "a permanent failure skips the remaining attempts"
    );

    let node_view = node(
        "inspect.js",
        json!({"prefix": prefix, "queue": DEFAULT_DEAD_LETTER_QUEUE, "ids": [letter.id]}),
    )
    .await;
    assert_eq!(node_view["counts"]["waiting"], 1);
    let job = &node_view["jobs"][letter.id.as_str()];
    assert_eq!(job["name"], "failed_job");
    assert_eq!(job["data"]["originalJob"], json!({"userId": "42"}));
    assert_eq!(job["data"]["error"], "userId is not a snowflake");
    assert_eq!(job["data"]["jobId"], json!(ids[0]));
    assert!(
        job["data"]["failedAt"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    let failed = node_inspect(&prefix, json!({"ids": ids})).await;
    assert_eq!(failed["jobs"][ids[0].as_str()]["state"], "failed");
    assert_eq!(failed["jobs"][ids[0].as_str()]["attemptsMade"], 1);

    let replayed = letters
        .replay(&letter.id)
        .await
        .unwrap_or_else(|error| panic!("replay: {error}"))
        .unwrap_or_else(|| panic!("the letter vanished before replay"));
    let after = node_inspect(&prefix, json!({"ids": [replayed]})).await;
    assert_eq!(after["jobs"][replayed.as_str()]["state"], "waiting");
    assert_eq!(
        after["jobs"][replayed.as_str()]["data"],
        json!({"userId": "42"})
    );
    assert_eq!(after["jobs"][replayed.as_str()]["name"], "ban");
    cleanup(&conn, &prefix).await.ok();
}

/// Node's `getMetrics()` counts what guildhost's worker finished: every completion and every
/// final failure (a failed attempt that is retried is not a failure yet), as Bull's worker with
/// `metrics` counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_get_metrics_counts_guildhost_completions_and_failures() {
    let conn = connect().await;
    let prefix = unique_prefix("metrics");
    let ids = node_add(
        &prefix,
        json!([
            {"name": "ok", "data": {}},
            {"name": "ok", "data": {}, "opts": {"removeOnComplete": true}},
            {"name": "ok", "data": {}},
            {"name": "bad", "data": {}, "opts": {"attempts": 2}},
            {"name": "bad", "data": {}},
        ]),
    )
    .await;
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(2), move |job| {
        seen.record(&job);
        let outcome = if job.name == "bad" {
            Err(JobFailure::retryable("it broke"))
        } else {
            Ok(Completion::empty())
        };
        async move { outcome }
    });
    // Three completions, and three attempts of the two failing jobs.
    calls.wait_for(6, WAIT).await;
    let report = eventually(WAIT, "every job finished", || async {
        let report = node_inspect(&prefix, json!({"ids": ids})).await;
        (report["counts"]["failed"] == 2).then_some(report)
    })
    .await;
    worker.stop().await;
    assert_eq!(
        report["metrics"],
        json!({"completed": 3, "failed": 2}),
        "{report}"
    );
    cleanup(&conn, &prefix).await.ok();
}

/// A debounce slot (`opts.debounce`, Bull 4.16) is one slot whichever engine adds: guildhost's
/// add takes it and Node's add with the same id gets guildhost's job back; the slot is freed
/// when the job completes or when a delayed job is removed, so the next add is a new job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debounce_slots_are_shared_with_node_and_freed_with_their_job() {
    let conn = connect().await;
    let prefix = unique_prefix("debounce");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let debounced = |slot: &str, delay: i64| {
        guildhost::queue::JobOptions::from_json(
            &json!({"debounce": {"id": slot}, "delay": delay}).to_string(),
        )
        .unwrap_or_else(|error| panic!("{error}"))
    };
    let ours = queue.add("ban", "{}", debounced("d1", 0)).await.unwrap();
    let again = queue.add("ban", "{}", debounced("d1", 0)).await.unwrap();
    assert_eq!(again, ours, "a second add in the slot returns its holder");
    let theirs = node_add(
        &prefix,
        json!([{"name": "ban", "data": {}, "opts": {"debounce": {"id": "d1"}}}]),
    )
    .await;
    assert_eq!(
        theirs,
        std::slice::from_ref(&ours),
        "Node's add sees guildhost's slot"
    );
    let counts = queue.job_counts().await.unwrap();
    assert_eq!(counts.waiting, 1, "one job for three adds: {counts:?}");

    let later = queue
        .add("ban", "{}", debounced("d2", 60_000))
        .await
        .unwrap();
    assert!(queue.remove_delayed(&later).await.unwrap());
    let after_removal = node_add(
        &prefix,
        json!([{"name": "ban", "data": {}, "opts": {"debounce": {"id": "d2"}}}]),
    )
    .await;
    assert_ne!(after_removal, [later], "the removed job's slot was freed");

    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        seen.record(&job);
        async move { Ok(Completion::empty()) }
    });
    calls.wait_for(2, WAIT).await;
    eventually(WAIT, "both completed", || async {
        (queue.job_counts().await.ok()?.completed == 2).then_some(())
    })
    .await;
    worker.stop().await;
    let after_completion = node_add(
        &prefix,
        json!([{"name": "ban", "data": {}, "opts": {"debounce": {"id": "d1"}}}]),
    )
    .await;
    assert_ne!(
        after_completion,
        [ours],
        "the completed job's slot was freed"
    );
    cleanup(&conn, &prefix).await.ok();
}
