//! The command job is the command: a job the API put on a `bot:*` queue completes when what it
//! asked for has been done on Discord (its returnvalue says what was done), and fails with
//! Discord's reason when it could not be — at once for a refusal, with the job's own
//! `attempts`/`backoff` for an error that may pass — so Bull's `job.finished()` in Node tells
//! the real outcome and the last failure lands in the dead letters.
//!
//! The plugins' replies to the job become its [`Plan`]: the commands to run now, in the order
//! the plugins gave them (the moderation plugin's DM before its ban), and what is owed with the
//! job's outcome whatever it is (events such as `CASE_CREATED`, commands for later, warnings for
//! the moderation plugin, one `MODERATION_ACTION_COMPLETED` per moderation step). The plan is
//! noted on the job itself (a field of its hash, `Queue::note`) before its first step runs, and
//! each step's outcome but the last as soon as it is known, so a retry — or another host, after
//! this one was killed — reads it back with the job and resumes at the first step not done
//! instead of asking the plugins again: a case is opened once, a ban is sent once. The notes go
//! with the job's hash (its retention, its removal), so there is nothing else to keep or expire.
//! A step cut off between Discord acting and its record being written runs again
//! with the same nonce (posts, DMs: Discord keeps one message per nonce) or is idempotent
//! (bans, kicks, timeouts, roles, deletions), so Discord acts once.
//!
//! What the plan owes is enqueued in the same script that completes or finally fails the job,
//! so it is published exactly once.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::Config;
use crate::discord::{DiscordError, Outcome};
use crate::protocol::{Message, TypePolicy};
use crate::queue::{Completion, Job, JobFailure, JobOptions, NewJob, Queue, RedisConn};

use super::executor::moderation_report;
use super::guild_order::{GuildOrder, Place};
use super::outputs::derived_id;
use super::routes::EXECUTE_QUEUE;

/// Report ids are derived past the plugins' outputs' indexes.
const REPORT_INDEX_BASE: usize = 1 << 20;

/// Runs one command against Discord now (the executor, with its token gate, dry run and
/// metrics).
pub trait RunCommand: Send + Sync + 'static {
    /// One attempt at `message`.
    fn run_command<'a>(
        &'a self,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<Outcome, DiscordError>>;
}

/// A job as a plan keeps it (what [`NewJob`] holds, in JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PlannedJob {
    queue: String,
    name: String,
    data: String,
    opts: JobOptions,
}

impl From<NewJob> for PlannedJob {
    fn from(job: NewJob) -> Self {
        Self {
            queue: job.queue,
            name: job.name,
            data: job.data,
            opts: job.opts,
        }
    }
}

impl From<PlannedJob> for NewJob {
    fn from(job: PlannedJob) -> Self {
        NewJob::new(job.queue, job.name, job.data).with_opts(job.opts)
    }
}

/// What a command job does: its steps, what it owes, and the plugins' report for its
/// returnvalue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    steps: Vec<PlannedJob>,
    owed: Vec<PlannedJob>,
    plugins: Value,
    /// Whether the job alone determines the plan (no plugin took part): such a plan is not
    /// recorded, a retry works it out again the same.
    #[serde(default)]
    derived: bool,
}

impl Plan {
    /// The plan of the jobs the plugins' replies became: commands for the executor with no
    /// delay are its steps, the rest is owed with the outcome.
    pub fn from_replies(replies: Vec<NewJob>, plugins: Value) -> Plan {
        let (steps, owed): (Vec<NewJob>, Vec<NewJob>) = replies
            .into_iter()
            .partition(|job| job.queue == EXECUTE_QUEUE && job.opts.delay.unwrap_or(0) == 0);
        Plan {
            steps: steps.into_iter().map(PlannedJob::from).collect(),
            owed: owed.into_iter().map(PlannedJob::from).collect(),
            plugins,
            derived: false,
        }
    }

    /// The same plan, marked as one the job alone determines (no plugin call made it), so it
    /// needs no record: its steps are executed as they are, with the job's own nonce.
    pub fn derived_from_the_job(mut self) -> Plan {
        self.derived = true;
        self
    }
}

/// Runs command jobs' plans, noting them and their progress on the jobs themselves.
#[derive(Clone)]
pub struct CommandJobs {
    conn: RedisConn,
    prefix: String,
    config: Arc<Config>,
    runner: Arc<dyn RunCommand>,
    order: Arc<GuildOrder>,
}

impl std::fmt::Debug for CommandJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandJobs")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// How a step ended.
enum StepEnd {
    Done(Value),
    Failed(String),
    NotReached(String),
}

impl CommandJobs {
    /// Command jobs under `prefix`, their steps run by `runner`.
    pub fn new(
        conn: RedisConn,
        prefix: &str,
        config: Arc<Config>,
        runner: Arc<dyn RunCommand>,
    ) -> Self {
        Self {
            conn,
            prefix: prefix.to_owned(),
            config,
            runner,
            order: Arc::default(),
        }
    }

    /// The plan an earlier attempt of `job` noted on it, if any (read with the job: no trip to
    /// Redis).
    fn saved_plan(job: &Job) -> Result<Option<Plan>, JobFailure> {
        match job.notes.get("plan") {
            None => Ok(None),
            Some(text) => serde_json::from_str(text).map(Some).map_err(|e| {
                JobFailure::permanent(format!("the job's noted plan cannot be read: {e}"))
            }),
        }
    }

    /// Notes `notes` on `job` (with it in Redis, under the worker's lock).
    async fn note(&self, job: &Job, notes: &[(&str, &str)]) -> Result<(), JobFailure> {
        let queue = Queue::new(self.conn.clone(), &self.prefix, &job.queue);
        match queue.note(job, notes).await {
            Ok(true) => Ok(()),
            // Another worker holds the job now: this attempt must not act for it.
            Ok(false) => Err(JobFailure::retryable(
                "the job's lock was lost before its plan was noted; another worker has it",
            )),
            Err(e) => Err(JobFailure::retryable(format!(
                "noting the job's progress: {e}"
            ))),
        }
    }

    /// The outcomes of the steps an earlier attempt noted as done, by index.
    fn done_steps(job: &Job) -> Vec<Option<Value>> {
        let mut done = Vec::new();
        for (name, value) in &job.notes {
            let Some(index) = name
                .strip_prefix("done:")
                .and_then(|i| i.parse::<usize>().ok())
                .filter(|&i| i < 1024)
            else {
                continue;
            };
            if done.len() <= index {
                done.resize(index + 1, None);
            }
            done[index] = Some(serde_json::from_str(value).unwrap_or(Value::Null));
        }
        done
    }

    /// Carries out a new plan for `job`: a plan with no step completes the job with what it owes
    /// at once (nothing to record); one with steps is recorded, then run.
    pub async fn start(
        &self,
        job: &Job,
        plan: Plan,
        place: Place,
    ) -> Result<Completion, JobFailure> {
        if plan.steps.is_empty() {
            return Ok(Completion::value(json!({ "plugins": plan.plugins }))
                .with_outputs(plan.owed.into_iter().map(NewJob::from).collect()));
        }
        self.carry_out(job, plan, true, place).await
    }

    /// Resumes the plan an earlier attempt of `job` recorded, if there is one; `place` is
    /// given back when there is none.
    pub async fn resume(
        &self,
        job: &Job,
        place: Place,
    ) -> Result<Result<Completion, JobFailure>, Place> {
        match Self::saved_plan(job) {
            Ok(Some(plan)) => Ok(self.carry_out(job, plan, false, place).await),
            Ok(None) => Err(place),
            Err(failure) => Ok(Err(failure)),
        }
    }

    /// A place in `guild`'s line for the steps of a job taken now: one guild's commands reach
    /// Discord in the order their jobs were taken.
    pub fn place(&self, guild: Option<crate::protocol::Snowflake>) -> Place {
        self.order.place(guild)
    }

    /// Runs `plan` for `job` from its first step not done, writing the plan first when it is
    /// new. The job's result: completed with what was done, or failed with Discord's reason
    /// (what the plan owes is added when the failure is final).
    async fn carry_out(
        &self,
        job: &Job,
        plan: Plan,
        new: bool,
        place: Place,
    ) -> Result<Completion, JobFailure> {
        let recorded = !plan.derived;
        let mut done = if !new {
            Self::done_steps(job)
        } else if recorded {
            let text = serde_json::to_string(&plan)
                .map_err(|e| JobFailure::permanent(format!("encoding the job's plan: {e}")))?;
            self.note(job, &[("plan", &text)]).await?;
            Vec::new()
        } else {
            Vec::new()
        };
        done.resize(plan.steps.len(), None);
        let last_step = plan.steps.len().saturating_sub(1);
        // The guild's turn covers the steps only: records, plugins and the next job's plan run
        // beside it.
        let turn = place.turn().await;
        let mut ends: Vec<StepEnd> = Vec::with_capacity(plan.steps.len());
        let mut failure: Option<(String, bool)> = None;
        for (index, step) in plan.steps.iter().enumerate() {
            if let Some(outcome) = done[index].take() {
                ends.push(StepEnd::Done(outcome));
                continue;
            }
            if let Some((reason, _)) = &failure {
                ends.push(StepEnd::NotReached(format!(
                    "not carried out: an earlier step failed ({reason})"
                )));
                continue;
            }
            let message = Message::decode_with(step.data.as_bytes(), TypePolicy::Strict)
                .map_err(|e| JobFailure::permanent(format!("step {index}: invalid message: {e}")));
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    failure = Some((e.message.clone(), true));
                    ends.push(StepEnd::Failed(e.message));
                    continue;
                }
            };
            match self.runner.run_command(&message).await {
                Ok(outcome) => {
                    let outcome = serde_json::to_value(&outcome).unwrap_or(Value::Null);
                    // The last step needs no record: once it is done the job completes, and a
                    // retry after a lost completion repeats it with the same nonce (posts) or
                    // idempotently (the rest).
                    if recorded && index != last_step {
                        let name = format!("done:{index}");
                        self.note(job, &[(&name, &outcome.to_string())]).await?;
                    }
                    ends.push(StepEnd::Done(outcome));
                }
                Err(error) => {
                    let (reason, permanent) = describe(&step.name, &error);
                    failure = Some((reason.clone(), permanent));
                    ends.push(StepEnd::Failed(reason));
                }
            }
        }
        drop(turn);
        let attempt = job.attempts_made.saturating_add(1);
        let mut owed: Vec<NewJob> = plan.owed.iter().cloned().map(NewJob::from).collect();
        owed.extend(self.reports(job, &plan, &ends, &failure, attempt)?);
        match failure {
            None => {
                let done: Vec<Value> = plan
                    .steps
                    .iter()
                    .zip(&ends)
                    .map(|(step, end)| match end {
                        StepEnd::Done(outcome) => json!({ "type": step.name, "outcome": outcome }),
                        _ => json!({ "type": step.name }),
                    })
                    .collect();
                let published: Vec<Value> = plan
                    .owed
                    .iter()
                    .map(|job| {
                        let data = serde_json::from_str::<Value>(&job.data)
                            .ok()
                            .and_then(|mut v| v.get_mut("data").map(Value::take))
                            .unwrap_or(Value::Null);
                        json!({ "type": job.name, "queue": job.queue, "data": data })
                    })
                    .collect();
                Ok(Completion::value(json!({
                    "plugins": plan.plugins,
                    "done": done,
                    "published": published,
                }))
                .with_outputs(owed))
            }
            Some((reason, permanent)) => {
                let failure = if permanent {
                    JobFailure::permanent(reason)
                } else {
                    JobFailure::retryable(reason)
                };
                Err(failure.with_outputs_if_final(owed))
            }
        }
    }

    /// One `MODERATION_ACTION_COMPLETED` per moderation step, as the job's outcome would have
    /// it if it were final.
    fn reports(
        &self,
        job: &Job,
        plan: &Plan,
        ends: &[StepEnd],
        failure: &Option<(String, bool)>,
        attempt: u32,
    ) -> Result<Vec<NewJob>, JobFailure> {
        let mut reports = Vec::new();
        for (index, (step, end)) in plan.steps.iter().zip(ends).enumerate() {
            let Ok(message) = Message::decode_with(step.data.as_bytes(), TypePolicy::Strict) else {
                continue;
            };
            let error = match end {
                StepEnd::Done(_) => None,
                StepEnd::Failed(reason) => Some(match failure {
                    Some((_, false)) => format!("failed at each of {attempt} attempts: {reason}"),
                    _ => reason.clone(),
                }),
                StepEnd::NotReached(reason) => Some(reason.clone()),
            };
            let id = derived_id(&job.queue, &job.id, REPORT_INDEX_BASE + index);
            if let Some(report) = moderation_report(&self.config, &message, id, error)
                .map_err(JobFailure::permanent)?
            {
                reports.push(report);
            }
        }
        Ok(reports)
    }
}

/// The job's failure reason for a step Discord did not carry out, and whether no retry can help.
fn describe(step: &str, error: &DiscordError) -> (String, bool) {
    match error {
        DiscordError::Permanent { code, message } => (
            format!("{step}: refused by Discord ({code}): {message}"),
            true,
        ),
        DiscordError::NotExecutable(reason) => (format!("{step}: {reason}"), true),
        DiscordError::Unauthorized => (
            format!("{step}: unauthorized: the bot token was rejected"),
            false,
        ),
        DiscordError::Retriable(reason) => (format!("{step}: {reason}"), false),
    }
}
