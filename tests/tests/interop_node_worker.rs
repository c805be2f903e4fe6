//! guildhost adds jobs and a real Node `bull` worker processes them with the same data and
//! options; priorities run in Bull's order on Node; a job failed with backoff on one side is
//! retried and completed by the other; a pause on one side holds the other side's worker.

use std::time::Duration;

use guildhost::queue::{
    Backoff, Completion, JobFailure, JobIdOption, JobOptions, JobState, KeepJobs, NewJob, Queue,
};
use guildhost_tests::{
    Calls, cleanup, connect, eventually, fast_worker_options, node, node_ready, spawn_worker,
    unique_prefix,
};
use serde_json::{Value, json};

const QUEUE: &str = "bot:commands";
const WAIT: Duration = Duration::from_secs(20);

fn node_args(prefix: &str, extra: Value) -> Value {
    let mut args = json!({"prefix": prefix, "queue": QUEUE, "deadlineMs": 20000});
    if let (Some(args), Some(extra)) = (args.as_object_mut(), extra.as_object()) {
        args.extend(extra.clone());
    }
    args
}

fn calls_of(result: &Value) -> Vec<Value> {
    result["calls"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_worker_processes_guildhost_jobs_with_the_same_data_and_opts() {
    let conn = connect().await;
    let prefix = unique_prefix("tonode");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let worker = node_ready(
        "worker.js",
        node_args(&prefix, json!({"count": 5, "concurrency": 2})),
    )
    .await;
    let jobs = vec![
        NewJob::new(QUEUE, "plain", r#"{"guildId":"1","text":"héllo"}"#),
        NewJob::new(QUEUE, "custom", r#"{"n":2}"#).with_opts(JobOptions {
            job_id: Some(JobIdOption::Text("g-1".into())),
            attempts: Some(3),
            backoff: Some(Backoff::Millis(100)),
            remove_on_complete: Some(KeepJobs::Count(5)),
            ..JobOptions::default()
        }),
        NewJob::new(QUEUE, "numeric", r#"[1,2,3]"#).with_opts(JobOptions {
            job_id: Some(JobIdOption::Number(77.into())),
            backoff: Some(Backoff::Strategy {
                kind: "exponential".into(),
                delay: Some(50),
                options: None,
            }),
            priority: Some(2),
            timeout: Some(5000),
            remove_on_fail: Some(KeepJobs::Policy {
                age: Some(60),
                count: Some(3),
            }),
            ..JobOptions::default()
        }),
        NewJob::new(QUEUE, "delayed", r#""just a string""#).with_opts(JobOptions {
            delay: Some(300),
            ..JobOptions::default()
        }),
        NewJob::new(QUEUE, "lifo", "{}").with_opts(JobOptions {
            lifo: Some(true),
            ..JobOptions::default()
        }),
    ];
    let ids = queue
        .add_bulk(&jobs)
        .await
        .unwrap_or_else(|error| panic!("add_bulk: {error}"));
    let ids: Vec<String> = ids.into_iter().flatten().collect();
    assert_eq!(ids[1..3], ["g-1".to_owned(), "77".to_owned()]);

    let result = worker
        .result(WAIT)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    let calls = calls_of(&result);
    assert_eq!(calls.len(), 5, "node ran every job once: {result}");
    let call = |name: &str| -> Value {
        calls
            .iter()
            .find(|call| call["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("node never ran `{name}`: {result}"))
    };
    assert_eq!(
        call("plain")["data"],
        json!({"guildId": "1", "text": "héllo"})
    );
    assert_eq!(call("numeric")["data"], json!([1, 2, 3]));
    assert_eq!(call("delayed")["data"], json!("just a string"));
    let custom = call("custom");
    assert_eq!(custom["id"], "g-1");
    assert_eq!(custom["opts"]["jobId"], "g-1");
    assert_eq!(custom["opts"]["attempts"], 3);
    assert_eq!(
        custom["opts"]["backoff"],
        json!({"type": "fixed", "delay": 100})
    );
    assert_eq!(custom["opts"]["removeOnComplete"], 5);
    let numeric = call("numeric");
    assert_eq!(numeric["id"], "77");
    assert_eq!(numeric["opts"]["jobId"], 77);
    assert_eq!(numeric["opts"]["priority"], 2);
    assert_eq!(numeric["opts"]["timeout"], 5000);
    assert_eq!(
        numeric["opts"]["backoff"],
        json!({"type": "exponential", "delay": 50})
    );
    assert_eq!(
        numeric["opts"]["removeOnFail"],
        json!({"age": 60, "count": 3})
    );
    let delayed = call("delayed");
    assert_eq!(delayed["opts"]["delay"], 300);
    assert!(delayed["at"].as_i64() >= delayed["timestamp"].as_i64().map(|created| created + 300));
    assert_eq!(call("lifo")["opts"]["lifo"], true);
    for call in &calls {
        assert_eq!(call["attemptsMade"], 0);
        assert_eq!(
            call["opts"]["timestamp"], call["timestamp"],
            "timestamp in opts and hash"
        );
    }

    for id in &ids {
        let job = queue
            .get_job(id)
            .await
            .unwrap_or_else(|error| panic!("get_job: {error}"))
            .unwrap_or_else(|| panic!("job {id} missing"));
        let value: Value = serde_json::from_str(job.return_value.as_deref().unwrap_or("null"))
            .unwrap_or(Value::Null);
        assert_eq!(
            value,
            json!({"by": "node", "id": id}),
            "guildhost reads node's completion"
        );
    }
    let counts = queue
        .job_counts()
        .await
        .unwrap_or_else(|error| panic!("counts: {error}"));
    assert_eq!((counts.completed, counts.waiting, counts.active), (5, 0, 0));
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn priorities_added_by_guildhost_run_in_bulls_order_on_node() {
    let conn = connect().await;
    let prefix = unique_prefix("nodeprio");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let plan = [
        ("A", 0),
        ("B", 0),
        ("C", 3),
        ("D", 1),
        ("E", 3),
        ("F", 2),
        ("G", 0),
    ];
    for (name, priority) in plan {
        let opts = JobOptions {
            priority: (priority > 0).then_some(priority),
            ..JobOptions::default()
        };
        queue
            .add(name, "{}", opts)
            .await
            .unwrap_or_else(|error| panic!("add {name}: {error}"));
    }
    let result = node(
        "worker.js",
        node_args(&prefix, json!({"count": 7, "concurrency": 1})),
    )
    .await;
    let order: String = calls_of(&result)
        .iter()
        .filter_map(|call| call["name"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(order, "DFCEABG");
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failed_with_backoff_by_node_is_retried_and_completed_by_guildhost() {
    let conn = connect().await;
    let prefix = unique_prefix("nodefail");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let opts = JobOptions {
        attempts: Some(3),
        backoff: Some(Backoff::Strategy {
            kind: "fixed".into(),
            delay: Some(400),
            options: None,
        }),
        ..JobOptions::default()
    };
    let id = queue
        .add("retry", r#"{"k":1}"#, opts)
        .await
        .unwrap_or_else(|error| panic!("add: {error}"));
    let failed = node(
        "worker.js",
        node_args(
            &prefix,
            json!({"count": 1, "failTimes": 1, "failMessage": "node failed it"}),
        ),
    )
    .await;
    let node_try = calls_of(&failed)
        .first()
        .and_then(|call| call["at"].as_i64())
        .unwrap_or_else(|| panic!("node never ran the job: {failed}"));
    assert_eq!(
        queue.get_state(&id).await.ok(),
        Some(JobState::Delayed),
        "node parked the retry in delayed"
    );

    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        seen.record(&job);
        async move { Ok(Completion::value(json!("rust finished it"))) }
    });
    calls.wait_for(1, WAIT).await;
    eventually(WAIT, "completed", || async {
        matches!(queue.get_state(&id).await, Ok(JobState::Completed)).then_some(())
    })
    .await;
    worker.stop().await;
    let retried = &calls.all()[0];
    assert_eq!(retried.attempts_made, 1, "node's failed attempt is counted");
    assert_eq!(retried.failed_reason.as_deref(), Some("node failed it"));
    assert!(
        retried.processed_on.unwrap_or(0) >= node_try + 400,
        "the backoff was waited out"
    );
    let report = node(
        "inspect.js",
        node_args(&prefix, json!({"ids": [id], "finished": [id]})),
    )
    .await;
    assert_eq!(report["jobs"][&id]["state"], "completed");
    assert_eq!(report["jobs"][&id]["attemptsMade"], 1);
    assert_eq!(
        report["finished"][&id],
        json!({"value": "rust finished it"})
    );
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failed_with_backoff_by_guildhost_is_retried_and_completed_by_node() {
    let conn = connect().await;
    let prefix = unique_prefix("rustfail");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let added = node(
        "add.js",
        node_args(
            &prefix,
            json!({"jobs": [{"name": "retry", "data": {"k": 2}, "opts": {"attempts": 3, "backoff": {"type": "exponential", "delay": 300}}}]}),
        ),
    )
    .await;
    let id = added["ids"][0].as_str().unwrap_or_default().to_owned();
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        seen.record(&job);
        async move { Err(JobFailure::retryable("rust failed it")) }
    });
    calls.wait_for(1, WAIT).await;
    eventually(WAIT, "the retry parked in delayed", || async {
        matches!(queue.get_state(&id).await, Ok(JobState::Delayed)).then_some(())
    })
    .await;
    worker.stop().await;
    let failed_at = calls.all()[0].processed_on.unwrap_or(0);

    let result = node("worker.js", node_args(&prefix, json!({"count": 1}))).await;
    let call = calls_of(&result).first().cloned().unwrap_or(Value::Null);
    assert_eq!(call["id"], json!(id));
    assert_eq!(
        call["attemptsMade"], 1,
        "node sees guildhost's failed attempt"
    );
    assert!(
        call["at"].as_i64().unwrap_or(0) >= failed_at + 300,
        "exponential backoff 1x300 ms"
    );
    let job = queue
        .get_job(&id)
        .await
        .unwrap_or_else(|error| panic!("get_job: {error}"))
        .unwrap_or_else(|| panic!("job {id} missing"));
    assert_eq!(queue.get_state(&id).await.ok(), Some(JobState::Completed));
    assert_eq!(job.attempts_made, 1);
    assert_eq!(job.failed_reason.as_deref(), Some("rust failed it"));
    cleanup(&conn, &prefix).await.ok();
}

/// How long a paused queue is watched to show that nothing runs.
const HOLD: Duration = Duration::from_millis(800);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_by_node_holds_the_guildhost_worker() {
    let conn = connect().await;
    let prefix = unique_prefix("nodepause");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let paused = node("pause.js", node_args(&prefix, json!({"action": "pause"}))).await;
    assert_eq!(paused["paused"], true);
    assert!(queue.is_paused().await.unwrap_or(false));
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(2), move |job| {
        seen.record(&job);
        async move { Ok(Completion::empty()) }
    });
    let id = queue
        .add("held", "{}", JobOptions::default())
        .await
        .unwrap_or_else(|error| panic!("add: {error}"));
    tokio::time::sleep(HOLD).await;
    assert!(calls.is_empty(), "a paused queue ran {:?}", calls.ids());
    assert_eq!(queue.get_state(&id).await.ok(), Some(JobState::Paused));
    let resumed = node("pause.js", node_args(&prefix, json!({"action": "resume"}))).await;
    assert_eq!(resumed["paused"], false);
    calls.wait_for(1, WAIT).await;
    worker.stop().await;
    assert_eq!(calls.ids(), [id]);
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_by_guildhost_holds_the_node_worker() {
    let conn = connect().await;
    let prefix = unique_prefix("rustpause");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    queue
        .pause()
        .await
        .unwrap_or_else(|error| panic!("pause: {error}"));
    let worker = node_ready("worker.js", node_args(&prefix, json!({"count": 1}))).await;
    let added = node(
        "add.js",
        node_args(&prefix, json!({"jobs": [{"name": "held", "data": {}}]})),
    )
    .await;
    let id = added["ids"][0].as_str().unwrap_or_default().to_owned();
    tokio::time::sleep(HOLD).await;
    let counts = queue
        .job_counts()
        .await
        .unwrap_or_else(|error| panic!("counts: {error}"));
    assert_eq!(
        (counts.paused, counts.active, counts.completed),
        (1, 0, 0),
        "node ran a paused job"
    );
    let report = node("inspect.js", node_args(&prefix, json!({}))).await;
    assert_eq!(
        report["paused"], true,
        "node's isPaused() sees guildhost's pause"
    );
    queue
        .resume()
        .await
        .unwrap_or_else(|error| panic!("resume: {error}"));
    let result = worker
        .result(WAIT)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));
    assert_eq!(
        calls_of(&result).first().map(|call| call["id"].clone()),
        Some(json!(id))
    );
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_and_guildhost_workers_share_one_queue_and_run_each_job_once() {
    let conn = connect().await;
    let prefix = unique_prefix("fleet");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let node_worker = node_ready(
        "worker.js",
        node_args(
            &prefix,
            json!({"count": 1_000_000, "concurrency": 10, "exitWhenIdleMs": 1500}),
        ),
    )
    .await;
    let calls = Calls::default();
    let seen = calls.clone();
    // A little work per job, so that neither side drains the queue alone.
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(4), move |job| {
        seen.record(&job);
        async move {
            tokio::time::sleep(Duration::from_millis(3)).await;
            Ok(Completion::value(json!({"by": "rust", "id": job.id})))
        }
    });
    let jobs: Vec<NewJob> = (0..400)
        .map(|n| NewJob::new(QUEUE, "shared", json!({"n": n}).to_string()))
        .collect();
    let ids: Vec<String> = queue
        .add_bulk(&jobs)
        .await
        .unwrap_or_else(|error| panic!("add_bulk: {error}"))
        .into_iter()
        .flatten()
        .collect();
    eventually(WAIT, "all 400 completed", || async {
        let counts = queue.job_counts().await.ok()?;
        (counts.completed == 400).then_some(())
    })
    .await;
    worker.stop().await;
    let result = node_worker
        .result(WAIT)
        .await
        .unwrap_or_else(|error| panic!("{error:#}"));

    let node_ids: Vec<String> = calls_of(&result)
        .iter()
        .filter_map(|call| call["id"].as_str().map(str::to_owned))
        .collect();
    let rust_ids = calls.ids();
    let mut all: Vec<String> = node_ids.iter().chain(rust_ids.iter()).cloned().collect();
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        all,
        expected,
        "every job ran exactly once (node {}, guildhost {})",
        node_ids.len(),
        rust_ids.len()
    );
    assert!(!node_ids.is_empty(), "the node worker took part");
    assert!(!rust_ids.is_empty(), "the guildhost worker took part");
    let counts = queue
        .job_counts()
        .await
        .unwrap_or_else(|error| panic!("counts: {error}"));
    assert_eq!((counts.active, counts.failed, counts.waiting), (0, 0, 0));
    cleanup(&conn, &prefix).await.ok();
}
