//! Completions: jobs whose handler succeeded are sent in batched finish-and-take calls (each
//! completing jobs with their outputs and taking more, in one script), and the replies are
//! applied: completed, stale, or failed properly when an output was refused.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::event_loop::Run;
use super::{JobFailure, backoff_sleep};
use crate::error::QueueResult;
use crate::job::Job;
use crate::now_ms;
use crate::options::Retention;
use crate::packed::Taken;
use crate::scripts::{AddRecord, Finish, FinishReply, FinishedJob, JobStatus};

/// Finish-and-take calls sent without waiting for the previous one: while one is on its way the
/// loop keeps running handlers, and jobs finishing meanwhile go out in a second call instead of
/// waiting for the first reply.
pub(super) const FINISH_CALLS_IN_FLIGHT: usize = 2;

/// A completed job waiting to be sent.
pub(super) struct FinishItem {
    pub(super) job: Arc<Job>,
    /// The return value, JSON text.
    pub(super) return_value: String,
    /// `removeOnComplete`.
    pub(super) retention: Retention,
    /// The jobs added with the completion.
    pub(super) outputs: Vec<AddRecord>,
}

impl FinishItem {
    fn as_finished(&self) -> FinishedJob<'_> {
        FinishedJob {
            id: &self.job.id,
            return_value: &self.return_value,
            retention: self.retention,
            debounce_id: self.job.debounce_id.as_deref(),
            outputs: &self.outputs,
        }
    }
}

/// A finish-and-take call that came back, with what it was sent for.
pub(super) struct FinishCall {
    pub(super) items: Vec<FinishItem>,
    /// How many jobs it asked to take.
    pub(super) take: usize,
    pub(super) reply: QueueResult<FinishReply>,
}

/// A finish-and-take call on its way.
pub(super) type PendingFinish = Pin<Box<dyn Future<Output = FinishCall> + Send>>;

impl<H> Run<'_, H> {
    /// The call completing `items` and taking up to `take` jobs in one script; `announce_drained`
    /// publishes Bull's `drained` event if nothing was waiting. The request goes out when the
    /// returned future is first polled; nothing of the worker's state is touched until its reply
    /// is applied with [`Run::apply_statuses`].
    pub(super) fn finish_call(
        &self,
        items: Vec<FinishItem>,
        take: usize,
        announce_drained: bool,
    ) -> PendingFinish {
        let shared = &self.shared;
        let request = Finish {
            keys: &shared.keys,
            queue: &shared.queue,
            token: &shared.token,
            now: now_ms(),
            lock_millis: shared.lock_millis(),
            take,
            announce_drained,
            publish_always: shared.publish_always(),
            metrics_points: shared.options.metrics_points,
            jobs: items.iter().map(FinishItem::as_finished),
        }
        .prepare(&shared.conn);
        Box::pin(async move {
            let reply = request.send().await;
            FinishCall { items, take, reply }
        })
    }

    /// Applies a finish-and-take call that came back and returns the jobs it took; on an error
    /// its completions are queued again (transient) or finished one by one (refused).
    pub(super) async fn finished(&mut self, call: FinishCall) -> Option<Vec<Taken>> {
        match call.reply {
            Ok(reply) => {
                self.failures = 0;
                self.apply_statuses(&call.items, reply.statuses, reply.problems)
                    .await;
                Some(reply.taken)
            }
            Err(error) if error.is_transient() => {
                tracing::warn!(queue = %self.shared.keys.name(), %error, "finishing jobs failed; retrying");
                // Re-sending is safe: a completion that did go through is refused the second
                // time (its lock is gone), so nothing is recorded twice.
                self.done.splice(0..0, call.items);
                backoff_sleep(&mut self.failures).await;
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

    /// Records the per-job statuses of a finish call: completed, stale, or (output refused)
    /// failed properly since nothing of that job was written.
    async fn apply_statuses(
        &mut self,
        items: &[FinishItem],
        statuses: Vec<JobStatus>,
        problems: Vec<String>,
    ) {
        self.shared.unhold_all(
            items
                .iter()
                .zip(&statuses)
                .filter(|(_, status)| **status != JobStatus::OutputRefused)
                .map(|(item, _)| item.job.id.as_str()),
        );
        for ((item, status), problem) in items.iter().zip(statuses).zip(problems) {
            match status {
                JobStatus::OutputRefused => {
                    // Nothing of this job was written: it is still ours, so fail it properly.
                    let failure = JobFailure::permanent(format!(
                        "an output job was refused by Redis: {problem}"
                    ));
                    self.fail(&item.job, failure).await;
                }
                JobStatus::Done => self.stats.completed += 1,
                status => {
                    self.stats.stale += 1;
                    tracing::warn!(id = %item.job.id, status = status.code(), "completion refused (lock lost); nothing written");
                }
            }
        }
    }

    /// Completes `items` one call each (after Redis refused them as a batch), failing the jobs
    /// whose completion Redis refuses.
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

    /// Completes `items` and takes up to `take` jobs in one script call, waiting for the reply;
    /// gives the items back with the outcome.
    pub(super) async fn finish_and_take(
        &mut self,
        items: Vec<FinishItem>,
        take: usize,
        announce_drained: bool,
    ) -> (Vec<FinishItem>, QueueResult<Vec<Taken>>) {
        let call = self.finish_call(items, take, announce_drained).await;
        match call.reply {
            Ok(reply) => {
                self.apply_statuses(&call.items, reply.statuses, reply.problems)
                    .await;
                (call.items, Ok(reply.taken))
            }
            Err(error) => (call.items, Err(error)),
        }
    }
}
