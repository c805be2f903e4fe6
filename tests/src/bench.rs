//! What the benchmarks measure besides time: Redis's CPU and script calls from `INFO`, a
//! process's CPU, and percentiles. Shared by the bench binaries so each figure means the same
//! in every table.

use anyhow::Context as _;
use guildhost::queue::RedisConn;

/// Redis CPU time (user + sys) in microseconds, from `INFO cpu`.
pub async fn redis_cpu_us(conn: &RedisConn) -> anyhow::Result<f64> {
    let mut conn = conn.clone();
    let info: String = redis::cmd("INFO").arg("cpu").query_async(&mut conn).await?;
    let mut seconds = 0.0;
    for line in info.lines() {
        if let Some(value) = line
            .strip_prefix("used_cpu_user:")
            .or_else(|| line.strip_prefix("used_cpu_sys:"))
        {
            seconds += value
                .trim()
                .parse::<f64>()
                .with_context(|| format!("INFO cpu line `{line}`"))?;
        }
    }
    Ok(seconds * 1e6)
}

/// Script calls (`EVAL`, `EVALSHA`) Redis has run so far, from `INFO commandstats`.
pub async fn script_calls(conn: &RedisConn) -> anyhow::Result<f64> {
    let mut conn = conn.clone();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await?;
    let mut calls = 0.0;
    for line in info
        .lines()
        .filter(|line| line.starts_with("cmdstat_eval:") || line.starts_with("cmdstat_evalsha:"))
    {
        if let Some(count) = line
            .split([':', ','])
            .find_map(|part| part.strip_prefix("calls="))
        {
            calls += count
                .parse::<f64>()
                .with_context(|| format!("INFO commandstats line `{line}`"))?;
        }
    }
    Ok(calls)
}

/// CPU time (user + sys) of process `pid` in microseconds, from `/proc/<pid>/stat`.
pub fn process_cpu_us(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("/proc/<pid>/stat without a command name")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks = |index: usize| -> anyhow::Result<f64> {
        fields
            .get(index)
            .context("/proc/<pid>/stat too short")?
            .parse::<f64>()
            .context("a tick count in /proc/<pid>/stat")
    };
    // SAFETY: sysconf only reads a configuration value.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok((ticks(11)? + ticks(12)?) / per_second * 1e6)
}

/// The nearest-rank percentile (`fraction` 0..=1) of `sorted` (ascending); NaN when empty.
pub fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
