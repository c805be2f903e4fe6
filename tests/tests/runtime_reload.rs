//! Hot reload from a plugins directory: adding, replacing and removing plugins without a restart,
//! under load, with a failed load leaving the previous version serving.

mod runtime_support;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guildhost::runtime::bindings::{Message, Output};
use guildhost::runtime::{CallResult, GuildContext, PluginError};
use runtime_support::{GUILD, config, deploy, eventually, ping, runtime_with};

fn plugins_dir(label: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "plugins-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("create the plugins directory");
    dir
}

/// The `binary` the echo guest reports in its output: which component really ran.
fn binary(result: &CallResult) -> String {
    let Some(Output::Publish(emission)) = result.outputs.first() else {
        panic!("unexpected outputs {:?}", result.outputs)
    };
    let Message::Custom(custom) = &emission.message else {
        panic!("unexpected message")
    };
    let data: serde_json::Value = serde_json::from_str(&custom.data).expect("echo writes JSON");
    data["binary"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn replacing_a_plugin_under_load_hands_every_message_to_exactly_one_version() {
    let dir = plugins_dir("under-load");
    deploy(&dir, "echo", "echo");
    let (runtime, _kv) = runtime_with(config());
    let first = runtime.scan_dir(&dir);
    assert_eq!(first.added, ["echo"], "{first:?}");
    let _watcher = runtime
        .watch(dir.clone(), Duration::from_millis(10))
        .expect("the watcher starts");

    let stop = Arc::new(AtomicBool::new(false));
    let results: Arc<Mutex<Vec<(usize, String, CallResult)>>> = Arc::default();
    let callers: Vec<_> = (0..3)
        .map(|caller| {
            let runtime = runtime.clone();
            let stop = stop.clone();
            let results = results.clone();
            std::thread::spawn(move || {
                let mut sequence = 0;
                while !stop.load(Ordering::Relaxed) {
                    let id = format!("c{caller}-{sequence}");
                    let (envelope, message) = ping(&id, Some(GUILD));
                    let result = runtime
                        .call("echo", &envelope, &message, &GuildContext::default())
                        .unwrap_or_else(|failure| panic!("{id}: {failure}"));
                    results.lock().expect("lock").push((caller, id, result));
                    sequence += 1;
                }
            })
        })
        .collect();
    let count = || results.lock().expect("lock").len();
    assert!(eventually(Duration::from_secs(30), || count() >= 300));
    deploy(&dir, "echo-v2", "echo");
    let v2_seen_by_all = eventually(Duration::from_secs(30), || {
        let results = results.lock().expect("lock");
        (0..3).all(|caller| {
            results
                .iter()
                .filter(|(who, _, result)| *who == caller && binary(result) == "guest-echo-v2")
                .count()
                >= 50
        })
    });
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().expect("a caller thread panicked");
    }
    assert!(v2_seen_by_all, "the new version took over");

    let results = results.lock().expect("lock");
    let mut ids = HashSet::new();
    let mut last_generation: HashMap<usize, u64> = HashMap::new();
    for (caller, id, result) in results.iter() {
        assert!(ids.insert(id.clone()), "{id} was handled twice");
        assert_eq!(result.plugin, "echo");
        // Each caller sees versions in order: once a newer version served it, never an older.
        let previous = last_generation.insert(*caller, result.generation);
        assert!(
            previous.is_none_or(|previous| previous <= result.generation),
            "{id}: generation went back from {previous:?} to {}",
            result.generation
        );
    }
    let last = &results.last().expect("results").2;
    assert_eq!(last.version, "2.0.0");
    assert_eq!(binary(last), "guest-echo-v2");
    assert!(
        results
            .iter()
            .any(|(_, _, result)| binary(result) == "guest-echo")
    );
}

#[test]
fn a_failed_load_keeps_the_previous_version_and_removal_unloads() {
    let dir = plugins_dir("failed-load");
    deploy(&dir, "echo", "echo");
    let (runtime, _kv) = runtime_with(config());
    assert_eq!(runtime.scan_dir(&dir).added, ["echo"]);
    let serving = runtime.registry().get("echo").expect("echo serves");
    assert_eq!(
        runtime
            .subscribers("ECHO_PING")
            .iter()
            .map(|plugin| plugin.name().to_owned())
            .collect::<Vec<_>>(),
        ["echo"]
    );

    let staged = dir.join(".echo.wasm.staged");
    std::fs::write(&staged, b"\0asm not really").expect("write garbage");
    std::fs::rename(&staged, dir.join("echo.wasm")).expect("swap in garbage");
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert_eq!(report.failed[0].0, "echo");
    let still = runtime
        .registry()
        .get("echo")
        .expect("the old version keeps serving");
    assert_eq!(still.generation(), serving.generation());
    let (envelope, message) = ping("after-failure", Some(GUILD));
    runtime
        .call("echo", &envelope, &message, &GuildContext::default())
        .expect("still answering");

    std::fs::remove_file(dir.join("echo.wasm")).expect("remove the component");
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.removed, ["echo"], "{report:?}");
    let gone = runtime
        .call("echo", &envelope, &message, &GuildContext::default())
        .expect_err("removed");
    assert!(matches!(gone.error, PluginError::NotLoaded { .. }));
    assert!(runtime.subscribers("ECHO_PING").is_empty());
    // A call that already holds the old version can still finish on it.
    serving
        .call(&envelope, &message, &GuildContext::default())
        .expect("an in-flight holder keeps working");
}

#[test]
fn a_manifest_naming_another_plugin_is_refused() {
    let dir = plugins_dir("name-mismatch");
    for ext in ["wasm", "toml"] {
        std::fs::copy(
            runtime_support::guests().join(format!("echo.{ext}")),
            dir.join(format!("renamed.{ext}")),
        )
        .expect("copy the guest under another file name");
    }
    let (runtime, _kv) = runtime_with(config());
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(
        report.failed[0]
            .1
            .to_string()
            .contains("names the plugin \"echo\""),
        "{}",
        report.failed[0].1
    );
}
