//! The worker: takes jobs in batches under a lock, runs a handler with concurrency N, renews
//! locks, finishes jobs in batches (completion and outputs in one script), records failures with
//! Bull's retry/backoff rules and dead letters, promotes delayed jobs, recovers stalled ones, and
//! shuts down gracefully.
//!
//! This module holds what callers see (options, the handler trait, results, [`Worker`]) and the
//! state the loop shares with its background tasks. The rest, one job per module:
//! * `event_loop`: the loop itself, one event at a time over one state struct.
//! * `attempt`: jobs coming in (taken, checked, queued for a slot) and one handler run.
//! * `finish`: completions, sent in batched finish-and-take calls, and their replies.
//! * `failure`: a failed attempt: retry, backoff, or final failure with its dead letter.
//! * `release`: giving jobs back to the queue at shutdown without consuming an attempt.
//! * `background`: the tasks beside the loop: the blocking wait for jobs, lock renewal, delayed
//!   promotion and the stalled check.

mod attempt;
mod background;
mod event_loop;
mod failure;
mod finish;
mod release;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};

use super::conn::RedisConn;
use super::dead_letters::DEFAULT_DEAD_LETTER_QUEUE;
use super::error::QueueResult;
use super::job::{Job, NewJob};
use super::keys::QueueKeys;
use event_loop::Run;

/// Worker settings. Defaults follow Bull's (`lockDuration` 30 s, `stalledInterval` 30 s, ...).
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Lock TTL; a job whose lock expires may be recovered by the stalled check.
    pub lock_duration: Duration,
    /// Renewal period (default: half the lock duration).
    pub lock_renew_time: Option<Duration>,
    /// Period of the stalled check (shared with other workers through `stalled-check`).
    pub stalled_interval: Duration,
    /// Recoveries allowed before a stalled job fails.
    pub max_stalled_count: u32,
    /// How long one blocking wait for new jobs lasts when the queue is empty.
    pub drain_delay: Duration,
    /// Longest time between two delayed-job promotions.
    pub guard_interval: Duration,
    /// Most jobs taken or finished in one script call.
    pub batch_size: usize,
    /// Queue (same prefix) receiving jobs that exhausted their attempts; `None` disables it.
    pub dead_letter_queue: Option<String>,
    /// How long a graceful shutdown waits for in-flight jobs before releasing them.
    pub shutdown_timeout: Duration,
    /// Run delayed promotion and the stalled check (a deployment without Node workers needs them).
    pub maintenance: bool,
    /// Bull's `metrics.maxDataPoints`: completions and final failures are counted in
    /// `metrics:completed|failed`, where Node's `getMetrics()` reads them, keeping that many
    /// per-minute points. 0 counts nothing (Bull's default when `metrics` is not set).
    pub metrics_points: u32,
}

/// Bull's `MetricsTime.ONE_WEEK`: a week of per-minute points.
pub const METRICS_ONE_WEEK: u32 = 7 * 24 * 60;

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 1,
            lock_duration: Duration::from_secs(30),
            lock_renew_time: None,
            stalled_interval: Duration::from_secs(30),
            max_stalled_count: 1,
            drain_delay: Duration::from_secs(2),
            guard_interval: Duration::from_secs(5),
            batch_size: 64,
            dead_letter_queue: Some(DEFAULT_DEAD_LETTER_QUEUE.to_owned()),
            shutdown_timeout: Duration::from_secs(10),
            maintenance: true,
            metrics_points: METRICS_ONE_WEEK,
        }
    }
}

/// What a successful handler returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    /// Stored as `returnvalue` (JSON) and sent in the `completed` event.
    pub return_value: Value,
    /// Jobs added atomically with the completion (any queue under the same prefix).
    pub outputs: Vec<NewJob>,
}

impl Completion {
    /// A completion with a `null` return value and no outputs.
    pub fn empty() -> Completion {
        Completion::default()
    }

    /// A completion returning `value`.
    pub fn value(value: Value) -> Completion {
        Completion {
            return_value: value,
            outputs: Vec::new(),
        }
    }

    /// The same completion with `outputs`.
    pub fn with_outputs(mut self, outputs: Vec<NewJob>) -> Completion {
        self.outputs = outputs;
        self
    }
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobFailure {
    /// Stored as `failedReason`.
    pub message: String,
    /// Skip the remaining attempts (bad input): straight to failed and the dead letters.
    pub permanent: bool,
    /// Jobs added atomically with the failure when it is final (no attempt left, or
    /// permanent), in the same script as the dead letter; dropped when the job will be retried.
    pub outputs_if_final: Vec<NewJob>,
    /// Try again after this long without using an attempt: the failure was not the job's (a
    /// dependency down, a suspended plugin). Ignored when `permanent`.
    pub postpone: Option<Duration>,
    /// Jobs added with this failed attempt whatever follows (retry, backoff, postponement or
    /// final failure), in the same script: what the job owes others now, whether or not a
    /// later attempt succeeds. Write a note with them so the next attempt knows they went out.
    pub outputs_now: Vec<NewJob>,
    /// Notes written on the job with this failure (as [`crate::Queue::note`] writes them), read
    /// back by the next attempt in [`Job::notes`]; with `outputs_now`, only if those were added.
    pub notes: Vec<(String, String)>,
}

impl JobFailure {
    /// A failure that may succeed on a later attempt.
    pub fn retryable(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            ..JobFailure::default()
        }
    }

    /// A failure no retry can fix.
    pub fn permanent(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            permanent: true,
            ..JobFailure::default()
        }
    }

    /// A failure that is not the job's: the job waits `delay` in `delayed` and is tried again
    /// without using one of its attempts.
    pub fn postponed(message: impl Into<String>, delay: Duration) -> JobFailure {
        JobFailure {
            message: message.into(),
            postpone: Some(delay),
            ..JobFailure::default()
        }
    }

    /// The same failure, adding `outputs` if it turns out final (what the job's outcome owes
    /// others whatever it is: the events of work already done, a report of the failure).
    pub fn with_outputs_if_final(mut self, outputs: Vec<NewJob>) -> JobFailure {
        self.outputs_if_final = outputs;
        self
    }

    /// The same failure, adding `outputs` now, with `notes` (see [`JobFailure::outputs_now`]).
    pub fn with_outputs_now(mut self, outputs: Vec<NewJob>, notes: &[(&str, &str)]) -> JobFailure {
        self.outputs_now = outputs;
        self.notes = notes
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        self
    }
}

/// Processes jobs. Implemented for your own types; [`handler_fn`] adapts a closure.
pub trait JobHandler: Send + Sync + 'static {
    /// Runs one attempt of `job`.
    fn handle(&self, job: &Job) -> impl Future<Output = Result<Completion, JobFailure>> + Send;
}

/// A [`JobHandler`] made from a closure taking an owned job.
pub struct FnHandler<F>(F);

/// Adapts `Fn(Job) -> impl Future<Output = Result<Completion, JobFailure>>` into a handler.
pub fn handler_fn<F, Fut>(function: F) -> FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Completion, JobFailure>> + Send + 'static,
{
    FnHandler(function)
}

impl<F, Fut> JobHandler for FnHandler<F>
where
    F: Fn(Job) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Completion, JobFailure>> + Send + 'static,
{
    fn handle(&self, job: &Job) -> impl Future<Output = Result<Completion, JobFailure>> + Send {
        (self.0)(job.clone())
    }
}

/// What a worker did, returned when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Jobs completed.
    pub completed: u64,
    /// Attempts that failed (retried or final).
    pub failed_attempts: u64,
    /// Jobs that failed for good (and went to the dead letters when configured).
    pub dead_lettered: u64,
    /// Completions or failures refused because the lock was no longer ours.
    pub stale: u64,
    /// Jobs given back to the queue at shutdown.
    pub released: u64,
}

/// The lock state of one job this worker holds.
struct Held {
    lost: AtomicBool,
    lost_signal: Notify,
}

/// State shared by the worker loop and its background tasks.
struct Shared {
    conn: RedisConn,
    keys: QueueKeys,
    /// The queue name, shared by every job taken.
    queue: Arc<str>,
    token: Arc<str>,
    options: WorkerOptions,
    held: Mutex<HashMap<String, Arc<Held>>>,
}

impl Shared {
    /// The lock token, for the jobs taken under it.
    fn token_arc(&self) -> Arc<str> {
        self.token.clone()
    }

    /// Records the locks of a taken batch (one lock of the table for the batch).
    fn hold_all(&self, jobs: Vec<Arc<Job>>) -> Vec<(Arc<Job>, Arc<Held>)> {
        let held: Vec<(Arc<Job>, Arc<Held>)> = jobs
            .into_iter()
            .map(|job| {
                let held = Arc::new(Held {
                    lost: AtomicBool::new(false),
                    lost_signal: Notify::new(),
                });
                (job, held)
            })
            .collect();
        if let Ok(mut map) = self.held.lock() {
            map.reserve(held.len());
            for (job, slot) in &held {
                map.insert(job.id.clone(), slot.clone());
            }
        }
        held
    }

    fn unhold(&self, id: &str) {
        if let Ok(mut map) = self.held.lock() {
            map.remove(id);
        }
    }

    /// Forgets the locks of several jobs (one lock of the table for all of them).
    fn unhold_all<'a>(&self, ids: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut map) = self.held.lock() {
            for id in ids {
                map.remove(id);
            }
        }
    }

    fn held_ids(&self) -> Vec<(String, Arc<Held>)> {
        match self.held.lock() {
            Ok(map) => map
                .iter()
                .map(|(id, held)| (id.clone(), held.clone()))
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    fn lock_millis(&self) -> u64 {
        self.options.lock_duration.as_millis().max(1) as u64
    }

    /// Whether the scripts publish every event: on a cluster, `PUBSUB` cannot tell whether
    /// another node has listeners (see `new_hears` in lib.lua).
    fn publish_always(&self) -> bool {
        self.conn.is_cluster()
    }

    fn is_held(&self, id: &str) -> bool {
        self.held
            .lock()
            .map(|map| map.contains_key(id))
            .unwrap_or(false)
    }
}

/// A Bull worker for one queue.
pub struct Worker {
    shared: Arc<Shared>,
}

impl Worker {
    /// A worker for queue `name` under `prefix`, with its own lock token (UUID v4).
    pub fn new(conn: RedisConn, prefix: &str, name: &str, options: WorkerOptions) -> Worker {
        let mut options = options;
        options.concurrency = options.concurrency.max(1);
        options.batch_size = options.batch_size.max(1);
        Worker {
            shared: Arc::new(Shared {
                conn,
                keys: QueueKeys::new(prefix, name),
                queue: Arc::from(name),
                token: Arc::from(uuid::Uuid::new_v4().to_string()),
                options,
                held: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The lock token of this worker.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// The queue's keys.
    pub fn keys(&self) -> &QueueKeys {
        &self.shared.keys
    }

    /// Runs until `shutdown` resolves, then stops taking jobs, lets in-flight ones finish within
    /// `shutdown_timeout` and gives the rest back to the queue (no attempt consumed).
    pub async fn run<H, S>(&self, handler: H, shutdown: S) -> QueueResult<WorkerStats>
    where
        H: JobHandler,
        S: Future<Output = ()> + Send,
    {
        let mut blocking = self.shared.conn.dedicated().await?;
        // Bull names its blocking connection so that Node's `getWorkers()` lists this worker.
        let client_name = format!(
            "{}:{}",
            self.shared.keys.prefix(),
            base64(self.shared.keys.name().as_bytes())
        );
        let named: Result<(), _> = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&client_name)
            .query_async(&mut blocking)
            .await;
        if let Err(error) = named {
            tracing::debug!(%error, "CLIENT SETNAME refused; getWorkers() will not list this worker");
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let (due_tx, due_rx) = mpsc::unbounded_channel::<i64>();
        let renewer = tokio::spawn(background::renew_locks(
            self.shared.clone(),
            stop_rx.clone(),
        ));
        let maintenance = self.shared.options.maintenance.then(|| {
            tokio::spawn(background::maintain(
                self.shared.clone(),
                stop_rx.clone(),
                due_rx,
            ))
        });
        let listener = self.shared.options.maintenance.then(|| {
            tokio::spawn(background::listen_delayed(
                self.shared.clone(),
                stop_rx.clone(),
                due_tx.clone(),
            ))
        });
        let (wake_tx, wake_rx) = mpsc::channel::<()>(1);
        let (popped_tx, popped_rx) = mpsc::channel::<Option<String>>(1);
        let waiter = tokio::spawn(background::wait_for_jobs(
            self.shared.clone(),
            blocking,
            wake_rx,
            popped_tx,
        ));
        let run = Run::new(
            self.shared.clone(),
            Arc::new(handler),
            due_tx,
            shutdown,
            wake_tx,
            popped_rx,
        );
        let stats = run.run().await;
        let _ = stop_tx.send(true);
        let _ = renewer.await;
        if let Some(task) = maintenance {
            let _ = task.await;
        }
        if let Some(task) = listener {
            let _ = task.await;
        }
        let _ = waiter.await;
        Ok(stats)
    }
}

/// Standard base64 with padding (Bull names worker connections `<prefix>:<base64(queue)>`).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |acc, (index, byte)| {
            acc | (u32::from(*byte) << (16 - 8 * index))
        });
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(char::from(
                    ALPHABET[((value >> (18 - 6 * position)) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sleeps with exponential backoff after a Redis error (the connection reconnects meanwhile).
async fn backoff_sleep(failures: &mut u32) {
    *failures = (*failures + 1).min(7);
    tokio::time::sleep(Duration::from_millis(50u64 << *failures)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if a worker's run can be spawned on a multi-threaded runtime.
    fn _run_is_send(worker: &Worker) -> impl Send + '_ {
        let handler = handler_fn(|_job| async { Ok(Completion::empty()) });
        worker.run(handler, std::future::pending::<()>())
    }

    #[test]
    fn base64_matches_bulls_connection_name() {
        // Observed: queue `bot:commands` -> `proto:Ym90OmNvbW1hbmRz`.
        assert_eq!(base64(b"bot:commands"), "Ym90OmNvbW1hbmRz");
        assert_eq!(base64(b"q"), "cQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
