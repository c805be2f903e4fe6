//! Every hostile test guest is contained — its call fails with a typed error naming the plugin
//! and the limit, or its outputs are dropped, or it is refused at load — while a healthy plugin
//! keeps serving on the same runtime, before and after each attack.

mod runtime_support;

use std::sync::Arc;

use guildhost::runtime::bindings::{Message, Output};
use guildhost::runtime::{
    CallResult, DropReason, LoadError, LoadedPlugin, LogSource, PluginError, Runtime,
};
use runtime_support::{GUILD, config, load, ping, runtime_with, wasm};

fn healthy_call(echo: &LoadedPlugin, id: &str) -> CallResult {
    let (envelope, message) = ping(id, Some(GUILD));
    let result = echo
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("the healthy plugin failed: {failure}"));
    assert_eq!(result.outputs.len(), 1, "echo answers every ping");
    result
}

/// Runs the hostile guest once between two healthy calls and returns its error.
fn contained(runtime: &Runtime, echo: &LoadedPlugin, guest: &str) -> PluginError {
    healthy_call(echo, &format!("{guest}-before"));
    let hostile = load(runtime, guest);
    let (envelope, message) = ping(&format!("{guest}-attack"), Some(GUILD));
    let failure = hostile
        .call(&envelope, &message, &Default::default())
        .expect_err("the hostile call must fail");
    assert_eq!(
        failure.error.plugin(),
        hostile.name(),
        "the error names the plugin"
    );
    healthy_call(echo, &format!("{guest}-after"));
    failure.error
}

fn limit_of(error: PluginError) -> String {
    match error {
        PluginError::Limit { limit, .. } => limit,
        other => panic!("expected a limit error, got {other}"),
    }
}

fn setup() -> (Arc<Runtime>, Arc<LoadedPlugin>) {
    let (runtime, _kv) = runtime_with(config());
    let echo = load(&runtime, "echo");
    (runtime, echo)
}

#[test]
fn an_infinite_loop_hits_the_wall_time_limit() {
    let (runtime, echo) = setup();
    let started = std::time::Instant::now();
    let limit = limit_of(contained(&runtime, &echo, "infinite-loop"));
    assert!(limit.starts_with("wall-time 20ms"), "{limit}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped promptly"
    );
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let (runtime, echo) = setup();
    let limit = limit_of(contained(&runtime, &echo, "memory-bomb"));
    assert!(limit.starts_with("memory "), "{limit}");
}

#[test]
fn deep_recursion_is_stopped() {
    let (runtime, echo) = setup();
    match contained(&runtime, &echo, "deep-recursion") {
        PluginError::Limit { limit, .. } => assert!(limit.starts_with("stack"), "{limit}"),
        // Rust's shadow stack lives in linear memory: overflowing it is an out-of-bounds trap.
        PluginError::Trap { reason, .. } => assert!(reason.contains("out of bounds"), "{reason}"),
        other => panic!("expected a stack limit or trap, got {other}"),
    }
}

#[test]
fn a_panic_traps_and_its_message_reaches_the_log() {
    let (runtime, echo) = setup();
    healthy_call(&echo, "before");
    let panicking = load(&runtime, "panic");
    let (envelope, message) = ping("boom", Some(GUILD));
    let failure = panicking
        .call(&envelope, &message, &Default::default())
        .expect_err("a panic fails the call");
    let PluginError::Trap { reason, .. } = &failure.error else {
        panic!("expected a trap, got {}", failure.error)
    };
    assert!(reason.contains("panicked on purpose"), "{reason}");
    assert!(
        failure
            .logs
            .iter()
            .any(|line| line.source == LogSource::Stdio
                && line.message.contains("panicked on purpose")),
        "{:?}",
        failure.logs
    );
    assert_eq!(
        panicking.idle_instances(),
        0,
        "a trapped instance is discarded"
    );
    // The next call gets a new instance (and panics again, rather than failing to enter).
    let again = panicking
        .call(&envelope, &message, &Default::default())
        .expect_err("panics again");
    assert!(
        matches!(again.error, PluginError::Trap { ref reason, .. } if reason.contains("panicked on purpose"))
    );
    healthy_call(&echo, "after");
}

#[test]
fn thousands_of_outputs_hit_the_output_limit() {
    let (runtime, echo) = setup();
    let limit = limit_of(contained(&runtime, &echo, "many-outputs"));
    assert!(limit.starts_with("outputs 16"), "{limit}");
}

#[test]
fn huge_strings_hit_the_output_size_limit_and_logs_are_cut() {
    let (runtime, echo) = setup();
    healthy_call(&echo, "before");
    let huge = load(&runtime, "huge-strings");
    let (envelope, message) = ping("huge", Some(GUILD));
    let failure = huge
        .call(&envelope, &message, &Default::default())
        .expect_err("a 4 MiB output is refused");
    let PluginError::Limit { limit, .. } = &failure.error else {
        panic!("expected a limit, got {}", failure.error)
    };
    assert!(limit.starts_with("output-bytes 16384"), "{limit}");
    let limits = &runtime.config().limits;
    for line in &failure.logs {
        assert!(
            line.message.len() <= limits.max_log_line_bytes,
            "log lines are cut"
        );
    }
    healthy_call(&echo, "after");
}

#[test]
fn outputs_for_another_guild_are_dropped_and_reported() {
    let (runtime, echo) = setup();
    healthy_call(&echo, "before");
    let plugin = load(&runtime, "other-guild");
    let (envelope, message) = ping("elsewhere", Some(GUILD));
    let result = plugin
        .call(&envelope, &message, &Default::default())
        .expect("the call itself succeeds");
    assert!(result.outputs.is_empty());
    assert_eq!(result.dropped.len(), 1);
    assert_eq!(
        result.dropped[0].reason,
        DropReason::OtherGuild {
            target: "999999999999999999".into(),
            scope: GUILD.into()
        }
    );
    // A guild-scoped plugin never receives another guild's messages.
    let (foreign, message) = ping("foreign", Some("100000000000000043"));
    let refused = plugin
        .call(&foreign, &message, &Default::default())
        .expect_err("out of scope");
    assert!(
        matches!(refused.error, PluginError::OutOfScope { .. }),
        "{}",
        refused.error
    );
    healthy_call(&echo, "after");
}

#[test]
fn an_ungranted_output_type_is_dropped_and_the_granted_one_kept() {
    let (runtime, echo) = setup();
    let plugin = load(&runtime, "ungranted-output");
    let (envelope, message) = ping("grants", Some(GUILD));
    let result = plugin
        .call(&envelope, &message, &Default::default())
        .expect("the call succeeds");
    assert_eq!(result.outputs.len(), 1);
    assert!(matches!(
        &result.outputs[0],
        Output::Execute(emission) if matches!(emission.message, Message::SendMessage(_))
    ));
    assert_eq!(
        result
            .dropped
            .iter()
            .map(|d| d.reason.clone())
            .collect::<Vec<_>>(),
        vec![DropReason::NotGranted {
            type_name: "BAN_USER".into()
        }]
    );
    healthy_call(&echo, "after");
}

#[test]
fn a_kv_flood_hits_the_quota() {
    let (runtime, echo) = setup();
    let limit = limit_of(contained(&runtime, &echo, "kv-flood"));
    assert!(
        limit == "kv-keys 50" || limit == "kv-bytes 65536",
        "{limit}"
    );
}

#[test]
fn the_filesystem_and_environment_are_empty() {
    let (runtime, echo) = setup();
    for (guest, expected) in [
        ("fs-access", "denied /etc/passwd"),
        ("env-access", "vars=0 args=0 HOME=unset REDIS_URL=unset"),
    ] {
        let plugin = load(&runtime, guest);
        let (envelope, message) = ping(guest, Some(GUILD));
        let result = plugin
            .call(&envelope, &message, &Default::default())
            .unwrap_or_else(|failure| panic!("{guest}: {failure}"));
        let Output::Execute(emission) = &result.outputs[0] else {
            panic!("{guest}: unexpected output {:?}", result.outputs)
        };
        let Message::SendMessage(sent) = &emission.message else {
            panic!("{guest}: unexpected message")
        };
        let content = sent.content.clone().unwrap_or_default();
        assert!(content.contains(expected), "{guest}: {content}");
        assert!(!content.contains("read /etc/passwd:"), "{guest}: {content}");
        healthy_call(&echo, guest);
    }
}

#[test]
fn a_network_import_is_refused_at_load_naming_it() {
    let (runtime, echo) = setup();
    let error = runtime
        .load_file(&wasm("net-access"))
        .expect_err("sockets are not allowed");
    let LoadError::ForbiddenImport { plugin, import } = &error else {
        panic!("expected a forbidden import, got {error}")
    };
    assert_eq!(plugin, "net-access");
    assert!(import.starts_with("wasi:sockets/"), "{import}");
    assert!(error.to_string().contains(import.as_str()));
    healthy_call(&echo, "after");
}

#[test]
fn an_unsupported_world_version_is_refused_listing_the_supported_ones() {
    let (runtime, echo) = setup();
    let error = runtime
        .load_file(&wasm("future-version"))
        .expect_err("a 2.0 plugin is refused");
    let text = error.to_string();
    assert!(
        matches!(error, LoadError::UnsupportedVersion { .. }),
        "{text}"
    );
    assert!(text.contains("guildhost:plugin@2.0.0"), "{text}");
    assert!(text.contains("guildhost:plugin@0.1.x"), "{text}");
    healthy_call(&echo, "after");
}

#[test]
fn a_sleep_in_a_wasi_call_ends_at_the_wall_time() {
    let (runtime, echo) = setup();
    healthy_call(&echo, "sleep-before");
    let hostile = load(&runtime, "hostile");
    let (envelope, message) = runtime_support::message_created("sleep-attack", GUILD, "sleep");
    let started = std::time::Instant::now();
    let failure = hostile
        .call(&envelope, &message, &Default::default())
        .expect_err("a 40 s sleep cannot finish within 100 ms");
    let took = started.elapsed();
    let limit = limit_of(failure.error);
    assert!(limit.starts_with("wall-time 100ms"), "{limit}");
    assert!(
        took < std::time::Duration::from_secs(2),
        "the blocked call ended after {took:?}, not at its wall time"
    );
    healthy_call(&echo, "sleep-after");
}
