//! The scheduler against the real Redis: schedules registered by several hosts run once per
//! run, reminders post their message on time and once, scheduled tasks and the default cleanup
//! reach the moderation plugin, and schedules taken out of the configuration stop while the
//! API's own repeatable jobs stay.

mod common;
mod host_support;

use std::collections::HashMap;

use guildhost::config::{Config, ScheduleConfig};
use guildhost::dispatch::routes::EXECUTE_QUEUE;
use guildhost::protocol::TaskType;
use guildhost::queue::{JobOptions, Queue, RedisConn, RepeatOptions, now_ms};
use guildhost::scheduler::{self, registry_key};
use serde_json::{Value, json};

use common::{cleanup, cmd, eventually, redis, unique_prefix};
use host_support::{GUILD, Host, MEMBER, MODERATOR, envelope};

const CHANNEL: &str = "500000000000000001";

/// A reminder posting `content` in the test channel of [`GUILD`].
fn reminder(name: &str, content: &str) -> ScheduleConfig {
    ScheduleConfig {
        name: name.to_owned(),
        guild: Some(GUILD.to_owned()),
        send: Some(json!({ "channelId": CHANNEL, "content": content })),
        ..ScheduleConfig::default()
    }
}

fn task(name: &str, task: TaskType) -> ScheduleConfig {
    ScheduleConfig {
        name: name.to_owned(),
        guild: Some(GUILD.to_owned()),
        task: Some(task),
        ..ScheduleConfig::default()
    }
}

/// A configuration under `prefix` with `schedules` (and the default cleanup).
fn config(prefix: &str, schedules: Vec<ScheduleConfig>) -> Config {
    let mut config = Config::default();
    config.redis.url = guildhost_tests::redis_url();
    config.redis.prefix = prefix.to_owned();
    config.schedules = schedules;
    config
}

/// `(registered series, delayed jobs)` of `queue`.
async fn series_and_delayed(conn: &RedisConn, prefix: &str, queue: &str) -> (usize, u64) {
    let queue = Queue::new(conn.clone(), prefix, queue);
    let series = queue.repeatable_keys().await.expect("repeat keys").len();
    let delayed = queue.job_counts().await.expect("counts").delayed;
    (series, delayed)
}

/// The dry-run records of SEND_MESSAGE with `content`.
async fn posts(host: &Host, content: &str) -> Vec<Value> {
    host.actions()
        .await
        .into_iter()
        .filter(|r| r["action"] == "SEND_MESSAGE" && r["data"]["content"] == content)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registering_on_several_hosts_at_once_adds_one_series_and_one_pending_run() {
    let conn = redis().await;
    let prefix = unique_prefix();
    let mut every = task("stats", TaskType::Analytics);
    every.every = Some(60_000);
    let config = config(&prefix, vec![every]);

    let (a, b, c) = tokio::join!(
        scheduler::register(&conn, &config),
        scheduler::register(&conn, &config),
        scheduler::register(&conn, &config),
    );
    for report in [a, b, c] {
        assert_eq!(report.expect("registered").registered.len(), 2);
    }
    // A later start changes nothing either.
    scheduler::register(&conn, &config).await.expect("again");
    for queue in ["scheduled:tasks", "cleanup:tasks"] {
        assert_eq!(
            series_and_delayed(&conn, &prefix, queue).await,
            (1, 1),
            "{queue}: one series, one pending run"
        );
    }
    let recorded: u64 = cmd(&conn, &["HLEN", &registry_key(&prefix)]).await;
    assert_eq!(recorded, 2);
    cleanup(&conn, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hosts_sharing_a_schedule_post_each_run_once() {
    let prefix = unique_prefix();
    let mut tick = reminder("tick", "tick");
    tick.every = Some(1000);
    let shared = |config: &mut Config| {
        config.redis.prefix = prefix.clone();
        config.schedules = vec![tick.clone()];
    };
    let first = Host::start_and(&[], shared).await;
    eventually(20, "the first run", || async {
        (!posts(&first, "tick").await.is_empty()).then_some(())
    })
    .await;

    // The second host's start removes a record planted just before it: proof it registered too.
    let registry = registry_key(&prefix);
    let stale = json!({ "queue": "scheduled:tasks", "name": "guildhost.gone", "repeat": { "every": 60000 } });
    let _: i64 = cmd(
        &first.conn,
        &["HSET", &registry, "stale", &stale.to_string()],
    )
    .await;
    let second = Host::start_and(&[], shared).await;
    eventually(20, "the second host registered", || async {
        let present: bool = cmd(&first.conn, &["HEXISTS", &registry, "stale"]).await;
        (!present).then_some(())
    })
    .await;
    let registered_at = now_ms();

    // Four runs after both hosts registered, both taking jobs from the execution queue.
    let records = eventually(20, "four runs after the second registration", || async {
        let records = posts(&first, "tick").await;
        let after = records
            .iter()
            .filter(|r| run_time(r) > registered_at)
            .count();
        (after >= 4).then_some(records)
    })
    .await;
    let mut per_run: HashMap<i64, usize> = HashMap::new();
    for record in &records {
        *per_run.entry(run_time(record)).or_default() += 1;
    }
    assert!(
        per_run.values().all(|posted| *posted == 1),
        "a run posted twice: {per_run:?}"
    );
    let nonces: std::collections::HashSet<&str> =
        records.iter().filter_map(|r| r["nonce"].as_str()).collect();
    assert_eq!(nonces.len(), records.len(), "each run has its own nonce");
    assert!(per_run.keys().all(|at| at % 1000 == 0), "{per_run:?}");
    assert_eq!(
        first
            .queue(EXECUTE_QUEUE)
            .repeatable_keys()
            .await
            .expect("keys")
            .len(),
        1
    );
    let mut second = second;
    second.begin_stop();
    first.stop().await;
    second.stop().await;
}

/// The scheduled time of a run, from its message id (the run's job id, `repeat:<md5>:<ms>`).
fn run_time(record: &Value) -> i64 {
    record["messageId"]
        .as_str()
        .and_then(|id| id.strip_prefix("repeat:"))
        .and_then(|id| id.rsplit(':').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("a run's message id is its job id: {record}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_posts_its_message_at_the_given_time_and_only_once() {
    let at = now_ms() + 1500;
    let mut once = reminder("launch", "we are live");
    once.at = chrono::DateTime::from_timestamp_millis(at);
    let schedules = vec![once];
    let host = Host::start_and(&[], |config| config.schedules = schedules.clone()).await;

    let record = host
        .expect_action("SEND_MESSAGE", |r| r["data"]["content"] == "we are live")
        .await;
    assert_eq!(record["guildId"], GUILD);
    assert_eq!(record["data"]["channelId"], CHANNEL);
    let id = record["messageId"].as_str().expect("message id");
    assert!(id.starts_with("guildhost.launch."), "{id}");
    let job = host
        .queue(EXECUTE_QUEUE)
        .get_job(id)
        .await
        .expect("read")
        .expect("the reminder's job");
    assert!(
        job.processed_on.expect("processed") >= at,
        "not before its time"
    );
    host.completed(EXECUTE_QUEUE, id).await;

    // A restart keeps the one-off job as it is: nothing is added, nothing posts again.
    let report = scheduler::register(&host.conn, &config(&host.prefix, schedules))
        .await
        .expect("registered again");
    assert_eq!(report.kept.len(), 1, "{report:?}");
    let counts = host
        .queue(EXECUTE_QUEUE)
        .job_counts()
        .await
        .expect("counts");
    assert_eq!((counts.waiting, counts.delayed), (0, 0));
    assert_eq!(posts(&host, "we are live").await.len(), 1);
    host.stop().await;
}

/// Times [`MEMBER`] out for one second with a case; returns the case id.
async fn one_second_timeout(host: &Host) -> String {
    let timeout = envelope(
        "TIMEOUT_USER",
        GUILD,
        json!({ "userId": MEMBER, "duration": 1, "reason": "cool down", "moderatorId": MODERATOR,
                "notifyUser": false, "createCase": true }),
    );
    host.send("bot:moderation", &timeout).await;
    let created = host
        .expect_on("moderation:events", "CASE_CREATED", |m| {
            m["data"]["case"]["type"] == "TIMEOUT"
        })
        .await;
    created["data"]["case"]["id"]
        .as_str()
        .expect("case id")
        .to_owned()
}

async fn expect_expired(host: &Host, case_id: &str) {
    let updated = host
        .expect_on("moderation:events", "CASE_UPDATED", |m| {
            m["data"]["caseId"] == case_id
        })
        .await;
    assert_eq!(
        updated["data"]["changes"]["status"],
        json!({ "old": "ACTIVE", "new": "EXPIRED" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_cleanup_task_reaches_the_moderation_plugin_which_subscribes() {
    let mut cleanup_task = task("expire", TaskType::Cleanup);
    cleanup_task.every = Some(1000);
    let host = Host::start_and(&["moderation"], |config| {
        config.schedules = vec![cleanup_task];
        config.cleanup.enabled = false;
    })
    .await;
    let case_id = one_second_timeout(&host).await;
    expect_expired(&host, &case_id).await;

    // The run was dispatched to the plugin, and said when the next one is.
    let queue = host.queue("scheduled:tasks");
    let ids: Vec<String> = cmd(
        &host.conn,
        &["ZRANGE", &queue.keys().completed(), "0", "-1"],
    )
    .await;
    let job = queue
        .get_job(ids.last().expect("a completed run"))
        .await
        .expect("read")
        .expect("the run");
    let result: Value =
        serde_json::from_str(job.return_value.as_deref().unwrap_or("null")).expect("result");
    assert_eq!(result["plugins"][0]["plugin"], "moderation", "{result}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cleanup_schedule_expires_cases_with_each_runs_cutoff() {
    // The run's `expiredBefore` is its own time: a fixed cutoff from registration would never
    // reach a case opened after it.
    let host = Host::start_and(&["moderation"], |config| {
        config.cleanup.every = Some(1000);
        config.cleanup.guilds = vec![GUILD.to_owned()];
    })
    .await;
    let case_id = one_second_timeout(&host).await;
    expect_expired(&host, &case_id).await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_taken_out_of_the_configuration_stop_and_the_apis_own_stay() {
    let conn = redis().await;
    let prefix = unique_prefix();
    // The API's own repeatable job on the same queue.
    let api = Queue::new(conn.clone(), &prefix, "scheduled:tasks");
    let api_repeat = RepeatOptions {
        every: Some(60_000),
        ..RepeatOptions::default()
    };
    let api_task = envelope(
        "SCHEDULED_TASK",
        GUILD,
        json!({ "taskType": "BACKUP", "schedule": { "interval": 60000 } }),
    );
    api.add(
        "SCHEDULED_TASK",
        &api_task.to_string(),
        JobOptions {
            repeat: Some(api_repeat),
            ..JobOptions::default()
        },
    )
    .await
    .expect("the API's series");

    let mut keep = task("keep", TaskType::Backup);
    keep.every = Some(60_000);
    let mut gone = task("gone", TaskType::Analytics);
    gone.cron = Some("0 4 * * *".to_owned());
    gone.tz = Some("UTC".to_owned());
    let mut later = reminder("later", "in an hour");
    later.at = chrono::DateTime::from_timestamp_millis(now_ms() + 3_600_000);
    let before = config(&prefix, vec![keep.clone(), gone, later]);
    let report = scheduler::register(&conn, &before).await.expect("first");
    assert_eq!(report.registered.len(), 4, "{report:?}");
    assert_eq!(
        series_and_delayed(&conn, &prefix, "scheduled:tasks").await,
        (3, 3)
    );
    assert_eq!(
        series_and_delayed(&conn, &prefix, EXECUTE_QUEUE).await,
        (0, 1)
    );

    let mut after = config(&prefix, vec![keep]);
    after.cleanup.enabled = false;
    let report = scheduler::register(&conn, &after).await.expect("second");
    let mut removed = report.removed.clone();
    removed.sort();
    assert_eq!(
        removed,
        [
            "guildhost.cleanup-expired-cases",
            "guildhost.gone",
            "guildhost.later"
        ]
    );
    let names: Vec<String> = api
        .repeatable_keys()
        .await
        .expect("keys")
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"SCHEDULED_TASK:::60000".to_owned()),
        "{names:?}"
    );
    assert!(
        names.iter().any(|k| k.starts_with("guildhost.keep:")),
        "{names:?}"
    );
    assert_eq!(
        series_and_delayed(&conn, &prefix, "scheduled:tasks").await,
        (2, 2)
    );
    assert_eq!(
        series_and_delayed(&conn, &prefix, "cleanup:tasks").await,
        (0, 0)
    );
    assert_eq!(
        series_and_delayed(&conn, &prefix, EXECUTE_QUEUE).await,
        (0, 0)
    );
    let api_job = api.get_job(&api_iteration(&api).await).await.expect("read");
    assert!(api_job.is_some(), "the API's pending run stays");
    cleanup(&conn, &prefix).await;
}

/// The id of the API's pending run (the only delayed job not named `guildhost.*`).
async fn api_iteration(api: &Queue) -> String {
    let ids: Vec<String> = cmd(api.conn(), &["ZRANGE", &api.keys().delayed(), "0", "-1"]).await;
    let mut found = None;
    for id in ids {
        let job = api.get_job(&id).await.expect("read").expect("job");
        if job.name == "SCHEDULED_TASK" {
            found = Some(id);
        }
    }
    found.expect("the API's pending run")
}
