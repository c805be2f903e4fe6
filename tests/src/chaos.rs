//! The fault campaign: hosts on one Redis (append-only file, `everysec`) under a steady load
//! from Node's bull (the e2e producer: SEND_MESSAGE and BAN_USER over many guilds, the seed's
//! options), while a chaos driver SIGKILLs a random host every few seconds (and starts it
//! again), restarts Redis, pauses every client (`CLIENT PAUSE`), fills Redis to `maxmemory`
//! for two seconds, and makes the fake Discord
//! answer 5xx, 429 and nothing at all in bursts. Then every command is accounted for: executed
//! at the fake, dead-lettered with a reason, or still queued — none lost, none executed twice
//! with distinct nonces, each ban reported once.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use axum::http::Method;
use guildhost::config::Config;
use guildhost::queue::{DeadLetters, Queue, RedisConn};
use serde_json::{Value, json};

use crate::fake_discord::{FakeDiscord, Scripted, use_fake_discord};
use crate::{HostProcess, LocalRedis, NodeScript};

/// The producer's guild ids start after this (tests/node/e2e.js).
const GUILD_BASE: u64 = 100_000_000_000_000_000;
/// Banned users are this plus the command's index (tests/node/e2e.js).
const MEMBER_BASE: u64 = 300_000_000_000_000_000;
/// The queues the commands travel.
const QUEUES: [&str; 3] = ["bot:commands", "bot:moderation", "guildhost:execute"];

/// What the campaign does.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the producer adds commands.
    pub seconds: u64,
    /// Commands per second.
    pub rate: u64,
    /// Guilds the commands are spread over.
    pub guilds: u64,
    /// Hosts on the one Redis.
    pub hosts: usize,
    /// A random host is SIGKILLed (and started again) this often.
    pub kill_every: Duration,
    /// Redis is stopped with SIGKILL instead of SIGTERM (it loses up to a second of writes).
    pub redis_sigkill: bool,
    /// Redis keeps an append-only file (`everysec`); without one a restart loses everything.
    pub aof: bool,
    /// Restart Redis a third of the way in.
    pub redis_restart: bool,
    /// The host binary and the arguments before its configuration file.
    pub host_exe: (PathBuf, Vec<String>),
}

/// Every command accounted for, and the faults that were injected.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Faults by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// Commands the producer added.
    pub added: u64,
    /// Carried out at the fake Discord.
    pub executed: u64,
    /// In the dead letters (with their reasons).
    pub dead_lettered: Vec<String>,
    /// Still waiting, delayed or active.
    pub queued: u64,
    /// Neither executed, dead-lettered nor queued.
    pub lost: Vec<String>,
    /// Sends posted again with the same nonce (Discord keeps one) and bans put again (the
    /// same ban: Discord's ban is idempotent).
    pub repeated_same_nonce: u64,
    /// Effects carried out twice that Discord would not fold into one: none may exist.
    pub duplicated: u64,
    /// Bans reported to the API more than once, or not at all.
    pub reports_wrong: u64,
    /// Add → executed at the fake, in ms: p50, p99, max.
    pub latency_ms: (f64, f64, f64),
    /// The same for the commands added before the Discord faults began (through host kills,
    /// the Redis restart and the pause only).
    pub latency_before_discord_faults_ms: (f64, f64, f64),
    /// How long the queues took to drain after the producer stopped.
    pub drained_after: Duration,
    /// The longest time, over the kills, until every job active at the kill had left `active`
    /// (the dead host's taken back and finished).
    pub orphans_back_within: Duration,
}

impl Report {
    /// The table the README shows.
    pub fn table(&self) -> String {
        let faults = self
            .faults
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "| faults injected | {faults} |\n\
             | commands added | {} |\n\
             | executed (once each) | {} |\n\
             | dead-lettered | {} |\n\
             | still queued | {} |\n\
             | lost | {} |\n\
             | duplicated (distinct nonces, or a second report) | {} |\n\
             | posted again with the same nonce / ban put again (retries of refused requests included) | {} |\n\
             | add → executed p50 / p99 / max, through kills, Redis restart and pause | {:.0} / {:.0} / {:.0} ms |\n\
             | add → executed p50 / p99 / max, all (Discord's 30 s timeouts hold their guild's line) | {:.0} / {:.0} / {:.0} ms |\n\
             | jobs active at a kill out of `active` within (worst kill before the Discord faults) | {:.1} s |\n\
             | queues drained after the load | {:.1} s |",
            self.added,
            self.executed,
            self.dead_lettered.len(),
            self.queued,
            self.lost.len(),
            self.duplicated + self.reports_wrong,
            self.repeated_same_nonce,
            self.latency_before_discord_faults_ms.0,
            self.latency_before_discord_faults_ms.1,
            self.latency_before_discord_faults_ms.2,
            self.latency_ms.0,
            self.latency_ms.1,
            self.latency_ms.2,
            self.orphans_back_within.as_secs_f64(),
            self.drained_after.as_secs_f64(),
        )
    }
}

/// A small deterministic choice of which host to kill.
fn pick(state: &mut u64, n: usize) -> usize {
    *state = state
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1);
    ((*state >> 33) as usize) % n.max(1)
}

/// The hosts of a campaign and the fake Discord they talk to, on one Redis: every incarnation
/// of every host shares the compiled plugins, as one machine's would.
pub(crate) struct Fleet {
    /// The fake Discord.
    pub(crate) fake: FakeDiscord,
    /// The hosts running now.
    pub(crate) hosts: Vec<HostProcess>,
    config: Config,
    host_exe: (PathBuf, Vec<String>),
    cache: PathBuf,
}

impl Fleet {
    /// Starts the fake Discord with `guilds` guilds and `hosts` hosts on `redis_url` under
    /// `prefix`, and waits until the fake has seen an identify.
    pub(crate) async fn start(
        redis_url: &str,
        prefix: &str,
        guilds: u64,
        hosts: usize,
        host_exe: &(PathBuf, Vec<String>),
    ) -> anyhow::Result<Fleet> {
        let guilds: Vec<u64> = (1..=guilds).map(|i| GUILD_BASE + i).collect();
        let fake = FakeDiscord::start(&guilds).await?;
        let cache = std::env::temp_dir().join(format!("{prefix}-artifacts"));
        std::fs::create_dir_all(&cache)?;
        let mut config = Config::default();
        config.redis.url = redis_url.to_owned();
        config.redis.prefix = prefix.to_owned();
        use_fake_discord(&mut config, fake.base_url());
        config.plugins.cache_dir = Some(cache.clone());
        let mut fleet = Fleet {
            fake,
            hosts: Vec::with_capacity(hosts),
            config,
            host_exe: host_exe.clone(),
            cache,
        };
        for _ in 0..hosts {
            fleet.start_host().await?;
        }
        fleet
            .fake
            .wait_for_identify(Duration::from_secs(60))
            .await?;
        Ok(fleet)
    }

    /// Starts one more host and waits until it is ready.
    pub(crate) async fn start_host(&mut self) -> anyhow::Result<()> {
        let (exe, args) = &self.host_exe;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.hosts
            .push(HostProcess::start_exe(exe, &args, self.config.clone()).await?);
        Ok(())
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.hosts.clear();
        let _ = std::fs::remove_dir_all(&self.cache);
    }
}

/// Runs the campaign.
pub async fn run(settings: &Settings) -> anyhow::Result<Report> {
    let mut redis = if settings.aof {
        LocalRedis::start_persistent().await?
    } else {
        LocalRedis::start().await?
    };
    let url = redis.url();
    let conn = RedisConn::connect(&url).await?;
    let prefix = crate::unique_prefix("chaos");
    let mut fleet = Fleet::start(
        &url,
        &prefix,
        settings.guilds,
        settings.hosts,
        &settings.host_exe,
    )
    .await?;

    let count = settings.rate * settings.seconds;
    let wall_at_start = SystemTime::now();
    let instant_at_start = Instant::now();
    let producer = NodeScript::spawn(
        "e2e.js",
        &json!({
            "role": "produce", "prefix": prefix, "queue": "bot:commands", "redisUrl": url, "count": count,
            "rate": settings.rate, "guilds": settings.guilds, "mix": true, "keepCompleted": true,
            "deadlineMs": (settings.seconds + 300) * 1000,
        }),
    )?;
    let produced = tokio::spawn(async move {
        producer
            .result(Duration::from_secs(settings_deadline(count)))
            .await
    });

    let mut report = Report {
        added: count,
        ..Report::default()
    };
    let mut dice = 0x5EED_u64;
    let started = Instant::now();
    let third = Duration::from_secs(settings.seconds) / 3;
    let (mut redis_done, mut pause_done, mut discord_done) = (false, false, false);
    let mut memory_done = false;
    let mut discord_faults_from = None;
    let recoveries: std::sync::Arc<std::sync::Mutex<Vec<Duration>>> = Default::default();
    let mut next_kill = started + settings.kill_every;
    while !produced.is_finished() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = Instant::now();
        if now >= next_kill {
            let victim = pick(&mut dice, fleet.hosts.len());
            // The jobs active when the host dies, its own among them: how long until every one
            // has left `active` (finished by a survivor, or taken back from the dead host).
            let active = active_ids(&conn, &prefix).await.unwrap_or_default();
            drop(fleet.hosts.remove(victim));
            let (conn, prefix, recoveries) = (conn.clone(), prefix.clone(), recoveries.clone());
            // Once Discord stalls requests, live hosts hold jobs for its 30 s timeout: only the
            // kills before that measure the dead host's jobs.
            let measured = !discord_done;
            tokio::spawn(async move {
                let killed = Instant::now();
                while killed.elapsed() < Duration::from_secs(120) {
                    let still = active_ids(&conn, &prefix).await.unwrap_or_default();
                    if active.iter().all(|id| !still.contains(id)) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                if let (true, Ok(mut all)) = (measured, recoveries.lock()) {
                    all.push(killed.elapsed());
                }
            });
            *report.faults.entry("host SIGKILL").or_default() += 1;
            fleet.start_host().await?;
            next_kill = Instant::now() + settings.kill_every;
        }
        if settings.redis_restart && !redis_done && now >= started + third {
            redis_done = true;
            let signal = if settings.redis_sigkill {
                *report.faults.entry("Redis SIGKILL + restart").or_default() += 1;
                libc::SIGKILL
            } else {
                *report.faults.entry("Redis SIGTERM + restart").or_default() += 1;
                libc::SIGTERM
            };
            redis.restart(signal).await?;
        }
        if !pause_done && now >= started + third * 3 / 2 {
            // The driver's connection may still be finding its way back after the restart.
            let paused: redis::RedisResult<String> = redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(3000)
                .arg("ALL")
                .query_async(&mut conn.clone())
                .await;
            if paused.is_ok() {
                pause_done = true;
                *report.faults.entry("CLIENT PAUSE 3 s").or_default() += 1;
            }
        }
        if !memory_done && now >= started + third * 5 / 2 {
            // Redis full: writes are refused (`OOM`, no eviction) for two seconds.
            let mut redis = conn.clone();
            let info: String = redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut redis)
                .await
                .unwrap_or_default();
            let used: u64 = info
                .lines()
                .find_map(|line| line.strip_prefix("used_memory:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if used > 0 {
                memory_done = true;
                let _: redis::RedisResult<()> = redis::cmd("CONFIG")
                    .arg("SET")
                    .arg("maxmemory")
                    .arg(used + 64 * 1024)
                    .query_async(&mut redis)
                    .await;
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _: redis::RedisResult<()> = redis::cmd("CONFIG")
                    .arg("SET")
                    .arg("maxmemory")
                    .arg(0)
                    .query_async(&mut redis)
                    .await;
                *report.faults.entry("Redis at maxmemory 2 s").or_default() += 1;
            }
        }
        if !discord_done && now >= started + third * 2 {
            discord_done = true;
            discord_faults_from = Some(SystemTime::now());
            fleet
                .fake
                .script(Scripted::bare(Method::POST, "/messages", 500).times(30));
            fleet.fake.script(
                Scripted::error(Method::PUT, "/bans/", 429, 0)
                    .header("retry-after", "1")
                    .header("x-ratelimit-global", "false")
                    .times(10),
            );
            fleet.fake.script(
                Scripted::bare(Method::POST, "/messages", 503)
                    .stalling()
                    .times(3),
            );
            *report.faults.entry("Discord 5xx burst").or_default() += 1;
            *report.faults.entry("Discord 429 burst").or_default() += 1;
            *report.faults.entry("Discord timeouts").or_default() += 1;
        }
    }
    produced
        .await
        .context("the producer task")?
        .context("the Node producer")?;

    let load_ended = Instant::now();
    // What is left after two minutes is reported as still queued.
    while load_ended.elapsed() < Duration::from_secs(120)
        && !queues_empty(&conn, &prefix).await.unwrap_or(false)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    report.drained_after = load_ended.elapsed();
    report.orphans_back_within = recoveries
        .lock()
        .map(|all| all.iter().max().copied().unwrap_or_default())
        .unwrap_or_default();

    let clock = Clock {
        wall_at_start,
        instant_at_start,
        discord_faults_from: discord_faults_from.unwrap_or(SystemTime::now()),
    };
    account(&mut report, &conn, &prefix, &fleet.fake, count, &clock).await?;
    drop(fleet);
    drop(redis);
    Ok(report)
}

fn settings_deadline(count: u64) -> u64 {
    600 + count / 10
}

/// The ids in `active` of the command queues.
async fn active_ids(conn: &RedisConn, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for queue in QUEUES {
        let found: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{prefix}:{queue}:active"))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn.clone())
            .await?;
        ids.extend(found.into_iter().map(|id| format!("{queue}/{id}")));
    }
    Ok(ids)
}

async fn queues_empty(conn: &RedisConn, prefix: &str) -> anyhow::Result<bool> {
    for queue in QUEUES {
        let counts = Queue::new(conn.clone(), prefix, queue).job_counts().await?;
        if counts.waiting + counts.active + counts.delayed + counts.paused > 0 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The index `i` of producer command `e2e-<type>-<i>`.
fn index_of(envelope_id: &str) -> Option<u64> {
    envelope_id.rsplit('-').next()?.parse().ok()
}

/// The campaign's clocks: the fake records `Instant`s, Bull wall-clock milliseconds.
struct Clock {
    wall_at_start: SystemTime,
    instant_at_start: Instant,
    /// When the Discord faults began (commands added before only met kills and Redis).
    discord_faults_from: SystemTime,
}

async fn account(
    report: &mut Report,
    conn: &RedisConn,
    prefix: &str,
    fake: &FakeDiscord,
    count: u64,
    clock: &Clock,
) -> anyhow::Result<()> {
    // Effects at the fake, per command index.
    let mut effects: HashMap<u64, Vec<(Instant, String)>> = HashMap::new();
    for request in fake.requests_to("POST", "/messages") {
        let content = request.body["content"].as_str().unwrap_or_default();
        let Some(index) = content
            .strip_prefix("Reminder ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        let nonce = request.body["nonce"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        effects
            .entry(index)
            .or_default()
            .push((request.received_at, nonce));
    }
    for request in fake.requests_to("PUT", "/bans/") {
        let Some(user) = request
            .path
            .rsplit('/')
            .next()
            .and_then(|u| u.parse::<u64>().ok())
        else {
            continue;
        };
        if let Some(index) = user.checked_sub(MEMBER_BASE) {
            effects
                .entry(index)
                .or_default()
                .push((request.received_at, String::from("ban")));
        }
    }
    // Dead letters and what is still queued, by command index.
    let mut dead: HashMap<u64, String> = HashMap::new();
    for letter in DeadLetters::new(conn.clone(), prefix, None).list().await? {
        let data: Value = serde_json::from_str(&letter.original_data).unwrap_or(Value::Null);
        if let Some(index) = data["id"].as_str().and_then(index_of) {
            dead.insert(index, letter.error.clone());
        }
    }
    let mut queued: std::collections::HashSet<u64> = std::collections::HashSet::new();
    for queue in QUEUES {
        let queue = Queue::new(conn.clone(), prefix, queue);
        let mut redis = conn.clone();
        for list in ["wait", "active", "paused"] {
            let ids: Vec<String> = redis::cmd("LRANGE")
                .arg(queue.keys().key(list))
                .arg(0)
                .arg(-1)
                .query_async(&mut redis)
                .await?;
            for id in ids {
                note_queued(&queue, &id, &mut queued).await;
            }
        }
        let delayed: Vec<String> = redis::cmd("ZRANGE")
            .arg(queue.keys().delayed())
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await?;
        for id in delayed {
            note_queued(&queue, &id, &mut queued).await;
        }
    }
    // Latency from the add (the job's timestamp) to the first effect at the fake.
    let adds = added_at(conn, prefix).await?;
    let mut latencies = Vec::new();
    let mut before_discord_faults = Vec::new();
    for index in 0..count {
        match effects.get(&index) {
            Some(done) => {
                report.executed += 1;
                let nonces: std::collections::HashSet<&str> =
                    done.iter().map(|(_, nonce)| nonce.as_str()).collect();
                report.duplicated += (nonces.len() as u64).saturating_sub(1);
                report.repeated_same_nonce += (done.len() - nonces.len()) as u64;
                if let (Some(first), Some(added)) =
                    (done.iter().map(|(at, _)| *at).min(), adds.get(&index))
                {
                    let at = clock.wall_at_start + first.duration_since(clock.instant_at_start);
                    if let Ok(waited) = at.duration_since(*added) {
                        latencies.push(waited.as_secs_f64() * 1000.0);
                        if *added < clock.discord_faults_from {
                            before_discord_faults.push(waited.as_secs_f64() * 1000.0);
                        }
                    }
                }
            }
            None if dead.contains_key(&index) => {}
            None if queued.contains(&index) => report.queued += 1,
            None => report.lost.push(format!("command {index}")),
        }
    }
    report.dead_lettered = dead.into_values().collect();
    latencies.sort_by(f64::total_cmp);
    report.latency_ms = (
        crate::bench::percentile(&latencies, 0.50),
        crate::bench::percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
    );
    before_discord_faults.sort_by(f64::total_cmp);
    report.latency_before_discord_faults_ms = (
        crate::bench::percentile(&before_discord_faults, 0.50),
        crate::bench::percentile(&before_discord_faults, 0.99),
        before_discord_faults.last().copied().unwrap_or(0.0),
    );
    // Each ban that was carried out is reported to the API once.
    let reports = reports_per_user(conn, prefix).await?;
    report.reports_wrong = (0..count)
        .filter(|i| i % 2 == 1 && effects.contains_key(i))
        .filter(|i| reports.get(&(MEMBER_BASE + i).to_string()).copied() != Some(1))
        .count() as u64;
    Ok(())
}

async fn note_queued(queue: &Queue, id: &str, queued: &mut std::collections::HashSet<u64>) {
    if let Ok(Some(job)) = queue.get_job(id).await
        && let Ok(data) = serde_json::from_str::<Value>(&job.data)
        && let Some(index) = data["id"].as_str().and_then(index_of)
    {
        queued.insert(index);
    }
}

/// When each command was added: Bull's `timestamp` of its job (the producer keeps completed
/// jobs, and failed ones stay in `failed`).
async fn added_at(conn: &RedisConn, prefix: &str) -> anyhow::Result<HashMap<u64, SystemTime>> {
    let mut out = HashMap::new();
    let mut redis = conn.clone();
    for queue in ["bot:commands", "bot:moderation"] {
        let queue = Queue::new(conn.clone(), prefix, queue);
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(queue.keys().completed())
            .arg(0)
            .arg(-1)
            .query_async(&mut redis)
            .await?;
        for id in ids {
            if let Ok(Some(job)) = queue.get_job(&id).await
                && let (Some(index), Some(millis)) = (index_of(&job.id), job.timestamp)
            {
                let millis = u64::try_from(millis).unwrap_or(0);
                out.insert(
                    index,
                    SystemTime::UNIX_EPOCH + Duration::from_millis(millis),
                );
            }
        }
    }
    Ok(out)
}

async fn reports_per_user(
    conn: &RedisConn,
    prefix: &str,
) -> anyhow::Result<HashMap<String, usize>> {
    let events = Queue::new(conn.clone(), prefix, "moderation:events");
    let ids: Vec<String> = redis::cmd("LRANGE")
        .arg(events.keys().wait())
        .arg(0)
        .arg(-1)
        .query_async(&mut conn.clone())
        .await?;
    let mut per_user = HashMap::new();
    for id in ids {
        if let Ok(Some(job)) = events.get_job(&id).await
            && let Ok(report) = serde_json::from_str::<Value>(&job.data)
            && report["type"] == "MODERATION_ACTION_COMPLETED"
        {
            let user = report["data"]["userId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            *per_user.entry(user).or_default() += 1;
        }
    }
    Ok(per_user)
}
