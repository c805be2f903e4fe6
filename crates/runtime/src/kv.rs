//! The key-value store plugins see: a trait the host calls from inside a guest call, namespaced per
//! plugin and guild with a quota, and an in-memory implementation for tests, the CLI and the SDK.
//!
//! Calls into wasm are synchronous, so the trait is synchronous too. [`crate::Runtime::call`]
//! must run on a thread that may block (a `spawn_blocking` task or a dedicated worker thread); an
//! implementation backed by Redis may therefore block on its connection, e.g. with
//! `tokio::runtime::Handle::block_on` from that blocking thread.

use std::collections::HashMap;
use std::sync::Mutex;

/// Whose data a KV call touches. Plugins never name a namespace: the host derives it from the
/// plugin being called and the message's guild.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KvNamespace {
    /// The plugin's name.
    pub plugin: String,
    /// The guild, or `None` for messages that belong to no guild.
    pub guild: Option<String>,
}

impl KvNamespace {
    /// A stable text form, `plugin/guild` or `plugin/-`, usable as a key prefix.
    pub fn key_prefix(&self) -> String {
        format!("{}/{}", self.plugin, self.guild.as_deref().unwrap_or("-"))
    }
}

/// The quota a namespace must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuota {
    /// Most keys.
    pub max_keys: u64,
    /// Most bytes, counting every key and value.
    pub max_bytes: u64,
}

/// Why a KV call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KvError {
    /// The write would exceed the namespace's key count.
    #[error("kv-keys {max_keys}")]
    KeysExceeded {
        /// The quota.
        max_keys: u64,
    },
    /// The write would exceed the namespace's byte budget.
    #[error("kv-bytes {max_bytes}")]
    BytesExceeded {
        /// The quota.
        max_bytes: u64,
    },
    /// `increment` found a value that is not a decimal i64, or the sum overflows.
    #[error("not an integer: {0}")]
    NotAnInteger(String),
    /// The backing store failed (connection lost, ...).
    #[error("kv store unavailable: {0}")]
    Unavailable(String),
}

/// A key-value store with per-namespace quota. Implementations enforce the quota atomically with
/// the write, so concurrent calls cannot overshoot it.
pub trait KvStore: Send + Sync + 'static {
    /// Reads a value.
    fn get(&self, namespace: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    /// Writes a value, refusing the write if it would break the quota.
    fn set(
        &self,
        namespace: &KvNamespace,
        key: &str,
        value: &[u8],
        quota: KvQuota,
    ) -> Result<(), KvError>;
    /// Deletes a key; returns whether it existed.
    fn delete(&self, namespace: &KvNamespace, key: &str) -> Result<bool, KvError>;
    /// Adds `delta` to the decimal integer stored under `key` (missing counts as 0), stores the
    /// result as decimal text and returns it; atomically, and within the quota.
    fn increment(
        &self,
        namespace: &KvNamespace,
        key: &str,
        delta: i64,
        quota: KvQuota,
    ) -> Result<i64, KvError>;
}

#[derive(Debug, Default)]
struct Namespace {
    entries: HashMap<String, Vec<u8>>,
    bytes: u64,
}

impl Namespace {
    fn set(&mut self, key: &str, value: &[u8], quota: KvQuota) -> Result<(), KvError> {
        let old = self.entries.get(key).map(|old| entry_size(key, old));
        if old.is_none() && self.entries.len() as u64 >= quota.max_keys {
            return Err(KvError::KeysExceeded {
                max_keys: quota.max_keys,
            });
        }
        let bytes_after = self.bytes - old.unwrap_or(0) + entry_size(key, value);
        if bytes_after > quota.max_bytes {
            return Err(KvError::BytesExceeded {
                max_bytes: quota.max_bytes,
            });
        }
        self.entries.insert(key.to_owned(), value.to_vec());
        self.bytes = bytes_after;
        Ok(())
    }
}

fn entry_size(key: &str, value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64
}

/// An in-process [`KvStore`]: for tests, `guildhost plugin run` and single-host development.
#[derive(Debug, Default)]
pub struct MemoryKv {
    namespaces: Mutex<HashMap<KvNamespace, Namespace>>,
}

impl MemoryKv {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys and bytes held by a namespace (for tests and diagnostics).
    pub fn usage(&self, namespace: &KvNamespace) -> (u64, u64) {
        self.lock()
            .get(namespace)
            .map(|ns| (ns.entries.len() as u64, ns.bytes))
            .unwrap_or((0, 0))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KvNamespace, Namespace>> {
        // Every update is one insert/remove plus a counter, done after all checks: a poisoned
        // lock still guards consistent data.
        self.namespaces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl KvStore for MemoryKv {
    fn get(&self, namespace: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        Ok(self
            .lock()
            .get(namespace)
            .and_then(|ns| ns.entries.get(key).cloned()))
    }

    fn set(
        &self,
        namespace: &KvNamespace,
        key: &str,
        value: &[u8],
        quota: KvQuota,
    ) -> Result<(), KvError> {
        self.lock()
            .entry(namespace.clone())
            .or_default()
            .set(key, value, quota)
    }

    fn delete(&self, namespace: &KvNamespace, key: &str) -> Result<bool, KvError> {
        let mut namespaces = self.lock();
        let Some(ns) = namespaces.get_mut(namespace) else {
            return Ok(false);
        };
        match ns.entries.remove(key) {
            Some(old) => {
                ns.bytes -= entry_size(key, &old);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn increment(
        &self,
        namespace: &KvNamespace,
        key: &str,
        delta: i64,
        quota: KvQuota,
    ) -> Result<i64, KvError> {
        let mut namespaces = self.lock();
        let ns = namespaces.entry(namespace.clone()).or_default();
        let current = match ns.entries.get(key) {
            None => 0,
            Some(bytes) => std::str::from_utf8(bytes)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .ok_or_else(|| {
                    KvError::NotAnInteger(format!("the value under {key:?} is not a decimal i64"))
                })?,
        };
        let next = current.checked_add(delta).ok_or_else(|| {
            KvError::NotAnInteger(format!("{current} + {delta} overflows an i64"))
        })?;
        ns.set(key, next.to_string().as_bytes(), quota)?;
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(plugin: &str, guild: &str) -> KvNamespace {
        KvNamespace {
            plugin: plugin.into(),
            guild: Some(guild.into()),
        }
    }

    const ROOMY: KvQuota = KvQuota {
        max_keys: 100,
        max_bytes: 1 << 20,
    };

    #[test]
    fn namespaces_are_isolated() {
        let kv = MemoryKv::new();
        kv.set(&ns("a", "1"), "k", b"v", ROOMY).unwrap();
        assert_eq!(kv.get(&ns("a", "1"), "k").unwrap(), Some(b"v".to_vec()));
        assert_eq!(kv.get(&ns("a", "2"), "k").unwrap(), None);
        assert_eq!(kv.get(&ns("b", "1"), "k").unwrap(), None);
    }

    #[test]
    fn quota_counts_keys_and_bytes_and_overwrites() {
        let kv = MemoryKv::new();
        let space = ns("a", "1");
        let quota = KvQuota {
            max_keys: 2,
            max_bytes: 10,
        };
        kv.set(&space, "a", b"12", quota).unwrap();
        kv.set(&space, "b", b"12", quota).unwrap();
        assert_eq!(
            kv.set(&space, "c", b"1", quota),
            Err(KvError::KeysExceeded { max_keys: 2 })
        );
        // Overwriting an existing key is not a new key; 3 + 7 bytes fits exactly.
        kv.set(&space, "a", b"123456", quota).unwrap();
        assert_eq!(kv.usage(&space), (2, 10));
        assert_eq!(
            kv.set(&space, "b", b"123", quota),
            Err(KvError::BytesExceeded { max_bytes: 10 })
        );
        assert!(kv.delete(&space, "a").unwrap());
        assert_eq!(kv.usage(&space), (1, 3));
    }

    #[test]
    fn increment_counts_in_decimal_text() {
        let kv = MemoryKv::new();
        let space = ns("a", "1");
        assert_eq!(kv.increment(&space, "n", 2, ROOMY), Ok(2));
        assert_eq!(kv.increment(&space, "n", -5, ROOMY), Ok(-3));
        assert_eq!(kv.get(&space, "n").unwrap(), Some(b"-3".to_vec()));
        kv.set(&space, "s", b"abc", ROOMY).unwrap();
        assert!(matches!(
            kv.increment(&space, "s", 1, ROOMY),
            Err(KvError::NotAnInteger(_))
        ));
    }
}
