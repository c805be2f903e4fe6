//! The shared test support (`guildhost_tests`) in the shapes the queue, pipeline and plugin
//! suites call it: a connection, a fresh prefix, polling with a deadline in seconds.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use guildhost::queue::RedisConn;

#[allow(unused_imports)] // Not every suite uses both.
pub use guildhost_tests::{cmd, shutdown_pair};

/// The Redis the suites run against: `REDIS_URL`, else 127.0.0.1:6379. Fails with an install hint.
pub async fn redis() -> RedisConn {
    guildhost_tests::connect().await
}

/// A key prefix no other test uses.
pub fn unique_prefix() -> String {
    guildhost_tests::unique_prefix("t")
}

/// Polls `probe` until it returns `Some`, failing the test after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    guildhost_tests::eventually(Duration::from_secs(seconds), what, probe).await
}

/// Deletes every key under `prefix`, so suites leave Redis as they found it.
pub async fn cleanup(conn: &RedisConn, prefix: &str) {
    if let Err(error) = guildhost_tests::cleanup(conn, prefix).await {
        panic!("cleaning up {prefix}: {error:#}");
    }
}
