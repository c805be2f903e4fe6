//! Gateway ingest: serenity's client turns Discord's dispatches into the seed's events
//! (MEMBER_JOINED, MEMBER_LEFT, MEMBER_UPDATED, MESSAGE_CREATED, MESSAGE_DELETED, MESSAGE_EDITED,
//! MESSAGE_BULK_DELETED, CHANNEL_CREATED, ROLE_CREATED, and INTERACTION_CREATED for application
//! commands, autocomplete, components and modal submits) and hands them to a channel; the caller
//! decides where they go (the host enqueues them on its gateway queue). Each interaction is also
//! noted in [`Interactions`], which defers it when no answer has started within 2.5 s (all but
//! autocomplete, which Discord does not let wait).
//!
//! Discord's delete and edit events carry no author or old content, so a bounded cache of recent
//! messages supplies them; its removal event does not say whether a member left, was kicked or
//! banned, so [`RecentActions`] (what guildhost executed) and then the audit log tell. The audit
//! log also names who deleted a member's message and who created a channel or role
//! (`audit`), and the invite a member joined with is worked out from the guild's invite counts
//! (`invites`).
//! serenity runs each event handler on its own task: events of one guild may be handled out of
//! order, which the cache tolerates (an unknown message is reported without author or content).

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU64;
use std::ops::Range;
use std::sync::{Arc, Mutex};

pub use serenity::all::GatewayIntents;
use serenity::all::{
    ActionRowComponent, ChannelId, ComponentInteractionDataKind, Context, EventHandler, Guild,
    GuildChannel, GuildId, GuildMemberUpdateEvent, Interaction, InteractionId, InviteCreateEvent,
    InviteDeleteEvent, Member, MessageId, MessageUpdateEvent, Role, User,
};
use serenity::gateway::VoiceGatewayManager;
use serenity::http::Http;
use serenity::model::guild::audit_log::{
    Action as AuditAction, ChannelAction, MemberAction, RoleAction,
};
use tokio::sync::mpsc;

use super::audit::AuditTrail;
use super::interactions::{Deferral, Interactions};
use super::invites::InviteTracker;
use super::recent::RecentActions;
use guildhost_protocol::{self as p, Envelope, LeaveReason, Message, Payload, Snowflake, Source};

/// How long the deferral of a late interaction may take.
const DEFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Every intent ingest can use: guild state, members (privileged), bans and audit entries,
/// messages with their content (privileged), invites (for the invite a member joined with), and
/// voice states for songbird.
pub fn intents() -> GatewayIntents {
    GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MEMBERS
        | GatewayIntents::GUILD_MODERATION
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::MESSAGE_CONTENT
        | GatewayIntents::GUILD_INVITES
        | GatewayIntents::GUILD_VOICE_STATES
}

/// The intents that bring the events of `types` (message type names, as plugins subscribe to
/// them), on top of what the host always needs: guild state, and voice states for the player.
/// Interactions need no intent.
pub fn intents_for<'a>(types: impl IntoIterator<Item = &'a str>) -> GatewayIntents {
    let mut intents = GatewayIntents::GUILDS | GatewayIntents::GUILD_VOICE_STATES;
    for type_name in types {
        intents |= match type_name {
            "MESSAGE_CREATED" | "MESSAGE_EDITED" => {
                GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT
            }
            "MESSAGE_DELETED" | "MESSAGE_BULK_DELETED" => GatewayIntents::GUILD_MESSAGES,
            "MEMBER_JOINED" => GatewayIntents::GUILD_MEMBERS | GatewayIntents::GUILD_INVITES,
            "MEMBER_LEFT" | "MEMBER_UPDATED" => GatewayIntents::GUILD_MEMBERS,
            _ => GatewayIntents::empty(),
        };
    }
    intents
}

/// The intents named in `names` (Discord's names, `GUILD_MEMBERS`), or the first name that is
/// not one, with the name it most likely meant.
pub fn parse_intents<S: AsRef<str>>(names: &[S]) -> Result<GatewayIntents, String> {
    let mut intents = GatewayIntents::empty();
    for (index, name) in names.iter().enumerate() {
        let name = name.as_ref();
        match GatewayIntents::from_name(name) {
            Some(intent) => intents |= intent,
            None => {
                let known: Vec<&str> = GatewayIntents::all().iter_names().map(|(n, _)| n).collect();
                let hint = guildhost_rules::nearest(name, known.iter().copied())
                    .map(|meant| format!("did you mean \"{meant}\"? "))
                    .unwrap_or_default();
                return Err(format!(
                    "[{index}]: {name:?} is not a gateway intent; {hint}the intents are: {}",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(intents)
}

/// The names of `intents`, as Discord spells them.
pub fn intent_names(intents: GatewayIntents) -> Vec<&'static str> {
    intents.iter_names().map(|(name, _)| name).collect()
}

/// Why the gateway stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayFailure {
    /// Discord closed with 4014: a privileged intent asked for is not enabled for the bot.
    #[error(
        "Discord refused the gateway intents (close code 4014): the privileged ones asked for \
         are {} — enable them for the bot in the Developer Portal (Bot → Privileged Gateway \
         Intents), or leave them out of [discord] intents",
        .privileged.join(", ")
    )]
    IntentsRefused {
        /// The privileged intents that were asked for (Discord does not say which it refused).
        privileged: Vec<&'static str>,
    },
    /// Anything else serenity reports.
    #[error(transparent)]
    Serenity(#[from] serenity::Error),
}

/// The failure as an operator can act on it: a refusal of intents names the privileged ones.
fn explain(error: serenity::Error, intents: GatewayIntents) -> GatewayFailure {
    match error {
        serenity::Error::Gateway(serenity::gateway::GatewayError::DisallowedGatewayIntents) => {
            GatewayFailure::IntentsRefused {
                privileged: intent_names(intents & privileged_intents()),
            }
        }
        other => GatewayFailure::Serenity(other),
    }
}

fn privileged_intents() -> GatewayIntents {
    GatewayIntents::GUILD_MEMBERS
        | GatewayIntents::GUILD_PRESENCES
        | GatewayIntents::MESSAGE_CONTENT
}

/// Which shards this process runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shards {
    /// As many as Discord recommends (`GET /gateway/bot`), all in this process.
    Automatic,
    /// `range` of `total` (several processes share one bot).
    Range {
        /// Shard ids run here.
        range: Range<u32>,
        /// Shards in all.
        total: u32,
    },
}

/// What the gateway needs to run.
pub struct GatewaySettings {
    /// The client it talks through (the same modes as the executor's REST client).
    pub http: Http,
    /// Which shards to run.
    pub shards: Shards,
    /// Messages remembered for delete and edit events.
    pub message_cache: usize,
    /// What guildhost executed, to explain removals.
    pub recent: Arc<RecentActions>,
    /// Songbird's manager, when voice is on.
    pub voice: Option<Arc<dyn VoiceGatewayManager>>,
    /// Where interactions are noted for the executor to answer (and deferred when late).
    pub interactions: Arc<Interactions>,
    /// The intents asked for at IDENTIFY.
    pub intents: GatewayIntents,
}

/// Runs the gateway until `shutdown` resolves, sending each event to `events`.
pub async fn run(
    settings: GatewaySettings,
    events: mpsc::Sender<Message>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), GatewayFailure> {
    let handler = Ingest {
        events,
        recent: settings.recent,
        messages: Mutex::new(MessageCache::new(settings.message_cache)),
        interactions: settings.interactions,
        invites: InviteTracker::default(),
        audit: AuditTrail::default(),
    };
    let intents = settings.intents;
    tracing::info!(intents = ?intent_names(intents), "gateway intents");
    let mut builder =
        serenity::all::ClientBuilder::new_with_http(settings.http, intents).event_handler(handler);
    if let Some(voice) = settings.voice {
        builder = builder.voice_manager_arc(voice);
    }
    let mut client = builder.await.map_err(GatewayFailure::Serenity)?;
    let shard_manager = client.shard_manager.clone();
    let shards = settings.shards;
    let running = async move {
        match shards {
            Shards::Automatic => client.start_autosharded().await,
            Shards::Range { range, total } => client.start_shard_range(range, total).await,
        }
    };
    tokio::select! {
        result = running => result.map_err(|e| explain(e, intents)),
        () = shutdown => {
            shard_manager.shutdown_all().await;
            Ok(())
        }
    }
}

/// Recent messages, oldest evicted first.
struct MessageCache {
    capacity: usize,
    order: VecDeque<u64>,
    by_id: HashMap<u64, Cached>,
}

#[derive(Clone)]
struct Cached {
    author: Snowflake,
    content: String,
}

impl MessageCache {
    fn new(capacity: usize) -> Self {
        Self {
            capacity,
            order: VecDeque::new(),
            by_id: HashMap::new(),
        }
    }

    fn put(&mut self, id: u64, cached: Cached) {
        if self.capacity == 0 {
            return;
        }
        if self.by_id.insert(id, cached).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
    }

    fn get(&self, id: u64) -> Option<Cached> {
        self.by_id.get(&id).cloned()
    }
}

struct Ingest {
    events: mpsc::Sender<Message>,
    recent: Arc<RecentActions>,
    messages: Mutex<MessageCache>,
    interactions: Arc<Interactions>,
    invites: InviteTracker,
    audit: AuditTrail,
}

impl Ingest {
    fn cache(&self) -> std::sync::MutexGuard<'_, MessageCache> {
        self.messages.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn emit(&self, guild: GuildId, payload: Payload) {
        let message = Message {
            envelope: Envelope::new(Source::Bot).with_guild(snowflake(guild.get())),
            payload,
        };
        if let Err(e) = message.validate() {
            tracing::warn!(error = %e, "a gateway event did not make a valid message; dropped");
            return;
        }
        if self.events.send(message).await.is_err() {
            tracing::debug!("gateway event after ingest stopped; dropped");
        }
    }

    /// Why `user` left `guild`: guildhost's own action, else a recent kick in the audit log.
    async fn leave_reason(&self, ctx: &Context, guild: GuildId, user: &User) -> LeaveReason {
        if let Some(reason) = self.recent.take(guild.get(), user.id.get()) {
            return reason;
        }
        // Moderators acting outside guildhost leave a kick or ban entry in the audit log.
        let entries = guild
            .audit_logs(&ctx.http, None, None, None, Some(10))
            .await;
        let recently = chrono::Utc::now() - chrono::Duration::seconds(30);
        match entries {
            Ok(logs) => logs
                .entries
                .iter()
                .filter(|entry| {
                    entry.target_id.map(|t| t.get()) == Some(user.id.get())
                        && *entry.id.created_at() >= recently
                })
                .find_map(|entry| match entry.action {
                    AuditAction::Member(MemberAction::Kick) => Some(LeaveReason::Kicked),
                    AuditAction::Member(MemberAction::BanAdd) => Some(LeaveReason::Banned),
                    _ => None,
                })
                .unwrap_or(LeaveReason::Left),
            Err(e) => {
                tracing::debug!(error = %e, "audit log unavailable; reporting the removal as LEFT");
                LeaveReason::Left
            }
        }
    }
}

#[serenity::async_trait]
impl EventHandler for Ingest {
    async fn ready(&self, _ctx: Context, ready: serenity::all::Ready) {
        self.interactions
            .set_application_id(ready.application.id.get());
        tracing::info!(
            user = %ready.user.name,
            guilds = ready.guilds.len(),
            shard = ?ready.shard.map(|s| (s.id.0, s.total)),
            "gateway ready"
        );
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let received = tokio::time::Instant::now();
        let Some(noted) = interaction_message(&interaction) else {
            return;
        };
        let NotedInteraction {
            message,
            id,
            token,
            deferral,
        } = noted;
        if let Err(e) = message.validate() {
            tracing::warn!(error = %e, "an interaction did not make a valid message; dropped");
            return;
        }
        self.interactions.received(id.get());
        if let Some(deferral) = deferral {
            tokio::spawn(self.interactions.clone().defer_when_late(
                ctx.http.clone(),
                id,
                token,
                deferral,
                received,
                DEFER_TIMEOUT,
            ));
        }
        if self.events.send(message).await.is_err() {
            tracing::debug!("interaction after ingest stopped; dropped");
        }
    }

    async fn guild_create(&self, ctx: Context, guild: Guild, _is_new: Option<bool>) {
        self.invites.refresh(&ctx.http, guild.id).await;
    }

    async fn invite_create(&self, _ctx: Context, data: InviteCreateEvent) {
        if let Some(guild) = data.guild_id {
            self.invites
                .created(guild, &data.code, data.uses, data.max_uses)
                .await;
        }
    }

    async fn invite_delete(&self, _ctx: Context, data: InviteDeleteEvent) {
        if let Some(guild) = data.guild_id {
            self.invites.deleted(guild, &data.code).await;
        }
    }

    async fn guild_member_addition(&self, ctx: Context, member: Member) {
        let invite_code = self.invites.used_by_join(&ctx.http, member.guild_id).await;
        let user = &member.user;
        let payload = Payload::MemberJoined(p::MemberJoined {
            user: p::JoinedUser {
                id: snowflake(user.id.get()),
                username: user.name.clone(),
                discriminator: discriminator(user),
                avatar: user.avatar.map(|a| a.to_string()),
                bot: user.bot,
                extra: Default::default(),
            },
            member: p::JoinedMember {
                joined_at: member
                    .joined_at
                    .and_then(timestamp)
                    .unwrap_or_else(p::Timestamp::now),
                roles: member.roles.iter().map(|r| snowflake(r.get())).collect(),
                nickname: member.nick.clone(),
                pending: member.pending,
                extra: Default::default(),
            },
            // Discord does not say which invite a member used: the counts tell, when one moved.
            invite_code,
            extra: Default::default(),
        });
        self.emit(member.guild_id, payload).await;
    }

    async fn guild_member_removal(
        &self,
        ctx: Context,
        guild: GuildId,
        user: User,
        member: Option<Member>,
    ) {
        let reason = self.leave_reason(&ctx, guild, &user).await;
        let payload = Payload::MemberLeft(p::MemberLeft {
            user: p::DepartedUser {
                id: snowflake(user.id.get()),
                username: user.name.clone(),
                discriminator: discriminator(&user),
                avatar: user.avatar.map(|a| a.to_string()),
                extra: Default::default(),
            },
            member: p::DepartedMember {
                joined_at: member
                    .as_ref()
                    .and_then(|m| m.joined_at)
                    .and_then(timestamp)
                    .unwrap_or_else(p::Timestamp::now),
                roles: member
                    .as_ref()
                    .map(|m| m.roles.iter().map(|r| snowflake(r.get())).collect())
                    .unwrap_or_default(),
                nickname: member.as_ref().and_then(|m| m.nick.clone()),
                extra: Default::default(),
            },
            reason,
            extra: Default::default(),
        });
        self.emit(guild, payload).await;
    }

    async fn guild_member_update(
        &self,
        _ctx: Context,
        old: Option<Member>,
        _new: Option<Member>,
        event: GuildMemberUpdateEvent,
    ) {
        let mut changes = p::MemberChanges::default();
        let old_nick = old.as_ref().and_then(|m| m.nick.clone());
        if old.is_none() || old_nick != event.nick {
            changes.nickname = Some(p::OptionalChange {
                old: old_nick,
                new: event.nick.clone(),
                extra: Default::default(),
            });
        }
        if let Some(old) = &old {
            let added: Vec<Snowflake> = event
                .roles
                .iter()
                .filter(|r| !old.roles.contains(r))
                .map(|r| snowflake(r.get()))
                .collect();
            let removed: Vec<Snowflake> = old
                .roles
                .iter()
                .filter(|r| !event.roles.contains(r))
                .map(|r| snowflake(r.get()))
                .collect();
            if !added.is_empty() || !removed.is_empty() {
                changes.roles = Some(p::RoleChanges {
                    added,
                    removed,
                    extra: Default::default(),
                });
            }
        }
        let old_timeout = old.as_ref().and_then(|m| m.communication_disabled_until);
        if old_timeout != event.communication_disabled_until {
            changes.timeout = Some(p::OptionalChange {
                old: old_timeout.and_then(timestamp),
                new: event.communication_disabled_until.and_then(timestamp),
                extra: Default::default(),
            });
        }
        if changes == p::MemberChanges::default() {
            return;
        }
        let payload = Payload::MemberUpdated(p::MemberUpdated {
            user_id: snowflake(event.user.id.get()),
            changes,
            extra: Default::default(),
        });
        self.emit(event.guild_id, payload).await;
    }

    async fn message(&self, _ctx: Context, message: serenity::all::Message) {
        let Some(guild) = message.guild_id else {
            return;
        };
        self.cache().put(
            message.id.get(),
            Cached {
                author: snowflake(message.author.id.get()),
                content: message.content.clone(),
            },
        );
        let payload = Payload::MessageCreated(p::MessageCreated {
            message_id: snowflake(message.id.get()),
            channel_id: snowflake(message.channel_id.get()),
            author_id: snowflake(message.author.id.get()),
            content: message.content.clone(),
            mentions: p::Mentions {
                users: message
                    .mentions
                    .iter()
                    .map(|u| snowflake(u.id.get()))
                    .collect(),
                roles: message
                    .mention_roles
                    .iter()
                    .map(|r| snowflake(r.get()))
                    .collect(),
                everyone: message.mention_everyone,
                extra: Default::default(),
            },
            attachment_count: u32::try_from(message.attachments.len()).unwrap_or(u32::MAX),
            timestamp: timestamp(message.timestamp).unwrap_or_else(p::Timestamp::now),
            author_roles: message
                .member
                .as_ref()
                .map(|m| m.roles.iter().map(|r| snowflake(r.get())).collect()),
            is_bot: Some(message.author.bot),
            is_webhook: Some(message.webhook_id.is_some()),
            author_created_at: timestamp(message.author.id.created_at()),
            member_joined_at: message
                .member
                .as_ref()
                .and_then(|m| m.joined_at)
                .and_then(timestamp),
            embed_count: u32::try_from(message.embeds.len()).ok(),
            sticker_count: u32::try_from(message.sticker_items.len()).ok(),
            referenced_message_id: message
                .message_reference
                .as_ref()
                .and_then(|r| r.message_id)
                .map(|id| snowflake(id.get())),
            extra: Default::default(),
        });
        self.emit(guild, payload).await;
    }

    async fn message_delete(
        &self,
        ctx: Context,
        channel: ChannelId,
        id: MessageId,
        guild: Option<GuildId>,
    ) {
        let Some(guild) = guild else {
            return;
        };
        let cached = self.cache().get(id.get());
        let deleted_by = match &cached {
            Some(cached) => self
                .audit
                .message_deleter(&ctx.http, guild, channel.get(), cached.author.get())
                .await
                .map(snowflake),
            None => None,
        };
        let payload = Payload::MessageDeleted(p::MessageDeleted {
            message_id: snowflake(id.get()),
            channel_id: snowflake(channel.get()),
            author_id: cached.as_ref().map(|c| c.author),
            content: cached.map(|c| c.content),
            deleted_by,
            timestamp: p::Timestamp::now(),
            extra: Default::default(),
        });
        self.emit(guild, payload).await;
    }

    async fn message_delete_bulk(
        &self,
        _ctx: Context,
        channel: ChannelId,
        ids: Vec<MessageId>,
        guild: Option<GuildId>,
    ) {
        let Some(guild) = guild else {
            return;
        };
        let payload = Payload::MessageBulkDeleted(p::MessageBulkDeleted {
            count: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            message_ids: ids.iter().map(|id| snowflake(id.get())).collect(),
            channel_id: snowflake(channel.get()),
            deleted_by: None,
            extra: Default::default(),
        });
        self.emit(guild, payload).await;
    }

    async fn message_update(
        &self,
        _ctx: Context,
        _old: Option<serenity::all::Message>,
        _new: Option<serenity::all::Message>,
        event: MessageUpdateEvent,
    ) {
        let (Some(guild), Some(content)) = (event.guild_id, event.content.clone()) else {
            return;
        };
        let old = self.cache().get(event.id.get());
        let author = event
            .author
            .as_ref()
            .map(|a| snowflake(a.id.get()))
            .or(old.as_ref().map(|c| c.author));
        let Some(author) = author else {
            return;
        };
        self.cache().put(
            event.id.get(),
            Cached {
                author,
                content: content.clone(),
            },
        );
        let payload = Payload::MessageEdited(p::MessageEdited {
            message_id: snowflake(event.id.get()),
            channel_id: snowflake(event.channel_id.get()),
            author_id: author,
            old_content: old.map(|c| c.content),
            new_content: content,
            edited_at: event
                .edited_timestamp
                .and_then(timestamp)
                .unwrap_or_else(p::Timestamp::now),
            extra: Default::default(),
        });
        self.emit(guild, payload).await;
    }

    async fn channel_create(&self, ctx: Context, channel: GuildChannel) {
        let created_by = self
            .audit
            .creator(
                &ctx.http,
                channel.guild_id,
                AuditAction::Channel(ChannelAction::Create),
                channel.id.get(),
            )
            .await
            .map(snowflake);
        let payload = Payload::ChannelCreated(p::ChannelCreated {
            channel: p::CreatedChannel {
                id: snowflake(channel.id.get()),
                name: channel.name.clone(),
                channel_type: p::ChannelType::Code(u16::from(u8::from(channel.kind))),
                position: i64::from(channel.position),
                parent_id: channel.parent_id.map(|id| snowflake(id.get())),
                extra: Default::default(),
            },
            created_by,
            extra: Default::default(),
        });
        self.emit(channel.guild_id, payload).await;
    }

    async fn guild_role_create(&self, ctx: Context, role: Role) {
        let created_by = self
            .audit
            .creator(
                &ctx.http,
                role.guild_id,
                AuditAction::Role(RoleAction::Create),
                role.id.get(),
            )
            .await
            .map(snowflake);
        let payload = Payload::RoleCreated(p::RoleCreated {
            role: p::CreatedRole {
                id: snowflake(role.id.get()),
                name: role.name.clone(),
                color: role.colour.0,
                position: i64::from(role.position),
                permissions: role.permissions.bits().to_string(),
                mentionable: role.mentionable,
                hoist: role.hoist,
                extra: Default::default(),
            },
            created_by,
            extra: Default::default(),
        });
        self.emit(role.guild_id, payload).await;
    }
}

/// An interaction as the message plugins get, with what the gateway needs to defer it.
struct NotedInteraction {
    message: Message,
    id: InteractionId,
    token: String,
    /// How to defer it when no answer comes in time (`None`: it cannot be deferred).
    deferral: Option<Deferral>,
}

/// The `INTERACTION_CREATED` message for a command, an autocomplete, a component or a modal
/// submit; `None` for what plugins never see (pings).
fn interaction_message(interaction: &Interaction) -> Option<NotedInteraction> {
    let mut data = p::InteractionCreated {
        kind: p::InteractionKind::Command,
        interaction_id: snowflake(interaction.id().get()),
        application_id: snowflake(interaction.application_id().get()),
        token: interaction.token().to_owned(),
        command_id: None,
        command_name: None,
        options: Vec::new(),
        custom_id: None,
        component_type: None,
        values: None,
        fields: None,
        message_id: None,
        user_id: Snowflake::new(0),
        channel_id: None,
        member_permissions: None,
        locale: None,
        extra: Default::default(),
    };
    let (guild, user, member, deferral) = match interaction {
        Interaction::Command(command) | Interaction::Autocomplete(command) => {
            let autocomplete = matches!(interaction, Interaction::Autocomplete(_));
            if autocomplete {
                data.kind = p::InteractionKind::Autocomplete;
            }
            data.command_id = Some(snowflake(command.data.id.get()));
            data.command_name = Some(command.data.name.clone());
            data.options = command
                .data
                .options
                .iter()
                .filter_map(|option| serde_json::to_value(option).ok())
                .map(p::CommandOption)
                .collect();
            data.channel_id = Some(snowflake(command.channel_id.get()));
            data.locale = Some(command.locale.clone());
            // Discord takes autocomplete choices only as the first answer.
            let deferral = (!autocomplete).then_some(Deferral::Message);
            (
                command.guild_id,
                &command.user,
                command.member.as_deref(),
                deferral,
            )
        }
        Interaction::Component(component) => {
            data.kind = p::InteractionKind::Component;
            data.custom_id = Some(component.data.custom_id.clone());
            let (component_type, values) = component_values(&component.data.kind);
            data.component_type = Some(component_type);
            data.values = values;
            data.message_id = Some(snowflake(component.message.id.get()));
            data.channel_id = Some(snowflake(component.channel_id.get()));
            data.locale = Some(component.locale.clone());
            // A late click is acknowledged without a visible "thinking…".
            let deferral = Some(Deferral::Update);
            (
                component.guild_id,
                &component.user,
                component.member.as_ref(),
                deferral,
            )
        }
        Interaction::Modal(modal) => {
            data.kind = p::InteractionKind::ModalSubmit;
            data.custom_id = Some(modal.data.custom_id.clone());
            let fields = modal
                .data
                .components
                .iter()
                .flat_map(|row| &row.components)
                .filter_map(|component| match component {
                    ActionRowComponent::InputText(input) => Some((
                        input.custom_id.clone(),
                        input.value.clone().unwrap_or_default(),
                    )),
                    _ => None,
                })
                .collect();
            data.fields = Some(fields);
            data.message_id = modal.message.as_ref().map(|m| snowflake(m.id.get()));
            data.channel_id = Some(snowflake(modal.channel_id.get()));
            data.locale = Some(modal.locale.clone());
            // A modal opened from a component may update that component's message.
            let deferral = match modal.message {
                Some(_) => Deferral::Update,
                None => Deferral::Message,
            };
            (
                modal.guild_id,
                &modal.user,
                modal.member.as_ref(),
                Some(deferral),
            )
        }
        _ => return None,
    };
    data.user_id = snowflake(user.id.get());
    data.member_permissions = member
        .and_then(|m| m.permissions)
        .map(|permissions| permissions.bits().to_string());
    data.locale = data.locale.filter(|l| !l.is_empty());
    let mut envelope = Envelope::new(Source::Bot);
    envelope.guild_id = guild.map(|g| snowflake(g.get()));
    envelope.user_id = Some(data.user_id);
    let token = data.token.clone();
    Some(NotedInteraction {
        message: Message {
            envelope,
            payload: Payload::InteractionCreated(data),
        },
        id: interaction.id(),
        token,
        deferral,
    })
}

/// A component's type code and, for a select menu, what was picked.
fn component_values(kind: &ComponentInteractionDataKind) -> (u8, Option<Vec<String>>) {
    fn all<T: ToString>(values: &[T]) -> Option<Vec<String>> {
        Some(values.iter().map(ToString::to_string).collect())
    }
    match kind {
        ComponentInteractionDataKind::Button => (2, None),
        ComponentInteractionDataKind::StringSelect { values } => (3, all(values)),
        ComponentInteractionDataKind::UserSelect { values } => (5, all(values)),
        ComponentInteractionDataKind::RoleSelect { values } => (6, all(values)),
        ComponentInteractionDataKind::MentionableSelect { values } => (7, all(values)),
        ComponentInteractionDataKind::ChannelSelect { values } => (8, all(values)),
        ComponentInteractionDataKind::Unknown(code) => (*code, None),
    }
}

fn snowflake(id: u64) -> Snowflake {
    Snowflake::new(NonZeroU64::new(id).map_or(0, NonZeroU64::get))
}

fn discriminator(user: &User) -> String {
    user.discriminator
        .map_or_else(|| "0".to_owned(), |d| format!("{:04}", d.get()))
}

fn timestamp(ts: serenity::model::Timestamp) -> Option<p::Timestamp> {
    p::Timestamp::from_millis(ts.timestamp_millis())
}
