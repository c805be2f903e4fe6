//! The execution queue over the serenity executor and the fake Discord, with a real Redis: a 5xx
//! retried to success with one post only, a refusal reported to the API, a rejected token
//! that stops execution without losing the job, and a file on a loopback address that fails its
//! job for good unless `[discord.fetch]` allows it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use guildhost::config::Config;
use guildhost::discord::fetch::FetchPolicy;
use guildhost::discord::rest::{RestMode, SerenityDiscord, http_client};
use guildhost::dispatch::Executor;
use guildhost::dispatch::routes::{EXECUTE_QUEUE, GATEWAY_QUEUE};
use guildhost::queue::{Backoff, JobOptions, JobState, Queue, Worker};
use guildhost_tests::fake_discord::{FakeDiscord, Scripted};
use guildhost_tests::file_server::{FileServer, SECRET};
use guildhost_tests::{fast_worker_options, shutdown_pair};
use serde_json::{Value, json};

use common::{cleanup, eventually, redis, unique_prefix};

const GUILD: &str = "1187459221346115625";

fn command(kind: &str, data: Value) -> String {
    json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "bot",
        "guildId": GUILD,
        "data": data,
    })
    .to_string()
}

struct Rig {
    fake: FakeDiscord,
    queue: Queue,
    gateway: Queue,
    prefix: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    worker: tokio::task::JoinHandle<()>,
}

impl Rig {
    async fn start() -> Rig {
        Rig::start_with("").await
    }

    /// A rig whose host reads `toml` as its configuration (its `[discord.fetch]` included).
    async fn start_with(toml: &str) -> Rig {
        let config = match Config::from_toml_str(toml) {
            Ok(config) => config,
            Err(e) => panic!("test configuration: {e}"),
        };
        let fetch = match FetchPolicy::from_config(&config.discord.fetch) {
            Ok(fetch) => fetch,
            Err(e) => panic!("test configuration: {e}"),
        };
        let fake = match FakeDiscord::start(&[]).await {
            Ok(fake) => fake,
            Err(e) => panic!("starting the fake Discord: {e:#}"),
        };
        let conn = redis().await;
        let prefix = unique_prefix();
        let http = Arc::new(http_client("fake-token", &RestMode::Proxy(fake.base_url())));
        let discord = SerenityDiscord::new(http, Arc::default())
            .with_request_timeout(Duration::from_secs(5))
            .with_fetch_policy(fetch);
        let executor = Executor::new(discord, Arc::new(config), None)
            .with_token_probe_interval(Duration::from_millis(100));
        let worker = Worker::new(conn.clone(), &prefix, EXECUTE_QUEUE, fast_worker_options(2));
        let (stop, shutdown) = shutdown_pair();
        let worker = tokio::spawn(async move {
            if let Err(e) = worker.run(executor, shutdown).await {
                panic!("executor worker failed: {e}");
            }
        });
        Rig {
            fake,
            queue: Queue::new(conn.clone(), &prefix, EXECUTE_QUEUE),
            gateway: Queue::new(conn, &prefix, GATEWAY_QUEUE),
            prefix,
            stop: Some(stop),
            worker,
        }
    }

    async fn add(&self, kind: &str, data: Value) -> String {
        let opts = JobOptions {
            attempts: Some(3),
            backoff: Some(Backoff::Millis(50)),
            ..JobOptions::default()
        };
        match self.queue.add(kind, &command(kind, data), opts).await {
            Ok(id) => id,
            Err(e) => panic!("adding {kind}: {e}"),
        }
    }

    /// A ban of one member, as the moderation tests send it.
    async fn add_ban(&self) -> String {
        self.add(
            "BAN_USER",
            json!({
                "userId": "829410203982675998", "reason": "raid", "deleteMessageDays": 0,
                "moderatorId": "302050872383242240", "notifyUser": false, "createCase": false,
            }),
        )
        .await
    }

    /// The messages waiting on the gateway queue (the executor's reports), once there is one.
    async fn reports(&self) -> Vec<Value> {
        eventually(10, "MODERATION_ACTION_COMPLETED", || async {
            let ids: Vec<String> = redis::cmd("LRANGE")
                .arg(self.gateway.keys().wait())
                .arg(0)
                .arg(-1)
                .query_async(&mut self.gateway.conn().clone())
                .await
                .ok()?;
            let mut reports = Vec::new();
            for id in ids {
                let job = self.gateway.get_job(&id).await.ok().flatten()?;
                reports.push(serde_json::from_str::<Value>(&job.data).ok()?);
            }
            (!reports.is_empty()).then_some(reports)
        })
        .await
    }

    async fn state(&self, id: &str) -> Option<JobState> {
        self.queue.get_state(id).await.ok()
    }

    /// The job's return value once it has completed.
    ///
    /// The state is read before the job: a job read first could still be an earlier attempt's
    /// by the time its state says final.
    async fn completed(&self, id: &str) -> Value {
        eventually(10, "the job completes", || async {
            if self.state(id).await != Some(JobState::Completed) {
                return None;
            }
            let job = self.queue.get_job(id).await.ok().flatten()?;
            serde_json::from_str::<Value>(job.return_value.as_deref()?).ok()
        })
        .await
    }

    /// The job's failure reason and tries once it has failed for good (state first, as above).
    async fn failed(&self, id: &str) -> (String, u32) {
        eventually(10, "the job fails", || async {
            if self.state(id).await != Some(JobState::Failed) {
                return None;
            }
            let job = self.queue.get_job(id).await.ok().flatten()?;
            Some((job.failed_reason?, job.attempts_made))
        })
        .await
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.worker).await;
        cleanup(self.queue.conn(), &self.prefix).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_retried_after_a_lost_answer_posts_once() {
    let rig = Rig::start().await;
    rig.fake
        .script(Scripted::bare(Method::POST, "/messages", 502).after_applying());
    let id = rig
        .add(
            "SEND_MESSAGE",
            json!({ "channelId": "1187459222185005126", "content": "exactly once" }),
        )
        .await;
    let result = rig.completed(&id).await;
    assert!(
        result["outcome"]["sent"]["messageId"].is_string(),
        "{result}"
    );
    assert_eq!(
        rig.fake.requests_to("POST", "/messages").len(),
        2,
        "one retry"
    );
    assert_eq!(rig.fake.posts().len(), 1, "one message posted");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_ban_completes_and_reports_the_refusal() {
    let rig = Rig::start().await;
    rig.fake
        .script(Scripted::error(Method::PUT, "/bans/", 403, 50013));
    let id = rig.add_ban().await;
    let result = rig.completed(&id).await;
    assert!(
        result["refused"]
            .as_str()
            .is_some_and(|r| r.contains("50013")),
        "{result}"
    );
    assert_eq!(
        rig.fake.requests_to("PUT", "/bans/").len(),
        1,
        "never retried"
    );
    let reports = rig.reports().await;
    assert_eq!(reports.len(), 1, "exactly one report: {reports:?}");
    let reported = &reports[0];
    assert_eq!(reported["type"], "MODERATION_ACTION_COMPLETED");
    assert_eq!(reported["data"]["success"], false);
    assert!(
        reported["data"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("50013"))
    );
    rig.stop().await;
}

/// A ban Discord keeps failing (500 at every attempt) is tried the job's three times, then fails
/// for good into the dead letters, and the API gets the one MODERATION_ACTION_COMPLETED it is
/// owed, `success: false`, enqueued with the final failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_failing_at_every_attempt_reports_the_failure_once() {
    let rig = Rig::start().await;
    rig.fake
        .script(Scripted::error(Method::PUT, "/bans/", 500, 0).times(usize::MAX));
    let id = rig.add_ban().await;
    let (_, tries) = rig.failed(&id).await;
    assert_eq!(tries, 3);
    assert_eq!(
        rig.fake.requests_to("PUT", "/bans/").len(),
        3,
        "one request per attempt"
    );
    let reports = rig.reports().await;
    assert_eq!(reports.len(), 1, "exactly one report: {reports:?}");
    assert_eq!(reports[0]["type"], "MODERATION_ACTION_COMPLETED");
    assert_eq!(reports[0]["data"]["success"], false);
    assert!(
        reports[0]["data"]["error"]
            .as_str()
            .is_some_and(|r| r.starts_with("failed at each of 3 attempts")),
        "{}",
        reports[0]
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_holds_the_job_until_discord_accepts_it_again() {
    let rig = Rig::start().await;
    rig.fake
        .script(Scripted::error(Method::POST, "/messages", 401, 0).times(usize::MAX));
    rig.fake
        .script(Scripted::error(Method::GET, "/users/@me", 401, 0).times(usize::MAX));
    let id = rig
        .add(
            "SEND_MESSAGE",
            json!({ "channelId": "1187459222185005126", "content": "after the fix" }),
        )
        .await;
    // Execution stops: the token is probed, the command is not sent again, the job stays.
    let probes = |requests: &[guildhost_tests::fake_discord::Recorded]| {
        (requests.iter().filter(|r| r.path == "/users/@me").count() >= 3).then_some(())
    };
    if let Err(e) = rig
        .fake
        .wait_for(Duration::from_secs(10), "token probes", probes)
        .await
    {
        panic!("{e:#}");
    }
    assert_eq!(rig.fake.requests_to("POST", "/messages").len(), 1);
    assert_eq!(rig.state(&id).await, Some(JobState::Active));

    // The operator fixes the token: the job runs and completes.
    rig.fake.clear_script();
    let result = rig.completed(&id).await;
    assert!(result["outcome"]["sent"].is_object(), "{result}");
    assert_eq!(rig.fake.posts().len(), 1);
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_dm_never_blocks_the_ban_after_it() {
    let rig = Rig::start().await;
    rig.fake
        .script(Scripted::error(Method::POST, "/messages", 403, 50007));
    let member = "829410203982675998";
    let dm = rig
        .add(
            "SEND_DM",
            json!({ "userId": member, "content": "You are banned: raid" }),
        )
        .await;
    let ban = rig
        .add(
            "BAN_USER",
            json!({
                "userId": member, "reason": "raid", "deleteMessageDays": 1,
                "moderatorId": "302050872383242240", "notifyUser": true, "createCase": false,
            }),
        )
        .await;
    let dm_result = rig.completed(&dm).await;
    assert_eq!(
        dm_result["outcome"]["undeliverable"]["code"], 50007,
        "{dm_result}"
    );
    let ban_result = rig.completed(&ban).await;
    assert_eq!(ban_result["outcome"], "done", "{ban_result}");
    assert_eq!(rig.fake.requests_to("PUT", "/bans/").len(), 1);
    rig.stop().await;
}

async fn secret_server() -> FileServer {
    match FileServer::start([127, 0, 0, 1]).await {
        Ok(server) => server,
        Err(e) => panic!("starting the file server: {e:#}"),
    }
}

fn send_secret(server: &FileServer) -> Value {
    json!({
        "channelId": "1187459222185005126",
        "content": "here is the file",
        "files": [{ "filename": "meta.txt", "url": server.url("/latest/meta-data/secret") }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_on_a_loopback_address_fails_the_job_for_good_and_posts_nothing() {
    let server = secret_server().await;
    let rig = Rig::start().await;
    let id = rig.add("SEND_MESSAGE", send_secret(&server)).await;
    let (reason, tries) = rig.failed(&id).await;
    assert_eq!(
        reason,
        format!(
            "refused by Discord (0): files: {} resolves to 127.0.0.1, a loopback address; only \
             public addresses are fetched (allow it with [discord.fetch] allow)",
            server.url("/latest/meta-data/secret")
        )
    );
    assert_eq!(tries, 1, "a refusal is never retried");
    assert!(
        rig.fake.requests_to("POST", "/messages").is_empty(),
        "no message upload"
    );
    assert!(rig.fake.posts().is_empty());
    assert_eq!(
        server.hits(),
        Vec::<String>::new(),
        "the secret was never requested"
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_file_is_uploaded_when_the_operator_allows_its_address() {
    let server = secret_server().await;
    let rig = Rig::start_with("[discord.fetch]\nallow = [\"127.0.0.1\"]\n").await;
    let id = rig.add("SEND_MESSAGE", send_secret(&server)).await;
    let result = rig.completed(&id).await;
    assert!(
        result["outcome"]["sent"]["messageId"].is_string(),
        "{result}"
    );
    let uploads = rig.fake.requests_to("POST", "/messages");
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    let raw = String::from_utf8_lossy(&uploads[0].raw_body);
    assert!(raw.contains("filename=\"meta.txt\""), "{raw}");
    assert!(raw.contains(SECRET), "the file's bytes: {raw}");
    assert_eq!(server.hits(), ["/latest/meta-data/secret"]);
    rig.stop().await;
}
