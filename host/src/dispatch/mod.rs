//! Dispatch joins the queue, the protocol and the plugin runtime: it decodes each job's message,
//! hands it to the plugins subscribed to its type and turns their replies into jobs; the
//! executor runs commands against the Discord boundary.
//!
//! Only this module knows both sides; the queue and the runtime know nothing of each other.

pub mod budget;
pub mod causation;
pub mod command_job;
pub mod convert;
pub mod custom_ids;
pub mod dispatcher;
pub mod executor;
pub mod guild_config;
pub mod guild_order;
pub mod ingest;
pub mod outputs;
pub mod redis_kv;
pub mod routes;
pub mod targets;

pub use command_job::CommandJobs;
pub use dispatcher::Dispatcher;
pub use executor::{DryRunLog, Executor};
pub use guild_config::GuildConfigStore;
pub use redis_kv::{KvGuilds, RedisKv};

/// Records the guild and request id of `message` on the current job span (opened per job by
/// the host), so every line logged about the job names them.
pub fn annotate_job_span(message: &crate::protocol::Message) {
    let span = tracing::Span::current();
    if let Some(guild) = message.envelope.guild_id {
        span.record("guild", tracing::field::display(guild));
    }
    if let Some(request) = &message.envelope.request_id {
        span.record("request_id", request.as_str());
    }
}
