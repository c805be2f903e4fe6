//! A Bull-compatible (npm `bull` 4.x) queue engine over Redis: producer, worker, dead letters.
//!
//! Jobs live in Bull's exact layout (`prefix:queue:suffix` keys, the job hash, the delayed score
//! encoding, the pub/sub events), so Node producers and workers share queues with this engine in
//! both directions. Every state change is one Lua script written for this project
//! (`queue/scripts/*.lua`); the worker takes and finishes jobs several per script call.
//!
//! * [`RedisConn`]: a reconnecting connection to a server or a cluster (use a `{tag}` prefix).
//! * [`Queue`]: add jobs (bulk, delayed, prioritized, repeatable), pause/resume, counts, reads.
//! * [`Worker`]: runs a [`JobHandler`] with concurrency, locks, retries, outputs, shutdown.
//! * [`DeadLetters`]: the jobs that failed for good; replay them with one call.

mod conn;
mod dead_letters;
mod error;
mod job;
mod keys;
mod options;
mod packed;
mod producer;
mod repeat;
mod scripts;
mod worker;

pub use conn::RedisConn;
pub use dead_letters::{DEAD_LETTER_JOB_NAME, DEFAULT_DEAD_LETTER_QUEUE, DeadLetter, DeadLetters};
pub use error::{QueueError, QueueResult};
pub use job::{Job, NewJob};
pub use keys::QueueKeys;
pub use options::{
    Backoff, Debounce, JobIdOption, JobOptions, KeepJobs, RepeatOptions, Retention,
    bull_priority_for_level,
};
pub use producer::{JobCounts, JobState, Queue};
pub use repeat::{
    RepeatPlan, iteration_id_prefix, next_cron, next_millis, plan_iteration, repeat_key,
};
pub use worker::{
    Completion, FnHandler, JobFailure, JobHandler, METRICS_ONE_WEEK, Worker, WorkerOptions,
    WorkerStats, handler_fn,
};

/// Milliseconds since the Unix epoch from this host's clock, as Bull's `Date.now()`.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
