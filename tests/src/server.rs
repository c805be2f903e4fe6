//! The test Redis: where it is, connecting with an install hint, unique key prefixes, cleanup
//! and raw commands.

use std::time::Duration;

use anyhow::{Context, anyhow};
use guildhost::queue::RedisConn;

/// The Redis the suites run against: `REDIS_URL`, else `redis://127.0.0.1:6379`.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Connects to [`redis_url`], failing with an install hint when nothing answers.
pub async fn try_connect() -> anyhow::Result<RedisConn> {
    let url = redis_url();
    let hint = || {
        format!(
            "no Redis at {url}: install redis-server (apt-get install redis-server) and start it, or set REDIS_URL"
        )
    };
    let conn = tokio::time::timeout(Duration::from_secs(5), RedisConn::connect(&url))
        .await
        .map_err(|_| anyhow!("{}: connection timed out", hint()))?
        .with_context(hint)?;
    let mut probe = conn.clone();
    let _: String = redis::cmd("PING")
        .query_async(&mut probe)
        .await
        .with_context(hint)?;
    Ok(conn)
}

/// [`try_connect`] for tests: panics with the install hint.
pub async fn connect() -> RedisConn {
    match try_connect().await {
        Ok(conn) => conn,
        Err(error) => panic!("{error:#}"),
    }
}

/// A key prefix no other test uses: `ght-<tag>-<random>`.
pub fn unique_prefix(tag: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("ght-{tag}-{}", &random[..12])
}

/// Deletes every key starting with `prefix` (on a single server).
pub async fn cleanup(conn: &RedisConn, prefix: &str) -> anyhow::Result<u64> {
    let mut conn = conn.clone();
    let pattern = format!("{}*", glob_escape(prefix));
    let mut cursor: u64 = 0;
    let mut deleted = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let removed: u64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
            deleted += removed;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// `prefix` with the glob metacharacters of `SCAN MATCH` escaped (`{bull}` stays literal).
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// Runs a raw Redis command, panicking (failing the test) on an error.
pub async fn cmd<T: redis::FromRedisValue>(conn: &RedisConn, args: &[&str]) -> T {
    let mut conn = conn.clone();
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    match command.query_async(&mut conn).await {
        Ok(value) => value,
        Err(error) => panic!("redis {args:?}: {error}"),
    }
}
