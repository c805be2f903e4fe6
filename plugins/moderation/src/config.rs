//! The plugin's configuration: the manifest's `[config]` defaults overlaid with the guild's
//! `moderation` section, deserialized and checked once per call.

use serde::Deserialize;

use guildhost_plugin::{Context, Error};

/// Longest timeout Discord allows, in seconds (28 days).
pub const MAX_TIMEOUT_SECONDS: u64 = 28 * 24 * 60 * 60;

/// The moderation settings of one guild.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ModerationConfig {
    /// Whether a warned user gets a DM.
    pub notify_on_warn: bool,
    /// The warning escalation ladder.
    pub escalation: Escalation,
}

impl Default for ModerationConfig {
    fn default() -> Self {
        Self {
            notify_on_warn: true,
            escalation: Escalation::default(),
        }
    }
}

/// "N warnings within the window → action".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Escalation {
    /// Whether warnings escalate at all.
    pub enabled: bool,
    /// How far back warnings count, in hours.
    pub window_hours: f64,
    /// The steps, in any order (they are sorted by `warnings`).
    pub steps: Vec<EscalationStep>,
}

impl Default for Escalation {
    fn default() -> Self {
        Self {
            enabled: true,
            window_hours: 168.0,
            steps: vec![
                EscalationStep {
                    warnings: 3,
                    action: EscalationAction::Timeout,
                    duration_seconds: Some(3600),
                    duration_hours: None,
                },
                EscalationStep {
                    warnings: 5,
                    action: EscalationAction::Ban,
                    duration_seconds: None,
                    duration_hours: None,
                },
            ],
        }
    }
}

/// One rung of the ladder.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EscalationStep {
    /// The warning count (within the window) at which the step applies.
    pub warnings: u32,
    /// What happens.
    pub action: EscalationAction,
    /// Timeout length in seconds (TIMEOUT only; default one hour).
    #[serde(default)]
    pub duration_seconds: Option<u64>,
    /// Ban length in hours (BAN only; absent = permanent).
    #[serde(default)]
    pub duration_hours: Option<f64>,
}

/// The action of an escalation step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EscalationAction {
    /// Time the user out.
    Timeout,
    /// Kick the user.
    Kick,
    /// Ban the user.
    Ban,
}

impl ModerationConfig {
    /// Reads and checks the configuration of the current guild.
    pub fn load(ctx: &Context<'_>) -> Result<Self, Error> {
        let mut config: Self = ctx.config()?;
        config.validate()?;
        config.escalation.steps.sort_by_key(|step| step.warnings);
        Ok(config)
    }

    /// Checks the values serde cannot: ranges and per-action fields.
    pub fn validate(&self) -> Result<(), Error> {
        let escalation = &self.escalation;
        if !(escalation.window_hours.is_finite() && escalation.window_hours > 0.0) {
            return Err(Error::new(format!(
                "moderation configuration `escalation.windowHours`: must be a positive number of hours, got {}",
                escalation.window_hours
            )));
        }
        for (index, step) in escalation.steps.iter().enumerate() {
            let field =
                |name: &str| format!("moderation configuration `escalation.steps[{index}].{name}`");
            if step.warnings == 0 {
                return Err(Error::new(format!(
                    "{}: must be at least 1",
                    field("warnings")
                )));
            }
            if let Some(seconds) = step.duration_seconds
                && !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds)
            {
                return Err(Error::new(format!(
                    "{}: must be within 1..={MAX_TIMEOUT_SECONDS}, got {seconds}",
                    field("durationSeconds")
                )));
            }
            if let Some(hours) = step.duration_hours
                && !(hours.is_finite() && hours > 0.0)
            {
                return Err(Error::new(format!(
                    "{}: must be a positive number of hours, got {hours}",
                    field("durationHours")
                )));
            }
        }
        Ok(())
    }
}

impl Escalation {
    /// The step that applies at `count` warnings: the one for exactly that count, or the last
    /// step once the count has passed it.
    pub fn step_for(&self, count: u32) -> Option<&EscalationStep> {
        if !self.enabled {
            return None;
        }
        let last = self.steps.last()?;
        if count > last.warnings {
            return Some(last);
        }
        self.steps.iter().find(|step| step.warnings == count)
    }

    /// The window in milliseconds.
    pub fn window_ms(&self) -> u64 {
        hours_to_ms(self.window_hours)
    }
}

/// Hours as milliseconds, rounded, saturating.
pub fn hours_to_ms(hours: f64) -> u64 {
    let ms = (hours * 3_600_000.0).round();
    if ms <= 0.0 {
        0
    } else if ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        ms as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;

    #[test]
    fn defaults_are_three_warnings_a_timeout_five_a_ban() {
        let config = ModerationConfig::default();
        assert_eq!(
            config.escalation.step_for(3).map(|s| s.action),
            Some(EscalationAction::Timeout)
        );
        assert_eq!(config.escalation.step_for(4), None);
        assert_eq!(
            config.escalation.step_for(5).map(|s| s.action),
            Some(EscalationAction::Ban)
        );
        assert_eq!(
            config.escalation.step_for(6).map(|s| s.action),
            Some(EscalationAction::Ban)
        );
        assert_eq!(config.escalation.window_ms(), 7 * 24 * 3_600_000);
    }

    #[test]
    fn guild_settings_override_and_steps_are_sorted() {
        let host = TestHost::new().with_config(serde_json::json!({
            "escalation": { "windowHours": 24, "steps": [
                { "warnings": 4, "action": "KICK" },
                { "warnings": 2, "action": "TIMEOUT", "durationSeconds": 60 }
            ]}
        }));
        let config = ModerationConfig::load(&host.context()).unwrap();
        assert!(config.notify_on_warn);
        assert_eq!(config.escalation.steps[0].warnings, 2);
        assert_eq!(config.escalation.window_ms(), 24 * 3_600_000);
    }

    #[test]
    fn bad_values_are_refused_with_the_field_named() {
        let host = TestHost::new().with_config(serde_json::json!({
            "escalation": { "steps": [ { "warnings": 2, "action": "TIMEOUT", "durationSeconds": 0 } ] }
        }));
        let error = ModerationConfig::load(&host.context()).unwrap_err();
        assert!(
            error
                .message()
                .contains("escalation.steps[0].durationSeconds"),
            "{error}"
        );
        let host =
            TestHost::new().with_config(serde_json::json!({ "escalation": { "windowHours": -1 } }));
        let error = ModerationConfig::load(&host.context()).unwrap_err();
        assert!(
            error.message().contains("escalation.windowHours"),
            "{error}"
        );
        let host = TestHost::new().with_config(serde_json::json!({
            "escalation": { "steps": [ { "warnings": 2, "action": "SHOUT" } ] }
        }));
        assert!(ModerationConfig::load(&host.context()).is_err());
    }
}
