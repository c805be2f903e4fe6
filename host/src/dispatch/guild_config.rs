//! Per-guild configuration in Redis: what `UPDATE_CONFIG` writes and what plugins read through
//! the WIT `config` interface.
//!
//! A guild's configuration is one Redis hash, `<prefix>:guildhost:config:<guildId>`, with one
//! field per top-level section (`automod`, `moderation`, ...) holding that section's JSON. A
//! plugin sees the section named after it, merged by the runtime over its manifest defaults.
//! Updates apply JSON Merge Patch (RFC 7386: objects merge key by key, `null` deletes) under a
//! compare-and-set, so two hosts applying updates to one guild at once lose neither.
//!
//! Reads are cached for [`CACHE_TTL`] so a message storm does not cost a Redis read per plugin
//! call; the host that applies an update forgets the guild's cache at once, other hosts see the
//! update within the TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::Script;
use serde_json::{Map, Value};

use crate::queue::{QueueError, RedisConn};

/// Sets a hash field only if it still holds the value the caller read (`""` = absent).
const COMPARE_AND_SET: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1
";

/// How long a section read from Redis is served from memory.
pub const CACHE_TTL: Duration = Duration::from_secs(1);

/// Entries kept before the cache is swept of expired ones.
const CACHE_SWEEP_AT: usize = 10_000;

type CachedSection = (Instant, Option<Arc<Value>>);

/// Reads and updates guild configuration.
#[derive(Clone)]
pub struct GuildConfigStore {
    conn: RedisConn,
    prefix: Arc<str>,
    cas: Arc<Script>,
    cache: Arc<Mutex<HashMap<(String, String), CachedSection>>>,
}

impl std::fmt::Debug for GuildConfigStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuildConfigStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl GuildConfigStore {
    /// A store for keys under `prefix` (Bull's prefix, shared with the queues).
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            cas: Arc::new(Script::new(COMPARE_AND_SET)),
            cache: Arc::default(),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), CachedSection>> {
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The section as a plugin reads it: from memory when read less than [`CACHE_TTL`] ago.
    pub async fn cached_section(
        &self,
        guild: &str,
        section: &str,
    ) -> Result<Option<Arc<Value>>, QueueError> {
        let key = (guild.to_owned(), section.to_owned());
        if let Some((read_at, value)) = self.cache().get(&key)
            && read_at.elapsed() < CACHE_TTL
        {
            return Ok(value.clone());
        }
        let value = self.section(guild, section).await?.map(Arc::new);
        let mut cache = self.cache();
        if cache.len() >= CACHE_SWEEP_AT {
            cache.retain(|_, (read_at, _)| read_at.elapsed() < CACHE_TTL);
        }
        cache.insert(key, (Instant::now(), value.clone()));
        Ok(value)
    }

    fn key(&self, guild: &str) -> String {
        format!("{}:guildhost:config:{guild}", self.prefix)
    }

    /// The section `section` of `guild`'s configuration, if set.
    pub async fn section(&self, guild: &str, section: &str) -> Result<Option<Value>, QueueError> {
        let mut conn = self.conn.clone();
        let raw: Option<String> = redis::cmd("HGET")
            .arg(self.key(guild))
            .arg(section)
            .query_async(&mut conn)
            .await?;
        // A field written by something else that is not JSON is treated as unset, not fatal.
        Ok(raw.and_then(|text| serde_json::from_str(&text).ok()))
    }

    /// Applies an `UPDATE_CONFIG`: `config` holds sections by name (a `Partial<GuildConfig>`);
    /// when `section` names a section that `config` does not contain, `config` is that
    /// section's body. Returns the names of the sections written.
    pub async fn apply_update(
        &self,
        guild: &str,
        config: &Map<String, Value>,
        section: Option<&str>,
    ) -> Result<Vec<String>, QueueError> {
        let patches: Vec<(String, Value)> = match section {
            Some(name) if !config.contains_key(name) => {
                vec![(name.to_owned(), Value::Object(config.clone()))]
            }
            _ => config
                .iter()
                .map(|(name, patch)| (name.clone(), patch.clone()))
                .collect(),
        };
        let key = self.key(guild);
        let mut written = Vec::with_capacity(patches.len());
        for (name, patch) in patches {
            self.patch_section(&key, &name, &patch).await?;
            written.push(name);
        }
        self.cache()
            .retain(|(cached_guild, _), _| cached_guild != guild);
        Ok(written)
    }

    async fn patch_section(&self, key: &str, name: &str, patch: &Value) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        loop {
            let current: Option<String> = redis::cmd("HGET")
                .arg(key)
                .arg(name)
                .query_async(&mut conn)
                .await?;
            let mut value = current
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or(Value::Null);
            merge_patch(&mut value, patch);
            let new_text = if value.is_null() {
                String::new()
            } else {
                value.to_string()
            };
            let applied: i64 = self
                .cas
                .key(key)
                .arg(name)
                .arg(current.unwrap_or_default())
                .arg(new_text)
                .invoke_async(&mut conn)
                .await?;
            if applied == 1 {
                return Ok(());
            }
        }
    }
}

/// JSON Merge Patch (RFC 7386): applies `patch` to `target` in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}, "keep": [1, 2]});
        merge_patch(
            &mut target,
            &json!({"a": "z", "c": {"f": null, "h": 1}, "keep": [3]}),
        );
        assert_eq!(
            target,
            json!({"a": "z", "c": {"d": "e", "h": 1}, "keep": [3]})
        );
        let mut scalar = json!(5);
        merge_patch(&mut scalar, &json!({"x": null, "y": 1}));
        assert_eq!(scalar, json!({"y": 1}));
    }
}
