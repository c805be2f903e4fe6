//! The differential tester: a sequence of queue operations, generated from a seed, runs twice
//! on one Redis — once with Node's `bull` doing everything, once with guildhost's producer and
//! worker in Bull's place — and after every step the two runs are compared on what Node
//! observes (counts, metrics, jobs per state, each job's state and outcome, repeatable jobs) and
//! on a normalized dump of the queue's Redis keys. A sequence that diverges is shrunk to a
//! minimal one, which becomes a regression test (`tests/fixtures/difftest/`).
//!
//! Operations without a guildhost counterpart (`take`, which plays a crashed Node worker,
//! `remove`, `retry`, `promote`, `clean`, `empty`) are Node's in both runs: what is compared is
//! how guildhost's adds, pauses and worker meet them.

mod agent;
mod dump;
mod generate;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use guildhost::queue::{
    Completion, JobFailure, JobOptions, Queue, RedisConn, RepeatOptions, Worker, WorkerOptions,
    handler_fn,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use agent::Agent;
pub use generate::generate;

/// The queue every run uses (under its own prefix).
const QUEUE: &str = "diff";
/// Delayed jobs due within this long are waited for by `work`.
const HORIZON_MS: i64 = 300;
/// `work` gives up after this long.
const WORK_CAP: Duration = Duration::from_secs(10);
/// Bull's `metrics.maxDataPoints` on both sides.
const METRICS_POINTS: u32 = 100;
/// How long each attempt lasts (the Node agent's `ATTEMPT_MS`).
const ATTEMPT: Duration = Duration::from_millis(3);

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Op {
    /// `queue.add(name, data, opts)`.
    Add {
        /// Job name.
        name: String,
        /// Job data (`outcome`, `value`, `reason` steer the handler).
        data: Value,
        /// Bull options, as Node would pass them.
        opts: Value,
    },
    /// A worker processes until nothing is waiting or due within the horizon, then stops.
    Work,
    /// Global pause.
    Pause,
    /// Global resume.
    Resume,
    /// A Node worker takes a job and crashes (its lock is gone).
    Take,
    /// `job.remove()` of the n-th id seen (modulo).
    Remove {
        /// Index into the ids seen so far.
        job: usize,
    },
    /// `job.retry()` of the n-th id seen.
    Retry {
        /// Index into the ids seen so far.
        job: usize,
    },
    /// `job.promote()` of the n-th id seen.
    Promote {
        /// Index into the ids seen so far.
        job: usize,
    },
    /// `queue.clean(0, state)`.
    Clean {
        /// `completed`, `failed`, `delayed`, `wait`...
        state: String,
    },
    /// `queue.empty()`.
    Empty,
    /// `queue.removeRepeatable(name, repeat)`.
    RemoveRepeatable {
        /// The series' job name.
        name: String,
        /// Its repeat options.
        repeat: Value,
    },
}

/// Which engine plays the producer and the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Node's bull for everything.
    Node,
    /// guildhost's producer and worker where they exist.
    Guildhost,
}

/// What one run saw after each step: the step's reply, Node's observation, the Redis dump.
pub type Trace = Vec<Value>;

/// Where two runs first differ.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// The step (0-based) after which they differ.
    pub step: usize,
    /// Node's run at that step.
    pub node: Value,
    /// guildhost's run at that step.
    pub guildhost: Value,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (node, guildhost) = dump::first_difference(&self.node, &self.guildhost);
        write!(
            f,
            "after step {}: node has {node}, guildhost has {guildhost}",
            self.step
        )
    }
}

/// Runs `ops` with `side` under a fresh prefix and returns what was seen after each step.
pub async fn run(conn: &RedisConn, ops: &[Op], side: Side) -> anyhow::Result<Trace> {
    let prefix = crate::unique_prefix("difftest");
    let result = run_under(conn, &prefix, ops, side).await;
    let _ = crate::cleanup(conn, &prefix).await;
    result
}

async fn run_under(
    conn: &RedisConn,
    prefix: &str,
    ops: &[Op],
    side: Side,
) -> anyhow::Result<Trace> {
    let mut agent = Agent::start(prefix, QUEUE, METRICS_POINTS).await?;
    let queue = Queue::new(conn.clone(), prefix, QUEUE);
    let mut ids: Vec<String> = Vec::new();
    let mut trace = Vec::with_capacity(ops.len());
    for op in ops {
        let reply = step(&mut agent, &queue, conn, prefix, op, side, &ids).await?;
        if let (Op::Add { .. }, Ok(Value::String(id))) = (op, &reply)
            && !ids.contains(id)
        {
            ids.push(id.clone());
        }
        if let (Op::Take, Ok(Value::String(id))) = (op, &reply)
            && !ids.contains(id)
        {
            ids.push(id.clone());
        }
        let observed = agent
            .call(json!({"op": "observe", "ids": ids}))
            .await?
            .map_err(|error| anyhow::anyhow!("observe failed: {error}"))?;
        let counts = queue.job_counts().await?;
        let keys = dump::dump(conn, prefix, QUEUE).await?;
        trace.push(dump::normalize(json!({
            "reply": match reply {
                Ok(value) => json!({"ok": value}),
                Err(_) => json!({"error": true}),
            },
            "node": observed,
            "guildhostCounts": [counts.waiting, counts.active, counts.completed, counts.failed, counts.delayed, counts.paused],
            "keys": keys,
        })));
    }
    agent.close().await;
    Ok(trace)
}

/// One step; `Err` is the operation's own failure (a refused add), compared as such.
async fn step(
    agent: &mut Agent,
    queue: &Queue,
    conn: &RedisConn,
    prefix: &str,
    op: &Op,
    side: Side,
    ids: &[String],
) -> anyhow::Result<Result<Value, String>> {
    let nth = |n: usize| ids.get(n % ids.len().max(1)).cloned().unwrap_or_default();
    let request = match (op, side) {
        (Op::Add { name, data, opts }, Side::Guildhost) => {
            let opts = match JobOptions::from_json(&opts.to_string()) {
                Ok(opts) => opts,
                Err(error) => return Ok(Err(error.to_string())),
            };
            return Ok(queue
                .add(name, &data.to_string(), opts)
                .await
                .map(Value::String)
                .map_err(|error| error.to_string()));
        }
        (Op::Pause, Side::Guildhost) => return Ok(pause(queue.pause().await)),
        (Op::Resume, Side::Guildhost) => return Ok(pause(queue.resume().await)),
        (Op::Work, Side::Guildhost) => return guildhost_work(conn, prefix).await.map(Ok),
        (Op::RemoveRepeatable { name, repeat }, Side::Guildhost) => {
            let Ok(repeat) = serde_json::from_value::<RepeatOptions>(repeat.clone()) else {
                return Ok(Err("repeat options".to_owned()));
            };
            return Ok(queue
                .remove_repeatable(name, &repeat, None)
                .await
                .map(|_| Value::Null)
                .map_err(|error| error.to_string()));
        }
        (Op::Add { name, data, opts }, Side::Node) => {
            json!({"op": "add", "name": name, "data": data, "opts": opts})
        }
        (Op::Work, Side::Node) => json!({"op": "work", "horizonMs": HORIZON_MS}),
        (Op::Pause, Side::Node) => json!({"op": "pause"}),
        (Op::Resume, Side::Node) => json!({"op": "resume"}),
        (Op::RemoveRepeatable { name, repeat }, Side::Node) => {
            json!({"op": "removeRepeatable", "name": name, "repeat": repeat})
        }
        (Op::Take, _) => json!({"op": "take"}),
        (Op::Remove { job }, _) => json!({"op": "remove", "jobId": nth(*job)}),
        (Op::Retry { job }, _) => json!({"op": "retry", "jobId": nth(*job)}),
        (Op::Promote { job }, _) => json!({"op": "promote", "jobId": nth(*job)}),
        (Op::Clean { state }, _) => json!({"op": "clean", "graceMs": 0, "state": state}),
        (Op::Empty, _) => json!({"op": "empty"}),
    };
    agent.call(request).await
}

fn pause(result: guildhost::queue::QueueResult<()>) -> Result<Value, String> {
    result
        .map(|()| Value::Null)
        .map_err(|error| error.to_string())
}

/// guildhost's worker in Bull's place: processes until the queue drains as the Node agent's
/// `work` sees it, then stops.
async fn guildhost_work(conn: &RedisConn, prefix: &str) -> anyhow::Result<Value> {
    let worker = Worker::new(
        conn.clone(),
        prefix,
        QUEUE,
        WorkerOptions {
            concurrency: 1,
            batch_size: 1,
            lock_duration: Duration::from_millis(1000),
            stalled_interval: Duration::from_millis(100),
            guard_interval: Duration::from_millis(50),
            drain_delay: Duration::from_millis(100),
            dead_letter_queue: None,
            shutdown_timeout: Duration::from_secs(2),
            metrics_points: METRICS_POINTS,
            ..WorkerOptions::default()
        },
    );
    let handler = handler_fn(|job: guildhost::queue::Job| async move {
        // As long as the Node agent's attempts: no two jobs finish in the same millisecond.
        tokio::time::sleep(ATTEMPT).await;
        let data: Value = serde_json::from_str(&job.data).unwrap_or(Value::Null);
        if data["outcome"] == "fail" {
            let reason = data["reason"].as_str().unwrap_or("failed").to_owned();
            Err(JobFailure::retryable(reason))
        } else {
            Ok(Completion::value(
                data.get("value").cloned().unwrap_or(Value::Null),
            ))
        }
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(async move {
        worker
            .run(handler, async {
                let _ = stopped.await;
            })
            .await
    });
    let started = Instant::now();
    let drained = loop {
        if dump::drained(conn, prefix, QUEUE, HORIZON_MS).await? {
            break true;
        }
        if started.elapsed() > WORK_CAP {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let _ = stop.send(());
    running
        .await
        .context("the worker task")?
        .context("the worker")?;
    if !drained {
        bail!("guildhost's work did not drain within {WORK_CAP:?}");
    }
    Ok(Value::Null)
}

/// Runs `ops` on both sides and returns where they first differ, if they do.
pub async fn compare(conn: &RedisConn, ops: &[Op]) -> anyhow::Result<Option<Divergence>> {
    let node = run(conn, ops, Side::Node).await?;
    let guildhost = run(conn, ops, Side::Guildhost).await?;
    Ok(node
        .into_iter()
        .zip(guildhost)
        .enumerate()
        .find(|(_, (node, guildhost))| node != guildhost)
        .map(|(step, (node, guildhost))| Divergence {
            step,
            node,
            guildhost,
        }))
}

/// Shrinks a diverging sequence: cut after the divergence, then drop steps one at a time while
/// the runs still differ (anywhere), within `budget`. Returns the smallest sequence found and its
/// divergence.
pub async fn shrink(
    conn: &RedisConn,
    ops: &[Op],
    divergence: Divergence,
    budget: Duration,
) -> anyhow::Result<(Vec<Op>, Divergence)> {
    let started = Instant::now();
    let mut best: Vec<Op> = ops[..=divergence.step.min(ops.len() - 1)].to_vec();
    let mut found = divergence;
    let mut index = best.len();
    while index > 0 && started.elapsed() < budget {
        index -= 1;
        let mut candidate = best.clone();
        candidate.remove(index);
        if candidate.is_empty() {
            continue;
        }
        if let Some(divergence) = compare(conn, &candidate).await? {
            candidate.truncate(divergence.step + 1);
            index = index.min(candidate.len());
            best = candidate;
            found = divergence;
        }
    }
    Ok((best, found))
}

/// The outcome of checking many sequences.
#[derive(Debug, Default)]
pub struct Campaign {
    /// Sequences run on both sides.
    pub sequences: u64,
    /// Steps run (per side).
    pub steps: u64,
    /// Shrunk divergences, with the seed that found each.
    pub divergences: Vec<(u64, Vec<Op>, String)>,
}

/// Generates and compares sequences from `first_seed` on until `budget` passes or `max` were
/// run, shrinking each divergence (at most `max_divergences` of them).
pub async fn campaign(
    conn: &RedisConn,
    first_seed: u64,
    max: u64,
    budget: Duration,
    max_divergences: usize,
) -> anyhow::Result<Campaign> {
    let started = Instant::now();
    let mut outcome = Campaign::default();
    let mut seed = first_seed;
    while outcome.sequences < max && started.elapsed() < budget {
        let ops = generate(seed);
        outcome.sequences += 1;
        outcome.steps += ops.len() as u64;
        if let Some(divergence) = compare(conn, &ops).await? {
            let (minimal, divergence) =
                shrink(conn, &ops, divergence, Duration::from_secs(60)).await?;
            outcome
                .divergences
                .push((seed, minimal, divergence.to_string()));
            if outcome.divergences.len() >= max_divergences {
                break;
            }
        }
        seed += 1;
    }
    Ok(outcome)
}
