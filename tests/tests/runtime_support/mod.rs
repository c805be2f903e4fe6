//! Shared helpers for the runtime suites: the test guests built by `tests/build.rs`, a runtime
//! sized for tests, and envelopes/messages to call plugins with.

#![allow(
    dead_code,
    reason = "each suite uses a different subset of the helpers"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use guildhost::runtime::bindings::{CustomMessage, Envelope, Message, Source};
use guildhost::runtime::breaker::BreakerPolicy;
use guildhost::runtime::{LoadedPlugin, Manifest, MemoryKv, Origin, Runtime, RuntimeConfig};

/// The guild every test message belongs to unless a test says otherwise (the guild the
/// guild-scoped test guests are scoped to).
pub const GUILD: &str = "100000000000000042";

/// The directory holding `<name>.wasm` + `<name>.toml` for every test guest.
pub fn guests() -> PathBuf {
    PathBuf::from(env!("GUILDHOST_TEST_GUESTS"))
}

/// The component of a test guest.
pub fn wasm(name: &str) -> PathBuf {
    guests().join(format!("{name}.wasm"))
}

/// A runtime for tests: a small pool, a breaker that stays out of the way unless asked, and an
/// artifact cache shared by the suites so each guest is compiled once.
pub fn config() -> RuntimeConfig {
    RuntimeConfig {
        pool_instances: 64,
        cache_dir: Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("runtime-artifacts")),
        breaker: BreakerPolicy {
            failures: 1_000,
            window: Duration::from_secs(60),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
        },
        ..RuntimeConfig::default()
    }
}

/// A runtime with the given configuration and a fresh in-memory KV store.
pub fn runtime_with(config: RuntimeConfig) -> (Arc<Runtime>, Arc<MemoryKv>) {
    let kv = Arc::new(MemoryKv::new());
    let runtime = Runtime::new(config, kv.clone()).expect("the runtime starts");
    (Arc::new(runtime), kv)
}

/// Loads a test guest by its file name (its manifest may name the plugin differently), as a
/// plugins-directory plugin.
pub fn load(runtime: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    load_as(runtime, Origin::Directory, name)
}

/// Loads a test guest by its file name with the given origin.
pub fn load_as(runtime: &Runtime, origin: Origin, name: &str) -> Arc<LoadedPlugin> {
    let manifest = Manifest::load(
        &guests().join(format!("{name}.toml")),
        &runtime.config().limits,
    )
    .unwrap_or_else(|error| panic!("manifest of {name}: {error}"));
    let bytes = std::fs::read(wasm(name)).unwrap_or_else(|error| panic!("{name}.wasm: {error}"));
    runtime
        .load(origin, manifest, &bytes)
        .unwrap_or_else(|error| panic!("loading {name}: {error}"))
}

/// Loads a test guest with its manifest text edited first (e.g. limits or instance policy).
pub fn load_with_manifest(
    runtime: &Runtime,
    name: &str,
    edit: impl FnOnce(String) -> String,
) -> Arc<LoadedPlugin> {
    let text = std::fs::read_to_string(guests().join(format!("{name}.toml"))).expect("manifest");
    let manifest = Manifest::parse(&edit(text), &runtime.config().limits).expect("edited manifest");
    let bytes = std::fs::read(wasm(name)).expect("component");
    runtime
        .load(Origin::Directory, manifest, &bytes)
        .expect("plugin loads")
}

/// An envelope for a message of `type_name` in `guild`.
pub fn envelope(id: &str, type_name: &str, guild: Option<&str>) -> Envelope {
    Envelope {
        id: id.to_owned(),
        type_name: type_name.to_owned(),
        timestamp: 1_796_000_000_000,
        source: Source::Api,
        guild_id: guild.map(str::to_owned),
        user_id: None,
        request_id: None,
        priority: None,
    }
}

/// A custom `ECHO_PING` message (every test guest subscribes to it).
pub fn ping(id: &str, guild: Option<&str>) -> (Envelope, Message) {
    (
        envelope(id, "ECHO_PING", guild),
        Message::Custom(CustomMessage {
            type_name: "ECHO_PING".into(),
            data: format!(r#"{{"n":"{id}"}}"#),
        }),
    )
}

/// A `MESSAGE_CREATED` event with `content`.
pub fn message_created(id: &str, guild: &str, content: &str) -> (Envelope, Message) {
    (
        envelope(id, "MESSAGE_CREATED", Some(guild)),
        Message::MessageCreated(guildhost_tests::messages::wit_message_created(
            "300000000000000003",
            "200000000000000002",
            "100000000000000001",
            content,
        )),
    )
}

/// Polls `condition` until it holds or `within` passes.
pub fn eventually(within: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Deploys a guest into `dir` as plugin `as_name` (its manifest's `name` rewritten to match),
/// atomically per file (write aside, then rename), the way an operator should deploy.
pub fn deploy(dir: &Path, guest: &str, as_name: &str) {
    let manifest =
        std::fs::read_to_string(guests().join(format!("{guest}.toml"))).expect("manifest");
    let renamed: String = manifest
        .lines()
        .map(|line| {
            if line.starts_with("name = ") {
                format!("name = \"{as_name}\"\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let staged = dir.join(format!(".{as_name}.toml.staged"));
    std::fs::write(&staged, renamed).expect("stage the manifest");
    std::fs::rename(&staged, dir.join(format!("{as_name}.toml"))).expect("rename into place");
    let staged = dir.join(format!(".{as_name}.wasm.staged"));
    std::fs::copy(wasm(guest), &staged).expect("stage the component");
    std::fs::rename(&staged, dir.join(format!("{as_name}.wasm"))).expect("rename into place");
}

/// Builds the JavaScript test guest `plugins/test-guests-js/<name>` with the SDK's
/// `guildhost-plugin build` (once per content: the result is kept under the target directory,
/// keyed by the hash of the guest's and the SDK's sources) and loads it as a plugins-directory
/// plugin. Needs Node.js 20+ and `npm ci` in `plugins/sdk-js` (`bash .ci/run` does it).
pub fn load_js(runtime: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    let wasm = js_guest(name);
    runtime
        .load_file(&wasm)
        .unwrap_or_else(|error| panic!("loading the JavaScript guest {name}: {error}"))
}

/// The built JavaScript guest's `<name>.wasm` (its manifest beside it).
pub fn js_guest(name: &str) -> PathBuf {
    use sha2::Digest as _;
    use std::sync::Mutex;
    static BUILDING: Mutex<()> = Mutex::new(());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let sdk = repo.join("plugins").join("sdk-js");
    let source = repo.join("plugins").join("test-guests-js").join(name);
    let mut hash = sha2::Sha256::new();
    let mut files = Vec::new();
    for dir in [&source, &sdk, &sdk.join("bin"), &sdk.join("wit")] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
            .map(|entry| entry.expect("a directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        entries.sort();
        files.extend(entries);
    }
    for file in &files {
        hash.update(file.to_string_lossy().as_bytes());
        hash.update(std::fs::read(file).expect("a source file"));
    }
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("js-guests")
        .join(&hex::encode(hash.finalize())[..16]);
    let wasm = out.join(format!("{name}.wasm"));
    let _one_build_at_a_time = BUILDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if wasm.is_file() {
        return wasm;
    }
    assert!(
        sdk.join("node_modules").is_dir(),
        "the JavaScript guests need the SDK's packages: run `npm ci` in {} (Node.js 20+; \
         `bash .ci/run` does it)",
        sdk.display()
    );
    std::fs::create_dir_all(&out).expect("the guests' directory");
    let staged = out.join(format!(".{name}.wasm.{}", std::process::id()));
    let output = std::process::Command::new("node")
        .arg(sdk.join("bin").join("guildhost-plugin.js"))
        .args(["build", "index.js", "--out"])
        .arg(&staged)
        .current_dir(&source)
        .output()
        .unwrap_or_else(|error| panic!("running node (install Node.js 20+): {error}"));
    assert!(
        output.status.success(),
        "building the JavaScript guest {name}:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::copy(source.join("plugin.toml"), out.join(format!("{name}.toml")))
        .expect("the guest's manifest");
    std::fs::rename(&staged, &wasm).expect("the component into place");
    wasm
}

/// Asserts the call kept exactly one output, a `SEND_MESSAGE` to execute (the legitimate post),
/// and dropped exactly one, for `reason`.
pub fn assert_one_post_kept_one_dropped(
    result: &guildhost::runtime::CallResult,
    reason: guildhost::runtime::DropReason,
) {
    use guildhost::runtime::bindings::Output;
    assert_eq!(result.outputs.len(), 1, "the legitimate post is kept");
    assert!(matches!(
        &result.outputs[0],
        Output::Execute(emission) if matches!(emission.message, Message::SendMessage(_))
    ));
    let dropped: Vec<_> = result.dropped.iter().map(|d| d.reason.clone()).collect();
    assert_eq!(dropped, vec![reason]);
}
