//! A private `redis-server` for measurements nobody else may disturb.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::KillOnDrop;

/// A private `redis-server` on a free loopback port (no persistence) in a temporary directory,
/// killed when dropped. The benchmark uses it so that no other client moves its CPU counters.
pub struct LocalRedis {
    dir: PathBuf,
    port: u16,
    server: KillOnDrop,
}

impl LocalRedis {
    /// Starts the server and waits (up to 10 s) until it answers PING.
    pub async fn start() -> anyhow::Result<LocalRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("ght-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start redis-server: install it (apt-get install redis-server)")?;
        let redis = LocalRedis {
            dir,
            port,
            server: KillOnDrop(child),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let pong = async {
                let client = redis::Client::open(redis.url())?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                redis::cmd("PING")
                    .query_async::<String>(&mut connection)
                    .await
            }
            .await;
            if pong.is_ok() {
                return Ok(redis);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the private redis-server on port {port} did not answer within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.server.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
