//! JavaScript plugins against Rust ones, measured on the guild admin's automod example in both
//! languages (`examples/guild-automod`, `examples/guild-automod-ts`: the same rules):
//!
//! - **in the runtime** (no Redis): the compilation of each component, a warm call, a call on a
//!   fresh instance (instantiation included), and the linear memory one instance holds;
//! - **in the pipeline**: gateway `MESSAGE_CREATED` jobs (one in 50 with a blocked link) drained
//!   by a `guildhost run` process serving the Rust example, one serving the TypeScript example,
//!   and Bull's no-op worker (Node, concurrency 50) on the same Redis, in the same run; ratios to
//!   Bull's.
//!
//! ```text
//! just bench-js [--calls 2000] [--messages 10000] [--rounds 3]
//! ```
//!
//! Builds both examples first (cargo for `wasm32-wasip2`; `npm run build`, which needs `npm ci`
//! in `plugins/sdk-js` and `examples/guild-automod-ts`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use guildhost::config::Config;
use guildhost::queue::{JobOptions, NewJob, Queue, RedisConn};
use guildhost::runtime::bindings::{Envelope, Message, Source};
use guildhost::runtime::{LoadedPlugin, Manifest, MemoryKv, Origin, Runtime, RuntimeConfig};
use guildhost_tests::bench::percentile;
use guildhost_tests::{HostProcess, LocalRedis, NodeScript, require_node_modules};
use serde_json::json;

// The allocator of the `guildhost` binary, as the product runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The guild both examples are scoped to.
const GUILD: &str = "123456789012345678";

struct Settings {
    calls: u32,
    messages: u64,
    rounds: u32,
}

fn settings() -> anyhow::Result<Settings> {
    let mut settings = Settings {
        calls: 2_000,
        messages: 10_000,
        rounds: 3,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).context("every option takes a value")?;
        match pair[0].as_str() {
            "--calls" => settings.calls = value.parse()?,
            "--messages" => settings.messages = value.parse()?,
            "--rounds" => settings.rounds = value.parse()?,
            other => anyhow::bail!("unknown option {other} (options: --calls --messages --rounds)"),
        }
    }
    Ok(settings)
}

fn main() -> anyhow::Result<()> {
    if let Some(host) = HostProcess::run_if_asked() {
        return host;
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: a debug build; run with --release (just bench-js) for meaningful numbers"
        );
    }
    let settings = settings()?;
    let examples = [Example::build_rust()?, Example::build_typescript()?];
    runtime_figures(&examples, &settings)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(pipeline_figures(&examples, &settings))
}

/// One of the two examples, built: its component and manifest.
struct Example {
    label: &'static str,
    wasm: Vec<u8>,
    manifest: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn checked(command: &mut std::process::Command, what: &str) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

impl Example {
    fn build_rust() -> anyhow::Result<Example> {
        let dir = repo().join("examples").join("guild-automod");
        let target = repo().join("target").join("wasm-guests");
        checked(
            std::process::Command::new("cargo")
                .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
                .current_dir(&dir)
                .env("CARGO_TARGET_DIR", &target),
            "cargo build of examples/guild-automod",
        )?;
        Ok(Example {
            label: "Rust",
            wasm: std::fs::read(target.join("wasm32-wasip2/release/guild_automod.wasm"))?,
            manifest: std::fs::read_to_string(dir.join("plugin.toml"))?,
        })
    }

    fn build_typescript() -> anyhow::Result<Example> {
        let dir = repo().join("examples").join("guild-automod-ts");
        anyhow::ensure!(
            dir.join("node_modules").is_dir()
                && repo().join("plugins/sdk-js/node_modules").is_dir(),
            "run `npm ci` in plugins/sdk-js and in examples/guild-automod-ts first"
        );
        checked(
            std::process::Command::new("npm")
                .args(["run", "build"])
                .current_dir(&dir),
            "npm run build in examples/guild-automod-ts",
        )?;
        Ok(Example {
            label: "TypeScript",
            wasm: std::fs::read(dir.join("dist/guild-automod-ts.wasm"))?,
            manifest: std::fs::read_to_string(dir.join("plugin.toml"))?,
        })
    }

    fn load(&self, runtime: &Runtime, fresh: bool) -> anyhow::Result<Arc<LoadedPlugin>> {
        let mut text = self.manifest.clone();
        if fresh {
            text.push_str("\n[instance]\nmode = \"fresh\"\n");
        }
        // Room for the benchmark's calls: the example's limits are a guild's, not a benchmark's.
        let text = text.replace("wall-time-ms = 20", "wall-time-ms = 1000");
        let manifest = Manifest::parse(&text, &runtime.config().limits)?;
        Ok(runtime.load(Origin::Directory, manifest, &self.wasm)?)
    }
}

fn message(i: u64, content: &str) -> (Envelope, Message) {
    (
        Envelope {
            id: format!("bench-{i}"),
            type_name: "MESSAGE_CREATED".into(),
            timestamp: 1_796_000_000_000,
            source: Source::Bot,
            guild_id: Some(GUILD.into()),
            user_id: None,
            request_id: None,
            priority: None,
        },
        Message::MessageCreated(guildhost_tests::messages::wit_message_created(
            &(400_000_000_000_000_000 + i).to_string(),
            "500000000000000001",
            &(300_000_000_000_000_000 + i % 100).to_string(),
            content,
        )),
    )
}

/// Median and p99 µs per call over `calls` calls, and the memory the first call's instance held.
fn calls(plugin: &LoadedPlugin, calls: u32) -> anyhow::Result<(f64, f64, u64)> {
    let mut micros = Vec::with_capacity(calls as usize);
    let mut memory = 0;
    for i in 0..u64::from(calls) {
        let content = if i % 50 == 0 {
            "free nitro at https://bit.ly/x"
        } else {
            "hello there"
        };
        let (envelope, message) = message(i, content);
        let started = Instant::now();
        let result = plugin
            .call(&envelope, &message, &Default::default())
            .map_err(|failure| anyhow::anyhow!("{}", failure.error))?;
        micros.push(started.elapsed().as_secs_f64() * 1e6);
        if i == 0 {
            memory = result.memory_bytes;
        }
    }
    micros.sort_by(f64::total_cmp);
    Ok((percentile(&micros, 0.5), percentile(&micros, 0.99), memory))
}

fn runtime_figures(examples: &[Example], settings: &Settings) -> anyhow::Result<()> {
    println!(
        "## In the runtime ({} calls per case; pooling allocator, fuel metered)\n",
        settings.calls
    );
    println!(
        "| plugin | component | compile | warm call p50 / p99 | fresh instance p50 / p99 | memory of a new instance |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for example in examples {
        // A cache of its own, empty: the first load compiles.
        let cache =
            std::env::temp_dir().join(format!("js-bench-{}", uuid::Uuid::new_v4().simple()));
        let runtime = Runtime::new(
            RuntimeConfig {
                cache_dir: Some(cache.clone()),
                ..RuntimeConfig::default()
            },
            Arc::new(MemoryKv::new()),
        )?;
        let started = Instant::now();
        let warm = example.load(&runtime, false)?;
        let compile = started.elapsed();
        let fresh = example.load(&runtime, true)?;
        let (warm_p50, warm_p99, memory) = calls(&warm, settings.calls)?;
        let (fresh_p50, fresh_p99, _) = calls(&fresh, settings.calls.min(500))?;
        println!(
            "| {} | {:.1} MiB | {:.1} s | {:.0} / {:.0} µs | {:.0} / {:.0} µs | {:.1} MiB |",
            example.label,
            example.wasm.len() as f64 / 1048576.0,
            compile.as_secs_f64(),
            warm_p50,
            warm_p99,
            fresh_p50,
            fresh_p99,
            memory as f64 / 1048576.0
        );
        let _ = std::fs::remove_dir_all(&cache);
    }
    println!();
    Ok(())
}

fn gateway_jobs(messages: u64) -> Vec<NewJob> {
    (0..messages)
        .map(|id| {
            let mut data =
                guildhost_tests::messages::message_created(id, GUILD, "500000000000000001");
            if id % 50 == 0 {
                data["data"]["content"] = json!("free nitro at https://bit.ly/x");
            }
            NewJob::new("guildhost:gateway", "MESSAGE_CREATED", data.to_string()).with_opts(
                JobOptions {
                    remove_on_complete: Some(guildhost::queue::KeepJobs::Remove(true)),
                    ..JobOptions::default()
                },
            )
        })
        .collect()
}

async fn add_all(queue: &Queue, jobs: &[NewJob]) -> anyhow::Result<()> {
    for chunk in jobs.chunks(1000) {
        queue.add_bulk(chunk).await?;
    }
    Ok(())
}

/// Messages per second through a host serving `example`: the jobs are added once it is ready,
/// the clock stops when the gateway queue is drained.
async fn through_host(
    url: &str,
    conn: &RedisConn,
    example: &Example,
    messages: u64,
) -> anyhow::Result<f64> {
    let prefix = format!("js-bench-{}", uuid::Uuid::new_v4().simple());
    let mut config = Config::default();
    config.redis.url = url.to_owned();
    config.redis.prefix = prefix.clone();
    config.plugins.first_party = false;
    // One guild gets every message: lift its output budget out of the way.
    config.plugins.budget.outputs_per_second = 1_000_000;
    config.plugins.budget.outputs_burst = 1_000_000;
    let host = HostProcess::start(config).await?;
    let name = if example.label == "Rust" {
        "guild-automod"
    } else {
        "guild-automod-ts"
    };
    std::fs::write(
        host.plugins_dir().join(format!("{name}.toml")),
        &example.manifest,
    )?;
    std::fs::write(
        host.plugins_dir().join(format!("{name}.wasm")),
        &example.wasm,
    )?;
    let deadline = Instant::now() + Duration::from_secs(300);
    while host.serving().await?.is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{name} was not serving within 300 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let queue = Queue::new(conn.clone(), &prefix, "guildhost:gateway");
    let jobs = gateway_jobs(messages);
    let started = Instant::now();
    add_all(&queue, &jobs).await?;
    loop {
        let counts = queue.job_counts().await?;
        if counts.waiting + counts.active + counts.delayed == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = messages as f64 / started.elapsed().as_secs_f64();
    drop(host);
    Ok(rate)
}

/// Messages per second through Bull's no-op worker on the same jobs.
async fn through_bull(url: &str, conn: &RedisConn, messages: u64) -> anyhow::Result<f64> {
    let prefix = format!("js-bench-{}", uuid::Uuid::new_v4().simple());
    let spec = json!({
        "role": "noop", "prefix": prefix, "queue": "guildhost:gateway", "redisUrl": url,
        "count": messages, "queues": ["guildhost:gateway"], "deadlineMs": 900_000,
    });
    let mut worker = NodeScript::spawn("e2e.js", &spec)?;
    worker.ready(Duration::from_secs(30)).await?;
    let queue = Queue::new(conn.clone(), &prefix, "guildhost:gateway");
    add_all(&queue, &gateway_jobs(messages)).await?;
    let result = worker.result(Duration::from_secs(600)).await?;
    let ms = result["ms"].as_f64().context("the worker's ms")?;
    Ok(messages as f64 / (ms / 1e3))
}

async fn pipeline_figures(examples: &[Example], settings: &Settings) -> anyhow::Result<()> {
    require_node_modules()?;
    let redis = LocalRedis::start().await?;
    let url = redis.url();
    let conn = RedisConn::connect(&url).await?;
    let mut bull = Vec::new();
    let mut hosts: Vec<Vec<f64>> = vec![Vec::new(); examples.len()];
    for _ in 0..settings.rounds {
        bull.push(through_bull(&url, &conn, settings.messages).await?);
        for (rates, example) in hosts.iter_mut().zip(examples) {
            rates.push(through_host(&url, &conn, example, settings.messages).await?);
        }
    }
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        percentile(rates, 0.5)
    };
    let bull_rate = median(&mut bull);
    println!(
        "## In the pipeline ({} gateway messages, median of {} rounds)\n",
        settings.messages, settings.rounds
    );
    println!("| worker | messages/s | × Bull's no-op worker |");
    println!("|---|---:|---:|");
    println!("| Bull no-op worker (Node, concurrency 50) | {bull_rate:.0} | 1.00 |");
    for (rates, example) in hosts.iter_mut().zip(examples) {
        let rate = median(rates);
        println!(
            "| guildhost, {} automod example | {rate:.0} | {:.2} |",
            example.label,
            rate / bull_rate
        );
    }
    Ok(())
}
