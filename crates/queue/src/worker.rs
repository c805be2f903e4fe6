//! The worker: takes jobs in batches under a lock, runs a handler with concurrency N, renews
//! locks, finishes jobs in batches (completion and outputs in one script), records failures with
//! Bull's retry/backoff rules and dead letters, promotes delayed jobs, recovers stalled ones, and
//! shuts down gracefully.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use super::conn::RedisConn;
use super::error::QueueResult;
use super::job::{Job, NewJob};
use super::keys::QueueKeys;
use super::options::Retention;
use super::packed::{self, Taken};
use super::producer::{AddRecord, prepare_add, prepare_next_iteration};
use super::{now_ms, scripts};

/// Name of the dead-letter queue when none is configured.
pub const DEFAULT_DEAD_LETTER_QUEUE: &str = "dead-letters";
/// Job name of dead letters (the seed's `deadLetterQueue.add("failed_job", ...)`).
pub const DEAD_LETTER_JOB_NAME: &str = "failed_job";

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
}

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// Stored as `failedReason`.
    pub message: String,
    /// Skip the remaining attempts (bad input): straight to failed and the dead letters.
    pub permanent: bool,
}

impl JobFailure {
    /// A failure that may succeed on a later attempt.
    pub fn retryable(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure no retry can fix.
    pub fn permanent(message: impl Into<String>) -> JobFailure {
        JobFailure {
            message: message.into(),
            permanent: true,
        }
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
    token: String,
    options: WorkerOptions,
    held: Mutex<HashMap<String, Arc<Held>>>,
}

impl Shared {
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

    /// The scripts' `publishAlways` argument: on a cluster, `PUBSUB` cannot tell whether another
    /// node has listeners, so every event is published (see `new_hears` in lib.lua).
    fn publish_always(&self) -> &'static str {
        if self.conn.is_cluster() { "1" } else { "0" }
    }
}

/// A Bull worker for one queue.
pub struct Worker {
    shared: Arc<Shared>,
}

/// Status of `finish.lua` for a job whose outputs could not be added (nothing was written).
const OUTPUT_REFUSED: i64 = -10;

enum Outcome {
    Done(Result<Completion, JobFailure>),
    LockLost,
}

type InFlight = Pin<Box<dyn Future<Output = (Arc<Job>, Outcome)> + Send>>;

/// A taken job waiting for a free slot, with its lock state.
type Ready = (Arc<Job>, Arc<Held>);

struct FinishItem {
    job: Arc<Job>,
    return_value: String,
    retention: Retention,
    outputs: Vec<AddRecord>,
}

/// Finish-and-take calls sent without waiting for the previous one: while one is on its way the
/// loop keeps running handlers, and jobs finishing meanwhile go out in a second call instead of
/// waiting for the first reply.
const FINISH_CALLS_IN_FLIGHT: usize = 2;

/// The reply of `finish.lua`: per-job statuses, the taken jobs, per-job problems.
type FinishReply = (Vec<i64>, Vec<Taken>, Vec<String>);

/// A finish-and-take call that came back, with what it was sent for.
struct FinishCall {
    items: Vec<FinishItem>,
    take: usize,
    reply: QueueResult<FinishReply>,
}

type PendingFinish = Pin<Box<dyn Future<Output = FinishCall> + Send>>;

/// Numeric part of a job id as JS `id & 4095` sees it (0 for non-numeric ids).
fn id_low_bits(id: &str) -> i64 {
    id.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
        .map(|value| (value as i64) & 4095)
        .unwrap_or(0)
}

/// JSON text embedded as is when valid, else as a JSON string.
fn json_or_string(text: Option<&str>) -> String {
    match text {
        Some(text) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            text.to_owned()
        }
        Some(text) => Value::String(text.to_owned()).to_string(),
        None => "null".to_owned(),
    }
}

/// The dead-letter data for `job`: `{originalJob, error, failedAt, queue, jobId, jobName,
/// attemptsMade, opts}`.
pub(crate) fn dead_letter_data(
    job: &Job,
    error: &str,
    failed_at_ms: i64,
    attempts_made: u32,
) -> String {
    let failed_at = chrono::DateTime::from_timestamp_millis(failed_at_ms)
        .map(|date| date.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    format!(
        "{{\"originalJob\":{},\"error\":{},\"failedAt\":{},\"queue\":{},\"jobId\":{},\"jobName\":{},\"attemptsMade\":{},\"opts\":{}}}",
        json_or_string(Some(&job.data)),
        Value::String(error.to_owned()),
        Value::String(failed_at),
        Value::String(job.queue.to_string()),
        Value::String(job.id.clone()),
        Value::String(job.name.clone()),
        attempts_made,
        json_or_string(job.opts_raw.as_deref()),
    )
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
                token: uuid::Uuid::new_v4().to_string(),
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
        let renewer = tokio::spawn(renew_locks(self.shared.clone(), stop_rx.clone()));
        let maintenance = self
            .shared
            .options
            .maintenance
            .then(|| tokio::spawn(maintain(self.shared.clone(), stop_rx.clone(), due_rx)));
        let listener = self.shared.options.maintenance.then(|| {
            tokio::spawn(listen_delayed(
                self.shared.clone(),
                stop_rx.clone(),
                due_tx.clone(),
            ))
        });
        let (wake_tx, wake_rx) = mpsc::channel::<()>(1);
        let (popped_tx, popped_rx) = mpsc::channel::<Option<String>>(1);
        let waiter = tokio::spawn(wait_for_jobs(
            self.shared.clone(),
            blocking,
            wake_rx,
            popped_tx,
        ));
        let mut run = Run {
            shared: self.shared.clone(),
            handler: Arc::new(handler),
            stats: WorkerStats::default(),
            due_tx,
        };
        let result = run.main_loop(shutdown, wake_tx, popped_rx).await;
        let _ = stop_tx.send(true);
        let _ = renewer.await;
        if let Some(task) = maintenance {
            let _ = task.await;
        }
        if let Some(task) = listener {
            let _ = task.await;
        }
        let _ = waiter.await;
        result.map(|()| run.stats)
    }
}

struct Run<H> {
    shared: Arc<Shared>,
    handler: Arc<H>,
    stats: WorkerStats,
    due_tx: mpsc::UnboundedSender<i64>,
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

impl<H: JobHandler> Run<H> {
    async fn main_loop<S>(
        &mut self,
        shutdown: S,
        wake_tx: mpsc::Sender<()>,
        mut popped_rx: mpsc::Receiver<Option<String>>,
    ) -> QueueResult<()>
    where
        S: Future<Output = ()> + Send,
    {
        let concurrency = self.shared.options.concurrency;
        let batch = self.shared.options.batch_size;
        let mut in_flight: FuturesUnordered<InFlight> = FuturesUnordered::new();
        // Replies come back (and are applied) in the order the calls were sent.
        let mut pending: FuturesOrdered<PendingFinish> = FuturesOrdered::new();
        // Slots reserved for the jobs that pending calls may bring back.
        let mut pending_take = 0usize;
        let mut backlog: VecDeque<Ready> = VecDeque::new();
        let mut done: Vec<FinishItem> = Vec::new();
        let mut drained = false;
        let mut waiting_for_jobs = false;
        let mut stopping = false;
        let mut failures = 0u32;
        let shutdown = shutdown.fuse();
        tokio::pin!(shutdown);
        let deadline = tokio::time::sleep(Duration::from_secs(3600 * 24 * 365));
        tokio::pin!(deadline);

        loop {
            while in_flight.len() < concurrency {
                match backlog.pop_front() {
                    Some((job, held)) => in_flight.push(self.start(job, held)),
                    None => break,
                }
            }
            let free = concurrency.saturating_sub(in_flight.len() + backlog.len() + pending_take);
            if pending.len() < FINISH_CALLS_IN_FLIGHT
                && (!done.is_empty() || (!stopping && free > 0 && !drained))
            {
                // Every flush also takes what fits, even when the queue looked empty: it costs
                // nothing extra in round trips and picks up jobs that arrived meanwhile.
                let take = if stopping { 0 } else { free.min(batch) };
                let count = done.len().min(batch);
                let items: Vec<FinishItem> = done.drain(..count).collect();
                pending_take += take;
                pending.push_back(self.finish_call(items, take, !drained));
                continue;
            }
            if stopping && in_flight.is_empty() && pending.is_empty() && !waiting_for_jobs {
                break;
            }
            if drained && free > 0 && !stopping && !waiting_for_jobs {
                if wake_tx.try_send(()).is_ok() {
                    waiting_for_jobs = true;
                } else {
                    // The blocking waiter is gone (it never should be): poll instead.
                    tokio::time::sleep(self.shared.options.drain_delay).await;
                    drained = false;
                    continue;
                }
            }
            tokio::select! {
                Some(call) = pending.next(), if !pending.is_empty() => {
                    pending_take = pending_take.saturating_sub(call.take);
                    let take = call.take;
                    match self.finished(call, &mut done, &mut failures).await {
                        Some(taken) if stopping => self.release_taken(taken).await,
                        Some(taken) => {
                            if take > 0 {
                                drained = taken.len() < take;
                            }
                            self.accept(taken, &mut backlog).await;
                        }
                        None => {}
                    }
                }
                Some((job, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                    self.settle(job, outcome, &mut done).await;
                    // Collect every other job that is already finished, to finish them together.
                    while done.len() < batch {
                        match in_flight.next().now_or_never() {
                            Some(Some((job, outcome))) => self.settle(job, outcome, &mut done).await,
                            _ => break,
                        }
                    }
                }
                popped = popped_rx.recv(), if waiting_for_jobs => {
                    waiting_for_jobs = false;
                    match popped {
                        Some(Some(id)) if stopping => self.release_popped(&id).await,
                        Some(Some(id)) => {
                            drained = false;
                            let extra = free.saturating_sub(1).min(batch);
                            match self.take(Some(&id), extra).await {
                                Ok(taken) => {
                                    drained = taken.len() <= extra;
                                    self.accept(taken, &mut backlog).await;
                                }
                                Err(error) => {
                                    // The id stays in `active` without a lock: the stalled check
                                    // gives it back, as Bull does after a crash at this point.
                                    tracing::warn!(%error, %id, "taking a popped job failed");
                                    backoff_sleep(&mut failures).await;
                                }
                            }
                        }
                        Some(None) | None => {}
                    }
                }
                () = &mut shutdown, if !stopping => {
                    stopping = true;
                    deadline.as_mut().reset(Instant::now() + self.shared.options.shutdown_timeout);
                    let ids: Vec<String> = backlog.drain(..).map(|(job, _)| job.id.clone()).collect();
                    self.release(&ids).await;
                }
                () = &mut deadline, if stopping => {
                    let ids: Vec<String> = self.shared.held_ids().into_iter().map(|(id, _)| id).collect();
                    drop(std::mem::take(&mut in_flight));
                    // Calls already sent still count: apply them (and give back what they took).
                    while let Some(call) = pending.next().await {
                        if let Some(taken) = self.finished(call, &mut done, &mut failures).await {
                            self.release_taken(taken).await;
                        }
                    }
                    let _ = self.finish_and_take(std::mem::take(&mut done), 0, false).await;
                    let ids: Vec<String> = ids.into_iter().filter(|id| self.is_held(id)).collect();
                    self.release(&ids).await;
                    if waiting_for_jobs && let Some(Some(id)) = popped_rx.recv().await {
                        self.release_popped(&id).await;
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    /// Applies a finish-and-take call that came back and returns the jobs it took; on an error
    /// its completions are queued again (transient) or finished one by one (refused).
    async fn finished(
        &mut self,
        call: FinishCall,
        done: &mut Vec<FinishItem>,
        failures: &mut u32,
    ) -> Option<Vec<Taken>> {
        match call.reply {
            Ok((statuses, taken, problems)) => {
                *failures = 0;
                self.apply_statuses(&call.items, statuses, problems).await;
                Some(taken)
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(queue = %self.shared.keys.name(), %error, "finishing jobs failed; retrying");
                // Re-sending is safe: a completion that did go through is refused the second
                // time (its lock is gone), so nothing is recorded twice.
                done.splice(0..0, call.items);
                backoff_sleep(failures).await;
                None
            }
            Err(error) => {
                // Redis refused the script itself (e.g. an output key of the wrong type): find
                // the culprits one by one instead of retrying forever.
                tracing::warn!(queue = %self.shared.keys.name(), %error, "finishing a batch was refused; finishing one by one");
                self.finish_one_by_one(call.items).await;
                None
            }
        }
    }

    /// Gives back jobs a call took after shutdown began (they never reached the handler).
    async fn release_taken(&mut self, taken: Vec<Taken>) {
        let ids: Vec<String> = taken
            .into_iter()
            .filter_map(|entry| match entry {
                Taken::Job(job) => Some(job.id),
                Taken::Orphan(_) => None,
            })
            .collect();
        self.release(&ids).await;
    }

    /// Gives back a job the blocking wait moved into `active` after shutdown began. It holds no
    /// lock yet, and releasing needs ours, so it is taken (locked) first.
    async fn release_popped(&mut self, id: &str) {
        match self.take(Some(id), 0).await {
            Ok(taken) => self.release_taken(taken).await,
            Err(error) => {
                tracing::warn!(%error, %id, "giving back a popped job failed; the stalled check will recover it")
            }
        }
    }

    fn is_held(&self, id: &str) -> bool {
        self.shared
            .held
            .lock()
            .map(|map| map.contains_key(id))
            .unwrap_or(false)
    }

    /// Starts the handler for a taken job.
    fn start(&self, job: Arc<Job>, held: Arc<Held>) -> InFlight {
        let handler = self.handler.clone();
        Box::pin(async move {
            let timeout = job.opts.timeout.filter(|millis| *millis > 0);
            let work = async {
                match timeout {
                    Some(millis) => match tokio::time::timeout(
                        Duration::from_millis(millis),
                        handler.handle(&job),
                    )
                    .await
                    {
                        Ok(result) => result,
                        Err(_) => Err(JobFailure::retryable(format!(
                            "Promise timed out after {millis} milliseconds"
                        ))),
                    },
                    None => handler.handle(&job).await,
                }
            };
            // A panicking handler fails its attempt instead of taking the worker down.
            let work = std::panic::AssertUnwindSafe(work)
                .catch_unwind()
                .map(|result| {
                    result.unwrap_or_else(|panic| {
                        let message = panic
                            .downcast_ref::<&str>()
                            .map(|text| (*text).to_owned())
                            .or_else(|| panic.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "unknown panic".to_owned());
                        Err(JobFailure::retryable(format!(
                            "handler panicked: {message}"
                        )))
                    })
                });
            let outcome = tokio::select! {
                result = work => Outcome::Done(result),
                () = held.lost_signal.notified() => Outcome::LockLost,
            };
            let outcome = if held.lost.load(Ordering::Acquire) {
                Outcome::LockLost
            } else {
                outcome
            };
            (job, outcome)
        })
    }

    /// Turns taken hashes into jobs: cleans up bad input, schedules repeat iterations, queues the
    /// rest for the handler.
    async fn accept(&mut self, taken: Vec<Taken>, backlog: &mut VecDeque<Ready>) {
        let now = now_ms();
        let mut jobs = Vec::with_capacity(taken.len());
        for entry in taken {
            match entry {
                Taken::Orphan(id) => {
                    tracing::warn!(%id, "job id in wait without a hash; removed from active")
                }
                Taken::Job(mut job) => {
                    job.processed_on = Some(now);
                    jobs.push(Arc::new(job));
                }
            }
        }
        for (job, held) in self.shared.hold_all(jobs) {
            if let Some(reason) = job.input_error() {
                self.fail(&job, JobFailure::permanent(reason)).await;
                continue;
            }
            if job.opts.repeat.is_some() {
                self.schedule_next_iteration(&job, now).await;
            }
            backlog.push_back((job, held));
        }
    }

    async fn schedule_next_iteration(&self, job: &Job, now: i64) {
        match prepare_next_iteration(self.shared.keys.prefix(), job, now) {
            Ok(Some(record)) => {
                let mut invocation = scripts::ADD.prepare_invoke();
                invocation
                    .key(self.shared.keys.id())
                    .arg(&self.shared.token)
                    .arg(1);
                record.push_args(&mut invocation);
                let mut conn = self.shared.conn.clone();
                let result: Result<Vec<Option<String>>, _> =
                    invocation.invoke_async(&mut conn).await;
                if let Err(error) = result {
                    tracing::warn!(id = %job.id, %error, "scheduling the next repeat iteration failed");
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(id = %job.id, %error, "repeat options unusable; series not continued")
            }
        }
    }

    /// Records the outcome of one attempt: completions are batched, failures written at once.
    async fn settle(&mut self, job: Arc<Job>, outcome: Outcome, done: &mut Vec<FinishItem>) {
        match outcome {
            Outcome::LockLost => {
                self.stats.stale += 1;
                self.shared.unhold(&job.id);
                tracing::warn!(id = %job.id, "lock lost; result discarded");
            }
            Outcome::Done(Ok(completion)) => {
                // The clock is read per job only when outputs need a timestamp.
                let now = if completion.outputs.is_empty() {
                    0
                } else {
                    now_ms()
                };
                let mut outputs = Vec::with_capacity(completion.outputs.len());
                for output in &completion.outputs {
                    match prepare_add(self.shared.keys.prefix(), output, now) {
                        Ok(Some(record)) => outputs.push(record),
                        Ok(None) => {}
                        Err(error) => {
                            let failure = JobFailure::permanent(format!(
                                "invalid output job for queue `{}`: {error}",
                                output.queue
                            ));
                            self.fail(&job, failure).await;
                            return;
                        }
                    }
                }
                done.push(FinishItem {
                    retention: Retention::from_option(job.opts.remove_on_complete.as_ref()),
                    return_value: match completion.return_value {
                        Value::Null => "null".to_owned(),
                        value => value.to_string(),
                    },
                    outputs,
                    job,
                });
            }
            Outcome::Done(Err(failure)) => self.fail(&job, failure).await,
        }
    }

    async fn finish_one_by_one(&mut self, items: Vec<FinishItem>) {
        for item in items {
            let mut failures = 0;
            let mut item = vec![item];
            loop {
                match self.finish_and_take(item, 0, false).await {
                    (_, Ok(_)) => break,
                    (back, Err(error)) if error.is_transient() && failures < 6 => {
                        item = back;
                        backoff_sleep(&mut failures).await
                    }
                    (back, Err(error)) => {
                        let failure = JobFailure::permanent(format!(
                            "completing the job was refused by Redis: {error}"
                        ));
                        for item in back {
                            self.fail(&item.job, failure.clone()).await;
                        }
                        break;
                    }
                }
            }
        }
    }

    async fn take(&self, popped: Option<&str>, count: usize) -> QueueResult<Vec<Taken>> {
        let keys = &self.shared.keys;
        let mut conn = self.shared.conn.clone();
        let reply: Vec<u8> = scripts::TAKE
            .key(keys.wait())
            .arg(keys.base())
            .arg(&self.shared.token)
            .arg(self.shared.lock_millis())
            .arg(now_ms())
            .arg(count)
            .arg(popped.unwrap_or(""))
            .arg(self.shared.publish_always())
            .invoke_async(&mut conn)
            .await?;
        packed::take_reply(&reply, &self.shared.queue)
    }

    /// Completes `items` and takes up to `take` jobs in one script call, waiting for the reply;
    /// gives the items back with the outcome.
    async fn finish_and_take(
        &mut self,
        items: Vec<FinishItem>,
        take: usize,
        announce_drained: bool,
    ) -> (Vec<FinishItem>, QueueResult<Vec<Taken>>) {
        let call = self.finish_call(items, take, announce_drained).await;
        match call.reply {
            Ok((statuses, taken, problems)) => {
                self.apply_statuses(&call.items, statuses, problems).await;
                (call.items, Ok(taken))
            }
            Err(error) => (call.items, Err(error)),
        }
    }

    /// The call completing `items` and taking up to `take` jobs in one script; `announce_drained`
    /// publishes Bull's `drained` event if nothing was waiting. The request goes out when the
    /// returned future is first polled; nothing of the worker's state is touched until its reply
    /// is applied with [`Run::apply_statuses`].
    fn finish_call(
        &self,
        items: Vec<FinishItem>,
        take: usize,
        announce_drained: bool,
    ) -> PendingFinish {
        let keys = &self.shared.keys;
        let mut invocation = scripts::FINISH.prepare_invoke();
        invocation
            .key(keys.active())
            .arg(keys.base())
            .arg(&self.shared.token)
            .arg(now_ms())
            .arg(self.shared.lock_millis())
            .arg(take)
            .arg(items.len())
            .arg(if announce_drained { "1" } else { "0" })
            .arg(self.shared.publish_always());
        for item in &items {
            invocation
                .arg(&item.job.id)
                .arg(&item.return_value)
                .arg(item.retention.count)
                .arg(item.retention.age_secs)
                .arg(item.job.debounce_id.as_deref().unwrap_or(""))
                .arg(item.outputs.len());
            for output in &item.outputs {
                output.push_args(&mut invocation);
            }
        }
        let mut conn = self.shared.conn.clone();
        let queue = self.shared.queue.clone();
        Box::pin(async move {
            let reply = match invocation.invoke_async::<Vec<u8>>(&mut conn).await {
                Ok(reply) => packed::finish_reply(&reply, &queue),
                Err(error) => Err(error.into()),
            };
            FinishCall { items, take, reply }
        })
    }

    /// Records the per-job statuses of a finish call: completed, stale, or (output refused)
    /// failed properly since nothing of that job was written.
    async fn apply_statuses(
        &mut self,
        items: &[FinishItem],
        statuses: Vec<i64>,
        problems: Vec<String>,
    ) {
        self.shared.unhold_all(
            items
                .iter()
                .zip(&statuses)
                .filter(|(_, status)| **status != OUTPUT_REFUSED)
                .map(|(item, _)| item.job.id.as_str()),
        );
        for ((item, status), problem) in items.iter().zip(statuses).zip(problems) {
            if status == OUTPUT_REFUSED {
                // Nothing of this job was written: it is still ours, so fail it properly.
                let failure =
                    JobFailure::permanent(format!("an output job was refused by Redis: {problem}"));
                self.fail(&item.job, failure).await;
            } else if status == 0 {
                self.stats.completed += 1;
            } else {
                self.stats.stale += 1;
                tracing::warn!(id = %item.job.id, status, "completion refused (lock lost); nothing written");
            }
        }
    }

    /// Writes a failed attempt: immediate retry, backoff, or final failure with dead letter.
    async fn fail(&mut self, job: &Job, failure: JobFailure) {
        let now = now_ms();
        let attempts_made = job.attempts_made.saturating_add(1);
        let mut reason = failure.message.clone();
        let mut mode = "fail";
        let mut score = 0i64;
        if !failure.permanent && attempts_made < job.opts.total_attempts() {
            match job
                .opts
                .backoff
                .as_ref()
                .map(|backoff| backoff.delay_after(attempts_made))
            {
                None | Some(Ok(None)) => mode = "retry",
                Some(Ok(Some(delay))) => {
                    mode = "delay";
                    let due = now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX / 8192));
                    score = due
                        .saturating_mul(4096)
                        .saturating_add(id_low_bits(&job.id));
                    let _ = self.due_tx.send(due);
                }
                Some(Err(error)) => reason = format!("{reason} ({error})"),
            }
        }
        let retention = Retention::from_option(job.opts.remove_on_fail.as_ref());
        let dead_letter = match (&self.shared.options.dead_letter_queue, mode) {
            (Some(queue), "fail") => {
                let letter = NewJob {
                    queue: queue.clone(),
                    name: DEAD_LETTER_JOB_NAME.to_owned(),
                    data: dead_letter_data(job, &reason, now, attempts_made),
                    opts: Default::default(),
                };
                prepare_add(self.shared.keys.prefix(), &letter, now)
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let stack_limit = job
            .opts
            .extra
            .get("stackTraceLimit")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let keys = &self.shared.keys;
        let mut invocation = scripts::FAIL.prepare_invoke();
        invocation
            .key(keys.active())
            .arg(keys.base())
            .arg(&job.id)
            .arg(&self.shared.token)
            .arg(now)
            .arg(mode)
            .arg(&reason)
            .arg(format!(
                "Error: {reason}\n    at guildhost worker ({})",
                keys.name()
            ))
            .arg(stack_limit)
            .arg(attempts_made)
            .arg(score)
            .arg(if job.opts.lifo.unwrap_or(false) {
                "1"
            } else {
                "0"
            })
            .arg(retention.count)
            .arg(retention.age_secs)
            .arg(if dead_letter.is_some() { "1" } else { "0" });
        if let Some(record) = &dead_letter {
            record.push_args(&mut invocation);
        }
        let mut failures = 0;
        let status = loop {
            let mut conn = self.shared.conn.clone();
            match invocation.invoke_async::<i64>(&mut conn).await {
                Ok(status) => break status,
                Err(error) if failures < 6 => {
                    tracing::warn!(id = %job.id, %error, "recording a failure failed; retrying");
                    backoff_sleep(&mut failures).await;
                }
                Err(error) => {
                    // Left in `active` without renewal: the stalled check will recover it.
                    tracing::error!(id = %job.id, %error, "could not record a failure");
                    break -100;
                }
            }
        };
        self.shared.unhold(&job.id);
        self.stats.failed_attempts += 1;
        match status {
            0 if mode == "fail" => {
                self.stats.dead_lettered += 1;
                tracing::info!(id = %job.id, %reason, "job failed for good");
            }
            0 => tracing::debug!(id = %job.id, %reason, mode, "attempt failed; will retry"),
            -100 => {}
            status => {
                self.stats.stale += 1;
                tracing::warn!(id = %job.id, status, "failure refused (lock lost); nothing written");
            }
        }
    }

    /// Gives jobs back to the head of the queue without consuming an attempt.
    async fn release(&mut self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        let keys = &self.shared.keys;
        let mut invocation = scripts::RELEASE.prepare_invoke();
        invocation
            .key(keys.active())
            .arg(keys.base())
            .arg(&self.shared.token);
        for id in ids {
            invocation.arg(id);
        }
        let mut conn = self.shared.conn.clone();
        match invocation.invoke_async::<Vec<i64>>(&mut conn).await {
            Ok(released) => {
                self.stats.released += released.iter().filter(|flag| **flag == 1).count() as u64
            }
            Err(error) => {
                tracing::warn!(%error, "releasing jobs failed; the stalled check will recover them")
            }
        }
        for id in ids {
            self.shared.unhold(id);
        }
    }
}

/// Blocks on `wait` (on its own connection) whenever the loop asks, and reports the popped id.
async fn wait_for_jobs(
    shared: Arc<Shared>,
    mut conn: RedisConn,
    mut wake_rx: mpsc::Receiver<()>,
    popped_tx: mpsc::Sender<Option<String>>,
) {
    let mut failures = 0;
    let seconds = shared.options.drain_delay.as_secs_f64().max(0.01);
    while wake_rx.recv().await.is_some() {
        let result: Result<Option<String>, _> = redis::cmd("BRPOPLPUSH")
            .arg(shared.keys.wait())
            .arg(shared.keys.active())
            .arg(seconds)
            .query_async(&mut conn)
            .await;
        let popped = match result {
            Ok(popped) => {
                failures = 0;
                popped
            }
            Err(error) => {
                tracing::warn!(%error, "waiting for jobs failed; retrying");
                backoff_sleep(&mut failures).await;
                None
            }
        };
        if popped_tx.send(popped).await.is_err() {
            break;
        }
    }
}

/// Follows the `delayed` channel, on which producers (Node's and ours) announce due times, so a
/// job delayed by another process is promoted on time instead of at the next guard tick.
async fn listen_delayed(
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    due_tx: mpsc::UnboundedSender<i64>,
) {
    let channel = shared.keys.delayed();
    let mut failures = 0;
    loop {
        let mut messages = match shared.conn.subscribe(&channel).await {
            Ok(Some(messages)) => messages,
            Ok(None) => return,
            Err(error) => {
                tracing::debug!(%error, "subscribing to the delayed channel failed; retrying");
                tokio::select! {
                    () = backoff_sleep(&mut failures) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        failures = 0;
        loop {
            tokio::select! {
                message = messages.next() => match message {
                    Some(message) => {
                        // Bull sends the due time in ms, sometimes fractional: take the ceiling.
                        let due = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|text| text.trim().parse::<f64>().ok())
                            .filter(|due| due.is_finite());
                        if let Some(due) = due {
                            let _ = due_tx.send(due.ceil() as i64);
                        }
                    }
                    None => break,
                },
                _ = stop.changed() => return,
            }
        }
    }
}

/// Renews every held lock each `lock_renew_time`; flags the jobs whose lock is no longer ours.
async fn renew_locks(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let period = shared
        .options
        .lock_renew_time
        .unwrap_or(shared.options.lock_duration / 2)
        .max(Duration::from_millis(10));
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            _ = stop.changed() => return,
        }
        let held = shared.held_ids();
        if held.is_empty() {
            continue;
        }
        let keys = &shared.keys;
        let mut invocation = scripts::EXTEND.prepare_invoke();
        invocation
            .key(keys.key("stalled"))
            .arg(keys.base())
            .arg(&shared.token)
            .arg(shared.lock_millis());
        for (id, _) in &held {
            invocation.arg(id);
        }
        let mut conn = shared.conn.clone();
        match invocation.invoke_async::<Vec<i64>>(&mut conn).await {
            Ok(renewed) => {
                for ((id, slot), ok) in held.iter().zip(renewed) {
                    // A job that finished meanwhile has no lock either: only flag held ones.
                    if ok == 0
                        && shared
                            .held
                            .lock()
                            .map(|map| map.contains_key(id))
                            .unwrap_or(false)
                    {
                        slot.lost.store(true, Ordering::Release);
                        slot.lost_signal.notify_one();
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "lock renewal failed; retrying next period"),
        }
    }
}

/// Delayed promotion (timer on the earliest due job, at most `guard_interval` apart) and the
/// stalled check every `stalled_interval`.
async fn maintain(
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    mut due_rx: mpsc::UnboundedReceiver<i64>,
) {
    let keys = &shared.keys;
    let options = &shared.options;
    let mut next_stalled_check = Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        let mut wait = options.guard_interval;
        let mut conn = shared.conn.clone();
        if Instant::now() >= next_stalled_check {
            next_stalled_check = Instant::now() + options.stalled_interval;
            let now = now_ms();
            let failed_at = chrono::DateTime::from_timestamp_millis(now)
                .map(|date| date.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_default();
            let dead_letter_base = options
                .dead_letter_queue
                .as_ref()
                .map(|queue| format!("{}:{queue}:", keys.prefix()))
                .unwrap_or_default();
            let result: Result<(Vec<String>, Vec<String>), _> = scripts::STALLED
                .key(keys.key("stalled"))
                .arg(keys.base())
                .arg(now)
                .arg(options.stalled_interval.as_millis() as u64)
                .arg(options.max_stalled_count)
                .arg(&shared.token)
                .arg(dead_letter_base)
                .arg(DEAD_LETTER_JOB_NAME)
                .arg(failed_at)
                .arg(keys.name())
                .invoke_async(&mut conn)
                .await;
            match result {
                Ok((failed, recovered)) => {
                    if !failed.is_empty() || !recovered.is_empty() {
                        tracing::warn!(queue = %keys.name(), ?failed, ?recovered, "stalled jobs handled");
                    }
                }
                Err(error) => tracing::warn!(%error, "stalled check failed"),
            }
        }
        let now = now_ms();
        let result: Result<Option<String>, _> = scripts::PROMOTE
            .key(keys.delayed())
            .arg(keys.base())
            .arg(now.saturating_mul(4096))
            .arg(&shared.token)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(Some(score)) => {
                if let Ok(score) = score.parse::<i64>() {
                    let due = score / 4096 + 1;
                    wait = wait.min(Duration::from_millis((due - now).max(0) as u64));
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "delayed promotion failed"),
        }
        wait = wait.min(next_stalled_check.saturating_duration_since(Instant::now()));
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                _ = stop.changed() => return,
                due = due_rx.recv() => match due {
                    Some(due) => {
                        let at = Instant::now() + Duration::from_millis((due - now_ms()).max(0) as u64 + 1);
                        if at < sleep.deadline() {
                            sleep.as_mut().reset(at);
                        }
                    }
                    None => {
                        // The worker loop is gone; keep the periodic duties until stopped.
                        sleep.as_mut().await;
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_bulls_connection_name() {
        // Observed: queue `bot:commands` -> `proto:Ym90OmNvbW1hbmRz`.
        assert_eq!(base64(b"bot:commands"), "Ym90OmNvbW1hbmRz");
        assert_eq!(base64(b"q"), "cQ==");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn numeric_ids_give_their_low_bits_and_others_zero() {
        assert_eq!(id_low_bits("17"), 17);
        assert_eq!(id_low_bits("4097"), 1);
        assert_eq!(id_low_bits("custom-7"), 0);
        assert_eq!(id_low_bits("repeat:abc:1795759784000"), 0);
    }

    #[test]
    fn dead_letter_data_embeds_json_and_quotes_the_rest() {
        let job = Job {
            queue: Arc::from("q"),
            id: "5".into(),
            name: "ban".into(),
            data: "{not json".into(),
            opts_raw: Some(r#"{"attempts":2}"#.into()),
            ..Job::default()
        };
        let letter: Value = serde_json::from_str(&dead_letter_data(&job, "bad", 0, 2)).unwrap();
        assert_eq!(letter["originalJob"], "{not json");
        assert_eq!(letter["opts"]["attempts"], 2);
        assert_eq!(letter["failedAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(letter["attemptsMade"], 2);
    }
}
