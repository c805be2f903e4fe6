//! Support of the pipeline and plugin suites (`pipeline_*.rs`, `plugins_*.rs`): a host running in this process
//! on its own Redis prefix with first-party plugins installed, seed messages sent as the Node
//! API would send them, and probes for dry-run actions and published events.

#![allow(dead_code)]

use std::path::PathBuf;

use guildhost::config::{Config, QueueOverrides};
use guildhost::dispatch::DryRunLog;
use guildhost::dispatch::routes::EXECUTE_QUEUE;
use guildhost::queue::{JobOptions, JobState, Queue, RedisConn};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::common::{eventually, redis, unique_prefix};

/// A guild the suites use.
pub const GUILD: &str = "100000000000000001";
/// The moderator (and API user) of the suites.
pub const MODERATOR: &str = "200000000000000001";
/// The member the suites moderate.
pub const MEMBER: &str = "300000000000000001";

/// A host running in this process on its own prefix, with first-party plugins installed.
pub struct Host {
    /// The test's Redis connection.
    pub conn: RedisConn,
    /// The host's key prefix.
    pub prefix: String,
    /// Where the host serves `/metrics`, `/healthz` and `/readyz` (`None` if it failed first).
    pub http: Option<std::net::SocketAddr>,
    plugins_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Host {
    /// Starts a host with the first-party `plugins` (built by `tests/build.rs`). The execution
    /// queue runs one job at a time, so the order of executed actions is the order the plugin
    /// asked for; `bot:music` too, as the music plugin's manifest asks operators to.
    pub async fn start(plugins: &[&str]) -> Host {
        Self::start_from(env!("GUILDHOST_PLUGINS"), plugins, |_| {}).await
    }

    /// Starts a host with test guests (`plugins/test-guests/*`) instead of first-party plugins.
    pub async fn start_with_guests(guests: &[&str]) -> Host {
        Self::start_from(env!("GUILDHOST_TEST_GUESTS"), guests, |_| {}).await
    }

    /// Like [`Host::start`], with `edit` applied to the configuration last (a prefix set there
    /// is the host's, so two hosts can share one).
    pub async fn start_and(plugins: &[&str], edit: impl FnOnce(&mut Config)) -> Host {
        Self::start_from(env!("GUILDHOST_PLUGINS"), plugins, edit).await
    }

    /// Like [`Host::start_with_guests`], with `edit` applied to the configuration last.
    pub async fn start_with_guests_and(guests: &[&str], edit: impl FnOnce(&mut Config)) -> Host {
        Self::start_from(env!("GUILDHOST_TEST_GUESTS"), guests, edit).await
    }

    async fn start_from(built: &str, plugins: &[&str], edit: impl FnOnce(&mut Config)) -> Host {
        // `GUILDHOST_TEST_LOG=debug` shows the host's log when a suite needs looking into.
        if let Ok(filter) = std::env::var("GUILDHOST_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let conn = redis().await;
        let prefix = unique_prefix();
        let dir = std::env::temp_dir().join(format!("{prefix}-plugins"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let built = PathBuf::from(built);
        for plugin in plugins {
            for ext in ["wasm", "toml"] {
                let from = built.join(format!("{plugin}.{ext}"));
                std::fs::copy(&from, dir.join(format!("{plugin}.{ext}")))
                    .unwrap_or_else(|e| panic!("{} (built by host/build.rs): {e}", from.display()));
            }
        }
        let mut config = Config::default();
        config.redis.url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        config.redis.prefix = prefix.clone();
        config.plugins.dir = dir.clone();
        // Exactly the plugins the test asked for, not the ones embedded in the binary.
        config.plugins.first_party = false;
        // Hosts of parallel tests share the machine: each serves its endpoints on a free port.
        config.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        for queue in [EXECUTE_QUEUE, "bot:music"] {
            config.queues.per_queue.insert(
                queue.to_owned(),
                QueueOverrides {
                    concurrency: Some(1),
                    ..QueueOverrides::default()
                },
            );
        }
        edit(&mut config);
        let prefix = config.redis.prefix.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let (serving, address) = oneshot::channel();
        let task = tokio::spawn(guildhost::app::run_serving(
            config,
            async {
                let _ = stopped.await;
            },
            move |address| {
                let _ = serving.send(address);
            },
        ));
        Host {
            conn,
            prefix,
            // A host that fails before it serves drops the sender: its error shows at `stop`.
            http: address.await.ok(),
            plugins_dir: dir,
            stop: Some(stop),
            task,
        }
    }

    /// The queue `name` under the host's prefix.
    pub fn queue(&self, name: &str) -> Queue {
        Queue::new(self.conn.clone(), &self.prefix, name)
    }

    /// Adds `message` as the Node API would (`queue.add(type, message, opts)`); returns the job id.
    pub async fn send(&self, queue: &str, message: &Value) -> String {
        let name = message["type"].as_str().unwrap_or("__default__");
        self.queue(queue)
            .add(name, &message.to_string(), JobOptions::default())
            .await
            .expect("add")
    }

    /// Sends `UPDATE_CONFIG` with `config` (sections by name) for `guild` on `bot:config`, as the
    /// API would, and waits until the host has applied it.
    pub async fn configure(&self, guild: &str, config: Value) {
        let update = envelope(
            "UPDATE_CONFIG",
            guild,
            json!({ "config": config, "updatedBy": MODERATOR }),
        );
        let id = self.send("bot:config", &update).await;
        self.completed("bot:config", &id).await;
    }

    /// Waits until job `id` of `queue` has completed.
    pub async fn completed(&self, queue: &str, id: &str) {
        eventually(20, &format!("job {id} of {queue} completed"), || async {
            let state = self.queue(queue).get_state(id).await.ok()?;
            (state == JobState::Completed).then_some(())
        })
        .await;
    }

    /// The data of every job waiting on `queue`, oldest first.
    pub async fn waiting(&self, queue: &str) -> Vec<Value> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{}:{queue}:wait", self.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .expect("LRANGE");
        let mut data = Vec::new();
        for id in ids.iter().rev() {
            if let Some(job) = self.queue(queue).get_job(id).await.expect("get_job")
                && let Ok(value) = serde_json::from_str(&job.data)
            {
                data.push(value);
            }
        }
        data
    }

    /// Waits for a message of `type_name` on `queue` that satisfies `accept`.
    pub async fn expect_on(
        &self,
        queue: &str,
        type_name: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        eventually(20, &format!("{type_name} on {queue}"), || async {
            self.waiting(queue)
                .await
                .into_iter()
                .find(|m| m["type"] == type_name && accept(m))
        })
        .await
    }

    /// Every dry-run record so far, oldest first.
    pub async fn actions(&self) -> Vec<Value> {
        let mut conn = self.conn.clone();
        let records: Vec<String> = redis::cmd("LRANGE")
            .arg(DryRunLog::key(&self.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        records
            .iter()
            .rev()
            .filter_map(|r| serde_json::from_str::<Value>(r).ok())
            .collect()
    }

    /// Waits for a dry-run record of `action` that satisfies `accept`.
    pub async fn expect_action(&self, action: &str, accept: impl Fn(&Value) -> bool) -> Value {
        eventually(20, &format!("dry-run {action}"), || async {
            self.actions()
                .await
                .into_iter()
                .find(|r| r["action"] == action && accept(r))
        })
        .await
    }

    /// How many jobs were ever added to `queue` (Bull's id counter).
    pub async fn jobs_ever_added(&self, queue: &str) -> u64 {
        let mut conn = self.conn.clone();
        let count: Option<u64> = redis::cmd("GET")
            .arg(format!("{}:{queue}:id", self.prefix))
            .query_async(&mut conn)
            .await
            .expect("GET");
        count.unwrap_or(0)
    }

    /// Sends the host its shutdown signal without waiting; [`Host::stop`] then waits for it.
    pub fn begin_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the host, checks it ran without error and removes its keys and plugins.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = (&mut self.task).await.expect("host task");
        result.expect("host ran without error");
        let mut conn = self.conn.clone();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.prefix))
            .query_async(&mut conn)
            .await
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
        }
        let _ = std::fs::remove_dir_all(&self.plugins_dir);
    }
}

/// The host's `/metrics` text now.
pub async fn metrics_text(host: &Host) -> String {
    let Some(address) = host.http else {
        panic!("the host serves no endpoints (did it fail to start? see its error at stop)")
    };
    match reqwest::get(format!("http://{address}/metrics")).await {
        Ok(response) => response.text().await.unwrap_or_default(),
        Err(e) => panic!("GET /metrics: {e}"),
    }
}

/// The value of one series (`name{labels}`) on the host's `/metrics` now (0 when absent).
pub async fn metric(host: &Host, series: &str) -> f64 {
    metrics_text(host)
        .await
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// Waits until `series` on the host's `/metrics` reaches `at_least`; returns its value.
pub async fn metric_reaches(host: &Host, series: &str, at_least: f64) -> f64 {
    eventually(30, &format!("{series} >= {at_least}"), || async {
        let value = metric(host, series).await;
        (value >= at_least).then_some(value)
    })
    .await
}

/// A seed message as the Node API sends it.
pub fn envelope(kind: &str, guild: &str, data: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": guild,
        "userId": MODERATOR,
        "requestId": "req-1",
        "data": data,
    })
}

/// The event types a Node Bull worker reads from `queue` (it processes what is waiting).
pub async fn node_read_events(prefix: &str, queue: &str, count: usize) -> Vec<Value> {
    let result = guildhost_tests::node(
        "worker.js",
        json!({ "prefix": prefix, "queue": queue, "count": count, "exitWhenIdleMs": 2000 }),
    )
    .await;
    result["calls"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|call| call["data"].clone())
        .collect()
}

/// The data of a moderation request (BAN_USER, KICK_USER, …) against [`MEMBER`] by
/// [`MODERATOR`], with a case and no DM, and `extra`'s fields over it.
pub fn moderation_data(extra: Value) -> Value {
    let mut data = json!({
        "userId": MEMBER, "reason": "spam", "moderatorId": MODERATOR,
        "notifyUser": false, "createCase": true,
    });
    if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        data.extend(extra.clone());
    }
    data
}

/// Sends `commands` to `queue` from Node as the seed's `commandFlow` does
/// (`queue.add(command.type, command, {attempts: 3, backoff: exponential 2000,
/// removeOnComplete: 10, removeOnFail: 5})`) and returns each job's outcome as `job.finished()`
/// settled it (`ok`, `value` or `reason`, `attemptsMade`, state), in the order of `commands`.
pub async fn node_finished(prefix: &str, queue: &str, commands: &[Value]) -> Vec<Value> {
    let jobs: Vec<Value> = commands
        .iter()
        .map(|c| {
            json!({
                "name": c["type"],
                "data": c,
                "opts": {
                    "attempts": 3,
                    "backoff": { "type": "exponential", "delay": 2000 },
                    "removeOnComplete": 10,
                    "removeOnFail": 5,
                },
            })
        })
        .collect();
    let result = guildhost_tests::node(
        "finished.js",
        json!({ "prefix": prefix, "queue": queue, "jobs": jobs, "deadlineMs": 40000 }),
    )
    .await;
    match result.as_array() {
        Some(outcomes) if outcomes.len() == commands.len() => outcomes.clone(),
        _ => panic!("finished.js gave {result}"),
    }
}

/// Makes the host consume `queue`, a cross-service queue it leaves to the API by default.
pub fn consume(config: &mut Config, queue: &str) {
    config
        .queues
        .per_queue
        .entry(queue.to_owned())
        .or_default()
        .consume = Some(true);
}

/// A `MESSAGE_CREATED` from the gateway in `guild`, as ingest writes it.
pub fn message_created(guild: &str, content: &str) -> Value {
    let mut message = envelope(
        "MESSAGE_CREATED",
        guild,
        json!({
            "messageId": "400000000000000001",
            "channelId": "500000000000000001",
            "authorId": "300000000000000001",
            "content": content,
            "mentions": { "users": [], "roles": [], "everyone": false },
            "attachmentCount": 0,
            "timestamp": "2026-11-30T12:00:00.000Z",
        }),
    );
    message["source"] = json!("bot");
    message
}
