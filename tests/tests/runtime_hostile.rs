//! Every hostile test guest is contained — its call fails with a typed error naming the plugin
//! and the limit, or its outputs are dropped, or it is refused at load — while a healthy plugin
//! keeps serving on the same runtime, before and after each attack.

mod runtime_support;

use std::sync::{Arc, Mutex, OnceLock};

use guildhost::runtime::bindings::{Message, Output};
use guildhost::runtime::{
    CallResult, DropReason, LoadError, LoadedPlugin, LogLine, LogSource, PluginError, Runtime,
};
use runtime_support::{GUILD, config, load, load_with_manifest, ping, runtime_with, wasm};

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
    runtime_support::assert_one_post_kept_one_dropped(
        &result,
        DropReason::NotGranted {
            type_name: "BAN_USER".into(),
        },
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

/// The forged text the `log-flood` guest logs and writes to stderr, as the host must show it:
/// one line, every control character escaped.
const FORGED_ESCAPED: &str = "innocent\\n2026-01-01T00:00:00.000000Z  INFO guildhost::app: FORGED host line\\r\\u{1b}[2K\\u{1b}[31mFORGED overwrite\\u{2028}FORGED separator";

/// What `tracing` printed, as the host's log would show it: a process-wide subscriber writing
/// to memory, installed once (a thread-local one can miss events while other tests' threads
/// race to register the same callsites). Tests read the lines of their own message id.
fn host_log() -> &'static Printed {
    static PRINTED: OnceLock<Printed> = OnceLock::new();
    PRINTED.get_or_init(|| {
        let printed = Printed::default();
        let writer = printed.clone();
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        // Only the plugins' lines: with everything at TRACE, a cold compile of a component made
        // cranelift log its whole IR here (gigabytes), through the `log` bridge `try_init` sets.
        let plugins_only = tracing_subscriber::filter::Targets::new().with_target(
            "guildhost::plugin",
            tracing_subscriber::filter::LevelFilter::TRACE,
        );
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
            .finish()
            .with(plugins_only)
            .try_init()
            .expect("no other subscriber in this test binary");
        printed
    })
}

#[derive(Clone, Default)]
struct Printed(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Printed {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Printed {
    /// The printed lines of the plugins' calls for `message_id`.
    fn lines_of(&self, message_id: &str) -> Vec<String> {
        let bytes = self.0.lock().expect("lock").clone();
        let field = format!("message_id=\"{message_id}\"");
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter(|line| line.contains("guildhost::plugin") && line.contains(&field))
            .map(str::to_owned)
            .collect()
    }
}

/// A runtime and the `log-flood` guest (manifest edited by `edit`) with room for the flood:
/// a debug build of the host takes about a second to take 100 MiB of stderr in WASI's 4 KiB
/// writes, and wall time is not what these tests are about.
fn flood(
    mut config: guildhost::runtime::RuntimeConfig,
    edit: impl Fn(String) -> String,
) -> (Arc<Runtime>, Arc<LoadedPlugin>) {
    config.limits.max_wall_time = std::time::Duration::from_secs(30);
    let (runtime, _kv) = runtime_with(config);
    let plugin = load_with_manifest(&runtime, "log-flood", |text| {
        edit(text.replace("wall-time-ms = 2000", "wall-time-ms = 30000"))
    });
    (runtime, plugin)
}

fn text_bytes(logs: &[LogLine]) -> usize {
    logs.iter()
        .filter(|line| line.source != LogSource::Host)
        .map(|line| line.message.len())
        .sum()
}

#[test]
fn a_log_flood_stays_within_the_call_cap_and_forged_lines_are_escaped() {
    let (runtime, flood) = flood(config(), |text| text);
    let echo = load(&runtime, "echo");
    healthy_call(&echo, "before");
    let host_log = host_log();
    let (envelope, message) = ping("log-flood-host-log", Some(GUILD));
    let result = flood
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("the flood call itself succeeds: {failure}"));
    let printed = host_log.lines_of("log-flood-host-log");
    let limits = &runtime.config().limits;

    // The captured log: within the per-call cap, no line longer than the line cap, no control
    // character anywhere.
    assert!(
        text_bytes(&result.logs) <= limits.max_log_bytes_per_call,
        "{}",
        text_bytes(&result.logs)
    );
    for line in &result.logs {
        assert!(line.message.len() <= limits.max_log_line_bytes, "{line:?}");
        assert!(!line.message.chars().any(char::is_control), "{line:?}");
    }
    // The forged text is one escaped line from the logging interface; from stderr, a line
    // ends at its newline, and what follows is escaped the same way (as far as the cap let
    // stderr lines in).
    let after_newline = FORGED_ESCAPED
        .split_once("\\n")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let forged: Vec<&LogLine> = result
        .logs
        .iter()
        .filter(|line| line.message.contains("FORGED"))
        .collect();
    assert_eq!(forged[0].source, LogSource::Plugin, "{forged:?}");
    assert_eq!(forged[0].message, FORGED_ESCAPED);
    for line in &forged[1..] {
        assert_eq!(line.source, LogSource::Stdio, "{forged:?}");
        assert_eq!(line.message, after_newline);
    }

    // What was dropped is counted and summarised once: the logged lines and the stderr lines
    // (2 forged + 100 flood lines) that did not fit the call's cap.
    let kept = |source: LogSource| {
        result
            .logs
            .iter()
            .filter(|line| line.source == source)
            .count() as u64
    };
    let kept_logged = kept(LogSource::Plugin);
    let kept_stderr = kept(LogSource::Stdio);
    assert!((2..100).contains(&kept_logged), "{kept_logged}");
    assert!(kept_stderr < 102, "{kept_stderr}");
    assert_eq!(
        result.dropped_log_lines,
        (101 - kept_logged) + (102 - kept_stderr)
    );
    let summaries: Vec<&LogLine> = result
        .logs
        .iter()
        .filter(|line| line.source == LogSource::Host)
        .collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let summary = &summaries[0].message;
    assert!(
        summary.starts_with(&format!("{} log lines (", result.dropped_log_lines)),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "over the per-call cap of {} bytes",
            limits.max_log_bytes_per_call
        )),
        "{summary}"
    );

    // The host's log got exactly the captured lines (one host line each, the summary
    // included), a few tens of KiB rather than 200 MiB, and no line it did not write.
    assert_eq!(printed.len(), result.logs.len(), "{:?}", printed.len());
    let printed_bytes: usize = printed.iter().map(String::len).sum();
    assert!(
        printed_bytes < 2 * limits.max_log_bytes_per_call,
        "{printed_bytes}"
    );
    assert!(
        printed
            .iter()
            .all(|line| !line.starts_with("2026-01-01T00:00:00.000000Z")),
        "a forged line reached the host's log"
    );
    assert!(printed.iter().any(|line| line.contains(FORGED_ESCAPED)));
    healthy_call(&echo, "after");
}

#[test]
fn stderr_lines_are_escaped_like_logged_ones() {
    // No flood: the forged text alone, logged and written to stderr.
    let (runtime, plugin) = flood(config(), |text| text.replace("lines = 100", "lines = 0"));
    let echo = load(&runtime, "echo");
    let (envelope, message) = ping("forged", Some(GUILD));
    let result = plugin
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(result.dropped_log_lines, 0);
    let stdio: Vec<&str> = result
        .logs
        .iter()
        .filter(|line| line.source == LogSource::Stdio)
        .map(|line| line.message.as_str())
        .collect();
    // A stderr line ends at its newline; what follows is the plugin's next stderr line (logged
    // under the plugin's name), with the carriage return and escapes that would have rewritten
    // the terminal's line escaped.
    let after_newline = FORGED_ESCAPED
        .split_once("\\n")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    assert_eq!(stdio, ["innocent", after_newline], "{:?}", result.logs);
    assert!(
        result
            .logs
            .iter()
            .all(|line| !line.message.chars().any(char::is_control))
    );
    healthy_call(&echo, "after");
}

#[test]
fn the_per_minute_log_budget_is_shared_by_a_plugin_s_instances_in_a_guild() {
    let mut config = config();
    config.limits.max_log_bytes_per_minute = 100 << 10;
    // Fresh mode: every call runs on a new instance, so the budget cannot live in one.
    let fresh = |text: String| format!("{text}\n[instance]\nmode = \"fresh\"\n");
    let (runtime, first) = flood(config, fresh);
    let limits = runtime.config().limits.clone();
    let (envelope, message) = ping("minute-1", Some(GUILD));
    let one = first
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        one.logs
            .iter()
            .all(|line| !line.message.contains("per-minute")),
        "{:?}",
        one.logs.last()
    );
    // A reloaded version of the plugin shares the budget too: it is kept by name.
    let reloaded = load_with_manifest(&runtime, "log-flood", |text| {
        fresh(text.replace("wall-time-ms = 2000", "wall-time-ms = 30000"))
    });
    let (envelope, message) = ping("minute-2", Some(GUILD));
    let two = reloaded
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(two.fresh_instance);
    let summary = &two.logs.last().expect("a summary").message;
    assert!(
        summary.contains("over the per-minute cap of 102400 bytes for this plugin in this guild"),
        "{summary}"
    );
    let both = text_bytes(&one.logs) + text_bytes(&two.logs);
    assert!(both as u64 <= limits.max_log_bytes_per_minute, "{both}");
    // Another guild has its own budget.
    let (envelope, message) = ping("minute-3", Some("100000000000000043"));
    let other = reloaded
        .call(&envelope, &message, &Default::default())
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert!(
        other
            .logs
            .iter()
            .all(|line| !line.message.contains("per-minute")),
        "{:?}",
        other.logs.last()
    );
}
