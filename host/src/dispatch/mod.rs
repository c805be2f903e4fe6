//! Dispatch joins the queue, the protocol and the plugin runtime: it decodes each job's message,
//! hands it to the plugins subscribed to its type and turns their replies into jobs; the
//! executor runs commands against the Discord boundary.
//!
//! Only this module knows both sides; the queue and the runtime know nothing of each other.

pub mod convert;
pub mod dispatcher;
pub mod executor;
pub mod guild_config;
pub mod guild_order;
pub mod ingest;
pub mod outputs;
pub mod redis_kv;
pub mod routes;

pub use dispatcher::Dispatcher;
pub use executor::{DryRunLog, Executor};
pub use guild_config::GuildConfigStore;
pub use redis_kv::RedisKv;
