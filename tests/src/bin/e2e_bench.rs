//! End-to-end benchmark: the whole path a user waits for, side by side with Node's Bull in one
//! run (not a test).
//!
//! ```text
//! cargo run --release -p guildhost-tests --bin e2e_bench -- [--jobs 20000] [--latency-secs 5]
//!                                                          [--only commands|gateway|mix]
//! ```
//!
//! On a private `redis-server`, each case runs once with Node and once with guildhost, each on
//! a fresh prefix:
//!
//! - **Command path.** A Node producer (Bull's `addBulk`, the seed's job options: attempts 3,
//!   exponential backoff 2000, removeOnComplete 10, removeOnFail 5) adds `--jobs` commands as the
//!   API does: SEND_MESSAGE on `bot:commands`, or a mix with BAN_USER on `bot:moderation` (through
//!   the moderation plugin), over 1,000 guilds or one. guildhost is the `guildhost run` process
//!   (this binary re-run with `--host`), with the first-party plugins, executing against the dry
//!   run or, in the REST case, serenity's REST client against the fake Discord on loopback. A
//!   command's job completes once Discord has the action, so the clock stops at the last
//!   completion (Bull's `completed` channel). Against Bull's no-op worker (concurrency 50) draining
//!   the same jobs from the same producer.
//! - **Gateway path.** The fake Discord's gateway dispatches `--jobs` MESSAGE_CREATE over 1,000
//!   guilds, one in 50 with an invite link; serenity's gateway client receives them, the automod
//!   plugin checks each, its copy goes to `discord:events` for the API, and each delete reaches
//!   the fake's REST; the clock stops when all of that has happened. Against a Node Bull worker
//!   doing the same per message (`tests/node/e2e.js`, role `automod`) on the same count of
//!   MESSAGE_CREATED jobs added beforehand: the guild's settings read (cached 1 s), the author's
//!   rate window counted in Redis, the rules in JavaScript, the copy and the delete job added.
//!
//! Each row gives messages/s, the worker process's CPU µs per message (`/proc/<pid>/stat` for
//! guildhost, `process.cpuUsage()` for Node), Redis CPU µs per message (`INFO cpu`), and, for
//! guildhost, p50/p99 latency at half its measured maximum rate (add → completion for commands,
//! dispatch → the API's copy for the gateway).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::StreamExt as _;
use guildhost::config::Config;
use guildhost::queue::{Backoff, JobOptions, KeepJobs, NewJob, Queue, RedisConn};
use guildhost_tests::bench::{percentile, redis_cpu_us};
use guildhost_tests::fake_discord::{FakeDiscord, fixtures, use_fake_discord};
use guildhost_tests::{HostProcess, LocalRedis, NodeScript, require_node_modules};
use serde_json::{Value, json};

// The allocator of the `guildhost` binary, so the host process is the product.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GUILD_BASE: u64 = 100_000_000_000_000_001;
const CHANNEL_BASE: u64 = 500_000_000_000_000_000;
const MEMBER_BASE: u64 = 300_000_000_000_000_000;
const MESSAGE_BASE: u64 = 400_000_000_000_000_000;
/// One message in this many breaks the automod plugin's invite rule (2 %).
const VIOLATION_EVERY: usize = 50;

/// What one case measures.
#[derive(Debug, Clone, Copy)]
enum Case {
    /// Commands from a Node producer over `guilds` guilds; `mix`: every other one a ban through
    /// the moderation plugin; `rest`: executed against the fake Discord's REST.
    Commands {
        guilds: usize,
        mix: bool,
        rest: bool,
    },
    /// MESSAGE_CREATE from the fake gateway over `guilds` guilds.
    Gateway { guilds: usize },
}

impl Case {
    fn label(self) -> String {
        match self {
            Case::Commands { guilds, mix, rest } => format!(
                "{} over {guilds} guild{}, {}",
                if mix {
                    "SEND_MESSAGE + BAN_USER"
                } else {
                    "SEND_MESSAGE"
                },
                if guilds == 1 { "" } else { "s" },
                if rest { "fake REST" } else { "dry run" }
            ),
            Case::Gateway { guilds } => {
                format!("gateway MESSAGE_CREATE over {guilds} guilds, 2 % deleted")
            }
        }
    }

    fn queues(self) -> &'static [&'static str] {
        match self {
            Case::Commands { mix: true, .. } => &["bot:commands", "bot:moderation"],
            Case::Commands { .. } => &["bot:commands"],
            Case::Gateway { .. } => &["guildhost:gateway"],
        }
    }
}

/// One side's figures.
#[derive(Debug, Clone, Copy, Default)]
struct Figures {
    per_sec: f64,
    worker_cpu_us: f64,
    redis_cpu_us: f64,
    /// p50 and p99 in ms at half the maximum rate (guildhost only).
    latency: Option<(f64, f64)>,
    /// How fast the Node producer added the messages, per second (the command path's input).
    produced_per_sec: Option<f64>,
}

struct Settings {
    jobs: usize,
    latency_secs: u64,
    only: Option<String>,
}

fn parse_settings() -> anyhow::Result<Settings> {
    let mut settings = Settings {
        jobs: 20_000,
        latency_secs: 5,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--jobs" => settings.jobs = value()?.parse().context("--jobs")?,
            "--latency-secs" => {
                settings.latency_secs = value()?.parse().context("--latency-secs")?
            }
            "--only" => settings.only = Some(value()?),
            other => bail!("unknown flag `{other}` (flags: --jobs --latency-secs --only)"),
        }
    }
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    // The host side: `e2e_bench --host <guildhost.toml>` is `guildhost run`.
    if let Some(host) = HostProcess::run_if_asked() {
        return host;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let settings = parse_settings()?;
    require_node_modules()?;
    let redis = LocalRedis::start().await?;
    let url = redis.url();
    let conn = RedisConn::connect(&url).await?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!(
        "end-to-end bench on {url}: {} messages per run, load {}",
        settings.jobs,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut cases = Vec::new();
    if settings.only.as_deref() != Some("gateway") {
        cases.extend([
            Case::Commands {
                guilds: 1000,
                mix: false,
                rest: false,
            },
            Case::Commands {
                guilds: 1,
                mix: false,
                rest: false,
            },
            Case::Commands {
                guilds: 1000,
                mix: true,
                rest: false,
            },
            Case::Commands {
                guilds: 1,
                mix: true,
                rest: false,
            },
            Case::Commands {
                guilds: 1000,
                mix: false,
                rest: true,
            },
        ]);
    }
    if settings.only.as_deref() != Some("commands") {
        cases.push(Case::Gateway { guilds: 1000 });
    }
    let mut rows = Vec::new();
    for case in cases {
        if settings.only.as_deref() == Some("mix")
            && !matches!(case, Case::Commands { mix: true, .. })
        {
            continue;
        }
        let node = match case {
            Case::Commands { .. } => node_commands(&conn, &url, case, &settings).await,
            Case::Gateway { guilds } => node_gateway(&conn, &url, guilds, &settings).await,
        }
        .with_context(|| format!("Node, {}", case.label()))?;
        eprintln!("{:<55} node      {node:?}", case.label());
        let host = match case {
            Case::Commands { .. } => host_commands(&conn, &url, case, &settings).await,
            Case::Gateway { guilds } => host_gateway(&conn, &url, guilds, &settings).await,
        }
        .with_context(|| format!("guildhost, {}", case.label()))?;
        eprintln!("{:<55} guildhost {host:?}", case.label());
        rows.push((case, node, host));
    }
    println!(
        "\n| path | Node msg/s | guildhost msg/s | ratio | producer msg/s (Node run, guildhost run) | worker CPU µs/msg (Node → guildhost) | Redis CPU µs/msg (Node → guildhost, ratio) | guildhost p50 / p99 at 50 % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (case, node, host) in rows {
        let (p50, p99) = host.latency.unwrap_or((f64::NAN, f64::NAN));
        let produced = match (node.produced_per_sec, host.produced_per_sec) {
            (Some(node), Some(host)) => format!("{node:.0}, {host:.0}"),
            _ => "(filled before)".to_owned(),
        };
        println!(
            "| {} | {:.0} | {:.0} | **{:.2}×** | {produced} | {:.1} → {:.1} | {:.1} → {:.1} ({:.2}×) | {p50:.1} / {p99:.1} ms |",
            case.label(),
            node.per_sec,
            host.per_sec,
            host.per_sec / node.per_sec,
            node.worker_cpu_us,
            host.worker_cpu_us,
            node.redis_cpu_us,
            host.redis_cpu_us,
            host.redis_cpu_us / node.redis_cpu_us,
        );
    }
    Ok(())
}

fn prefix() -> String {
    format!("e2e{}", uuid::Uuid::new_v4().simple())
}

/// The seed's job options, as the API adds commands.
fn seed_options() -> JobOptions {
    JobOptions {
        attempts: Some(3),
        backoff: Some(Backoff::Strategy {
            kind: "exponential".to_owned(),
            delay: Some(2000),
            options: None,
        }),
        remove_on_complete: Some(KeepJobs::Count(10)),
        remove_on_fail: Some(KeepJobs::Count(5)),
        ..JobOptions::default()
    }
}

/// Command `i` as `tests/node/e2e.js` writes it: its queue, name and data.
fn command(i: usize, guilds: usize, mix: bool) -> (&'static str, &'static str, Value) {
    let guild = (GUILD_BASE + (i % guilds) as u64).to_string();
    let envelope = |kind: &str, data: Value| {
        json!({
            "id": format!("e2e-lat-{}-{i}", kind.to_lowercase()), "type": kind,
            "timestamp": "2026-12-07T12:00:00.000Z", "source": "api", "guildId": guild,
            "userId": "234567890123456789", "data": data,
        })
    };
    if mix && i % 2 == 1 {
        let data = json!({
            "userId": (MEMBER_BASE + i as u64).to_string(),
            "reason": "Repeated spam in #general after two warnings", "deleteMessageDays": 1,
            "moderatorId": "456789012345678901", "notifyUser": false, "createCase": false,
        });
        return ("bot:moderation", "BAN_USER", envelope("BAN_USER", data));
    }
    let data = json!({
        "channelId": (CHANNEL_BASE + (i % guilds) as u64).to_string(),
        "content": format!("Reminder {i}: the weekly event starts in one hour in the stage channel."),
    });
    (
        "bot:commands",
        "SEND_MESSAGE",
        envelope("SEND_MESSAGE", data),
    )
}

/// Counts Bull's `completed` events of `queues` under `prefix` and notes when each job's came,
/// by queue and id (ids are per queue).
#[derive(Clone, Default)]
struct Completions {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Completions {
    async fn follow(url: &str, prefix: &str, queues: &[&str]) -> anyhow::Result<Completions> {
        let client = redis::Client::open(url)?;
        let mut pubsub = client.get_async_pubsub().await?;
        for queue in queues {
            pubsub
                .subscribe(format!("{prefix}:{queue}:completed"))
                .await?;
        }
        let completions = Completions::default();
        let seen = completions.seen.clone();
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let channel = message.get_channel_name().to_owned();
                let payload: String = message.get_payload().unwrap_or_default();
                let id = serde_json::from_str::<Value>(&payload)
                    .ok()
                    .and_then(|v| v["jobId"].as_str().map(str::to_owned))
                    .unwrap_or(payload);
                if let Ok(mut seen) = seen.lock() {
                    seen.insert(format!("{channel}/{id}"), Instant::now());
                }
            }
        });
        Ok(completions)
    }

    fn count(&self) -> usize {
        self.seen.lock().map(|seen| seen.len()).unwrap_or(0)
    }

    /// When job `id` of `queue` (under `prefix`) completed.
    fn at(&self, prefix: &str, queue: &str, id: &str) -> Option<Instant> {
        let key = format!("{prefix}:{queue}:completed/{id}");
        self.seen.lock().ok()?.get(&key).copied()
    }

    async fn wait_for(&self, count: usize, within: Duration) -> anyhow::Result<Instant> {
        let deadline = Instant::now() + within;
        while self.count() < count {
            if Instant::now() > deadline {
                bail!("{} of {count} completions within {within:?}", self.count());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(Instant::now())
    }
}

fn node_spec(url: &str, prefix: &str, role: &str, queue: &str, extra: Value) -> Value {
    let mut spec = json!({
        "role": role, "prefix": prefix, "queue": queue, "redisUrl": url, "deadlineMs": 900_000,
    });
    if let (Some(spec), Value::Object(extra)) = (spec.as_object_mut(), extra) {
        spec.extend(extra);
    }
    spec
}

/// One drain of the command path: the Node producer adds the case's commands while the worker
/// already runs; returns its figures from the producer's first add to the last completion,
/// with the worker's CPU over that window from `worker_cpu_us` (called before and after).
async fn drain_commands(
    conn: &RedisConn,
    url: &str,
    prefix: &str,
    case: Case,
    completions: &Completions,
    settings: &Settings,
    mut worker_cpu_us: impl FnMut() -> anyhow::Result<f64>,
) -> anyhow::Result<Figures> {
    let Case::Commands { guilds, mix, .. } = case else {
        bail!("not a command case");
    };
    let redis_before = redis_cpu_us(conn).await?;
    let cpu_before = worker_cpu_us()?;
    let started = Instant::now();
    let produced_per_sec = Some(produce(url, prefix, guilds, mix, settings.jobs).await?);
    let ended = completions
        .wait_for(settings.jobs, Duration::from_secs(600))
        .await?;
    let redis_after = redis_cpu_us(conn).await?;
    let cpu_after = worker_cpu_us()?;
    let jobs = settings.jobs as f64;
    Ok(Figures {
        per_sec: jobs / ended.duration_since(started).as_secs_f64(),
        worker_cpu_us: (cpu_after - cpu_before) / jobs,
        redis_cpu_us: (redis_after - redis_before) / jobs,
        latency: None,
        produced_per_sec,
    })
}

/// The Node producer adds the case's commands; returns when they are all added, with the
/// producer's rate (messages per second).
async fn produce(
    url: &str,
    prefix: &str,
    guilds: usize,
    mix: bool,
    jobs: usize,
) -> anyhow::Result<f64> {
    let spec = node_spec(
        url,
        prefix,
        "produce",
        "bot:commands",
        json!({ "count": jobs, "guilds": guilds, "mix": mix }),
    );
    let result = NodeScript::spawn("e2e.js", &spec)?
        .result(Duration::from_secs(600))
        .await?;
    Ok(jobs as f64 / (result["ms"].as_f64().unwrap_or(f64::NAN) / 1e3))
}

async fn node_commands(
    conn: &RedisConn,
    url: &str,
    case: Case,
    settings: &Settings,
) -> anyhow::Result<Figures> {
    let prefix = prefix();
    let completions = Completions::follow(url, &prefix, case.queues()).await?;
    let spec = node_spec(
        url,
        &prefix,
        "noop",
        "bot:commands",
        json!({ "count": settings.jobs, "queues": case.queues() }),
    );
    let mut worker = NodeScript::spawn("e2e.js", &spec)?;
    worker.ready(Duration::from_secs(30)).await?;
    // Node measures its own CPU, from its first handler call to its last completion.
    let drained =
        drain_commands(conn, url, &prefix, case, &completions, settings, || Ok(0.0)).await?;
    let result = worker.result(Duration::from_secs(60)).await?;
    Ok(Figures {
        worker_cpu_us: result["cpuUs"].as_f64().unwrap_or(f64::NAN) / settings.jobs as f64,
        ..drained
    })
}

/// A `guildhost run` process (this binary with `--host`) on `config`, killed when dropped.
fn host_config(url: &str, prefix: &str, fake: Option<&FakeDiscord>) -> Config {
    let mut config = Config::default();
    config.redis.url = url.to_owned();
    config.redis.prefix = prefix.to_owned();
    if let Some(fake) = fake {
        use_fake_discord(&mut config, fake.base_url());
    }
    config
}

fn guild_ids(guilds: usize) -> Vec<u64> {
    (0..guilds as u64).map(|i| GUILD_BASE + i).collect()
}

async fn host_commands(
    conn: &RedisConn,
    url: &str,
    case: Case,
    settings: &Settings,
) -> anyhow::Result<Figures> {
    let Case::Commands { guilds, rest, .. } = case else {
        bail!("not a command case");
    };
    let prefix = prefix();
    let fake = match rest {
        true => Some(FakeDiscord::start(&guild_ids(guilds)).await?),
        false => None,
    };
    let host = HostProcess::start(host_config(url, &prefix, fake.as_ref())).await?;
    if let Some(fake) = &fake {
        fake.wait_for_identify(Duration::from_secs(60)).await?;
    }
    let completions = Completions::follow(url, &prefix, case.queues()).await?;
    let drained = drain_commands(conn, url, &prefix, case, &completions, settings, || {
        host.cpu_us()
    })
    .await?;
    if let Some(fake) = &fake {
        let sent = fake.requests_to("POST", "/messages").len();
        if sent < settings.jobs {
            bail!("the fake received {sent} of {} messages", settings.jobs);
        }
    }
    let rate = drained.per_sec / 2.0;
    let latency = command_latency(conn, &prefix, &completions, case, rate, settings).await?;
    drop(host);
    Ok(Figures {
        latency: Some(latency),
        ..drained
    })
}

/// p50 and p99 (ms) from add to completion of commands added at `rate` per second for the
/// configured seconds, each add timed just before its batch goes out.
async fn command_latency(
    conn: &RedisConn,
    prefix: &str,
    completions: &Completions,
    case: Case,
    rate: f64,
    settings: &Settings,
) -> anyhow::Result<(f64, f64)> {
    let Case::Commands { guilds, mix, .. } = case else {
        bail!("not a command case");
    };
    let total = (rate * settings.latency_secs as f64).max(100.0) as usize;
    let tick = Duration::from_millis(10);
    let per_tick = (rate / 100.0).max(1.0);
    let mut added: Vec<(&str, String, Instant)> = Vec::with_capacity(total);
    let mut interval = tokio::time::interval(tick);
    let mut due = 0.0;
    let mut next = 0;
    let queues: HashMap<&str, Queue> = case
        .queues()
        .iter()
        .map(|name| (*name, Queue::new(conn.clone(), prefix, name)))
        .collect();
    while next < total {
        interval.tick().await;
        due += per_tick;
        let mut batch: HashMap<&str, Vec<NewJob>> = HashMap::new();
        while (next as f64) < due && next < total {
            let (queue, name, data) = command(next + 1_000_000, guilds, mix);
            batch
                .entry(queue)
                .or_default()
                .push(NewJob::new(queue, name, data.to_string()).with_opts(seed_options()));
            next += 1;
        }
        let at = Instant::now();
        for (queue, jobs) in batch {
            let Some(target) = queues.get(queue) else {
                continue;
            };
            for id in target.add_bulk(&jobs).await?.into_iter().flatten() {
                added.push((queue, id, at));
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut millis = Vec::with_capacity(added.len());
    for (queue, id, at) in &added {
        loop {
            if let Some(done) = completions.at(prefix, queue, id) {
                millis.push(done.duration_since(*at).as_secs_f64() * 1e3);
                break;
            }
            if Instant::now() > deadline {
                bail!("job {id} did not complete within 120 s of the latency run");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    millis.sort_by(f64::total_cmp);
    Ok((percentile(&millis, 0.5), percentile(&millis, 0.99)))
}

async fn node_gateway(
    conn: &RedisConn,
    url: &str,
    guilds: usize,
    settings: &Settings,
) -> anyhow::Result<Figures> {
    let prefix = prefix();
    let spec = node_spec(
        url,
        &prefix,
        "automod",
        "guildhost:gateway",
        json!({ "count": settings.jobs, "guilds": guilds, "fill": true }),
    );
    let mut worker = NodeScript::spawn("e2e.js", &spec)?;
    worker.ready(Duration::from_secs(300)).await?;
    let redis_before = redis_cpu_us(conn).await?;
    let result = worker.result(Duration::from_secs(600)).await?;
    let redis_after = redis_cpu_us(conn).await?;
    let jobs = settings.jobs as f64;
    let deletes = result["deletes"].as_u64().unwrap_or(0) as usize;
    if deletes != settings.jobs.div_ceil(VIOLATION_EVERY) {
        bail!("the Node anchor deleted {deletes} messages: {result}");
    }
    Ok(Figures {
        per_sec: jobs / (result["ms"].as_f64().unwrap_or(f64::NAN) / 1e3),
        worker_cpu_us: result["cpuUs"].as_f64().unwrap_or(f64::NAN) / jobs,
        redis_cpu_us: (redis_after - redis_before) / jobs,
        latency: None,
        produced_per_sec: None,
    })
}

/// Message `i` of the gateway path as the fake dispatches it; every 50th breaks the invite rule.
fn gateway_message(i: usize, guilds: usize) -> Value {
    let guild = GUILD_BASE + (i % guilds) as u64;
    let content = if i.is_multiple_of(VIOLATION_EVERY) {
        "join discord.gg/raiders now for free nitro".to_owned()
    } else {
        format!("message {i}: has anyone seen the patch notes for this week?")
    };
    // A member of its own per message, so the rate rule never fires.
    fixtures::message(
        MESSAGE_BASE + i as u64,
        guild + 1,
        Some(guild),
        MEMBER_BASE + i as u64,
        &content,
    )
}

async fn host_gateway(
    conn: &RedisConn,
    url: &str,
    guilds: usize,
    settings: &Settings,
) -> anyhow::Result<Figures> {
    let prefix = prefix();
    let fake = FakeDiscord::start(&guild_ids(guilds)).await?;
    let host = HostProcess::start(host_config(url, &prefix, Some(&fake))).await?;
    fake.wait_for_identify(Duration::from_secs(60)).await?;
    let copies_key = format!("{prefix}:discord:events:wait");
    let copies = |conn: &RedisConn| {
        let mut conn = conn.clone();
        let key = copies_key.clone();
        async move {
            redis::cmd("LLEN")
                .arg(&key)
                .query_async::<usize>(&mut conn)
                .await
        }
    };
    // Let the guilds' creation settle before the clock starts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let baseline = copies(conn).await?;
    let redis_before = redis_cpu_us(conn).await?;
    let cpu_before = host.cpu_us()?;
    let started = Instant::now();
    for i in 0..settings.jobs {
        fake.dispatch("MESSAGE_CREATE", gateway_message(i, guilds));
    }
    let deletes_expected = settings.jobs.div_ceil(VIOLATION_EVERY);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let copied = copies(conn).await? - baseline;
        if copied >= settings.jobs
            && fake.requests_to("DELETE", "/messages/").len() >= deletes_expected
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("{copied} of {} copies within 600 s", settings.jobs);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ended = Instant::now();
    let redis_after = redis_cpu_us(conn).await?;
    let cpu_after = host.cpu_us()?;
    let jobs = settings.jobs as f64;
    let per_sec = jobs / ended.duration_since(started).as_secs_f64();
    let latency = gateway_latency(conn, &prefix, &fake, guilds, per_sec / 2.0, settings).await?;
    drop(host);
    Ok(Figures {
        per_sec,
        worker_cpu_us: (cpu_after - cpu_before) / jobs,
        redis_cpu_us: (redis_after - redis_before) / jobs,
        latency: Some(latency),
        produced_per_sec: None,
    })
}

/// p50 and p99 (ms) from dispatch to the API's copy (its job's `timestamp`) of messages
/// dispatched at `rate` per second for the configured seconds.
async fn gateway_latency(
    conn: &RedisConn,
    prefix: &str,
    fake: &FakeDiscord,
    guilds: usize,
    rate: f64,
    settings: &Settings,
) -> anyhow::Result<(f64, f64)> {
    let total = (rate * settings.latency_secs as f64).max(100.0) as usize;
    let per_tick = (rate / 100.0).max(1.0);
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    let mut dispatched: HashMap<String, i64> = HashMap::with_capacity(total);
    let (mut due, mut next) = (0.0, 0);
    let first = 1_000_000;
    while next < total {
        interval.tick().await;
        due += per_tick;
        while (next as f64) < due && next < total {
            let i = first + next;
            let now = chrono::Utc::now().timestamp_millis();
            dispatched.insert((MESSAGE_BASE + i as u64).to_string(), now);
            fake.dispatch("MESSAGE_CREATE", gateway_message(i, guilds));
            next += 1;
        }
    }
    let events = Queue::new(conn.clone(), prefix, "discord:events");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut millis = Vec::with_capacity(total);
    while millis.len() < total {
        if Instant::now() > deadline {
            bail!(
                "{} of {total} copies of the latency run within 120 s",
                millis.len()
            );
        }
        millis.clear();
        let mut redis = conn.clone();
        let ids: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{prefix}:discord:events:wait"))
            .arg(0)
            .arg(total as i64 + 10)
            .query_async(&mut redis)
            .await?;
        for id in ids {
            let Some(job) = events.get_job(&id).await? else {
                continue;
            };
            let data: Value = serde_json::from_str(&job.data).unwrap_or(Value::Null);
            let message = data["data"]["messageId"].as_str().unwrap_or_default();
            if let Some(sent) = dispatched.get(message) {
                millis.push((job.timestamp.unwrap_or(*sent) - sent) as f64);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    millis.sort_by(f64::total_cmp);
    Ok((percentile(&millis, 0.5), percentile(&millis, 0.99)))
}
