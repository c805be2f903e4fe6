//! The plugins' key-value store in Redis, under the same prefix as the queues.
//!
//! Each (plugin, guild) namespace is one hash, `<prefix>:guildhost:kv:<plugin>/<guild>`, with
//! a byte counter beside it (`…:bytes`). Every write is one Lua script that checks the quota and
//! writes together, so concurrent calls from several hosts cannot overshoot it; it also notes the
//! guild in the plugin's set of guilds with data (`<prefix>:guildhost:kv-guilds:<plugin>`),
//! which [`KvGuilds`] reads for work addressed to every guild (a cleanup with no guild). The runtime
//! calls the store from a blocking thread inside a guest call; the store waits there on the
//! async connection.

use std::sync::Arc;

use redis::Script;
use tokio::runtime::Handle;

use crate::queue::RedisConn;
use crate::runtime::KvStore;
use crate::runtime::kv::{KvError, KvNamespace, KvQuota};

/// Writes `ARGV[2]` under field `ARGV[1]` within `ARGV[3]` keys and `ARGV[4]` bytes, noting
/// guild `ARGV[5]` (if any) in the set `KEYS[3]`. Returns 1, or -1 (too many keys) / -2 (too
/// many bytes).
const SET: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
local bytes = tonumber(redis.call('GET', KEYS[2]) or '0')
local delta
if old then
  delta = #ARGV[2] - #old
else
  if redis.call('HLEN', KEYS[1]) + 1 > tonumber(ARGV[3]) then return -1 end
  delta = #ARGV[1] + #ARGV[2]
end
if delta > 0 and bytes + delta > tonumber(ARGV[4]) then return -2 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[2], delta)
if ARGV[5] ~= '' then redis.call('SADD', KEYS[3], ARGV[5]) end
return 1
";

/// Deletes field `ARGV[1]`; returns 1 if it existed.
const DELETE: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('DECRBY', KEYS[2], #ARGV[1] + #old)
return 1
";

/// Adds `ARGV[2]` to the integer in field `ARGV[1]` within the quota (`ARGV[3]` keys, `ARGV[4]`
/// bytes), noting guild `ARGV[5]` as `SET` does. Returns `{1, value}`, or `{-1}` / `{-2}` (quota), `{-3}` (not an integer or overflow).
const INCREMENT: &str = r"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and not string.match(old, '^%-?%d+$') then return {-3} end
if not old and redis.call('HLEN', KEYS[1]) + 1 > tonumber(ARGV[3]) then return {-1} end
local ok, value = pcall(redis.call, 'HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if not ok then return {-3} end
local text = tostring(value)
local delta
if old then delta = #text - #old else delta = #ARGV[1] + #text end
local bytes = tonumber(redis.call('GET', KEYS[2]) or '0')
if delta > 0 and bytes + delta > tonumber(ARGV[4]) then
  if old then redis.call('HSET', KEYS[1], ARGV[1], old) else redis.call('HDEL', KEYS[1], ARGV[1]) end
  return {-2}
end
redis.call('INCRBY', KEYS[2], delta)
if ARGV[5] ~= '' then redis.call('SADD', KEYS[3], ARGV[5]) end
return {1, text}
";

/// [`KvStore`] backed by Redis.
pub struct RedisKv {
    conn: RedisConn,
    prefix: Arc<str>,
    runtime: Handle,
    set: Script,
    delete: Script,
    increment: Script,
}

impl std::fmt::Debug for RedisKv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisKv")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisKv {
    /// A store under `prefix`. Must be created inside the tokio runtime it will wait on.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            runtime: Handle::current(),
            set: Script::new(SET),
            delete: Script::new(DELETE),
            increment: Script::new(INCREMENT),
        }
    }

    fn keys(&self, namespace: &KvNamespace) -> (String, String) {
        let data = format!("{}:guildhost:kv:{}", self.prefix, namespace.key_prefix());
        let bytes = format!("{data}:bytes");
        (data, bytes)
    }

    fn guilds_key(&self, namespace: &KvNamespace) -> String {
        KvGuilds::key(&self.prefix, &namespace.plugin)
    }

    fn block_on<T>(&self, work: impl Future<Output = redis::RedisResult<T>>) -> Result<T, KvError> {
        self.runtime
            .block_on(work)
            .map_err(|e| KvError::Unavailable(e.to_string()))
    }
}

impl KvStore for RedisKv {
    fn get(&self, namespace: &KvNamespace, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let (data, _) = self.keys(namespace);
        let mut conn = self.conn.clone();
        self.block_on(async move {
            redis::cmd("HGET")
                .arg(data)
                .arg(key)
                .query_async(&mut conn)
                .await
        })
    }

    fn set(
        &self,
        namespace: &KvNamespace,
        key: &str,
        value: &[u8],
        quota: KvQuota,
    ) -> Result<(), KvError> {
        let (data, bytes) = self.keys(namespace);
        let guilds = self.guilds_key(namespace);
        let guild = namespace.guild.clone().unwrap_or_default();
        let mut conn = self.conn.clone();
        let status: i64 = self.block_on(async move {
            self.set
                .key(data)
                .key(bytes)
                .key(guilds)
                .arg(key)
                .arg(value)
                .arg(quota.max_keys)
                .arg(quota.max_bytes)
                .arg(guild)
                .invoke_async(&mut conn)
                .await
        })?;
        quota_status(status, quota).map(|_| ())
    }

    fn delete(&self, namespace: &KvNamespace, key: &str) -> Result<bool, KvError> {
        let (data, bytes) = self.keys(namespace);
        let mut conn = self.conn.clone();
        let existed: i64 = self.block_on(async move {
            self.delete
                .key(data)
                .key(bytes)
                .arg(key)
                .invoke_async(&mut conn)
                .await
        })?;
        Ok(existed == 1)
    }

    fn increment(
        &self,
        namespace: &KvNamespace,
        key: &str,
        delta: i64,
        quota: KvQuota,
    ) -> Result<i64, KvError> {
        let (data, bytes) = self.keys(namespace);
        let guilds = self.guilds_key(namespace);
        let guild = namespace.guild.clone().unwrap_or_default();
        let mut conn = self.conn.clone();
        let reply: Vec<redis::Value> = self.block_on(async move {
            self.increment
                .key(data)
                .key(bytes)
                .key(guilds)
                .arg(key)
                .arg(delta)
                .arg(quota.max_keys)
                .arg(quota.max_bytes)
                .arg(guild)
                .invoke_async(&mut conn)
                .await
        })?;
        let status = match reply.first() {
            Some(redis::Value::Int(status)) => *status,
            other => return Err(KvError::Unavailable(format!("unexpected reply {other:?}"))),
        };
        if status == -3 {
            return Err(KvError::NotAnInteger(key.to_owned()));
        }
        quota_status(status, quota)?;
        match reply.get(1) {
            Some(redis::Value::BulkString(text)) => std::str::from_utf8(text)
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| KvError::NotAnInteger(key.to_owned())),
            other => Err(KvError::Unavailable(format!("unexpected reply {other:?}"))),
        }
    }
}

/// The guilds each plugin has stored data for: where work addressed to every guild goes.
#[derive(Clone)]
pub struct KvGuilds {
    conn: RedisConn,
    prefix: Arc<str>,
}

impl std::fmt::Debug for KvGuilds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvGuilds")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl KvGuilds {
    /// The sets under `prefix`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
        }
    }

    fn key(prefix: &str, plugin: &str) -> String {
        format!("{prefix}:guildhost:kv-guilds:{plugin}")
    }

    /// The guilds `plugin` has stored data for, in no particular order.
    pub async fn of(&self, plugin: &str) -> redis::RedisResult<Vec<String>> {
        let mut conn = self.conn.clone();
        redis::cmd("SMEMBERS")
            .arg(Self::key(&self.prefix, plugin))
            .query_async(&mut conn)
            .await
    }
}

fn quota_status(status: i64, quota: KvQuota) -> Result<i64, KvError> {
    match status {
        -1 => Err(KvError::KeysExceeded {
            max_keys: quota.max_keys,
        }),
        -2 => Err(KvError::BytesExceeded {
            max_bytes: quota.max_bytes,
        }),
        other => Ok(other),
    }
}
