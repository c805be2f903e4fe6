//! Opening what is played: checked `http(s)` URLs and files under the media directory, and
//! probing their title, artist and duration.

use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use songbird::input::codecs::{get_codec_registry, get_probe};
use songbird::input::{AudioStreamError, File, HttpRequest, Input, MakePlayableError};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::errors::Error as SymphError;
use symphonia::core::meta::{MetadataRevision, StandardTagKey, Value};

use super::player::{PlayerError, Probed};
use crate::fetch::{FetchError, FetchPolicy};

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
    pub(super) async fn open(&self, source: &str) -> Result<(Input, Probed), PlayerError> {
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
