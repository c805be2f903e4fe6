//! Builders for the outputs a handler returns: commands to execute now or later, and events
//! to publish.

use std::time::Duration;

use crate::types::{DelayedEmission, Emission, Message, Output, Snowflake};

impl Output {
    /// Execute `command` now, for the guild of the message being handled.
    ///
    /// ```
    /// use guildhost_plugin::{Output, types::DeleteMessage};
    ///
    /// let out = Output::execute(DeleteMessage::new("111", "222").with_reason("spam"));
    /// assert_eq!(out.message().type_name(), "DELETE_MESSAGE");
    /// assert_eq!(out.guild_id(), None);
    /// ```
    pub fn execute(command: impl Into<Message>) -> Self {
        Output::Execute(Emission {
            message: command.into(),
            guild_id: None,
        })
    }

    /// Publish `event` for the API, for the guild of the message being handled.
    pub fn publish(event: impl Into<Message>) -> Self {
        Output::Publish(Emission {
            message: event.into(),
            guild_id: None,
        })
    }

    /// Execute `command` after `delay` (milliseconds, saturating at `u64::MAX`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use guildhost_plugin::{Output, types::SendMessage};
    ///
    /// let out = Output::execute_after(Duration::from_secs(60), SendMessage::text("111", "a minute later"));
    /// assert_eq!(out.delay(), Some(Duration::from_secs(60)));
    /// ```
    pub fn execute_after(delay: Duration, command: impl Into<Message>) -> Self {
        Output::ExecuteAfter(DelayedEmission {
            message: command.into(),
            guild_id: None,
            delay_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Targets `guild_id` instead of the guild of the message being handled. A guild-scoped
    /// plugin may only name its own guild; the host drops anything else.
    pub fn for_guild(mut self, guild_id: impl Into<Snowflake>) -> Self {
        let target = match &mut self {
            Output::Execute(emission) | Output::Publish(emission) => &mut emission.guild_id,
            Output::ExecuteAfter(delayed) => &mut delayed.guild_id,
        };
        *target = Some(guild_id.into());
        self
    }

    /// The message carried.
    pub fn message(&self) -> &Message {
        match self {
            Output::Execute(emission) | Output::Publish(emission) => &emission.message,
            Output::ExecuteAfter(delayed) => &delayed.message,
        }
    }

    /// The explicit target guild, if any.
    pub fn guild_id(&self) -> Option<&str> {
        match self {
            Output::Execute(emission) | Output::Publish(emission) => emission.guild_id.as_deref(),
            Output::ExecuteAfter(delayed) => delayed.guild_id.as_deref(),
        }
    }

    /// The delay of an `execute_after` output.
    pub fn delay(&self) -> Option<Duration> {
        match self {
            Output::ExecuteAfter(delayed) => Some(Duration::from_millis(delayed.delay_ms)),
            Output::Execute(_) | Output::Publish(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{AutomodAction, AutomodTriggered, DeleteMessage, Severity};

    #[test]
    fn for_guild_sets_the_target_of_every_kind() {
        let outputs = [
            Output::execute(DeleteMessage::new("1", "2")),
            Output::publish(AutomodTriggered::new(
                "r",
                "1",
                "2",
                AutomodAction::Warn,
                Severity::Low,
            )),
            Output::execute_after(Duration::from_millis(5), DeleteMessage::new("1", "2")),
        ];
        for output in outputs {
            assert_eq!(output.guild_id(), None);
            assert_eq!(output.for_guild("77").guild_id(), Some("77"));
        }
    }

    #[test]
    fn huge_delays_saturate() {
        let out = Output::execute_after(Duration::MAX, DeleteMessage::new("1", "2"));
        assert_eq!(out.delay(), Some(Duration::from_millis(u64::MAX)));
        assert_eq!(Output::publish(DeleteMessage::new("1", "2")).delay(), None);
    }
}
