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
    persistence: Vec<String>,
    server: KillOnDrop,
}

impl LocalRedis {
    /// Starts the server and waits (up to 10 s) until it answers PING.
    pub async fn start() -> anyhow::Result<LocalRedis> {
        Self::start_with(&["--save", "", "--appendonly", "no"]).await
    }

    /// Starts the server with an append-only file written every second (`appendfsync
    /// everysec`), which a restart reads back.
    pub async fn start_persistent() -> anyhow::Result<LocalRedis> {
        Self::start_with(&[
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ])
        .await
    }

    async fn start_with(persistence: &[&str]) -> anyhow::Result<LocalRedis> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("ght-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let persistence: Vec<String> = persistence.iter().map(|s| (*s).to_owned()).collect();
        let server = spawn(port, &dir, &persistence)?;
        let redis = LocalRedis {
            dir,
            port,
            persistence,
            server,
        };
        redis.wait_for_pong().await?;
        Ok(redis)
    }

    /// Stops the server with `signal` (`libc::SIGTERM`: it writes what it has; `SIGKILL`: it
    /// loses what the last second of its append-only file did not hold) and starts it again on
    /// the same port and directory; returns once it answers (having loaded its data).
    pub async fn restart(&mut self, signal: i32) -> anyhow::Result<()> {
        let before = self.run_id().await?;
        let pid = libc::pid_t::try_from(self.server.id()).unwrap_or(0);
        // SAFETY: kill(2) on the pid of the child this value owns.
        unsafe { libc::kill(pid, signal) };
        // The server is gone only once its process is: until then it may still serve the
        // connections it has while a new one would serve new ones.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.server.0.try_wait()?.is_none() {
            if tokio::time::Instant::now() > deadline {
                self.server.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The port is free again once nothing listens on it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            if tokio::time::Instant::now() > deadline {
                bail!("port {} still answers after the server exited", self.port);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.server = spawn(self.port, &self.dir, &self.persistence)?;
        self.wait_for_pong().await?;
        if self.run_id().await? == before {
            bail!("redis-server on port {} did not restart", self.port);
        }
        Ok(())
    }

    /// The server's `run_id` (new at every start).
    async fn run_id(&self) -> anyhow::Result<String> {
        let client = redis::Client::open(self.url())?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut connection)
            .await?;
        Ok(info
            .lines()
            .find_map(|line| line.strip_prefix("run_id:"))
            .unwrap_or_default()
            .trim()
            .to_owned())
    }

    async fn wait_for_pong(&self) -> anyhow::Result<()> {
        let port = self.port;
        let redis = self;
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
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("the private redis-server on port {port} did not answer within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.server.id()
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

fn spawn(port: u16, dir: &std::path::Path, persistence: &[String]) -> anyhow::Result<KillOnDrop> {
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(persistence)
        .arg("--dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start redis-server: install it (apt-get install redis-server)")?;
    Ok(KillOnDrop(child))
}
