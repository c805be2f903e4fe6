//! Voice without a voice connection: sources open, probe and decode offline — a WAV written by
//! the test, the committed MP3, FLAC, Ogg Opus and Ogg Vorbis fixtures (`tests/fixtures/voice`),
//! the same over HTTP from a loopback server the fetch policy allows — and fail clearly when
//! missing, refused (by the server, or by the fetch policy: a loopback URL not allowed, a
//! redirect to one) or not audio; songbird's player keeps its contract up to where Discord's
//! voice server would be needed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Path as UrlPath;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use guildhost::discord::fetch::FetchPolicy;
use guildhost::discord::voice::{
    PlayRequest, Player, PlayerConfig, PlayerError, SongbirdPlayer, SourceConfig, Sources,
};
use guildhost::protocol::{MusicEndReason, Snowflake};
use guildhost_tests::file_server::FileServer;
use guildhost_tests::file_server::allowing;
use guildhost_tests::{PlayerCall, RecordingPlayer};
use serenity::all::UserId;

const GUILD: Snowflake = Snowflake::new(111_111_111_111_111_111);
const CHANNEL: Snowflake = Snowflake::new(222_222_222_222_222_222);
const USER: Snowflake = Snowflake::new(333_333_333_333_333_333);

/// A directory of its own under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ght-voice-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create a temp dir");
        Self(dir)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/voice")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).expect("the committed voice fixture")
}

/// A mono 16-bit PCM WAV of a 440 Hz tone, with its title in a RIFF `LIST/INFO` chunk.
fn wav(seconds: f64, rate: u32, title: &str) -> Vec<u8> {
    let frames = (seconds * f64::from(rate)) as u32;
    let mut data = Vec::with_capacity(frames as usize * 2);
    for i in 0..frames {
        let t = f64::from(i) / f64::from(rate);
        let sample = (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
        data.extend_from_slice(&sample.to_le_bytes());
    }
    let mut name = title.as_bytes().to_vec();
    name.push(0);
    if name.len() % 2 == 1 {
        name.push(0);
    }
    let mut info = b"INFO".to_vec();
    info.extend_from_slice(b"INAM");
    info.extend_from_slice(&(name.len() as u32).to_le_bytes());
    info.extend_from_slice(&name);

    let mut body = b"WAVE".to_vec();
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&16u32.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes()); // PCM
    body.extend_from_slice(&1u16.to_le_bytes()); // mono
    body.extend_from_slice(&rate.to_le_bytes());
    body.extend_from_slice(&(rate * 2).to_le_bytes());
    body.extend_from_slice(&2u16.to_le_bytes());
    body.extend_from_slice(&16u16.to_le_bytes());
    body.extend_from_slice(b"LIST");
    body.extend_from_slice(&(info.len() as u32).to_le_bytes());
    body.extend_from_slice(&info);
    body.extend_from_slice(b"data");
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(&data);

    let mut riff = b"RIFF".to_vec();
    riff.extend_from_slice(&(body.len() as u32).to_le_bytes());
    riff.extend_from_slice(&body);
    riff
}

/// Sources whose fetch policy allows the test servers on 127.0.0.1.
fn sources(media_dir: Option<&Path>) -> Sources {
    sources_with(media_dir, allowing(&["127.0.0.1"]))
}

fn sources_with(media_dir: Option<&Path>, fetch: FetchPolicy) -> Sources {
    Sources::new(SourceConfig {
        media_dir: media_dir.map(Path::to_owned),
        open_timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(2),
        fetch,
    })
    .expect("an HTTP client")
}

fn assert_about(what: &str, actual: Duration, expected: Duration) {
    let diff = actual.abs_diff(expected);
    assert!(
        diff <= Duration::from_millis(120),
        "{what}: {actual:?}, expected about {expected:?}"
    );
}

/// Serves the fixtures under `/audio/<name>`, a generated WAV at `/audio/tone.wav`, and 503 at
/// `/busy`; anything else is 404. Returns the base URL.
async fn serve_audio() -> String {
    serve_audio_on([127, 0, 0, 1]).await
}

/// [`serve_audio`] on another loopback address.
async fn serve_audio_on(ip: [u8; 4]) -> String {
    async fn audio(UrlPath(name): UrlPath<String>) -> axum::response::Response {
        let bytes = if name == "tone.wav" {
            wav(1.0, 48_000, "Served Tone")
        } else if ["tone.mp3", "tone.flac", "tone.opus", "tone.ogg"].contains(&name.as_str()) {
            fixture(&name)
        } else {
            return StatusCode::NOT_FOUND.into_response();
        };
        ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
    }
    let app = Router::new()
        .route("/audio/{name}", get(audio))
        .route("/busy", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
    let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::from(ip), 0))
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_wav_written_by_the_test_probes_and_decodes_to_the_end() {
    let dir = TempDir::new();
    dir.write("tone.wav", &wav(1.0, 48_000, "Generated Tone"));
    let checked = sources(Some(&dir.0))
        .check("tone.wav")
        .await
        .expect("the WAV plays");
    assert_eq!(checked.probed.title, "Generated Tone");
    assert_eq!(checked.probed.duration, Some(Duration::from_secs(1)));
    assert_eq!(checked.frames, 48_000);
    assert_eq!(checked.sample_rate, 48_000);
    assert!(
        checked.probed.location.ends_with("tone.wav"),
        "{}",
        checked.probed.location
    );
}

#[tokio::test]
async fn the_compressed_fixtures_probe_and_decode_to_the_end() {
    let sources = sources(Some(&fixtures()));
    for name in ["tone.mp3", "tone.flac", "tone.opus", "tone.ogg"] {
        let checked = sources
            .check(name)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(checked.probed.title, "Fixture Tone", "{name}");
        assert_eq!(
            checked.probed.artist.as_deref(),
            Some("guildhost"),
            "{name}"
        );
        let duration = checked
            .probed
            .duration
            .unwrap_or_else(|| panic!("{name}: no duration in its headers"));
        assert_about(name, duration, Duration::from_secs(1));
        assert_about(name, checked.decoded, Duration::from_secs(1));
    }
}

#[tokio::test]
async fn sources_named_by_absolute_path_and_file_url_inside_the_media_dir_play() {
    let sources = sources(Some(&fixtures()));
    let path = fixtures().join("tone.flac");
    let by_path = sources
        .probe(&path.display().to_string())
        .await
        .expect("an absolute path inside the media dir");
    let by_url = sources
        .probe(&format!("file://{}", path.display()))
        .await
        .expect("a file URL inside the media dir");
    assert_eq!(by_path, by_url);
    assert_eq!(by_path.title, "Fixture Tone");
}

#[tokio::test]
async fn sources_over_http_probe_and_decode() {
    let base = serve_audio().await;
    let sources = sources(None);

    let wav = sources
        .check(&format!("{base}/audio/tone.wav"))
        .await
        .expect("the served WAV plays");
    assert_eq!(wav.probed.title, "Served Tone");
    assert_eq!(wav.probed.location, format!("{base}/audio/tone.wav"));
    assert_eq!(wav.frames, 48_000);

    for name in ["tone.mp3", "tone.opus", "tone.flac"] {
        let checked = sources
            .check(&format!("{base}/audio/{name}"))
            .await
            .unwrap_or_else(|e| panic!("{name} over HTTP: {e}"));
        assert_eq!(checked.probed.title, "Fixture Tone", "{name}");
        assert_about(name, checked.decoded, Duration::from_secs(1));
    }
}

#[tokio::test]
async fn a_url_on_a_loopback_address_is_refused_before_songbird_reads_it() {
    let base = serve_audio().await;
    let strict = sources_with(None, FetchPolicy::default());
    let url = format!("{base}/audio/tone.wav");
    let err = strict.probe(&url).await.expect_err("loopback is refused");
    assert_eq!(
        err,
        PlayerError::Unsupported(format!(
            "{url} resolves to 127.0.0.1, a loopback address; only public addresses are fetched \
             (allow it with [discord.fetch] allow)"
        ))
    );
    assert!(!err.is_retriable());
    assert!(err.is_source_fault(), "the queue moves on");

    let metadata = strict
        .probe("http://169.254.169.254/latest/meta-data/")
        .await
        .expect_err("the metadata address is refused");
    assert!(
        matches!(&metadata, PlayerError::Unsupported(m) if m.contains("a link-local address")),
        "{metadata}"
    );
    let open = sources_with(
        None,
        FetchPolicy {
            allow_private_networks: true,
            ..FetchPolicy::default()
        },
    );
    let played = open.probe(&url).await.expect("allow_private_networks");
    assert_eq!(played.title, "Served Tone");
}

#[tokio::test]
async fn a_music_redirect_is_followed_only_to_checked_places() {
    // The operator allows 127.0.0.2, where the audio and the redirecting server listen; the
    // server on 127.0.0.1 (also `localhost`) is not allowed and must never be asked.
    let base = serve_audio_on([127, 0, 0, 2]).await;
    let redirecting = FileServer::start([127, 0, 0, 2])
        .await
        .expect("a file server on 127.0.0.2");
    let other = FileServer::start([127, 0, 0, 1])
        .await
        .expect("a file server on 127.0.0.1");
    let sources = sources_with(None, allowing(&["127.0.0.2"]));

    redirecting.redirect("/moved", &format!("{base}/audio/tone.wav"));
    let moved = sources
        .check(&redirecting.url("/moved"))
        .await
        .expect("a redirect to an allowed address plays");
    assert_eq!(moved.probed.title, "Served Tone");
    assert_eq!(moved.frames, 48_000);

    let target = other.url("/files/tone.wav");
    redirecting.redirect("/hop", &target);
    let hop = sources
        .probe(&redirecting.url("/hop"))
        .await
        .expect_err("a redirect to an address not allowed");
    assert_eq!(
        hop,
        PlayerError::Unsupported(format!(
            "{target} (redirected from {}) resolves to 127.0.0.1, a loopback address; only \
             public addresses are fetched (allow it with [discord.fetch] allow)",
            redirecting.url("/hop")
        ))
    );

    // A host name is checked when the client resolves it, against what it resolves to.
    redirecting.redirect(
        "/named",
        &format!("http://localhost:{}/files/tone.wav", other.addr().port()),
    );
    let named = sources
        .probe(&redirecting.url("/named"))
        .await
        .expect_err("localhost resolves to a loopback address");
    assert!(
        matches!(&named, PlayerError::Unsupported(m)
            if m.starts_with("the host localhost resolves to 127.0.0.1, a loopback address")),
        "{named}"
    );

    redirecting.redirect("/loop", &redirecting.url("/loop"));
    let looped = sources
        .probe(&redirecting.url("/loop"))
        .await
        .expect_err("a redirect loop");
    assert!(
        matches!(&looped, PlayerError::Unsupported(m) if m.ends_with("redirects more than 3 times")),
        "{looped}"
    );
    assert!(!looped.is_retriable());
    assert_eq!(other.hits(), Vec::<String>::new(), "never asked");
}

#[tokio::test]
async fn a_missing_file_is_not_found_and_names_the_path() {
    let dir = TempDir::new();
    let err = sources(Some(&dir.0))
        .probe("nowhere.mp3")
        .await
        .expect_err("no such file");
    assert!(
        matches!(&err, PlayerError::NotFound(m) if m.contains("nowhere.mp3") && m.contains("no such file")),
        "{err}"
    );
    assert!(!err.is_retriable());
    assert!(err.is_source_fault());
}

#[tokio::test]
async fn an_http_404_is_not_found_and_a_503_or_a_refused_connection_is_unreachable() {
    let base = serve_audio().await;
    let sources = sources(None);

    let missing = sources
        .probe(&format!("{base}/audio/gone.mp3"))
        .await
        .expect_err("404");
    assert!(
        matches!(&missing, PlayerError::NotFound(m) if m.contains("404") && m.contains("/audio/gone.mp3")),
        "{missing}"
    );
    assert!(!missing.is_retriable());

    let busy = sources
        .probe(&format!("{base}/busy"))
        .await
        .expect_err("503");
    assert!(
        matches!(&busy, PlayerError::Unreachable(m) if m.contains("503")),
        "{busy}"
    );
    assert!(busy.is_retriable());

    // A port nothing listens on: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let refused = sources
        .probe(&format!("http://{closed}/tone.mp3"))
        .await
        .expect_err("connection refused");
    assert!(matches!(&refused, PlayerError::Unreachable(_)), "{refused}");
}

#[tokio::test]
async fn what_can_never_play_is_refused_with_the_reason() {
    let dir = TempDir::new();
    dir.write(
        "notes.mp3",
        b"these are not the samples you are looking for",
    );
    let inside = sources(Some(&dir.0));

    let not_audio = inside.probe("notes.mp3").await.expect_err("not audio");
    assert!(
        matches!(&not_audio, PlayerError::Unsupported(m) if m.contains("not audio")),
        "{not_audio}"
    );

    let outside = fixtures().join("tone.mp3");
    let escape = inside
        .probe(&outside.display().to_string())
        .await
        .expect_err("outside the media dir");
    assert!(
        matches!(&escape, PlayerError::Unsupported(m) if m.contains("outside the media directory")),
        "{escape}"
    );
    let dotdot = inside
        .probe("../../etc/passwd")
        .await
        .expect_err("no way out with ..");
    assert!(
        matches!(
            dotdot,
            PlayerError::Unsupported(_) | PlayerError::NotFound(_)
        ),
        "{dotdot}"
    );

    let search = inside
        .probe("search:never gonna give you up")
        .await
        .expect_err("no search");
    assert!(
        matches!(&search, PlayerError::Unsupported(m) if m.contains("searching")),
        "{search}"
    );

    let off = sources(None)
        .probe("tone.mp3")
        .await
        .expect_err("local files are off without a media dir");
    assert!(
        matches!(&off, PlayerError::Unsupported(m) if m.contains("local files are turned off")),
        "{off}"
    );
}

#[tokio::test]
async fn songbird_player_keeps_its_contract_without_a_voice_server() {
    let dir = TempDir::new();
    dir.write("tone.wav", &wav(1.0, 48_000, "Generated Tone"));
    let (player, mut events) = SongbirdPlayer::new(PlayerConfig {
        sources: SourceConfig {
            media_dir: Some(dir.0.clone()),
            ..SourceConfig::default()
        },
        join_timeout: Duration::from_millis(300),
    })
    .expect("a player");
    let play = |source: &str, id: &str| PlayRequest {
        guild: GUILD,
        source: source.to_owned(),
        requested_by: USER,
        track_id: Some(id.to_owned()),
    };

    // Before serenity starts the voice manager, joining is refused (songbird would panic).
    let early = player.join(GUILD, CHANNEL).await.expect_err("not ready");
    assert_eq!(early, PlayerError::GatewayNotReady);
    assert!(early.is_retriable());
    let nowhere = player
        .play(play("tone.wav", "track-0"))
        .await
        .expect_err("not in voice");
    assert_eq!(nowhere, PlayerError::NotInVoice(GUILD));

    // serenity's client calls this once it knows the bot; with no shard connected, Discord
    // never answers the voice state update.
    player
        .gateway_manager()
        .initialise(1, UserId::new(999))
        .await;
    let join = player.join(GUILD, CHANNEL).await.expect_err("no gateway");
    assert!(
        matches!(&join, PlayerError::Join(m) if m.contains("timed out")),
        "{join}"
    );

    // The call exists now: tracks start (they only advance with a voice connection).
    let info = player
        .play(play("tone.wav", "track-1"))
        .await
        .expect("the track starts");
    assert_eq!(info.id, "track-1");
    assert_eq!(info.probed.title, "Generated Tone");
    assert_eq!(info.probed.duration, Some(Duration::from_secs(1)));
    assert_eq!(info.requested_by, USER);
    player.pause(GUILD).await.expect("pause");
    player.resume(GUILD).await.expect("resume");
    player.set_volume(GUILD, 40).await.expect("volume");

    let skipped = player
        .skip(GUILD)
        .await
        .expect("skip")
        .expect("a track was playing");
    assert_eq!(skipped.track_id, "track-1");
    assert_eq!(skipped.reason, MusicEndReason::Skipped);
    assert_eq!(skipped.music_ended().track_id, "track-1");
    assert_eq!(
        player.pause(GUILD).await,
        Err(PlayerError::NothingPlaying(GUILD))
    );
    assert_eq!(player.stop(GUILD).await, Ok(None));

    // A source at fault fails the call and is reported as the track's end, so the queue moves.
    let missing = player
        .play(play("gone.wav", "track-2"))
        .await
        .expect_err("missing file");
    assert!(matches!(missing, PlayerError::NotFound(_)), "{missing}");
    let ended = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("the failed track's end is reported")
        .expect("the player is alive");
    assert_eq!(ended.track_id, "track-2");
    assert_eq!(ended.reason, MusicEndReason::Error);
    assert!(
        ended
            .error
            .as_deref()
            .is_some_and(|e| e.contains("gone.wav")),
        "{ended:?}"
    );
    let event = ended.music_ended();
    assert_eq!(event.reason, MusicEndReason::Error);
    assert_eq!(event.duration.get(), 0.0);
    // The skip was returned by its command, never reported again.
    assert_eq!(events.try_recv(), None);

    player.leave(GUILD).await.expect("leave");
    assert_eq!(
        player.play(play("tone.wav", "track-3")).await,
        Err(PlayerError::NotInVoice(GUILD))
    );
}

#[tokio::test]
async fn the_recording_player_probes_for_real_and_reports_what_the_test_finishes() {
    let (player, mut events) = RecordingPlayer::new(Some(sources(Some(&fixtures()))));
    let player = Arc::new(player);
    let request = PlayRequest {
        guild: GUILD,
        source: String::from("tone.opus"),
        requested_by: USER,
        track_id: Some(String::from("track-7")),
    };
    assert_eq!(
        player.play(request.clone()).await,
        Err(PlayerError::NotInVoice(GUILD))
    );
    player.join(GUILD, CHANNEL).await.expect("join");
    let info = player.play(request.clone()).await.expect("play");
    assert_eq!(info.probed.title, "Fixture Tone");
    assert_eq!(player.playing(GUILD).as_deref(), Some("track-7"));

    assert_eq!(player.finish(GUILD).as_deref(), Some("track-7"));
    let ended = events.recv().await.expect("the finished track");
    assert_eq!(ended.reason, MusicEndReason::Finished);
    let event = serde_json::to_value(ended.music_ended()).expect("MUSIC_ENDED data");
    assert_eq!(event["trackId"], "track-7");
    assert_eq!(event["reason"], "FINISHED");
    assert_eq!(
        player.calls(),
        vec![
            PlayerCall::Play(request.clone()),
            PlayerCall::Join(GUILD, CHANNEL),
            PlayerCall::Play(request),
        ]
    );
}
