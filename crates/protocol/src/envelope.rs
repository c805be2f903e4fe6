//! The envelope every queue message shares (the seed's `BaseQueueMessage` without `type` and
//! `data`, which [`super::Payload`] carries).

use serde::{Deserialize, Serialize};

use super::discord::ExtraFields;
use super::primitives::{Snowflake, Timestamp};

/// The fields of `BaseQueueMessage` that are the same for every message type.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// Unique message id (the sender's, not the Bull job id); not empty.
    pub id: String,
    /// When the message was created.
    pub timestamp: Timestamp,
    /// Service that created it.
    pub source: Source,
    /// Guild concerned.
    pub guild_id: Option<Snowflake>,
    /// User who triggered it.
    pub user_id: Option<Snowflake>,
    /// Id for tracing a request across services.
    pub request_id: Option<String>,
    /// Priority.
    pub priority: Option<Priority>,
    /// Envelope fields this version does not define, kept and written back.
    pub extra: ExtraFields,
}

impl Envelope {
    /// An envelope with a fresh random id, the current time, and no optional field set.
    pub fn new(source: Source) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            timestamp: Timestamp::now(),
            source,
            guild_id: None,
            user_id: None,
            request_id: None,
            priority: None,
            extra: ExtraFields::new(),
        }
    }

    /// The same envelope addressed to `guild_id`.
    pub fn with_guild(mut self, guild_id: Snowflake) -> Self {
        self.guild_id = Some(guild_id);
        self
    }
}

/// The service that created a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// `api`: the Node API.
    Api,
    /// `bot`: the bot side (guildhost).
    Bot,
    /// `frontend`: the dashboard.
    Frontend,
}

/// A message's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// `low`
    Low,
    /// `normal`
    Normal,
    /// `high`
    High,
}
