//! The producer side of a queue: adding jobs (single, bulk, delayed, prioritized, repeatable),
//! pause/resume, counts, and reading jobs back — all in Bull's layout.

use std::sync::Arc;

use redis::AsyncCommands;

use super::conn::RedisConn;
use super::error::{QueueError, QueueResult};
use super::job::{Job, NewJob};
use super::keys::QueueKeys;
use super::now_ms;
use super::options::{Backoff, JobOptions, RepeatOptions};
use super::repeat::{iteration_id_prefix, plan_iteration, repeat_key};
use super::scripts::{
    Add, AddRecord, Note, Pause, PauseAction, RemoveDelayed, RemoveRepeatable, RepeatMode,
};

/// Applies Bull's add-time defaults: `attempts`, `delay`, `timestamp`, normalized `backoff`.
fn with_defaults(mut opts: JobOptions, now: i64) -> JobOptions {
    opts.attempts = Some(opts.attempts.unwrap_or(1));
    opts.delay = Some(opts.delay.unwrap_or(0));
    opts.timestamp = Some(opts.timestamp.unwrap_or(now));
    opts.backoff = opts.backoff.as_ref().map(Backoff::normalized);
    opts
}

fn record(
    prefix: &str,
    queue: &str,
    name: &str,
    data: &str,
    opts: JobOptions,
    now: i64,
    repeat: Option<(RepeatMode, String, i64)>,
) -> QueueResult<AddRecord> {
    if serde_json::from_str::<serde::de::IgnoredAny>(data).is_err() {
        return Err(QueueError::InvalidOption {
            field: "data",
            rule: "must be JSON text".to_owned(),
        });
    }
    let opts = with_defaults(opts, now);
    let debounce = opts.debounce()?;
    let name = if name.is_empty() { "__default__" } else { name };
    let (repeat_mode, repeat_key, repeat_next) =
        repeat.unwrap_or((RepeatMode::None, String::new(), 0));
    Ok(AddRecord {
        base: format!("{prefix}:{queue}:"),
        custom_id: opts
            .job_id
            .as_ref()
            .map(|id| id.as_redis_id())
            .unwrap_or_default(),
        name: name.to_owned(),
        data: data.to_owned(),
        timestamp: opts.timestamp.unwrap_or(now),
        delay: opts.delay.unwrap_or(0).max(0),
        priority: opts.priority.unwrap_or(0),
        lifo: opts.lifo.unwrap_or(false),
        opts_json: serde_json::to_string(&opts)?,
        repeat_mode,
        repeat_key,
        repeat_next,
        debounce_ttl: debounce
            .as_ref()
            .and_then(|slot| slot.ttl_millis)
            .unwrap_or(0),
        debounce_id: debounce.map(|slot| slot.id).unwrap_or_default(),
    })
}

/// Prepares a producer add: a repeatable job becomes its first iteration (`None` when the series
/// has no iteration left).
pub(crate) fn prepare_add(prefix: &str, job: &NewJob, now: i64) -> QueueResult<Option<AddRecord>> {
    if job.opts.repeat.is_none() {
        return record(
            prefix,
            &job.queue,
            &job.name,
            &job.data,
            job.opts.clone(),
            now,
            None,
        )
        .map(Some);
    }
    let name = if job.name.is_empty() {
        "__default__"
    } else {
        &job.name
    };
    let Some(plan) = plan_iteration(name, &job.opts, now)? else {
        return Ok(None);
    };
    let repeat = Some((RepeatMode::Register, plan.key, plan.next_millis));
    record(prefix, &job.queue, name, &job.data, plan.opts, now, repeat).map(Some)
}

/// Prepares the iteration that follows a taken repeat job (`None` when the series is over).
pub(crate) fn prepare_next_iteration(
    prefix: &str,
    job: &Job,
    now: i64,
) -> QueueResult<Option<AddRecord>> {
    let Some(plan) = plan_iteration(&job.name, &job.opts, now)? else {
        return Ok(None);
    };
    let repeat = Some((RepeatMode::Continue, plan.key, plan.next_millis));
    record(
        prefix, &job.queue, &job.name, &job.data, plan.opts, now, repeat,
    )
    .map(Some)
}

/// Job counts per state, as Node's `getJobCounts()`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// `LLEN wait`.
    pub waiting: u64,
    /// `LLEN active`.
    pub active: u64,
    /// `ZCARD completed`.
    pub completed: u64,
    /// `ZCARD failed`.
    pub failed: u64,
    /// `ZCARD delayed`.
    pub delayed: u64,
    /// `LLEN paused`.
    pub paused: u64,
}

/// Where a job is, as Node's `getState()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// In `completed`.
    Completed,
    /// In `failed`.
    Failed,
    /// In `delayed`.
    Delayed,
    /// In `active`.
    Active,
    /// In `wait`.
    Waiting,
    /// In `paused`.
    Paused,
    /// Nowhere (Bull calls this `stuck`).
    Stuck,
}

/// Replies of the `getState` probe: three ZSCOREs, three LPOSes.
type StateProbe = (
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// A handle on one Bull queue for producing and inspecting. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Queue {
    conn: RedisConn,
    keys: QueueKeys,
    token: Arc<str>,
}

impl Queue {
    /// The queue `name` under `prefix` (Bull's default prefix is `bull`).
    pub fn new(conn: RedisConn, prefix: &str, name: &str) -> Queue {
        Queue {
            conn,
            keys: QueueKeys::new(prefix, name),
            token: Arc::from(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// The queue's keys.
    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// The connection it uses.
    pub fn conn(&self) -> &RedisConn {
        &self.conn
    }

    /// Adds a job to this queue and returns its id (the existing id for a duplicate custom id).
    pub async fn add(&self, name: &str, data_json: &str, opts: JobOptions) -> QueueResult<String> {
        let job = NewJob {
            queue: self.keys.name().to_owned(),
            name: name.to_owned(),
            data: data_json.to_owned(),
            opts,
        };
        let mut ids = self.add_bulk(std::slice::from_ref(&job)).await?;
        match ids.pop().flatten() {
            Some(id) => Ok(id),
            None => Err(QueueError::InvalidOption {
                field: "repeat",
                rule: "the series has no further iteration (limit or endDate reached)".to_owned(),
            }),
        }
    }

    /// Adds several jobs (to any queues under this prefix) atomically in one round trip. Returns
    /// one id per job; `None` for a repeatable job whose series has no iteration left.
    pub async fn add_bulk(&self, jobs: &[NewJob]) -> QueueResult<Vec<Option<String>>> {
        let now = now_ms();
        let mut records = Vec::with_capacity(jobs.len());
        let mut slots = Vec::with_capacity(jobs.len());
        for job in jobs {
            match prepare_add(self.keys.prefix(), job, now)? {
                Some(record) => {
                    slots.push(true);
                    records.push(record);
                }
                None => slots.push(false),
            }
        }
        let ids = self.run_add(&records).await?;
        let mut ids = ids.into_iter();
        Ok(slots
            .into_iter()
            .map(|added| if added { ids.next().flatten() } else { None })
            .collect())
    }

    /// Runs the add script for prepared records.
    async fn run_add(&self, records: &[AddRecord]) -> QueueResult<Vec<Option<String>>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let add = Add {
            keys: &self.keys,
            token: &self.token,
            records,
        };
        Ok(add.run(&self.conn).await?)
    }

    /// Pauses the queue globally (Node and Rust workers stop taking jobs).
    pub async fn pause(&self) -> QueueResult<()> {
        self.pause_script(PauseAction::Pause).await
    }

    /// Resumes a globally paused queue.
    pub async fn resume(&self) -> QueueResult<()> {
        self.pause_script(PauseAction::Resume).await
    }

    async fn pause_script(&self, action: PauseAction) -> QueueResult<()> {
        let pause = Pause {
            keys: &self.keys,
            action,
        };
        Ok(pause.run(&self.conn).await?)
    }

    /// Whether the queue is globally paused (`meta-paused` or `meta.paused`, as Node checks).
    pub async fn is_paused(&self) -> QueueResult<bool> {
        let mut conn = self.conn.clone();
        let (flag, meta): (bool, Option<String>) = redis::pipe()
            .exists(self.keys.meta_paused())
            .hget(self.keys.key("meta"), "paused")
            .query_async(&mut conn)
            .await?;
        Ok(flag || meta.as_deref() == Some("1"))
    }

    /// Counts per state, as Node's `getJobCounts()`.
    pub async fn job_counts(&self) -> QueueResult<JobCounts> {
        let mut conn = self.conn.clone();
        let (waiting, active, completed, failed, delayed, paused): (u64, u64, u64, u64, u64, u64) =
            redis::pipe()
                .llen(self.keys.wait())
                .llen(self.keys.active())
                .zcard(self.keys.completed())
                .zcard(self.keys.failed())
                .zcard(self.keys.delayed())
                .llen(self.keys.paused())
                .query_async(&mut conn)
                .await?;
        Ok(JobCounts {
            waiting,
            active,
            completed,
            failed,
            delayed,
            paused,
        })
    }

    /// Writes `notes` on `job`, held by a worker of this queue: fields the job keeps (through
    /// retries, stalls and other workers) and hands back in [`Job::notes`]. Returns false, and
    /// writes nothing, when the job's lock is no longer the one it was taken under.
    pub async fn note(&self, job: &Job, notes: &[(&str, &str)]) -> QueueResult<bool> {
        let Some(token) = job.lock_token.as_deref() else {
            return Ok(false);
        };
        Ok(Note {
            keys: &self.keys,
            id: &job.id,
            token,
            notes,
        }
        .run(&self.conn)
        .await?)
    }

    /// Reads a job; `None` when its hash does not exist.
    pub async fn get_job(&self, id: &str) -> QueueResult<Option<Job>> {
        let mut conn = self.conn.clone();
        let fields: Vec<(Vec<u8>, Vec<u8>)> = conn.hgetall(self.keys.job(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(Job::from_fields(
            Arc::from(self.keys.name()),
            id.to_owned(),
            fields,
        )))
    }

    /// Where a job is, checked in Node's order.
    pub async fn get_state(&self, id: &str) -> QueueResult<JobState> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.zscore(self.keys.completed(), id)
            .zscore(self.keys.failed(), id)
            .zscore(self.keys.delayed(), id);
        for list in [self.keys.active(), self.keys.wait(), self.keys.paused()] {
            pipe.cmd("LPOS").arg(list).arg(id);
        }
        let found: StateProbe = pipe.query_async(&mut conn).await?;
        Ok(match found {
            (Some(_), ..) => JobState::Completed,
            (_, Some(_), ..) => JobState::Failed,
            (_, _, Some(_), ..) => JobState::Delayed,
            (_, _, _, Some(_), ..) => JobState::Active,
            (_, _, _, _, Some(_), _) => JobState::Waiting,
            (_, _, _, _, _, Some(_)) => JobState::Paused,
            _ => JobState::Stuck,
        })
    }

    /// Removes a repeat series (and its pending iteration) given how it was added. Returns whether
    /// it existed.
    pub async fn remove_repeatable(
        &self,
        name: &str,
        repeat: &RepeatOptions,
        job_id: Option<&str>,
    ) -> QueueResult<bool> {
        let mut repeat = repeat.clone();
        if let Some(id) = job_id {
            repeat.job_id = Some(super::options::JobIdOption::Text(id.to_owned()));
        }
        let key = repeat_key(name, &repeat)?;
        let prefix = iteration_id_prefix(name, &repeat, &key);
        let remove = RemoveRepeatable {
            keys: &self.keys,
            repeat_key: &key,
            id_prefix: &prefix,
        };
        Ok(remove.run(&self.conn).await?)
    }

    /// Removes job `id` if it is still delayed (waiting for its time). Returns whether it was.
    pub async fn remove_delayed(&self, id: &str) -> QueueResult<bool> {
        let remove = RemoveDelayed {
            keys: &self.keys,
            id,
        };
        Ok(remove.run(&self.conn).await?)
    }

    /// The registered repeat series: `(repeat key, next run ms)`.
    pub async fn repeatable_keys(&self) -> QueueResult<Vec<(String, i64)>> {
        let mut conn = self.conn.clone();
        let entries: Vec<(String, f64)> = conn.zrange_withscores(self.keys.repeat(), 0, -1).await?;
        Ok(entries
            .into_iter()
            .map(|(key, score)| (key, score as i64))
            .collect())
    }
}
