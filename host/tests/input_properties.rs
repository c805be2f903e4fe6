//! Fuzzing the files operators and plugin authors hand the host: configuration files and plugin
//! manifests, as arbitrary bytes and as the real ones (the Debian package's configuration, the
//! default configuration, every manifest in `plugins/`) mutated line by line — a value replaced
//! by a hostile one, a line dropped or doubled. Nothing panics, and a refused value is refused
//! naming its key (or, for text that is not TOML, the line).
//!
//! `GUILDHOST_FUZZ_CASES` sets the cases per property (`just fuzz` runs a million); the suite
//! runs a few thousand. Every runner uses a fixed seed, so a failure reproduces.

use std::path::{Path, PathBuf};

use guildhost::config::Config;
use guildhost::runtime::{Manifest, RuntimeLimits};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config as RunnerConfig, RngSeed, TestRunner};

/// Cases per property: `GUILDHOST_FUZZ_CASES`, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("GUILDHOST_FUZZ_CASES")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(default)
}

fn runner(default: u32) -> TestRunner {
    TestRunner::new(RunnerConfig {
        cases: cases(default),
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x6775_696c_6468_6f73),
        ..RunnerConfig::default()
    })
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The configurations to mutate: the Debian package's and the defaults written out.
fn configurations() -> Vec<String> {
    let packaged = std::fs::read_to_string(repo().join("packaging/deb/guildhost.toml"))
        .unwrap_or_else(|e| panic!("packaging/deb/guildhost.toml: {e}"));
    let defaults = toml::to_string(&Config::default()).unwrap_or_else(|e| panic!("{e}"));
    vec![packaged, defaults]
}

/// Every manifest in `plugins/` (first-party plugins and test guests).
fn manifests() -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["plugins", "plugins/test-guests"] {
        let Ok(entries) = std::fs::read_dir(repo().join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("plugin.toml")) {
                found.push(text);
            }
        }
    }
    assert!(found.len() > 10, "the manifests in plugins/ were not found");
    found
}

/// Values nobody should write, in TOML.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "-1",
            "0",
            "18446744073709551616",
            "-9223372036854775809",
            "1e309",
            "nan",
            "inf",
            "true",
            "\"\"",
            "\"\\u0000\"",
            "\"../../../../etc/passwd\"",
            "[]",
            "[1, \"a\"]",
            "{}",
            "{ a = 1 }",
            "\"\\u202e\"",
            "1979-05-27T07:32:00Z",
            "0x7fffffffffffffff",
            "\"redis://user:pass@[::1\"",
            "\"256.256.256.256:99999\"",
        ])
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        "[ -~]{0,40}".prop_map(|text| format!("{text:?}")),
    ]
}

/// A line-level mutation of `text`: a value replaced (returns its key), a line dropped or
/// doubled (returns no key).
fn mutate(text: &str, line: usize, action: u8, value: &str) -> (String, Option<String>) {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return (text.to_owned(), None);
    }
    let at = line % lines.len();
    let mut key = None;
    match action % 3 {
        0 => match lines[at].split_once('=') {
            Some((name, _)) if !lines[at].trim_start().starts_with('#') => {
                key = Some(name.trim().trim_matches('"').to_owned());
                lines[at] = format!("{} = {value}", name.trim_end());
            }
            _ => lines[at] = format!("{}{value}", lines[at]),
        },
        1 => {
            lines.remove(at);
        }
        _ => {
            let copy = lines[at].clone();
            lines.insert(at, copy);
        }
    }
    (lines.join("\n"), key)
}

/// A refusal names the key it is about, or the line of text that is not TOML.
fn names_the_problem(message: &str, key: Option<&str>) -> bool {
    let message = message.to_lowercase();
    match key {
        Some(key) => {
            let last = key.rsplit('.').next().unwrap_or(key).to_lowercase();
            message.contains(&last) || message.contains("line")
        }
        None => true,
    }
}

#[test]
fn arbitrary_bytes_never_crash_the_configuration_or_manifest_readers() {
    let limits = RuntimeLimits::default();
    runner(2_000)
        .run(&prop::collection::vec(any::<u8>(), 0..600), |bytes| {
            let text = String::from_utf8_lossy(&bytes);
            let _ = Config::from_toml_str(&text);
            let _ = Manifest::parse(&text, &limits);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Every source mutated line by line is read, or refused by `read` with a message naming the
/// mutated key.
fn mutations_are_read_or_refused_naming_the_key(
    sources: &[String],
    read: impl Fn(&str) -> Result<(), String>,
) {
    let strategy = (
        0..sources.len(),
        any::<usize>(),
        any::<u8>(),
        hostile_value(),
    );
    runner(3_000)
        .run(&strategy, |(source, line, action, value)| {
            let (text, key) = mutate(&sources[source], line, action, &value);
            if let Err(message) = read(&text) {
                prop_assert!(
                    names_the_problem(&message, key.as_deref()),
                    "refused without naming `{key:?}`: {message}\n--- text ---\n{text}"
                );
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn mutated_configurations_are_read_or_refused_naming_the_key() {
    mutations_are_read_or_refused_naming_the_key(&configurations(), |text| {
        Config::from_toml_str(text)
            .map(drop)
            .map_err(|e| e.to_string())
    });
}

#[test]
fn mutated_manifests_are_read_or_refused_naming_the_key() {
    let limits = RuntimeLimits::default();
    mutations_are_read_or_refused_naming_the_key(&manifests(), |text| {
        Manifest::parse(text, &limits)
            .map(drop)
            .map_err(|e| e.to_string())
    });
}
