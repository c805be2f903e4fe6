//! The operator's configuration (`guildhost.toml`): loading, environment overrides, validation.
//!
//! The keys `[redis] url, prefix`, `[discord] token, proxy` and `[plugins] dir` are fixed because
//! operators and external test suites use them. `REDIS_URL` and `DISCORD_TOKEN` in the environment
//! override the file. Every error names the key and the problem, e.g.
//! `queues.defaults.attempts: must be at least 1, got 0`.
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

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Everything guildhost reads from `guildhost.toml`, after defaults and environment overrides.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
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
}

/// `[redis]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://` or `rediss://` URL; `REDIS_URL` overrides it.
    pub url: String,
    /// Bull's key prefix, shared with the Node API (`bull` unless the API sets another).
    pub prefix: String,
}

/// `[discord]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The bot token; `DISCORD_TOKEN` overrides it. None means dry run.
    pub token: Option<String>,
    /// A base URL REST calls go through (an HTTP proxy in production, a local fake in tests).
    pub proxy: Option<String>,
}

/// `[plugins]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    /// Directory watched for `<name>.wasm` + `<name>.toml` pairs.
    pub dir: PathBuf,
    /// Load the first-party plugins embedded in the binary (a plugin of the same name in `dir`
    /// replaces one).
    pub first_party: bool,
}

/// `[queues]`: `defaults` plus one table per queue name.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct QueuesConfig {
    /// Settings for every queue that has no table of its own.
    pub defaults: QueueSettings,
    /// Per-queue overrides, keyed by queue name (`"bot:moderation"`); unset keys come from `defaults`.
    #[serde(flatten)]
    pub per_queue: BTreeMap<String, QueueOverrides>,
}

/// Bull job and worker options for one queue. The defaults are the seed's.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// Jobs taken at once by this host.
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
    /// How long a job's lock lasts without renewal, in ms.
    pub lock_duration_ms: u64,
}

/// One queue's table: every key optional, falling back to `[queues.defaults]`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
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
}

/// Bull's backoff: `{ type = "exponential", delay = 2000 }`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BackoffSetting {
    /// `fixed` or `exponential`.
    #[serde(rename = "type")]
    pub kind: BackoffKind,
    /// Base delay in ms.
    pub delay: u64,
}

/// The backoff strategies Bull knows without custom code.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackoffKind {
    /// The same delay before every retry.
    Fixed,
    /// `(2^attemptsMade - 1) * delay`.
    Exponential,
}

/// `[http]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address of `/metrics`, `/healthz` and `/readyz`.
    pub listen: SocketAddr,
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
        }
    }
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            concurrency: 16,
            attempts: 3,
            backoff: BackoffSetting {
                kind: BackoffKind::Exponential,
                delay: 2000,
            },
            remove_on_complete: 10,
            remove_on_fail: 5,
            stalled_interval_ms: 30_000,
            max_stalled_count: 1,
            lock_duration_ms: 30_000,
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
        let mut config = Self::parse(&text)?;
        config.apply_env(|name| std::env::var(name).ok());
        config.validate()?;
        Ok(config)
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
        check_queue("queues.defaults", &self.queues.defaults)?;
        for name in self.queues.per_queue.keys() {
            check_queue(&format!("queues.\"{name}\""), &self.queue(name))?;
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
        }
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

#[cfg(test)]
mod tests {
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
        assert_eq!((q.stalled_interval_ms, q.max_stalled_count), (30_000, 1));
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
        assert_eq!(config.queue("analytics").concurrency, 16);
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
        ];
        for (text, expected) in cases {
            let err = Config::from_toml_str(text).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{text:?} gave {err:?}");
        }
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
}
