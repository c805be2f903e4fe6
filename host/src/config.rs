//! The operator's configuration (`guildhost.toml`): loading, environment overrides, validation.
//!
//! The keys `[redis] url, prefix`, `[discord] token, proxy` and `[plugins] dir` are fixed because
//! operators and external test suites use them. Every key can also be set from the environment:
//! `GUILDHOST__` then the key's path, its parts joined by `__`, in upper case
//! (`GUILDHOST__REDIS__PREFIX=bot`, `GUILDHOST__QUEUES__DEFAULTS__ATTEMPTS=5`, a queue's table
//! with its `:` written `_`: `GUILDHOST__QUEUES__BOT_MUSIC__CONCURRENCY=1`); the value is read as
//! a TOML value (`5`, `true`, `["a"]`, `{ type = "fixed", delay = 100 }`) or else as a string.
//! They override the file, and `REDIS_URL` and `DISCORD_TOKEN` override both. Relative paths in
//! a file (`[plugins] dir`, `[discord] media_dir`) are read from the file's directory. Every
//! error names the key and the problem, e.g. `queues.defaults.attempts: must be at least 1, got
//! 0`.
//!
//! ```
//! let config = guildhost::config::Config::from_toml_str(
//!     r#"
//!     [redis]
//!     url = "redis://127.0.0.1:6379"
//!     prefix = "bull"
//!     [queues."bot:moderation"]
//!     concurrency = 4
//!     "#,
//! )
//! .unwrap();
//! assert_eq!(config.queue("bot:moderation").concurrency, 4);
//! assert_eq!(config.queue("bot:commands").attempts, 3);
//! ```

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

pub use crate::discord::fetch::FetchConfig;
use crate::protocol::TaskType;

/// `url` with its password (and a user name, if any, beside it) replaced by `***`, for logs
/// and errors: `redis://:secret@host:6379` becomes `redis://:***@host:6379`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split_once(':').map_or("", |(user, _)| user);
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// The file read when no other is named, in the working directory.
pub const DEFAULT_FILE: &str = "guildhost.toml";

/// The prefix of the environment variables that set configuration keys.
pub const ENV_PREFIX: &str = "GUILDHOST__";

/// Sets the key `path` (`REDIS__PREFIX`) of the variable `name` in `table` to `value`.
fn set_key(
    table: &mut toml::Table,
    name: &str,
    path: &str,
    value: &str,
) -> Result<(), ConfigError> {
    let invalid = |problem: String| ConfigError::Invalid {
        key: name.to_owned(),
        problem,
    };
    let parts: Vec<&str> = path.split("__").collect();
    if parts.iter().any(|part| part.is_empty()) {
        return Err(invalid(
            "must name a key: GUILDHOST__SECTION__KEY, parts joined by `__`".to_owned(),
        ));
    }
    let mut keys = Vec::with_capacity(parts.len());
    for (index, part) in parts.iter().enumerate() {
        let key = part.to_lowercase();
        // A queue's table: its name with `:` written `_`.
        let key = if index == 1 && keys.first().map(String::as_str) == Some("queues") {
            crate::dispatch::routes::known_queues()
                .into_iter()
                .find(|queue| queue.replace(':', "_") == key)
                .map_or(key, str::to_owned)
        } else {
            key
        };
        keys.push(key);
    }
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut table| table.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let (last, sections) = keys.split_last().expect("at least one part");
    let mut at = table;
    for section in sections {
        let entry = at
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        at = match entry {
            toml::Value::Table(inner) => inner,
            _ => return Err(invalid(format!("`{section}` is a value, not a table"))),
        };
    }
    at.insert(last.clone(), parsed);
    Ok(())
}

/// Everything guildhost reads from `guildhost.toml`, after defaults and environment overrides.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the queues live.
    pub redis: RedisConfig,
    /// How Discord is reached; without a token the host runs dry.
    pub discord: DiscordConfig,
    /// Where plugins come from.
    pub plugins: PluginsConfig,
    /// Bull options per queue; `defaults` applies to every queue without its own table.
    pub queues: QueuesConfig,
    /// The operator's HTTP endpoints (`/metrics`, `/healthz`, `/readyz`).
    pub http: HttpConfig,
    /// Recurring and one-off work (`[[schedules]]`), registered by `crate::scheduler`.
    pub schedules: Vec<ScheduleConfig>,
    /// The default `CLEANUP_EXPIRED_CASES` schedule (`[cleanup]`).
    pub cleanup: CleanupConfig,
    /// How notifications are shared with the API (`[notifications]`).
    pub notifications: NotificationsConfig,
}

/// `[notifications]`: the part of the `notifications` queue that is the API's.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// When this host consumes `notifications`, the dashboard's part of each notification — a
    /// `BROADCAST_NOTIFICATION` whose `channels` name `DASHBOARD` (or name none), every
    /// `USER_NOTIFICATION` — is forwarded here unchanged, for the API's worker.
    pub dashboard_queue: String,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        Self {
            dashboard_queue: "notifications:dashboard".to_owned(),
        }
    }
}

/// What a host does with a job of a queue it consumes when no handler takes its message type
/// (no plugin subscribes, and it is not a command the host executes as it is).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Unhandled {
    /// `unhandled = "dead-letter"`: the job fails at once, with a reason naming the queue and
    /// the type, into the dead letters.
    #[default]
    DeadLetter,
    /// `unhandled = { forward = "<queue>" }`: the job's message goes, unchanged, to that queue
    /// (under the same prefix) for whoever consumes it.
    Forward(String),
}

/// `[redis]`. Its `Debug` hides the URL's password.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL; `REDIS_URL` overrides it.
    pub url: String,
    /// Bull's key prefix, shared with the Node API (`bull` unless the API sets another).
    pub prefix: String,
}

/// `[discord]`. Its `Debug` hides the token and the proxy URL's password.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The bot token; `DISCORD_TOKEN` overrides it. None means dry run.
    pub token: Option<String>,
    /// A base URL REST calls go through (an HTTP proxy such as twilight-http-proxy or
    /// nirn-proxy, or a local fake in tests). The gateway URL is asked through it too.
    pub proxy: Option<String>,
    /// The shards this process runs; absent means as many as Discord recommends.
    pub shards: Option<ShardsConfig>,
    /// Recent messages remembered so deletes and edits can name the author and old content.
    pub message_cache: usize,
    /// Directory local audio files may be played from; absent means URLs only.
    pub media_dir: Option<PathBuf>,
    /// What the host may download when a command names a URL (`[discord.fetch]`).
    pub fetch: FetchConfig,
    /// The gateway intents asked for (Discord's names, `GUILD_MEMBERS`); absent means what the
    /// loaded plugins' subscriptions need (`gateway::intents_for`).
    pub intents: Option<Vec<String>>,
}

// Secrets never reach a log line or a panic message through `{:?}`: the two sections that hold
// them print redacted, whatever prints them.
impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &redact_url(&self.url))
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl std::fmt::Debug for DiscordConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("proxy", &self.proxy.as_deref().map(redact_url))
            .field("shards", &self.shards)
            .field("message_cache", &self.message_cache)
            .field("media_dir", &self.media_dir)
            .field("fetch", &self.fetch)
            .field("intents", &self.intents)
            .finish()
    }
}

impl Default for DiscordConfig {
    fn default() -> Self {
        Self {
            token: None,
            proxy: None,
            shards: None,
            message_cache: 10_000,
            media_dir: None,
            fetch: FetchConfig::default(),
            intents: None,
        }
    }
}

/// `[discord.shards]`: `first..=last` of `total` shards.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShardsConfig {
    /// The first shard id run here.
    pub first: u32,
    /// The last shard id run here.
    pub last: u32,
    /// Shards in all, across every process.
    pub total: u32,
}

/// `[plugins]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory watched for `<name>.wasm` + `<name>.toml` pairs.
    pub dir: PathBuf,
    /// Load the first-party plugins embedded in the binary (a plugin of the same name in `dir`
    /// replaces one).
    pub first_party: bool,
    /// Where compiled plugins are kept, so a restart does not compile them again; absent:
    /// `<dir>/.cache`. Only the operator may write there: its files are native code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// How much work plugins may cause (`[plugins.budget]`).
    pub budget: BudgetConfig,
    /// Guild admins' plugins, installed through the API (`[plugins.store]`).
    pub store: StoreConfig,
    /// What a guild admin's plugin may be and do (`[plugins.guild_policy]`).
    pub guild_policy: GuildPolicy,
    /// When a plugin failing in a guild is suspended there (`[plugins.breaker]`).
    pub breaker: BreakerConfig,
}

/// `[plugins.breaker]`: a plugin whose calls for one guild trap or exceed their limits
/// `failures` times within `window_ms` is suspended for that guild for `backoff_ms`, doubled on
/// each new trip up to `max_backoff_ms`. Only the plugin's own failures count, never the host's
/// trouble (Redis or Discord unavailable); the guild's messages wait for it meanwhile.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Failures within the window that suspend the plugin.
    pub failures: u32,
    /// The window failures are counted in, in ms.
    pub window_ms: u64,
    /// The first suspension, in ms.
    pub backoff_ms: u64,
    /// The longest suspension, in ms.
    pub max_backoff_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failures: 5,
            window_ms: 60_000,
            backoff_ms: 30_000,
            max_backoff_ms: 15 * 60_000,
        }
    }
}

impl BreakerConfig {
    /// The runtime's policy.
    pub fn policy(&self) -> crate::runtime::breaker::BreakerPolicy {
        use std::time::Duration;
        crate::runtime::breaker::BreakerPolicy {
            failures: self.failures.max(1),
            window: Duration::from_millis(self.window_ms),
            backoff: Duration::from_millis(self.backoff_ms),
            max_backoff: Duration::from_millis(self.max_backoff_ms.max(self.backoff_ms)),
        }
    }
}

impl PluginsConfig {
    /// Where compiled plugins are kept: `cache_dir`, else `<dir>/.cache`.
    pub fn artifact_dir(&self) -> PathBuf {
        self.cache_dir
            .clone()
            .unwrap_or_else(|| self.dir.join(".cache"))
    }
}

/// `[plugins.store]`: the plugin store in Redis that guild admins install into through the API
/// (`PLUGIN_*` commands on `bot:config`) and every host serves.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Accept `PLUGIN_*` commands and serve the store's plugins.
    pub enabled: bool,
    /// How often a host compares the store's revision with what it serves, in milliseconds
    /// (the change stream tells it at once; this catches what it missed).
    pub reconcile_interval_ms: u64,
    /// Versions kept per plugin, the current one included (what `PLUGIN_ROLLBACK` can go back to).
    pub versions_kept: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            reconcile_interval_ms: 1000,
            versions_kept: 5,
        }
    }
}

/// `[plugins.guild_policy]`: the ceilings of a guild admin's plugin, whatever its manifest asks,
/// and the guild's quota. A manifest asking for more is lowered to the ceiling (and told so in
/// the install's `notices`); one that emits a type not in `allowed_outputs` is refused.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GuildPolicy {
    /// Message types a guild's plugin may emit.
    pub allowed_outputs: Vec<String>,
    /// Plugins one guild may have installed.
    pub max_plugins: u32,
    /// Largest component, in bytes.
    pub max_component_bytes: u64,
    /// Components of one guild's installed plugins together (current versions), in bytes.
    pub max_total_bytes: u64,
    /// Longest an install's compilation may take, in milliseconds.
    pub compile_timeout_ms: u64,
    /// Wall time per call, in milliseconds.
    pub wall_time_ms: u64,
    /// Linear memory per instance, in bytes.
    pub memory_bytes: u64,
    /// Fuel per call (always metered for a guild's plugin).
    pub fuel: u64,
    /// Outputs per call.
    pub max_outputs: u32,
    /// KV keys per guild.
    pub kv_keys: u64,
    /// KV bytes per guild.
    pub kv_bytes: u64,
}

impl Default for GuildPolicy {
    fn default() -> Self {
        Self {
            allowed_outputs: [
                "SEND_MESSAGE",
                "DELETE_MESSAGE",
                "WARN_USER",
                "TIMEOUT_USER",
                "INTERACTION_REPLY",
                "AUTOMOD_TRIGGERED",
            ]
            .map(String::from)
            .to_vec(),
            max_plugins: 10,
            // A JavaScript plugin embeds its engine: about 15 MiB, compiled in seconds.
            max_component_bytes: 24 << 20,
            max_total_bytes: 64 << 20,
            compile_timeout_ms: 30_000,
            wall_time_ms: 200,
            memory_bytes: 16 << 20,
            fuel: 500_000_000,
            max_outputs: 16,
            kv_keys: 1_000,
            kv_bytes: 1 << 20,
        }
    }
}

/// `[plugins.budget]`: the work one message may cause, and what one plugin may add per guild.
///
/// Every message carries its causal depth (plugin replies between it and the message that
/// started the chain) and origin. Depth and chain budget hold for every plugin; the rate and the
/// pending-delayed cap hold per (plugin, guild) for guild-scoped plugins, the ones guild admins
/// bring (the operator's global plugins are trusted with bursts such as a raid's bans). An
/// output past a budget is dropped with the reason, counted, and counts against the plugin's
/// breaker for that guild.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetConfig {
    /// Deepest chain of plugin replies: a plugin handling a message already this many replies
    /// deep may not add more work.
    pub max_depth: u32,
    /// Outputs one chain may add after its first hop (per host), whatever its shape.
    pub max_chain_outputs: u32,
    /// Sustained outputs per second of one guild-scoped plugin in one guild.
    pub outputs_per_second: u32,
    /// Outputs such a plugin may add at once before the rate applies.
    pub outputs_burst: u32,
    /// Delayed outputs (`execute-after`) of such a plugin in one guild that may be pending at once.
    pub max_pending_delayed: u32,
}

impl Config {
    /// The effective configuration as TOML, secrets redacted: what `config-check` prints, and a
    /// file the host reads back to the same settings (the secrets aside).
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string_pretty(&self.redacted()).map_err(|error| {
            ConfigError::Syntax(format!("cannot write the configuration: {error}"))
        })
    }

    /// The same configuration with its secrets hidden (the Discord token, the Redis and proxy
    /// passwords), for printing.
    pub fn redacted(&self) -> Config {
        let mut redacted = self.clone();
        redacted.redis.url = redact_url(&self.redis.url);
        redacted.discord.proxy = self.discord.proxy.as_deref().map(redact_url);
        if redacted.discord.token.is_some() {
            redacted.discord.token = Some("***".to_owned());
        }
        redacted
    }
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            max_depth: 8,
            max_chain_outputs: 64,
            outputs_per_second: 50,
            outputs_burst: 200,
            max_pending_delayed: 1000,
        }
    }
}

/// `[queues]`: `defaults` plus one table per queue name.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(default)]
pub struct QueuesConfig {
    /// Settings for every queue that has no table of its own.
    pub defaults: QueueSettings,
    /// Per-queue overrides, keyed by queue name (`"bot:moderation"`); unset keys come from `defaults`.
    #[serde(flatten)]
    pub per_queue: BTreeMap<String, QueueOverrides>,
}

/// Bull job and worker options for one queue. The defaults are the seed's.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Jobs in flight at once on this host. The default (200) lets the worker complete and take
    /// jobs in large batches, which is where its throughput comes from; per-guild ordering holds
    /// whatever the value.
    pub concurrency: usize,
    /// Total tries of a job (Bull's `attempts`).
    pub attempts: u32,
    /// Retry delay policy.
    pub backoff: BackoffSetting,
    /// Completed jobs to keep (`removeOnComplete`).
    pub remove_on_complete: u64,
    /// Failed jobs to keep (`removeOnFail`).
    pub remove_on_fail: u64,
    /// How often stalled jobs are looked for, in ms.
    pub stalled_interval_ms: u64,
    /// Stalls a job survives before it fails.
    pub max_stalled_count: u32,
    /// How long a job's lock lasts without renewal, in ms (renewed every quarter of it).
    pub lock_duration_ms: u64,
    /// What happens to a message no handler takes.
    pub unhandled: Unhandled,
}

/// One queue's table: every key optional, falling back to `[queues.defaults]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueOverrides {
    /// See [`QueueSettings::concurrency`].
    pub concurrency: Option<usize>,
    /// See [`QueueSettings::attempts`].
    pub attempts: Option<u32>,
    /// See [`QueueSettings::backoff`].
    pub backoff: Option<BackoffSetting>,
    /// See [`QueueSettings::remove_on_complete`].
    pub remove_on_complete: Option<u64>,
    /// See [`QueueSettings::remove_on_fail`].
    pub remove_on_fail: Option<u64>,
    /// See [`QueueSettings::stalled_interval_ms`].
    pub stalled_interval_ms: Option<u64>,
    /// See [`QueueSettings::max_stalled_count`].
    pub max_stalled_count: Option<u32>,
    /// See [`QueueSettings::lock_duration_ms`].
    pub lock_duration_ms: Option<u64>,
    /// See [`QueueSettings::unhandled`].
    pub unhandled: Option<Unhandled>,
    /// Whether this host takes the queue's jobs (see [`Config::consumes`] for the defaults).
    pub consume: Option<bool>,
}

/// Bull's backoff: `{ type = "exponential", delay = 2000 }`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackoffSetting {
    /// `fixed` or `exponential`.
    #[serde(rename = "type")]
    pub kind: BackoffKind,
    /// Base delay in ms.
    pub delay: u64,
}

/// The backoff strategies Bull knows without custom code.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackoffKind {
    /// The same delay before every retry.
    Fixed,
    /// `(2^attemptsMade - 1) * delay`.
    Exponential,
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
}

/// One `[[schedules]]` entry: when (`cron`, `every` or `at`) and what (`task`, a
/// `SCHEDULED_TASK` for the plugins, or `send`, a message to post).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Names the schedule in Redis and in logs: unique, letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// Cron expression, 5 fields (or 6, seconds first) as Bull's cron-parser reads them.
    pub cron: Option<String>,
    /// IANA time zone of `cron`; the host's local zone when absent.
    pub tz: Option<String>,
    /// Interval: milliseconds, or a number with a unit (`"90s"`, `"15m"`, `"1h"`, `"1d"`).
    #[serde(deserialize_with = "interval")]
    pub every: Option<u64>,
    /// Run once at this instant: a TOML date-time with an offset (`2026-12-01T09:00:00Z`).
    #[serde(deserialize_with = "instant")]
    pub at: Option<DateTime<Utc>>,
    /// The guild it concerns (the message's `guildId`).
    pub guild: Option<String>,
    /// Raise a `SCHEDULED_TASK` of this type (`CLEANUP`, `BACKUP`, `ANALYTICS`, `REMINDERS`).
    pub task: Option<TaskType>,
    /// The task's `taskData`.
    pub data: Option<serde_json::Value>,
    /// Post a message instead: the `data` of a `SEND_MESSAGE` (`channelId`, `content`, ...).
    pub send: Option<serde_json::Value>,
}

/// The default cleanup's interval: hourly.
pub const DEFAULT_CLEANUP_EVERY_MS: u64 = 3_600_000;

/// `[cleanup]`: `CLEANUP_EXPIRED_CASES` on `cleanup:tasks`, every hour unless told otherwise.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CleanupConfig {
    /// Register it; `false` removes it.
    pub enabled: bool,
    /// Cron expression, instead of `every`.
    pub cron: Option<String>,
    /// IANA time zone of `cron`.
    pub tz: Option<String>,
    /// Interval, as [`ScheduleConfig::every`]; [`DEFAULT_CLEANUP_EVERY_MS`] when neither this nor
    /// `cron` is set.
    #[serde(deserialize_with = "interval")]
    pub every: Option<u64>,
    /// One message per guild; empty means one message for every guild (no `guildId`: the
    /// dispatcher sends it to each guild a plugin keeps data for).
    pub guilds: Vec<String>,
    /// The `caseTypes` to clean; empty means every type.
    pub case_types: Vec<String>,
}

impl Default for CleanupConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            cron: None,
            tz: None,
            every: None,
            guilds: Vec::new(),
            case_types: Vec::new(),
        }
    }
}

/// Reads an interval: an integer of milliseconds or text such as `"15m"`.
fn interval<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    use serde::de::Error;
    match toml::Value::deserialize(deserializer)? {
        toml::Value::Integer(millis) => u64::try_from(millis)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("must not be negative, got {millis}"))),
        toml::Value::String(text) => parse_interval(&text).map(Some).map_err(D::Error::custom),
        other => Err(D::Error::custom(format!(
            "must be milliseconds or text such as \"15m\", got {other}"
        ))),
    }
}

/// `"500ms"`, `"90s"`, `"15m"`, `"1h"`, `"1d"` in milliseconds.
fn parse_interval(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| factor > 0)
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| {
            format!("must be a number with a unit (ms, s, m, h, d) such as \"15m\", got {text:?}")
        })
}

/// Reads an instant: a TOML offset date-time, or the same as RFC 3339 text.
fn instant<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    use serde::de::Error;
    let text = match toml::Value::deserialize(deserializer)? {
        toml::Value::Datetime(date) => date.to_string(),
        toml::Value::String(text) => text,
        other => {
            return Err(D::Error::custom(format!(
                "must be a date-time such as 2026-12-01T09:00:00Z, got {other}"
            )));
        }
    };
    DateTime::parse_from_rfc3339(&text)
        .map(|date| Some(date.with_timezone(&Utc)))
        .map_err(|_| {
            D::Error::custom(format!(
                "must be a date-time with an offset such as 2026-12-01T09:00:00Z, got {text}"
            ))
        })
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML did not parse or did not fit the schema (the message names the key and line).
    #[error("{0}")]
    Syntax(String),
    /// A value parsed but is not acceptable.
    #[error("{key}: {problem}")]
    Invalid {
        /// Dotted key, e.g. `redis.url`.
        key: String,
        /// The rule it breaks.
        problem: String,
    },
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".to_owned(),
            prefix: "bull".to_owned(),
        }
    }
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("plugins.d"),
            first_party: true,
            cache_dir: None,
            budget: BudgetConfig::default(),
            breaker: BreakerConfig::default(),
            store: StoreConfig::default(),
            guild_policy: GuildPolicy::default(),
        }
    }
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            concurrency: 200,
            attempts: 3,
            backoff: BackoffSetting {
                kind: BackoffKind::Exponential,
                delay: 2000,
            },
            remove_on_complete: 10,
            remove_on_fail: 5,
            // Shorter than Bull's 30 s: a crashed host's jobs are back within about 9 s (the
            // lock lapses within 6 s, renewed every 1.5 s; a check every 3 s finds it).
            stalled_interval_ms: 3_000,
            max_stalled_count: 1,
            lock_duration_ms: 6_000,
            unhandled: Unhandled::DeadLetter,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

impl Config {
    /// Reads `path`, applies `REDIS_URL` / `DISCORD_TOKEN` from the process environment, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::layered(&text, std::env::vars())?;
        if let Some(dir) = path.parent() {
            config.resolve_paths(dir);
        }
        config.apply_env(|name| std::env::var(name).ok());
        config.validate()?;
        Ok(config)
    }

    /// The configuration the commands run with: the file `path` names, else `guildhost.toml`
    /// in the working directory if there is one, else the defaults; the environment over it.
    pub fn find(path: Option<&Path>) -> Result<Self, ConfigError> {
        let default = Path::new(DEFAULT_FILE);
        match path {
            Some(path) => Self::load(path),
            None if default.exists() => Self::load(default),
            None => {
                let mut config = Self::layered("", std::env::vars())?;
                config.apply_env(|name| std::env::var(name).ok());
                config.validate()?;
                Ok(config)
            }
        }
    }

    /// Parses `text` with the `GUILDHOST__…` variables among `vars` set over it (see the
    /// module's docs), without validating.
    pub fn layered(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let overrides: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        if overrides.is_empty() {
            // Straight from the text, so errors keep their line and column.
            return Self::parse(text);
        }
        let syntax = |e: toml::de::Error| ConfigError::Syntax(e.to_string().trim_end().to_owned());
        let mut table: toml::Table = toml::from_str(text).map_err(syntax)?;
        for (name, value) in &overrides {
            set_key(&mut table, name, &name[ENV_PREFIX.len()..], value)?;
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| {
                let names: Vec<&str> = overrides.iter().map(|(name, _)| name.as_str()).collect();
                ConfigError::Syntax(format!(
                    "{} (the file with {} over it)",
                    e.to_string().trim_end(),
                    names.join(", ")
                ))
            })
    }

    /// Reads the relative paths of a file from `dir`, the file's directory.
    fn resolve_paths(&mut self, dir: &Path) {
        let from_dir = |path: &mut PathBuf| {
            if path.is_relative() {
                *path = dir.join(&*path);
            }
        };
        from_dir(&mut self.plugins.dir);
        if let Some(cache) = &mut self.plugins.cache_dir {
            from_dir(cache);
        }
        if let Some(media) = &mut self.discord.media_dir {
            from_dir(media);
        }
    }

    /// Parses and validates a TOML document without looking at the environment.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config = Self::parse(text)?;
        config.validate()?;
        Ok(config)
    }

    fn parse(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string().trim_end().to_owned()))
    }

    /// Applies the environment overrides (`REDIS_URL`, `DISCORD_TOKEN`), read through `var`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) {
        if let Some(url) = var("REDIS_URL").filter(|v| !v.is_empty()) {
            self.redis.url = url;
        }
        if let Some(token) = var("DISCORD_TOKEN").filter(|v| !v.is_empty()) {
            self.discord.token = Some(token);
        }
    }

    /// Checks the values the schema cannot: URL schemes, ranges, empty strings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: String| ConfigError::Invalid {
            key: key.to_owned(),
            problem,
        };
        if !(self.redis.url.starts_with("redis://")
            || self.redis.url.starts_with("rediss://")
            || self.redis.url.starts_with("unix://"))
        {
            return Err(invalid(
                "redis.url",
                format!(
                    "must start with redis://, rediss:// or unix://, got {:?}",
                    self.redis.url
                ),
            ));
        }
        if self.redis.prefix.is_empty() {
            return Err(invalid("redis.prefix", "must not be empty".to_owned()));
        }
        let budget = &self.plugins.budget;
        for (key, value) in [
            ("plugins.budget.max_depth", budget.max_depth),
            (
                "plugins.budget.outputs_per_second",
                budget.outputs_per_second,
            ),
            ("plugins.budget.outputs_burst", budget.outputs_burst),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1, got 0".to_owned()));
            }
        }
        if self.plugins.store.versions_kept == 0 {
            return Err(invalid(
                "plugins.store.versions_kept",
                "must be at least 1, got 0".to_owned(),
            ));
        }
        if self.plugins.store.reconcile_interval_ms == 0 {
            return Err(invalid(
                "plugins.store.reconcile_interval_ms",
                "must be at least 1, got 0".to_owned(),
            ));
        }
        for (index, name) in self.plugins.guild_policy.allowed_outputs.iter().enumerate() {
            if name.parse::<crate::protocol::MessageType>().is_err() {
                return Err(invalid(
                    &format!("plugins.guild_policy.allowed_outputs[{index}]"),
                    format!("is not a message type: {name:?}"),
                ));
            }
        }
        if let Some(token) = &self.discord.token
            && token.trim().is_empty()
        {
            return Err(invalid(
                "discord.token",
                "must not be blank (omit it to run dry)".to_owned(),
            ));
        }
        if let Some(proxy) = &self.discord.proxy
            && !(proxy.starts_with("http://") || proxy.starts_with("https://"))
        {
            return Err(invalid(
                "discord.proxy",
                format!("must be an http:// or https:// base URL, got {proxy:?}"),
            ));
        }
        if let Some(shards) = &self.discord.shards
            && !(shards.first <= shards.last && shards.last < shards.total)
        {
            return Err(invalid(
                "discord.shards",
                format!(
                    "needs first <= last < total, got first = {}, last = {}, total = {}",
                    shards.first, shards.last, shards.total
                ),
            ));
        }
        if let Some(names) = &self.discord.intents {
            crate::discord::gateway::parse_intents(names).map_err(|problem| {
                let (index, problem) = problem.split_once(": ").unwrap_or(("", &problem));
                invalid(&format!("discord.intents{index}"), problem.to_owned())
            })?;
        }
        crate::discord::fetch::FetchPolicy::from_config(&self.discord.fetch).map_err(|e| {
            ConfigError::Invalid {
                key: e.key,
                problem: e.problem,
            }
        })?;
        check_queue("queues.defaults", &self.queues.defaults)?;
        let known = crate::dispatch::routes::known_queues();
        for name in self.queues.per_queue.keys() {
            let key = format!("queues.\"{name}\"");
            if !known.contains(&name.as_str()) {
                let hint = guildhost_rules::nearest(name, known.iter().copied())
                    .map(|meant| format!("did you mean \"{meant}\"? "))
                    .unwrap_or_default();
                return Err(ConfigError::Invalid {
                    key,
                    problem: format!(
                        "is not a queue guildhost knows; {hint}the queues are: {}",
                        known.join(", ")
                    ),
                });
            }
            check_queue(&key, &self.queue(name))?;
            self.check_consume(&key, name)?;
        }
        for queue in crate::dispatch::routes::INBOUND_QUEUES {
            let queue = queue.as_str();
            if self.consumes(queue) {
                self.check_forward(queue)?;
            }
        }
        check_schedules(&self.schedules, &self.cleanup)
    }

    /// `consume` only where guildhost has a handler.
    fn check_consume(&self, key: &str, queue: &str) -> Result<(), ConfigError> {
        let inbound = crate::dispatch::routes::INBOUND_QUEUES
            .iter()
            .any(|q| q.as_str() == queue);
        let overrides = self.queues.per_queue.get(queue);
        if overrides.and_then(|o| o.consume).is_some() && !inbound {
            return Err(ConfigError::Invalid {
                key: format!("{key}.consume"),
                problem: format!(
                    "guildhost has no handler for {queue}: only the queues it can serve take                      `consume` ({})",
                    crate::dispatch::routes::INBOUND_QUEUES
                        .iter()
                        .map(|q| q.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
        Ok(())
    }

    /// `unhandled` never forwards into a queue this host consumes (the job would come straight
    /// back).
    fn check_forward(&self, queue: &str) -> Result<(), ConfigError> {
        if let Unhandled::Forward(target) = &self.queue(queue).unhandled {
            let problem = if target.trim().is_empty() {
                Some("names no queue".to_owned())
            } else if target == queue || self.consumes(target) || target.starts_with("guildhost:") {
                Some(format!(
                    "forwards to {target}, which this host consumes itself: the job would come                      back unhandled"
                ))
            } else {
                None
            };
            if let Some(problem) = problem {
                let table = if self
                    .queues
                    .per_queue
                    .get(queue)
                    .is_some_and(|o| o.unhandled.is_some())
                {
                    format!("queues.\"{queue}\"")
                } else {
                    "queues.defaults".to_owned()
                };
                return Err(ConfigError::Invalid {
                    key: format!("{table}.unhandled.forward"),
                    problem,
                });
            }
        }
        Ok(())
    }

    /// The effective settings of `queue`: its own table over `[queues.defaults]`.
    pub fn queue(&self, queue: &str) -> QueueSettings {
        let defaults = &self.queues.defaults;
        let Some(o) = self.queues.per_queue.get(queue) else {
            return defaults.clone();
        };
        QueueSettings {
            concurrency: o.concurrency.unwrap_or(defaults.concurrency),
            attempts: o.attempts.unwrap_or(defaults.attempts),
            backoff: o.backoff.unwrap_or(defaults.backoff),
            remove_on_complete: o.remove_on_complete.unwrap_or(defaults.remove_on_complete),
            remove_on_fail: o.remove_on_fail.unwrap_or(defaults.remove_on_fail),
            stalled_interval_ms: o
                .stalled_interval_ms
                .unwrap_or(defaults.stalled_interval_ms),
            max_stalled_count: o.max_stalled_count.unwrap_or(defaults.max_stalled_count),
            lock_duration_ms: o.lock_duration_ms.unwrap_or(defaults.lock_duration_ms),
            unhandled: o.unhandled.clone().unwrap_or(defaults.unhandled.clone()),
        }
    }

    /// Whether this host consumes `queue`: its `consume` setting, else the default owner's
    /// choice (`routes::consumed_by_default`: the `bot:*` and scheduled queues are guildhost's,
    /// the cross-service ones the API's).
    pub fn consumes(&self, queue: &str) -> bool {
        self.queues
            .per_queue
            .get(queue)
            .and_then(|o| o.consume)
            .unwrap_or_else(|| crate::dispatch::routes::consumed_by_default(queue))
    }

    /// True when no Discord token is configured: actions are logged and recorded, not sent.
    pub fn dry_run(&self) -> bool {
        self.discord.token.is_none()
    }
}

fn check_queue(key: &str, q: &QueueSettings) -> Result<(), ConfigError> {
    let invalid = |field: &str, problem: String| ConfigError::Invalid {
        key: format!("{key}.{field}"),
        problem,
    };
    if q.concurrency == 0 {
        return Err(invalid(
            "concurrency",
            "must be at least 1, got 0".to_owned(),
        ));
    }
    if q.attempts == 0 {
        return Err(invalid("attempts", "must be at least 1, got 0".to_owned()));
    }
    if q.lock_duration_ms < 1000 {
        return Err(invalid(
            "lock_duration_ms",
            format!("must be at least 1000, got {}", q.lock_duration_ms),
        ));
    }
    if q.stalled_interval_ms < 1000 {
        return Err(invalid(
            "stalled_interval_ms",
            format!("must be at least 1000, got {}", q.stalled_interval_ms),
        ));
    }
    Ok(())
}

fn check_schedules(
    schedules: &[ScheduleConfig],
    cleanup: &CleanupConfig,
) -> Result<(), ConfigError> {
    let invalid = |key: String, problem: String| ConfigError::Invalid { key, problem };
    let mut names = HashSet::new();
    for (index, schedule) in schedules.iter().enumerate() {
        let key = format!("schedules[{index}]");
        let name = &schedule.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid(
                format!("{key}.name"),
                format!("must be letters, digits, '-', '_' or '.', got {name:?}"),
            ));
        }
        if !names.insert(name.as_str()) {
            return Err(invalid(
                format!("{key}.name"),
                format!("{name:?} names an earlier schedule too"),
            ));
        }
        let timing = Timing {
            cron: schedule.cron.as_deref(),
            tz: schedule.tz.as_deref(),
            every: schedule.every,
            at: schedule.at.is_some(),
        };
        check_timing(&key, &timing, true)?;
        if let Some(guild) = &schedule.guild {
            check_guild(&format!("{key}.guild"), guild)?;
        }
        match (&schedule.task, &schedule.send) {
            (None, None) => {
                return Err(invalid(
                    key,
                    "needs `task` (a SCHEDULED_TASK for the plugins) or `send` (a message to post)"
                        .to_owned(),
                ));
            }
            (Some(_), Some(_)) => {
                return Err(invalid(
                    key,
                    "has both `task` and `send`; keep one".to_owned(),
                ));
            }
            (None, Some(_)) if schedule.data.is_some() => {
                return Err(invalid(
                    format!("{key}.data"),
                    "is the task's data; a `send` schedule carries its message in `send`"
                        .to_owned(),
                ));
            }
            _ => {}
        }
        if let Some(send) = &schedule.send {
            let probe = serde_json::json!({
                "id": "config", "type": "SEND_MESSAGE", "timestamp": 0, "source": "bot",
                "data": send,
            });
            if let Err(error) = crate::protocol::Message::decode_value(probe) {
                let field = error.path.strip_prefix("data").unwrap_or(&error.path);
                return Err(invalid(format!("{key}.send{field}"), error.rule));
            }
        }
    }
    if cleanup.enabled {
        let timing = Timing {
            cron: cleanup.cron.as_deref(),
            tz: cleanup.tz.as_deref(),
            every: cleanup.every,
            at: false,
        };
        check_timing("cleanup", &timing, false)?;
        for (index, guild) in cleanup.guilds.iter().enumerate() {
            check_guild(&format!("cleanup.guilds[{index}]"), guild)?;
        }
        if let Some(index) = cleanup.case_types.iter().position(|t| t.trim().is_empty()) {
            return Err(invalid(
                format!("cleanup.case_types[{index}]"),
                "must not be empty".to_owned(),
            ));
        }
    }
    Ok(())
}

/// When a schedule runs, as written.
struct Timing<'a> {
    cron: Option<&'a str>,
    tz: Option<&'a str>,
    every: Option<u64>,
    at: bool,
}

/// Exactly one of `cron`, `every`, `at` (or none, when not `required`); a cron expression that
/// parses the way the queue will read it and matches again; `tz` only with `cron`.
fn check_timing(key: &str, timing: &Timing<'_>, required: bool) -> Result<(), ConfigError> {
    let invalid = |field: &str, problem: String| ConfigError::Invalid {
        key: if field.is_empty() {
            key.to_owned()
        } else {
            format!("{key}.{field}")
        },
        problem,
    };
    let set = [timing.cron.is_some(), timing.every.is_some(), timing.at]
        .iter()
        .filter(|set| **set)
        .count();
    if set > 1 {
        return Err(invalid(
            "",
            "set only one of `cron`, `every`, `at`".to_owned(),
        ));
    }
    if set == 0 && required {
        return Err(invalid(
            "",
            "needs `cron`, `every` or `at` to say when it runs".to_owned(),
        ));
    }
    if timing.tz.is_some() && timing.cron.is_none() {
        return Err(invalid("tz", "applies to `cron` only".to_owned()));
    }
    if let Some(cron) = timing.cron {
        match crate::queue::next_cron(cron, timing.tz, crate::queue::now_ms()) {
            Ok(Some(_)) => {}
            Ok(None) => return Err(invalid("cron", format!("{cron:?} never matches"))),
            Err(crate::queue::QueueError::InvalidOption { field, rule }) => {
                let field = if field == "repeat.tz" { "tz" } else { "cron" };
                return Err(invalid(field, rule));
            }
            Err(error) => return Err(invalid("cron", error.to_string())),
        }
    }
    if let Some(every) = timing.every
        && every < 1000
    {
        return Err(invalid(
            "every",
            format!("must be at least one second (1000 ms), got {every}"),
        ));
    }
    Ok(())
}

fn check_guild(key: &str, guild: &str) -> Result<(), ConfigError> {
    guild
        .parse::<crate::protocol::Snowflake>()
        .map(|_| ())
        .map_err(|_| ConfigError::Invalid {
            key: key.to_owned(),
            problem: format!("must be a Discord id (digits), got {guild:?}"),
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn secrets_are_redacted_for_printing() {
        assert_eq!(
            super::redact_url("redis://:hunter2@cache.internal:6379/0"),
            "redis://:***@cache.internal:6379/0"
        );
        assert_eq!(
            super::redact_url("rediss://bot:hunter2@cache.internal"),
            "rediss://bot:***@cache.internal"
        );
        assert_eq!(
            super::redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        let mut config = Config::default();
        config.redis.url = "redis://:hunter2@cache.internal:6379".into();
        config.discord.token = Some("MTIz.secret.token".into());
        config.discord.proxy = Some("http://bot:proxypass@proxy.internal:8080".into());
        // Redacted for printing, and as it is under `{:?}` (a log line, a panic message).
        for printed in [
            format!("{:#?}", config.redacted()),
            format!("{config:?}"),
            config.to_toml().unwrap_or_default(),
        ] {
            assert!(!printed.contains("hunter2"), "{printed}");
            assert!(!printed.contains("secret.token"), "{printed}");
            assert!(!printed.contains("proxypass"), "{printed}");
            assert!(printed.contains("cache.internal"), "{printed}");
        }
    }

    use super::*;

    #[test]
    fn empty_file_gives_the_seed_defaults() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config, Config::default());
        let q = config.queue("bot:commands");
        assert_eq!(
            (q.attempts, q.remove_on_complete, q.remove_on_fail),
            (3, 10, 5)
        );
        assert_eq!(q.backoff.kind, BackoffKind::Exponential);
        assert_eq!((q.stalled_interval_ms, q.max_stalled_count), (3_000, 1));
        assert!(config.dry_run());
    }

    #[test]
    fn per_queue_tables_override_only_their_keys() {
        let config = Config::from_toml_str(
            "[queues.defaults]\nattempts = 5\n[queues.\"bot:music\"]\nconcurrency = 1\n",
        )
        .unwrap();
        let music = config.queue("bot:music");
        assert_eq!((music.concurrency, music.attempts), (1, 5));
        assert_eq!(config.queue("analytics").concurrency, 200);
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut config =
            Config::from_toml_str("[redis]\nurl = \"redis://file:1\"\n[discord]\ntoken = \"a\"\n")
                .unwrap();
        config.apply_env(|k| match k {
            "REDIS_URL" => Some("redis://env:2".into()),
            "DISCORD_TOKEN" => Some("b".into()),
            _ => None,
        });
        assert_eq!(config.redis.url, "redis://env:2");
        assert_eq!(config.discord.token.as_deref(), Some("b"));
    }

    #[test]
    fn errors_name_the_key() {
        let cases = [
            (
                "[redis]\nurl = \"http://x\"\n",
                "redis.url: must start with",
            ),
            (
                "[redis]\nprefix = \"\"\n",
                "redis.prefix: must not be empty",
            ),
            (
                "[discord]\nproxy = \"ftp://x\"\n",
                "discord.proxy: must be an http",
            ),
            (
                "[queues.\"bot:config\"]\nattempts = 0\n",
                "queues.\"bot:config\".attempts: must be at least 1",
            ),
            (
                "[discord.fetch]\nallow = [\"media.internal\", \"http://x\"]\n",
                "discord.fetch.allow[1]: `http://x` is neither a host name",
            ),
            (
                "[discord.fetch]\nallow = [\"10.0.0.0/33\"]\n",
                "discord.fetch.allow[0]: `/33` is not a prefix length",
            ),
            (
                "[discord.fetch]\nmax_bytes = 0\n",
                "discord.fetch.max_bytes: must be at least 1",
            ),
            (
                "[discord.fetch]\ntimeout_ms = 0\n",
                "discord.fetch.timeout_ms: must be at least 1",
            ),
        ];
        for (text, expected) in cases {
            let err = Config::from_toml_str(text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text:?} gave {err:?}");
        }
    }

    #[test]
    fn schedules_read_cron_intervals_and_instants() {
        let config = Config::from_toml_str(
            r#"
            [[schedules]]
            name = "backup"
            cron = "0 3 * * *"
            tz = "Europe/Berlin"
            task = "BACKUP"
            data = { keep = 7 }

            [[schedules]]
            name = "stats"
            every = "15m"
            task = "ANALYTICS"

            [[schedules]]
            name = "launch"
            at = 2026-12-01T09:00:00+01:00
            guild = "100000000000000001"
            send = { channelId = "500000000000000001", content = "We are live" }

            [cleanup]
            cron = "30 * * * *"
            guilds = ["100000000000000001"]
            "#,
        )
        .unwrap();
        assert_eq!(config.schedules[0].task, Some(TaskType::Backup));
        assert_eq!(config.schedules[1].every, Some(900_000));
        assert_eq!(
            config.schedules[2].at.map(|at| at.to_rfc3339()),
            Some("2026-12-01T08:00:00+00:00".to_owned())
        );
        assert!(config.cleanup.enabled && config.cleanup.every.is_none());
        assert_eq!(parse_interval("1500ms"), Ok(1500));
        assert_eq!(parse_interval("2d"), Ok(172_800_000));
        assert!(parse_interval("5 weeks").is_err());
    }

    #[test]
    fn schedule_errors_name_the_entry_and_key() {
        // Two valid entries, then the one under test: errors name it `schedules[2]`.
        let valid = "[[schedules]]\nname = \"a\"\nevery = 60000\ntask = \"CLEANUP\"\n";
        let task = |body: &str| {
            format!(
                "{valid}{}[[schedules]]\n{body}\n",
                valid.replace("\"a\"", "\"b\"")
            )
        };
        let cases = [
            (
                task("name = \"c\"\ncron = \"61 * * * *\"\ntask = \"BACKUP\""),
                "schedules[2].cron: ",
            ),
            (
                task("name = \"c\"\ncron = \"0 * * * *\"\ntz = \"Mars/Base\"\ntask = \"BACKUP\""),
                "schedules[2].tz: `Mars/Base` is not an IANA time zone",
            ),
            (
                task("name = \"c\"\ncron = \"0 0 30 2 *\"\ntask = \"BACKUP\""),
                "schedules[2].cron: \"0 0 30 2 *\" never matches",
            ),
            (
                task("name = \"c\"\nevery = 60000\ncron = \"0 * * * *\"\ntask = \"BACKUP\""),
                "schedules[2]: set only one of `cron`, `every`, `at`",
            ),
            (
                task("name = \"c\"\ntask = \"BACKUP\""),
                "schedules[2]: needs `cron`, `every` or `at`",
            ),
            (
                task("name = \"a\"\nevery = 60000\ntask = \"BACKUP\""),
                "schedules[2].name: \"a\" names an earlier schedule too",
            ),
            (
                task("name = \"c\"\nevery = 500\ntask = \"BACKUP\""),
                "schedules[2].every: must be at least one second",
            ),
            (
                task("name = \"c\"\nevery = 60000"),
                "schedules[2]: needs `task`",
            ),
            (
                task("name = \"c\"\nevery = 60000\nguild = \"x1\"\ntask = \"BACKUP\""),
                "schedules[2].guild: must be a Discord id",
            ),
            (
                task(
                    "name = \"c\"\nevery = 60000\nsend = { channelId = \"nope\", content = \"hi\" }",
                ),
                "schedules[2].send.channelId: ",
            ),
            (
                "[cleanup]\nevery = \"1h\"\ncron = \"0 * * * *\"\n".to_owned(),
                "cleanup: set only one of `cron`, `every`, `at`",
            ),
        ];
        for (text, expected) in cases {
            let err = Config::from_toml_str(&text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text:?} gave {err:?}");
        }
        // A disabled cleanup is not checked.
        let off = "[cleanup]\nenabled = false\nevery = \"1h\"\ncron = \"0 * * * *\"\n";
        assert!(Config::from_toml_str(off).is_ok());
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_name() {
        let err = Config::from_toml_str("[redis]\nurl = \"redis://x\"\nprefx = \"b\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("prefx"), "{err}");
        let err = Config::from_toml_str("[queues.\"bot:music\"]\nconcurency = 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurency"), "{err}");
    }

    #[test]
    fn the_effective_configuration_prints_as_toml_that_reads_back() {
        let mut config = Config::from_toml_str(
            "[redis]\nurl = \"redis://:hunter2@cache:6379\"\n[queues.\"bot:music\"]\nconcurrency = 1\n\
             [[schedules]]\nname = \"backup\"\nevery = \"1h\"\ntask = \"BACKUP\"\n",
        )
        .expect("valid");
        config.discord.token = Some("secret-token".into());
        let text = config.to_toml().expect("serializable");
        assert!(
            !text.contains("hunter2") && !text.contains("secret-token"),
            "{text}"
        );
        let back = Config::from_toml_str(&text).expect("reads back");
        assert_eq!(back, config.redacted());
    }

    #[test]
    fn every_key_can_be_set_from_the_environment() {
        let vars = [
            ("GUILDHOST__REDIS__PREFIX", "bot"),
            ("GUILDHOST__QUEUES__DEFAULTS__ATTEMPTS", "5"),
            ("GUILDHOST__QUEUES__BOT_MUSIC__CONCURRENCY", "1"),
            (
                "GUILDHOST__QUEUES__DEFAULTS__BACKOFF",
                "{ type = \"fixed\", delay = 100 }",
            ),
            ("GUILDHOST__PLUGINS__DIR", "/srv/plugins"),
            ("GUILDHOST__CLEANUP__ENABLED", "false"),
            ("GUILDHOST_CONFIG", "/etc/guildhost.toml"),
            ("PATH", "/usr/bin"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned()));
        let config = Config::layered("[redis]\nprefix = \"file\"\n", vars).expect("valid");
        assert_eq!(
            config.redis.prefix, "bot",
            "the environment wins over the file"
        );
        assert_eq!(config.queue("bot:commands").attempts, 5);
        assert_eq!(config.queue("bot:music").concurrency, 1);
        assert_eq!(config.queue("bot:music").backoff.delay, 100);
        assert_eq!(config.plugins.dir, PathBuf::from("/srv/plugins"));
        assert!(!config.cleanup.enabled);

        let typo = [("GUILDHOST__REDIS__PREFX".to_owned(), "x".to_owned())];
        let error = Config::layered("", typo).unwrap_err().to_string();
        assert!(
            error.contains("prefx") && error.contains("GUILDHOST__REDIS__PREFX"),
            "{error}"
        );
    }

    #[test]
    fn relative_paths_in_a_file_are_read_from_its_directory() {
        let dir = std::env::temp_dir().join(format!("guildhost-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        let file = dir.join("guildhost.toml");
        std::fs::write(
            &file,
            "[plugins]\ndir = \"plugins.d\"\n[discord]\nmedia_dir = \"/srv/media\"\n",
        )
        .expect("written");
        let config = Config::load(&file).expect("valid");
        assert_eq!(config.plugins.dir, dir.join("plugins.d"));
        assert_eq!(config.discord.media_dir, Some(PathBuf::from("/srv/media")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_mistyped_queue_name_is_refused_with_the_one_meant() {
        let err = Config::from_toml_str("[queues.\"bot:musik\"]\nconcurrency = 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "queues.\"bot:musik\": is not a queue guildhost knows; did you mean \"bot:music\"?"
            ),
            "{err}"
        );
        let err = Config::from_toml_str("[queues.payments]\nattempts = 2\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("the queues are: bot:commands"), "{err}");
    }

    #[test]
    fn queue_ownership_defaults_leave_the_cross_service_queues_to_the_api() {
        let config = Config::default();
        for queue in [
            "bot:commands",
            "bot:moderation",
            "scheduled:tasks",
            "cleanup:tasks",
        ] {
            assert!(config.consumes(queue), "{queue}");
        }
        for queue in ["notifications", "webhooks", "analytics", "discord:events"] {
            assert!(!config.consumes(queue), "{queue}");
        }
        assert_eq!(
            config.queue("notifications").unhandled,
            Unhandled::DeadLetter
        );
        let config = Config::from_toml_str(
            "[queues.analytics]\nconsume = true\nunhandled = { forward = \"api:analytics\" }\n",
        )
        .unwrap();
        assert!(config.consumes("analytics"));
        assert_eq!(
            config.queue("analytics").unhandled,
            Unhandled::Forward("api:analytics".into())
        );
        assert!(
            config
                .to_toml()
                .unwrap()
                .contains("forward = \"api:analytics\"")
        );
    }

    #[test]
    fn ownership_that_cannot_work_is_refused_naming_the_key() {
        let err = Config::from_toml_str("[queues.\"discord:events\"]\nconsume = true\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("queues.\"discord:events\".consume: guildhost has no handler"),
            "{err}"
        );
        let err = Config::from_toml_str(
            "[queues.\"bot:commands\"]\nunhandled = { forward = \"bot:moderation\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "queues.\"bot:commands\".unhandled.forward: forwards to bot:moderation"
            ),
            "{err}"
        );
        let err = Config::from_toml_str("[queues.defaults]\nunhandled = { forward = \"\" }\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("queues.defaults.unhandled.forward: names no queue"),
            "{err}"
        );
    }

    #[test]
    fn the_fetch_table_reads_its_four_keys() {
        let config = Config::from_toml_str(
            r#"
            [discord.fetch]
            allow_private_networks = true
            allow = ["media.internal", "10.1.2.0/24", "127.0.0.1"]
            max_bytes = 1024
            timeout_ms = 2500
            "#,
        )
        .unwrap();
        let fetch = &config.discord.fetch;
        assert!(fetch.allow_private_networks);
        assert_eq!(fetch.allow, ["media.internal", "10.1.2.0/24", "127.0.0.1"]);
        assert_eq!((fetch.max_bytes, fetch.timeout_ms), (1024, 2500));
        let defaults = Config::default().discord.fetch;
        assert!(!defaults.allow_private_networks && defaults.allow.is_empty());
        assert_eq!(
            (defaults.max_bytes, defaults.timeout_ms),
            (8_388_608, 10_000)
        );
        let err = Config::from_toml_str("[discord.fetch]\nallow_private = true\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("allow_private"), "{err}");
    }
}
