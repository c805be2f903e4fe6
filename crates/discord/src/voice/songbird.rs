//! [`SongbirdPlayer`]: the [`Player`] that plays through songbird on serenity's gateway.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serenity::all::{ChannelId, GuildId, ShardRunnerMessage, UserId, VoiceGatewayManager};
use serenity::futures::channel::mpsc::UnboundedSender as ShardSender;
use songbird::events::{Event, EventContext, EventHandler, TrackEvent};
use songbird::tracks::{PlayMode, Track, TrackHandle};
use songbird::{Config as SongbirdConfig, Songbird};
use tokio::sync::mpsc;

use super::player::*;
use super::sources::*;
use guildhost_protocol::{MusicEndReason, Snowflake};

/// What a [`SongbirdPlayer`] needs.
#[derive(Debug, Clone)]
pub struct PlayerConfig {
    /// Where sources come from.
    pub sources: SourceConfig,
    /// The most joining a voice channel may wait for Discord's answer.
    pub join_timeout: Duration,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        Self {
            sources: SourceConfig::default(),
            join_timeout: Duration::from_secs(10),
        }
    }
}

/// songbird's manager as serenity's client sees it, remembering whether serenity has started
/// it: songbird panics when asked to join before that.
#[derive(Debug)]
pub struct VoiceManager {
    songbird: Arc<Songbird>,
    ready: AtomicBool,
}

#[serenity::async_trait]
impl VoiceGatewayManager for VoiceManager {
    async fn initialise(&self, shard_count: u32, user_id: UserId) {
        self.songbird.initialise(shard_count, user_id).await;
        self.ready.store(true, Ordering::Release);
    }

    async fn register_shard(&self, shard_id: u32, sender: ShardSender<ShardRunnerMessage>) {
        self.songbird.register_shard(shard_id, sender).await;
    }

    async fn deregister_shard(&self, shard_id: u32) {
        self.songbird.deregister_shard(shard_id).await;
    }

    async fn server_update(&self, guild_id: GuildId, endpoint: &Option<String>, token: &str) {
        self.songbird.server_update(guild_id, endpoint, token).await;
    }

    async fn state_update(&self, guild_id: GuildId, voice_state: &serenity::all::VoiceState) {
        self.songbird.state_update(guild_id, voice_state).await;
    }
}

/// How long the playing track has played, pauses excluded.
#[derive(Debug, Clone, Copy)]
struct PlayClock {
    started: Instant,
    paused_at: Option<Instant>,
    paused: Duration,
}

impl PlayClock {
    fn start() -> Self {
        Self {
            started: Instant::now(),
            paused_at: None,
            paused: Duration::ZERO,
        }
    }

    fn played(&self) -> Duration {
        let until = self.paused_at.unwrap_or_else(Instant::now);
        until
            .saturating_duration_since(self.started)
            .saturating_sub(self.paused)
    }

    fn pause(&mut self) {
        self.paused_at.get_or_insert_with(Instant::now);
    }

    fn resume(&mut self) {
        if let Some(since) = self.paused_at.take() {
            self.paused += since.elapsed();
        }
    }
}

struct Playing {
    id: String,
    handle: TrackHandle,
    clock: PlayClock,
}

/// One guild's player state.
struct GuildState {
    volume: f32,
    playing: Option<Playing>,
}

impl Default for GuildState {
    fn default() -> Self {
        Self {
            volume: 1.0,
            playing: None,
        }
    }
}

type Guilds = Arc<Mutex<HashMap<u64, GuildState>>>;

fn lock(guilds: &Guilds) -> MutexGuard<'_, HashMap<u64, GuildState>> {
    // The map stays consistent even if a holder panicked: every change is one assignment.
    guilds.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The [`Player`] on songbird: one songbird `Call` per guild, driven through serenity's
/// gateway. Register [`SongbirdPlayer::gateway_manager`] with serenity's `ClientBuilder`
/// (`voice_manager_arc`) and ask for the `GUILD_VOICE_STATES` intent.
pub struct SongbirdPlayer {
    voice: Arc<VoiceManager>,
    sources: Sources,
    guilds: Guilds,
    events: mpsc::UnboundedSender<TrackEnded>,
}

impl std::fmt::Debug for SongbirdPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SongbirdPlayer")
            .field("ready", &self.voice.ready.load(Ordering::Acquire))
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl SongbirdPlayer {
    /// A player and the receiver of its track ends.
    pub fn new(config: PlayerConfig) -> Result<(Self, TrackEvents), PlayerError> {
        let sources = Sources::new(config.sources)?;
        let songbird = Songbird::serenity_from_config(
            SongbirdConfig::default().gateway_timeout(Some(config.join_timeout)),
        );
        let (events, receiver) = TrackEvents::channel();
        let player = Self {
            voice: Arc::new(VoiceManager {
                songbird,
                ready: AtomicBool::new(false),
            }),
            sources,
            guilds: Arc::default(),
            events,
        };
        Ok((player, receiver))
    }

    /// What serenity's `ClientBuilder::voice_manager_arc` takes: songbird, fed the gateway's
    /// voice events.
    pub fn gateway_manager(&self) -> Arc<dyn VoiceGatewayManager> {
        self.voice.clone()
    }

    /// The songbird manager itself.
    pub fn songbird(&self) -> Arc<Songbird> {
        self.voice.songbird.clone()
    }

    /// The sources this player opens.
    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    fn report(&self, ended: TrackEnded) {
        if self.events.send(ended).is_err() {
            tracing::debug!("track end not reported: nobody reads the player's events");
        }
    }

    /// Takes the guild's playing track and stops it, reporting it with `reason`.
    fn end_playing(&self, guild: Snowflake, reason: MusicEndReason) -> Option<TrackEnded> {
        let playing = lock(&self.guilds).get_mut(&guild.get())?.playing.take()?;
        // A track that already ended has nothing left to stop.
        let _ = playing.handle.stop();
        Some(TrackEnded {
            guild,
            track_id: playing.id,
            reason,
            played: playing.clock.played(),
            error: None,
        })
    }

    /// Runs `f` on the guild's playing track.
    fn with_playing(
        &self,
        guild: Snowflake,
        f: impl FnOnce(&mut Playing) -> Result<(), songbird::error::ControlError>,
    ) -> Result<(), PlayerError> {
        let mut guilds = lock(&self.guilds);
        let state = guilds
            .get_mut(&guild.get())
            .ok_or(PlayerError::NothingPlaying(guild))?;
        let playing = state
            .playing
            .as_mut()
            .ok_or(PlayerError::NothingPlaying(guild))?;
        if f(playing).is_err() {
            // The track ended between its last event and this command.
            state.playing = None;
            return Err(PlayerError::NothingPlaying(guild));
        }
        Ok(())
    }
}

fn guild_id(guild: Snowflake) -> Result<GuildId, PlayerError> {
    NonZeroU64::new(guild.get())
        .map(GuildId::from)
        .ok_or_else(|| PlayerError::InvalidId(String::from("guild id 0")))
}

impl Player for SongbirdPlayer {
    async fn join(&self, guild: Snowflake, channel: Snowflake) -> Result<(), PlayerError> {
        let guild_id = guild_id(guild)?;
        let channel_id = NonZeroU64::new(channel.get())
            .map(ChannelId::from)
            .ok_or_else(|| PlayerError::InvalidId(String::from("voice channel id 0")))?;
        if !self.voice.ready.load(Ordering::Acquire) {
            return Err(PlayerError::GatewayNotReady);
        }
        match self.voice.songbird.join(guild_id, channel_id).await {
            Ok(_) => Ok(()),
            Err(e) => {
                // Discord may still think the bot is in the channel; without leaving first the
                // next attempt times out as well.
                if e.should_leave_server() {
                    let _ = self.voice.songbird.leave(guild_id).await;
                }
                Err(PlayerError::Join(e.to_string()))
            }
        }
    }

    async fn leave(&self, guild: Snowflake) -> Result<(), PlayerError> {
        let guild_id = guild_id(guild)?;
        lock(&self.guilds).remove(&guild.get());
        if self.voice.songbird.get(guild_id).is_none() {
            return Ok(());
        }
        match self.voice.songbird.remove(guild_id).await {
            Ok(()) | Err(songbird::error::JoinError::NoCall) => Ok(()),
            Err(e) => Err(PlayerError::Join(format!("leaving: {e}"))),
        }
    }

    async fn play(&self, request: PlayRequest) -> Result<TrackInfo, PlayerError> {
        let guild = request.guild;
        let call = self
            .voice
            .songbird
            .get(guild_id(guild)?)
            .ok_or(PlayerError::NotInVoice(guild))?;
        let id = request
            .track_id
            .unwrap_or_else(|| format!("voice-{}", uuid::Uuid::new_v4()));
        let (input, probed) = match self.sources.open(&request.source).await {
            Ok(opened) => opened,
            Err(e) => {
                if e.is_source_fault() {
                    self.report(TrackEnded {
                        guild,
                        track_id: id,
                        reason: MusicEndReason::Error,
                        played: Duration::ZERO,
                        error: Some(e.to_string()),
                    });
                }
                return Err(e);
            }
        };
        let volume = lock(&self.guilds)
            .get(&guild.get())
            .map_or(1.0, |state| state.volume);
        // `play_only` stops the track it replaces; that end (a stop) is not reported.
        let handle = call
            .lock()
            .await
            .play_only(Track::from(input).volume(volume));
        lock(&self.guilds).entry(guild.get()).or_default().playing = Some(Playing {
            id: id.clone(),
            handle: handle.clone(),
            clock: PlayClock::start(),
        });
        let on_end = OnEnd {
            guild,
            track_id: id.clone(),
            guilds: self.guilds.clone(),
            events: self.events.clone(),
        };
        if handle
            .add_event(Event::Track(TrackEvent::End), on_end)
            .is_err()
        {
            // It ended before it could be watched: report it now so the queue moves on.
            let played = lock(&self.guilds)
                .get_mut(&guild.get())
                .and_then(|state| state.playing.take())
                .map_or(Duration::ZERO, |p| p.clock.played());
            self.report(TrackEnded {
                guild,
                track_id: id.clone(),
                reason: MusicEndReason::Finished,
                played,
                error: None,
            });
        }
        Ok(TrackInfo {
            id,
            probed,
            requested_by: request.requested_by,
        })
    }

    async fn pause(&self, guild: Snowflake) -> Result<(), PlayerError> {
        self.with_playing(guild, |playing| {
            playing.handle.pause()?;
            playing.clock.pause();
            Ok(())
        })
    }

    async fn resume(&self, guild: Snowflake) -> Result<(), PlayerError> {
        self.with_playing(guild, |playing| {
            playing.handle.play()?;
            playing.clock.resume();
            Ok(())
        })
    }

    async fn set_volume(&self, guild: Snowflake, percent: u32) -> Result<(), PlayerError> {
        let volume = percent.min(100) as f32 / 100.0;
        let mut guilds = lock(&self.guilds);
        let state = guilds.entry(guild.get()).or_default();
        state.volume = volume;
        if let Some(playing) = &state.playing
            && playing.handle.set_volume(volume).is_err()
        {
            state.playing = None;
        }
        Ok(())
    }

    async fn stop(&self, guild: Snowflake) -> Result<Option<TrackEnded>, PlayerError> {
        Ok(self.end_playing(guild, MusicEndReason::Stopped))
    }

    async fn skip(&self, guild: Snowflake) -> Result<Option<TrackEnded>, PlayerError> {
        Ok(self.end_playing(guild, MusicEndReason::Skipped))
    }
}

/// Reports a track that ended on its own; a stopped one was reported by its command.
struct OnEnd {
    guild: Snowflake,
    track_id: String,
    guilds: Guilds,
    events: mpsc::UnboundedSender<TrackEnded>,
}

#[serenity::async_trait]
impl EventHandler for OnEnd {
    async fn act(&self, ctx: &EventContext<'_>) -> Option<Event> {
        let EventContext::Track(tracks) = ctx else {
            return None;
        };
        for (state, handle) in tracks.iter() {
            let (reason, error) = match &state.playing {
                PlayMode::End => (MusicEndReason::Finished, None),
                PlayMode::Errored(e) => (MusicEndReason::Error, Some(e.to_string())),
                _ => continue,
            };
            {
                let mut guilds = lock(&self.guilds);
                if let Some(guild) = guilds.get_mut(&self.guild.get())
                    && guild
                        .playing
                        .as_ref()
                        .is_some_and(|p| p.handle.uuid() == handle.uuid())
                {
                    guild.playing = None;
                }
            }
            let ended = TrackEnded {
                guild: self.guild,
                track_id: self.track_id.clone(),
                reason,
                played: state.play_time,
                error,
            };
            if self.events.send(ended).is_err() {
                tracing::debug!("track end not reported: nobody reads the player's events");
            }
        }
        // Once is enough: the track cannot end twice.
        Some(Event::Cancel)
    }
}
