//! Graceful shutdown of the real `guildhost run` process (`host_process`): SIGTERM or SIGINT
//! while jobs are in flight makes the host stop taking jobs, finish the ones in flight and exit
//! with status 0; a second signal makes it exit at once with 130. Either way a restarted host
//! does the rest and every request is reported exactly once.
//!
//! The `slow` test guest holds every `BAN_USER` for a configured time before executing it, so
//! the host provably has jobs inside a plugin when it is signalled; it logs each start at warn,
//! which the suite reads from the host's stderr.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use guildhost::queue::{JobOptions, JobState, Queue, RedisConn};
use guildhost_tests::{
    KillOnDrop, assert_each_reported_once, connect, eventually, moderation_reports_per_user,
    redis_url, unique_prefix,
};
use serde_json::{Value, json};

/// Jobs a host works on at once on `bot:moderation` (the slow plugin's queue).
const CONCURRENCY: usize = 4;
/// The worker's default shutdown deadline (`WorkerOptions::shutdown_timeout`): in-flight jobs
/// must be finished within it.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);
/// What the host logs when the first signal has been handled.
const FIRST_SIGNAL_HANDLED: &str = "signal received: stopping gracefully";
/// What the slow guest logs when a call starts, followed by the message id.
const STARTED: &str = "slow: started ";

/// A `host_process` whose stderr is echoed to the test's and kept for reading.
struct Host {
    process: KillOnDrop,
    lines: Arc<Mutex<Vec<String>>>,
    /// Set when stderr reaches its end (the process is gone and every line is kept).
    closed: Arc<AtomicBool>,
}

impl Host {
    fn start(config: &Path, label: &'static str) -> Host {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host_process"))
            .arg(config)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the host process starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        let closed = Arc::new(AtomicBool::new(false));
        let eof = closed.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{label}] {line}");
                if let Ok(mut kept) = kept.lock() {
                    kept.push(line);
                }
            }
            eof.store(true, Ordering::SeqCst);
        });
        Host {
            process: KillOnDrop(child),
            lines,
            closed,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.process.id()).expect("pid fits pid_t");
        // SAFETY: `kill` has no memory-safety preconditions; the pid is our unreaped child.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill({pid}, {signal}) failed");
    }

    /// Waits for a stderr line containing `needle`; returns its index.
    async fn line_index(&self, needle: &str, within: Duration) -> usize {
        eventually(within, &format!("the host logs {needle:?}"), || async {
            self.lines().iter().position(|line| line.contains(needle))
        })
        .await
    }

    /// Awaits the process's exit, failing the test after `within`; then waits for the last of
    /// its stderr.
    async fn exit_within(&mut self, within: Duration) -> ExitStatus {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(status) = self.process.0.try_wait().expect("try_wait") {
                eventually(
                    Duration::from_secs(5),
                    "the end of the host's stderr",
                    || async { self.closed.load(Ordering::SeqCst).then_some(()) },
                )
                .await;
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the host did not exit within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The message ids the slow guest started, in order, from a host's stderr lines.
/// Waits until at least `n` actions were executed and some job is in the plugin now (more jobs
/// started in the plugin than executed: a job carries out its ban when its plugin call returns,
/// so right after a wave of executions the next wave may not have started yet); returns how
/// many were executed.
async fn in_flight_after(setup: &Setup, host: &Host, n: usize) -> usize {
    eventually(
        Duration::from_secs(60),
        &format!("{n} actions executed and a job in the plugin"),
        || async {
            let executed = setup.executed_at_least(n).await;
            (started(&host.lines()).len() > executed).then_some(executed)
        },
    )
    .await
}

fn started(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| {
            let rest = &line[line.find(STARTED)? + STARTED.len()..];
            rest.split_whitespace().next().map(str::to_owned)
        })
        .collect()
}

/// A prefix, a temp directory with the slow guest (holding each call `delay_ms`) and a config.
struct Setup {
    conn: RedisConn,
    prefix: String,
    dir: PathBuf,
    config: PathBuf,
}

impl Setup {
    async fn new(label: &str, delay_ms: u64) -> Setup {
        let conn = connect().await;
        let prefix = unique_prefix(label);
        let dir = std::env::temp_dir().join(format!("{prefix}-host"));
        let plugins = dir.join("plugins");
        std::fs::create_dir_all(&plugins).expect("temp dir");
        let guests = PathBuf::from(env!("GUILDHOST_TEST_GUESTS"));
        std::fs::copy(guests.join("slow.wasm"), plugins.join("slow.wasm")).expect("slow.wasm");
        let manifest =
            std::fs::read_to_string(guests.join("slow.toml")).expect("the slow guest's manifest");
        assert!(manifest.contains("delay-ms = 300"), "{manifest}");
        std::fs::write(
            plugins.join("slow.toml"),
            manifest.replace("delay-ms = 300", &format!("delay-ms = {delay_ms}")),
        )
        .expect("write the manifest");
        let config = dir.join("guildhost.toml");
        std::fs::write(
            &config,
            format!(
                "[redis]\nurl = \"{}\"\nprefix = \"{prefix}\"\n[plugins]\ndir = \"{}\"\nfirst_party = false\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n\
                 [queues.defaults]\nlock_duration_ms = 2000\nstalled_interval_ms = 1000\n\
                 [queues.\"bot:moderation\"]\nconcurrency = {CONCURRENCY}\n",
                redis_url(),
                plugins.display()
            ),
        )
        .expect("write the config");
        Setup {
            conn,
            prefix,
            dir,
            config,
        }
    }

    fn moderation(&self) -> Queue {
        Queue::new(self.conn.clone(), &self.prefix, "bot:moderation")
    }

    /// Adds `count` bans, each in its own guild so the plugin calls may run side by side.
    /// Returns message id → job id.
    async fn add_bans(&self, count: usize) -> HashMap<String, String> {
        let queue = self.moderation();
        let mut jobs = HashMap::new();
        for user in 0..count {
            let message = ban(user);
            let id = queue
                .add("BAN_USER", &message.to_string(), JobOptions::default())
                .await
                .expect("add");
            jobs.insert(format!("ban-{user}"), id);
        }
        jobs
    }

    async fn dry_run(&self) -> Vec<Value> {
        let mut c = self.conn.clone();
        let records: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{}:guildhost:dry-run", self.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .expect("LRANGE dry-run");
        records
            .iter()
            .map(|r| serde_json::from_str(r).expect("a dry-run record is JSON"))
            .collect()
    }

    /// Waits until the dry run has recorded at least `n` actions; returns how many it has.
    async fn executed_at_least(&self, n: usize) -> usize {
        eventually(
            Duration::from_secs(60),
            &format!("{n} actions executed"),
            || async {
                let mut c = self.conn.clone();
                let len: usize = redis::cmd("LLEN")
                    .arg(format!("{}:guildhost:dry-run", self.prefix))
                    .query_async(&mut c)
                    .await
                    .ok()?;
                (len >= n).then_some(len)
            },
        )
        .await
    }

    /// Asserts that nothing is waiting, active or failed on the queues a ban passes through.
    async fn assert_drained(&self) {
        guildhost_tests::assert_queues_drained(
            &self.conn,
            &self.prefix,
            &["bot:moderation", "guildhost:execute", "guildhost:gateway"],
        )
        .await;
    }

    async fn finish(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = guildhost_tests::cleanup(&self.conn, &self.prefix).await;
    }
}

fn ban(user: usize) -> Value {
    json!({
        "id": format!("ban-{user}"),
        "type": "BAN_USER",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": format!("{}", 100_000_000_000_000_000u64 + user as u64),
        "userId": "200000000000000001",
        "data": {
            "userId": user_id(user),
            "reason": "spam", "deleteMessageDays": 0, "moderatorId": "200000000000000001",
            "notifyUser": false, "createCase": false,
        },
    })
}

fn user_id(user: usize) -> String {
    format!("{}", 300_000_000_000_000_000u64 + user as u64)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// One signal while bans sit in the slow plugin: the host finishes those, takes nothing more,
/// exits 0; a restarted host does the rest; every ban is executed and reported exactly once.
async fn graceful_stop(signal: libc::c_int, label: &str) {
    const REQUESTS: usize = 30;
    let setup = Setup::new(label, 300).await;
    let mut host = Host::start(&setup.config, "first");
    let jobs = setup.add_bans(REQUESTS).await;

    let executed_at_signal = in_flight_after(&setup, &host, 3).await;
    let signalled_at = now_ms();
    host.signal(signal);
    assert!(
        executed_at_signal < REQUESTS,
        "all the work was done before the signal; the test proves nothing"
    );
    let status = host.exit_within(SHUTDOWN_DEADLINE).await;
    assert_eq!(status.code(), Some(0), "graceful exit: {status:?}");

    let lines = host.lines();
    let handled = lines
        .iter()
        .position(|line| line.contains(FIRST_SIGNAL_HANDLED))
        .expect("the host logged the signal");
    let reached_plugin = started(&lines);
    let before_signal = started(&lines[..handled]);
    let queue = setup.moderation();
    // Every job that reached the plugin was finished by this host, none given back.
    let mut in_flight_at_signal = 0;
    for message_id in &reached_plugin {
        let id = jobs
            .get(message_id)
            .expect("the plugin saw one of the test's messages");
        let job = queue
            .get_job(id)
            .await
            .expect("get_job")
            .expect("the job exists");
        assert_eq!(
            queue.get_state(&job.id).await.expect("state"),
            JobState::Completed,
            "{message_id} reached the plugin but was not finished"
        );
        let finished_on = job.finished_on.expect("finishedOn");
        if before_signal.contains(message_id) && finished_on > signalled_at {
            in_flight_at_signal += 1;
        }
    }
    assert!(
        in_flight_at_signal >= 1,
        "no job was in the plugin at the signal; the test proves nothing"
    );
    // Nothing left in `active` on any queue (a job there would wait for another host's stalled
    // check), and work left for others: the host stopped taking jobs.
    for name in guildhost::ops::known_queues() {
        let counts = Queue::new(setup.conn.clone(), &setup.prefix, name)
            .job_counts()
            .await
            .expect("counts");
        assert_eq!(counts.active, 0, "{name} after a graceful exit: {counts:?}");
    }
    let counts = queue.job_counts().await.expect("counts");
    assert!(counts.waiting > 0, "the host took everything: {counts:?}");
    assert_eq!(
        counts.completed as usize,
        reached_plugin.len(),
        "{counts:?}"
    );

    let _restarted = Host::start(&setup.config, "restart");
    let per_user = moderation_reports_per_user(&setup.conn, &setup.prefix, REQUESTS).await;
    assert_each_reported_once(&per_user, REQUESTS);
    // Nothing was abandoned mid-way, so nothing ran twice.
    let mut executed: Vec<String> = setup
        .dry_run()
        .await
        .iter()
        .map(|r| r["data"]["userId"].as_str().unwrap_or_default().to_owned())
        .collect();
    executed.sort();
    let expected: Vec<String> = {
        let mut all: Vec<String> = (0..REQUESTS).map(user_id).collect();
        all.sort();
        all
    };
    assert_eq!(executed, expected, "every ban executed exactly once");
    setup.assert_drained().await;
    setup.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_jobs_in_flight_and_exits_zero() {
    graceful_stop(libc::SIGTERM, "sigterm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_finishes_the_jobs_in_flight_and_exits_zero() {
    graceful_stop(libc::SIGINT, "sigint").await;
}

/// SIGTERM, then SIGINT while the plugin still holds jobs: the host exits at once with 130,
/// leaving those jobs locked; a restarted host recovers them when the locks expire and every
/// ban is executed and reported exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_exits_at_once_and_loses_nothing() {
    const REQUESTS: usize = 12;
    let setup = Setup::new("second-signal", 1000).await;
    let mut host = Host::start(&setup.config, "first");
    let jobs = setup.add_bans(REQUESTS).await;

    let executed_at_signal = in_flight_after(&setup, &host, 2).await;
    host.signal(libc::SIGTERM);
    assert!(
        executed_at_signal < REQUESTS,
        "all the work was done before the signal; the test proves nothing"
    );
    host.line_index(FIRST_SIGNAL_HANDLED, Duration::from_secs(5))
        .await;
    host.signal(libc::SIGINT);
    let status = host.exit_within(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(130), "immediate exit: {status:?}");

    // The jobs in the plugin were abandoned mid-call, still locked in `active`.
    let queue = setup.moderation();
    let mut c = setup.conn.clone();
    let abandoned: Vec<String> = redis::cmd("LRANGE")
        .arg(queue.keys().active())
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .expect("LRANGE active");
    assert!(
        !abandoned.is_empty(),
        "no job was left in flight; the exit was not immediate"
    );
    let reached_plugin: HashSet<String> = started(&host.lines()).into_iter().collect();
    assert!(
        abandoned
            .iter()
            .any(|id| reached_plugin.iter().any(|m| jobs.get(m) == Some(id))),
        "none of the abandoned jobs had reached the plugin: {abandoned:?}"
    );

    let _restarted = Host::start(&setup.config, "restart");
    let per_user = moderation_reports_per_user(&setup.conn, &setup.prefix, REQUESTS).await;
    assert_each_reported_once(&per_user, REQUESTS);
    for id in &abandoned {
        assert_eq!(
            queue.get_state(id).await.expect("state"),
            JobState::Completed,
            "abandoned job {id} was not recovered"
        );
    }
    // A command abandoned after Discord executed it runs again (harmless for a ban): at least
    // once each.
    let executed: HashSet<String> = setup
        .dry_run()
        .await
        .iter()
        .filter_map(|r| r["data"]["userId"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        executed,
        (0..REQUESTS).map(user_id).collect::<HashSet<_>>(),
        "every ban executed"
    );
    setup.assert_drained().await;
    setup.finish().await;
}
