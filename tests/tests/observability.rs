//! The operator's endpoints of a running host, against the real Redis: `/metrics` counts jobs,
//! plugin calls and Discord actions with the right labels and reads queue depths from Redis;
//! `/healthz` answers while the process lives; `/readyz` is 200 only when the host can work and
//! says why not otherwise (Redis gone, shutdown under way); the server stops with the host.

mod common;
mod host_support;

use std::net::SocketAddr;
use std::time::Duration;

use guildhost::dispatch::routes::GATEWAY_QUEUE;
use guildhost::queue::{DeadLetters, JobOptions, JobState, Queue};
use guildhost_tests::{KillOnDrop, LocalRedis};
use serde_json::{Value, json};

use common::eventually;
use host_support::{GUILD, Host, envelope};

/// Where `host` serves its endpoints (it binds a free port and says which).
fn endpoints(host: &Host) -> SocketAddr {
    host.http
        .expect("the host serves its endpoints (did it fail to start? see its error at stop)")
}

/// A client that opens a connection per request, so a server that stopped is seen as stopped.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("an HTTP client")
}

async fn get(address: SocketAddr, path: &str) -> reqwest::Result<(u16, String, String)> {
    let response = client()
        .get(format!("http://{address}{path}"))
        .send()
        .await?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((status, content_type, response.text().await?))
}

/// Waits until `/readyz` answers 200.
async fn ready(address: SocketAddr) {
    eventually(30, "/readyz answers 200", || async {
        let (status, _, _) = get(address, "/readyz").await.ok()?;
        (status == 200).then_some(())
    })
    .await;
}

/// The value of one series (`name{labels}`) in an OpenMetrics text, if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Scrapes `/metrics` until every `(series, value)` in `expected` holds; fails with the last
/// scrape otherwise.
async fn scrape_until(address: SocketAddr, expected: &[(&str, f64)]) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, content_type, text) = get(address, "/metrics").await.expect("GET /metrics");
        assert_eq!(status, 200, "{text}");
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        let missing: Vec<String> = expected
            .iter()
            .filter(|(series, want)| value(&text, series) != Some(*want))
            .map(|(series, want)| format!("{series} = {want} (got {:?})", value(&text, series)))
            .collect();
        if missing.is_empty() {
            return text;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "after 30 s, /metrics still lacks:\n  {}\n--- last scrape ---\n{text}",
                missing.join("\n  ")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn ban(days: u64) -> Value {
    envelope(
        "BAN_USER",
        GUILD,
        json!({
            "userId": "300000000000000001",
            "reason": "spam",
            "deleteMessageDays": days,
            "moderatorId": "200000000000000001",
            "notifyUser": false,
            "createCase": false,
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_jobs_plugin_calls_and_discord_actions_with_their_labels() {
    let host = Host::start_with_guests(&["echo", "panic", "infinite-loop"]).await;
    let address = endpoints(&host);
    ready(address).await;
    let (status, _, body) = get(address, "/healthz").await.expect("GET /healthz");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"alive"}"#));

    // One gateway event: echo replies (executed dry), panic traps, infinite-loop hits its
    // wall-time limit; the job still completes because one plugin answered.
    host.send(
        GATEWAY_QUEUE,
        &host_support::message_created(GUILD, "hello"),
    )
    .await;
    // A valid ban no plugin handles (executed as is, in its job) and an invalid one
    // (dead-lettered).
    host.send("bot:moderation", &ban(1)).await;
    host.send("bot:moderation", &ban(9)).await;
    // A delayed job on a queue the host only produces to, for the depth gauges.
    host.queue("discord:events")
        .add(
            "MESSAGE_CREATED",
            &host_support::message_created(GUILD, "later").to_string(),
            JobOptions {
                delay: Some(600_000),
                ..JobOptions::default()
            },
        )
        .await
        .expect("add a delayed job");

    let text = scrape_until(
        address,
        &[
            (
                r#"guildhost_jobs_processed_total{queue="guildhost:execute",type="SEND_MESSAGE"}"#,
                1.0,
            ),
            // The API's ban is carried out in its own job, not on the execution queue.
            (
                r#"guildhost_discord_requests_total{route="BAN_USER",code="dry_run"}"#,
                1.0,
            ),
            (
                r#"guildhost_jobs_dead_lettered_total{queue="bot:moderation",type="BAN_USER"}"#,
                1.0,
            ),
            // Queue depths, read from Redis at each scrape. An attempt is counted when its
            // handler returns, a moment before the worker writes its result: hence waited for.
            (
                r#"guildhost_queue_jobs{queue="dead-letters",state="waiting"}"#,
                1.0,
            ),
            (
                r#"guildhost_queue_jobs{queue="bot:moderation",state="failed"}"#,
                1.0,
            ),
            (
                r#"guildhost_queue_jobs{queue="bot:moderation",state="active"}"#,
                0.0,
            ),
        ],
    )
    .await;
    let expected = [
        // Jobs, by queue and message type.
        (
            r#"guildhost_jobs_processed_total{queue="guildhost:gateway",type="MESSAGE_CREATED"}"#,
            1.0,
        ),
        (
            r#"guildhost_jobs_processed_total{queue="bot:moderation",type="BAN_USER"}"#,
            2.0,
        ),
        (
            r#"guildhost_jobs_failed_total{queue="bot:moderation",type="BAN_USER"}"#,
            1.0,
        ),
        (
            r#"guildhost_job_duration_seconds_count{queue="bot:moderation"}"#,
            2.0,
        ),
        // Plugin calls: latency of each call that ran, traps and limits by plugin.
        (
            r#"guildhost_plugin_calls_total{plugin="echo",result="ok"}"#,
            1.0,
        ),
        (
            r#"guildhost_plugin_call_duration_seconds_count{plugin="echo"}"#,
            1.0,
        ),
        (r#"guildhost_plugin_traps_total{plugin="panic"}"#, 1.0),
        (
            r#"guildhost_plugin_limit_violations_total{plugin="infinite-loop",limit="wall-time"}"#,
            1.0,
        ),
        (
            r#"guildhost_plugin_call_duration_seconds_count{plugin="infinite-loop"}"#,
            1.0,
        ),
        // Discord actions by route and code: a dry run's are `dry_run`, never `ok`.
        (
            r#"guildhost_discord_requests_total{route="SEND_MESSAGE",code="dry_run"}"#,
            1.0,
        ),
        (
            r#"guildhost_discord_requests_total{route="BAN_USER",code="dry_run"}"#,
            1.0,
        ),
        (
            r#"guildhost_queue_jobs{queue="discord:events",state="delayed"}"#,
            1.0,
        ),
    ];
    for (series, want) in expected {
        assert_eq!(value(&text, series), Some(want), "{series}\n{text}");
    }
    // The forwarded event and the moderation report wait for the API.
    assert!(
        value(
            &text,
            r#"guildhost_queue_jobs{queue="discord:events",state="waiting"}"#
        )
        .is_some_and(|waiting| waiting >= 1.0),
        "{text}"
    );
    // Nothing failed on Discord's side in a dry run, and no wait was imposed.
    assert!(!text.contains("guildhost_discord_errors_total{"), "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_counts_as_retried_then_dead_lettered() {
    let host = Host::start_with_guests(&["panic"]).await;
    let address = endpoints(&host);
    ready(address).await;
    host.queue(GATEWAY_QUEUE)
        .add(
            "MESSAGE_CREATED",
            &host_support::message_created(GUILD, "boom").to_string(),
            JobOptions {
                attempts: Some(2),
                ..JobOptions::default()
            },
        )
        .await
        .expect("add");
    let labels = r#"{queue="guildhost:gateway",type="MESSAGE_CREATED"}"#;
    let text = scrape_until(
        address,
        &[(&format!("guildhost_jobs_dead_lettered_total{labels}"), 1.0)],
    )
    .await;
    assert_eq!(
        value(&text, &format!("guildhost_jobs_processed_total{labels}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("guildhost_jobs_failed_total{labels}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("guildhost_jobs_retried_total{labels}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, r#"guildhost_plugin_traps_total{plugin="panic"}"#),
        Some(2.0),
        "{text}"
    );
    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None)
        .list()
        .await
        .expect("dead letters");
    assert_eq!(letters.len(), 1, "the metric matches the dead-letter queue");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_says_redis_is_unreachable_while_healthz_stays_up_and_recovers_with_it() {
    let redis = LocalRedis::start()
        .await
        .expect("a private redis-server (install it: apt-get install redis-server)");
    let url = redis.url();
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("the private Redis's port");
    let host = Host::start_with_guests_and(&[], move |config| config.redis.url = url).await;
    let address = endpoints(&host);
    ready(address).await;
    let (_, content_type, body) = get(address, "/readyz").await.expect("GET /readyz");
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"ready":true}"#);

    drop(redis);
    let body = eventually(30, "/readyz answers 503", || async {
        let (status, _, body) = get(address, "/readyz").await.ok()?;
        (status == 503).then_some(body)
    })
    .await;
    let reply: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(reply["ready"], false);
    assert!(
        reply["reason"]
            .as_str()
            .is_some_and(|reason| reason.starts_with("redis: ")),
        "{reply}"
    );
    let (status, _, _) = get(address, "/healthz").await.expect("GET /healthz");
    assert_eq!(status, 200, "the process is alive without Redis");

    // Redis back on the same port: the host reconnects and is ready again. (It is also what
    // lets it stop: a worker whose Redis call is waiting for a reconnection waits for Redis.)
    let dir = std::env::temp_dir().join(guildhost_tests::unique_prefix("obs-redis"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let _again = KillOnDrop(
        std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server (install it: apt-get install redis-server)"),
    );
    ready(address).await;
    host.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_during_shutdown_and_the_server_stops_with_the_host() {
    // A plugin that spins for 2 s keeps a job in flight, so the shutdown lasts that long.
    let plugins =
        std::env::temp_dir().join(format!("{}-slow", guildhost_tests::unique_prefix("obs")));
    std::fs::create_dir_all(&plugins).expect("temp dir");
    let built = std::path::Path::new(env!("GUILDHOST_TEST_GUESTS"));
    std::fs::copy(
        built.join("infinite-loop.wasm"),
        plugins.join("infinite-loop.wasm"),
    )
    .expect("infinite-loop.wasm (built by host/build.rs)");
    std::fs::write(
        plugins.join("infinite-loop.toml"),
        "name = \"infinite-loop\"\nversion = \"1.0.0\"\nsubscribes = [\"MESSAGE_CREATED\"]\n\
         emits = []\nscope = \"global\"\n[limits]\nwall-time-ms = 2000\n",
    )
    .expect("manifest");
    let dir = plugins.clone();
    let mut host = Host::start_with_guests_and(&[], move |config| config.plugins.dir = dir).await;
    let address = endpoints(&host);
    ready(address).await;

    let id = host
        .send(GATEWAY_QUEUE, &host_support::message_created(GUILD, "spin"))
        .await;
    let queue: Queue = host.queue(GATEWAY_QUEUE);
    // Taken under the worker's lock (not merely popped into `active`): the worker now finishes
    // it before it stops, whatever the signal.
    eventually(20, "the job in flight", || async {
        let active = queue.get_state(&id).await.ok()? == JobState::Active;
        let taken = queue.get_job(&id).await.ok()??.processed_on.is_some();
        (active && taken).then_some(())
    })
    .await;
    host.begin_stop();
    let body = eventually(5, "/readyz answers 503 while jobs finish", || async {
        let (status, _, body) = get(address, "/readyz").await.ok()?;
        (status == 503).then_some(body)
    })
    .await;
    assert_eq!(body, r#"{"ready":false,"reason":"shutting down"}"#);
    let (status, _, _) = get(address, "/healthz").await.expect("GET /healthz");
    assert_eq!(status, 200, "alive while it finishes its jobs");

    host.stop().await;
    assert!(
        get(address, "/healthz").await.is_err(),
        "the endpoints stop with the host"
    );
    let _ = std::fs::remove_dir_all(&plugins);
}
