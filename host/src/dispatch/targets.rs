//! The scope check on what plugins target: every channel, DM recipient, role and registration an
//! output of a guild-scoped plugin (or of work such a plugin caused) names must belong to that
//! guild, not only the output's `guildId`.
//!
//! The directory learns from the gateway events it dispatches (a message's channel and author, a
//! member who joined, a channel or role created), which are Discord's own word. What it has not
//! seen it asks Discord through a [`TargetLookup`] and remembers the answer; without one (a dry
//! run) an unknown target is refused. Members who left are forgotten. Memory is bounded: each
//! record keeps two generations of at most `GENERATION` entries and drops the older one when
//! the newer fills.
//!
//! What is not checked, and why: the users a ban, kick, timeout or unban names (the action only
//! ever affects the plugin's own guild, whose id the REST path carries); an interaction answer
//! (its token is a secret Discord gave only for this guild's interaction, handed to the one
//! plugin that declared the command).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::discord::{DiscordError, TargetLookup};
use crate::protocol::{Message, Payload, Snowflake};

/// Entries per generation of each record.
const GENERATION: usize = 50_000;

/// Why a target check did not pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// The output reaches outside its guild: dropped.
    #[error("{0}")]
    Refused(String),
    /// Discord could not be asked now: the job is retried.
    #[error("checking the output's targets: {0}")]
    Unavailable(String),
}

/// A bounded map: two generations, the older dropped when the newer fills.
#[derive(Debug)]
struct Recent<K, V> {
    current: HashMap<K, V>,
    previous: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Copy> Recent<K, V> {
    fn new() -> Self {
        Self {
            current: HashMap::new(),
            previous: HashMap::new(),
        }
    }

    fn get(&self, key: &K) -> Option<V> {
        self.current
            .get(key)
            .or_else(|| self.previous.get(key))
            .copied()
    }

    fn insert(&mut self, key: K, value: V) {
        if self.current.len() >= GENERATION {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(key, value);
    }

    fn remove(&mut self, key: &K) {
        self.current.remove(key);
        self.previous.remove(key);
    }
}

#[derive(Debug)]
struct Facts {
    /// Channel → its guild (`None`: Discord said it is in no guild this bot sees).
    channels: Recent<Snowflake, Option<Snowflake>>,
    /// (guild, user) → whether the user is a member.
    members: Recent<(Snowflake, Snowflake), bool>,
    /// (guild, role) for roles the gateway showed.
    roles: Recent<(Snowflake, Snowflake), ()>,
}

/// What the host knows of which guild each target belongs to.
pub struct TargetDirectory {
    facts: Mutex<Facts>,
    lookup: Option<Arc<dyn TargetLookup>>,
}

impl std::fmt::Debug for TargetDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetDirectory")
            .field("lookup", &self.lookup.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for TargetDirectory {
    fn default() -> Self {
        Self::new(None)
    }
}

impl TargetDirectory {
    /// A directory asking `lookup` about targets the gateway has not shown.
    pub fn new(lookup: Option<Arc<dyn TargetLookup>>) -> Self {
        Self {
            facts: Mutex::new(Facts {
                channels: Recent::new(),
                members: Recent::new(),
                roles: Recent::new(),
            }),
            lookup,
        }
    }

    fn facts(&self) -> std::sync::MutexGuard<'_, Facts> {
        // Each update is one insert or removal: a poisoned record is still consistent.
        self.facts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Learns what a gateway event shows: its channel and its author or member belong to its
    /// guild, a member left, a channel or role was created.
    pub fn learn(&self, event: &Message) {
        let Some(guild) = event.envelope.guild_id else {
            return;
        };
        // What the event shows: a channel of the guild, a user who is (or no longer is) a
        // member, a role of the guild.
        let (channel, member, role) = match &event.payload {
            Payload::MessageCreated(e) => (Some(e.channel_id), Some((e.author_id, true)), None),
            Payload::MessageDeleted(e) => (Some(e.channel_id), None, None),
            Payload::MessageEdited(e) => (Some(e.channel_id), None, None),
            Payload::MessageBulkDeleted(e) => (Some(e.channel_id), None, None),
            Payload::ChannelCreated(e) => (Some(e.channel.id), None, None),
            Payload::InteractionCreated(e) => (e.channel_id, Some((e.user_id, true)), None),
            Payload::MemberJoined(e) => (None, Some((e.user.id, true)), None),
            Payload::MemberUpdated(e) => (None, Some((e.user_id, true)), None),
            Payload::MemberLeft(e) => (None, Some((e.user.id, false)), None),
            Payload::RoleCreated(e) => (None, None, Some(e.role.id)),
            _ => return,
        };
        let mut facts = self.facts();
        if let Some(channel) = channel {
            facts.channels.insert(channel, Some(guild));
        }
        match member {
            Some((user, true)) => facts.members.insert((guild, user), true),
            Some((user, false)) => facts.members.remove(&(guild, user)),
            None => {}
        }
        if let Some(role) = role {
            facts.roles.insert((guild, role), ());
        }
    }

    /// Whether every target `output` names belongs to `guild`.
    pub async fn check(&self, guild: Snowflake, output: &Message) -> Result<(), TargetError> {
        if output.envelope.guild_id != Some(guild) {
            return Err(TargetError::Refused(format!(
                "guildId: the work of a plugin scoped to guild {guild} may only act in that guild"
            )));
        }
        match &output.payload {
            Payload::SendMessage(c) => self.channel(guild, c.channel_id, "channelId").await,
            Payload::DeleteMessage(c) => self.channel(guild, c.channel_id, "channelId").await,
            Payload::PlayMusic(c) => match c.voice_channel_id {
                Some(id) => self.channel(guild, id, "voiceChannelId").await,
                None => Ok(()),
            },
            Payload::SendDm(c) => self.member(guild, c.user_id, "userId").await,
            Payload::UserNotification(e) => {
                self.member(guild, e.target_user_id, "targetUserId").await
            }
            Payload::BroadcastNotification(e) => {
                if e.target_guild_id != Some(guild) {
                    return Err(TargetError::Refused(format!(
                        "targetGuildId: a plugin scoped to guild {guild} may broadcast in that \
                         guild only"
                    )));
                }
                for role in e.target_roles.iter().flatten() {
                    self.role(guild, *role)?;
                }
                Ok(())
            }
            Payload::ReloadCommands(c) if c.global => Err(TargetError::Refused(format!(
                "global: registering global commands is refused to a plugin scoped to guild \
                 {guild}"
            ))),
            _ => Ok(()),
        }
    }

    async fn channel(
        &self,
        guild: Snowflake,
        channel: Snowflake,
        field: &str,
    ) -> Result<(), TargetError> {
        let known = self.facts().channels.get(&channel);
        let owner = match known {
            Some(owner) => owner,
            None => {
                let Some(lookup) = &self.lookup else {
                    return Err(TargetError::Refused(format!(
                        "{field}: channel {channel} is not known to be in guild {guild} (no \
                         gateway event showed it, and a dry run cannot ask Discord)"
                    )));
                };
                let owner = lookup.channel_guild(channel).await.map_err(unavailable)?;
                self.facts().channels.insert(channel, owner);
                owner
            }
        };
        match owner {
            Some(owner) if owner == guild => Ok(()),
            Some(owner) => Err(TargetError::Refused(format!(
                "{field}: channel {channel} belongs to guild {owner}, not to guild {guild}"
            ))),
            None => Err(TargetError::Refused(format!(
                "{field}: channel {channel} is not a channel of guild {guild}"
            ))),
        }
    }

    async fn member(
        &self,
        guild: Snowflake,
        user: Snowflake,
        field: &str,
    ) -> Result<(), TargetError> {
        let known = self.facts().members.get(&(guild, user));
        let member = match known {
            Some(member) => member,
            None => match &self.lookup {
                Some(lookup) => {
                    let member = lookup.is_member(guild, user).await.map_err(unavailable)?;
                    // Only memberships are remembered: a refusal is asked again next time.
                    if member {
                        self.facts().members.insert((guild, user), true);
                    }
                    member
                }
                None => false,
            },
        };
        if member {
            Ok(())
        } else {
            Err(TargetError::Refused(format!(
                "{field}: user {user} is not a member of guild {guild}"
            )))
        }
    }

    fn role(&self, guild: Snowflake, role: Snowflake) -> Result<(), TargetError> {
        // @everyone has the guild's own id.
        if role == guild || self.facts().roles.get(&(guild, role)).is_some() {
            return Ok(());
        }
        Err(TargetError::Refused(format!(
            "targetRoles: role {role} is not known to be a role of guild {guild}"
        )))
    }
}

fn unavailable(error: DiscordError) -> TargetError {
    TargetError::Unavailable(error.to_string())
}
