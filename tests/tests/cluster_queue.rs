//! The queue engine on a real 3-master Redis Cluster started by the test: with a hash-tagged
//! prefix every key of every queue lands in one slot, so adds (bulk, delayed, prioritized),
//! retries with backoff, pause/resume, completion with outputs into another queue and the dead
//! letters all work across the cluster client.

use std::time::Duration;

use guildhost::queue::{
    Backoff, Completion, DeadLetters, JobFailure, JobOptions, NewJob, Queue, RedisConn,
};
use guildhost_tests::{Calls, LocalCluster, eventually, fast_worker_options, spawn_worker};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_and_worker_run_on_a_three_master_cluster() {
    let cluster = match LocalCluster::start(3).await {
        Ok(cluster) => cluster,
        Err(error) => panic!("{error:#}"),
    };
    let conn = match RedisConn::connect_cluster(&cluster.nodes()).await {
        Ok(conn) => conn,
        Err(error) => panic!("cannot connect to the test cluster: {error}"),
    };
    assert!(conn.is_cluster());
    let prefix = "{bull}";
    let queue = Queue::new(conn.clone(), prefix, "bot:commands");
    let results = Queue::new(conn.clone(), prefix, "bot:results");

    // Pause first: adds land in `paused` and nothing runs until resume.
    queue
        .pause()
        .await
        .unwrap_or_else(|error| panic!("pause: {error}"));
    let mut jobs: Vec<NewJob> = (0..20)
        .map(|n| NewJob::new("bot:commands", "plain", json!({"n": n}).to_string()))
        .collect();
    jobs.push(
        NewJob::new("bot:commands", "urgent", "{}").with_opts(JobOptions {
            priority: Some(1),
            ..JobOptions::default()
        }),
    );
    jobs.push(
        NewJob::new("bot:commands", "later", "{}").with_opts(JobOptions {
            delay: Some(300),
            ..JobOptions::default()
        }),
    );
    jobs.push(
        NewJob::new("bot:commands", "flaky", "{}").with_opts(JobOptions {
            attempts: Some(2),
            backoff: Some(Backoff::Millis(100)),
            ..JobOptions::default()
        }),
    );
    jobs.push(NewJob::new("bot:commands", "produce", "{}"));
    jobs.push(
        NewJob::new("bot:commands", "broken", "{}").with_opts(JobOptions {
            attempts: Some(3),
            ..JobOptions::default()
        }),
    );
    let ids = queue
        .add_bulk(&jobs)
        .await
        .unwrap_or_else(|error| panic!("add_bulk: {error}"));
    assert_eq!(ids.iter().flatten().count(), jobs.len());
    let counts = queue
        .job_counts()
        .await
        .unwrap_or_else(|error| panic!("counts: {error}"));
    assert_eq!((counts.paused, counts.waiting, counts.delayed), (24, 0, 1));

    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(
        &conn,
        prefix,
        "bot:commands",
        fast_worker_options(4),
        move |job| {
            let earlier = seen.record(&job);
            let outcome = match job.name.as_str() {
                "flaky" if earlier == 0 => Err(JobFailure::retryable("first try fails")),
                "broken" => Err(JobFailure::permanent("bad input")),
                "produce" => Ok(Completion::value(json!("made two")).with_outputs(vec![
                    NewJob::new("bot:results", "result", r#"{"i":0}"#),
                    NewJob::new("bot:results", "result", r#"{"i":1}"#),
                ])),
                _ => Ok(Completion::value(json!({"id": job.id}))),
            };
            async move { outcome }
        },
    );
    queue
        .resume()
        .await
        .unwrap_or_else(|error| panic!("resume: {error}"));
    eventually(WAIT, "every job finished", || async {
        let counts = queue.job_counts().await.ok()?;
        (counts.completed == 23 && counts.failed == 1).then_some(counts)
    })
    .await;
    let stats = worker.stop().await;

    assert_eq!(stats.completed, 23);
    assert_eq!(
        stats.dead_lettered, 1,
        "the permanent failure skipped its attempts"
    );
    assert_eq!(
        calls
            .all()
            .iter()
            .filter(|job| job.name == "broken")
            .count(),
        1
    );
    assert_eq!(
        calls.all().iter().filter(|job| job.name == "flaky").count(),
        2
    );
    assert_eq!(
        calls.all().first().map(|job| job.name.clone()).as_deref(),
        Some("urgent"),
        "the prioritized job runs first"
    );
    let produced = results
        .job_counts()
        .await
        .unwrap_or_else(|error| panic!("results counts: {error}"));
    assert_eq!(
        produced.waiting, 2,
        "the outputs landed once in the other queue"
    );
    let dead = DeadLetters::new(conn.clone(), prefix, None)
        .list()
        .await
        .unwrap_or_else(|error| panic!("dead letters: {error}"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].error, "bad input");
    drop(cluster);
}
