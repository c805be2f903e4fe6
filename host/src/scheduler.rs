//! The operator's schedules: registers `[[schedules]]` and `[cleanup]` as Bull repeatable jobs
//! (and `at` ones as delayed jobs with a stable id), removes what guildhost registered earlier
//! that the configuration no longer has, and gives each run of a repeatable job its own message.
//!
//! * `task` raises `SCHEDULED_TASK` on `scheduled:tasks` for the plugins that subscribe;
//!   `[cleanup]` raises `CLEANUP_EXPIRED_CASES` on `cleanup:tasks`; `send` posts a message: a
//!   `SEND_MESSAGE` on the execution queue, which the executor runs as it runs any command.
//! * Several hosts register the same schedules. Bull's repeat key and iteration ids depend only
//!   on the schedule, so each run is one job, whichever host registered it or takes it. A
//!   schedule's message is part of its identity (a fingerprint in `repeat.jobId`), so a changed
//!   message is a new series and the old one is removed, not continued with stale data.
//! * A repeatable job carries one message for all its runs. [`Runs`] gives each run's copy the
//!   run's job id as message id (Discord's nonce derives from it), its scheduled time as
//!   `timestamp`, and as `expiredBefore` of a cleanup, and the following run as `nextRun` of a
//!   task.
//! * What guildhost registered is recorded in the hash `<prefix>:guildhost:schedules`; only
//!   entries recorded there are ever removed, so the API's own repeatable jobs are never touched.

use std::collections::HashMap;
use std::fmt;

use md5::{Digest, Md5};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Config, DEFAULT_CLEANUP_EVERY_MS};
use crate::dispatch::outputs::job_options;
use crate::dispatch::routes::EXECUTE_QUEUE;
use crate::protocol::{Message, MessageType, TaskType, Timestamp};
use crate::queue::{
    Completion, Job, JobFailure, JobHandler, JobIdOption, NewJob, Queue, QueueError, RedisConn,
    RepeatOptions, next_millis, now_ms, repeat_key,
};

/// Job names of guildhost's schedules start with this: `guildhost.<schedule>`. It tells [`Runs`]
/// which runs to stamp (and the API's repeatable jobs apart in a dashboard).
pub const JOB_NAME_PREFIX: &str = "guildhost.";

/// The schedule name `[cleanup]` registers under.
pub const CLEANUP_SCHEDULE: &str = "cleanup-expired-cases";

/// The hash recording what guildhost registered: one field per job series or one-off job.
pub fn registry_key(prefix: &str) -> String {
    format!("{prefix}:guildhost:schedules")
}

/// Why the schedules could not be registered.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A schedule is incomplete or its message breaks a protocol rule.
    #[error("schedule {schedule}: {problem}")]
    Invalid {
        /// The schedule's name.
        schedule: String,
        /// What is wrong.
        problem: String,
    },
    /// Redis or the queue refused.
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What [`register`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Series and one-off jobs registered now (a series already there is confirmed as it is).
    pub registered: Vec<String>,
    /// One-off jobs registered by an earlier start, left alone: each runs once.
    pub kept: Vec<String>,
    /// Series and pending one-off jobs guildhost registered earlier that are no longer
    /// configured.
    pub removed: Vec<String>,
}

/// When a schedule runs.
#[derive(Debug, Clone, PartialEq)]
enum When {
    Cron { cron: String, tz: Option<String> },
    Every(u64),
    At(i64),
}

impl When {
    /// Bull's `repeat` option (empty for a run-once schedule).
    fn repeat(&self) -> RepeatOptions {
        match self {
            Self::Cron { cron, tz } => RepeatOptions {
                cron: Some(cron.clone()),
                tz: tz.clone(),
                ..RepeatOptions::default()
            },
            Self::Every(every) => RepeatOptions {
                every: Some(*every),
                ..RepeatOptions::default()
            },
            Self::At(_) => RepeatOptions::default(),
        }
    }
}

impl fmt::Display for When {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cron { cron, tz: Some(tz) } => write!(f, "cron {cron:?} in {tz}"),
            Self::Cron { cron, tz: None } => write!(f, "cron {cron:?}"),
            Self::Every(millis) => write!(f, "every {millis} ms"),
            Self::At(millis) => match Timestamp::from_millis(*millis) {
                Some(at) => write!(f, "once at {at}"),
                None => write!(f, "once at {millis} ms"),
            },
        }
    }
}

/// What a schedule enqueues.
enum What<'a> {
    Task {
        task: TaskType,
        data: Option<&'a Value>,
    },
    Send(&'a Value),
    Cleanup {
        case_types: &'a [String],
    },
}

impl What<'_> {
    fn message_type(&self) -> MessageType {
        match self {
            Self::Task { .. } => MessageType::ScheduledTask,
            Self::Send(_) => MessageType::SendMessage,
            Self::Cleanup { .. } => MessageType::CleanupExpiredCases,
        }
    }

    fn queue(&self) -> &'static str {
        match self {
            Self::Send(_) => EXECUTE_QUEUE,
            other => other.message_type().queue().as_str(),
        }
    }
}

/// How a registration is recorded, so a later start can remove it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    queue: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repeat: Option<RepeatOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job_id: Option<String>,
}

/// One job series, or one one-off job, that the configuration asks for.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The schedule's name.
    pub schedule: String,
    /// When it runs, for the log.
    pub when: String,
    /// The job to add: repeatable, or delayed with a stable id.
    pub job: NewJob,
    kind: MessageType,
    field: String,
    record: Record,
}

impl Planned {
    fn describe(&self) -> String {
        format!(
            "{}: {} on {}, {}",
            self.schedule, self.kind, self.job.queue, self.when
        )
    }
}

/// The jobs `config` asks for, with messages timed at `now`: one per schedule, and one per
/// guild of `[cleanup]` (a single one for all guilds when it names none).
pub fn plan(config: &Config, now: i64) -> Result<Vec<Planned>, ScheduleError> {
    let mut planned = Vec::new();
    for schedule in &config.schedules {
        let invalid = |problem: &str| ScheduleError::Invalid {
            schedule: schedule.name.clone(),
            problem: problem.to_owned(),
        };
        let when = match (&schedule.cron, schedule.every, schedule.at) {
            (Some(cron), None, None) => When::Cron {
                cron: cron.clone(),
                tz: schedule.tz.clone(),
            },
            (None, Some(every), None) => When::Every(every),
            (None, None, Some(at)) => When::At(at.timestamp_millis()),
            _ => return Err(invalid("needs exactly one of `cron`, `every`, `at`")),
        };
        let what = match (&schedule.task, &schedule.send) {
            (Some(task), None) => What::Task {
                task: *task,
                data: schedule.data.as_ref(),
            },
            (None, Some(send)) => What::Send(send),
            _ => return Err(invalid("needs exactly one of `task`, `send`")),
        };
        planned.push(entry(
            config,
            &schedule.name,
            schedule.guild.as_deref(),
            &what,
            when,
            now,
        )?);
    }
    let cleanup = &config.cleanup;
    if cleanup.enabled {
        let when = match &cleanup.cron {
            Some(cron) => When::Cron {
                cron: cron.clone(),
                tz: cleanup.tz.clone(),
            },
            None => When::Every(cleanup.every.unwrap_or(DEFAULT_CLEANUP_EVERY_MS)),
        };
        let what = What::Cleanup {
            case_types: &cleanup.case_types,
        };
        let guilds: Vec<Option<&str>> = if cleanup.guilds.is_empty() {
            vec![None]
        } else {
            cleanup.guilds.iter().map(|g| Some(g.as_str())).collect()
        };
        for guild in guilds {
            planned.push(entry(
                config,
                CLEANUP_SCHEDULE,
                guild,
                &what,
                when.clone(),
                now,
            )?);
        }
    }
    Ok(planned)
}

fn entry(
    config: &Config,
    name: &str,
    guild: Option<&str>,
    what: &What<'_>,
    when: When,
    now: i64,
) -> Result<Planned, ScheduleError> {
    let job_name = format!("{JOB_NAME_PREFIX}{name}");
    let queue = what.queue();
    let build = |id: &str, time: i64| {
        message(name, id, guild, what, &when, time).map_err(|problem| ScheduleError::Invalid {
            schedule: name.to_owned(),
            problem,
        })
    };
    let mut opts = job_options(config, queue);
    let (data, field, record) = match &when {
        When::At(at) => {
            // The content fixes the id: Bull refuses a second job with it, and an edited
            // schedule is a new job (the old one is removed as no longer configured).
            let id = format!("{job_name}.{}", fingerprint(queue, &build(&job_name, *at)?));
            opts.job_id = Some(JobIdOption::Text(id.clone()));
            opts.delay = Some((at - now).max(0));
            let record = Record {
                queue: queue.to_owned(),
                name: job_name.clone(),
                repeat: None,
                job_id: Some(id.clone()),
            };
            (build(&id, *at)?, format!("{queue}|{id}"), record)
        }
        When::Cron { .. } | When::Every(_) => {
            let repeat = RepeatOptions {
                job_id: Some(JobIdOption::Text(fingerprint(queue, &build(&job_name, 0)?))),
                ..when.repeat()
            };
            let key = repeat_key(&job_name, &repeat)?;
            opts.repeat = Some(repeat.clone());
            let record = Record {
                queue: queue.to_owned(),
                name: job_name.clone(),
                repeat: Some(repeat),
                job_id: None,
            };
            (build(&job_name, now)?, format!("{queue}|{key}"), record)
        }
    };
    Ok(Planned {
        schedule: name.to_owned(),
        when: when.to_string(),
        job: NewJob::new(queue, job_name, data).with_opts(opts),
        kind: what.message_type(),
        field,
        record,
    })
}

/// The message of a schedule with id `id`, timed at `time` (ms); validated, as JSON text.
fn message(
    name: &str,
    id: &str,
    guild: Option<&str>,
    what: &What<'_>,
    when: &When,
    time: i64,
) -> Result<String, String> {
    let stamp = Timestamp::from_millis(time)
        .ok_or_else(|| format!("{time} ms is not a date the protocol can carry"))?
        .to_string();
    let data = match what {
        What::Task { task, data } => {
            let schedule = match when {
                When::Cron { cron, .. } => json!({ "cron": cron }),
                When::Every(every) => json!({ "interval": every }),
                When::At(_) => json!({ "runOnce": true }),
            };
            let mut body = json!({ "taskType": task, "schedule": schedule });
            if let Some(data) = data {
                body["taskData"] = (*data).clone();
            }
            body
        }
        What::Send(send) => (*send).clone(),
        What::Cleanup { case_types } => {
            let mut body = json!({ "caseTypes": case_types, "expiredBefore": stamp });
            if let Some(guild) = guild {
                body["guildId"] = json!(guild);
            }
            body
        }
    };
    let mut value = json!({
        "id": id,
        "type": what.message_type().as_str(),
        "timestamp": stamp,
        "source": "bot",
        "requestId": format!("schedule:{name}"),
        "data": data,
    });
    if let Some(guild) = guild {
        value["guildId"] = json!(guild);
    }
    Message::decode_value(value)
        .and_then(|message| message.to_json_string())
        .map_err(|error| error.to_string())
}

/// 16 hex digits of md5 over the queue and the message: the same on every host.
fn fingerprint(queue: &str, message: &str) -> String {
    let digest = Md5::new()
        .chain_update(queue.as_bytes())
        .chain_update([0])
        .chain_update(message.as_bytes())
        .finalize();
    hex::encode(digest)[..16].to_owned()
}

/// Registers the configured schedules under `config.redis.prefix` and removes the ones
/// guildhost registered earlier that are no longer configured. Safe to run on several hosts at
/// once: every step is idempotent, and Bull's ids keep one job per run.
pub async fn register(conn: &RedisConn, config: &Config) -> Result<Report, ScheduleError> {
    let prefix = config.redis.prefix.as_str();
    let planned = plan(config, now_ms())?;
    let registry = registry_key(prefix);
    let mut redis = conn.clone();
    let recorded: HashMap<String, String> =
        redis.hgetall(&registry).await.map_err(QueueError::from)?;
    let mut report = Report::default();

    for (field, value) in &recorded {
        if planned.iter().any(|entry| &entry.field == field) {
            continue;
        }
        match serde_json::from_str::<Record>(value) {
            Ok(record) => {
                let queue = Queue::new(conn.clone(), prefix, &record.queue);
                match (&record.repeat, &record.job_id) {
                    (Some(repeat), _) => {
                        queue.remove_repeatable(&record.name, repeat, None).await?;
                    }
                    (None, Some(id)) => {
                        queue.remove_delayed(id).await?;
                    }
                    (None, None) => {}
                }
                tracing::info!(schedule = %record.name, queue = %record.queue, "schedule no longer configured: removed");
                report.removed.push(record.name);
            }
            Err(error) => tracing::warn!(%field, %error, "unreadable schedule record dropped"),
        }
        let _: i64 = redis
            .hdel(&registry, field)
            .await
            .map_err(QueueError::from)?;
    }

    for entry in &planned {
        let queue = Queue::new(conn.clone(), prefix, &entry.job.queue);
        let record = serde_json::to_string(&entry.record).map_err(QueueError::from)?;
        let job = std::slice::from_ref(&entry.job);
        if entry.record.job_id.is_some() {
            // A one-off job runs once, even across restarts after its run removed it.
            if recorded.contains_key(&entry.field) {
                report.kept.push(entry.describe());
                continue;
            }
            // Added first: a crash before the record costs a duplicate add Bull refuses.
            queue.add_bulk(job).await?;
            let _: i64 = redis
                .hset(&registry, &entry.field, record)
                .await
                .map_err(QueueError::from)?;
        } else {
            // Recorded first: a crash before the add leaves no series this host cannot remove.
            let _: i64 = redis
                .hset(&registry, &entry.field, record)
                .await
                .map_err(QueueError::from)?;
            queue.add_bulk(job).await?;
        }
        tracing::info!(schedule = %entry.schedule, queue = %entry.job.queue, when = %entry.when, "schedule registered");
        report.registered.push(entry.describe());
    }
    Ok(report)
}

/// A job handler that gives each run of one of guildhost's repeatable jobs its own message
/// before `H` sees it; every other job passes through untouched.
#[derive(Debug)]
pub struct Runs<H>(pub H);

impl<H: JobHandler> JobHandler for Runs<H> {
    async fn handle(&self, job: &Job) -> Result<Completion, JobFailure> {
        match stamp_run(job) {
            Some(run) => self.0.handle(&run).await,
            None => self.0.handle(job).await,
        }
    }
}

/// The run's copy of a job of one of guildhost's series: message `id` = the run's job id,
/// `timestamp` = its scheduled time, which is also a cleanup's `expiredBefore`; a task's
/// `nextRun` = the run after it. `None` for any other job (or data that is not an object,
/// which the handler then rejects as it is).
pub fn stamp_run(job: &Job) -> Option<Job> {
    if !job.name.starts_with(JOB_NAME_PREFIX) {
        return None;
    }
    let repeat = job.opts.repeat.as_ref()?;
    let at = job.opts.prev_millis?;
    let time = Timestamp::from_millis(at)?.to_string();
    let mut message: Value = serde_json::from_str(&job.data).ok()?;
    let object = message.as_object_mut()?;
    object.insert("id".to_owned(), json!(job.id));
    object.insert("timestamp".to_owned(), json!(time));
    let kind = object.get("type").and_then(Value::as_str).unwrap_or("");
    let stamp = if kind == MessageType::CleanupExpiredCases.as_str() {
        Some(("expiredBefore", time))
    } else if kind == MessageType::ScheduledTask.as_str() {
        next_millis(&job.opts, repeat, at)
            .ok()
            .flatten()
            .and_then(Timestamp::from_millis)
            .map(|next| ("nextRun", next.to_string()))
    } else {
        None
    };
    if let Some((field, value)) = stamp
        && let Some(data) = object.get_mut("data").and_then(Value::as_object_mut)
    {
        data.insert(field.to_owned(), json!(value));
    }
    let mut run = job.clone();
    run.data = serde_json::to_string(&message).ok()?;
    Some(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ScheduleConfig;

    fn config(schedules: Vec<ScheduleConfig>) -> Config {
        Config {
            schedules,
            ..Config::default()
        }
    }

    fn backup() -> ScheduleConfig {
        ScheduleConfig {
            name: "backup".into(),
            cron: Some("0 3 * * *".into()),
            tz: Some("Europe/Berlin".into()),
            task: Some(TaskType::Backup),
            data: Some(json!({ "keep": 7 })),
            ..ScheduleConfig::default()
        }
    }

    #[test]
    fn a_schedule_plans_the_same_series_at_any_time_and_a_new_one_when_edited() {
        let first = plan(&config(vec![backup()]), 1_000).unwrap();
        let later = plan(&config(vec![backup()]), 9_999_000).unwrap();
        // The task and the default hourly cleanup.
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].field, later[0].field);
        assert_eq!(first[0].job.name, "guildhost.backup");
        assert_eq!(first[0].job.queue, "scheduled:tasks");
        assert_eq!(first[1].job.queue, "cleanup:tasks");
        assert_eq!(
            first[1].job.opts.repeat.as_ref().unwrap().every,
            Some(3_600_000)
        );
        let mut edited = backup();
        edited.data = Some(json!({ "keep": 8 }));
        assert_ne!(
            plan(&config(vec![edited]), 1_000).unwrap()[0].field,
            first[0].field
        );
    }

    #[test]
    fn each_run_gets_its_own_id_time_and_cutoff() {
        let mut cfg = config(Vec::new());
        cfg.cleanup.guilds = vec!["100000000000000001".into()];
        let planned = plan(&cfg, 1_000).unwrap().remove(0);
        let job = Job {
            queue: "cleanup:tasks".into(),
            id: "repeat:abc:7200000".into(),
            name: planned.job.name.clone(),
            data: planned.job.data.clone(),
            opts: crate::queue::JobOptions {
                prev_millis: Some(7_200_000),
                ..planned.job.opts.clone()
            },
            ..Job::default()
        };
        let run: Value = serde_json::from_str(&stamp_run(&job).unwrap().data).unwrap();
        assert_eq!(run["id"], "repeat:abc:7200000");
        assert_eq!(run["timestamp"], "1970-01-01T02:00:00.000Z");
        assert_eq!(run["data"]["expiredBefore"], "1970-01-01T02:00:00.000Z");
        assert_eq!(run["guildId"], "100000000000000001");
        // The API's own jobs are not touched.
        let foreign = Job {
            name: "CLEANUP_EXPIRED_CASES".into(),
            ..job
        };
        assert!(stamp_run(&foreign).is_none());
    }

    #[test]
    fn a_task_run_says_when_the_next_one_is() {
        let every = ScheduleConfig {
            name: "stats".into(),
            every: Some(60_000),
            task: Some(TaskType::Analytics),
            ..ScheduleConfig::default()
        };
        let planned = plan(&config(vec![every]), 0).unwrap().remove(0);
        let job = Job {
            id: "repeat:def:120000".into(),
            name: planned.job.name.clone(),
            data: planned.job.data.clone(),
            opts: crate::queue::JobOptions {
                prev_millis: Some(120_000),
                ..planned.job.opts.clone()
            },
            ..Job::default()
        };
        let run: Value = serde_json::from_str(&stamp_run(&job).unwrap().data).unwrap();
        assert_eq!(run["data"]["nextRun"], "1970-01-01T00:03:00.000Z");
        assert_eq!(run["data"]["schedule"], json!({ "interval": 60000 }));
        assert_eq!(run["data"]["taskType"], "ANALYTICS");
    }
}
