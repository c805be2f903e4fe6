//! Voice: the [`Player`] the executor drives for the music commands (join, leave, play a URL or
//! a local file, pause, resume, volume, stop, skip), the track ends it reports, and
//! [`SongbirdPlayer`], which plays through songbird on serenity's gateway.
//!
//! The player holds no queue: the music plugin keeps each guild's queue and asks for one track
//! at a time, so playing a track replaces the one playing. A track that ends on its own
//! (finished, or failed while playing) is reported as a [`TrackEnded`] on the player's
//! [`TrackEvents`]; the caller turns it into `MUSIC_ENDED` ([`TrackEnded::music_ended`]) so the
//! plugin moves on. Ends a command causes (stop, skip, replace) are returned by that command and
//! never reported on the events: the plugin announced them itself.
//!
//! [`Sources`] opens what is played — `http(s)://` URLs with reqwest under the fetch policy
//! ([`super::fetch`]: checked before songbird gets them, read with a client pinned to the
//! checked addresses), local files under a media directory — and probes title, artist and
//! duration from the container's tags and headers.
//! Knows nothing of queues, plugins or Redis.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serenity::all::{ChannelId, GuildId, ShardRunnerMessage, UserId, VoiceGatewayManager};
use serenity::futures::channel::mpsc::UnboundedSender as ShardSender;
use songbird::events::{Event, EventContext, EventHandler, TrackEvent};
use songbird::input::codecs::{get_codec_registry, get_probe};
use songbird::input::{AudioStreamError, File, HttpRequest, Input, MakePlayableError};
use songbird::tracks::{PlayMode, Track, TrackHandle};
use songbird::{Config as SongbirdConfig, Songbird};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymphError;
use symphonia::core::meta::{MetadataRevision, StandardTagKey, Value};
use tokio::sync::mpsc;

use super::fetch::{FetchError, FetchPolicy};
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

// ---------------------------------------------------------------- sources

/// Where sources come from and how long opening one may take.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Local files are played only from under this directory; `None` turns them off (the
    /// commands come from the API and plugins, which must not read the host's files).
    pub media_dir: Option<PathBuf>,
    /// The most opening and probing a source may take.
    pub open_timeout: Duration,
    /// The most connecting to a URL's server may take.
    pub connect_timeout: Duration,
    /// Which URLs may be played (`[discord.fetch]`): its address rule, allow list and redirect
    /// limit apply; its size and time caps do not (a stream is long by nature).
    pub fetch: FetchPolicy,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            media_dir: None,
            open_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            fetch: FetchPolicy::default(),
        }
    }
}

/// What a full decode of a source found; see [`Sources::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// What probing found.
    pub probed: Probed,
    /// Audio frames decoded (samples per channel).
    pub frames: u64,
    /// Their sample rate.
    pub sample_rate: u32,
    /// The length they make.
    pub decoded: Duration,
}

/// Opens and probes what the player plays.
#[derive(Debug, Clone)]
pub struct Sources {
    config: SourceConfig,
    fetch: Arc<FetchPolicy>,
}

/// A source as a request names it.
enum Location {
    Url(String),
    File(String),
}

impl Sources {
    /// Sources as `config` says. Each URL is read with a reqwest client of its own, pinned to
    /// the addresses its check passed; this fails if no such client can be built.
    pub fn new(config: SourceConfig) -> Result<Self, PlayerError> {
        // Built once here so a missing TLS backend fails at start, not on the first play.
        Self::client_builder(&config)
            .build()
            .map_err(|e| PlayerError::Unreachable(format!("cannot build the HTTP client: {e}")))?;
        let fetch = Arc::new(config.fetch.clone());
        Ok(Self { config, fetch })
    }

    fn client_builder(config: &SourceConfig) -> reqwest::ClientBuilder {
        reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            // A stalled stream fails instead of hanging the track.
            .read_timeout(Duration::from_secs(30))
    }

    /// The client songbird reads `url` with: the URL checked under the fetch policy first, then
    /// a client that connects only to the addresses checked and checks every redirect.
    async fn url_client(&self, url: &str) -> Result<reqwest::Client, PlayerError> {
        let parsed = FetchPolicy::parse_url(url).map_err(fetch_error)?;
        let checked = tokio::time::timeout(self.config.open_timeout, self.fetch.check(&parsed))
            .await
            .map_err(|_| {
                PlayerError::Unreachable(format!(
                    "{url}: not resolved within {:?}",
                    self.config.open_timeout
                ))
            })?
            .map_err(fetch_error)?;
        self.fetch
            .streaming_client(&checked, Self::client_builder(&self.config))
            .map_err(fetch_error)
    }

    /// Opens `source` and probes it, without playing it.
    pub async fn probe(&self, source: &str) -> Result<Probed, PlayerError> {
        self.open(source).await.map(|(_, probed)| probed)
    }

    /// Opens `source`, probes it and decodes it to the end: proof that it plays through.
    pub async fn check(&self, source: &str) -> Result<Checked, PlayerError> {
        let (input, probed) = self.open(source).await?;
        let location = probed.location.clone();
        let (frames, sample_rate) = tokio::task::spawn_blocking(move || decode_all(input))
            .await
            .map_err(|e| PlayerError::Unsupported(format!("{location}: decoder failed: {e}")))?
            .map_err(|e| PlayerError::Unsupported(format!("{location}: {e}")))?;
        let decoded = if sample_rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(frames as f64 / f64::from(sample_rate))
        };
        Ok(Checked {
            probed,
            frames,
            sample_rate,
            decoded,
        })
    }

    /// The playable input for `source`, and what probing it found.
    async fn open(&self, source: &str) -> Result<(Input, Probed), PlayerError> {
        let (input, location, fallback_title): (Input, String, String) =
            match parse_location(source)? {
                Location::Url(url) => {
                    let client = self.url_client(&url).await?;
                    let title = url_title(&url);
                    (HttpRequest::new(client, url.clone()).into(), url, title)
                }
                Location::File(path) => {
                    let path = self.resolve_file(&path).await?;
                    let title = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let location = path.display().to_string();
                    (File::new(path).into(), location, title)
                }
            };
        let playable = tokio::time::timeout(
            self.config.open_timeout,
            input.make_playable_async(get_codec_registry(), get_probe()),
        )
        .await
        .map_err(|_| {
            PlayerError::Unreachable(format!(
                "{location}: not readable within {:?}",
                self.config.open_timeout
            ))
        })?;
        let mut input = playable.map_err(|e| playable_error(&location, e))?;
        let probed = probe_parsed(&mut input, location, fallback_title);
        Ok((input, probed))
    }

    /// The canonical path of a local file, which must lie under the media directory.
    async fn resolve_file(&self, raw: &str) -> Result<PathBuf, PlayerError> {
        let Some(root) = &self.config.media_dir else {
            return Err(PlayerError::Unsupported(format!(
                "{raw}: local files are turned off (no media directory configured)"
            )));
        };
        let root = tokio::fs::canonicalize(root).await.map_err(|e| {
            PlayerError::Unsupported(format!(
                "the media directory {} is not readable: {e}",
                root.display()
            ))
        })?;
        let path = Path::new(raw);
        let joined = if path.is_absolute() {
            path.to_owned()
        } else {
            root.join(path)
        };
        let canonical = match tokio::fs::canonicalize(&joined).await {
            Ok(canonical) => canonical,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PlayerError::NotFound(format!(
                    "{}: no such file",
                    joined.display()
                )));
            }
            Err(e) => {
                return Err(PlayerError::Unsupported(format!(
                    "{}: {e}",
                    joined.display()
                )));
            }
        };
        // Checked after resolving links, so neither `..` nor a symlink leads out.
        if !canonical.starts_with(&root) {
            return Err(PlayerError::Unsupported(format!(
                "{raw}: outside the media directory {}",
                root.display()
            )));
        }
        if !canonical.is_file() {
            return Err(PlayerError::Unsupported(format!(
                "{}: not a file",
                canonical.display()
            )));
        }
        Ok(canonical)
    }
}

fn parse_location(source: &str) -> Result<Location, PlayerError> {
    let source = source.trim();
    if source.is_empty() {
        return Err(PlayerError::Unsupported(String::from("empty source")));
    }
    let lower = source.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        let url = reqwest::Url::parse(source)
            .map_err(|e| PlayerError::Unsupported(format!("{source}: not a valid URL: {e}")))?;
        return Ok(Location::Url(url.into()));
    }
    if lower.starts_with("file:") {
        let path = reqwest::Url::parse(source)
            .ok()
            .and_then(|url| url.to_file_path().ok())
            .ok_or_else(|| PlayerError::Unsupported(format!("{source}: not a file URL")))?;
        return Ok(Location::File(path.display().to_string()));
    }
    if let Some(query) = source.strip_prefix("search:") {
        return Err(PlayerError::Unsupported(format!(
            "searching ({query:?}) is not supported: give an http(s) URL or a file path"
        )));
    }
    Ok(Location::File(source.to_owned()))
}

/// The last non-empty path segment of `url`, else its host, else the URL.
fn url_title(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).ok();
    parsed
        .as_ref()
        .and_then(|u| u.path_segments())
        .and_then(|mut segments| segments.rfind(|s| !s.is_empty()).map(str::to_owned))
        .or_else(|| {
            parsed
                .as_ref()
                .and_then(|u| u.host_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| url.to_owned())
}

fn playable_error(location: &str, error: MakePlayableError) -> PlayerError {
    match error {
        MakePlayableError::Create(create) => create_error(location, create),
        MakePlayableError::Parse(parse) => PlayerError::Unsupported(format!(
            "{location}: not audio this player decodes ({parse})"
        )),
        MakePlayableError::Panicked => {
            PlayerError::Unsupported(format!("{location}: the decoder failed"))
        }
        other => PlayerError::Unsupported(format!("{location}: {other}")),
    }
}

fn create_error(location: &str, error: AudioStreamError) -> PlayerError {
    match error {
        AudioStreamError::RetryIn(after) => {
            PlayerError::Unreachable(format!("{location}: the server asks to retry in {after:?}"))
        }
        AudioStreamError::Unsupported => {
            PlayerError::Unsupported(format!("{location}: not a readable source"))
        }
        AudioStreamError::Fail(why) => fail_error(location, why.as_ref()),
        other => PlayerError::Unreachable(format!("{location}: {other}")),
    }
}

/// A URL the fetch policy refused can never play; one that failed to resolve may later.
fn fetch_error(error: FetchError) -> PlayerError {
    if error.is_retriable() {
        PlayerError::Unreachable(error.to_string())
    } else {
        PlayerError::Unsupported(error.to_string())
    }
}

/// Sorts songbird's opaque failure by what is inside it.
fn fail_error(location: &str, why: &(dyn StdError + Send + Sync + 'static)) -> PlayerError {
    // The policy's refusal of a redirect or of a name's addresses, inside reqwest's error.
    if let Some(refused) = FetchError::find_in(why) {
        return fetch_error(refused.clone());
    }
    if let Some(io) = why.downcast_ref::<std::io::Error>() {
        return if io.kind() == std::io::ErrorKind::NotFound {
            PlayerError::NotFound(format!("{location}: no such file"))
        } else {
            PlayerError::Unsupported(format!("{location}: {io}"))
        };
    }
    if let Some(http) = why.downcast_ref::<reqwest::Error>() {
        return PlayerError::Unreachable(format!("{location}: {http}"));
    }
    // songbird reports an HTTP refusal only as text: "failed with http status code: 404 Not Found".
    let text = why.to_string();
    let status = text
        .strip_prefix("failed with http status code: ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok());
    match status {
        Some(429) | Some(500..) => PlayerError::Unreachable(format!("{location}: HTTP {status:?}")),
        Some(code) => PlayerError::NotFound(format!("{location}: HTTP {code}")),
        None => PlayerError::Unreachable(format!("{location}: {text}")),
    }
}

/// Title, artist and duration of a parsed input.
fn probe_parsed(input: &mut Input, location: String, fallback_title: String) -> Probed {
    let mut title = None;
    let mut artist = None;
    let mut duration = None;
    if let Some(parsed) = input.parsed_mut() {
        let track_id = parsed.track_id;
        duration = parsed
            .format
            .tracks()
            .iter()
            .find(|t| t.id == track_id)
            .and_then(|t| track_duration(&t.codec_params));
        // Tags in the container (Vorbis comments, RIFF INFO) win over those found before it
        // (ID3v2 ahead of an MP3 stream).
        let mut revisions = Vec::new();
        if let Some(rev) = parsed.format.metadata().skip_to_latest() {
            revisions.push(rev.clone());
        }
        if let Some(mut meta) = parsed.meta.get()
            && let Some(rev) = meta.skip_to_latest()
        {
            revisions.push(rev.clone());
        }
        for rev in &revisions {
            title = title.or_else(|| tag(rev, StandardTagKey::TrackTitle));
            artist = artist.or_else(|| tag(rev, StandardTagKey::Artist));
        }
    }
    Probed {
        title: title.unwrap_or(fallback_title),
        artist,
        duration,
        location,
    }
}

fn tag(revision: &MetadataRevision, key: StandardTagKey) -> Option<String> {
    revision
        .tags()
        .iter()
        .filter(|t| t.std_key == Some(key))
        .find_map(|t| match &t.value {
            // RIFF INFO strings end in NULs (and padding) that symphonia keeps.
            Value::String(s) => {
                let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
                (!s.is_empty()).then(|| s.to_owned())
            }
            _ => None,
        })
}

fn track_duration(params: &CodecParameters) -> Option<Duration> {
    let frames = params.n_frames?;
    if let Some(base) = params.time_base {
        let time = base.calc_time(frames);
        return Some(Duration::from_secs(time.seconds) + Duration::from_secs_f64(time.frac));
    }
    let rate = params.sample_rate.filter(|r| *r > 0)?;
    Some(Duration::from_secs_f64(frames as f64 / f64::from(rate)))
}

/// Decodes every packet of the chosen track: (frames, sample rate).
fn decode_all(mut input: Input) -> Result<(u64, u32), String> {
    let parsed = input
        .parsed_mut()
        .ok_or_else(|| String::from("not parsed"))?;
    let mut frames = 0u64;
    let mut rate = parsed.decoder.codec_params().sample_rate.unwrap_or(0);
    loop {
        let packet = match parsed.format.next_packet() {
            Ok(packet) => packet,
            Err(SymphError::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(SymphError::ResetRequired) => break,
            Err(e) => return Err(format!("reading: {e}")),
        };
        if packet.track_id() != parsed.track_id {
            continue;
        }
        match parsed.decoder.decode(&packet) {
            Ok(buffer) => {
                frames += buffer.frames() as u64;
                rate = buffer.spec().rate;
            }
            // A damaged packet is skipped, as playback would.
            Err(SymphError::DecodeError(_)) => {}
            Err(e) => return Err(format!("decoding: {e}")),
        }
    }
    Ok((frames, rate))
}

// ---------------------------------------------------------------- songbird

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
