//! The plugin store: guild admins' plugins, kept in Redis so the Node API can write it and every
//! host serves the same set.
//!
//! `store` (this module) is the data and its one write path; `admission` decides whether a
//! component and manifest may become a guild's plugin; `commands` carries out the API's
//! `PLUGIN_*` commands on `bot:config`; `sync` keeps each host's registry equal to the store.
//!
//! # Layout
//!
//! Every key is under `<prefix>:guildhost:store:` (`<prefix>` is the Bull prefix, `bull` by
//! default). The API needs only the first two to install; the rest is guildhost's bookkeeping.
//!
//! | key | type | holds |
//! |---|---|---|
//! | `blob:<sha256>` | string | a component's bytes, named by their SHA-256 (lowercase hex). The API uploads with `SET … EX 3600 NX`; an install makes the blob permanent, so an upload nobody installs expires by itself |
//! | `guild:<guildId>` | hash | plugin name → its [`Record`] as JSON |
//! | `guilds` | set | the guilds with at least one plugin |
//! | `refs` | hash | sha256 → how many kept versions name the blob; a blob no version names is deleted |
//! | `killed` | hash | sha256 → why the operator stopped it everywhere (`plugin store kill`) |
//! | `guild-revisions` | hash | guild id → bumped by every change of its plugins (a quota is decided on one revision) |
//! | `revision` | integer | bumped by every change; hosts compare it with what they serve |
//! | `changes` | stream | one entry per change (`guild`, `plugin`, `action`, `revision`), capped near 1,000 |
//!
//! Every change of a guild's plugin is one Lua script (`change.lua`): a compare-and-set on the
//! plugin's record, with the references, the guild set, the revision and the stream entry, so
//! two writers never lose one another's change and a reader never sees half of one.

pub mod admission;
pub mod commands;
pub mod sync;

use std::collections::BTreeSet;
use std::sync::Arc;

use redis::Script;
use serde::{Deserialize, Serialize};

use crate::queue::{QueueError, RedisConn};

/// How often [`PluginStore::update`] decides again when other writers keep getting there first.
const MAX_UPDATE_ROUNDS: usize = 16;

/// Stream entries kept (approximately).
const STREAM_LENGTH: u32 = 1000;

/// One installed version of a guild's plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// The manifest's `version`.
    pub version: String,
    /// The component's SHA-256, lowercase hex: its blob is `blob:<sha256>`.
    pub sha256: String,
    /// The component's size in bytes.
    pub size: u64,
    /// The manifest as uploaded (TOML).
    pub manifest: String,
    /// Who installed it (the API's user id), when the command said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed_by: Option<String>,
    /// When, RFC 3339.
    pub installed_at: String,
}

/// A guild's plugin: the version serving, whether it is enabled, and the versions before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Whether it serves (a disabled plugin is kept, not run).
    pub enabled: bool,
    /// Disabled by the bot's operator: the guild's admin cannot enable, upgrade or roll it back
    /// (`guildhost plugin store enable` releases it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub operator_hold: bool,
    /// The version that serves.
    pub current: Version,
    /// Earlier versions, newest first (what a rollback can return to).
    #[serde(default)]
    pub previous: Vec<Version>,
}

impl Record {
    /// The blobs this record keeps alive.
    fn blobs(&self) -> BTreeSet<&str> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(|version| version.sha256.as_str())
            .collect()
    }
}

/// What a writer wants done with one guild's plugin.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Write this record.
    Put(Record),
    /// Remove the plugin.
    Delete,
}

/// Why an update did not happen.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError<R> {
    /// The decision refused the change.
    #[error("{0}")]
    Refused(R),
    /// A blob the new record names is gone (an upload that expired before the install).
    #[error("the component {0} is not in the store (uploads expire after an hour)")]
    MissingBlob(String),
    /// Redis failed, or writers kept racing.
    #[error("the plugin store: {0}")]
    Store(#[from] QueueError),
}

/// The plugin store's keys under one prefix.
#[derive(Clone)]
pub struct PluginStore {
    conn: RedisConn,
    base: Arc<str>,
    change: Arc<Script>,
}

impl std::fmt::Debug for PluginStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginStore")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// The store's view of one guild's plugin: which guild, which name, and its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The guild that installed it.
    pub guild: String,
    /// The plugin's name in that guild.
    pub name: String,
    /// Its record.
    pub record: Record,
}

impl PluginStore {
    /// The store under Bull's `prefix`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            base: format!("{prefix}:guildhost:store:").into(),
            change: Arc::new(Script::new(include_str!("change.lua"))),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.base)
    }

    /// The key of a component's bytes.
    pub fn blob_key(&self, sha256: &str) -> String {
        self.key(&format!("blob:{sha256}"))
    }

    fn guild_key(&self, guild: &str) -> String {
        self.key(&format!("guild:{guild}"))
    }

    /// The change stream's key (hosts block on it).
    pub fn changes_key(&self) -> String {
        self.key("changes")
    }

    /// The store's revision: bumped by every change.
    pub async fn revision(&self) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        let revision: Option<u64> = redis::cmd("GET")
            .arg(self.key("revision"))
            .query_async(&mut conn)
            .await?;
        Ok(revision.unwrap_or(0))
    }

    /// A component's size in bytes, without reading it (0 when absent).
    pub async fn blob_size(&self, sha256: &str) -> Result<u64, QueueError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("STRLEN")
            .arg(self.blob_key(sha256))
            .query_async(&mut conn)
            .await?)
    }

    /// A component's bytes.
    pub async fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, QueueError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("GET")
            .arg(self.blob_key(sha256))
            .query_async(&mut conn)
            .await?)
    }

    /// The guilds that have plugins, sorted.
    pub async fn guilds(&self) -> Result<Vec<String>, QueueError> {
        let mut conn = self.conn.clone();
        let mut guilds: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key("guilds"))
            .query_async(&mut conn)
            .await?;
        guilds.sort();
        Ok(guilds)
    }

    /// A guild's plugins by name, sorted; a record that does not parse is returned as its error
    /// (something other than guildhost wrote it), never dropped silently.
    pub async fn guild(
        &self,
        guild: &str,
    ) -> Result<Vec<(String, Result<Record, String>)>, QueueError> {
        let mut conn = self.conn.clone();
        let mut fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.guild_key(guild))
            .query_async(&mut conn)
            .await?;
        fields.sort();
        Ok(fields
            .into_iter()
            .map(|(name, text)| {
                let record = serde_json::from_str(&text)
                    .map_err(|error| format!("unreadable record: {error}"));
                (name, record)
            })
            .collect())
    }

    /// Every guild's plugins whose record reads.
    pub async fn all(&self) -> Result<Vec<Installed>, QueueError> {
        let mut installed = Vec::new();
        for guild in self.guilds().await? {
            for (name, record) in self.guild(&guild).await? {
                match record {
                    Ok(record) => installed.push(Installed {
                        guild: guild.clone(),
                        name,
                        record,
                    }),
                    Err(error) => {
                        tracing::error!(%guild, plugin = ?name, %error, "skipping a store record")
                    }
                }
            }
        }
        Ok(installed)
    }

    /// The components the operator stopped everywhere, with why.
    pub async fn killed(&self) -> Result<Vec<(String, String)>, QueueError> {
        let mut conn = self.conn.clone();
        let mut killed: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.key("killed"))
            .query_async(&mut conn)
            .await?;
        killed.sort();
        Ok(killed)
    }

    /// Whether the operator stopped this component everywhere.
    pub async fn is_killed(&self, sha256: &str) -> Result<bool, QueueError> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("HEXISTS")
            .arg(self.key("killed"))
            .arg(sha256)
            .query_async(&mut conn)
            .await?)
    }

    /// Stops (`reason` given) or revives (`None`) one component in every guild on every host.
    pub async fn set_killed(&self, sha256: &str, reason: Option<&str>) -> Result<(), QueueError> {
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic();
        match reason {
            Some(reason) => pipe
                .cmd("HSET")
                .arg(self.key("killed"))
                .arg(sha256)
                .arg(reason),
            None => pipe.cmd("HDEL").arg(self.key("killed")).arg(sha256),
        }
        .ignore();
        pipe.cmd("INCR").arg(self.key("revision")).ignore();
        pipe.cmd("XADD")
            .arg(self.changes_key())
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_LENGTH)
            .arg("*")
            .arg("sha256")
            .arg(sha256)
            .arg("action")
            .arg(if reason.is_some() { "kill" } else { "revive" })
            .ignore();
        pipe.query_async::<()>(&mut conn).await?;
        Ok(())
    }

    /// Reads `name` in `guild`, lets `decide` say what to do with it, and writes that if the
    /// record is still what was read; when another writer got there first, reads and decides
    /// again. `action` names the change in the stream. Returns the record before the change.
    pub async fn update<R>(
        &self,
        guild: &str,
        name: &str,
        action: &str,
        mut decide: impl FnMut(Option<&Record>) -> Result<Change, R>,
    ) -> Result<Option<Record>, UpdateError<R>> {
        self.update_in_guild(guild, name, action, |record, _| decide(record))
            .await
    }

    /// [`update`](Self::update) for a decision that looks at the guild's other plugins too (a
    /// quota): it is written only if none of the guild's plugins changed since they were read.
    pub async fn update_in_guild<R>(
        &self,
        guild: &str,
        name: &str,
        action: &str,
        mut decide: impl FnMut(Option<&Record>, &[(String, Record)]) -> Result<Change, R>,
    ) -> Result<Option<Record>, UpdateError<R>> {
        let mut conn = self.conn.clone();
        let guild_key = self.guild_key(guild);
        let revisions_key = self.key("guild-revisions");
        for _ in 0..MAX_UPDATE_ROUNDS {
            // The revision first: a change after it is read fails the write, never slips by.
            let guild_revision: Option<String> = redis::cmd("HGET")
                .arg(&revisions_key)
                .arg(guild)
                .query_async(&mut conn)
                .await
                .map_err(QueueError::from)?;
            let fields: Vec<(String, String)> = redis::cmd("HGETALL")
                .arg(&guild_key)
                .query_async(&mut conn)
                .await
                .map_err(QueueError::from)?;
            let read = fields
                .iter()
                .find(|(field, _)| field == name)
                .map(|(_, text)| text.clone());
            // A record that does not parse can only be replaced or removed.
            let before: Option<Record> = read
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok());
            let others: Vec<(String, Record)> = fields
                .iter()
                .filter(|(field, _)| field != name)
                .filter_map(|(field, text)| Some((field.clone(), serde_json::from_str(text).ok()?)))
                .collect();
            let change = decide(before.as_ref(), &others).map_err(UpdateError::Refused)?;
            let old_blobs = before.as_ref().map(Record::blobs).unwrap_or_default();
            let (new_text, new_blobs) = match &change {
                Change::Put(record) => (
                    serde_json::to_string(record).map_err(QueueError::from)?,
                    record.blobs(),
                ),
                Change::Delete => (String::new(), BTreeSet::new()),
            };
            let added: Vec<&str> = new_blobs.difference(&old_blobs).copied().collect();
            let dropped: Vec<&str> = old_blobs.difference(&new_blobs).copied().collect();
            let mut invocation = self.change.prepare_invoke();
            invocation
                .key(&guild_key)
                .key(self.key("guilds"))
                .key(self.key("refs"))
                .key(self.key("revision"))
                .key(self.changes_key())
                .key(&revisions_key)
                .arg(name)
                .arg(read.unwrap_or_default())
                .arg(new_text)
                .arg(guild)
                .arg(action)
                .arg(&*self.key("blob:"))
                .arg(STREAM_LENGTH)
                .arg(guild_revision.unwrap_or_else(|| "0".to_owned()))
                .arg(added.len())
                .arg(&added)
                .arg(&dropped);
            let outcome: i64 = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(QueueError::from)?;
            match outcome {
                CONFLICT => continue,
                missing if missing <= MISSING_BLOB => {
                    let index = usize::try_from(MISSING_BLOB - missing).unwrap_or(0);
                    let missing = added.get(index).copied().unwrap_or_default();
                    return Err(UpdateError::MissingBlob(missing.to_owned()));
                }
                _ => return Ok(before),
            }
        }
        Err(UpdateError::Store(QueueError::Malformed(format!(
            "{name} in guild {guild} kept changing under {MAX_UPDATE_ROUNDS} attempts"
        ))))
    }
}

/// `change.lua`'s reply when the record was not what the writer read.
const CONFLICT: i64 = -1;
/// `change.lua`'s reply when the first blob to reference is gone (`-2 - i` for the i-th, 0-based).
const MISSING_BLOB: i64 = -3;
