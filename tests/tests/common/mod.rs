//! Helpers of the queue engine suites: the test Redis, unique prefixes, polling with a deadline.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use guildhost::queue::RedisConn;
use tokio::sync::oneshot;

/// The Redis the suites run against: `REDIS_URL`, else 127.0.0.1:6379. Fails with an install hint.
pub async fn redis() -> RedisConn {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    match tokio::time::timeout(Duration::from_secs(5), RedisConn::connect(&url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(error)) => panic!(
            "these tests need a Redis server at {url} (install redis-server and start it, or set REDIS_URL): {error}"
        ),
        Err(_) => panic!(
            "these tests need a Redis server at {url} (install redis-server and start it, or set REDIS_URL): connection timed out"
        ),
    }
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    format!("ghtest-{}", uuid::Uuid::new_v4().simple())
}

/// Polls `probe` every 20 ms until it returns `Some`, failing the test after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {seconds} s waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A shutdown trigger for `Worker::run`.
pub fn shutdown_pair() -> (
    oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (tx, rx) = oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
    })
}

/// Runs a raw Redis command.
pub async fn cmd<T: redis::FromRedisValue>(conn: &RedisConn, args: &[&str]) -> T {
    let mut conn = conn.clone();
    let mut command = redis::cmd(args[0]);
    for arg in &args[1..] {
        command.arg(*arg);
    }
    command.query_async(&mut conn).await.expect("redis command")
}

/// Deletes every key under `prefix` (single server), so suites leave Redis as they found it.
pub async fn cleanup(conn: &RedisConn, prefix: &str) {
    let mut conn = conn.clone();
    let pattern = format!("{prefix}:*");
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        if !keys.is_empty() {
            let _: u64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .expect("DEL");
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}
