//! The engine's Lua scripts (written for this project from the documented Bull layout), each
//! compiled with the shared helpers of `scripts/lib.lua` and run with EVALSHA (loaded on demand),
//! and the typed calls that cross into them.
//!
//! Every script has one builder here: a struct with named fields whose `run` writes KEYS and
//! ARGV in the order the `.lua` file documents and reads its reply into Rust types. Nothing
//! outside this module writes a script argument by position, and the scripts themselves are
//! private to it. The textual modes, flags and numeric status codes of the Lua side are
//! [`FailMode`], [`PauseAction`], [`RepeatMode`] and [`JobStatus`] here.

use std::sync::{Arc, LazyLock};

use redis::{RedisResult, Script, ScriptInvocation};

use super::conn::RedisConn;
use super::error::QueueResult;
use super::keys::QueueKeys;
use super::options::Retention;
use super::packed::{self, Taken};

macro_rules! script {
    ($name:ident, $file:literal, $doc:literal) => {
        #[doc = $doc]
        static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("scripts/lib.lua"),
                "\n",
                include_str!(concat!("scripts/", $file))
            ))
        });
    };
}

script!(
    ADD,
    "add.lua",
    "Adds jobs (plain, delayed, prioritized, repeat iterations)."
);
script!(
    TAKE,
    "take.lua",
    "Moves up to N waiting jobs to `active` under our lock."
);
script!(
    FINISH,
    "finish.lua",
    "Completes jobs with their outputs, then takes more."
);
script!(
    FAIL,
    "fail.lua",
    "Records a failed attempt: retry, backoff, or final failure + dead letter."
);
script!(EXTEND, "extend.lua", "Renews the locks of several jobs.");
script!(
    NOTE,
    "note.lua",
    "Writes a handler's notes on a job it holds."
);
script!(PROMOTE, "promote.lua", "Promotes due delayed jobs.");
script!(STALLED, "stalled.lua", "The throttled stalled-job check.");
script!(PAUSE, "pause.lua", "Global pause and resume.");
script!(
    RELEASE,
    "release.lua",
    "Gives jobs back to the queue head without consuming an attempt."
);
script!(
    REPLAY,
    "replay.lua",
    "Moves dead letters back to their queues."
);
script!(PURGE, "purge.lua", "Deletes dead letters.");
script!(
    REMOVE_REPEATABLE,
    "remove_repeatable.lua",
    "Removes a repeat series."
);
script!(
    REMOVE_DELAYED,
    "remove_delayed.lua",
    "Removes a job still waiting for its time."
);

/// A boolean argument as the scripts read it (`"1"` is true, anything else false).
fn flag(on: bool) -> &'static str {
    if on { "1" } else { "0" }
}

/// Runs a prepared invocation on a clone of `conn` (clones share the connection).
async fn invoke<T: redis::FromRedisValue>(
    invocation: ScriptInvocation<'static>,
    conn: &RedisConn,
) -> RedisResult<T> {
    let mut conn = conn.clone();
    invocation.invoke_async(&mut conn).await
}

/// What `finish.lua` and `fail.lua` say of one job: written, or why nothing was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobStatus {
    /// The step was written (`0`).
    Done,
    /// The job's hash does not exist (Bull's `-1`).
    Missing,
    /// The job has no lock (Bull's `-2`).
    NotLocked,
    /// The job is not in `active` (Bull's `-3`).
    NotActive,
    /// Another worker holds the job's lock (Bull's `-6`).
    LockedByOther,
    /// An output job could not be added, so nothing of the job was written (`-10`, finish only).
    OutputRefused,
    /// A code this engine does not know.
    Other(i64),
}

impl JobStatus {
    /// The status a script returned as `code`.
    pub(crate) fn from_reply(code: i64) -> JobStatus {
        match code {
            0 => JobStatus::Done,
            -1 => JobStatus::Missing,
            -2 => JobStatus::NotLocked,
            -3 => JobStatus::NotActive,
            -6 => JobStatus::LockedByOther,
            -10 => JobStatus::OutputRefused,
            code => JobStatus::Other(code),
        }
    }

    /// The script's numeric code (what the logs show).
    pub(crate) fn code(self) -> i64 {
        match self {
            JobStatus::Done => 0,
            JobStatus::Missing => -1,
            JobStatus::NotLocked => -2,
            JobStatus::NotActive => -3,
            JobStatus::LockedByOther => -6,
            JobStatus::OutputRefused => -10,
            JobStatus::Other(code) => code,
        }
    }
}

/// How an add touches the series of a repeatable job (`repeatMode` of a record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RepeatMode {
    /// Not a repeat iteration.
    None,
    /// Register the series (producer add): `ZADD repeat`, then add.
    Register,
    /// Worker scheduling: add only while the series is still registered.
    Continue,
}

impl RepeatMode {
    /// The script's text for the mode.
    pub(crate) fn as_arg(self) -> &'static str {
        match self {
            RepeatMode::None => "",
            RepeatMode::Register => "add",
            RepeatMode::Continue => "next",
        }
    }
}

/// One job for the `add_job_at` Lua helper: the `ADD_FIELDS` record that `add.lua`, `fail.lua`
/// (the dead letter), `finish.lua` (outputs) and `replay.lua` take.
#[derive(Debug, Clone)]
pub(crate) struct AddRecord {
    /// `<prefix>:<queue>:` of the queue the job goes to.
    pub(crate) base: String,
    /// The custom job id, `""` for a counter id.
    pub(crate) custom_id: String,
    /// The job name.
    pub(crate) name: String,
    /// The data, JSON text.
    pub(crate) data: String,
    /// The options, JSON text as stored in the hash.
    pub(crate) opts_json: String,
    /// `timestamp` (ms).
    pub(crate) timestamp: i64,
    /// `delay` (ms, 0 for none).
    pub(crate) delay: i64,
    /// Bull's priority (0 for none).
    pub(crate) priority: u32,
    /// Push to the head of the queue.
    pub(crate) lifo: bool,
    /// What the add does to a repeat series.
    pub(crate) repeat_mode: RepeatMode,
    /// The series' repeat key (`""` when not a repeat iteration).
    pub(crate) repeat_key: String,
    /// The series' next run in ms, stored as its score in `repeat`.
    pub(crate) repeat_next: i64,
    /// The debounce slot the job takes (`""` for none).
    pub(crate) debounce_id: String,
    /// The slot's TTL in ms (0 for none: held until the job finishes).
    pub(crate) debounce_ttl: u64,
}

impl AddRecord {
    /// Appends the record's `ADD_FIELDS` arguments in the order of `add_job_at` in lib.lua.
    fn push_args(&self, invocation: &mut ScriptInvocation<'_>) {
        invocation
            .arg(&self.base)
            .arg(&self.custom_id)
            .arg(&self.name)
            .arg(&self.data)
            .arg(&self.opts_json)
            .arg(self.timestamp)
            .arg(self.delay)
            .arg(self.priority)
            .arg(flag(self.lifo))
            .arg(self.repeat_mode.as_arg())
            .arg(&self.repeat_key)
            .arg(self.repeat_next)
            .arg(&self.debounce_id)
            .arg(self.debounce_ttl);
    }
}

/// `add.lua`: adds jobs, all or none, to any queues under the prefix.
pub(crate) struct Add<'a> {
    /// The calling queue (its `id` key routes the call).
    pub(crate) keys: &'a QueueKeys,
    /// The caller's token (`duplicated@token` and `waiting@token` events).
    pub(crate) token: &'a str,
    /// The jobs.
    pub(crate) records: &'a [AddRecord],
}

impl Add<'_> {
    /// One id per record, or `None` for a repeat iteration skipped (its series was removed).
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<Vec<Option<String>>> {
        let mut invocation = ADD.prepare_invoke();
        invocation
            .key(self.keys.id())
            .arg(self.token)
            .arg(self.records.len());
        for record in self.records {
            record.push_args(&mut invocation);
        }
        invoke(invocation, conn).await
    }
}

/// `take.lua`: moves up to `count` waiting jobs (and a popped one) to `active` under our lock.
pub(crate) struct Take<'a> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// The queue's name, shared by the jobs taken.
    pub(crate) queue: &'a Arc<str>,
    /// Whose lock the jobs get.
    pub(crate) token: &'a str,
    /// The lock's TTL.
    pub(crate) lock_millis: u64,
    /// Now (ms), stored as `processedOn`.
    pub(crate) now: i64,
    /// How many waiting jobs to take.
    pub(crate) count: usize,
    /// A job `BRPOPLPUSH` already moved into `active`, taken first.
    pub(crate) popped: Option<&'a str>,
    /// Publish every event (on a cluster, see `new_hears` in lib.lua).
    pub(crate) publish_always: bool,
}

impl Take<'_> {
    /// The taken jobs, in the order taken.
    pub(crate) async fn run(&self, conn: &RedisConn) -> QueueResult<Vec<Taken>> {
        let mut invocation = TAKE.prepare_invoke();
        invocation
            .key(self.keys.wait())
            .arg(self.keys.base())
            .arg(self.token)
            .arg(self.lock_millis)
            .arg(self.now)
            .arg(self.count)
            .arg(self.popped.unwrap_or(""))
            .arg(flag(self.publish_always));
        let reply: Vec<u8> = invoke(invocation, conn).await?;
        packed::take_reply(&reply, self.queue)
    }
}

/// One job `finish.lua` completes.
pub(crate) struct FinishedJob<'a> {
    /// The job id.
    pub(crate) id: &'a str,
    /// The return value, JSON text.
    pub(crate) return_value: &'a str,
    /// `removeOnComplete`.
    pub(crate) retention: Retention,
    /// The debounce slot the job owns, if any.
    pub(crate) debounce_id: Option<&'a str>,
    /// The jobs added with the completion.
    pub(crate) outputs: &'a [AddRecord],
}

/// `finish.lua`: completes jobs with their outputs, then takes up to `take` more.
pub(crate) struct Finish<'a, J> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// The queue's name, shared by the jobs taken.
    pub(crate) queue: &'a Arc<str>,
    /// Our lock token.
    pub(crate) token: &'a str,
    /// Now (ms): `finishedOn`, and `processedOn` of the jobs taken.
    pub(crate) now: i64,
    /// The lock TTL of the jobs taken.
    pub(crate) lock_millis: u64,
    /// How many waiting jobs to take.
    pub(crate) take: usize,
    /// Publish Bull's `drained` when fewer than `take` were waiting.
    pub(crate) announce_drained: bool,
    /// Publish every event (on a cluster, see `new_hears` in lib.lua).
    pub(crate) publish_always: bool,
    /// Bull's `metrics.maxDataPoints` (0: completions are not counted).
    pub(crate) metrics_points: u32,
    /// The jobs to complete.
    pub(crate) jobs: J,
}

/// The reply of `finish.lua`, decoded.
pub(crate) struct FinishReply {
    /// Per job, in the order sent.
    pub(crate) statuses: Vec<JobStatus>,
    /// The jobs taken.
    pub(crate) taken: Vec<Taken>,
    /// Per job: why an output was refused (`""` unless its status is `OutputRefused`).
    pub(crate) problems: Vec<String>,
}

impl<'a, J: ExactSizeIterator<Item = FinishedJob<'a>>> Finish<'a, J> {
    /// The call, ready to send; it borrows nothing, so it can wait among other futures while
    /// the caller goes on.
    pub(crate) fn prepare(self, conn: &RedisConn) -> FinishRequest {
        let mut invocation = FINISH.prepare_invoke();
        invocation
            .key(self.keys.active())
            .arg(self.keys.base())
            .arg(self.token)
            .arg(self.now)
            .arg(self.lock_millis)
            .arg(self.take)
            .arg(self.jobs.len())
            .arg(flag(self.announce_drained))
            .arg(flag(self.publish_always))
            .arg(self.metrics_points);
        for job in self.jobs {
            invocation
                .arg(job.id)
                .arg(job.return_value)
                .arg(job.retention.count)
                .arg(job.retention.age_arg())
                .arg(job.debounce_id.unwrap_or(""))
                .arg(job.outputs.len());
            for output in job.outputs {
                output.push_args(&mut invocation);
            }
        }
        FinishRequest {
            invocation,
            conn: conn.clone(),
            queue: self.queue.clone(),
        }
    }
}

/// A prepared `finish.lua` call (see [`Finish::prepare`]).
pub(crate) struct FinishRequest {
    invocation: ScriptInvocation<'static>,
    conn: RedisConn,
    queue: Arc<str>,
}

impl FinishRequest {
    /// Sends the call and decodes its reply.
    pub(crate) async fn send(mut self) -> QueueResult<FinishReply> {
        let reply: Vec<u8> = self.invocation.invoke_async(&mut self.conn).await?;
        let (statuses, taken, problems) = packed::finish_reply(&reply, &self.queue)?;
        Ok(FinishReply {
            statuses: statuses.into_iter().map(JobStatus::from_reply).collect(),
            taken,
            problems,
        })
    }
}

/// What `fail.lua` does with a failed attempt (its `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FailMode {
    /// Back to waiting at once.
    Retry,
    /// To `delayed` with this score (`due * 4096 + (id & 4095)`), after a backoff.
    Delay {
        /// The score in `delayed`.
        score: i64,
    },
    /// Failed for good (retention, `failed` event, the dead letter).
    Fail,
}

impl FailMode {
    /// The script's text for the mode.
    pub(crate) fn as_arg(self) -> &'static str {
        match self {
            FailMode::Retry => "retry",
            FailMode::Delay { .. } => "delay",
            FailMode::Fail => "fail",
        }
    }
}

/// `fail.lua`: records one failed attempt.
pub(crate) struct Fail<'a> {
    /// The job's queue.
    pub(crate) keys: &'a QueueKeys,
    /// The job id.
    pub(crate) id: &'a str,
    /// Our lock token.
    pub(crate) token: &'a str,
    /// Now (ms): `finishedOn` of a final failure.
    pub(crate) now: i64,
    /// Retry, delay or fail.
    pub(crate) mode: FailMode,
    /// `failedReason`.
    pub(crate) reason: &'a str,
    /// The entry appended to `stacktrace`.
    pub(crate) stack_entry: &'a str,
    /// Entries kept in `stacktrace` (0 = all).
    pub(crate) stack_trace_limit: u64,
    /// `attemptsMade` after this attempt.
    pub(crate) attempts_made: u32,
    /// A retried job goes to the head of the queue.
    pub(crate) lifo: bool,
    /// `removeOnFail` (for a final failure).
    pub(crate) retention: Retention,
    /// Bull's `metrics.maxDataPoints` (0: a final failure is not counted).
    pub(crate) metrics_points: u32,
    /// Jobs added with a final failure (its dead letter first), all or none.
    pub(crate) final_adds: &'a [AddRecord],
    /// Jobs added with this attempt whatever the mode, all or none, with `notes`.
    pub(crate) now_adds: &'a [AddRecord],
    /// Notes (`gh:<name>` fields) written with the attempt.
    pub(crate) notes: &'a [(String, String)],
}

impl Fail<'_> {
    /// Whether the attempt was written, or why not.
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<JobStatus> {
        let score = match self.mode {
            FailMode::Delay { score } => score,
            FailMode::Retry | FailMode::Fail => 0,
        };
        let mut invocation = FAIL.prepare_invoke();
        invocation
            .key(self.keys.active())
            .arg(self.keys.base())
            .arg(self.id)
            .arg(self.token)
            .arg(self.now)
            .arg(self.mode.as_arg())
            .arg(self.reason)
            .arg(self.stack_entry)
            .arg(self.stack_trace_limit)
            .arg(self.attempts_made)
            .arg(score)
            .arg(flag(self.lifo))
            .arg(self.retention.count)
            .arg(self.retention.age_arg())
            .arg(self.metrics_points)
            .arg(self.final_adds.len())
            .arg(self.now_adds.len())
            .arg(self.notes.len());
        for record in self.final_adds.iter().chain(self.now_adds) {
            record.push_args(&mut invocation);
        }
        for (name, value) in self.notes {
            invocation.arg(name).arg(value);
        }
        invoke(invocation, conn).await.map(JobStatus::from_reply)
    }
}

/// `note.lua`: a handler's notes on a job held under `token`.
pub(crate) struct Note<'a> {
    /// The job's queue.
    pub(crate) keys: &'a QueueKeys,
    /// The job id.
    pub(crate) id: &'a str,
    /// The lock token the job is held under.
    pub(crate) token: &'a str,
    /// Name/value pairs.
    pub(crate) notes: &'a [(&'a str, &'a str)],
}

impl Note<'_> {
    /// Whether the notes were written (false: the lock is not ours).
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<bool> {
        let mut invocation = NOTE.prepare_invoke();
        let job_key = self.keys.job(self.id);
        invocation
            .key(&job_key)
            .key(self.keys.lock(self.id))
            .arg(self.token);
        for (name, value) in self.notes {
            invocation.arg(*name).arg(*value);
        }
        invoke::<i64>(invocation, conn)
            .await
            .map(|written| written == 1)
    }
}

/// `extend.lua`: renews the locks of several jobs.
pub(crate) struct Extend<'a, I> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// Our lock token.
    pub(crate) token: &'a str,
    /// The new TTL.
    pub(crate) lock_millis: u64,
    /// The jobs.
    pub(crate) ids: I,
}

impl<'a, I: IntoIterator<Item = &'a str>> Extend<'a, I> {
    /// Per id, whether the lock was still ours (and is renewed).
    pub(crate) async fn run(self, conn: &RedisConn) -> RedisResult<Vec<bool>> {
        let mut invocation = EXTEND.prepare_invoke();
        invocation
            .key(self.keys.key("stalled"))
            .arg(self.keys.base())
            .arg(self.token)
            .arg(self.lock_millis);
        for id in self.ids {
            invocation.arg(id);
        }
        let renewed: Vec<i64> = invoke(invocation, conn).await?;
        Ok(renewed.into_iter().map(|flag| flag != 0).collect())
    }
}

/// `release.lua`: gives jobs back to the head of the queue without consuming an attempt.
pub(crate) struct Release<'a, I> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// Our lock token (jobs locked by another are left alone).
    pub(crate) token: &'a str,
    /// The jobs.
    pub(crate) ids: I,
}

impl<'a, I: IntoIterator<Item = &'a str>> Release<'a, I> {
    /// Per id, whether it was given back.
    pub(crate) async fn run(self, conn: &RedisConn) -> RedisResult<Vec<bool>> {
        let mut invocation = RELEASE.prepare_invoke();
        invocation
            .key(self.keys.active())
            .arg(self.keys.base())
            .arg(self.token);
        for id in self.ids {
            invocation.arg(id);
        }
        let released: Vec<i64> = invoke(invocation, conn).await?;
        Ok(released.into_iter().map(|flag| flag == 1).collect())
    }
}

/// `promote.lua`: moves the due delayed jobs to waiting.
pub(crate) struct Promote<'a> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// Now (ms): jobs due up to now are promoted.
    pub(crate) now: i64,
    /// Our token (`waiting@token` events).
    pub(crate) token: &'a str,
}

impl Promote<'_> {
    /// The due time (ms) of the earliest job still delayed, if any.
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<Option<i64>> {
        let mut invocation = PROMOTE.prepare_invoke();
        invocation
            .key(self.keys.delayed())
            .arg(self.keys.base())
            .arg(self.now.saturating_mul(4096))
            .arg(self.token);
        let score: Option<String> = invoke(invocation, conn).await?;
        Ok(score
            .and_then(|score| score.parse::<i64>().ok())
            .map(|score| score / 4096 + 1))
    }
}

/// `stalled.lua`: the stalled-job check, at most once per interval across all workers.
pub(crate) struct StalledCheck<'a> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// Now (ms).
    pub(crate) now: i64,
    /// The check's period (ms), its throttle.
    pub(crate) interval_millis: u64,
    /// Recoveries allowed before a stalled job fails.
    pub(crate) max_stalled_count: u32,
    /// Our token (for the dead letters' events).
    pub(crate) token: &'a str,
    /// The dead-letter queue's `<prefix>:<queue>:`, or `None` for no dead letters.
    pub(crate) dead_letter_base: Option<&'a str>,
    /// The dead letters' job name.
    pub(crate) dead_letter_name: &'a str,
    /// The dead letters' `failedAt` (ISO 8601).
    pub(crate) failed_at: &'a str,
}

impl StalledCheck<'_> {
    /// The ids failed for good and the ids given back to the queue.
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<(Vec<String>, Vec<String>)> {
        let mut invocation = STALLED.prepare_invoke();
        invocation
            .key(self.keys.key("stalled"))
            .arg(self.keys.base())
            .arg(self.now)
            .arg(self.interval_millis)
            .arg(self.max_stalled_count)
            .arg(self.token)
            .arg(self.dead_letter_base.unwrap_or(""))
            .arg(self.dead_letter_name)
            .arg(self.failed_at)
            .arg(self.keys.name());
        invoke(invocation, conn).await
    }
}

/// What `pause.lua` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PauseAction {
    /// Pause the queue globally.
    Pause,
    /// Resume it.
    Resume,
}

impl PauseAction {
    /// The script's text for the action.
    pub(crate) fn as_arg(self) -> &'static str {
        match self {
            PauseAction::Pause => "pause",
            PauseAction::Resume => "resume",
        }
    }
}

/// `pause.lua`: global pause or resume.
pub(crate) struct Pause<'a> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// Pause or resume.
    pub(crate) action: PauseAction,
}

impl Pause<'_> {
    /// Pauses or resumes.
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<()> {
        let mut invocation = PAUSE.prepare_invoke();
        invocation
            .key(self.keys.meta_paused())
            .arg(self.keys.base())
            .arg(self.action.as_arg());
        let _: i64 = invoke(invocation, conn).await?;
        Ok(())
    }
}

/// `replay.lua`: removes dead letters and adds their original jobs back, atomically.
pub(crate) struct Replay<'a> {
    /// The dead-letter queue.
    pub(crate) keys: &'a QueueKeys,
    /// The caller's token (events of the added jobs).
    pub(crate) token: &'a str,
    /// Each letter's id and the job it becomes.
    pub(crate) letters: &'a [(&'a str, AddRecord)],
}

impl Replay<'_> {
    /// Per letter, the new job id, or `None` when the letter was gone.
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<Vec<Option<String>>> {
        let mut invocation = REPLAY.prepare_invoke();
        invocation
            .key(self.keys.wait())
            .arg(self.keys.base())
            .arg(self.token)
            .arg(self.letters.len());
        for (letter, record) in self.letters {
            invocation.arg(*letter);
            record.push_args(&mut invocation);
        }
        invoke(invocation, conn).await
    }
}

/// `purge.lua`: deletes dead letters (locked ones are skipped).
pub(crate) struct Purge<'a, I> {
    /// The dead-letter queue.
    pub(crate) keys: &'a QueueKeys,
    /// The letters.
    pub(crate) ids: I,
}

impl<'a, I: IntoIterator<Item = &'a str>> Purge<'a, I> {
    /// How many were deleted.
    pub(crate) async fn run(self, conn: &RedisConn) -> RedisResult<u64> {
        let mut invocation = PURGE.prepare_invoke();
        invocation.key(self.keys.wait()).arg(self.keys.base());
        for id in self.ids {
            invocation.arg(id);
        }
        invoke(invocation, conn).await
    }
}

/// `remove_repeatable.lua`: drops a repeat series and its pending iteration.
pub(crate) struct RemoveRepeatable<'a> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// The series' repeat key.
    pub(crate) repeat_key: &'a str,
    /// The id prefix of its iterations (`repeat:<md5>:`).
    pub(crate) id_prefix: &'a str,
}

impl RemoveRepeatable<'_> {
    /// Whether the series existed.
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<bool> {
        let mut invocation = REMOVE_REPEATABLE.prepare_invoke();
        invocation
            .key(self.keys.repeat())
            .arg(self.keys.base())
            .arg(self.repeat_key)
            .arg(self.id_prefix);
        let removed: i64 = invoke(invocation, conn).await?;
        Ok(removed == 1)
    }
}

/// `remove_delayed.lua`: drops a job that is still waiting for its time.
pub(crate) struct RemoveDelayed<'a> {
    /// The queue.
    pub(crate) keys: &'a QueueKeys,
    /// The job id.
    pub(crate) id: &'a str,
}

impl RemoveDelayed<'_> {
    /// Whether the job was delayed (and is removed).
    pub(crate) async fn run(&self, conn: &RedisConn) -> RedisResult<bool> {
        let mut invocation = REMOVE_DELAYED.prepare_invoke();
        invocation
            .key(self.keys.delayed())
            .arg(self.keys.base())
            .arg(self.id);
        let removed: i64 = invoke(invocation, conn).await?;
        Ok(removed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_their_codes() {
        for code in [0, -1, -2, -3, -6, -10, -4, 7] {
            assert_eq!(JobStatus::from_reply(code).code(), code);
        }
        assert_eq!(JobStatus::from_reply(-10), JobStatus::OutputRefused);
        assert_eq!(JobStatus::from_reply(-4), JobStatus::Other(-4));
    }

    #[test]
    fn modes_are_the_scripts_words() {
        assert_eq!(FailMode::Retry.as_arg(), "retry");
        assert_eq!(FailMode::Delay { score: 5 }.as_arg(), "delay");
        assert_eq!(FailMode::Fail.as_arg(), "fail");
        assert_eq!(PauseAction::Pause.as_arg(), "pause");
        assert_eq!(PauseAction::Resume.as_arg(), "resume");
        assert_eq!(RepeatMode::None.as_arg(), "");
        assert_eq!(RepeatMode::Register.as_arg(), "add");
        assert_eq!(RepeatMode::Continue.as_arg(), "next");
    }
}
