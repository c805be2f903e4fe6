//! Golden fixtures: every valid document decodes and re-encodes to the same JSON, every invalid
//! one fails with the field path its sidecar (`invalid/expected.toml`) names.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use guildhost::protocol::{Message, MessageType, Payload, ProtocolError, Snowflake, Timestamp};
use serde_json::{Value, json};

/// A decoding entry point of [`Message`].
type Decoder = fn(&[u8]) -> Result<Message, ProtocolError>;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures"))
}

/// The `*.json` files directly inside `dir`, sorted, as (stem, path).
fn json_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let entries =
        fs::read_dir(dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display()));
    let mut files: Vec<(String, PathBuf)> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let stem = path
                .file_stem()
                .expect("file stem")
                .to_string_lossy()
                .into_owned();
            (stem, path)
        })
        .collect();
    files.sort();
    files
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// Decodes `bytes`, re-encodes, and checks the encoding is the same JSON value and decodes to
/// the same message; returns the message.
fn assert_round_trips(name: &str, bytes: &[u8], decode: Decoder) -> Message {
    let original: Value =
        serde_json::from_slice(bytes).unwrap_or_else(|error| panic!("{name}: not JSON: {error}"));
    let message = decode(bytes).unwrap_or_else(|error| panic!("{name}: does not decode: {error}"));
    let encoded = message
        .to_value()
        .unwrap_or_else(|error| panic!("{name}: does not encode: {error}"));
    assert_eq!(encoded, original, "{name}: re-encoding changed the JSON");
    let text = message.to_json_string().expect("encodes to text");
    let again = decode(text.as_bytes())
        .unwrap_or_else(|error| panic!("{name}: re-encoded text fails: {error}"));
    assert_eq!(
        again, message,
        "{name}: decode → encode → decode changed the message"
    );
    message
}

#[test]
fn every_defined_type_has_exactly_one_valid_fixture() {
    let stems: BTreeSet<String> = json_files(&fixtures_dir().join("valid"))
        .into_iter()
        .map(|(stem, _)| stem)
        .collect();
    let types: BTreeSet<String> = MessageType::ALL
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    assert_eq!(
        stems, types,
        "valid/<TYPE>.json must exist for every MessageType and nothing else"
    );
}

#[test]
fn valid_fixtures_round_trip_exactly() {
    for (stem, path) in json_files(&fixtures_dir().join("valid")) {
        let message = assert_round_trips(&stem, &read(&path), Message::decode);
        assert_eq!(
            message.type_name(),
            stem,
            "{stem}: file name and type differ"
        );
        let message_type = message.message_type().expect("a defined type");
        assert!(!matches!(message.payload, Payload::Custom { .. }));
        assert_eq!(message_type.as_str(), stem);
        message
            .validate()
            .unwrap_or_else(|error| panic!("{stem}: decoded message fails validation: {error}"));
    }
}

#[test]
fn custom_types_decode_only_when_allowed() {
    for (stem, path) in json_files(&fixtures_dir().join("valid/custom")) {
        let bytes = read(&path);
        let strict =
            Message::decode(&bytes).expect_err("strict decoding must refuse a custom type");
        assert_eq!(
            strict.to_string(),
            format!("type: unknown message type {stem:?}")
        );
        let message = assert_round_trips(&stem, &bytes, Message::decode_allowing_custom);
        let Payload::Custom { type_name, data } = &message.payload else {
            panic!("{stem}: expected a custom payload");
        };
        assert_eq!(type_name, &stem);
        assert!(data.is_object());
        assert_eq!(message.message_type(), None);
    }
}

#[test]
fn invalid_fixtures_fail_with_the_expected_path_and_rule() {
    let dir = fixtures_dir().join("invalid");
    let sidecar = fs::read_to_string(dir.join("expected.toml")).expect("invalid/expected.toml");
    let expected: toml::Table = toml::from_str(&sidecar).expect("expected.toml parses");
    let files = json_files(&dir);
    let stems: BTreeSet<&str> = files.iter().map(|(stem, _)| stem.as_str()).collect();
    let listed: BTreeSet<&str> = expected.keys().map(String::as_str).collect();
    assert_eq!(
        stems, listed,
        "every invalid fixture needs an entry in expected.toml, and vice versa"
    );
    assert!(
        files.len() >= 40,
        "one invalid fixture per rule, got {}",
        files.len()
    );

    for (stem, path) in files {
        let entry = expected[&stem].as_table().expect("a table per fixture");
        let want_path = entry["path"].as_str().expect("path is a string");
        let want_rule = entry["rule"].as_str().expect("rule is a string");
        let bytes = read(&path);
        let decoders: [(&str, Decoder); 2] = [
            ("strict", Message::decode),
            ("allowing custom", Message::decode_allowing_custom),
        ];
        for (policy, decode) in decoders {
            if stem == "unknown_type" && policy == "allowing custom" {
                // The one rule the lenient decoder waives by design.
                continue;
            }
            let error = decode(&bytes).expect_err(&format!("{stem} must not decode ({policy})"));
            assert_eq!(error.path, want_path, "{stem}: wrong path in `{error}`");
            assert!(
                error.rule.contains(want_rule),
                "{stem}: rule `{}` lacks `{want_rule}`",
                error.rule
            );
            assert_eq!(error.to_string(), format!("{}: {}", error.path, error.rule));
        }
    }
}

fn fixture_value(message_type: &str) -> Value {
    let path = fixtures_dir()
        .join("valid")
        .join(format!("{message_type}.json"));
    serde_json::from_slice(&read(&path)).expect("fixture is JSON")
}

#[test]
fn null_optionals_read_as_absent() {
    let mut with_nulls = fixture_value("MEMBER_JOINED");
    with_nulls["requestId"] = Value::Null;
    with_nulls["data"]["user"]["avatar"] = Value::Null;
    with_nulls["data"]["member"]["nickname"] = Value::Null;
    let mut without = fixture_value("MEMBER_JOINED");
    without["data"]["user"]
        .as_object_mut()
        .expect("object")
        .remove("avatar");
    without["data"]["member"]
        .as_object_mut()
        .expect("object")
        .remove("nickname");
    let decoded_nulls = Message::decode_value(with_nulls).expect("nulls decode");
    let decoded_absent = Message::decode_value(without.clone()).expect("absent decodes");
    assert_eq!(decoded_nulls, decoded_absent);
    assert_eq!(decoded_nulls.to_value().expect("encodes"), without);
}

#[test]
fn epoch_millisecond_dates_are_accepted_and_written_as_iso() {
    let mut value = fixture_value("MESSAGE_EDITED");
    let iso = value["data"]["editedAt"].clone();
    let iso_text = iso.as_str().expect("a string");
    let millis = iso_text.parse::<Timestamp>().expect("ISO date").as_millis();
    value["data"]["editedAt"] = json!(millis);
    value["timestamp"] = json!(millis);
    let message = Message::decode_value(value).expect("epoch milliseconds decode");
    let encoded = message.to_value().expect("encodes");
    assert_eq!(encoded["data"]["editedAt"], iso);
    assert_eq!(encoded["timestamp"], iso);
}

#[test]
fn unknown_fields_are_kept_at_every_level() {
    let message =
        Message::decode(&read(&fixtures_dir().join("valid/MEMBER_JOINED.json"))).expect("decodes");
    assert_eq!(message.envelope.extra.get("schemaVersion"), Some(&json!(2)));
    let Payload::MemberJoined(joined) = &message.payload else {
        panic!("a MEMBER_JOINED payload");
    };
    assert_eq!(
        joined.user.extra.get("globalName"),
        Some(&json!("Night Owl"))
    );
    assert_eq!(joined.user.id, Snowflake::new(829_410_203_982_675_998));
}

#[test]
fn integral_numbers_are_written_without_a_fraction() {
    let text = Message::decode(&read(&fixtures_dir().join("valid/BAN_USER.json")))
        .expect("decodes")
        .to_json_string()
        .expect("encodes");
    assert!(text.contains(r#""duration":72,"#), "{text}");
    assert!(text.contains(r#""deleteMessageDays":1,"#), "{text}");
}

#[test]
fn a_built_message_is_validated_before_sending() {
    use guildhost::protocol::{Envelope, SetVolume, Source};
    let mut message = Message::new(
        Envelope::new(Source::Bot).with_guild(Snowflake::new(1_187_459_221_346_115_625)),
        SetVolume {
            volume: 101,
            requested_by: Snowflake::new(829_410_203_982_675_998),
            extra: Default::default(),
        },
    );
    let error = message.validate().expect_err("volume 101 is out of range");
    assert_eq!(
        error.to_string(),
        "data.volume: must be within 0..=100, got 101"
    );
    if let Payload::SetVolume(set_volume) = &mut message.payload {
        set_volume.volume = 100;
    }
    message.validate().expect("volume 100 is fine");
    let decoded =
        Message::decode(message.to_json_string().expect("encodes").as_bytes()).expect("decodes");
    assert_eq!(decoded, message);
}

#[test]
fn a_custom_payload_may_not_shadow_a_defined_type() {
    use guildhost::protocol::{Envelope, Source};
    let message = Message {
        envelope: Envelope::new(Source::Api),
        payload: Payload::Custom {
            type_name: "BAN_USER".to_owned(),
            data: json!({}),
        },
    };
    let error = message
        .validate()
        .expect_err("a custom BAN_USER is ambiguous");
    assert_eq!(error.path, "type");
}
