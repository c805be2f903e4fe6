//! The causal stamp every message guildhost produces carries in its envelope (`causation`, an
//! extension field the API may ignore): how many plugin replies deep it is, the id of the
//! message that started its chain, and the guild of the guild-scoped plugin whose work it is, if
//! any. The stamp is what lets the budget bound a chain, and what keeps work a guild plugin
//! caused inside that guild after a global plugin has handled it (a `WARN_USER` a guild plugin
//! emits still may not make the moderation plugin DM a stranger).
//!
//! ```json
//! "causation": { "depth": 2, "origin": "api-msg-1", "scope": "123456789012345678" }
//! ```

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::protocol::{Envelope, Snowflake};

/// The envelope key the stamp lives under.
const FIELD: &str = "causation";

/// Where a message stands in the chain of work that led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Causation {
    /// Plugin replies between the chain's first message and this one (0: from the API, the
    /// gateway or a schedule).
    pub depth: u32,
    /// The id of the chain's first message.
    pub origin: String,
    /// The guild every target of this chain's work must belong to, once a guild-scoped plugin
    /// took part in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Snowflake>,
}

impl Causation {
    /// The stamp `envelope` carries; a message without one starts a chain.
    pub fn of(envelope: &Envelope) -> Self {
        envelope
            .extra
            .get(FIELD)
            .and_then(|value| Self::deserialize(value).ok())
            .unwrap_or_else(|| Self {
                depth: 0,
                origin: envelope.id.clone(),
                scope: None,
            })
    }

    /// The stamp of work a plugin adds in reply to this message; `plugin_scope` is the plugin's
    /// guild when it is guild-scoped. A scope, once set, stays.
    pub fn reply(&self, plugin_scope: Option<Snowflake>) -> Self {
        Self {
            depth: self.depth.saturating_add(1),
            origin: self.origin.clone(),
            scope: self.scope.or(plugin_scope),
        }
    }

    /// Writes the stamp into `envelope`.
    pub fn stamp(&self, envelope: &mut Envelope) {
        if let Ok(value) = serde_json::to_value(self) {
            envelope.extra.insert(FIELD.to_owned(), value);
        }
    }

    /// Copies `from`'s stamp, if it has one, into `to` unchanged (a report of an executed
    /// command belongs to that command's chain).
    pub fn carry(from: &Envelope, to: &mut Envelope) {
        if let Some(value) = from.extra.get(FIELD) {
            to.extra.insert(FIELD.to_owned(), Value::clone(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Source;

    #[test]
    fn a_message_without_a_stamp_starts_a_chain() {
        let envelope = Envelope::new(Source::Api);
        let causation = Causation::of(&envelope);
        assert_eq!(causation.depth, 0);
        assert_eq!(causation.origin, envelope.id);
        assert_eq!(causation.scope, None);
    }

    #[test]
    fn replies_go_one_deeper_and_keep_the_first_scope() {
        let root = Causation::of(&Envelope::new(Source::Api));
        let guild = Snowflake::new(42);
        let first = root.reply(Some(guild));
        assert_eq!((first.depth, first.scope), (1, Some(guild)));
        let second = first.reply(None);
        assert_eq!((second.depth, second.scope), (2, Some(guild)));
        assert_eq!(second.origin, root.origin);
        let mut envelope = Envelope::new(Source::Bot);
        second.stamp(&mut envelope);
        assert_eq!(Causation::of(&envelope), second);
        let mut report = Envelope::new(Source::Bot);
        Causation::carry(&envelope, &mut report);
        assert_eq!(Causation::of(&report), second);
    }
}
