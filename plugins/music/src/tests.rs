//! The plugin as the host runs it, natively against `TestHost`: a whole music session.

use std::time::Duration;

use guildhost_plugin::testing::TestHost;
use guildhost_plugin::types::{
    CustomMessage, MusicEndReason, MusicEnded, PauseMusic, PlayMusic, RepeatMode, SetRepeat,
    SetVolume, SkipMusic,
};
use guildhost_plugin::{Incoming, Message, Output};
use serde_json::json;

use super::Music;

const GUILD: &str = "100";
const USER: &str = "300";
const VOICE: &str = "600";

fn run(host: &TestHost, message: impl Into<Message>) -> Vec<Output> {
    host.handle::<Music>(&Incoming::new(message).in_guild(GUILD))
        .unwrap()
}

fn play(query: &str) -> PlayMusic {
    PlayMusic {
        query: query.into(),
        requested_by: USER.into(),
        voice_channel_id: Some(VOICE.into()),
        play_next: false,
        play_now: false,
    }
}

fn skip(count: u32) -> SkipMusic {
    SkipMusic {
        requested_by: USER.into(),
        skip_count: count,
    }
}

fn finished(track_id: &str) -> MusicEnded {
    MusicEnded {
        track_id: track_id.into(),
        reason: MusicEndReason::Finished,
        duration: 180.0,
        next_track_id: None,
    }
}

fn repeat(mode: RepeatMode) -> SetRepeat {
    SetRepeat {
        mode,
        requested_by: USER.into(),
    }
}

fn kinds(outputs: &[Output]) -> Vec<&str> {
    outputs.iter().map(|o| o.message().type_name()).collect()
}

/// (title, position, total) of a TRACK_ADDED.
fn added(outputs: &[Output]) -> (String, u32, u32) {
    outputs
        .iter()
        .find_map(|o| match o.message() {
            Message::TrackAdded(t) => Some((t.track.title.clone(), t.position, t.total_queue_size)),
            _ => None,
        })
        .expect("TRACK_ADDED")
}

/// (title, position, total) of a MUSIC_STARTED.
fn started(outputs: &[Output]) -> (String, u32, u32) {
    outputs
        .iter()
        .find_map(|o| match o.message() {
            Message::MusicStarted(s) => {
                Some((s.track.title.clone(), s.queue_position, s.total_queue_size))
            }
            _ => None,
        })
        .expect("MUSIC_STARTED")
}

fn track_id(outputs: &[Output]) -> String {
    outputs
        .iter()
        .find_map(|o| match o.message() {
            Message::MusicStarted(s) => Some(s.track.id.clone()),
            _ => None,
        })
        .expect("MUSIC_STARTED")
}

fn three_tracks(host: &TestHost) -> Vec<Output> {
    let first = run(host, play("one"));
    run(host, play("two"));
    run(host, play("three"));
    first
}

#[test]
fn the_first_track_starts_and_the_next_ones_queue_up() {
    let host = TestHost::new();
    let first = run(&host, play("one"));
    assert_eq!(
        kinds(&first),
        ["TRACK_ADDED", "PLAY_MUSIC", "MUSIC_STARTED"]
    );
    assert_eq!(added(&first), ("one".into(), 1, 1));
    assert_eq!(started(&first), ("one".into(), 1, 1));
    let Message::PlayMusic(command) = first[1].message() else {
        unreachable!()
    };
    assert!(command.play_now);
    assert_eq!(command.voice_channel_id.as_deref(), Some(VOICE));
    assert_eq!(command.query, "search:one");
    assert_eq!(added(&run(&host, play("two"))), ("two".into(), 2, 2));
    let third = run(&host, play("https://music.example/watch/three"));
    assert_eq!(kinds(&third), ["TRACK_ADDED"]);
    assert_eq!(added(&third), ("three".into(), 3, 3));
}

#[test]
fn play_next_goes_right_after_the_playing_track_and_play_now_replaces_it() {
    let host = TestHost::new();
    three_tracks(&host);
    let next = run(
        &host,
        PlayMusic {
            play_next: true,
            ..play("next")
        },
    );
    assert_eq!(added(&next), ("next".into(), 2, 4));
    let now = run(
        &host,
        PlayMusic {
            play_now: true,
            ..play("now")
        },
    );
    assert_eq!(
        kinds(&now),
        ["TRACK_ADDED", "MUSIC_ENDED", "PLAY_MUSIC", "MUSIC_STARTED"]
    );
    assert_eq!(added(&now), ("now".into(), 2, 5));
    let Message::MusicEnded(ended) = now[1].message() else {
        unreachable!()
    };
    assert_eq!(ended.reason, MusicEndReason::Skipped);
    assert_eq!(
        started(&now),
        ("now".into(), 1, 4),
        "the skipped track left the queue"
    );
    // After "now": "next", then "two", "three".
    let after = run(&host, skip(1));
    assert_eq!(started(&after), ("next".into(), 1, 3));
}

#[test]
fn skipping_several_and_past_the_end() {
    let host = TestHost::new().with_now(0);
    three_tracks(&host);
    host.advance(Duration::from_secs(30));
    let skipped = run(&host, skip(2));
    let Message::MusicEnded(ended) = skipped[0].message() else {
        unreachable!()
    };
    assert_eq!(ended.duration, 30.0);
    assert_eq!(ended.next_track_id.as_deref(), Some("track-3"));
    assert_eq!(started(&skipped), ("three".into(), 1, 1));
    let last = run(&host, skip(5));
    assert_eq!(
        kinds(&last),
        ["MUSIC_ENDED", "SKIP_MUSIC"],
        "the player stops"
    );
    assert!(run(&host, skip(1)).is_empty(), "nothing plays");
    // A new track starts a new session.
    assert_eq!(started(&run(&host, play("again"))), ("again".into(), 1, 1));
}

#[test]
fn a_finished_track_moves_on_according_to_the_repeat_mode() {
    let host = TestHost::new();
    let first = three_tracks(&host);
    let one = track_id(&first);

    // TRACK: the same track again.
    run(&host, repeat(RepeatMode::Track));
    let again = run(&host, finished(&one));
    assert_eq!(started(&again), ("one".into(), 1, 3));

    // QUEUE: cycles through every track, keeping them.
    run(&host, repeat(RepeatMode::Queue));
    let two = run(&host, finished(&one));
    assert_eq!(started(&two), ("two".into(), 2, 3));
    let three = run(&host, finished(&track_id(&two)));
    assert_eq!(started(&three), ("three".into(), 3, 3));
    let wrapped = run(&host, finished(&track_id(&three)));
    assert_eq!(started(&wrapped), ("one".into(), 1, 3));

    // OFF: played tracks leave; after the last, playback stops.
    run(&host, repeat(RepeatMode::Off));
    let two = run(&host, finished(&one));
    assert_eq!(started(&two), ("two".into(), 1, 2));
    let three = run(&host, finished(&track_id(&two)));
    assert!(run(&host, finished(&track_id(&three))).is_empty());
    assert!(run(&host, skip(1)).is_empty());
}

#[test]
fn the_hosts_player_names_the_playing_track_by_its_source() {
    let host = TestHost::new();
    three_tracks(&host);
    // guildhost's player reports the source it played as the track id.
    let next = run(&host, finished("search:one"));
    assert_eq!(started(&next), ("two".into(), 1, 2));
    assert!(
        run(&host, finished("search:three")).is_empty(),
        "not the playing track"
    );
}

#[test]
fn stale_or_skipped_ends_from_the_player_are_ignored() {
    let host = TestHost::new();
    three_tracks(&host);
    assert!(
        run(&host, finished("track-2")).is_empty(),
        "not the playing track"
    );
    let skipped = MusicEnded {
        reason: MusicEndReason::Skipped,
        ..finished("track-1")
    };
    assert!(run(&host, skipped).is_empty());
}

#[test]
fn pause_and_resume_report_the_position() {
    let host = TestHost::new().with_now(0);
    three_tracks(&host);
    host.advance(Duration::from_secs(10));
    let paused = run(
        &host,
        PauseMusic {
            paused: true,
            requested_by: USER.into(),
        },
    );
    assert_eq!(kinds(&paused), ["PAUSE_MUSIC", "MUSIC_PAUSED"]);
    host.advance(Duration::from_secs(100));
    assert!(
        run(
            &host,
            PauseMusic {
                paused: true,
                requested_by: USER.into()
            }
        )
        .is_empty()
    );
    let resumed = run(
        &host,
        PauseMusic {
            paused: false,
            requested_by: USER.into(),
        },
    );
    let Message::MusicPaused(event) = resumed[1].message() else {
        unreachable!()
    };
    assert!(!event.paused);
    assert_eq!(event.current_position, 10.0, "time paused does not count");
}

#[test]
fn volume_goes_to_the_player() {
    let host = TestHost::new();
    let outputs = run(
        &host,
        SetVolume {
            volume: 40,
            requested_by: USER.into(),
        },
    );
    assert_eq!(kinds(&outputs), ["SET_VOLUME"]);
}

#[test]
fn clear_keeps_the_playing_track_and_counts_the_rest() {
    let host = TestHost::new();
    three_tracks(&host);
    let clear = CustomMessage::new("CLEAR_MUSIC", &json!({ "requestedBy": USER }));
    let outputs = run(&host, clear);
    let Message::QueueCleared(cleared) = outputs[0].message() else {
        unreachable!()
    };
    assert_eq!(
        (cleared.cleared_by.as_str(), cleared.track_count),
        (USER, 2)
    );
    assert_eq!(added(&run(&host, play("four"))), ("four".into(), 2, 2));
}

#[test]
fn shuffle_keeps_the_playing_track_first_and_every_track() {
    let host = TestHost::new();
    three_tracks(&host);
    for n in 4..=10 {
        run(&host, play(&n.to_string()));
    }
    let shuffle = CustomMessage::new("SHUFFLE_MUSIC", &json!({ "requestedBy": USER }));
    assert!(run(&host, shuffle).is_empty());
    let session: super::session::Session =
        serde_json::from_slice(&host.kv_value(Some(GUILD), "session").unwrap()).unwrap();
    assert_eq!(session.tracks[0].title, "one");
    let mut titles: Vec<String> = session.tracks.iter().map(|t| t.title.clone()).collect();
    assert_ne!(
        titles[1..],
        ["two", "three", "4", "5", "6", "7", "8", "9", "10"]
    );
    titles.sort();
    assert_eq!(titles.len(), 10);
}

#[test]
fn bad_requests_fail_with_the_field_named() {
    let host = TestHost::new();
    let error = host
        .handle::<Music>(
            &Incoming::new(PlayMusic {
                voice_channel_id: None,
                ..play("x")
            })
            .in_guild(GUILD),
        )
        .unwrap_err();
    assert!(error.message().starts_with("voiceChannelId:"), "{error}");
    let error = host.handle::<Music>(&Incoming::new(play("x"))).unwrap_err();
    assert!(error.message().starts_with("guildId:"), "{error}");
    let clear = CustomMessage::new("CLEAR_MUSIC", &json!({}));
    let error = host
        .handle::<Music>(&Incoming::new(clear).in_guild(GUILD))
        .unwrap_err();
    assert!(error.message().contains("requestedBy"), "{error}");
    let host = TestHost::new().with_config(json!({ "maxQueue": 1 }));
    run(&host, play("one"));
    let error = host
        .handle::<Music>(&Incoming::new(play("two")).in_guild(GUILD))
        .unwrap_err();
    assert!(error.message().contains("maxQueue"), "{error}");
}
