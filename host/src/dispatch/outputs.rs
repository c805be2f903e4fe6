//! Turning replies into jobs: the envelope an output message gets, the queue it goes to and the
//! Bull options it carries.

use md5::{Digest, Md5};

use crate::config::{BackoffKind, Config};
use crate::protocol::{self as p, Message};
use crate::queue::{Backoff, JobOptions, KeepJobs, NewJob, bull_priority_for_level};

use super::routes::{EXECUTE_QUEUE, publish_queue};

/// Bull options for a job added to `queue`, from the operator's settings for that queue.
pub fn job_options(config: &Config, queue: &str) -> JobOptions {
    let settings = config.queue(queue);
    JobOptions {
        attempts: Some(settings.attempts),
        backoff: Some(Backoff::Strategy {
            kind: match settings.backoff.kind {
                BackoffKind::Fixed => "fixed",
                BackoffKind::Exponential => "exponential",
            }
            .to_owned(),
            delay: Some(settings.backoff.delay),
            options: None,
        }),
        remove_on_complete: Some(keep(settings.remove_on_complete)),
        remove_on_fail: Some(keep(settings.remove_on_fail)),
        ..JobOptions::default()
    }
}

fn keep(count: u64) -> KeepJobs {
    KeepJobs::Count(i64::try_from(count).unwrap_or(i64::MAX))
}

/// An id for the `index`-th message produced by job `job_id` of `queue`: the same on every retry
/// of that job, so whatever is derived from it (Discord's nonce) is too.
pub fn derived_id(queue: &str, job_id: &str, index: usize) -> String {
    let digest = Md5::new()
        .chain_update(queue.as_bytes())
        .chain_update([0])
        .chain_update(job_id.as_bytes())
        .chain_update([0])
        .chain_update(index.to_le_bytes())
        .finalize();
    format!("gh-{}", hex::encode(digest))
}

/// The envelope of a message guildhost produces in reply to `incoming`: source `bot`, the
/// target guild (or the incoming one), the incoming user and request id so the API can follow
/// one request across services, and the incoming message's causal stamp (a plugin's reply is
/// restamped one level deeper by the dispatcher).
pub fn reply_envelope(
    incoming: &p::Envelope,
    id: String,
    guild: Option<p::Snowflake>,
) -> p::Envelope {
    let mut envelope = p::Envelope {
        id,
        timestamp: p::Timestamp::now(),
        source: p::Source::Bot,
        guild_id: guild.or(incoming.guild_id),
        user_id: incoming.user_id,
        request_id: incoming.request_id.clone(),
        priority: incoming.priority,
        extra: Default::default(),
    };
    super::causation::Causation::carry(incoming, &mut envelope);
    envelope
}

/// Where a reply goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A command for the executor.
    Execute,
    /// A command for the executor after `delay_ms`.
    ExecuteAfter {
        /// Delay in milliseconds.
        delay_ms: u64,
    },
    /// An event for the API.
    Publish,
}

/// The job carrying `message` along `route`, or why it cannot be enqueued.
pub fn reply_job(config: &Config, message: &Message, route: Route) -> Result<NewJob, String> {
    let data = message
        .to_validated_json_string()
        .map_err(|e| e.to_string())?;
    let type_name = message.payload.type_name();
    let queue = match route {
        Route::Execute | Route::ExecuteAfter { .. } => match message.payload.message_type() {
            Some(t) if t.is_command() => EXECUTE_QUEUE,
            _ => {
                return Err(format!(
                    "{type_name} is not a command and cannot be executed"
                ));
            }
        },
        Route::Publish => message
            .payload
            .message_type()
            .and_then(publish_queue)
            .ok_or_else(|| format!("{type_name} is not an event guildhost publishes"))?,
    };
    let mut opts = job_options(config, queue);
    if let Route::ExecuteAfter { delay_ms } = route {
        opts.delay = Some(i64::try_from(delay_ms).unwrap_or(i64::MAX));
    }
    if let Some(priority) = message.envelope.priority {
        opts.priority = bull_priority_for_level(Some(priority_level(priority))).ok();
    }
    Ok(NewJob::new(queue, type_name, data).with_opts(opts))
}

fn priority_level(priority: p::Priority) -> &'static str {
    match priority {
        p::Priority::High => "high",
        p::Priority::Normal => "normal",
        p::Priority::Low => "low",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(derived_id("q", "1", 0), derived_id("q", "1", 0));
        assert_ne!(derived_id("q", "1", 0), derived_id("q", "1", 1));
        assert_ne!(derived_id("q", "1", 0), derived_id("r", "1", 0));
        assert_ne!(derived_id("q", "11", 0), derived_id("q1", "1", 0));
    }

    #[test]
    fn replies_carry_the_queues_settings() {
        let config = Config::default();
        let opts = job_options(&config, "moderation:events");
        assert_eq!(opts.attempts, Some(3));
        assert_eq!(opts.remove_on_complete, Some(KeepJobs::Count(10)));
        assert_eq!(opts.remove_on_fail, Some(KeepJobs::Count(5)));
    }
}
