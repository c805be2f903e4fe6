//! The Node side: `tests/node/diff-agent.js`, a long-lived process doing one bull operation
//! per JSON line.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use crate::node::{node_dir, require_node_modules};
use crate::server::redis_url;

/// Longest wait for one reply (`work` itself gives up after 10 s).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running agent. Killed when dropped.
pub struct Agent {
    child: Child,
    stdin: ChildStdin,
    stdout: Lines<BufReader<ChildStdout>>,
    next_id: u64,
}

impl Agent {
    /// Starts the agent on queue `queue` under `prefix`, with fast stall and delay settings and
    /// Bull's metrics kept (`metrics_points` per-minute points).
    pub async fn start(prefix: &str, queue: &str, metrics_points: u32) -> anyhow::Result<Agent> {
        require_node_modules()?;
        let spec = json!({
            "prefix": prefix,
            "queue": queue,
            "settings": {
                "stalledInterval": 100,
                "lockDuration": 1000,
                "maxStalledCount": 1,
                "guardInterval": 50,
                "drainDelay": 1,
            },
            "metrics": {"maxDataPoints": metrics_points},
        });
        let mut child = Command::new("node")
            .arg("diff-agent.js")
            .arg(spec.to_string())
            .current_dir(node_dir())
            .env("REDIS_URL", redis_url())
            .env("TZ", "UTC")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start `node diff-agent.js`: install Node.js 20+ and run `npm ci` in tests/node")?;
        let stdin = child.stdin.take().context("agent stdin")?;
        let stdout = child.stdout.take().context("agent stdout")?;
        Ok(Agent {
            child,
            stdin,
            stdout: BufReader::new(stdout).lines(),
            next_id: 0,
        })
    }

    /// Sends one request; the outer error is the agent's trouble, the inner one the operation's
    /// own failure (bull threw).
    pub async fn call(&mut self, mut request: Value) -> anyhow::Result<Result<Value, String>> {
        self.next_id += 1;
        let id = self.next_id;
        request["id"] = json!(id);
        let mut line = request.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        let reply = tokio::time::timeout(REPLY_TIMEOUT, self.stdout.next_line())
            .await
            .with_context(|| {
                format!("the agent did not answer {request} within {REPLY_TIMEOUT:?}")
            })??
            .with_context(|| format!("the agent exited before answering {request}"))?;
        let reply: Value = serde_json::from_str(&reply)
            .with_context(|| format!("the agent answered with something not JSON: {reply}"))?;
        if reply["id"] != json!(id) {
            bail!("the agent answered request {} out of turn: {reply}", id);
        }
        Ok(match reply.get("error") {
            Some(error) => Err(error.as_str().unwrap_or_default().to_owned()),
            None => Ok(reply.get("ok").cloned().unwrap_or(Value::Null)),
        })
    }

    /// Closes the agent's queues and waits for it to exit (bounded).
    pub async fn close(mut self) {
        let _ = self.call(json!({"op": "close"})).await;
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }
}
