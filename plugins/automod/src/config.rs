//! The plugin's configuration: the manifest's `[config]` defaults overlaid with the guild's
//! `automod` section (set through UPDATE_CONFIG `{config: {automod: {...}}}`).

use serde::Deserialize;

use guildhost_plugin::types::{AutomodAction, Severity};
use guildhost_plugin::{Context, Error};

/// Longest timeout Discord allows, in seconds (28 days).
pub const MAX_TIMEOUT_SECONDS: u64 = 28 * 24 * 60 * 60;

/// One guild's automod settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AutomodConfig {
    /// Master switch.
    pub enabled: bool,
    /// Members with any of these roles are never checked.
    pub exempt_roles: Vec<String>,
    /// Messages in these channels are never checked.
    pub exempt_channels: Vec<String>,
    /// Skip messages from bots and webhooks.
    pub ignore_bots: bool,
    /// The moderator id put on the timeouts and warnings automod issues (the bot's user id).
    pub moderator_id: String,
    /// Banned words and phrases.
    pub keywords: KeywordRule,
    /// Regular expressions.
    pub regex: RegexRule,
    /// Discord invite links.
    pub invites: InviteRule,
    /// Too many mentions in one message.
    pub mentions: MentionRule,
    /// Too many messages in a short time.
    pub rate: RateRule,
    /// Shouting.
    pub caps: CapsRule,
}

impl Default for AutomodConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            exempt_roles: Vec::new(),
            exempt_channels: Vec::new(),
            ignore_bots: true,
            moderator_id: String::from("0"),
            keywords: KeywordRule::default(),
            regex: RegexRule::default(),
            invites: InviteRule::default(),
            mentions: MentionRule::default(),
            rate: RateRule::default(),
            caps: CapsRule::default(),
        }
    }
}

/// What a rule does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    /// Delete the message.
    Delete,
    /// Time the author out.
    Timeout,
    /// Warn the author (through the moderation plugin).
    Warn,
}

impl Action {
    /// The WIT form.
    pub fn wit(self) -> AutomodAction {
        match self {
            Action::Delete => AutomodAction::Delete,
            Action::Timeout => AutomodAction::Timeout,
            Action::Warn => AutomodAction::Warn,
        }
    }
}

/// How serious a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    /// Minor.
    Low,
    /// Notable.
    Medium,
    /// Serious.
    High,
}

impl Level {
    /// The WIT form.
    pub fn wit(self) -> Severity {
        match self {
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
        }
    }
}

/// The consequence settings every rule has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consequence {
    /// What happens.
    pub action: Action,
    /// How serious it is.
    pub severity: Level,
    /// Timeout length for `TIMEOUT`, in seconds.
    pub timeout_seconds: u64,
}

macro_rules! rule_config {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }
     => $action:ident, $severity:ident, $timeout:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Deserialize)]
        #[serde(rename_all = "camelCase", default)]
        pub struct $name {
            /// Whether the rule runs.
            pub enabled: bool,
            /// What happens when it fires.
            pub action: Action,
            /// How serious a hit is.
            pub severity: Level,
            /// Timeout length for `TIMEOUT`, in seconds.
            pub timeout_seconds: u64,
            $($(#[$fdoc])* pub $field: $ty,)*
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    enabled: true,
                    action: Action::$action,
                    severity: Level::$severity,
                    timeout_seconds: $timeout,
                    $($field: $default,)*
                }
            }
        }

        impl $name {
            /// The rule's consequence.
            pub fn consequence(&self) -> Consequence {
                Consequence {
                    action: self.action,
                    severity: self.severity,
                    timeout_seconds: self.timeout_seconds,
                }
            }
        }
    };
}

rule_config! {
    /// Banned words and phrases; `*` matches any run of letters and digits (`spam*`, `*scam*`).
    /// Without a `*` a keyword matches whole words only; matching ignores case.
    KeywordRule {
        /// The banned words and phrases.
        words: Vec<String> = Vec::new(),
        /// Words that never count, even when a keyword matches them (`*ass*` vs `class`).
        allow: Vec<String> = Vec::new(),
    } => Delete, Medium, 300
}

rule_config! {
    /// Regular expressions (Rust `regex` syntax; `(?i)` for case-insensitive matching).
    RegexRule {
        /// The patterns: plain strings, or `{ name, pattern }` to name the rule in events.
        patterns: Vec<PatternEntry> = Vec::new(),
        /// Matched texts that never count (same wildcard syntax as keywords).
        allow: Vec<String> = Vec::new(),
    } => Delete, Medium, 300
}

rule_config! {
    /// Invite links to Discord servers (discord.gg, discord.com/invite, ...).
    InviteRule {
        /// Invite codes that are fine (the guild's own).
        allow: Vec<String> = Vec::new(),
    } => Delete, Medium, 300
}

rule_config! {
    /// More than `max` user and role mentions in one message (@everyone/@here counts as one).
    MentionRule {
        /// The most mentions allowed.
        max: u32 = 5,
    } => Timeout, High, 600
}

rule_config! {
    /// More than `max` messages from one member within `windowSeconds`.
    RateRule {
        /// The most messages allowed per window.
        max: u32 = 5,
        /// The window, in seconds.
        window_seconds: u64 = 5,
    } => Timeout, Medium, 300
}

rule_config! {
    /// Mostly capital letters: at least `ratio` of the letters, with at least `minLength` letters.
    CapsRule {
        /// Share of capitals (0 to 1) at which the rule fires.
        ratio: f64 = 0.7,
        /// Letters a message needs before the rule looks at it.
        min_length: u32 = 10,
    } => Delete, Low, 300
}

/// One regular expression of the `regex` rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PatternEntry {
    /// Just the pattern; the rule is reported as `regex`.
    Plain(String),
    /// A named pattern, reported as `regex:<name>`.
    Named {
        /// Name shown in AUTOMOD_TRIGGERED.
        name: String,
        /// The pattern.
        pattern: String,
    },
}

impl AutomodConfig {
    /// Reads and checks the configuration of the current guild.
    pub fn load(ctx: &Context<'_>) -> Result<Self, Error> {
        let config: Self = ctx.config()?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges.
    pub fn validate(&self) -> Result<(), Error> {
        let timeouts = [
            ("keywords", self.keywords.timeout_seconds),
            ("regex", self.regex.timeout_seconds),
            ("invites", self.invites.timeout_seconds),
            ("mentions", self.mentions.timeout_seconds),
            ("rate", self.rate.timeout_seconds),
            ("caps", self.caps.timeout_seconds),
        ];
        for (rule, seconds) in timeouts {
            if !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
                return Err(invalid(
                    &format!("{rule}.timeoutSeconds"),
                    &format!("must be within 1..={MAX_TIMEOUT_SECONDS}, got {seconds}"),
                ));
            }
        }
        if !(self.caps.ratio > 0.0 && self.caps.ratio <= 1.0) {
            return Err(invalid(
                "caps.ratio",
                &format!("must be within (0, 1], got {}", self.caps.ratio),
            ));
        }
        if self.rate.window_seconds == 0 {
            return Err(invalid("rate.windowSeconds", "must be at least 1"));
        }
        if self.rate.max == 0 {
            return Err(invalid("rate.max", "must be at least 1"));
        }
        let id = &self.moderator_id;
        if id.is_empty() || id.len() > 20 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "moderatorId",
                &format!("must be a snowflake (1 to 20 digits), got {id:?}"),
            ));
        }
        Ok(())
    }
}

fn invalid(field: &str, rule: &str) -> Error {
    Error::new(format!("automod configuration `{field}`: {rule}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;

    #[test]
    fn guild_settings_override_the_defaults_rule_by_rule() {
        let host = TestHost::new().with_config(serde_json::json!({
            "keywords": { "words": ["spam*"], "action": "WARN" },
            "regex": { "patterns": ["a+b", { "name": "phone", "pattern": "\\d{3}-\\d{4}" }] },
            "mentions": { "enabled": false }
        }));
        let config = AutomodConfig::load(&host.context()).unwrap();
        assert_eq!(config.keywords.action, Action::Warn);
        assert_eq!(config.keywords.severity, Level::Medium);
        assert!(!config.mentions.enabled);
        assert_eq!(config.mentions.max, 5);
        assert!(config.rate.enabled && config.caps.enabled && config.invites.enabled);
        assert!(
            matches!(&config.regex.patterns[1], PatternEntry::Named { name, .. } if name == "phone")
        );
    }

    #[test]
    fn bad_values_name_the_field() {
        for (config, field) in [
            (
                serde_json::json!({ "caps": { "ratio": 1.5 } }),
                "caps.ratio",
            ),
            (
                serde_json::json!({ "rate": { "windowSeconds": 0 } }),
                "rate.windowSeconds",
            ),
            (
                serde_json::json!({ "mentions": { "timeoutSeconds": 0 } }),
                "mentions.timeoutSeconds",
            ),
        ] {
            let host = TestHost::new().with_config(config);
            let error = AutomodConfig::load(&host.context()).unwrap_err();
            assert!(error.message().contains(field), "{error}");
        }
        let host =
            TestHost::new().with_config(serde_json::json!({ "caps": { "action": "EXPLODE" } }));
        assert!(AutomodConfig::load(&host.context()).is_err());
    }
}
