//! Rust types and host traits generated from the WIT package in `wit/`, one module per supported
//! major version of `guildhost:plugin`.
//!
//! The current version's items are re-exported at this module's root, so
//! `guildhost::runtime::bindings::Message` is the WIT `message` variant the lead converts the
//! protocol's messages into.

/// `guildhost:plugin@0.1.x`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "guildhost:plugin/plugin@0.1.0",
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });
}

pub use v0_1::guildhost::plugin::types::*;

mod type_names;
pub use type_names::{MESSAGE_TYPE_NAMES, message_type_name};
pub use v0_1::{Plugin, PluginPre};
