//! The plugin store measured through `guildhost run` processes on a Redis of its own:
//!
//! - **install → serving**: a `PLUGIN_INSTALL` job added while messages flow; how long until the
//!   job completes, until each of two hosts serves the new version (its `/metrics`), and until
//!   the first message is answered by it;
//! - **memory per installed plugin**: a host's resident memory before and after 100 guilds
//!   install one plugin each, all the same component and then all different components;
//! - **throughput with 100 guild plugins**: gateway messages over 100 guilds through a host with
//!   no plugin, with one global directory plugin doing the same work per message, and with 100
//!   store plugins (one per guild), each in the same run; ratios to the host with none.
//!
//! ```text
//! just bench-store [--guilds 100] [--messages 20000] [--rounds 5]
//! ```

use std::time::{Duration, Instant};

use anyhow::Context as _;
use guildhost::config::Config;
use guildhost::queue::{JobOptions, NewJob, Queue, RedisConn};
use guildhost_tests::bench::percentile;
use guildhost_tests::{HostProcess, LocalRedis};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// The allocator of the `guildhost` binary, as the product runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const GUILD_BASE: u64 = 100_000_000_000_000_001;

struct Settings {
    guilds: u64,
    messages: u64,
    rounds: u32,
}

fn settings() -> anyhow::Result<Settings> {
    let mut settings = Settings {
        guilds: 100,
        messages: 20_000,
        rounds: 5,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).context("every option takes a value")?;
        match pair[0].as_str() {
            "--guilds" => settings.guilds = value.parse()?,
            "--messages" => settings.messages = value.parse()?,
            "--rounds" => settings.rounds = value.parse()?,
            other => anyhow::bail!("unknown option {other}"),
        }
    }
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    if let Some(host) = HostProcess::run_if_asked() {
        return host;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench())
}

async fn bench() -> anyhow::Result<()> {
    let settings = settings()?;
    let redis = LocalRedis::start().await?;
    let url = redis.url();
    let conn = RedisConn::connect(&url).await?;
    eprintln!(
        "load average at start: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    install_latency(&url, &conn, &settings).await?;
    memory(&url, &conn, &settings).await?;
    throughput(&url, &conn, &settings).await?;
    Ok(())
}

fn config(url: &str, prefix: &str) -> Config {
    let mut config = Config::default();
    config.redis.url = url.to_owned();
    config.redis.prefix = prefix.to_owned();
    config.plugins.first_party = false;
    // The benchmark sends a guild more messages than a guild plugin may answer by default.
    config.plugins.budget.outputs_per_second = 100_000;
    config.plugins.budget.outputs_burst = 100_000;
    config.plugins.guild_policy.max_plugins = 1_000;
    config
}

fn guest(name: &str) -> anyhow::Result<Vec<u8>> {
    let path = std::path::Path::new(env!("GUILDHOST_TEST_GUESTS")).join(format!("{name}.wasm"));
    std::fs::read(&path).with_context(|| path.display().to_string())
}

/// The same component with a custom section of its own: other bytes, other compiled code.
fn distinct(wasm: &[u8], index: u64) -> Vec<u8> {
    let name = b"guildhost-bench";
    let payload = index.to_le_bytes();
    let mut body = vec![u8::try_from(name.len()).unwrap_or(0)];
    body.extend_from_slice(name);
    body.extend_from_slice(&payload);
    let mut out = wasm.to_vec();
    out.push(0);
    out.push(u8::try_from(body.len()).unwrap_or(0));
    out.extend_from_slice(&body);
    out
}

fn manifest(name: &str, version: &str, prefix: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"{version}\"\nsubscribes = [\"MESSAGE_CREATED\"]\n\
         emits = [\"SEND_MESSAGE\"]\nscope = \"global\"\n[config]\nprefix = \"{prefix}\"\n"
    )
}

async fn upload(conn: &RedisConn, prefix: &str, wasm: &[u8]) -> anyhow::Result<String> {
    let sha = hex::encode(Sha256::digest(wasm));
    let mut c = conn.clone();
    redis::cmd("SET")
        .arg(format!("{prefix}:guildhost:store:blob:{sha}"))
        .arg(wasm)
        .arg("EX")
        .arg(3600)
        .arg("NX")
        .query_async::<()>(&mut c)
        .await?;
    Ok(sha)
}

fn install_job(guild: u64, sha: &str, manifest: &str) -> NewJob {
    let envelope = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "PLUGIN_INSTALL",
        "timestamp": "2026-12-07T12:00:00.000Z",
        "source": "api",
        "guildId": guild.to_string(),
        "data": { "sha256": sha, "manifest": manifest },
    });
    NewJob::new("bot:config", "PLUGIN_INSTALL", envelope.to_string()).with_opts(JobOptions {
        attempts: Some(3),
        ..JobOptions::default()
    })
}

fn message(id: u64, guild: u64) -> NewJob {
    let channel = (500_000_000_000_000_000 + guild % 1_000).to_string();
    let data = guildhost_tests::messages::message_created(id, &guild.to_string(), &channel);
    NewJob::new("guildhost:gateway", "MESSAGE_CREATED", data.to_string()).with_opts(JobOptions {
        remove_on_complete: Some(guildhost::queue::KeepJobs::Remove(true)),
        ..JobOptions::default()
    })
}

async fn dry_run_contents(conn: &RedisConn, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut c = conn.clone();
    let records: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{prefix}:guildhost:dry-run"))
        .arg(0)
        .arg(199)
        .query_async(&mut c)
        .await?;
    Ok(records
        .iter()
        .filter_map(|record| serde_json::from_str::<Value>(record).ok())
        .filter_map(|record| record["data"]["content"].as_str().map(str::to_owned))
        .collect())
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

async fn install_latency(url: &str, conn: &RedisConn, settings: &Settings) -> anyhow::Result<()> {
    let prefix = format!("store-bench-{}", uuid::Uuid::new_v4().simple());
    let hosts = [
        HostProcess::start(config(url, &prefix)).await?,
        HostProcess::start(config(url, &prefix)).await?,
    ];
    let guild = GUILD_BASE;
    let echo = upload(conn, &prefix, &guest("echo")?).await?;
    let queue = Queue::new(conn.clone(), &prefix, "bot:config");
    let gateway = Queue::new(conn.clone(), &prefix, "guildhost:gateway");
    // Messages for the guild every 2 ms, the whole time.
    let traffic = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            for id in 0.. {
                let _ = gateway.add_bulk(&[message(id, guild)]).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let (mut to_job, mut to_hosts, mut to_reply) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=settings.rounds {
        let version = format!("{round}.0.0");
        let reply_prefix = format!("r{round}: ");
        let job = install_job(guild, &echo, &manifest("greeter", &version, &reply_prefix));
        let started = Instant::now();
        let id = queue
            .add_bulk(&[job])
            .await?
            .into_iter()
            .flatten()
            .next()
            .context("the install job's id")?;
        let (mut job_done, mut host_done, mut reply_done) = (None, [None, None], None);
        while job_done.is_none() || host_done.iter().any(Option::is_none) || reply_done.is_none() {
            if started.elapsed() > Duration::from_secs(30) {
                anyhow::bail!("round {round} did not finish in 30 s");
            }
            if job_done.is_none()
                && queue.get_state(&id).await? == guildhost::queue::JobState::Completed
            {
                job_done = Some(started.elapsed());
            }
            for (host, done) in hosts.iter().zip(host_done.iter_mut()) {
                if done.is_none()
                    && host
                        .serving()
                        .await?
                        .iter()
                        .any(|(_, served)| *served == version)
                {
                    *done = Some(started.elapsed());
                }
            }
            if reply_done.is_none()
                && dry_run_contents(conn, &prefix)
                    .await?
                    .iter()
                    .any(|content| content.starts_with(&reply_prefix))
            {
                reply_done = Some(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        to_job.push(ms(job_done.unwrap_or_default()));
        to_hosts.extend(host_done.iter().map(|done| ms(done.unwrap_or_default())));
        to_reply.push(ms(reply_done.unwrap_or_default()));
    }
    traffic.abort();
    let summary = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        format!(
            "median {:.0} ms, max {:.0} ms",
            percentile(values, 0.5),
            values.last().copied().unwrap_or_default()
        )
    };
    println!("install → command job completed: {}", summary(&mut to_job));
    println!(
        "install → serving on each of 2 hosts: {}",
        summary(&mut to_hosts)
    );
    println!(
        "install → first message answered by the new version: {}",
        summary(&mut to_reply)
    );
    Ok(())
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.split_whitespace().next()?.parse().ok())
        .context("VmRSS")
}

/// Installs one plugin in each of `guilds` (component `wasm_for(i)`) and waits until the host
/// serves them all and has answered one message in each guild.
async fn install_many(
    conn: &RedisConn,
    prefix: &str,
    host: &HostProcess,
    guilds: std::ops::Range<u64>,
    wasm_for: impl Fn(u64) -> Vec<u8>,
) -> anyhow::Result<()> {
    let queue = Queue::new(conn.clone(), prefix, "bot:config");
    let mut jobs = Vec::new();
    for guild in guilds.clone() {
        let sha = upload(conn, prefix, &wasm_for(guild)).await?;
        jobs.push(install_job(
            GUILD_BASE + guild,
            &sha,
            &manifest("greeter", "1.0.0", "hi: "),
        ));
    }
    queue.add_bulk(&jobs).await?;
    let wanted = usize::try_from(guilds.end).unwrap_or(usize::MAX);
    let deadline = Instant::now() + Duration::from_secs(300);
    while host.serving().await?.len() < wanted {
        if Instant::now() > deadline {
            let mut c = conn.clone();
            let failed: Vec<String> = redis::cmd("ZRANGE")
                .arg(format!("{prefix}:bot:config:failed"))
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await?;
            anyhow::bail!("the installs did not all serve (failed install jobs: {failed:?})");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let gateway = Queue::new(conn.clone(), prefix, "guildhost:gateway");
    let messages: Vec<NewJob> = guilds.map(|g| message(g, GUILD_BASE + g)).collect();
    gateway.add_bulk(&messages).await?;
    drain(conn, prefix, "guildhost:gateway").await
}

async fn drain(conn: &RedisConn, prefix: &str, queue: &str) -> anyhow::Result<()> {
    let queue = Queue::new(conn.clone(), prefix, queue);
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let counts = queue.job_counts().await?;
        if counts.waiting + counts.active + counts.delayed == 0 {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the queue did not drain: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn memory(url: &str, conn: &RedisConn, settings: &Settings) -> anyhow::Result<()> {
    let prefix = format!("store-bench-{}", uuid::Uuid::new_v4().simple());
    let host = HostProcess::start(config(url, &prefix)).await?;
    let echo = guest("echo")?;
    let n = settings.guilds;
    // Warm the host's own paths with one guild first, so the figures are the plugins'.
    install_many(conn, &prefix, &host, 0..1, |_| echo.clone()).await?;
    let base = rss_kib(host.id())?;
    install_many(conn, &prefix, &host, 1..n + 1, |_| echo.clone()).await?;
    let shared = rss_kib(host.id())?;
    install_many(conn, &prefix, &host, n + 1..2 * n + 1, |i| {
        distinct(&echo, i)
    })
    .await?;
    let different = rss_kib(host.id())?;
    let per = |kib: u64| kib as f64 / n as f64;
    println!(
        "memory per installed plugin (resident, after one call each): {:.0} KiB sharing one component, {:.0} KiB each with its own ({} KiB component)",
        per(shared.saturating_sub(base)),
        per(different.saturating_sub(shared)),
        echo.len() / 1024
    );
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plugins {
    None,
    OneGlobal,
    PerGuild,
}

async fn throughput(url: &str, conn: &RedisConn, settings: &Settings) -> anyhow::Result<()> {
    let mut rates: Vec<(Plugins, f64)> = Vec::new();
    for _ in 0..2 {
        for plugins in [Plugins::None, Plugins::OneGlobal, Plugins::PerGuild] {
            rates.push((plugins, run_throughput(url, conn, settings, plugins).await?));
        }
    }
    let mean = |which: Plugins| {
        let of: Vec<f64> = rates
            .iter()
            .filter(|(p, _)| *p == which)
            .map(|(_, r)| *r)
            .collect();
        of.iter().sum::<f64>() / of.len().max(1) as f64
    };
    let none = mean(Plugins::None);
    println!(
        "gateway messages/s over {} guilds (mean of 2): no plugin {:.0}; one global plugin {:.0} ({:.2}×); {} store plugins, one per guild {:.0} ({:.2}×)",
        settings.guilds,
        none,
        mean(Plugins::OneGlobal),
        mean(Plugins::OneGlobal) / none,
        settings.guilds,
        mean(Plugins::PerGuild),
        mean(Plugins::PerGuild) / none
    );
    Ok(())
}

async fn run_throughput(
    url: &str,
    conn: &RedisConn,
    settings: &Settings,
    plugins: Plugins,
) -> anyhow::Result<f64> {
    let prefix = format!("store-bench-{}", uuid::Uuid::new_v4().simple());
    let host = HostProcess::start(config(url, &prefix)).await?;
    let noop = guest("noop")?;
    let noop_manifest = "name = \"quiet\"\nversion = \"1.0.0\"\nsubscribes = [\"MESSAGE_CREATED\"]\nemits = []\nscope = \"global\"\n";
    match plugins {
        Plugins::None => {}
        Plugins::OneGlobal => {
            // The same component as one global plugin of the operator's directory.
            std::fs::write(host.plugins_dir().join("quiet.toml"), noop_manifest)?;
            std::fs::write(host.plugins_dir().join("quiet.wasm"), &noop)?;
            while host.serving().await?.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Plugins::PerGuild => {
            let queue = Queue::new(conn.clone(), &prefix, "bot:config");
            let sha = upload(conn, &prefix, &noop).await?;
            let jobs: Vec<NewJob> = (0..settings.guilds)
                .map(|g| install_job(GUILD_BASE + g, &sha, noop_manifest))
                .collect();
            queue.add_bulk(&jobs).await?;
            let wanted = usize::try_from(settings.guilds).unwrap_or(usize::MAX);
            while host.serving().await?.len() < wanted {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    measure(conn, &prefix, settings, host).await
}

async fn measure(
    conn: &RedisConn,
    prefix: &str,
    settings: &Settings,
    host: HostProcess,
) -> anyhow::Result<f64> {
    let gateway = Queue::new(conn.clone(), prefix, "guildhost:gateway");
    let jobs: Vec<NewJob> = (0..settings.messages)
        .map(|id| message(id, GUILD_BASE + id % settings.guilds))
        .collect();
    let started = Instant::now();
    for chunk in jobs.chunks(1000) {
        gateway.add_bulk(chunk).await?;
    }
    drain(conn, prefix, "guildhost:gateway").await?;
    let rate = settings.messages as f64 / started.elapsed().as_secs_f64();
    drop(host);
    Ok(rate)
}
