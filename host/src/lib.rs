//! guildhost: the bot side of a Discord bot platform, run as sandboxed WebAssembly plugins.
//!
//! Messages arrive on Redis queues in the layout of the npm package `bull` (4.x); they are decoded
//! and validated by [`protocol`], consumed and produced by [`queue`], and handed to Wasm components
//! by [`runtime`]. See `ARCHITECTURE.md` at the repository root for the code map.

pub mod app;
pub mod bundled;
pub mod config;
pub mod dispatch;
pub mod http;
pub mod local_redis;
pub mod metrics;
pub mod ops;
pub mod scaffold;
pub mod scheduler;
pub mod store;

pub use guildhost_discord as discord;
pub use guildhost_protocol as protocol;
pub use guildhost_queue as queue;
pub use guildhost_runtime as runtime;
