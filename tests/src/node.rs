//! The Node scripts of `tests/node` (the real npm `bull`): running them with a deadline and
//! reading their JSON lines.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::server::redis_url;

/// The npm project with the real `bull` (`tests/node`).
pub fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("node")
}

/// Fails with the setup hint unless `npm ci` has been run in `tests/node`.
pub fn require_node_modules() -> anyhow::Result<()> {
    let bull = node_dir()
        .join("node_modules")
        .join("bull")
        .join("package.json");
    if bull.is_file() {
        Ok(())
    } else {
        bail!(
            "the interop tests need the real npm bull: run `npm ci` in {} (Node.js 20+)",
            node_dir().display()
        )
    }
}

/// A Node script of `tests/node` running in the background. Killed when dropped.
///
/// The scripts print JSON lines: progress lines such as `{"ready":true}` and one final
/// `{"result": ...}` or `{"error": "..."}`.
pub struct NodeScript {
    script: String,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    seen: Vec<Value>,
}

impl NodeScript {
    /// Starts `node <script> <args JSON>` in `tests/node` with `REDIS_URL` set and `TZ=UTC`
    /// (Bull reads cron expressions without `tz` in the process's zone; guildhost uses UTC).
    pub fn spawn(script: &str, args: &Value) -> anyhow::Result<NodeScript> {
        Self::spawn_with_env(script, args, &[])
    }

    /// [`NodeScript::spawn`] with extra environment variables (they override the defaults).
    pub fn spawn_with_env(
        script: &str,
        args: &Value,
        env: &[(&str, &str)],
    ) -> anyhow::Result<NodeScript> {
        require_node_modules()?;
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg(args.to_string())
            .current_dir(node_dir())
            .env("REDIS_URL", redis_url())
            .env("TZ", "UTC");
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("cannot start `node {script}`: install Node.js 20+ and run `npm ci` in tests/node")
            })?;
        let stdout = child
            .stdout
            .take()
            .context("node stdout was not captured")?;
        Ok(NodeScript {
            script: script.to_owned(),
            child,
            stdout: BufReader::new(stdout).lines(),
            seen: Vec::new(),
        })
    }

    /// The next JSON line on stdout (non-JSON lines are skipped), or `None` at end of output.
    async fn next_line(&mut self) -> anyhow::Result<Option<Value>> {
        while let Some(line) = self.stdout.next_line().await? {
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                self.seen.push(value.clone());
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// Waits (up to `timeout`) for a line where `key` is present, e.g. `"ready"`.
    pub async fn wait_for(&mut self, key: &str, timeout: Duration) -> anyhow::Result<Value> {
        let script = self.script.clone();
        let found = tokio::time::timeout(timeout, async {
            while let Some(value) = self.next_line().await? {
                if let Some(error) = value.get("error") {
                    bail!("node {script} failed: {error}");
                }
                if value.get(key).is_some() {
                    return Ok(value);
                }
            }
            bail!("node {script} ended before printing `{key}`")
        })
        .await;
        match found {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.with_stderr(error).await),
            Err(_) => {
                let error = anyhow!("node {script}: no `{key}` line within {timeout:?}");
                Err(self.with_stderr(error).await)
            }
        }
    }

    /// Waits for the `{"ready":true}` line.
    pub async fn ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        self.wait_for("ready", timeout).await.map(|_| ())
    }

    /// Waits (up to `timeout`) for the script to print its result and exit; returns the result.
    pub async fn result(mut self, timeout: Duration) -> anyhow::Result<Value> {
        let line = self.wait_for("result", timeout).await?;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        Ok(line.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Kills the script now.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    async fn with_stderr(&mut self, error: anyhow::Error) -> anyhow::Error {
        let _ = self.child.start_kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), pipe.read_to_string(&mut stderr))
                .await;
        }
        error.context(format!(
            "stdout lines: {:?}; stderr: {}",
            self.seen,
            stderr.trim()
        ))
    }
}

/// Runs a Node script to completion and returns its result (panics on failure, for tests).
pub async fn node(script: &str, args: Value) -> Value {
    let timeout = args
        .get("deadlineMs")
        .and_then(Value::as_u64)
        .map(|ms| Duration::from_millis(ms + 5000))
        .unwrap_or(Duration::from_secs(30));
    let outcome = match NodeScript::spawn(script, &args) {
        Ok(running) => running.result(timeout).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(value) => value,
        Err(error) => panic!("{error:#}"),
    }
}

/// Starts a Node script in the background and waits for its `ready` line (panics on failure).
pub async fn node_ready(script: &str, args: Value) -> NodeScript {
    let outcome = async {
        let mut running = NodeScript::spawn(script, &args)?;
        running.ready(Duration::from_secs(20)).await?;
        anyhow::Ok(running)
    }
    .await;
    match outcome {
        Ok(running) => running,
        Err(error) => panic!("{error:#}"),
    }
}
