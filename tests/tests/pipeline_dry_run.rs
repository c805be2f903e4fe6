//! The pipeline end to end in one process, against the real Redis and real plugins: a job on a
//! seed queue → validation → plugins → replies enqueued with the completion → the executor
//! (dry run) → events for the API.

mod common;

use std::path::PathBuf;

use guildhost::config::Config;
use guildhost::dispatch::DryRunLog;
use guildhost::dispatch::routes::GATEWAY_QUEUE;
use guildhost::queue::{DeadLetters, JobOptions, Queue, RedisConn};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use common::{eventually, redis, unique_prefix};

/// A host running in this process on its own prefix, with the given test guests installed.
struct Host {
    conn: RedisConn,
    prefix: String,
    _plugins: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Host {
    async fn start(guests: &[&str]) -> Host {
        let conn = redis().await;
        let prefix = unique_prefix();
        let dir = std::env::temp_dir().join(format!("{prefix}-plugins"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let built = PathBuf::from(env!("GUILDHOST_TEST_GUESTS"));
        for guest in guests {
            for ext in ["wasm", "toml"] {
                std::fs::copy(
                    built.join(format!("{guest}.{ext}")),
                    dir.join(format!("{guest}.{ext}")),
                )
                .expect("test guest built by tests/build.rs");
            }
        }
        let mut config = Config::default();
        config.redis.url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        config.redis.prefix = prefix.clone();
        config.plugins.dir = dir.clone();
        config.plugins.first_party = false;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(guildhost::app::run(config, async {
            let _ = stopped.await;
        }));
        Host {
            conn,
            prefix,
            _plugins: TempDir(dir),
            stop: Some(stop),
            task,
        }
    }

    fn queue(&self, name: &str) -> Queue {
        Queue::new(self.conn.clone(), &self.prefix, name)
    }

    /// Adds `message` as the Node API would (`queue.add(type, message, opts)`).
    async fn send(&self, queue: &str, message: &Value) -> String {
        let name = message["type"].as_str().unwrap_or("__default__");
        self.queue(queue)
            .add(name, &message.to_string(), JobOptions::default())
            .await
            .expect("add")
    }

    /// The data of every job waiting on `queue`, oldest first.
    async fn waiting(&self, queue: &str) -> Vec<Value> {
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
            if let Some(job) = self.queue(queue).get_job(id).await.expect("get_job") {
                data.push(serde_json::from_str(&job.data).expect("JSON data"));
            }
        }
        data
    }

    /// Waits for a message of `type_name` on `queue` that satisfies `accept`.
    async fn expect_on(
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

    /// Waits for a dry-run record of `action` that satisfies `accept`.
    async fn expect_action(&self, action: &str, accept: impl Fn(&Value) -> bool) -> Value {
        eventually(20, &format!("dry-run {action}"), || async {
            let mut conn = self.conn.clone();
            let records: Vec<String> = redis::cmd("LRANGE")
                .arg(DryRunLog::key(&self.prefix))
                .arg(0)
                .arg(-1)
                .query_async(&mut conn)
                .await
                .ok()?;
            records
                .iter()
                .filter_map(|r| serde_json::from_str::<Value>(r).ok())
                .find(|r| r["action"] == action && accept(r))
        })
        .await
    }

    async fn stop(mut self) {
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
    }
}

fn envelope(kind: &str, guild: &str, data: Value) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": guild,
        "userId": "200000000000000001",
        "requestId": "req-1",
        "data": data,
    })
}

fn ban(days: u64) -> Value {
    envelope(
        "BAN_USER",
        "100000000000000001",
        json!({
            "userId": "300000000000000001",
            "reason": "spam",
            "deleteMessageDays": days,
            "moderatorId": "200000000000000001",
            "notifyUser": false,
            "createCase": false,
        }),
    )
}

fn message_created(guild: &str, content: &str) -> Value {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_no_plugin_handles_is_executed_as_is_and_reported() {
    let host = Host::start(&[]).await;
    host.send("bot:moderation", &ban(1)).await;

    let record = host
        .expect_action("BAN_USER", |r| r["data"]["userId"] == "300000000000000001")
        .await;
    assert_eq!(record["guildId"], "100000000000000001");
    assert_eq!(record["nonce"].as_str().map(str::len), Some(25));

    let done = host
        .expect_on("moderation:events", "MODERATION_ACTION_COMPLETED", |_| true)
        .await;
    assert_eq!(done["data"]["action"], "BAN");
    assert_eq!(done["data"]["success"], true);
    assert_eq!(done["data"]["executedBy"], "200000000000000001");
    assert_eq!(done["source"], "bot");
    assert_eq!(done["requestId"], "req-1");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_message_is_dead_lettered_with_the_field_named_and_the_worker_carries_on() {
    let host = Host::start(&[]).await;
    host.send("bot:moderation", &ban(9)).await;
    host.send("bot:moderation", &ban(2)).await;

    let letters = DeadLetters::new(host.conn.clone(), &host.prefix, None);
    let letter = eventually(20, "a dead letter", || async {
        letters.list().await.ok()?.into_iter().next()
    })
    .await;
    assert_eq!(letter.queue, "bot:moderation");
    assert!(
        letter
            .error
            .contains("data.deleteMessageDays: must be within 0..=7, got 9"),
        "{}",
        letter.error
    );
    assert_eq!(letter.attempts_made, 1, "bad input is not retried");
    // The next, valid job still runs.
    host.expect_action("BAN_USER", |r| r["data"]["deleteMessageDays"] == 2)
        .await;
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_events_reach_plugins_and_the_api_and_config_updates_apply() {
    let host = Host::start(&["echo"]).await;
    let guild = "100000000000000002";
    host.send(GATEWAY_QUEUE, &message_created(guild, "hello"))
        .await;

    let reply = host
        .expect_action("SEND_MESSAGE", |r| r["data"]["content"] == "echo: hello")
        .await;
    assert_eq!(reply["guildId"], guild);
    assert_eq!(reply["data"]["reply"]["messageId"], "400000000000000001");
    // The API hears about the message too.
    host.expect_on("discord:events", "MESSAGE_CREATED", |m| {
        m["data"]["content"] == "hello"
    })
    .await;

    // UPDATE_CONFIG changes what the plugin reads from the next message on.
    let update = envelope(
        "UPDATE_CONFIG",
        guild,
        json!({ "config": { "echo": { "prefix": ">> " } }, "updatedBy": "200000000000000001" }),
    );
    host.send("bot:config", &update).await;
    eventually(20, "the configuration stored", || async {
        let mut conn = host.conn.clone();
        let stored: Option<String> = redis::cmd("HGET")
            .arg(format!("{}:guildhost:config:{guild}", host.prefix))
            .arg("echo")
            .query_async(&mut conn)
            .await
            .ok()?;
        stored
    })
    .await;
    host.send(GATEWAY_QUEUE, &message_created(guild, "again"))
        .await;
    host.expect_action("SEND_MESSAGE", |r| r["data"]["content"] == ">> again")
        .await;
    host.stop().await;
}
