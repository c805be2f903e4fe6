//! Benchmark of guildhost's queue worker against the real npm `bull` worker (not a test).
//!
//! ```text
//! just bench-queue            # = cargo run --release -p guildhost-tests --bin queue_bench
//! queue_bench [--rounds 3] [--jobs 20000] [--concurrency 50] [--latency-jobs 2500]
//!             [--rate 500] [--redis-url redis://...]
//!             [--guildhost-concurrency N] [--guildhost-batch N]   # default: the same concurrency
//!                                                                  # and the worker's batch size
//!             [--pipeline]     # guildhost drains through the full pipeline (issue: ≥ 2× bull)
//!             [--notify]       # bans notify the user: the plugin replies with a DM and the ban
//!             [--scoped]       # the moderation plugin is scoped to the bench's guild, so every
//!                              # reply passes the target check and the guild budget (implies
//!                              # --pipeline --notify; compare with `--pipeline --notify`)
//!             [--hostile]      # while guildhost drains, a hostile guild plugin in another guild
//!                              # sleeps through every message of its own queue (implies
//!                              # --pipeline; compare with `--pipeline`)
//!             [--only guildhost|bull] [--no-latency]   # one side / drains only (for profiling)
//! ```
//!
//! On one Redis (a private `redis-server` started for the run unless `--redis-url` is given, so
//! that nothing else moves its CPU counters), each round drains `--jobs` pre-added jobs (a
//! ~300-byte BAN_USER-like payload, `removeOnComplete: true`) once with a Node Bull worker
//! (`tests/node/bench.js`, concurrency 50, no-op) and once with guildhost's worker (no-op
//! handler), alternating which goes first. It reports jobs/s, worker CPU µs per job (Node:
//! `process.cpuUsage()`; guildhost: `getrusage` of this process over the drain), Redis CPU µs per
//! job (`INFO cpu` used_cpu_user+sys deltas) and the ratios; then the add→completed latency
//! p50/p99 of both at a steady `--rate` jobs/s (adds from this process, completion seen on Bull's
//! `completed` channel, both timed on this process's monotonic clock). Prints markdown tables.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use guildhost::config::{BudgetConfig, Config};
use guildhost::discord::DryRun;
use guildhost::dispatch::budget::OutputBudget;
use guildhost::dispatch::targets::TargetDirectory;
use guildhost::dispatch::{CommandJobs, Dispatcher, Executor, GuildConfigStore, RedisKv};
use guildhost::protocol::Message;
use guildhost::queue::{
    Completion, JobHandler, JobOptions, KeepJobs, NewJob, Queue, RedisConn, Worker, WorkerOptions,
    handler_fn,
};
use guildhost::runtime::lanes::Lanes;
use guildhost::runtime::registry::Origin;
use guildhost::runtime::{Manifest, Runtime, RuntimeConfig};
use guildhost_tests::bench::{percentile, redis_cpu_us, script_calls};
use guildhost_tests::{LocalRedis, NodeScript, cleanup, require_node_modules};
use serde_json::{Value, json};
use tokio::sync::Notify;

// The allocator of the `guildhost` binary, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A command queue, so the pipeline runs each ban within its job as the host does.
const QUEUE: &str = "bot:moderation";

/// Command-line settings.
struct Settings {
    rounds: usize,
    jobs: usize,
    concurrency: usize,
    latency_jobs: usize,
    rate: u64,
    redis_url: Option<String>,
    guildhost_concurrency: Option<usize>,
    guildhost_batch: Option<usize>,
    /// guildhost runs the full pipeline instead of a no-op handler.
    pipeline: bool,
    /// Bans notify the user (two replies per job: the DM and the ban).
    notify: bool,
    /// The moderation plugin is guild-scoped: its replies pass the containment checks.
    scoped: bool,
    /// A hostile guild plugin in another guild blocks in every call during guildhost's drain.
    hostile: bool,
    /// Run only this side (profiling one worker without the other's noise).
    only: Option<Lib>,
    /// Skip the latency runs.
    no_latency: bool,
}

impl Settings {
    /// guildhost's worker options for the run.
    fn guildhost_options(&self) -> WorkerOptions {
        let defaults = WorkerOptions::default();
        WorkerOptions {
            concurrency: self.guildhost_concurrency.unwrap_or(self.concurrency),
            batch_size: self.guildhost_batch.unwrap_or(defaults.batch_size),
            ..defaults
        }
    }
}

fn parse_settings() -> anyhow::Result<Settings> {
    let mut settings = Settings {
        rounds: 3,
        jobs: 20_000,
        concurrency: 50,
        latency_jobs: 2_500,
        rate: 500,
        redis_url: None,
        guildhost_concurrency: None,
        guildhost_batch: None,
        pipeline: false,
        notify: false,
        scoped: false,
        hostile: false,
        only: None,
        no_latency: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--pipeline" {
            settings.pipeline = true;
            continue;
        }
        if flag == "--notify" {
            settings.notify = true;
            continue;
        }
        if flag == "--hostile" {
            settings.hostile = true;
            settings.pipeline = true;
            continue;
        }
        if flag == "--scoped" {
            settings.scoped = true;
            settings.pipeline = true;
            settings.notify = true;
            continue;
        }
        if flag == "--no-latency" {
            settings.no_latency = true;
            continue;
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || -> anyhow::Result<usize> {
            value
                .parse::<usize>()
                .ok()
                .filter(|number| *number > 0)
                .with_context(|| format!("{flag} must be a positive whole number, got `{value}`"))
        };
        match flag.as_str() {
            "--rounds" => settings.rounds = number()?,
            "--jobs" => settings.jobs = number()?,
            "--concurrency" => settings.concurrency = number()?,
            "--latency-jobs" => settings.latency_jobs = number()?,
            "--rate" => settings.rate = number()? as u64,
            "--redis-url" => settings.redis_url = Some(value),
            "--guildhost-concurrency" => settings.guildhost_concurrency = Some(number()?),
            "--guildhost-batch" => settings.guildhost_batch = Some(number()?),
            "--only" => {
                settings.only = Some(match value.as_str() {
                    "guildhost" => Lib::Guildhost,
                    "bull" => Lib::Bull,
                    other => bail!("--only takes `guildhost` or `bull`, got `{other}`"),
                })
            }
            other => bail!(
                "unknown flag `{other}` (flags: --rounds --jobs --concurrency --latency-jobs --rate --redis-url --guildhost-concurrency --guildhost-batch --pipeline --notify --scoped --hostile --only --no-latency)"
            ),
        }
    }
    Ok(settings)
}

/// Which worker a measurement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lib {
    Bull,
    Guildhost,
}

impl Lib {
    fn label(self) -> &'static str {
        match self {
            Lib::Bull => "bull 4.16.5 (node)",
            Lib::Guildhost => "guildhost",
        }
    }
}

/// One drain of the pre-added jobs.
#[derive(Debug, Clone, Copy)]
struct Drain {
    jobs_per_sec: f64,
    worker_cpu_us_per_job: f64,
    redis_cpu_us_per_job: f64,
    /// Script calls (`EVAL`/`EVALSHA`) per job, from `INFO commandstats`: the worker's round
    /// trips, nearly all of them.
    script_calls_per_job: f64,
}

/// The guild every bench message concerns.
const BENCH_GUILD: &str = "123456789012345678";
/// The member every bench ban targets.
const BENCH_MEMBER: &str = "345678901234567890";

/// A ~300-byte BAN_USER message like the seed's API sends. The moderation plugin turns it into
/// exactly one output (the ban to execute): no case, and a DM first only when `notify`.
fn ban_payload(seq: usize, notify: bool) -> String {
    json!({
        "id": format!("{:08x}-7d1e-4c2a-9f3b-5a6c7d8e9f{:02x}", seq, seq % 256),
        "type": "BAN_USER",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": BENCH_GUILD,
        "userId": "234567890123456789",
        "data": {
            "userId": BENCH_MEMBER,
            "reason": "Repeated spam in #general after two warnings",
            "deleteMessageDays": 1,
            "moderatorId": "456789012345678901",
            "notifyUser": notify,
            "createCase": false,
            "seq": seq
        }
    })
    .to_string()
}

fn ban_job(seq: usize, notify: bool) -> NewJob {
    NewJob::new(QUEUE, "ban", ban_payload(seq, notify)).with_opts(JobOptions {
        remove_on_complete: Some(KeepJobs::Remove(true)),
        ..JobOptions::default()
    })
}

async fn fill(conn: &RedisConn, prefix: &str, settings: &Settings) -> anyhow::Result<()> {
    let jobs = settings.jobs;
    let queue = Queue::new(conn.clone(), prefix, QUEUE);
    let all: Vec<NewJob> = (0..jobs).map(|seq| ban_job(seq, settings.notify)).collect();
    for chunk in all.chunks(1000) {
        queue.add_bulk(chunk).await?;
    }
    let counts = queue.job_counts().await?;
    if counts.waiting != jobs as u64 {
        bail!(
            "expected {jobs} waiting jobs after the fill, found {}",
            counts.waiting
        );
    }
    Ok(())
}

/// CPU time (user + sys) of this process in microseconds.
fn process_cpu_us() -> f64 {
    // SAFETY: getrusage only writes into the zeroed struct we own.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer to a rusage struct.
    let status = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if status != 0 {
        return 0.0;
    }
    let micros = |time: libc::timeval| time.tv_sec as f64 * 1e6 + time.tv_usec as f64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

fn node_args(url: &str, prefix: &str, count: usize, concurrency: usize) -> Value {
    json!({
        "prefix": prefix,
        "queue": QUEUE,
        "redisUrl": url,
        "count": count,
        "concurrency": concurrency,
        "deadlineMs": 600_000,
    })
}

async fn drain_bull(
    conn: &RedisConn,
    url: &str,
    prefix: &str,
    settings: &Settings,
) -> anyhow::Result<Drain> {
    let mut node = NodeScript::spawn(
        "bench.js",
        &node_args(url, prefix, settings.jobs, settings.concurrency),
    )?;
    node.ready(Duration::from_secs(30)).await?;
    let redis_before = redis_cpu_us(conn).await?;
    let calls_before = script_calls(conn).await?;
    let result = node.result(Duration::from_secs(600)).await?;
    let redis_after = redis_cpu_us(conn).await?;
    let calls_after = script_calls(conn).await?;
    let jobs = result["jobs"].as_f64().unwrap_or(0.0);
    let millis = result["ms"].as_f64().unwrap_or(0.0);
    let cpu = result["cpuUs"].as_f64().unwrap_or(0.0);
    if jobs < settings.jobs as f64 || millis <= 0.0 {
        bail!("the node worker reported {result}");
    }
    Ok(Drain {
        jobs_per_sec: jobs / (millis / 1000.0),
        worker_cpu_us_per_job: cpu / jobs,
        redis_cpu_us_per_job: (redis_after - redis_before) / jobs,
        script_calls_per_job: (calls_after - calls_before) / jobs,
    })
}

async fn drain_guildhost(
    conn: &RedisConn,
    prefix: &str,
    settings: &Settings,
) -> anyhow::Result<Drain> {
    let started: Arc<Mutex<Option<(Instant, f64)>>> = Arc::new(Mutex::new(None));
    let handled = Arc::new(AtomicUsize::new(0));
    let all_handled = Arc::new(Notify::new());
    let target = settings.jobs;
    let count = {
        let started = started.clone();
        let handled = handled.clone();
        let all_handled = all_handled.clone();
        Arc::new(move || {
            if handled.load(Ordering::Relaxed) == 0
                && let Ok(mut first) = started.lock()
                && first.is_none()
            {
                *first = Some((Instant::now(), process_cpu_us()));
            }
            if handled.fetch_add(1, Ordering::Relaxed) + 1 == target {
                all_handled.notify_one();
            }
        })
    };
    let worker = Worker::new(conn.clone(), prefix, QUEUE, settings.guildhost_options());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let pipeline = settings
        .pipeline
        .then(|| pipeline_dispatcher(conn, prefix, settings.scoped, settings.hostile))
        .transpose()?;
    // The attack runs beside the drain on the same dispatcher (the same plugin threads).
    let attack = match (&pipeline, settings.hostile) {
        (Some(dispatcher), true) => Some(start_attack(conn, prefix, dispatcher.clone()).await?),
        _ => None,
    };
    let redis_before = redis_cpu_us(conn).await?;
    let calls_before = script_calls(conn).await?;
    let run = tokio::spawn(async move {
        let stopped = async {
            let _ = stopped.await;
        };
        match pipeline {
            // The command path: decode and validate, one plugin call, the plan recorded and
            // carried out (dry) within the job.
            Some(dispatcher) => {
                let handler = handler_fn(move |job| {
                    count();
                    let dispatcher = dispatcher.clone();
                    async move { dispatcher.handle(&job).await }
                });
                worker.run(handler, stopped).await
            }
            None => {
                let handler = handler_fn(move |_job| {
                    count();
                    async { Ok(Completion::empty()) }
                });
                worker.run(handler, stopped).await
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(600), all_handled.notified())
        .await
        .context("guildhost's worker did not run every job within 600 s")?;
    // The last completions are written in a batch after their handlers returned.
    let queue = Queue::new(conn.clone(), prefix, QUEUE);
    loop {
        let counts = queue.job_counts().await?;
        if counts.active == 0 && counts.waiting == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let ended = Instant::now();
    let cpu_end = process_cpu_us();
    let redis_after = redis_cpu_us(conn).await?;
    let calls_after = script_calls(conn).await?;
    let _ = stop.send(());
    if let Some((stop_attack, attack)) = attack {
        let _ = stop_attack.send(());
        match tokio::time::timeout(Duration::from_secs(30), attack).await {
            Ok(Ok(Ok(stats))) if stats.completed + stats.failed_attempts > 0 => {}
            Ok(Ok(Ok(_))) => bail!("the hostile plugin never ran during the drain"),
            Ok(Ok(Err(error))) => bail!("the attack's worker failed: {error}"),
            Ok(Err(error)) => bail!("the attack's worker task failed: {error}"),
            Err(_) => bail!("the attack's worker did not stop within 30 s"),
        }
    }
    match tokio::time::timeout(Duration::from_secs(30), run).await {
        Ok(Ok(Ok(_stats))) => {}
        Ok(Ok(Err(error))) => bail!("guildhost's worker failed: {error}"),
        Ok(Err(error)) => bail!("guildhost's worker task failed: {error}"),
        Err(_) => bail!("guildhost's worker did not stop within 30 s"),
    }
    let Some((first, cpu_start)) = started.lock().ok().and_then(|first| *first) else {
        bail!("guildhost's worker never ran a job");
    };
    let jobs = settings.jobs as f64;
    Ok(Drain {
        jobs_per_sec: jobs / ended.duration_since(first).as_secs_f64(),
        worker_cpu_us_per_job: (cpu_end - cpu_start) / jobs,
        redis_cpu_us_per_job: (redis_after - redis_before) / jobs,
        script_calls_per_job: (calls_after - calls_before) / jobs,
    })
}

/// The dispatcher of a host with the first-party plugins, on `prefix`: a `BAN_USER` reaches the
/// moderation plugin, whose outputs are enqueued with the completion. With `scoped`, the
/// moderation plugin is scoped to the bench's guild, so its replies pass the target check (the
/// member is known from a `MEMBER_JOINED` the directory saw, as a host learns from the gateway)
/// and the per-guild budget (set high enough to grant everything: its cost, not its refusals,
/// is measured).
fn pipeline_dispatcher(
    conn: &RedisConn,
    prefix: &str,
    scoped: bool,
    hostile: bool,
) -> anyhow::Result<Arc<Dispatcher>> {
    let kv = Arc::new(RedisKv::new(conn.clone(), prefix));
    let mut runtime_config = RuntimeConfig::default();
    if hostile {
        // The worst case: the breaker never suspends the attacker, so it blocks in every call.
        runtime_config.breaker.failures = u32::MAX;
    }
    let runtime = Arc::new(Runtime::new(runtime_config, kv)?);
    for &(name, wasm, manifest) in guildhost::bundled::PLUGINS {
        let manifest = if scoped && name == "moderation" {
            manifest.replace(
                "scope = \"global\"",
                &format!("scope = {{ guild = \"{BENCH_GUILD}\" }}"),
            )
        } else {
            manifest.to_owned()
        };
        let manifest = Manifest::parse(&manifest, &runtime.config().limits)
            .with_context(|| format!("the first-party manifest of {name}"))?;
        let plugin = runtime
            .load(Origin::FirstParty, manifest, wasm)
            .with_context(|| format!("loading the first-party plugin {name}"))?;
        runtime.registry().install(plugin)?;
    }
    if hostile {
        let guests = std::path::Path::new(env!("GUILDHOST_TEST_GUESTS"));
        let manifest = Manifest::load(&guests.join("hostile.toml"), &runtime.config().limits)
            .context("the hostile guest's manifest")?;
        let wasm = std::fs::read(guests.join("hostile.wasm")).context("hostile.wasm")?;
        runtime
            .registry()
            .install(runtime.load(Origin::Directory, manifest, &wasm)?)?;
    }
    let lanes = Arc::new(Lanes::new(2)?);
    let mut config = Config::default();
    config.redis.prefix = prefix.to_owned();
    config.plugins.budget = BudgetConfig {
        outputs_per_second: u32::MAX,
        outputs_burst: u32::MAX,
        max_pending_delayed: u32::MAX,
        ..BudgetConfig::default()
    };
    let targets = Arc::new(TargetDirectory::default());
    let joined = json!({
        "id": "bench-member-joined", "type": "MEMBER_JOINED",
        "timestamp": "2026-11-30T12:00:00.000Z", "source": "bot", "guildId": BENCH_GUILD,
        "data": {
            "user": { "id": BENCH_MEMBER, "username": "member", "discriminator": "0", "bot": false },
            "member": { "joinedAt": "2026-11-30T12:00:00.000Z", "roles": [], "pending": false }
        }
    });
    targets.learn(&Message::decode_value(joined).context("the bench's MEMBER_JOINED")?);
    let budget = OutputBudget::new(config.plugins.budget.clone(), Some((conn.clone(), prefix)));
    let config = Arc::new(config);
    // The command job is the command: the ban runs within the job, as the host runs it (against
    // the dry run, whose log is left out: a stand-in for Discord, not part of the product).
    let executor = Arc::new(Executor::new(DryRun, config.clone(), None));
    let commands = CommandJobs::new(conn.clone(), prefix, config.clone(), executor);
    Ok(Arc::new(
        Dispatcher::new(
            runtime,
            lanes,
            GuildConfigStore::new(conn.clone(), prefix),
            config,
        )
        .with_targets(targets)
        .with_budget(budget)
        .with_commands(commands),
    ))
}

/// The hostile plugin's guild (its manifest's scope).
const HOSTILE_GUILD: &str = "100000000000000042";

/// Starts the attack for `--hostile`: `MESSAGE_CREATED` jobs in the hostile plugin's guild on the
/// gateway queue, each making it sleep (cut at its 100 ms wall time), worked by a second worker
/// on the same dispatcher. Returns its stop signal and task.
async fn start_attack(
    conn: &RedisConn,
    prefix: &str,
    dispatcher: Arc<Dispatcher>,
) -> anyhow::Result<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<guildhost::queue::QueueResult<guildhost::queue::WorkerStats>>,
)> {
    const GATEWAY: &str = "guildhost:gateway";
    let queue = Queue::new(conn.clone(), prefix, GATEWAY);
    let jobs: Vec<NewJob> = (0..2_000)
        .map(|seq| {
            let message = json!({
                "id": format!("attack-{seq}"), "type": "MESSAGE_CREATED",
                "timestamp": "2026-11-30T12:00:00.000Z", "source": "bot", "guildId": HOSTILE_GUILD,
                "data": {
                    "messageId": "400000000000000001", "channelId": "500000000000000001",
                    "authorId": "300000000000000001", "content": "sleep",
                    "mentions": { "users": [], "roles": [], "everyone": false },
                    "attachmentCount": 0, "timestamp": "2026-11-30T12:00:00.000Z"
                }
            });
            NewJob::new(GATEWAY, "MESSAGE_CREATED", message.to_string()).with_opts(JobOptions {
                remove_on_complete: Some(KeepJobs::Remove(true)),
                remove_on_fail: Some(KeepJobs::Remove(true)),
                attempts: Some(1),
                ..JobOptions::default()
            })
        })
        .collect();
    queue.add_bulk(&jobs).await?;
    let worker = Worker::new(conn.clone(), prefix, GATEWAY, WorkerOptions::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let handler = handler_fn(move |job| {
            let dispatcher = dispatcher.clone();
            async move { dispatcher.handle(&job).await }
        });
        worker
            .run(handler, async {
                let _ = stopped.await;
            })
            .await
    });
    Ok((stop, task))
}

/// Add→completed latencies in milliseconds at a steady rate.
async fn latency(
    lib: Lib,
    conn: &RedisConn,
    url: &str,
    prefix: &str,
    settings: &Settings,
) -> anyhow::Result<Vec<f64>> {
    let jobs = settings.latency_jobs;
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub
        .subscribe(format!("{prefix}:{QUEUE}:completed"))
        .await?;
    let collector = tokio::spawn(async move {
        let mut received: HashMap<String, Instant> = HashMap::with_capacity(jobs);
        let mut stream = pubsub.into_on_message();
        while received.len() < jobs {
            let Some(message) = stream.next().await else {
                break;
            };
            let at = Instant::now();
            let payload: String = message.get_payload().unwrap_or_default();
            if let Ok(event) = serde_json::from_str::<Value>(&payload)
                && let Some(id) = event["jobId"].as_str()
            {
                received.insert(id.to_owned(), at);
            }
        }
        received
    });

    let mut node = None;
    let mut rust = None;
    match lib {
        Lib::Bull => {
            let mut script = NodeScript::spawn(
                "bench.js",
                &node_args(url, prefix, jobs, settings.concurrency),
            )?;
            script.ready(Duration::from_secs(30)).await?;
            node = Some(script);
        }
        Lib::Guildhost => {
            let worker = Worker::new(conn.clone(), prefix, QUEUE, settings.guildhost_options());
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(async move {
                worker
                    .run(
                        handler_fn(|_job| async { Ok(Completion::empty()) }),
                        async {
                            let _ = stopped.await;
                        },
                    )
                    .await
            });
            rust = Some((stop, task));
        }
    }

    let queue = Queue::new(conn.clone(), prefix, QUEUE);
    let interval = Duration::from_nanos(1_000_000_000 / settings.rate);
    let start = tokio::time::Instant::now();
    let mut sent = Vec::with_capacity(jobs);
    for seq in 0..jobs {
        tokio::time::sleep_until(start + interval * seq as u32).await;
        let job = ban_job(seq, settings.notify);
        let at = Instant::now();
        let id = queue.add(&job.name, &job.data, job.opts).await?;
        sent.push((id, at));
    }
    let received = tokio::time::timeout(Duration::from_secs(60), collector)
        .await
        .context("not every completion was published within 60 s")??;
    if let Some(script) = node {
        script.result(Duration::from_secs(30)).await?;
    }
    if let Some((stop, task)) = rust {
        let _ = stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let mut millis: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| {
            received
                .get(id)
                .map(|done| done.duration_since(*at).as_secs_f64() * 1e3)
        })
        .collect();
    if millis.len() != jobs {
        bail!("{} of {jobs} completions were seen", millis.len());
    }
    millis.sort_by(f64::total_cmp);
    Ok(millis)
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn range(values: &[f64], decimals: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{min:.decimals$}–{max:.decimals$}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let settings = parse_settings()?;
    require_node_modules()?;
    let private = match &settings.redis_url {
        Some(_) => None,
        None => Some(LocalRedis::start().await?),
    };
    let url = match (&settings.redis_url, &private) {
        (Some(url), _) => url.clone(),
        (None, Some(redis)) => redis.url(),
        (None, None) => bail!("no Redis to run on"),
    };
    let conn = RedisConn::connect(&url)
        .await
        .with_context(|| format!("no Redis at {url}"))?;
    let guildhost = settings.guildhost_options();
    eprintln!(
        "queue bench on {url}: {} rounds of {} jobs, bull concurrency {}, guildhost concurrency {} batch {}, latency {} jobs at {}/s",
        settings.rounds,
        settings.jobs,
        settings.concurrency,
        guildhost.concurrency,
        guildhost.batch_size,
        settings.latency_jobs,
        settings.rate
    );

    let mut drains: HashMap<&str, Vec<Drain>> = HashMap::new();
    let mut latencies: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for round in 0..settings.rounds {
        let order = if round % 2 == 0 {
            [Lib::Bull, Lib::Guildhost]
        } else {
            [Lib::Guildhost, Lib::Bull]
        };
        let order: Vec<Lib> = order
            .into_iter()
            .filter(|lib| settings.only.is_none_or(|only| only == *lib))
            .collect();
        for &lib in &order {
            let prefix = format!("ghbench-{}", uuid::Uuid::new_v4().simple());
            fill(&conn, &prefix, &settings).await?;
            let drain = match lib {
                Lib::Bull => drain_bull(&conn, &url, &prefix, &settings).await?,
                Lib::Guildhost => drain_guildhost(&conn, &prefix, &settings).await?,
            };
            eprintln!(
                "round {round} drain {:<20} {:>8.0} jobs/s  worker {:>6.1} µs/job  redis {:>6.1} µs/job  {:.3} script calls/job",
                lib.label(),
                drain.jobs_per_sec,
                drain.worker_cpu_us_per_job,
                drain.redis_cpu_us_per_job,
                drain.script_calls_per_job
            );
            drains.entry(lib.label()).or_default().push(drain);
            cleanup(&conn, &prefix).await?;
        }
        for &lib in order.iter().filter(|_| !settings.no_latency) {
            let prefix = format!("ghbench-{}", uuid::Uuid::new_v4().simple());
            let millis = latency(lib, &conn, &url, &prefix, &settings).await?;
            let (p50, p99) = (percentile(&millis, 0.50), percentile(&millis, 0.99));
            eprintln!(
                "round {round} latency {:<20} p50 {p50:.3} ms  p99 {p99:.3} ms  (p10 {:.3}, p90 {:.3}, max {:.3})",
                lib.label(),
                percentile(&millis, 0.10),
                percentile(&millis, 0.90),
                percentile(&millis, 1.0)
            );
            latencies.entry(lib.label()).or_default().push((p50, p99));
            cleanup(&conn, &prefix).await?;
        }
    }

    let summary = |lib: Lib, pick: fn(&Drain) -> f64, decimals: usize| -> (f64, String) {
        let values: Vec<f64> = drains
            .get(lib.label())
            .map(|runs| runs.iter().map(pick).collect())
            .unwrap_or_default();
        (median(&values), range(&values, decimals))
    };
    let guildhost_work = if settings.scoped {
        "guildhost runs the command path with the moderation plugin guild-scoped: decode + validate, the plugin, its two replies (DM, ban) target-checked and budgeted, recorded and carried out (dry) within the job"
    } else if settings.hostile {
        "guildhost runs the full pipeline while a hostile guild plugin in another guild blocks in every call of its own queue on the same plugin threads"
    } else if settings.notify {
        "guildhost runs the command path: decode + validate, the moderation plugin, its two replies (DM, ban) recorded and carried out (dry) within the job"
    } else if settings.pipeline {
        "guildhost runs the command path: decode + validate, the moderation plugin, its ban recorded and carried out (dry) within the job"
    } else {
        "no-op handlers"
    };
    println!(
        "\n### Drain of {} pre-added jobs (removeOnComplete true; bull no-op; {guildhost_work}; bull concurrency {}, guildhost concurrency {} batch {}), median (min–max) of {} rounds\n",
        settings.jobs,
        settings.concurrency,
        guildhost.concurrency,
        guildhost.batch_size,
        settings.rounds
    );
    println!(
        "| worker | jobs/s | worker CPU µs/job | Redis CPU µs/job | script calls per 100 jobs |"
    );
    println!("|---|---:|---:|---:|---:|");
    for lib in [Lib::Bull, Lib::Guildhost] {
        let (rate, rate_range) = summary(lib, |drain| drain.jobs_per_sec, 0);
        let (cpu, cpu_range) = summary(lib, |drain| drain.worker_cpu_us_per_job, 1);
        let (redis, redis_range) = summary(lib, |drain| drain.redis_cpu_us_per_job, 1);
        let (calls, _) = summary(lib, |drain| drain.script_calls_per_job * 100.0, 1);
        println!(
            "| {} | {rate:.0} ({rate_range}) | {cpu:.1} ({cpu_range}) | {redis:.1} ({redis_range}) | {calls:.1} |",
            lib.label()
        );
    }
    let ratio = |pick: fn(&Drain) -> f64| {
        summary(Lib::Guildhost, pick, 0).0 / summary(Lib::Bull, pick, 0).0
    };
    let targets = if settings.pipeline {
        ("≥ 2×", "—", "—")
    } else {
        ("≥ 3×", "≤ 0.1×", "≤ 1×")
    };
    println!(
        "| **guildhost / bull** | **{:.2}×** (target {}) | **{:.3}×** (target {}) | **{:.2}×** (target {}) |",
        ratio(|drain| drain.jobs_per_sec),
        targets.0,
        ratio(|drain| drain.worker_cpu_us_per_job),
        targets.1,
        ratio(|drain| drain.redis_cpu_us_per_job),
        targets.2
    );
    // Bull and guildhost of one round ran back to back, under about the same load: their ratio
    // is less at the mercy of the machine's other work than the ratio of medians above.
    let paired = |pick: fn(&Drain) -> f64| -> String {
        let (Some(bull), Some(ours)) = (
            drains.get(Lib::Bull.label()),
            drains.get(Lib::Guildhost.label()),
        ) else {
            return "—".to_owned();
        };
        let ratios: Vec<f64> = bull
            .iter()
            .zip(ours)
            .map(|(bull, ours)| pick(ours) / pick(bull))
            .collect();
        let each: Vec<String> = ratios.iter().map(|ratio| format!("{ratio:.3}")).collect();
        format!("{:.3}× ({})", median(&ratios), each.join(", "))
    };
    println!(
        "\nPer-round ratios (median, then each round): jobs/s {}; worker CPU {}; Redis CPU {}",
        paired(|drain| drain.jobs_per_sec),
        paired(|drain| drain.worker_cpu_us_per_job),
        paired(|drain| drain.redis_cpu_us_per_job)
    );
    if settings.no_latency {
        drop(private);
        return Ok(());
    }
    println!(
        "\n### add→completed latency at a steady {}/s ({} jobs per run), median of {} rounds, ms\n",
        settings.rate, settings.latency_jobs, settings.rounds
    );
    println!("| worker | p50 | p99 |");
    println!("|---|---:|---:|");
    for lib in [Lib::Bull, Lib::Guildhost] {
        let runs = latencies.get(lib.label()).cloned().unwrap_or_default();
        let p50: Vec<f64> = runs.iter().map(|run| run.0).collect();
        let p99: Vec<f64> = runs.iter().map(|run| run.1).collect();
        println!(
            "| {} | {:.2} | {:.2} |",
            lib.label(),
            median(&p50),
            median(&p99)
        );
    }
    drop(private);
    Ok(())
}
