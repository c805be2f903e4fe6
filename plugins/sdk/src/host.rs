//! The host functions a plugin may call, behind a trait: the real WIT imports inside a
//! component, or [`crate::testing::TestHost`] in native unit tests.

use crate::bindings::guildhost::plugin::{clock, config, kv, logging};
use crate::types::{Json, Timestamp};
use crate::{KvError, Level};

/// Everything a plugin can ask of its host. Handlers reach it through [`crate::Context`];
/// implement it only to substitute the host in tests (as [`crate::testing::TestHost`] does).
pub trait Host {
    /// Writes one log line.
    fn log(&self, level: Level, message: &str);
    /// The value under `key` in the plugin's store for the current guild.
    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Stores `value` under `key`.
    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError>;
    /// Removes `key`; returns whether it existed.
    fn kv_delete(&self, key: &str) -> Result<bool, KvError>;
    /// Adds `delta` to the decimal integer under `key` (missing counts as 0); returns the sum.
    fn kv_increment(&self, key: &str, delta: i64) -> Result<i64, KvError>;
    /// Milliseconds since the Unix epoch.
    fn now(&self) -> Timestamp;
    /// The plugin's configuration for the current guild, as a JSON object.
    fn config(&self) -> Json;
    /// One top-level configuration value as JSON, if set.
    fn config_key(&self, key: &str) -> Option<Json>;
}

/// The host of a running component: every call goes through the WIT imports.
///
/// Outside `wasm32` the imports do not exist; calling them there panics, which is why native
/// tests use [`crate::testing::TestHost`] instead.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

impl Host for WasmHost {
    fn log(&self, level: Level, message: &str) {
        logging::log(level, message);
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        kv::get(key)
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        kv::set(key, value)
    }

    fn kv_delete(&self, key: &str) -> Result<bool, KvError> {
        kv::delete(key)
    }

    fn kv_increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        kv::increment(key, delta)
    }

    fn now(&self) -> Timestamp {
        clock::now()
    }

    fn config(&self) -> Json {
        config::get()
    }

    fn config_key(&self, key: &str) -> Option<Json> {
        config::get_key(key)
    }
}
