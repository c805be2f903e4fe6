//! One attempt of a job, from arrival to outcome: taking jobs in (under our lock), accepting them
//! (bad input failed at once, the next repeat iteration scheduled, the rest queued for a slot),
//! running the handler (timeout, panic, lost lock), and settling what it returned.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;

use super::event_loop::Run;
use super::finish::FinishItem;
use super::{Completion, Held, JobFailure, JobHandler, Shared};
use crate::error::QueueResult;
use crate::job::Job;
use crate::now_ms;
use crate::options::Retention;
use crate::packed::Taken;
use crate::producer::{prepare_add, prepare_next_iteration};
use crate::scripts::{Add, Take};

/// How a handler run ended.
pub(super) enum Outcome {
    /// The handler returned (or timed out, or panicked: a failure).
    Done(Result<Completion, JobFailure>),
    /// The job's lock was lost meanwhile: whatever the handler did is discarded.
    LockLost,
}

/// A running handler.
pub(super) type InFlight = Pin<Box<dyn Future<Output = (Arc<Job>, Outcome)> + Send>>;

/// A taken job waiting for a free slot, with its lock state.
pub(super) type Ready = (Arc<Job>, Arc<Held>);

impl Shared {
    /// Takes `popped` (a job the blocking wait moved into `active`) and up to `count` waiting
    /// jobs under our lock.
    pub(super) async fn take(&self, popped: Option<&str>, count: usize) -> QueueResult<Vec<Taken>> {
        let take = Take {
            keys: &self.keys,
            queue: &self.queue,
            token: &self.token,
            lock_millis: self.lock_millis(),
            now: now_ms(),
            count,
            popped,
            publish_always: self.publish_always(),
        };
        take.run(&self.conn).await
    }

    /// Adds the iteration of `job`'s repeat series that follows it (unless the series is over or
    /// was removed).
    async fn schedule_next_iteration(&self, job: &Job, now: i64) {
        match prepare_next_iteration(self.keys.prefix(), job, now) {
            Ok(Some(record)) => {
                let add = Add {
                    keys: &self.keys,
                    token: &self.token,
                    records: std::slice::from_ref(&record),
                };
                if let Err(error) = add.run(&self.conn).await {
                    tracing::warn!(id = %job.id, %error, "scheduling the next repeat iteration failed");
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(id = %job.id, %error, "repeat options unusable; series not continued")
            }
        }
    }
}

impl<H: JobHandler> Run<'_, H> {
    /// Starts the handler for a taken job.
    pub(super) fn start(&self, job: Arc<Job>, held: Arc<Held>) -> InFlight {
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
}

impl<H> Run<'_, H> {
    /// Turns taken hashes into jobs: cleans up bad input, schedules repeat iterations, queues the
    /// rest for the handler.
    pub(super) async fn accept(&mut self, taken: Vec<Taken>) {
        let now = now_ms();
        let mut jobs = Vec::with_capacity(taken.len());
        for entry in taken {
            match entry {
                Taken::Orphan(id) => {
                    tracing::warn!(%id, "job id in wait without a hash; removed from active")
                }
                Taken::Job(mut job) => {
                    job.processed_on = Some(now);
                    job.lock_token = Some(self.shared.token_arc());
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
                self.shared.schedule_next_iteration(&job, now).await;
            }
            self.backlog.push_back((job, held));
        }
    }

    /// Records the outcome of one attempt: completions are batched, failures written at once.
    pub(super) async fn settle(&mut self, job: Arc<Job>, outcome: Outcome) {
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
                self.done.push(FinishItem {
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
}
