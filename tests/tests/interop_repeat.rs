//! Repeatable jobs across Node `bull` and guildhost: every repeat option added by Node runs on
//! guildhost's worker with Bull's repeat key and iteration ids, and a series started on one side
//! continues on the other.

use std::collections::HashSet;
use std::time::Duration;

use guildhost::queue::{Completion, Job, JobOptions, Queue, RepeatOptions, now_ms};
use guildhost_tests::{
    Calls, cleanup, connect, fast_worker_options, node, spawn_worker, unique_prefix,
};
use serde_json::{Value, json};

const QUEUE: &str = "bot:schedules";
const WAIT: Duration = Duration::from_secs(20);

fn node_args(prefix: &str, extra: Value) -> Value {
    let mut args = json!({"prefix": prefix, "queue": QUEUE, "deadlineMs": 20000});
    if let (Some(args), Some(extra)) = (args.as_object_mut(), extra.as_object()) {
        args.extend(extra.clone());
    }
    args
}

/// `repeat:<md5>:<ms>` → (`repeat:<md5>:`, ms).
fn split_iteration_id(id: &str) -> (String, i64) {
    let Some((head, millis)) = id.rsplit_once(':') else {
        panic!("`{id}` is not a repeat iteration id");
    };
    assert!(
        head.starts_with("repeat:") && head.len() == "repeat:".len() + 32,
        "bad id `{id}`"
    );
    let millis = millis
        .parse()
        .unwrap_or_else(|_| panic!("`{id}` does not end in milliseconds"));
    (format!("{head}:"), millis)
}

/// `next` is a later slot of a series repeating every `step` ms after `previous`.
fn assert_later_slot(previous: i64, next: i64, step: i64, name: &str) {
    assert!(
        next > previous && (next - previous) % step == 0,
        "{name}: {next} is not a later slot than {previous} (every {step} ms)"
    );
}

fn repeat_of(job: &Job) -> RepeatOptions {
    job.opts
        .repeat
        .clone()
        .unwrap_or_else(|| panic!("job {} has no repeat options", job.id))
}

fn named(calls: &Calls, name: &str) -> Vec<Job> {
    calls
        .all()
        .into_iter()
        .filter(|job| job.name == name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_repeat_option_added_by_node_runs_on_guildhost() {
    let conn = connect().await;
    let prefix = unique_prefix("repeat");
    let now = now_ms();
    let start = (now / 1000 + 3) * 1000;
    let end = now + 1700;
    let added = node(
        "add.js",
        node_args(
            &prefix,
            json!({"jobs": [
                {"name": "cron", "data": {"c": 1}, "opts": {"repeat": {"cron": "*/1 * * * * *", "tz": "Europe/Berlin"}}},
                {"name": "limited", "data": {}, "opts": {"repeat": {"every": 300, "limit": 2}}},
                {"name": "starts", "data": {}, "opts": {"repeat": {"cron": "* * * * * *", "startDate": start}}},
                {"name": "ends", "data": {}, "opts": {"repeat": {"every": 400, "endDate": end}}},
                {"name": "custom", "data": {}, "opts": {"jobId": "mine", "repeat": {"every": 500}}},
            ]}),
        ),
    )
    .await;
    assert_eq!(added["ids"].as_array().map(Vec::len), Some(5));
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(4), move |job| {
        seen.record(&job);
        async move { Ok(Completion::empty()) }
    });
    // The `starts` series begins 2-3 s from now; by then every other series has run twice.
    calls.wait_for(1, WAIT).await;
    guildhost_tests::eventually(WAIT, "two `starts` iterations", || async {
        (named(&calls, "starts").len() >= 2 && named(&calls, "cron").len() >= 2).then_some(())
    })
    .await;
    let report = node(
        "inspect.js",
        node_args(&prefix, json!({"repeatable": true})),
    )
    .await;
    worker.stop().await;

    // One series per option set, keyed exactly as Bull keys it.
    let keys: HashSet<String> = report["repeatable"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["key"].as_str().map(str::to_owned))
        .collect();
    let expected: HashSet<String> = [
        "cron:::Europe/Berlin:*/1 * * * * *".to_owned(),
        "limited:::300".to_owned(),
        "starts::::* * * * * *".to_owned(),
        format!("ends::{end}:400"),
        "custom:mine::500".to_owned(),
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected);

    for (name, step) in [("cron", 1000), ("starts", 1000), ("custom", 500)] {
        let runs = named(&calls, name);
        assert!(runs.len() >= 2, "{name} ran {} times", runs.len());
        let parts: Vec<(String, i64)> =
            runs.iter().map(|job| split_iteration_id(&job.id)).collect();
        assert!(
            parts.iter().all(|(head, _)| head == &parts[0].0),
            "{name}: one series id {parts:?}"
        );
        // Normally one step apart; a worker taking an iteration more than a step late skips
        // slots, exactly as Bull does (next = the first slot after now).
        for pair in parts.windows(2) {
            assert_later_slot(pair[0].1, pair[1].1, step, name);
        }
        assert!(parts.iter().all(|(_, millis)| millis % step == 0));
        let counts: Vec<u64> = runs.iter().filter_map(|job| repeat_of(job).count).collect();
        assert_eq!(
            counts
                .windows(2)
                .filter(|pair| pair[1] == pair[0] + 1)
                .count(),
            counts.len() - 1
        );
    }
    let starts = named(&calls, "starts");
    assert!(
        split_iteration_id(&starts[0].id).1 > start,
        "no iteration before startDate"
    );
    assert_eq!(
        repeat_of(&named(&calls, "custom")[0]).job_id,
        Some(guildhost::queue::JobIdOption::Text("mine".into())),
        "the custom id of the first add stays in repeat.jobId"
    );
    let limited = named(&calls, "limited");
    assert_eq!(limited.len(), 2, "limit 2 stops the series");
    let ends = named(&calls, "ends");
    assert!(!ends.is_empty());
    for job in &ends {
        let scheduled_at = job.timestamp.unwrap_or(i64::MAX);
        assert!(
            scheduled_at <= end,
            "iteration {} scheduled after endDate",
            job.id
        );
    }
    let pending: Vec<String> = guildhost_tests::cmd(
        &conn,
        &["ZRANGE", &format!("{prefix}:{QUEUE}:delayed"), "0", "-1"],
    )
    .await;
    assert!(
        !pending.iter().any(|id| named(&calls, "limited")
            .iter()
            .any(|job| split_iteration_id(&job.id).0 == split_iteration_id(id).0)),
        "no further `limited` iteration is pending: {pending:?}"
    );
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_started_by_node_continues_on_guildhost() {
    let conn = connect().await;
    let prefix = unique_prefix("repnode");
    node(
        "add.js",
        node_args(&prefix, json!({"jobs": [{"name": "tick", "data": {"t": 1}, "opts": {"repeat": {"every": 700, "limit": 5}}}]})),
    )
    .await;
    // Node runs the first iteration (and schedules the second while taking it).
    let first = node("worker.js", node_args(&prefix, json!({"count": 1}))).await;
    let node_id = first["calls"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (series, node_millis) = split_iteration_id(&node_id);

    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        seen.record(&job);
        async move { Ok(Completion::empty()) }
    });
    calls.wait_for(2, WAIT).await;
    worker.stop().await;
    let runs = calls.all();
    let parts: Vec<(String, i64)> = runs.iter().map(|job| split_iteration_id(&job.id)).collect();
    // The next slot, or a later one if Node's worker, slowed down by a loaded machine, ran
    // the next iteration itself before it stopped.
    assert_eq!(parts[0].0, series, "same series");
    assert_later_slot(node_millis, parts[0].1, 700, "tick");
    assert_eq!(parts[1].0, series);
    assert_later_slot(parts[0].1, parts[1].1, 700, "tick");
    assert_eq!(repeat_of(&runs[0]).count, Some(2));
    assert_eq!(repeat_of(&runs[1]).count, Some(3));
    assert_eq!(repeat_of(&runs[0]).key.as_deref(), Some("tick:::700"));
    let keys: Vec<String> = guildhost_tests::cmd(
        &conn,
        &["ZRANGE", &format!("{prefix}:{QUEUE}:repeat"), "0", "-1"],
    )
    .await;
    assert_eq!(keys, ["tick:::700"]);
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_series_started_by_guildhost_continues_on_node() {
    let conn = connect().await;
    let prefix = unique_prefix("reprust");
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    let opts = JobOptions {
        repeat: Some(RepeatOptions {
            every: Some(600),
            ..RepeatOptions::default()
        }),
        ..JobOptions::default()
    };
    let first_id = queue
        .add("tock", r#"{"t":2}"#, opts)
        .await
        .unwrap_or_else(|error| panic!("add: {error}"));
    let (series, first_millis) = split_iteration_id(&first_id);
    let calls = Calls::default();
    let seen = calls.clone();
    let worker = spawn_worker(&conn, &prefix, QUEUE, fast_worker_options(1), move |job| {
        seen.record(&job);
        async move { Ok(Completion::empty()) }
    });
    calls.wait_for(1, WAIT).await;
    worker.stop().await;
    assert_eq!(calls.ids(), [first_id]);

    let result = node("worker.js", node_args(&prefix, json!({"count": 2}))).await;
    let node_ids: Vec<String> = result["calls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|call| call["id"].as_str().map(str::to_owned))
        .collect();
    let node_parts: Vec<(String, i64)> = node_ids.iter().map(|id| split_iteration_id(id)).collect();
    assert_eq!(
        node_parts.first(),
        Some(&(series.clone(), first_millis + 600)),
        "node continues guildhost's series at the slot guildhost scheduled"
    );
    assert_eq!(node_parts.get(1).map(|part| part.0.clone()), Some(series));
    assert_later_slot(node_parts[0].1, node_parts[1].1, 600, "tock");
    assert_eq!(result["calls"][0]["data"], json!({"t": 2}));
    assert_eq!(result["calls"][0]["opts"]["repeat"]["key"], "tock:::600");
    let report = node(
        "inspect.js",
        node_args(&prefix, json!({"repeatable": true})),
    )
    .await;
    assert_eq!(report["repeatable"].as_array().map(Vec::len), Some(1));
    assert_eq!(report["repeatable"][0]["every"], 600);
    cleanup(&conn, &prefix).await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_with_tz_schedules_the_same_iteration_as_node() {
    let conn = connect().await;
    let prefix = unique_prefix("crontz");
    // Rare firings (so no boundary passes between the two adds), time zones with DST, 5 and 6
    // fields, and day-of-month OR day-of-week.
    let series = [
        ("daily", "0 9 * * *", Some("America/New_York")),
        ("sunday", "30 2 * * 0", Some("Europe/Berlin")),
        ("twice", "0 0 1,15 * 1", Some("Asia/Kolkata")),
        ("weekdays", "0 15 10 * * 1-5", Some("Australia/Sydney")),
        ("sixhourly", "0 */6 * * *", Some("UTC")),
        ("noon", "0 12 * * *", None),
    ];
    let node_jobs: Vec<Value> = series
        .iter()
        .map(|(name, cron, tz)| {
            let mut repeat = json!({"cron": cron});
            if let Some(tz) = tz {
                repeat["tz"] = json!(tz);
            }
            json!({"name": name, "data": {}, "opts": {"repeat": repeat}})
        })
        .collect();
    // Without `tz` Node uses its local zone: the helpers run node with TZ=UTC, guildhost's default.
    let added = node("add.js", node_args(&prefix, json!({"jobs": node_jobs}))).await;
    let queue = Queue::new(conn.clone(), &prefix, QUEUE);
    for (index, (name, cron, tz)) in series.iter().enumerate() {
        let node_id = added["ids"][index].as_str().unwrap_or_default();
        let opts = JobOptions {
            repeat: Some(RepeatOptions {
                cron: Some((*cron).to_owned()),
                tz: tz.map(str::to_owned),
                ..RepeatOptions::default()
            }),
            ..JobOptions::default()
        };
        let rust_id = queue
            .add(name, "{}", opts)
            .await
            .unwrap_or_else(|error| panic!("add {name}: {error}"));
        assert_eq!(
            rust_id, node_id,
            "{name} `{cron}` {tz:?}: same iteration id"
        );
    }
    let delayed: u64 =
        guildhost_tests::cmd(&conn, &["ZCARD", &format!("{prefix}:{QUEUE}:delayed")]).await;
    assert_eq!(
        delayed,
        series.len() as u64,
        "the second add of each series was a duplicate"
    );
    cleanup(&conn, &prefix).await.ok();
}
