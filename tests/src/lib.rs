//! Shared support for the end-to-end suites: the test Redis, unique key prefixes, polling with a
//! deadline, child processes that die with the test, the Node scripts driving the real npm
//! `bull` in `tests/node`, a guildhost worker on a task, throwaway Redis servers and clusters, a fake
//! Discord for serenity's real client, a loopback file server for the fetch policy, and a
//! recording voice player, and the differential tester against npm bull (`difftest`).

pub mod bench;
pub mod chaos;
mod cluster;
pub mod difftest;
pub mod fake_discord;
pub mod file_server;
mod local_redis;
pub mod messages;
mod node;
mod process;
mod reports;
mod server;
pub mod soak;
mod voice;
mod wait;
mod worker;

pub use cluster::LocalCluster;
pub use local_redis::LocalRedis;
pub use node::{NodeScript, node, node_dir, node_ready, require_node_modules};
pub use process::{HostProcess, KillOnDrop};
pub use reports::{assert_each_reported_once, assert_queues_drained, moderation_reports_per_user};
pub use server::{cleanup, cmd, connect, redis_url, try_connect, unique_prefix};
pub use voice::{PlayerCall, RecordingPlayer};
pub use wait::{eventually, shutdown_pair};
pub use worker::{Calls, RunningWorker, fast_worker_options, probe_outputs, spawn_worker};
