//! Write guildhost plugins in Rust.
//!
//! A plugin is a WebAssembly component implementing the `guildhost:plugin@0.1.0` world (see
//! `wit/` at the repository root): the host hands it one queue message at a time and applies
//! the [`Output`]s it returns. This crate wraps the generated bindings in idiomatic types:
//!
//! * [`Plugin`] — the trait to implement, and [`export!`] — the one macro that exports it;
//! * [`Incoming`] — the message with its envelope; [`types`] — every message type as a record;
//! * [`Output::execute`], [`Output::publish`], [`Output::execute_after`] — what to do;
//! * [`Context`] — logging ([`info!`] and friends), the key-value store ([`Kv`]), the clock
//!   and the configuration ([`Context::config`]);
//! * [`Interaction`] and [`InteractionReply`] — the application commands a plugin declares
//!   (`[[commands]]` in its manifest), and its answers;
//! * [`testing::TestHost`] — run the same logic natively under `cargo test`.
//!
//! # An automod rule
//!
//! ```
//! use guildhost_plugin::types::{AutomodAction, DeleteMessage, Message, Severity, AutomodTriggered};
//! use guildhost_plugin::{info, Context, Error, Incoming, Output, Plugin};
//!
//! #[derive(serde::Deserialize)]
//! struct Config {
//!     banned_words: Vec<String>,
//! }
//!
//! struct BannedWords;
//!
//! impl Plugin for BannedWords {
//!     fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
//!         let Message::MessageCreated(created) = &msg.message else { return Ok(vec![]) };
//!         let config: Config = ctx.config()?;
//!         let content = created.content.to_lowercase();
//!         let Some(word) = config.banned_words.iter().find(|w| content.contains(w.as_str())) else {
//!             return Ok(vec![]);
//!         };
//!         let strikes = ctx.kv().increment(&format!("strikes:{}", created.author_id), 1)?;
//!         info!(ctx, "banned word `{word}` from {} (strike {strikes})", created.author_id);
//!         Ok(vec![
//!             Output::execute(
//!                 DeleteMessage::new(&created.channel_id, &created.message_id).with_reason("banned word"),
//!             ),
//!             Output::publish(
//!                 AutomodTriggered::new("banned-words", &created.author_id, &created.channel_id,
//!                     AutomodAction::Delete, Severity::Medium)
//!                 .with_message(&created.message_id),
//!             ),
//!         ])
//!     }
//! }
//!
//! guildhost_plugin::export!(BannedWords);
//!
//! // The same rule, tested natively:
//! use guildhost_plugin::testing::TestHost;
//! use guildhost_plugin::types::MessageCreated;
//!
//! let host = TestHost::new().with_config(serde_json::json!({ "banned_words": ["spam"] }));
//! // message id, channel id, author id, content
//! let message = MessageCreated::text("3", "2", "1", "buy SPAM now");
//! let outputs = host.handle::<BannedWords>(&Incoming::new(message).in_guild("9")).unwrap();
//! assert_eq!(outputs.len(), 2);
//! assert_eq!(outputs[0].message().type_name(), "DELETE_MESSAGE");
//! assert_eq!(host.kv_value(Some("9"), "strikes:1"), Some(b"1".to_vec()));
//! ```
//!
//! # Building
//!
//! A plugin is a `cdylib` crate, built either way:
//!
//! ```text
//! cargo build --release --target wasm32-wasip2   # -> target/wasm32-wasip2/release/<crate>.wasm
//! cargo component build --release                # -> target/wasm32-wasip1/release/<crate>.wasm
//! ```
//!
//! Plain cargo needs nothing else: on `wasm32-wasip2` the linker emits a component, importing
//! only the guildhost interfaces plus the `wasi:io`/`wasi:cli` set Rust's standard library
//! links. `cargo component` (checked with 0.21.1) needs the component metadata below; it checks
//! the crate against the world, writes a `src/bindings.rs` the crate does not use (the SDK brings
//! its own bindings; leave it out of version control) and builds through the `wasip1` adapter,
//! so its component also imports `wasi:filesystem` and `wasi:clocks`, which the host links to
//! nothing.
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]
//!
//! [dependencies]
//! guildhost-plugin = { path = "../sdk" }
//!
//! [package.metadata.component]
//! package = "guildhost:my-plugin"
//!
//! [package.metadata.component.target]
//! path = "../../wit"
//! world = "plugin"
//!
//! [profile.release]
//! opt-level = "s"
//! lto = true
//! panic = "abort"   # the panic message still reaches stderr, which the host logs
//! ```
//!
//! Tests run natively with plain `cargo test` against [`testing::TestHost`] (the `rlib` crate
//! type is only needed by integration tests in `tests/`).

mod context;
mod embed;
mod error;
mod host;
mod incoming;
mod interaction;
mod message;
mod output;
mod plugin;
pub mod testing;

#[doc(hidden)]
pub mod bindings;

pub use context::{Context, Kv};
pub use embed::Embed;
pub use error::Error;
pub use host::{Host, WasmHost};
pub use incoming::Incoming;
pub use interaction::{Interaction, InteractionKind, InteractionReply, component};
pub use message::{COMMAND_TYPES, EVENT_TYPES};
pub use plugin::Plugin;

/// The JSON library the SDK uses for configuration, KV values and open message parts.
pub use serde_json;

/// Every type of the WIT `types` interface: the envelope, one record per message type, the
/// [`types::Message`] variant, [`types::Output`] and its payloads.
pub mod types {
    pub use crate::bindings::guildhost::plugin::types::*;
}

pub use bindings::guildhost::plugin::kv::KvError;
pub use bindings::guildhost::plugin::logging::Level;
pub use types::{Message, Output};

/// The `log`-style macros under one path: `use guildhost_plugin::log; log::info!(ctx, "…")`.
pub mod log {
    pub use crate::{debug, error, info, trace, warn};
}

#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::handle;
}
