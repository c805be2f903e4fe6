//! The [`Discord`] boundary over serenity's REST client: one request (or two, for a DM) per
//! command, every one under a deadline, errors sorted by `classify`.
//!
//! Bodies are built as Discord's JSON rather than through serenity's builders: the protocol's
//! embeds and components already have Discord's shape, and whatever a newer API adds to them
//! passes through untouched.

use std::num::NonZeroU64;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use serenity::all::{ChannelId, GuildId, MessageId, UserId};
use serenity::builder::CreateAttachment;
use serenity::http::{Http, HttpBuilder};

use super::classify::{classify, discord_code};
use super::commands::Registration;
use super::fetch::{FetchError, FetchPolicy};
use super::interactions::Interactions;
use super::recent::RecentActions;
use super::voice::{PlayRequest, Player, PlayerError, SongbirdPlayer};
use super::{Action, Discord, DiscordError, Outcome};
use guildhost_protocol::{self as p, LeaveReason, Payload, Snowflake};

/// The longest reason Discord keeps in the audit log.
const AUDIT_REASON_MAX_CHARS: usize = 512;

/// Discord codes that mean the intent already holds: unknown member (10007; kicked or left),
/// unknown message (10008; already deleted), unknown ban (10026; not banned).
const UNKNOWN_MEMBER: isize = 10007;
const UNKNOWN_MESSAGE: isize = 10008;
const UNKNOWN_BAN: isize = 10026;
/// The member does not accept DMs from the bot.
const CANNOT_MESSAGE_USER: isize = 50007;

/// How a REST client reaches Discord.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestMode {
    /// Straight to discord.com with serenity's rate limiter, which waits out every bucket.
    Direct,
    /// Through a base URL (twilight-http-proxy, nirn-proxy, or the tests' fake Discord): the
    /// proxy limits, so serenity's limiter is off (serenity ignores a proxy while it is on).
    Proxy(String),
}

/// A serenity HTTP client for `token` in `mode`.
pub fn http_client(token: &str, mode: &RestMode) -> Http {
    let builder = HttpBuilder::new(token);
    match mode {
        RestMode::Direct => builder.build(),
        RestMode::Proxy(base) => builder
            .proxy(base.clone())
            .ratelimiter_disabled(true)
            .build(),
    }
}

/// Told of every wait serenity's rate limiter imposes: the route (ids replaced by `:id`, so
/// the set of routes stays small) and how long.
pub type RateLimitObserver = Arc<dyn Fn(&str, Duration) + Send + Sync>;

/// [`http_client`], reporting the rate limiter's waits to `observer` (direct mode only: behind
/// a proxy, the proxy waits).
pub fn observed_http_client(token: &str, mode: &RestMode, observer: RateLimitObserver) -> Http {
    let mut http = http_client(token, mode);
    if let Some(limiter) = http.ratelimiter.as_mut() {
        limiter.set_ratelimit_callback(Box::new(move |info| {
            observer(&route_template(&info.path), info.timeout);
        }));
    }
    http
}

/// `https://discord.com/api/v10/channels/123/messages` → `/channels/:id/messages`.
fn route_template(url: &str) -> String {
    let path = url.split("/api/v10").nth(1).unwrap_or(url);
    let path = path.split('?').next().unwrap_or(path);
    path.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                ":id"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Executes commands with serenity's REST client.
#[derive(Clone)]
pub struct SerenityDiscord {
    http: Arc<Http>,
    request_timeout: Duration,
    recent: Arc<RecentActions>,
    voice: Option<Arc<SongbirdPlayer>>,
    interactions: Arc<Interactions>,
    fetch: Arc<FetchPolicy>,
}

impl std::fmt::Debug for SerenityDiscord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerenityDiscord")
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl SerenityDiscord {
    /// Default deadline of one request. serenity's limiter retries a 429 with `Retry-After`
    /// without end; the deadline turns that into a retriable failure the queue backs off from.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// An executor over `http`; kicks and bans it performs are noted in `recent` so the gateway
    /// can tell a kick from a leave.
    pub fn new(http: Arc<Http>, recent: Arc<RecentActions>) -> Self {
        Self {
            http,
            request_timeout: Self::DEFAULT_TIMEOUT,
            recent,
            voice: None,
            interactions: Arc::default(),
            fetch: Arc::default(),
        }
    }

    /// Downloads the files a message names by URL under `policy` (without it, the defaults:
    /// public addresses only, 8 MiB, 10 s).
    pub fn with_fetch_policy(mut self, policy: FetchPolicy) -> Self {
        self.fetch = Arc::new(policy);
        self
    }

    /// Answers interactions with `interactions`, the state the gateway notes them in (without
    /// it, every interaction counts as received elsewhere).
    pub fn with_interactions(mut self, interactions: Arc<Interactions>) -> Self {
        self.interactions = interactions;
        self
    }

    /// The interactions the gateway noted.
    pub(super) fn interactions(&self) -> &Interactions {
        &self.interactions
    }

    /// The deadline of one request.
    pub(super) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Plays the music commands on `player` (without one they are not executable).
    pub fn with_voice(mut self, player: Arc<SongbirdPlayer>) -> Self {
        self.voice = Some(player);
        self
    }

    /// Sets the deadline of one request.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The underlying client (the gateway shares it).
    pub fn http(&self) -> &Arc<Http> {
        &self.http
    }

    pub(super) async fn timed<T>(
        &self,
        what: &str,
        call: impl Future<Output = serenity::Result<T>>,
    ) -> Result<serenity::Result<T>, DiscordError> {
        tokio::time::timeout(self.request_timeout, call)
            .await
            .map_err(|_| {
                DiscordError::Retriable(format!(
                    "{what}: no answer from Discord within {:?}",
                    self.request_timeout
                ))
            })
    }

    async fn send(
        &self,
        channel: ChannelId,
        body: Value,
        files: &[p::DiscordAttachment],
    ) -> Result<Outcome, DiscordError> {
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            attachments.push(self.attachment(file).await?);
        }
        let sent = self
            .timed(
                "send message",
                self.http.send_message(channel, attachments, &body),
            )
            .await?
            .map_err(classify)?;
        Ok(Outcome::Sent {
            message_id: sent.id.to_string(),
        })
    }

    /// Downloads an attachment named by URL so it can be uploaded with the message, under the
    /// fetch policy (a refusal is permanent; a network failure or timeout may be retried).
    async fn attachment(
        &self,
        file: &p::DiscordAttachment,
    ) -> Result<CreateAttachment, DiscordError> {
        let url = file.url.as_deref().ok_or_else(|| DiscordError::Permanent {
            code: 0,
            message: format!("files: `{}` has no url to upload from", file.filename),
        })?;
        let fetched = self.fetch.download(url).await.map_err(fetch_error)?;
        let mut attachment = CreateAttachment::bytes(fetched.bytes, file.filename.clone());
        attachment.description.clone_from(&file.description);
        Ok(attachment)
    }

    async fn run(&self, action: Action<'_>) -> Result<Outcome, DiscordError> {
        let message = action.message;
        let guild = || {
            message
                .envelope
                .guild_id
                .ok_or_else(|| DiscordError::Permanent {
                    code: 0,
                    message: "guildId: a moderation action needs the guild".into(),
                })
                .and_then(|g| discord_id::<GuildId>("guildId", g))
        };
        match &message.payload {
            Payload::SendMessage(send) => {
                let mut body = message_body(
                    send.content.as_deref(),
                    send.embeds.as_deref(),
                    action.nonce,
                );
                if let Some(components) = &send.components {
                    body.insert("components".into(), json!(components));
                }
                if let Some(reply) = &send.reply {
                    let mut reference = json!({ "message_id": reply.message_id.to_string() });
                    if let Some(fail) = reply.fail_if_not_exists {
                        reference["fail_if_not_exists"] = json!(fail);
                    }
                    body.insert("message_reference".into(), reference);
                }
                let files = send.files.as_deref().unwrap_or_default();
                self.send(
                    discord_id::<ChannelId>("data.channelId", send.channel_id)?,
                    Value::Object(body),
                    files,
                )
                .await
            }
            Payload::SendDm(dm) => {
                let channel = self
                    .timed(
                        "open DM channel",
                        self.http.create_private_channel(
                            &json!({ "recipient_id": dm.user_id.to_string() }),
                        ),
                    )
                    .await?
                    .map_err(classify)?;
                let body = message_body(dm.content.as_deref(), dm.embeds.as_deref(), action.nonce);
                match self.send(channel.id, Value::Object(body), &[]).await {
                    Err(DiscordError::Permanent { code, message })
                        if code == CANNOT_MESSAGE_USER as u32 =>
                    {
                        Ok(Outcome::Undeliverable { code, message })
                    }
                    other => other,
                }
            }
            Payload::BanUser(ban) => {
                let guild = guild()?;
                let days = u8::try_from(ban.delete_message_days.min(7)).unwrap_or(7);
                let reason = audit_reason(&ban.reason);
                let result = self
                    .timed(
                        "ban",
                        self.http.ban_user(
                            guild,
                            discord_id::<UserId>("data.userId", ban.user_id)?,
                            days,
                            reason.as_deref(),
                        ),
                    )
                    .await?;
                self.done_or_already(result, &[])?;
                self.recent
                    .note(guild.get(), ban.user_id.get(), LeaveReason::Banned);
                Ok(Outcome::Done)
            }
            Payload::KickUser(kick) => {
                let guild = guild()?;
                let reason = audit_reason(&kick.reason);
                // Noted before the call: the member's removal may reach the gateway before the
                // REST answer does.
                self.recent
                    .note(guild.get(), kick.user_id.get(), LeaveReason::Kicked);
                let result = self
                    .timed(
                        "kick",
                        self.http.kick_member(
                            guild,
                            discord_id::<UserId>("data.userId", kick.user_id)?,
                            reason.as_deref(),
                        ),
                    )
                    .await?;
                self.done_or_already(result, &[UNKNOWN_MEMBER])
            }
            Payload::TimeoutUser(timeout) => {
                let guild = guild()?;
                let until = chrono::Utc::now()
                    + chrono::Duration::seconds(i64::try_from(timeout.duration).unwrap_or(0));
                let body = json!({
                    "communication_disabled_until":
                        until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                });
                let reason = audit_reason(&timeout.reason);
                let result = self
                    .timed(
                        "timeout",
                        self.http.edit_member(
                            guild,
                            discord_id::<UserId>("data.userId", timeout.user_id)?,
                            &body,
                            reason.as_deref(),
                        ),
                    )
                    .await?
                    .map(drop);
                self.done_or_already(result, &[])
            }
            Payload::UnbanUser(unban) => {
                let guild = guild()?;
                let reason = audit_reason(&unban.reason);
                let result = self
                    .timed(
                        "unban",
                        self.http.remove_ban(
                            guild,
                            discord_id::<UserId>("data.userId", unban.user_id)?,
                            reason.as_deref(),
                        ),
                    )
                    .await?;
                self.done_or_already(result, &[UNKNOWN_BAN])
            }
            Payload::DeleteMessage(delete) => {
                let reason = delete.reason.as_deref().and_then(audit_reason);
                let result = self
                    .timed(
                        "delete message",
                        self.http.delete_message(
                            discord_id::<ChannelId>("data.channelId", delete.channel_id)?,
                            discord_id::<MessageId>("data.messageId", delete.message_id)?,
                            reason.as_deref(),
                        ),
                    )
                    .await?;
                self.done_or_already(result, &[UNKNOWN_MESSAGE])
            }
            Payload::InteractionReply(reply) => self.answer_interaction(reply, action.nonce).await,
            Payload::PlayMusic(_)
            | Payload::PauseMusic(_)
            | Payload::SetVolume(_)
            | Payload::SkipMusic(_)
            | Payload::SetRepeat(_) => self.play_music(message).await,
            other => Err(DiscordError::NotExecutable(format!(
                "{} is not a REST command",
                other.type_name()
            ))),
        }
    }

    /// The music commands, on the voice player.
    async fn play_music(&self, message: &p::Message) -> Result<Outcome, DiscordError> {
        let Some(player) = &self.voice else {
            return Err(DiscordError::NotExecutable(
                "voice is off in this host: music commands cannot play".into(),
            ));
        };
        let guild = message
            .envelope
            .guild_id
            .ok_or_else(|| DiscordError::Permanent {
                code: 0,
                message: "guildId: a music command needs the guild".into(),
            })?;
        let result = match &message.payload {
            Payload::PlayMusic(play) => {
                if let Some(channel) = play.voice_channel_id {
                    player.join(guild, channel).await.map_err(voice_error)?;
                }
                player
                    .play(PlayRequest {
                        guild,
                        source: play.query.clone(),
                        requested_by: play.requested_by,
                        // PLAY_MUSIC carries no track id: the source names the track, and
                        // the music plugin recognises its playing track's end by it.
                        track_id: Some(play.query.clone()),
                    })
                    .await
                    .map(drop)
            }
            Payload::PauseMusic(pause) if pause.paused => player.pause(guild).await,
            Payload::PauseMusic(_) => player.resume(guild).await,
            Payload::SetVolume(volume) => player.set_volume(guild, volume.volume).await,
            Payload::SkipMusic(_) => player.skip(guild).await.map(drop),
            // Repeat is the music plugin's queue policy: nothing for the player to do.
            _ => Ok(()),
        };
        match result {
            Ok(()) => Ok(Outcome::Done),
            Err(PlayerError::NothingPlaying(_)) => Ok(Outcome::AlreadyDone),
            Err(e) => Err(voice_error(e)),
        }
    }

    /// `Done`, or `AlreadyDone` when Discord answers with one of `already` (the intent holds).
    fn done_or_already(
        &self,
        result: serenity::Result<()>,
        already: &[isize],
    ) -> Result<Outcome, DiscordError> {
        match result {
            Ok(()) => Ok(Outcome::Done),
            Err(e) if discord_code(&e).is_some_and(|(_, code)| already.contains(&code)) => {
                Ok(Outcome::AlreadyDone)
            }
            Err(e) => Err(classify(e)),
        }
    }
}

impl Discord for SerenityDiscord {
    async fn execute(&self, action: Action<'_>) -> Result<Outcome, DiscordError> {
        self.run(action).await
    }

    async fn verify_token(&self) -> Result<(), DiscordError> {
        self.timed("verify token", self.http.get_current_user())
            .await?
            .map(drop)
            .map_err(classify)
    }

    async fn register_commands(
        &self,
        registration: Registration<'_>,
    ) -> Result<Outcome, DiscordError> {
        self.register(registration).await
    }
}

fn voice_error(error: PlayerError) -> DiscordError {
    if error.is_retriable() {
        DiscordError::Retriable(error.to_string())
    } else {
        DiscordError::Permanent {
            code: 0,
            message: error.to_string(),
        }
    }
}

/// A download that failed: retried when it may work later, else refused for good.
fn fetch_error(error: FetchError) -> DiscordError {
    let message = format!("files: {error}");
    if error.is_retriable() {
        DiscordError::Retriable(message)
    } else {
        DiscordError::Permanent { code: 0, message }
    }
}

/// A message body with content, embeds and the idempotency nonce (Discord returns the message
/// already created with that nonce instead of posting twice).
fn message_body(
    content: Option<&str>,
    embeds: Option<&[p::DiscordEmbed]>,
    nonce: &str,
) -> Map<String, Value> {
    let mut body = Map::new();
    if let Some(content) = content {
        body.insert("content".into(), json!(content));
    }
    if let Some(embeds) = embeds {
        body.insert("embeds".into(), json!(embeds));
    }
    body.insert("nonce".into(), json!(nonce));
    body.insert("enforce_nonce".into(), json!(true));
    body
}

/// The reason as the audit log takes it: 1 to 512 characters, cut with an ellipsis.
fn audit_reason(reason: &str) -> Option<String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return None;
    }
    if reason.chars().count() <= AUDIT_REASON_MAX_CHARS {
        return Some(reason.to_owned());
    }
    let mut cut: String = reason.chars().take(AUDIT_REASON_MAX_CHARS - 1).collect();
    cut.push('…');
    Some(cut)
}

/// serenity's id for `id`; serenity panics on zero, which Discord never issues.
pub(super) fn discord_id<T: From<NonZeroU64>>(
    field: &str,
    id: Snowflake,
) -> Result<T, DiscordError> {
    NonZeroU64::new(id.get())
        .map(T::from)
        .ok_or_else(|| DiscordError::Permanent {
            code: 0,
            message: format!("{field}: must not be 0"),
        })
}

impl super::TargetLookup for SerenityDiscord {
    fn channel_guild(
        &self,
        channel: Snowflake,
    ) -> futures_util::future::BoxFuture<'_, Result<Option<Snowflake>, DiscordError>> {
        Box::pin(async move {
            if channel.get() == 0 {
                return Ok(None);
            }
            let found = self
                .timed(
                    "look up a channel",
                    self.http.get_channel(ChannelId::new(channel.get())),
                )
                .await?;
            match found {
                Ok(serenity::model::channel::Channel::Guild(channel)) => {
                    Ok(Some(Snowflake::new(channel.guild_id.get())))
                }
                Ok(_) => Ok(None),
                Err(error) => match classify(error) {
                    // Unknown, or not visible to the bot: not a channel the plugin may use.
                    DiscordError::Permanent { .. } => Ok(None),
                    other => Err(other),
                },
            }
        })
    }

    fn is_member(
        &self,
        guild: Snowflake,
        user: Snowflake,
    ) -> futures_util::future::BoxFuture<'_, Result<bool, DiscordError>> {
        Box::pin(async move {
            if guild.get() == 0 || user.get() == 0 {
                return Ok(false);
            }
            let found = self
                .timed(
                    "look up a member",
                    self.http
                        .get_member(GuildId::new(guild.get()), UserId::new(user.get())),
                )
                .await?;
            match found {
                Ok(_) => Ok(true),
                Err(error) => match classify(error) {
                    DiscordError::Permanent { .. } => Ok(false),
                    other => Err(other),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limited_routes_are_named_without_ids() {
        assert_eq!(
            route_template("https://discord.com/api/v10/channels/123/messages?&x=1"),
            "/channels/:id/messages"
        );
        assert_eq!(route_template("/guilds/1/bans/2"), "/guilds/:id/bans/:id");
    }

    #[test]
    fn audit_reasons_are_cut_to_discords_limit() {
        assert_eq!(audit_reason("  "), None);
        assert_eq!(audit_reason("spam").as_deref(), Some("spam"));
        let long = "é".repeat(600);
        let cut = audit_reason(&long).unwrap_or_default();
        assert_eq!(cut.chars().count(), AUDIT_REASON_MAX_CHARS);
        assert!(cut.ends_with('…'));
    }
}
