//! A failed attempt, written with Bull's rules: retried at once, retried after its backoff, or
//! failed for good (retention, the `failed` event and the dead letter, in one script).

use serde_json::Value;

use super::JobFailure;
use super::backoff_sleep;
use super::event_loop::Run;
use crate::dead_letters::dead_letter_job;
use crate::job::Job;
use crate::now_ms;
use crate::options::Retention;
use crate::producer::prepare_add;
use crate::scripts::{Fail, FailMode, JobStatus};

/// Stack entries a postponed job keeps when its options set no `stackTraceLimit`.
const POSTPONED_STACK_ENTRIES: u64 = 10;

/// Numeric part of a job id as JS `id & 4095` sees it (0 for non-numeric ids).
fn id_low_bits(id: &str) -> i64 {
    id.parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
        .map(|value| (value as i64) & 4095)
        .unwrap_or(0)
}

impl<H> Run<'_, H> {
    /// Writes a failed attempt: immediate retry, backoff, or final failure with dead letter.
    pub(super) async fn fail(&mut self, job: &Job, failure: JobFailure) {
        let now = now_ms();
        let postpone = failure.postpone.filter(|_| !failure.permanent);
        // A postponed attempt was not the job's failure: it uses none of its attempts.
        let attempts_made = match postpone {
            Some(_) => job.attempts_made,
            None => job.attempts_made.saturating_add(1),
        };
        let mut reason = failure.message;
        let mut mode = FailMode::Fail;
        if let Some(delay) = postpone {
            let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 8192);
            let due = now.saturating_add(delay);
            mode = FailMode::Delay {
                score: due
                    .saturating_mul(4096)
                    .saturating_add(id_low_bits(&job.id)),
            };
            let _ = self.due_tx.send(due);
        } else if !failure.permanent && attempts_made < job.opts.total_attempts() {
            match job
                .opts
                .backoff
                .as_ref()
                .map(|backoff| backoff.delay_after(attempts_made))
            {
                None | Some(Ok(None)) => mode = FailMode::Retry,
                Some(Ok(Some(delay))) => {
                    let due = now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX / 8192));
                    mode = FailMode::Delay {
                        score: due
                            .saturating_mul(4096)
                            .saturating_add(id_low_bits(&job.id)),
                    };
                    let _ = self.due_tx.send(due);
                }
                Some(Err(error)) => reason = format!("{reason} ({error})"),
            }
        }
        let shared = &self.shared;
        // A final failure adds its dead letter first, then what the handler owes others.
        let mut final_adds = Vec::new();
        if mode == FailMode::Fail {
            let letter = shared
                .options
                .dead_letter_queue
                .as_ref()
                .map(|queue| dead_letter_job(queue, job, &reason, now, attempts_made));
            for new_job in letter.iter().chain(&failure.outputs_if_final) {
                match prepare_add(shared.keys.prefix(), new_job, now) {
                    Ok(Some(record)) => final_adds.push(record),
                    Ok(None) => {}
                    Err(error) => tracing::warn!(
                        id = %job.id,
                        queue = %new_job.queue,
                        %error,
                        "a job owed with this failure cannot be added; it is dropped"
                    ),
                }
            }
        }
        let mut now_adds = Vec::new();
        for new_job in &failure.outputs_now {
            match prepare_add(shared.keys.prefix(), new_job, now) {
                Ok(Some(record)) => now_adds.push(record),
                Ok(None) => {}
                Err(error) => tracing::warn!(
                    id = %job.id,
                    queue = %new_job.queue,
                    %error,
                    "a job owed with this failed attempt cannot be added; it is dropped"
                ),
            }
        }
        let stack_entry = format!(
            "Error: {reason}\n    at guildhost worker ({})",
            shared.keys.name()
        );
        let call = Fail {
            keys: &shared.keys,
            id: &job.id,
            token: &shared.token,
            now,
            mode,
            reason: &reason,
            stack_entry: &stack_entry,
            stack_trace_limit: match (
                job.opts
                    .extra
                    .get("stackTraceLimit")
                    .and_then(Value::as_u64),
                postpone,
            ) {
                (Some(limit), _) => limit,
                // A job postponed through an hour's outage would gather an entry every few
                // seconds: the last ones say enough.
                (None, Some(_)) => POSTPONED_STACK_ENTRIES,
                (None, None) => 0,
            },
            attempts_made,
            lifo: job.opts.lifo.unwrap_or(false),
            retention: Retention::from_option(job.opts.remove_on_fail.as_ref()),
            metrics_points: shared.options.metrics_points,
            final_adds: &final_adds,
            now_adds: &now_adds,
            notes: &failure.notes,
        };
        let mut failures = 0;
        let status = loop {
            match call.run(&shared.conn).await {
                Ok(status) => break Some(status),
                Err(error) if failures < 6 => {
                    tracing::warn!(id = %job.id, %error, "recording a failure failed; retrying");
                    backoff_sleep(&mut failures).await;
                }
                Err(error) => {
                    // Left in `active` without renewal: the stalled check will recover it.
                    tracing::error!(id = %job.id, %error, "could not record a failure");
                    break None;
                }
            }
        };
        self.shared.unhold(&job.id);
        self.stats.failed_attempts += 1;
        match status {
            // As the seed's pattern logs them: an attempt that will be retried is a warning, a
            // job that failed for good an error, each with what an operator needs to find it.
            Some(JobStatus::Done) if mode == FailMode::Fail => {
                self.stats.dead_lettered += 1;
                tracing::error!(
                    queue = shared.keys.name(),
                    id = %job.id,
                    r#type = %job.name,
                    attempts = attempts_made,
                    %reason,
                    "job failed for good"
                );
            }
            Some(JobStatus::Done) if postpone.is_some() => tracing::warn!(
                queue = shared.keys.name(),
                id = %job.id,
                r#type = %job.name,
                attempts = attempts_made,
                %reason,
                "attempt postponed (not the job's failure; no attempt used)"
            ),
            Some(JobStatus::Done) => tracing::warn!(
                queue = shared.keys.name(),
                id = %job.id,
                r#type = %job.name,
                attempts = attempts_made,
                of = job.opts.total_attempts(),
                %reason,
                mode = mode.as_arg(),
                "attempt failed; will retry"
            ),
            None => {}
            Some(status) => {
                self.stats.stale += 1;
                tracing::warn!(id = %job.id, status = status.code(), "failure refused (lock lost); nothing written");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ids_give_their_low_bits_and_others_zero() {
        assert_eq!(id_low_bits("17"), 17);
        assert_eq!(id_low_bits("4097"), 1);
        assert_eq!(id_low_bits("custom-7"), 0);
        assert_eq!(id_low_bits("repeat:abc:1795759784000"), 0);
    }
}
