//! A native stand-in for the host, so plugin logic runs under plain `cargo test`: an in-memory
//! key-value store scoped per guild like the real one, captured logs, a settable clock and a
//! fixed configuration.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::host::Host;
use crate::types::{Json, Output, Timestamp};
use crate::{Context, Error, Incoming, KvError, Level, Plugin};

/// A key in the test store: the guild it belongs to (`None` outside any guild) and the key.
type ScopedKey = (Option<String>, String);

/// One captured log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// Its text.
    pub message: String,
}

/// An in-process host for unit tests.
///
/// ```
/// use guildhost_plugin::testing::TestHost;
/// use guildhost_plugin::types::DeleteMessage;
/// use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, info};
///
/// struct CountDeletes;
///
/// impl Plugin for CountDeletes {
///     fn handle(ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
///         let n = ctx.kv().increment("deletes", 1)?;
///         info!(ctx, "{n} deletes");
///         Ok(vec![])
///     }
/// }
///
/// let host = TestHost::new();
/// let msg = Incoming::new(DeleteMessage::new("1", "2")).in_guild("42");
/// host.handle::<CountDeletes>(&msg).unwrap();
/// host.handle::<CountDeletes>(&msg).unwrap();
/// assert_eq!(host.kv_value(Some("42"), "deletes"), Some(b"2".to_vec()));
/// assert_eq!(host.logs().last().unwrap().message, "2 deletes");
/// ```
#[derive(Debug, Default)]
pub struct TestHost {
    config: Map<String, Value>,
    now: Cell<Timestamp>,
    guild: RefCell<Option<String>>,
    kv: RefCell<BTreeMap<ScopedKey, Vec<u8>>>,
    quota: Option<KvQuota>,
    logs: RefCell<Vec<LogLine>>,
}

/// Limits of the test store, per guild, like a plugin manifest's `kv_keys` and `kv_bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KvQuota {
    keys: usize,
    bytes: usize,
}

impl TestHost {
    /// A host with an empty configuration, an empty store, no quota and the clock at 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `config` (a JSON object; anything else counts as `{}`) as the plugin's configuration.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = match config {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self
    }

    /// Sets the clock (milliseconds since the Unix epoch).
    pub fn with_now(self, now: Timestamp) -> Self {
        self.now.set(now);
        self
    }

    /// Limits the store to `keys` keys and `bytes` bytes (keys plus values) per guild.
    pub fn with_kv_quota(mut self, keys: usize, bytes: usize) -> Self {
        self.quota = Some(KvQuota { keys, bytes });
        self
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.now.set(self.now.get().saturating_add(by));
    }

    /// Runs plugin `P` on `incoming` as the host would, with the store scoped to its guild.
    pub fn handle<P: Plugin>(&self, incoming: &Incoming) -> Result<Vec<Output>, Error> {
        self.guild.replace(incoming.envelope.guild_id.clone());
        let result = P::handle(&self.context(), incoming);
        self.guild.replace(None);
        result
    }

    /// A context for calling plugin code directly; the store is the guild-less one.
    pub fn context(&self) -> Context<'_> {
        Context::new(self)
    }

    /// Every line logged so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.borrow().clone()
    }

    /// Returns the lines logged so far and forgets them.
    pub fn take_logs(&self) -> Vec<LogLine> {
        self.logs.take()
    }

    /// The stored value of `key` in `guild`'s store (`None` is the guild-less store).
    pub fn kv_value(&self, guild: Option<&str>, key: &str) -> Option<Vec<u8>> {
        self.kv
            .borrow()
            .get(&(guild.map(str::to_owned), key.to_owned()))
            .cloned()
    }

    /// Seeds `guild`'s store with `key` = `value`, bypassing the quota.
    pub fn put_kv_value(&self, guild: Option<&str>, key: &str, value: &[u8]) {
        self.kv
            .borrow_mut()
            .insert((guild.map(str::to_owned), key.to_owned()), value.to_vec());
    }

    fn scoped(&self, key: &str) -> Result<ScopedKey, KvError> {
        if key.is_empty() {
            return Err(KvError::InvalidKey(String::from("key must not be empty")));
        }
        Ok((self.guild.borrow().clone(), key.to_owned()))
    }

    /// Checks that storing `value` under `scoped` stays within the quota.
    fn check_quota(&self, scoped: &ScopedKey, value: &[u8]) -> Result<(), KvError> {
        let Some(quota) = self.quota else {
            return Ok(());
        };
        let kv = self.kv.borrow();
        let mut keys = 0;
        let mut bytes = 0;
        for ((guild, key), stored) in kv.iter() {
            if *guild == scoped.0 && *key != scoped.1 {
                keys += 1;
                bytes += key.len() + stored.len();
            }
        }
        keys += 1;
        bytes += scoped.1.len() + value.len();
        if keys > quota.keys {
            return Err(KvError::QuotaExceeded(format!(
                "at most {} keys",
                quota.keys
            )));
        }
        if bytes > quota.bytes {
            return Err(KvError::QuotaExceeded(format!(
                "at most {} bytes",
                quota.bytes
            )));
        }
        Ok(())
    }
}

impl Host for TestHost {
    fn log(&self, level: Level, message: &str) {
        self.logs.borrow_mut().push(LogLine {
            level,
            message: message.to_owned(),
        });
    }

    fn kv_get(&self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let scoped = self.scoped(key)?;
        Ok(self.kv.borrow().get(&scoped).cloned())
    }

    fn kv_set(&self, key: &str, value: &[u8]) -> Result<(), KvError> {
        let scoped = self.scoped(key)?;
        self.check_quota(&scoped, value)?;
        self.kv.borrow_mut().insert(scoped, value.to_vec());
        Ok(())
    }

    fn kv_delete(&self, key: &str) -> Result<bool, KvError> {
        let scoped = self.scoped(key)?;
        Ok(self.kv.borrow_mut().remove(&scoped).is_some())
    }

    fn kv_increment(&self, key: &str, delta: i64) -> Result<i64, KvError> {
        let scoped = self.scoped(key)?;
        let current = match self.kv.borrow().get(&scoped) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| {
                    KvError::NotAnInteger(format!("`{key}` does not hold an integer"))
                })?,
        };
        let next = current
            .checked_add(delta)
            .ok_or_else(|| KvError::NotAnInteger(format!("`{key}` would overflow")))?;
        let text = next.to_string();
        self.check_quota(&scoped, text.as_bytes())?;
        self.kv.borrow_mut().insert(scoped, text.into_bytes());
        Ok(next)
    }

    fn now(&self) -> Timestamp {
        self.now.get()
    }

    fn config(&self) -> Json {
        Value::Object(self.config.clone()).to_string()
    }

    fn config_key(&self, key: &str) -> Option<Json> {
        self.config.get(key).map(Value::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_scoped_per_guild() {
        let host = TestHost::new();
        host.guild.replace(Some(String::from("1")));
        host.kv_set("k", b"one").unwrap();
        host.guild.replace(Some(String::from("2")));
        assert_eq!(host.kv_get("k").unwrap(), None);
        assert_eq!(host.kv_value(Some("1"), "k"), Some(b"one".to_vec()));
    }

    #[test]
    fn the_quota_counts_keys_and_bytes() {
        let host = TestHost::new().with_kv_quota(2, 10);
        host.kv_set("a", b"1").unwrap();
        host.kv_set("b", b"2").unwrap();
        host.kv_set("a", b"3").unwrap(); // replacing a key does not add one
        assert!(matches!(
            host.kv_set("c", b"4"),
            Err(KvError::QuotaExceeded(_))
        ));
        assert!(matches!(
            host.kv_set("a", b"123456789"),
            Err(KvError::QuotaExceeded(_))
        ));
    }

    #[test]
    fn increment_refuses_non_integers_and_overflow() {
        let host = TestHost::new();
        host.kv_set("text", b"abc").unwrap();
        assert!(matches!(
            host.kv_increment("text", 1),
            Err(KvError::NotAnInteger(_))
        ));
        host.kv_increment("max", i64::MAX).unwrap();
        assert!(matches!(
            host.kv_increment("max", 1),
            Err(KvError::NotAnInteger(_))
        ));
    }

    #[test]
    fn empty_keys_are_invalid() {
        assert!(matches!(
            TestHost::new().kv_get(""),
            Err(KvError::InvalidKey(_))
        ));
    }

    #[test]
    fn config_keys_come_back_as_json() {
        let host = TestHost::new().with_config(serde_json::json!({ "words": ["a"], "n": 2 }));
        assert_eq!(host.config_key("words").as_deref(), Some(r#"["a"]"#));
        assert_eq!(host.config_key("missing"), None);
        assert_eq!(host.config(), r#"{"n":2,"words":["a"]}"#);
    }
}
