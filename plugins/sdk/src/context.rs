//! What a handler can use while it runs: logging, the key-value store, the clock and its
//! configuration, each with typed helpers over the raw host functions.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::Host;
use crate::types::Timestamp;
use crate::{Error, KvError, Level};

/// The handler's view of its host for one call.
///
/// ```
/// use guildhost_plugin::testing::TestHost;
///
/// let host = TestHost::new().with_config(serde_json::json!({ "max_mentions": 5 }));
/// let ctx = host.context();
/// let limit: u32 = ctx.config_value("max_mentions").unwrap().unwrap_or(3);
/// assert_eq!(limit, 5);
/// ```
#[derive(Clone, Copy)]
pub struct Context<'h> {
    host: &'h dyn Host,
}

impl<'h> Context<'h> {
    /// A context over `host`.
    pub fn new(host: &'h dyn Host) -> Self {
        Self { host }
    }

    /// Writes one log line (see also [`crate::info!`] and its siblings).
    pub fn log(&self, level: Level, message: &str) {
        self.host.log(level, message);
    }

    /// The current time in milliseconds since the Unix epoch.
    pub fn now(&self) -> Timestamp {
        self.host.now()
    }

    /// The plugin's key-value store for the guild of the message being handled.
    pub fn kv(&self) -> Kv<'h> {
        Kv { host: self.host }
    }

    /// The whole configuration, deserialized into `T` (the manifest's defaults overlaid with the
    /// guild's settings).
    pub fn config<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let json = self.host.config();
        serde_json::from_str(&json).map_err(|e| Error::new(format!("plugin configuration: {e}")))
    }

    /// One top-level configuration value, deserialized into `T`; `None` if it is not set.
    pub fn config_value<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.host.config_key(key) {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|e| Error::new(format!("plugin configuration `{key}`: {e}"))),
        }
    }
}

/// The plugin's key-value store for the current guild, with typed helpers.
///
/// ```
/// use guildhost_plugin::testing::TestHost;
///
/// let host = TestHost::new();
/// let kv = host.context().kv();
/// assert_eq!(kv.increment("strikes:42", 1).unwrap(), 1);
/// assert_eq!(kv.increment("strikes:42", 2).unwrap(), 3);
/// assert_eq!(kv.get_i64("strikes:42").unwrap(), Some(3));
/// kv.set_json("last", &vec!["a", "b"]).unwrap();
/// assert_eq!(kv.get_json::<Vec<String>>("last").unwrap().unwrap(), ["a", "b"]);
/// ```
#[derive(Clone, Copy)]
pub struct Kv<'h> {
    host: &'h dyn Host,
}

impl Kv<'_> {
    /// The raw bytes under `key`.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.host.kv_get(key)
    }

    /// Stores raw bytes under `key`.
    pub fn set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        self.host.kv_set(key, value)
    }

    /// Removes `key`; returns whether it existed.
    pub fn delete(&self, key: &str) -> Result<bool, KvError> {
        self.host.kv_delete(key)
    }

    /// Adds `delta` to the integer under `key` (missing counts as 0) and returns the new value.
    pub fn increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        self.host.kv_increment(key, delta)
    }

    /// The value under `key` as UTF-8 text.
    pub fn get_string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| Error::new(format!("kv `{key}`: value is not UTF-8 text"))),
        }
    }

    /// Stores `value` as UTF-8 text.
    pub fn set_string(&self, key: &str, value: &str) -> Result<(), KvError> {
        self.set(key, value.as_bytes())
    }

    /// The integer under `key`, as [`Kv::increment`] stores it (decimal text).
    pub fn get_i64(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.get_string(key)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| Error::new(format!("kv `{key}`: `{text}` is not an integer"))),
        }
    }

    /// The JSON value under `key`, deserialized into `T`.
    pub fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, Error> {
        match self.get(key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::new(format!("kv `{key}`: {e}"))),
        }
    }

    /// Stores `value` as JSON.
    pub fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        let bytes =
            serde_json::to_vec(value).map_err(|e| Error::new(format!("kv `{key}`: {e}")))?;
        Ok(self.set(key, &bytes)?)
    }
}

/// Logs at trace level through a [`Context`]: `trace!(ctx, "format {}", args)`.
#[macro_export]
macro_rules! trace {
    ($ctx:expr, $($arg:tt)+) => { $ctx.log($crate::Level::Trace, &::std::format!($($arg)+)) };
}

/// Logs at debug level through a [`Context`]: `debug!(ctx, "format {}", args)`.
#[macro_export]
macro_rules! debug {
    ($ctx:expr, $($arg:tt)+) => { $ctx.log($crate::Level::Debug, &::std::format!($($arg)+)) };
}

/// Logs at info level through a [`Context`]: `info!(ctx, "format {}", args)`.
///
/// ```
/// use guildhost_plugin::{info, testing::TestHost, Level};
///
/// let host = TestHost::new();
/// let ctx = host.context();
/// info!(ctx, "{} strikes", 3);
/// assert_eq!(host.logs()[0].level, Level::Info);
/// assert_eq!(host.logs()[0].message, "3 strikes");
/// ```
#[macro_export]
macro_rules! info {
    ($ctx:expr, $($arg:tt)+) => { $ctx.log($crate::Level::Info, &::std::format!($($arg)+)) };
}

/// Logs at warn level through a [`Context`]: `warn!(ctx, "format {}", args)`.
#[macro_export]
macro_rules! warn {
    ($ctx:expr, $($arg:tt)+) => { $ctx.log($crate::Level::Warn, &::std::format!($($arg)+)) };
}

/// Logs at error level through a [`Context`]: `error!(ctx, "format {}", args)`.
#[macro_export]
macro_rules! error {
    ($ctx:expr, $($arg:tt)+) => { $ctx.log($crate::Level::Error, &::std::format!($($arg)+)) };
}
