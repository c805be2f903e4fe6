//! The soak run: hosts on one Redis under a steady load from Node's bull (the e2e producer with
//! the seed's options, so completed jobs are trimmed as the API's are) for a long time, no
//! faults; every window records the hosts' resident memory, Redis's memory and the p99 from add
//! to the fake Discord receiving the message. After warm-up, memory stays flat and the p99
//! steady.

use std::time::{Duration, Instant, SystemTime};

use guildhost::queue::RedisConn;
use serde_json::json;

use crate::chaos::Fleet;
use crate::{LocalRedis, NodeScript};

/// What the soak run does.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long the load lasts.
    pub seconds: u64,
    /// Commands per second.
    pub rate: u64,
    /// Guilds the commands are spread over.
    pub guilds: u64,
    /// Hosts on the one Redis.
    pub hosts: usize,
    /// One line of figures per window.
    pub window: Duration,
    /// The host binary and the arguments before its configuration file.
    pub host_exe: (std::path::PathBuf, Vec<String>),
}

/// One window's figures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    /// Seconds since the load began, at the window's end.
    pub at_secs: f64,
    /// The hosts' resident memory together, in MiB.
    pub hosts_mib: f64,
    /// Redis's `used_memory`, in MiB.
    pub redis_mib: f64,
    /// Messages the fake received in the window.
    pub messages: usize,
    /// Add → received at the fake, p99, in ms, for the window's messages.
    pub p99_ms: f64,
}

/// Runs the soak and returns its windows.
pub async fn run(settings: &Settings) -> anyhow::Result<Vec<Window>> {
    let redis = LocalRedis::start().await?;
    let url = redis.url();
    let conn = RedisConn::connect(&url).await?;
    let prefix = crate::unique_prefix("soak");
    let fleet = Fleet::start(
        &url,
        &prefix,
        settings.guilds,
        settings.hosts,
        &settings.host_exe,
    )
    .await?;
    // The API's side: Bull workers taking the reports and event copies guildhost publishes
    // (a queue nobody consumes grows, whatever the host does).
    let mut api = NodeScript::spawn(
        "e2e.js",
        &json!({
            "role": "noop", "prefix": prefix, "queue": "moderation:events", "redisUrl": url,
            "count": u64::MAX / 4, "queues": ["moderation:events", "discord:events"],
            "deadlineMs": (settings.seconds + 600) * 1000,
        }),
    )?;
    api.ready(Duration::from_secs(30)).await?;
    // The seed's retention: completed jobs are trimmed as the API's are.
    let producer = NodeScript::spawn(
        "e2e.js",
        &json!({
            "role": "produce", "prefix": prefix, "queue": "bot:commands", "redisUrl": url,
            "count": settings.rate * settings.seconds, "rate": settings.rate,
            "guilds": settings.guilds, "mix": true,
            "deadlineMs": (settings.seconds + 300) * 1000,
        }),
    )?;
    let produced =
        tokio::spawn(async move { producer.result(Duration::from_secs(u64::MAX / 4)).await });
    let wall_at_start = SystemTime::now();
    let instant_at_start = Instant::now();
    let mut windows = Vec::new();
    let mut seen = 0;
    while !produced.is_finished() {
        tokio::time::sleep(settings.window).await;
        let posts = fleet.fake.requests_to("POST", "/messages");
        let mut latencies: Vec<f64> = posts[seen.min(posts.len())..]
            .iter()
            .filter_map(|request| {
                let content = request.body["content"].as_str()?;
                let added: u64 = content
                    .rsplit_once('[')?
                    .1
                    .strip_suffix(']')?
                    .parse()
                    .ok()?;
                let received = wall_at_start + request.received_at.duration_since(instant_at_start);
                let received = received.duration_since(SystemTime::UNIX_EPOCH).ok()?;
                Some(received.as_millis() as f64 - added as f64)
            })
            .collect();
        latencies.sort_by(f64::total_cmp);
        let messages = posts.len() - seen.min(posts.len());
        seen = posts.len();
        let mut hosts_kib = 0.0;
        for host in &fleet.hosts {
            hosts_kib += resident_kib(host.id()).unwrap_or(0.0);
        }
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query_async(&mut conn.clone())
            .await
            .unwrap_or_default();
        let used: f64 = info
            .lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0);
        windows.push(Window {
            at_secs: instant_at_start.elapsed().as_secs_f64(),
            hosts_mib: hosts_kib / 1024.0,
            redis_mib: used / 1024.0 / 1024.0,
            messages,
            p99_ms: crate::bench::percentile(&latencies, 0.99),
        });
    }
    produced.await??;
    api.kill().await;
    drop(fleet);
    Ok(windows)
}

/// A process's resident memory (`VmRSS`), in KiB.
fn resident_kib(pid: u32) -> Option<f64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The windows as the README's table.
pub fn table(windows: &[Window]) -> String {
    let mut out = String::from(
        "| at | hosts' memory | Redis memory | messages | add → Discord p99 |\n|---|---|---|---|---|\n",
    );
    for window in windows {
        out.push_str(&format!(
            "| {:.0} s | {:.1} MiB | {:.1} MiB | {} | {:.0} ms |\n",
            window.at_secs, window.hosts_mib, window.redis_mib, window.messages, window.p99_ms
        ));
    }
    out
}
