//! Shared support for the end-to-end suites: the test Redis, unique key prefixes, polling with a
//! deadline, child processes that die with the test, and the Node scripts driving the real npm
//! `bull` in `tests/node`, and a guildhost worker on a task for the tests to drive.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use guildhost::queue::{
    Completion, Job, JobFailure, NewJob, QueueResult, RedisConn, Worker, WorkerOptions,
    WorkerStats, handler_fn,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::task::JoinHandle;

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

/// Polls `probe` every 20 ms until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A shutdown trigger for `Worker::run`: send on (or drop) the sender to stop the worker.
pub fn shutdown_pair() -> (
    tokio::sync::oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    (sender, async move {
        let _ = receiver.await;
    })
}

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

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGKILL now and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Worker settings for tests: short blocking waits, frequent promotion and stalled checks.
pub fn fast_worker_options(concurrency: usize) -> WorkerOptions {
    WorkerOptions {
        concurrency,
        drain_delay: Duration::from_millis(200),
        guard_interval: Duration::from_millis(100),
        stalled_interval: Duration::from_millis(300),
        lock_duration: Duration::from_millis(2000),
        shutdown_timeout: Duration::from_secs(2),
        ..WorkerOptions::default()
    }
}

/// A guildhost worker running on a task; stopped gracefully by [`RunningWorker::stop`] and
/// aborted when dropped.
pub struct RunningWorker {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<QueueResult<WorkerStats>>>,
}

/// Starts `Worker::run` for `queue` under `prefix` with the closure `handler`.
pub fn spawn_worker<F, Fut>(
    conn: &RedisConn,
    prefix: &str,
    queue: &str,
    options: WorkerOptions,
    handler: F,
) -> RunningWorker
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Completion, JobFailure>> + Send + 'static,
{
    let worker = Worker::new(conn.clone(), prefix, queue, options);
    let (stop, shutdown) = shutdown_pair();
    let task = tokio::spawn(async move { worker.run(handler_fn(handler), shutdown).await });
    RunningWorker {
        stop: Some(stop),
        task: Some(task),
    }
}

impl RunningWorker {
    /// Asks the worker to shut down and waits (up to 15 s) for its statistics.
    pub async fn stop(mut self) -> WorkerStats {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            panic!("worker already stopped");
        };
        match tokio::time::timeout(Duration::from_secs(15), task).await {
            Ok(Ok(Ok(stats))) => stats,
            Ok(Ok(Err(error))) => panic!("worker failed: {error}"),
            Ok(Err(error)) => panic!("worker task failed: {error}"),
            Err(_) => panic!("worker did not stop within 15 s"),
        }
    }
}

impl Drop for RunningWorker {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Records every job a handler sees, in call order.
#[derive(Clone, Default)]
pub struct Calls(Arc<Mutex<Vec<Job>>>);

impl Calls {
    /// Records `job`; returns how many calls there were before it for the same job id.
    pub fn record(&self, job: &Job) -> usize {
        let mut calls = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let before = calls.iter().filter(|seen| seen.id == job.id).count();
        calls.push(job.clone());
        before
    }

    /// A copy of the calls so far.
    pub fn all(&self) -> Vec<Job> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Number of calls so far.
    pub fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether no call was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of the calls, in order.
    pub fn ids(&self) -> Vec<String> {
        self.all().into_iter().map(|job| job.id).collect()
    }

    /// Waits until at least `count` calls were recorded.
    pub async fn wait_for(&self, count: usize, timeout: Duration) {
        eventually(timeout, &format!("{count} handler calls"), || async {
            (self.len() >= count).then_some(())
        })
        .await;
    }
}

/// The jobs a crash-test job produces when it completes: two outputs into `out_queue`, tagged
/// with the source job id and their index, so duplicates are visible.
pub fn probe_outputs(job: &Job, out_queue: &str) -> Vec<NewJob> {
    (0..2)
        .map(|index| {
            let data = serde_json::json!({"from": job.id, "index": index});
            NewJob::new(out_queue, "output", data.to_string())
        })
        .collect()
}

/// A throwaway Redis Cluster of `masters` `redis-server --cluster-enabled yes` processes on free
/// loopback ports, in a temporary directory. The servers are killed and the directory removed
/// when it is dropped.
pub struct LocalCluster {
    dir: PathBuf,
    ports: Vec<u16>,
    servers: Vec<KillOnDrop>,
}

impl LocalCluster {
    /// Starts the servers, joins them with `redis-cli --cluster create` and waits (up to 30 s)
    /// until every node reports `cluster_state:ok`.
    pub async fn start(masters: usize) -> anyhow::Result<LocalCluster> {
        for tool in ["redis-server", "redis-cli"] {
            let found = std::process::Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !matches!(found, Ok(status) if status.success()) {
                bail!(
                    "the cluster tests need `{tool}`: install redis-server and redis-tools (apt-get install redis-server redis-tools)"
                );
            }
        }
        let dir =
            std::env::temp_dir().join(format!("ght-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut cluster = LocalCluster {
            dir,
            ports: free_cluster_ports(masters)?,
            servers: Vec::new(),
        };
        for &port in &cluster.ports {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "5000"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--logfile", &format!("redis-{port}.log")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start redis-server")?;
            cluster.servers.push(KillOnDrop(child));
        }
        for &port in &cluster.ports {
            cluster
                .wait_for_node(port, |reply| reply == "PONG", &["PING"])
                .await?;
        }
        let mut create = std::process::Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for &port in &cluster.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .context("cannot run redis-cli --cluster create")?;
        if !output.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for &port in &cluster.ports {
            cluster
                .wait_for_node(
                    port,
                    |reply| reply.contains("cluster_state:ok"),
                    &["CLUSTER", "INFO"],
                )
                .await?;
        }
        Ok(cluster)
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn nodes(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// Runs `command` on the node at `port` until `accept` likes the reply (30 s at most).
    async fn wait_for_node(
        &self,
        port: u16,
        accept: impl Fn(&str) -> bool,
        command: &[&str],
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            let reply = async {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                let mut cmd = redis::cmd(command[0]);
                for arg in &command[1..] {
                    cmd.arg(*arg);
                }
                cmd.query_async::<String>(&mut connection).await
            }
            .await;
            match reply {
                Ok(text) if accept(&text) => return Ok(()),
                Ok(text) => last = text,
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "cluster node 127.0.0.1:{port} not ready after 30 s (last reply: {last}); logs in {}",
            self.dir.display()
        )
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            server.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `count` loopback ports that are free together with their cluster bus port (port + 10000).
fn free_cluster_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::new();
    for _ in 0..200 {
        if ports.len() == count {
            break;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let Some(bus) = port.checked_add(10000) else {
            continue;
        };
        if ports.contains(&port) || std::net::TcpListener::bind(("127.0.0.1", bus)).is_err() {
            continue;
        }
        ports.push(port);
    }
    if ports.len() < count {
        bail!("could not find {count} free loopback ports for a Redis Cluster");
    }
    Ok(ports)
}

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
