//! The hostile suite's attacks, repeated as a JavaScript plugin (componentize-js, on the
//! `guildhost-plugin` npm package): each is contained exactly as for Rust — the call fails with a
//! typed error naming the plugin and the limit, or the offending outputs are dropped — while a
//! healthy plugin keeps serving on the same runtime. `fetch` is refused with a reason, and
//! `console` reaches the plugin's log.

mod runtime_support;

use std::sync::Arc;

use guildhost::runtime::{DropReason, LoadedPlugin, PluginError, Runtime};
use runtime_support::{GUILD, config, load, load_js, message_created, ping, runtime_with};

fn setup() -> (Arc<Runtime>, Arc<LoadedPlugin>, Arc<LoadedPlugin>) {
    let (runtime, _kv) = runtime_with(config());
    let echo = load(&runtime, "echo");
    let hostile = load_js(&runtime, "hostile");
    (runtime, echo, hostile)
}

fn healthy_call(echo: &LoadedPlugin, id: &str) {
    let (envelope, message) = ping(id, Some(GUILD));
    let result = echo
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("the healthy plugin failed: {failure}"));
    assert_eq!(result.outputs.len(), 1, "echo answers every ping");
}

/// Mounts `attack` between two healthy calls; the hostile call's error.
fn failed(echo: &LoadedPlugin, hostile: &LoadedPlugin, attack: &str) -> PluginError {
    healthy_call(echo, &format!("{attack}-before"));
    let (envelope, message) = message_created(attack, GUILD, attack);
    let failure = hostile
        .call(&envelope, &message, &Default::default())
        .expect_err("the hostile call must fail");
    assert_eq!(
        failure.error.plugin(),
        hostile.name(),
        "the error names the plugin"
    );
    healthy_call(echo, &format!("{attack}-after"));
    // The JavaScript plugin itself recovers too: its next message is served.
    let (envelope, message) = ping(&format!("{attack}-recovered"), Some(GUILD));
    let answered = hostile
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| {
            panic!("after `{attack}`, the plugin's next call failed: {failure}")
        });
    assert_eq!(answered.outputs.len(), 1);
    failure.error
}

fn limit_of(error: PluginError) -> String {
    match error {
        PluginError::Limit { limit, .. } => limit,
        other => panic!("expected a limit error, got {other}"),
    }
}

#[test]
fn an_infinite_loop_hits_the_wall_time_limit() {
    let (_runtime, echo, hostile) = setup();
    let started = std::time::Instant::now();
    let limit = limit_of(failed(&echo, &hostile, "loop"));
    assert!(limit.starts_with("wall-time 100ms"), "{limit}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "stopped promptly"
    );
}

#[test]
fn a_growing_heap_hits_the_memory_limit() {
    let (runtime, echo, _) = setup();
    // Growing a JavaScript heap to 32 MiB takes about 100 ms of a loaded machine: with its
    // usual 100 ms the call could end on time before memory. Two seconds leave memory to end it.
    let wasm = runtime_support::js_guest("hostile");
    let text = std::fs::read_to_string(wasm.with_extension("toml")).expect("the manifest");
    let manifest = guildhost::runtime::Manifest::parse(
        &text.replace("wall-time-ms = 100", "wall-time-ms = 2000"),
        &runtime.config().limits,
    )
    .expect("the edited manifest");
    assert_eq!(manifest.limits.wall_time, std::time::Duration::from_secs(2));
    let bytes = std::fs::read(&wasm).expect("the component");
    let hostile = runtime
        .load(guildhost::runtime::Origin::Directory, manifest, &bytes)
        .expect("the guest loads");
    let limit = limit_of(failed(&echo, &hostile, "memory"));
    assert!(limit.starts_with("memory 33554432"), "{limit}");
}

#[test]
fn a_thousand_outputs_hit_the_output_limit() {
    let (_runtime, echo, hostile) = setup();
    let limit = limit_of(failed(&echo, &hostile, "flood"));
    assert!(limit.starts_with("outputs 16"), "{limit}");
}

#[test]
fn a_kv_flood_hits_the_quota() {
    let (_runtime, echo, hostile) = setup();
    let limit = limit_of(failed(&echo, &hostile, "kv"));
    assert_eq!(limit, "kv-keys 100");
}

#[test]
fn outputs_for_another_guild_are_dropped_and_reported() {
    let (_runtime, echo, hostile) = setup();
    healthy_call(&echo, "before");
    let (envelope, message) = message_created("cross", GUILD, "cross 999999999999999999");
    let result = hostile
        .call(&envelope, &message, &Default::default())
        .expect("the call itself succeeds");
    runtime_support::assert_one_post_kept_one_dropped(
        &result,
        DropReason::OtherGuild {
            target: "999999999999999999".into(),
            scope: GUILD.into(),
        },
    );
    // A guild-scoped plugin never receives another guild's messages.
    let (foreign, message) = message_created("foreign", "100000000000000043", "cross");
    let refused = hostile
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
    let (_runtime, echo, hostile) = setup();
    let (envelope, message) = message_created("grants", GUILD, "ungranted");
    let result = hostile
        .call(&envelope, &message, &Default::default())
        .expect("the call succeeds");
    runtime_support::assert_one_post_kept_one_dropped(
        &result,
        DropReason::NotGranted {
            type_name: "BAN_USER".into(),
        },
    );
    healthy_call(&echo, "after");
}

/// The plugin's own error: its message and whether it is retryable.
fn returned(error: PluginError) -> (String, bool) {
    match error {
        PluginError::Returned {
            message, retryable, ..
        } => (message, retryable),
        other => panic!("expected the plugin's error, got {other}"),
    }
}

#[test]
fn fetch_is_refused_with_a_reason() {
    let (_runtime, echo, hostile) = setup();
    let (message, retryable) = returned(failed(&echo, &hostile, "fetch"));
    assert!(message.contains("fetch is not available"), "{message}");
    assert!(!retryable);
}

#[test]
fn thrown_errors_fail_the_call_with_their_message() {
    let (_runtime, echo, hostile) = setup();
    let (message, retryable) = returned(failed(&echo, &hostile, "throw"));
    assert_eq!(message, "the database is down");
    assert!(retryable, "PluginError.retryable keeps its flag");
    let (message, retryable) = returned(failed(&echo, &hostile, "crash"));
    assert!(message.starts_with("TypeError: "), "{message}");
    assert!(!retryable);
}

#[test]
fn console_writes_reach_the_plugin_log() {
    let (_runtime, _echo, hostile) = setup();
    let (envelope, message) = message_created("console", GUILD, "console");
    let result = hostile
        .call(&envelope, &message, &Default::default())
        .expect("the call succeeds");
    let lines: Vec<&str> = result
        .logs
        .iter()
        .map(|line| line.message.as_str())
        .collect();
    assert_eq!(lines, [r#"to stdout {"n":1}"#, "to stderr"]);
}

/// A warm instance whose memory passed three quarters of its limit is not reused: memory a
/// plugin keeps across calls (or a garbage collector's growing heap) starts again from the
/// component's initial memory instead of failing a later message at the limit.
#[test]
fn an_instance_near_its_memory_limit_is_replaced_before_it_fails() {
    let (_runtime, _echo, hostile) = setup();
    let mut fresh = Vec::new();
    for call in 0..4 {
        let (envelope, message) = message_created(&format!("hoard-{call}"), GUILD, "hoard 7");
        let result = hostile
            .call(&envelope, &message, &Default::default())
            .unwrap_or_else(|failure| panic!("call {call} failed: {failure}"));
        fresh.push(result.fresh_instance);
    }
    // 7 MiB more per call within 32 MiB: without the replacement the fourth call would pass it.
    assert!(
        fresh[1..].contains(&true),
        "a new instance took over: {fresh:?}"
    );
}
