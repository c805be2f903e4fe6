//! The message a handler receives, with its envelope, and a builder for it in tests.

use crate::types::{Envelope, Message, Priority, Snowflake, Source, Timestamp};

/// One message handed to [`crate::Plugin::handle`]: the queue envelope and the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// Id, type, time, source, guild, user, request id and priority.
    pub envelope: Envelope,
    /// The payload.
    pub message: Message,
}

impl Incoming {
    /// A message as the bot would produce it: source `bot`, id `"test-message"`, time 0, no
    /// guild or user. Chain [`Incoming::in_guild`] and friends to fill in more.
    ///
    /// ```
    /// use guildhost_plugin::{Incoming, types::DeleteMessage};
    ///
    /// let incoming = Incoming::new(DeleteMessage::new("1", "2")).in_guild("42");
    /// assert_eq!(incoming.type_name(), "DELETE_MESSAGE");
    /// assert_eq!(incoming.guild_id(), Some("42"));
    /// ```
    pub fn new(message: impl Into<Message>) -> Self {
        let message = message.into();
        Self {
            envelope: Envelope {
                id: String::from("test-message"),
                type_name: message.type_name().to_owned(),
                timestamp: 0,
                source: Source::Bot,
                guild_id: None,
                user_id: None,
                request_id: None,
                priority: None,
            },
            message,
        }
    }

    /// Sets the guild.
    pub fn in_guild(mut self, guild_id: impl Into<Snowflake>) -> Self {
        self.envelope.guild_id = Some(guild_id.into());
        self
    }

    /// Sets the triggering user.
    pub fn from_user(mut self, user_id: impl Into<Snowflake>) -> Self {
        self.envelope.user_id = Some(user_id.into());
        self
    }

    /// Sets the message id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.envelope.id = id.into();
        self
    }

    /// Sets the creation time (milliseconds since the Unix epoch).
    pub fn at(mut self, timestamp: Timestamp) -> Self {
        self.envelope.timestamp = timestamp;
        self
    }

    /// Sets the source service.
    pub fn from_source(mut self, source: Source) -> Self {
        self.envelope.source = source;
        self
    }

    /// Sets the priority.
    pub fn with_priority(mut self, priority: Priority) -> Self {
        self.envelope.priority = Some(priority);
        self
    }

    /// The queue type name, e.g. `"MESSAGE_CREATED"`.
    pub fn type_name(&self) -> &str {
        &self.envelope.type_name
    }

    /// The guild the message concerns.
    pub fn guild_id(&self) -> Option<&str> {
        self.envelope.guild_id.as_deref()
    }

    /// The user who triggered it.
    pub fn user_id(&self) -> Option<&str> {
        self.envelope.user_id.as_deref()
    }
}
