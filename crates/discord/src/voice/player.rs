//! The [`Player`] contract the executor drives, its errors, and the track ends it reports.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use guildhost_protocol::{ExtraFields, JsNumber, MusicEndReason, MusicEnded, Snowflake};

/// Why the player could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlayerError {
    /// The source does not exist: no such file, or the server answered 4xx.
    #[error("source not found: {0}")]
    NotFound(String),
    /// The source could not be reached now: network failure, timeout, 5xx, 429.
    #[error("source unreachable: {0}")]
    Unreachable(String),
    /// The source can never be played: a search (no resolver here), a path outside the media
    /// directory, local files turned off, a URL the fetch policy refuses, or bytes that are not
    /// audio this player decodes.
    #[error("cannot play this source: {0}")]
    Unsupported(String),
    /// The guild has no voice connection to play on: join a voice channel first.
    #[error("not in a voice channel in guild {0}: join one first")]
    NotInVoice(Snowflake),
    /// Pause or resume with no track playing in the guild.
    #[error("nothing is playing in guild {0}")]
    NothingPlaying(Snowflake),
    /// serenity has not started the voice manager yet (the gateway is not connected).
    #[error("voice is not ready: the Discord gateway has not connected yet")]
    GatewayNotReady,
    /// Joining the voice channel failed (no answer from Discord in time, connection refused).
    #[error("could not join the voice channel: {0}")]
    Join(String),
    /// An id that is not a Discord id (zero).
    #[error("invalid id: {0}")]
    InvalidId(String),
}

impl PlayerError {
    /// Whether trying again later may succeed; the others fail the same way every time.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::GatewayNotReady | Self::Join(_)
        )
    }

    /// Whether the source itself is at fault, so the track can never play: the player reports
    /// such a failed `play` as a track end with reason `ERROR` too, so the queue moves on.
    pub fn is_source_fault(&self) -> bool {
        matches!(self, Self::NotFound(_) | Self::Unsupported(_))
    }
}

/// A request to play one track now, replacing the guild's playing track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayRequest {
    /// The guild; it must have joined a voice channel.
    pub guild: Snowflake,
    /// An `http(s)://` URL, a `file://` URL, or a path (relative to the media directory, or
    /// absolute inside it).
    pub source: String,
    /// Who asked for it.
    pub requested_by: Snowflake,
    /// The id the track's end is reported with (the music plugin's track id, so its
    /// `MUSIC_ENDED` matches); a fresh one when `None`.
    pub track_id: Option<String>,
}

/// What probing a source found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// The title tag, else the file name or the URL's last path segment.
    pub title: String,
    /// The artist tag, if any.
    pub artist: Option<String>,
    /// The length from the container's headers, when it states one (a stream may not).
    pub duration: Option<Duration>,
    /// Where it was read from: the URL, or the file's canonical path.
    pub location: String,
}

/// A track the player started.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackInfo {
    /// The id its end is reported with.
    pub id: String,
    /// What probing found.
    pub probed: Probed,
    /// Who asked for it.
    pub requested_by: Snowflake,
}

/// A track that stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEnded {
    /// The guild it played in.
    pub guild: Snowflake,
    /// The id given when it was played.
    pub track_id: String,
    /// Why: `FINISHED` or `ERROR` on [`TrackEvents`]; `STOPPED` or `SKIPPED` when returned by
    /// [`Player::stop`] or [`Player::skip`].
    pub reason: MusicEndReason,
    /// How long it played, pauses excluded.
    pub played: Duration,
    /// What went wrong, for `ERROR`.
    pub error: Option<String>,
}

impl TrackEnded {
    /// The `MUSIC_ENDED` event data for it (duration in seconds, millisecond precision).
    pub fn music_ended(&self) -> MusicEnded {
        let seconds = (self.played.as_millis() as f64) / 1000.0;
        MusicEnded {
            track_id: self.track_id.clone(),
            reason: self.reason,
            duration: JsNumber::new(seconds).unwrap_or_default(),
            next_track_id: None,
            extra: ExtraFields::new(),
        }
    }
}

/// The receiving end of a player's track ends.
#[derive(Debug)]
pub struct TrackEvents(mpsc::UnboundedReceiver<TrackEnded>);

impl TrackEvents {
    /// A sender for a [`Player`] implementation and the receiver its owner reads.
    pub fn channel() -> (mpsc::UnboundedSender<TrackEnded>, TrackEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        (tx, TrackEvents(rx))
    }

    /// The next track end; `None` once the player is gone.
    pub async fn recv(&mut self) -> Option<TrackEnded> {
        self.0.recv().await
    }

    /// A track end already reported, without waiting.
    pub fn try_recv(&mut self) -> Option<TrackEnded> {
        self.0.try_recv().ok()
    }
}

/// Plays audio in guilds' voice channels; what the executor calls for the music commands.
///
/// Its track ends arrive on the [`TrackEvents`] handed out with the player.
pub trait Player: Send + Sync + 'static {
    /// Joins `channel` in `guild` (moves there if in another one; nothing if already there).
    fn join(
        &self,
        guild: Snowflake,
        channel: Snowflake,
    ) -> impl Future<Output = Result<(), PlayerError>> + Send;

    /// Leaves the guild's voice channel, dropping its track; nothing if not in one.
    fn leave(&self, guild: Snowflake) -> impl Future<Output = Result<(), PlayerError>> + Send;

    /// Opens and probes the source and plays it now, replacing the playing track.
    ///
    /// A source at fault ([`PlayerError::is_source_fault`]) is also reported on the events as a
    /// track end with reason `ERROR` under the request's track id, so the queue moves on.
    fn play(
        &self,
        request: PlayRequest,
    ) -> impl Future<Output = Result<TrackInfo, PlayerError>> + Send;

    /// Pauses the playing track.
    fn pause(&self, guild: Snowflake) -> impl Future<Output = Result<(), PlayerError>> + Send;

    /// Resumes the paused track.
    fn resume(&self, guild: Snowflake) -> impl Future<Output = Result<(), PlayerError>> + Send;

    /// Sets the guild's volume in percent (0–100, higher is taken as 100); it also applies to
    /// the tracks played after.
    fn set_volume(
        &self,
        guild: Snowflake,
        percent: u32,
    ) -> impl Future<Output = Result<(), PlayerError>> + Send;

    /// Stops the playing track: the track that ended (reason `STOPPED`), or `None` if nothing
    /// played.
    fn stop(
        &self,
        guild: Snowflake,
    ) -> impl Future<Output = Result<Option<TrackEnded>, PlayerError>> + Send;

    /// Skips the playing track (the player has no queue: it stops, with reason `SKIPPED`).
    fn skip(
        &self,
        guild: Snowflake,
    ) -> impl Future<Output = Result<Option<TrackEnded>, PlayerError>> + Send;
}

/// A shared player is a player: the executor and whoever reads its state can hold one each.
impl<P: Player> Player for Arc<P> {
    fn join(
        &self,
        guild: Snowflake,
        channel: Snowflake,
    ) -> impl Future<Output = Result<(), PlayerError>> + Send {
        P::join(self, guild, channel)
    }

    fn leave(&self, guild: Snowflake) -> impl Future<Output = Result<(), PlayerError>> + Send {
        P::leave(self, guild)
    }

    fn play(
        &self,
        request: PlayRequest,
    ) -> impl Future<Output = Result<TrackInfo, PlayerError>> + Send {
        P::play(self, request)
    }

    fn pause(&self, guild: Snowflake) -> impl Future<Output = Result<(), PlayerError>> + Send {
        P::pause(self, guild)
    }

    fn resume(&self, guild: Snowflake) -> impl Future<Output = Result<(), PlayerError>> + Send {
        P::resume(self, guild)
    }

    fn set_volume(
        &self,
        guild: Snowflake,
        percent: u32,
    ) -> impl Future<Output = Result<(), PlayerError>> + Send {
        P::set_volume(self, guild, percent)
    }

    fn stop(
        &self,
        guild: Snowflake,
    ) -> impl Future<Output = Result<Option<TrackEnded>, PlayerError>> + Send {
        P::stop(self, guild)
    }

    fn skip(
        &self,
        guild: Snowflake,
    ) -> impl Future<Output = Result<Option<TrackEnded>, PlayerError>> + Send {
        P::skip(self, guild)
    }
}
