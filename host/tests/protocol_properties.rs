//! Property tests: decoding never panics, whatever the input, and valid values — the golden
//! fixtures mutated within the protocol's rules — round-trip exactly.
//!
//! Every runner uses a fixed seed and no failure-persistence files, so runs are reproducible.

use std::cell::Cell;
use std::fs;
use std::path::PathBuf;

use guildhost::protocol::{Message, MessageType, Snowflake, TypePolicy};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use serde_json::{Map, Number, Value};

/// Earliest and latest epoch milliseconds a protocol date holds (years 0000 to 9999).
const MILLIS_RANGE: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

/// `cases`, or for the fuzzing properties `GUILDHOST_FUZZ_CASES` when set (`just fuzz` runs a
/// million).
fn fuzz_config(cases: u32) -> Config {
    config(
        std::env::var("GUILDHOST_FUZZ_CASES")
            .ok()
            .and_then(|text| text.parse().ok())
            .unwrap_or(cases),
    )
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6775_696c_6468_6f73),
        ..Config::default()
    }
}

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/valid"
    ));
    MessageType::ALL
        .iter()
        .map(|message_type| {
            let path = dir.join(format!("{message_type}.json"));
            let bytes =
                fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            let value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
            (message_type.as_str().to_owned(), value)
        })
        .collect()
}

/// Field names the protocol defines, so random objects hit typed fields, not only `extra`.
const KNOWN_KEYS: &[&str] = &[
    "id",
    "type",
    "timestamp",
    "source",
    "guildId",
    "userId",
    "data",
    "channelId",
    "content",
    "embeds",
    "files",
    "components",
    "title",
    "description",
    "fields",
    "name",
    "value",
    "footer",
    "text",
    "author",
    "color",
    "reason",
    "deleteMessageDays",
    "duration",
    "moderatorId",
    "notifyUser",
    "createCase",
    "volume",
    "requestedBy",
    "skipCount",
    "mode",
    "messageId",
    "messageIds",
    "count",
    "user",
    "member",
    "roles",
    "joinedAt",
    "changes",
    "old",
    "new",
    "track",
    "case",
    "status",
    "notification",
    "schedule",
    "interval",
    "mentions",
    "everyone",
    "filename",
];

fn timestamp_text() -> impl Strategy<Value = String> {
    MILLIS_RANGE.prop_map(|millis| {
        guildhost::protocol::Timestamp::from_millis(millis)
            .map_or_else(String::new, |t| t.to_string())
    })
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,24}".prop_map(Value::String),
        "[0-9]{1,22}".prop_map(Value::String),
        timestamp_text().prop_map(Value::String),
        select(&["api", "bot", "OFF", "BAN", "ACTIVE", "LOW", "SEND_MESSAGE"][..])
            .prop_map(Value::from),
    ]
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        select(KNOWN_KEYS).prop_map(str::to_owned),
        "[a-zA-Z_]{1,12}"
    ]
}

/// Arbitrary JSON, up to a few levels deep.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 96, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((json_key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

/// Envelope-shaped documents with a defined type and arbitrary `data`: reaches every payload's
/// decoder with hostile input.
fn arbitrary_message_shape() -> impl Strategy<Value = Value> {
    (
        select(MessageType::ALL),
        timestamp_text(),
        arbitrary_json(),
        any::<bool>(),
    )
        .prop_map(|(message_type, timestamp, data, with_guild)| {
            let mut object = Map::new();
            object.insert("id".into(), Value::from("m-1"));
            object.insert("type".into(), Value::from(message_type.as_str()));
            object.insert("timestamp".into(), Value::from(timestamp));
            object.insert("source".into(), Value::from("api"));
            if with_guild {
                object.insert("guildId".into(), Value::from("1187459221346115625"));
            }
            object.insert("data".into(), data);
            Value::Object(object)
        })
}

fn decode_both_ways(value: &Value) {
    // Only the absence of a panic matters here; a result either way is fine.
    let _ = Message::decode_value(value.clone());
    let _ = Message::decode_value_with(value.clone(), TypePolicy::AllowCustom);
    if let Ok(text) = serde_json::to_vec(value) {
        let _ = Message::decode(&text);
    }
}

proptest! {
    #![proptest_config(fuzz_config(512))]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let strict = Message::decode(&bytes);
        let open = Message::decode_allowing_custom(&bytes);
        // Random bytes almost never form a valid message, and never a different verdict on
        // anything but the type policy.
        prop_assert!(strict.is_err() || open.is_ok());
    }

    #[test]
    fn decoding_arbitrary_json_never_panics(value in arbitrary_json()) {
        decode_both_ways(&value);
    }

    #[test]
    fn decoding_arbitrary_payloads_never_panics(value in arbitrary_message_shape()) {
        decode_both_ways(&value);
    }
}

/// Replaces one leaf of `value`, chosen by `index` in depth-first order, with `replacement`.
fn replace_leaf(value: &mut Value, index: &mut usize, replacement: &Value) -> bool {
    match value {
        Value::Object(object) => object
            .values_mut()
            .any(|child| replace_leaf(child, index, replacement)),
        Value::Array(items) => items
            .iter_mut()
            .any(|child| replace_leaf(child, index, replacement)),
        leaf => {
            if *index == 0 {
                *leaf = replacement.clone();
                true
            } else {
                *index -= 1;
                false
            }
        }
    }
}

#[test]
fn fixtures_with_a_hostile_leaf_never_panic() {
    let fixtures = fixtures();
    let mut runner = TestRunner::new(fuzz_config(1024));
    let strategy = (0..fixtures.len(), any::<usize>(), arbitrary_json());
    let outcome = runner.run(&strategy, |(fixture, leaf, replacement)| {
        let mut value = fixtures[fixture].1.clone();
        let mut index = leaf % 64;
        replace_leaf(&mut value, &mut index, &replacement);
        decode_both_ways(&value);
        Ok(())
    });
    assert!(outcome.is_ok(), "{outcome:?}");
}

/// Strings that name an enum member or a wire constant: mutation keeps them.
fn is_constant(text: &str) -> bool {
    let screaming = !text.is_empty() && text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
    screaming || matches!(text, "api" | "bot" | "frontend" | "low" | "normal" | "high")
}

/// A strategy producing `value` with every leaf replaced by another value the protocol's rules
/// allow in its place: ids by ids, dates by dates, free text by short non-blank text, counts by
/// smaller counts (never crossing 0 or 1), fractions by fractions; objects gain an unknown field.
fn within_rules(value: &Value) -> BoxedStrategy<Value> {
    match value {
        Value::Null => Just(Value::Null).boxed(),
        Value::Bool(_) => any::<bool>().prop_map(Value::Bool).boxed(),
        Value::Number(number) => match number.as_u64() {
            Some(0) => Just(Value::from(0)).boxed(),
            Some(max) => (1..=max).prop_map(Value::from).boxed(),
            None => (0u32..100_000)
                .prop_map(|whole| Value::from(f64::from(whole) + 0.25))
                .boxed(),
        },
        Value::String(text) if is_constant(text) => Just(value.clone()).boxed(),
        Value::String(text) if text.parse::<Snowflake>().is_ok() => any::<u64>()
            .prop_map(|id| Value::from(id.to_string()))
            .boxed(),
        Value::String(text) if text.parse::<guildhost::protocol::Timestamp>().is_ok() => {
            timestamp_text().prop_map(Value::from).boxed()
        }
        Value::String(_) => "[a-zA-Z0-9][\\PC]{0,29}".prop_map(Value::from).boxed(),
        Value::Array(items) => items
            .iter()
            .map(within_rules)
            .collect::<Vec<_>>()
            .prop_map(Value::Array)
            .boxed(),
        Value::Object(object) => {
            let entries: Vec<BoxedStrategy<(String, Value)>> = object
                .iter()
                .map(|(key, child)| {
                    let key = key.clone();
                    let rules = match key.as_str() {
                        "commandName" | "commandNames" => command_names(child),
                        // Enumerations in lower camel case (an interaction's kind, a reply's).
                        "kind" | "response" => Just(child.clone()).boxed(),
                        _ => within_rules(child),
                    };
                    rules.prop_map(move |child| (key.clone(), child)).boxed()
                })
                .collect();
            let extra = prop::option::of(json_leaf());
            (entries, extra)
                .prop_map(|(entries, extra)| {
                    let mut object: Map<String, Value> = entries.into_iter().collect();
                    if let Some(extra) = extra {
                        object.insert("zzNewerApiField".to_owned(), extra);
                    }
                    Value::Object(object)
                })
                .boxed()
        }
    }
}

/// Command names in place of command names: Discord's rule (lowercase letters and digits of any
/// script, `-`, `_`, `'`; 1 to 32 characters), which free text almost never meets.
fn command_names(value: &Value) -> BoxedStrategy<Value> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(command_names)
            .collect::<Vec<_>>()
            .prop_map(Value::Array)
            .boxed(),
        Value::String(_) => "[\\p{Ll}\\p{Nd}_'-]{1,32}".prop_map(Value::from).boxed(),
        other => within_rules(other),
    }
}

#[test]
fn valid_values_round_trip() {
    for (name, fixture) in fixtures() {
        let accepted = Cell::new(0u32);
        let mut runner = TestRunner::new(config(48));
        let outcome = runner.run(&within_rules(&fixture), |mutated| {
            // A few combinations cross a cross-field rule (bulk `count` must equal the ids);
            // those are rejected with an error, and the rest must round-trip exactly.
            let Ok(message) = Message::decode_value(mutated.clone()) else {
                return Ok(());
            };
            accepted.set(accepted.get() + 1);
            let encoded = message
                .to_value()
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            prop_assert_eq!(&encoded, &mutated);
            let text = message
                .to_json_string()
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            let again = Message::decode(text.as_bytes())
                .map_err(|error| TestCaseError::fail(error.to_string()))?;
            prop_assert_eq!(again, message);
            Ok(())
        });
        assert!(outcome.is_ok(), "{name}: {outcome:?}");
        assert!(
            accepted.get() >= 12,
            "{name}: only {} of 48 mutations were valid",
            accepted.get()
        );
    }
}
