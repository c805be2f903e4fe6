//! Hot reload from a plugins directory: adding, replacing and removing plugins without a restart,
//! under load, with a failed load leaving the previous version serving.

mod runtime_support;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use guildhost::runtime::bindings::{Message, Output};
use guildhost::runtime::{
    CallResult, GuildContext, Installed, LoadError, Manifest, ManifestError, Origin, PluginError,
    Runtime,
};
use runtime_support::{
    GUILD, config, deploy, eventually, load, message_created, ping, runtime_with,
};

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

/// Whether `plugin` answers a `MESSAGE_CREATED` in `guild` (the first-party automod does).
fn answers(runtime: &Runtime, plugin: &str, guild: &str) -> bool {
    let (envelope, message) = message_created("names", guild, "hello there");
    runtime
        .call(plugin, &envelope, &message, &GuildContext::default())
        .is_ok()
}

fn install_first_party(runtime: &Runtime) {
    for (name, outcome) in guildhost::bundled::install(runtime) {
        outcome.unwrap_or_else(|error| panic!("first-party {name}: {error}"));
    }
    let automod = runtime.registry().get("automod").expect("automod serves");
    assert_eq!(automod.origin(), Origin::FirstParty);
}

#[test]
fn symlinks_directories_and_fifos_are_refused_while_a_regular_plugin_loads() {
    let dir = plugins_dir("irregular");
    deploy(&dir, "echo", "echo");
    // A component that is a symlink to a valid component outside the directory.
    deploy(&dir, "echo", "linked");
    std::fs::remove_file(dir.join("linked.wasm")).expect("remove");
    std::os::unix::fs::symlink(runtime_support::wasm("echo"), dir.join("linked.wasm"))
        .expect("symlink the component");
    // A manifest that is a symlink to a file outside the directory (think /etc/passwd).
    let secret = dir.with_extension("secret");
    std::fs::write(&secret, "root:x:0:0:root:/root:/bin/bash\n").expect("write the secret");
    deploy(&dir, "echo", "passwd");
    std::fs::remove_file(dir.join("passwd.toml")).expect("remove");
    std::os::unix::fs::symlink(&secret, dir.join("passwd.toml")).expect("symlink the manifest");
    // A directory, and a FIFO (opening it to read would block until a writer comes).
    deploy(&dir, "echo", "folder");
    std::fs::remove_file(dir.join("folder.wasm")).expect("remove");
    std::fs::create_dir(dir.join("folder.wasm")).expect("a directory named .wasm");
    deploy(&dir, "echo", "pipe");
    std::fs::remove_file(dir.join("pipe.wasm")).expect("remove");
    let fifo = std::ffi::CString::new(dir.join("pipe.wasm").as_os_str().as_encoded_bytes())
        .expect("a path without NUL");
    // SAFETY: `fifo` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0, "mkfifo");

    let (runtime, _kv) = runtime_with(config());
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.added, ["echo"], "{report:?}");
    let failed: HashMap<&str, &LoadError> = report
        .failed
        .iter()
        .map(|(name, error)| (name.as_str(), error))
        .collect();
    assert_eq!(failed.len(), 4, "{report:?}");
    for (name, kind) in [
        ("linked", "a symlink"),
        ("folder", "a directory"),
        ("pipe", "a FIFO"),
    ] {
        let error = failed[name];
        assert!(
            matches!(error, LoadError::NotRegularFile { path, .. } if path.ends_with(format!("{name}.wasm"))),
            "{name}: {error}"
        );
        let text = error.to_string();
        assert!(text.contains(&format!("is {kind}")), "{text}");
        assert!(text.contains("only regular files are loaded"), "{text}");
    }
    let manifest = failed["passwd"];
    assert!(
        matches!(
            manifest,
            LoadError::Manifest(ManifestError::NotRegularFile { path, .. }) if path.ends_with("passwd.toml")
        ),
        "{manifest}"
    );
    assert!(!manifest.to_string().contains("root:"), "{manifest}");
    assert!(!format!("{manifest:?}").contains("root:"), "{manifest:?}");
    for refused in ["linked", "passwd", "folder", "pipe"] {
        assert!(runtime.registry().get(refused).is_none(), "{refused}");
    }
    let (envelope, message) = ping("regular", Some(GUILD));
    runtime
        .call("echo", &envelope, &message, &GuildContext::default())
        .expect("the regular plugin serves");
}

#[test]
fn an_oversized_component_is_refused_before_it_is_read() {
    let dir = plugins_dir("oversized");
    deploy(&dir, "echo", "echo");
    deploy(&dir, "echo", "big");
    let (runtime, _kv) = runtime_with(config());
    let max = runtime.config().limits.max_component_bytes;
    // Sparse: the size is there, the bytes are not.
    std::fs::File::create(dir.join("big.wasm"))
        .and_then(|file| file.set_len(max + 1))
        .expect("a sparse file");
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.added, ["echo"], "{report:?}");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let (name, error) = &report.failed[0];
    assert_eq!(name, "big");
    assert!(
        matches!(error, LoadError::ComponentTooLarge { size: Some(size), max: limit, .. } if *size == max + 1 && *limit == max),
        "{error}"
    );
    assert!(error.to_string().contains("max_component_bytes"), "{error}");

    // Bytes handed to `Runtime::load` directly meet the same limit.
    let mut small = config();
    small.limits.max_component_bytes = 1024;
    let (strict, _kv) = runtime_with(small);
    let manifest = Manifest::load(
        &runtime_support::guests().join("echo.toml"),
        &strict.config().limits,
    )
    .expect("manifest");
    let bytes = std::fs::read(runtime_support::wasm("echo")).expect("component");
    let error = strict
        .load(Origin::FirstParty, manifest, &bytes)
        .expect_err("over the limit");
    assert!(
        matches!(
            error,
            LoadError::ComponentTooLarge {
                path: None,
                max: 1024,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn a_guild_plugin_named_like_a_first_party_plugin_is_refused() {
    let dir = plugins_dir("guild-over-first-party");
    let (runtime, _kv) = runtime_with(config());
    install_first_party(&runtime);
    assert!(answers(&runtime, "automod", GUILD));
    deploy(&dir, "other-guild", "automod");
    let report = runtime.scan_dir(&dir);
    assert!(
        report.added.is_empty() && report.replaced.is_empty(),
        "{report:?}"
    );
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let (name, error) = &report.failed[0];
    assert_eq!(name, "automod");
    assert!(matches!(error, LoadError::NameTaken { .. }), "{error}");
    let text = error.to_string();
    for part in [
        "plugins-directory plugin scoped to guild 100000000000000042",
        "global first-party plugin",
        "may never replace or shadow",
    ] {
        assert!(text.contains(part), "{text}");
    }
    // The first-party plugin keeps serving every guild, the guild plugin's own included.
    let serving = runtime.registry().get("automod").expect("automod serves");
    assert_eq!(serving.origin(), Origin::FirstParty);
    assert!(answers(&runtime, "automod", GUILD));
    assert!(answers(&runtime, "automod", "100000000000000043"));
    // Removing the refused files removes nothing that serves.
    std::fs::remove_file(dir.join("automod.wasm")).expect("remove");
    let report = runtime.scan_dir(&dir);
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(
        runtime
            .registry()
            .get("automod")
            .map(|plugin| plugin.origin()),
        Some(Origin::FirstParty)
    );
    assert!(answers(&runtime, "automod", GUILD));
}

#[test]
fn a_global_directory_plugin_shadows_a_first_party_one_until_removed() {
    let dir = plugins_dir("global-over-first-party");
    let (runtime, _kv) = runtime_with(config());
    install_first_party(&runtime);
    let first_party = runtime.registry().get("automod").expect("automod");

    deploy(&dir, "echo", "automod");
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.replaced, ["automod"], "{report:?}");
    let operator = runtime.registry().get("automod").expect("automod");
    assert_eq!(operator.origin(), Origin::Directory);
    assert_eq!(
        runtime
            .registry()
            .shadowed("automod")
            .map(|plugin| plugin.generation()),
        Some(first_party.generation())
    );
    let (envelope, message) = ping("shadow", Some(GUILD));
    let answered = runtime
        .call("automod", &envelope, &message, &GuildContext::default())
        .expect("the operator's plugin answers");
    assert_eq!(binary(&answered), "guest-echo");

    // A new version from the directory replaces it as usual, the first-party one still kept.
    deploy(&dir, "echo-v2", "automod");
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.replaced, ["automod"], "{report:?}");
    let answered = runtime
        .call("automod", &envelope, &message, &GuildContext::default())
        .expect("the new version answers");
    assert_eq!(binary(&answered), "guest-echo-v2");
    // But not as a guild-scoped plugin: the first-party plugin behind it forbids that.
    deploy(&dir, "other-guild", "automod");
    let report = runtime.scan_dir(&dir);
    assert!(
        matches!(report.failed.as_slice(), [(name, LoadError::NameTaken { .. })] if name == "automod"),
        "{report:?}"
    );
    let answered = runtime
        .call("automod", &envelope, &message, &GuildContext::default())
        .expect("the previous version keeps serving");
    assert_eq!(binary(&answered), "guest-echo-v2");

    // Removed: the first-party plugin serves again, the very version that was shadowed.
    std::fs::remove_file(dir.join("automod.wasm")).expect("remove");
    let report = runtime.scan_dir(&dir);
    assert_eq!(report.removed, ["automod"], "{report:?}");
    let back = runtime.registry().get("automod").expect("automod serves");
    assert_eq!(back.origin(), Origin::FirstParty);
    assert_eq!(back.generation(), first_party.generation());
    assert!(runtime.registry().shadowed("automod").is_none());
    assert!(answers(&runtime, "automod", GUILD));
    assert!(
        runtime
            .subscribers("ECHO_PING")
            .iter()
            .all(|plugin| plugin.name() != "automod")
    );
}

#[test]
fn a_first_party_plugin_takes_its_name_back_from_a_guild_plugin() {
    let (runtime, _kv) = runtime_with(config());
    let guild_plugin = load(&runtime, "other-guild");
    assert!(matches!(
        runtime.registry().install(guild_plugin),
        Ok(Installed::Added)
    ));
    // A first-party plugin of the same name (the echo guest under that name).
    let text = std::fs::read_to_string(runtime_support::guests().join("echo.toml"))
        .expect("manifest")
        .replace("name = \"echo\"", "name = \"other-guild\"");
    let manifest = Manifest::parse(&text, &runtime.config().limits).expect("manifest");
    let bytes = std::fs::read(runtime_support::wasm("echo")).expect("component");
    let first_party = runtime
        .load(Origin::FirstParty, manifest, &bytes)
        .expect("loads");
    let installed = runtime.registry().install(first_party).expect("installs");
    assert!(
        matches!(&installed, Installed::DisplacedGuildPlugin(removed) if removed.origin() == Origin::Directory),
        "{installed:?}"
    );
    let serving = runtime.registry().get("other-guild").expect("serves");
    assert_eq!(serving.origin(), Origin::FirstParty);
    // The directory removing its plugin of that name leaves the first-party one alone.
    assert!(
        runtime
            .registry()
            .remove("other-guild", Origin::Directory)
            .is_none()
    );
    assert!(runtime.registry().get("other-guild").is_some());
}
