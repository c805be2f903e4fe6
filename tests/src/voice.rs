//! A [`Player`] that records what it is asked and plays nothing, so the music flow runs end to
//! end without a voice connection; a test ends the playing track with [`RecordingPlayer::finish`].
//! With [`Sources`] it opens and probes sources for real, so a bad source fails as in production.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use guildhost::discord::voice::{
    PlayRequest, Player, PlayerError, Probed, Sources, TrackEnded, TrackEvents, TrackInfo,
};
use guildhost::protocol::{MusicEndReason, Snowflake};
use tokio::sync::mpsc::UnboundedSender;

/// One call a [`RecordingPlayer`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlayerCall {
    /// `join(guild, channel)`.
    Join(Snowflake, Snowflake),
    /// `leave(guild)`.
    Leave(Snowflake),
    /// `play(request)`.
    Play(PlayRequest),
    /// `pause(guild)`.
    Pause(Snowflake),
    /// `resume(guild)`.
    Resume(Snowflake),
    /// `set_volume(guild, percent)`.
    Volume(Snowflake, u32),
    /// `stop(guild)`.
    Stop(Snowflake),
    /// `skip(guild)`.
    Skip(Snowflake),
}

#[derive(Default)]
struct State {
    calls: Vec<PlayerCall>,
    joined: HashSet<u64>,
    playing: HashMap<u64, (String, Instant)>,
}

/// Records calls; plays nothing.
pub struct RecordingPlayer {
    sources: Option<Sources>,
    state: Mutex<State>,
    events: UnboundedSender<TrackEnded>,
}

impl RecordingPlayer {
    /// A player probing with `sources` (or taking every source as it is named) and the
    /// receiver of its track ends.
    pub fn new(sources: Option<Sources>) -> (Self, TrackEvents) {
        let (events, receiver) = TrackEvents::channel();
        let player = Self {
            sources,
            state: Mutex::default(),
            events,
        };
        (player, receiver)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<PlayerCall> {
        self.state().calls.clone()
    }

    /// The id of the guild's playing track.
    pub fn playing(&self, guild: Snowflake) -> Option<String> {
        self.state()
            .playing
            .get(&guild.get())
            .map(|(id, _)| id.clone())
    }

    /// Ends the guild's playing track as if it finished, reporting it on the events; its id.
    pub fn finish(&self, guild: Snowflake) -> Option<String> {
        let (id, started) = self.state().playing.remove(&guild.get())?;
        let _ = self.events.send(TrackEnded {
            guild,
            track_id: id.clone(),
            reason: MusicEndReason::Finished,
            played: started.elapsed(),
            error: None,
        });
        Some(id)
    }

    fn end(&self, guild: Snowflake, reason: MusicEndReason) -> Option<TrackEnded> {
        let (track_id, started) = self.state().playing.remove(&guild.get())?;
        Some(TrackEnded {
            guild,
            track_id,
            reason,
            played: started.elapsed(),
            error: None,
        })
    }

    fn record(&self, call: PlayerCall) {
        self.state().calls.push(call);
    }
}

impl Player for RecordingPlayer {
    async fn join(&self, guild: Snowflake, channel: Snowflake) -> Result<(), PlayerError> {
        self.record(PlayerCall::Join(guild, channel));
        self.state().joined.insert(guild.get());
        Ok(())
    }

    async fn leave(&self, guild: Snowflake) -> Result<(), PlayerError> {
        self.record(PlayerCall::Leave(guild));
        let mut state = self.state();
        state.joined.remove(&guild.get());
        state.playing.remove(&guild.get());
        Ok(())
    }

    async fn play(&self, request: PlayRequest) -> Result<TrackInfo, PlayerError> {
        self.record(PlayerCall::Play(request.clone()));
        let guild = request.guild;
        if !self.state().joined.contains(&guild.get()) {
            return Err(PlayerError::NotInVoice(guild));
        }
        let id = request
            .track_id
            .unwrap_or_else(|| format!("voice-{}", uuid::Uuid::new_v4()));
        let probed = match &self.sources {
            Some(sources) => sources.probe(&request.source).await,
            None => Ok(Probed {
                title: request.source.clone(),
                artist: None,
                duration: None,
                location: request.source.clone(),
            }),
        };
        let probed = match probed {
            Ok(probed) => probed,
            Err(e) => {
                if e.is_source_fault() {
                    let _ = self.events.send(TrackEnded {
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
        self.state()
            .playing
            .insert(guild.get(), (id.clone(), Instant::now()));
        Ok(TrackInfo {
            id,
            probed,
            requested_by: request.requested_by,
        })
    }

    async fn pause(&self, guild: Snowflake) -> Result<(), PlayerError> {
        self.record(PlayerCall::Pause(guild));
        self.playing(guild)
            .map(|_| ())
            .ok_or(PlayerError::NothingPlaying(guild))
    }

    async fn resume(&self, guild: Snowflake) -> Result<(), PlayerError> {
        self.record(PlayerCall::Resume(guild));
        self.playing(guild)
            .map(|_| ())
            .ok_or(PlayerError::NothingPlaying(guild))
    }

    async fn set_volume(&self, guild: Snowflake, percent: u32) -> Result<(), PlayerError> {
        self.record(PlayerCall::Volume(guild, percent));
        Ok(())
    }

    async fn stop(&self, guild: Snowflake) -> Result<Option<TrackEnded>, PlayerError> {
        self.record(PlayerCall::Stop(guild));
        Ok(self.end(guild, MusicEndReason::Stopped))
    }

    async fn skip(&self, guild: Snowflake) -> Result<Option<TrackEnded>, PlayerError> {
        self.record(PlayerCall::Skip(guild));
        Ok(self.end(guild, MusicEndReason::Skipped))
    }
}
