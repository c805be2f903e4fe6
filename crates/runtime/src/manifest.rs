//! The plugin manifest: `<name>.toml` beside `<name>.wasm`, saying what a plugin subscribes to,
//! what it may emit, where it may act, the limits it asks for and its default configuration.
//!
//! ```toml
//! name = "automod"                      # [a-z0-9_-], 1..=64 characters
//! version = "1.2.0"
//! subscribes = ["MESSAGE_CREATED", "my-webhook-event"]   # message type names, custom ones too;
//!                                       # "SCHEDULED_TASK:BACKUP": scheduled tasks of one kind
//! emits = ["DELETE_MESSAGE", "TIMEOUT_USER", "WARN_USER"]  # output message types granted; "*" = any (global only)
//! scope = "global"                      # or: scope = { guild = "123456789012345678" }
//!
//! [limits]                              # every key optional; clamped to the host's ceilings
//! wall-time-ms = 50
//! memory-bytes = 16777216
//! max-outputs = 16
//! max-output-bytes = 16384
//! kv-keys = 1000
//! kv-bytes = 1048576
//! fuel = 100000000                      # a per-call fuel budget; fuel is always reported
//!
//! [instance]
//! mode = "warm"                         # or "fresh": a new instance per message
//! recycle-after = 10000                 # warm only: replace the instance after this many calls
//!
//! [config]                              # default configuration, handed to the plugin as JSON
//! max-mentions = 5
//!
//! [[commands]]                          # application commands the plugin answers (optional)
//! name = "warn"                         # 1..=32 lowercase letters, digits, - _ ', unique per plugin
//! description = "Warn a member"         # 1..=100 characters
//! guild-only = true                     # optional; default false
//! [[commands.options]]                  # optional, at most 25; handed on as JSON, unread
//! name = "member"
//! type = 6
//! description = "Who"
//! required = true
//! ```
//!
//! The runtime keeps the declared commands for the host ([`Manifest::commands`]) and does not
//! interpret them: what a command, an option or `guild-only` means is the host's business.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::bindings::{CARRIED_AS_CUSTOM_TYPE_NAMES, MESSAGE_TYPE_NAMES};
use super::error::ManifestError;
use super::files::{Refusal, read_regular};
use super::limits::{PluginLimits, RequestedLimits, RuntimeLimits};
use super::logs::escape_line;

/// The grant that lets a global plugin emit any output type.
pub(crate) const ANY_OUTPUT: &str = "*";

/// Largest manifest file [`Manifest::load`] reads, in bytes.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 10;

/// Longest syntax error message kept (it may quote a key of the file).
const MAX_SYNTAX_MESSAGE_BYTES: usize = 512;

/// A parsed, validated manifest with its limits clamped to the host ceilings.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The plugin's name: its identity in the registry, logs, KV namespace and errors.
    pub name: String,
    /// The plugin's own version string (free form, shown in logs and `plugin check`).
    pub version: String,
    /// Message type names the plugin receives.
    pub subscribes: BTreeSet<String>,
    /// Output message types the plugin may emit.
    pub emits: BTreeSet<String>,
    /// Where the plugin may act.
    pub scope: Scope,
    /// Limits after clamping.
    pub limits: PluginLimits,
    /// Warm reuse or a fresh instance per message.
    pub instance: InstancePolicy,
    /// Default configuration (the `[config]` table as JSON); guild configuration is merged over it.
    pub default_config: serde_json::Value,
    /// The commands the plugin declares (`[[commands]]`), in manifest order.
    pub commands: Vec<DeclaredCommand>,
    /// What the host changed in what the manifest asked (a limit above a ceiling, lowered), one
    /// line each naming the key: `plugin check` prints them, loading logs them as warnings.
    pub notices: Vec<String>,
}

/// One `[[commands]]` entry: a command the plugin answers, kept for the host as declared.
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredCommand {
    /// The command's name, unique within the plugin: Discord's rule for chat-input commands,
    /// [`guildhost_rules::command_name`] (1 to 32 lowercase letters or digits, `-`, `_`, `'`).
    pub name: String,
    /// What it does: 1 to 100 characters.
    pub description: String,
    /// The `[[commands.options]]` tables as a JSON array (empty when none), not interpreted.
    pub options: serde_json::Value,
    /// The `guild-only` flag (default `false`), not interpreted.
    pub guild_only: bool,
}

/// Where a plugin may act.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// A first-party plugin: every guild's messages, outputs for any guild.
    Global,
    /// A guild admin's plugin: only this guild's messages, outputs only for this guild.
    Guild(String),
}

/// How instances are managed between calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstancePolicy {
    /// Reuse an instance across calls; replace it after a trap or after `recycle_after` calls.
    Warm {
        /// Calls served before the instance is replaced.
        recycle_after: u64,
    },
    /// A new instance for every message: strict isolation between messages.
    Fresh,
}

impl Manifest {
    /// Reads and validates the manifest file at `path`: a regular file (not a symlink, a
    /// directory, a FIFO...) of at most `MAX_MANIFEST_BYTES`, refused unread otherwise.
    pub fn load(path: &Path, ceilings: &RuntimeLimits) -> Result<Self, ManifestError> {
        let bytes = read_regular(path, MAX_MANIFEST_BYTES).map_err(|refusal| match refusal {
            Refusal::NotRegular(kind) => ManifestError::NotRegularFile {
                path: path.to_path_buf(),
                kind,
            },
            Refusal::TooLarge(size) => ManifestError::TooLarge {
                path: path.to_path_buf(),
                size,
                max: MAX_MANIFEST_BYTES,
            },
            Refusal::Io(source) => ManifestError::Read {
                path: path.to_path_buf(),
                source,
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ManifestError::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
        })?;
        Self::parse(&text, ceilings).map_err(|error| error.in_file(path))
    }

    /// Parses and validates manifest text. A syntax error gives the line and column and the
    /// parser's message on one line (control characters escaped), never the offending line.
    pub fn parse(text: &str, ceilings: &RuntimeLimits) -> Result<Self, ManifestError> {
        let raw: RawManifest = toml::from_str(text).map_err(|error| ManifestError::Syntax {
            path: None,
            message: syntax_message(text, &error),
        })?;
        raw.validate(ceilings)
    }

    /// Whether the plugin receives messages of this type.
    pub fn subscribes_to(&self, type_name: &str) -> bool {
        self.subscribes.contains(type_name)
    }

    /// Whether the plugin may emit an output of this message type.
    pub fn may_emit(&self, type_name: &str) -> bool {
        self.emits.contains(type_name) || self.emits.contains(ANY_OUTPUT)
    }

    /// The command the plugin declares under `name`.
    pub fn command(&self, name: &str) -> Option<&DeclaredCommand> {
        self.commands.iter().find(|command| command.name == name)
    }
}

/// Most options per command.
const COMMAND_OPTIONS: usize = 25;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManifest {
    name: String,
    version: String,
    #[serde(default)]
    subscribes: Vec<String>,
    #[serde(default)]
    emits: Vec<String>,
    scope: RawScope,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    instance: RawInstance,
    #[serde(default)]
    config: Option<toml::Table>,
    #[serde(default)]
    commands: Vec<RawCommand>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCommand {
    name: String,
    description: String,
    #[serde(default)]
    options: Vec<toml::Table>,
    #[serde(default)]
    guild_only: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawScope {
    Named(String),
    Guild { guild: String },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawLimits {
    wall_time_ms: Option<u64>,
    memory_bytes: Option<u64>,
    max_outputs: Option<u32>,
    max_output_bytes: Option<u64>,
    kv_keys: Option<u64>,
    kv_bytes: Option<u64>,
    fuel: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawInstance {
    #[serde(default)]
    mode: RawMode,
    recycle_after: Option<u64>,
}

#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum RawMode {
    #[default]
    Warm,
    Fresh,
}

/// `line L, column C: <message>` on one line, escaped and cut: the parser's own rendering
/// quotes the offending line of the file, which is not repeated into the host's log.
fn syntax_message(text: &str, error: &toml::de::Error) -> String {
    let place = error
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| {
            let line = before.matches('\n').count() + 1;
            let column = before
                .rsplit('\n')
                .next()
                .map_or(0, |last| last.chars().count())
                + 1;
            format!("line {line}, column {column}: ")
        })
        .unwrap_or_default();
    let message: Vec<&str> = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    escape_line(
        &format!("{place}{}", message.join("; ")),
        MAX_SYNTAX_MESSAGE_BYTES,
    )
    .0
}

fn invalid(field: &str, rule: impl Into<String>) -> ManifestError {
    ManifestError::Invalid {
        path: None,
        field: field.to_owned(),
        rule: rule.into(),
    }
}

fn is_valid_plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Whether `id` looks like a Discord snowflake: 1 to 20 ASCII digits.
pub(crate) fn is_snowflake(id: &str) -> bool {
    (1..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit())
}

/// The defined message type `name` is a misspelling of (see [`guildhost_rules::nearest`]).
fn misspelt_type(name: &str) -> Option<&'static str> {
    if name == ANY_OUTPUT {
        return None;
    }
    let defined = MESSAGE_TYPE_NAMES
        .iter()
        .chain(CARRIED_AS_CUSTOM_TYPE_NAMES);
    guildhost_rules::nearest(name, defined.copied())
}

/// The kinds of `SCHEDULED_TASK` (the seed's `taskType`), which a subscription may name alone.
const TASK_KINDS: [&str; 4] = ["CLEANUP", "BACKUP", "ANALYTICS", "REMINDERS"];

fn type_names(field: &str, names: Vec<String>) -> Result<BTreeSet<String>, ManifestError> {
    let mut set = BTreeSet::new();
    for (index, name) in names.into_iter().enumerate() {
        let valid = (1..=128).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:*".contains(&b));
        if !valid {
            return Err(invalid(
                &format!("{field}[{index}]"),
                format!(
                    "must be a message type name of 1 to 128 characters from [A-Za-z0-9_-.:], got {name:?}"
                ),
            ));
        }
        if name.contains('*') && name != ANY_OUTPUT {
            return Err(invalid(
                &format!("{field}[{index}]"),
                format!("\"*\" is only valid alone, got {name:?}"),
            ));
        }
        if let Some(kind) = name.strip_prefix("SCHEDULED_TASK:")
            && !TASK_KINDS.contains(&kind)
        {
            let hint = guildhost_rules::nearest(kind, TASK_KINDS.iter().copied())
                .map(|meant| format!("did you mean \"SCHEDULED_TASK:{meant}\"? "))
                .unwrap_or_default();
            return Err(invalid(
                &format!("{field}[{index}]"),
                format!(
                    "{name:?} names no kind of scheduled task; {hint}the kinds are {}",
                    TASK_KINDS.join(", ")
                ),
            ));
        }
        if let Some(meant) = misspelt_type(&name) {
            return Err(invalid(
                &format!("{field}[{index}]"),
                format!(
                    "{name:?} is not a message type; did you mean {meant:?}? (a type the API \
                     defines may have any name, but not one this close to a defined type's)"
                ),
            ));
        }
        set.insert(name);
    }
    Ok(set)
}

impl RawManifest {
    fn validate(self, ceilings: &RuntimeLimits) -> Result<Manifest, ManifestError> {
        if !is_valid_plugin_name(&self.name) {
            return Err(invalid(
                "name",
                format!(
                    "must be 1 to 64 characters from [a-z0-9_-], got {:?}",
                    self.name
                ),
            ));
        }
        if self.version.trim().is_empty() || self.version.len() > 64 {
            return Err(invalid("version", "must be 1 to 64 characters"));
        }
        let scope = match self.scope {
            RawScope::Named(name) if name == "global" => Scope::Global,
            RawScope::Named(other) => {
                return Err(invalid(
                    "scope",
                    format!("must be \"global\" or {{ guild = \"<guild id>\" }}, got {other:?}"),
                ));
            }
            RawScope::Guild { guild } if is_snowflake(&guild) => Scope::Guild(guild),
            RawScope::Guild { guild } => {
                return Err(invalid(
                    "scope.guild",
                    format!("must be a guild id (1 to 20 digits), got {guild:?}"),
                ));
            }
        };
        let subscribes = type_names("subscribes", self.subscribes)?;
        if subscribes.contains(ANY_OUTPUT) {
            return Err(invalid(
                "subscribes",
                "must name message types; \"*\" is not allowed",
            ));
        }
        let emits = type_names("emits", self.emits)?;
        if emits.contains(ANY_OUTPUT) && scope != Scope::Global {
            return Err(invalid(
                "emits",
                "\"*\" is only allowed for scope = \"global\"; a guild plugin lists its output types",
            ));
        }
        let raw = self.limits;
        for (field, value) in [
            ("limits.wall-time-ms", raw.wall_time_ms),
            ("limits.memory-bytes", raw.memory_bytes),
            ("limits.max-output-bytes", raw.max_output_bytes),
            ("limits.fuel", raw.fuel),
        ] {
            if value == Some(0) {
                return Err(invalid(field, "must be greater than 0"));
            }
        }
        let requested = RequestedLimits {
            wall_time: raw.wall_time_ms.map(Duration::from_millis),
            memory_bytes: raw.memory_bytes,
            max_outputs: raw.max_outputs,
            max_output_bytes: raw.max_output_bytes,
            kv_keys: raw.kv_keys,
            kv_bytes: raw.kv_bytes,
            fuel: raw.fuel,
        };
        let instance = match (self.instance.mode, self.instance.recycle_after) {
            (RawMode::Fresh, Some(_)) => {
                return Err(invalid(
                    "instance.recycle-after",
                    "only applies to mode = \"warm\"",
                ));
            }
            (RawMode::Fresh, None) => InstancePolicy::Fresh,
            (RawMode::Warm, Some(0)) => {
                return Err(invalid("instance.recycle-after", "must be at least 1"));
            }
            (RawMode::Warm, recycle_after) => InstancePolicy::Warm {
                recycle_after: recycle_after.unwrap_or(ceilings.default_recycle_after),
            },
        };
        let default_config = match self.config {
            Some(table) => serde_json::to_value(table).map_err(|error| {
                invalid("config", format!("cannot be represented as JSON: {error}"))
            })?,
            None => serde_json::Value::Object(serde_json::Map::new()),
        };
        let commands = declared_commands(self.commands)?;
        Ok(Manifest {
            name: self.name,
            version: self.version,
            subscribes,
            emits,
            scope,
            limits: ceilings.clamp(&requested),
            notices: ceilings.lowered(&requested),
            instance,
            default_config,
            commands,
        })
    }
}

fn declared_commands(raw: Vec<RawCommand>) -> Result<Vec<DeclaredCommand>, ManifestError> {
    let mut commands: Vec<DeclaredCommand> = Vec::with_capacity(raw.len());
    for (index, command) in raw.into_iter().enumerate() {
        let at = |key: &str| format!("commands[{index}].{key}");
        guildhost_rules::command_name(&command.name)
            .map_err(|rule| invalid(&at("name"), format!("{rule} ({:?})", command.name)))?;
        if let Some(first) = commands.iter().position(|c| c.name == command.name) {
            return Err(invalid(
                &at("name"),
                format!(
                    "{:?} is already declared by commands[{first}]",
                    command.name
                ),
            ));
        }
        guildhost_rules::command_description(&command.description)
            .map_err(|rule| invalid(&at("description"), rule))?;
        if command.options.len() > COMMAND_OPTIONS {
            return Err(invalid(
                &at("options"),
                format!(
                    "must hold at most {COMMAND_OPTIONS} options, got {}",
                    command.options.len()
                ),
            ));
        }
        let options = serde_json::to_value(command.options).map_err(|error| {
            invalid(
                &at("options"),
                format!("cannot be represented as JSON: {error}"),
            )
        })?;
        commands.push(DeclaredCommand {
            name: command.name,
            description: command.description,
            options,
            guild_only: command.guild_only,
        });
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"
        name = "automod"
        version = "1.2.0"
        subscribes = ["MESSAGE_CREATED", "my-webhook-event"]
        emits = ["DELETE_MESSAGE", "TIMEOUT_USER"]
        scope = { guild = "123456789012345678" }

        [limits]
        wall-time-ms = 50
        max-outputs = 4
        fuel = 1000000

        [instance]
        mode = "warm"
        recycle-after = 100

        [config]
        max-mentions = 5
        words = ["a", "b"]
    "#;

    #[test]
    fn parses_every_section() {
        let manifest = Manifest::parse(FULL, &RuntimeLimits::default()).unwrap();
        assert_eq!(manifest.name, "automod");
        assert!(manifest.subscribes_to("my-webhook-event"));
        assert!(manifest.may_emit("TIMEOUT_USER"));
        assert!(!manifest.may_emit("BAN_USER"));
        assert_eq!(manifest.scope, Scope::Guild("123456789012345678".into()));
        assert_eq!(manifest.limits.wall_time, Duration::from_millis(50));
        assert_eq!(manifest.limits.max_outputs, 4);
        assert_eq!(manifest.limits.fuel, Some(1_000_000));
        assert_eq!(
            manifest.instance,
            InstancePolicy::Warm { recycle_after: 100 }
        );
        assert_eq!(
            manifest.default_config,
            serde_json::json!({"max-mentions": 5, "words": ["a", "b"]})
        );
    }

    #[test]
    fn minimal_manifest_gets_defaults() {
        let text = "name = \"echo\"\nversion = \"0.1.0\"\nscope = \"global\"\n";
        let manifest = Manifest::parse(text, &RuntimeLimits::default()).unwrap();
        assert_eq!(manifest.scope, Scope::Global);
        assert!(manifest.subscribes.is_empty());
        assert_eq!(
            manifest.instance,
            InstancePolicy::Warm {
                recycle_after: RuntimeLimits::default().default_recycle_after
            }
        );
        assert_eq!(manifest.default_config, serde_json::json!({}));
    }

    #[test]
    fn a_misspelt_message_type_is_named_with_the_one_meant() {
        let head = "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n";
        for (list, field, meant) in [
            (
                "subscribes = [\"MESSAGE_CREATD\"]",
                "subscribes[0]",
                "MESSAGE_CREATED",
            ),
            (
                "subscribes = [\"BAN_USER\", \"member_joined\"]",
                "subscribes[1]",
                "MEMBER_JOINED",
            ),
            (
                "emits = [\"INTERACTION-REPLY\"]",
                "emits[0]",
                "INTERACTION_REPLY",
            ),
        ] {
            let text = format!("{head}{list}");
            match Manifest::parse(&text, &RuntimeLimits::default()) {
                Err(ManifestError::Invalid {
                    field: got, rule, ..
                }) => {
                    assert_eq!(got, field, "{text}");
                    assert!(rule.contains(&format!("did you mean {meant:?}")), "{rule}");
                }
                other => panic!("expected {field} to be refused, got {other:?}"),
            }
        }
        // Defined names, and the API's own types far from any defined one, are accepted.
        let text = format!(
            "{head}subscribes = [\"MESSAGE_CREATED\", \"INTERACTION_CREATED\", \"ANALYTICS_PAGE_VIEW\"]"
        );
        let manifest = Manifest::parse(&text, &RuntimeLimits::default()).expect("valid");
        assert_eq!(manifest.subscribes.len(), 3);
    }

    #[test]
    fn a_subscription_may_name_one_kind_of_scheduled_task() {
        let head = "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n";
        let text = format!("{head}subscribes = [\"SCHEDULED_TASK:BACKUP\"]");
        let manifest = Manifest::parse(&text, &RuntimeLimits::default()).expect("valid");
        assert!(manifest.subscribes_to("SCHEDULED_TASK:BACKUP"));
        let text = format!("{head}subscribes = [\"SCHEDULED_TASK:BAKUP\"]");
        match Manifest::parse(&text, &RuntimeLimits::default()) {
            Err(ManifestError::Invalid { field, rule, .. }) => {
                assert_eq!(field, "subscribes[0]");
                assert!(
                    rule.contains("did you mean \"SCHEDULED_TASK:BACKUP\"?"),
                    "{rule}"
                );
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_limit_above_the_ceiling_is_lowered_with_a_notice() {
        let text =
            "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n[limits]\nwall-time-ms = 20000";
        let manifest = Manifest::parse(text, &RuntimeLimits::default()).expect("valid");
        assert_eq!(manifest.limits.wall_time, Duration::from_secs(2));
        assert_eq!(manifest.notices.len(), 1);
        assert!(
            manifest.notices[0].starts_with("limits.wall-time-ms: asked 20000 ms"),
            "{:?}",
            manifest.notices
        );
    }

    #[test]
    fn errors_name_the_field_and_the_rule() {
        let cases = [
            (
                "name = \"Bad Name\"\nversion = \"1\"\nscope = \"global\"",
                "name",
            ),
            ("name = \"a\"\nversion = \"1\"\nscope = \"world\"", "scope"),
            (
                "name = \"a\"\nversion = \"1\"\nscope = { guild = \"abc\" }",
                "scope.guild",
            ),
            (
                "name = \"a\"\nversion = \"1\"\nscope = { guild = \"1\" }\nemits = [\"*\"]",
                "emits",
            ),
            (
                "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n[instance]\nmode = \"fresh\"\nrecycle-after = 3",
                "instance.recycle-after",
            ),
            (
                "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n[limits]\nwall-time-ms = 0",
                "limits.wall-time-ms",
            ),
        ];
        for (text, field) in cases {
            let error = Manifest::parse(text, &RuntimeLimits::default()).unwrap_err();
            match &error {
                ManifestError::Invalid { field: got, .. } => assert_eq!(got, field, "{text}"),
                other => panic!("expected an invalid-field error for {field}, got {other}"),
            }
        }
    }

    #[test]
    fn declared_commands_are_kept_as_declared() {
        let text = r#"
            name = "mod"
            version = "1"
            scope = "global"

            [[commands]]
            name = "warn"
            description = "Warn a member"
            guild-only = true
            [[commands.options]]
            name = "member"
            type = 6
            description = "Who"
            required = true

            [[commands]]
            name = "ping"
            description = "Are you there?"
        "#;
        let manifest = Manifest::parse(text, &RuntimeLimits::default()).unwrap();
        assert_eq!(manifest.commands.len(), 2);
        let warn = manifest.command("warn").unwrap();
        assert!(warn.guild_only);
        assert_eq!(
            warn.options,
            serde_json::json!([{"name": "member", "type": 6, "description": "Who", "required": true}])
        );
        let ping = manifest.command("ping").unwrap();
        assert!(!ping.guild_only);
        assert_eq!(ping.options, serde_json::json!([]));
        assert!(manifest.command("ban").is_none());
    }

    #[test]
    fn command_errors_name_the_entry_and_the_key() {
        let head = "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n";
        let cases = [
            (
                "[[commands]]\nname = \"Warn\"\ndescription = \"d\"",
                "commands[0].name",
                "must be lowercase",
            ),
            (
                "[[commands]]\nname = \"a\"\ndescription = \"d\"\n[[commands]]\nname = \"a\"\ndescription = \"d\"",
                "commands[1].name",
                "already declared by commands[0]",
            ),
            (
                "[[commands]]\nname = \"a\"\ndescription = \" \"",
                "commands[0].description",
                "must be 1..=100 characters long, got 0",
            ),
        ];
        for (commands, field, rule) in cases {
            let text = format!("{head}{commands}");
            match Manifest::parse(&text, &RuntimeLimits::default()) {
                Err(ManifestError::Invalid {
                    field: got,
                    rule: why,
                    ..
                }) => {
                    assert_eq!(got, field, "{text}");
                    assert!(why.contains(rule), "{why}");
                }
                other => panic!("expected an invalid-field error for {field}, got {other:?}"),
            }
        }
        let text =
            format!("{head}[[commands]]\nname = \"a\"\ndescription = \"d\"\nguild_only = true");
        let error = Manifest::parse(&text, &RuntimeLimits::default()).unwrap_err();
        assert!(error.to_string().contains("guild_only"), "{error}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = "name = \"a\"\nversion = \"1\"\nscope = \"global\"\n[limits]\nwall-time = 5";
        let error = Manifest::parse(text, &RuntimeLimits::default()).unwrap_err();
        assert!(error.to_string().contains("wall-time"), "{error}");
        assert!(error.to_string().contains("line 5, column 1"), "{error}");
    }

    #[test]
    fn a_syntax_error_is_one_line_and_does_not_quote_the_file() {
        let text =
            "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n";
        let error = Manifest::parse(text, &RuntimeLimits::default()).unwrap_err();
        let shown = error.to_string();
        assert!(matches!(error, ManifestError::Syntax { .. }), "{shown}");
        assert!(shown.contains("line 1, column"), "{shown}");
        assert!(!shown.contains("/bin/bash"), "{shown}");
        assert!(!shown.contains("x:0:0"), "{shown}");
        assert!(!shown.chars().any(char::is_control), "{shown}");
    }

    #[test]
    fn load_refuses_oversized_and_irregular_files_without_their_contents() {
        let dir = std::env::temp_dir().join(format!("guildhost-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        let big = dir.join("big.toml");
        let secret = "secret-content-line";
        let body = format!("# {secret}\n").repeat(10_000);
        std::fs::write(&big, &body).expect("write");
        let error = Manifest::load(&big, &RuntimeLimits::default()).unwrap_err();
        assert!(matches!(error, ManifestError::TooLarge { .. }), "{error}");
        assert!(error.to_string().contains("65536"), "{error}");
        assert!(!error.to_string().contains(secret), "{error}");
        #[cfg(unix)]
        {
            let link = dir.join("link.toml");
            std::os::unix::fs::symlink(&big, &link).expect("symlink");
            let error = Manifest::load(&link, &RuntimeLimits::default()).unwrap_err();
            assert!(
                matches!(error, ManifestError::NotRegularFile { .. }),
                "{error}"
            );
            assert!(error.to_string().contains("is a symlink"), "{error}");
            assert!(!error.to_string().contains(secret), "{error}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
