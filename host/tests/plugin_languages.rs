//! Plugins in every language, through the front door: `guildhost plugin new` in Rust,
//! JavaScript, TypeScript and Python, and the TypeScript example (`examples/guild-automod-ts`). Each is
//! built with its one command and unit-tested as its README says, passes `guildhost plugin
//! check` and `guildhost plugin run` unmodified, and is then served by a live `guildhost run`
//! that acts on a `MESSAGE_CREATED` (the dry-run record of its command, in Redis).
//!
//! Needs Node.js 20+ with npm (the JavaScript projects install their packages from the npm
//! registry or npm's cache), Python 3.11+ with venv and pip (componentize-py, from PyPI or pip's
//! cache), the `wasm32-wasip2` Rust target and Redis on 127.0.0.1:6379.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use guildhost::scaffold::Lang;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the repository root")
        .to_path_buf()
}

/// Compiled components, shared by every step and host of these tests (a JavaScript component
/// takes seconds to compile).
fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("plugin-author-cache")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guildhost-lang-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn report(what: &str, output: &Output) -> String {
    format!(
        "{what}: status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `program args` in `dir` and returns its stdout; fails the test with its output otherwise.
fn run(dir: &Path, program: &str, args: &[&str], hint: &str) -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(python_env().join("bin")).chain(std::env::split_paths(&path)),
    )
    .expect("a PATH");
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PATH", path)
        .env("GUILDHOST_CACHE_DIR", cache())
        .env_remove("GUILDHOST_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {program} ({hint}): {e}"));
    let what = format!("{program} {} in {}", args.join(" "), dir.display());
    assert!(output.status.success(), "{}", report(&what, &output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn guildhost(dir: &Path, args: &[&str]) -> String {
    let out = run(
        dir,
        env!("CARGO_BIN_EXE_guildhost"),
        args,
        "the binary under test",
    );
    assert!(!out.contains("panicked"), "{out}");
    out
}

const NPM: &str = "Node.js 20+ and npm (apt install nodejs npm)";
const PYTHON: &str = "Python 3.11+ with venv and pip (apt install python3-venv python3-pip)";

/// A virtual environment with the Python scaffold's requirements (componentize-py), made once
/// and shared; its `bin` leads the `PATH` of every command these tests run, as an activated
/// environment would.
fn python_env() -> PathBuf {
    static MADE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let env = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-env");
        if !env.join("bin").join("componentize-py").is_file() {
            let requirements = repo().join("host/templates/plugin-new/py/requirements.txt");
            for args in [
                vec!["-m".to_owned(), "venv".into(), env.display().to_string()],
                vec![
                    env.join("bin/python").display().to_string(),
                    "-m".into(),
                    "pip".into(),
                    "install".into(),
                    "--quiet".into(),
                    "-r".into(),
                    requirements.display().to_string(),
                ],
            ] {
                let (program, args) = if args[0] == "-m" {
                    ("python3".to_owned(), &args[..])
                } else {
                    (args[0].clone(), &args[1..])
                };
                let output = Command::new(&program)
                    .args(args)
                    .output()
                    .unwrap_or_else(|e| panic!("running {program} ({PYTHON}): {e}"));
                assert!(
                    output.status.success(),
                    "{}",
                    report(&format!("{program} {args:?} ({PYTHON})"), &output)
                );
            }
        }
        env
    })
    .clone()
}

/// `npm install` as the README says, from npm's cache when it has the packages.
fn npm_install(dir: &Path) {
    run(
        dir,
        "npm",
        &[
            "install",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ],
        NPM,
    );
}

/// Builds and unit-tests a project as its README says; returns the component and the
/// `--manifest` argument `plugin check` and `plugin run` need.
fn build_and_test(dir: &Path, name: &str, lang: Lang) -> (String, Vec<String>) {
    match lang {
        Lang::Rust => {
            // The guests' target directory, where the SDK's dependencies are already built.
            let target = repo().join("target").join("wasm-guests");
            let cargo = |args: &[&str]| {
                let output = Command::new(env!("CARGO"))
                    .args(args)
                    .current_dir(dir)
                    .env("CARGO_TARGET_DIR", &target)
                    .env_remove("RUSTC_WORKSPACE_WRAPPER")
                    .env_remove("RUSTC_WRAPPER")
                    .output()
                    .expect("cargo runs");
                assert!(
                    output.status.success(),
                    "{}",
                    report(
                        &format!("cargo {args:?} (needs `rustup target add wasm32-wasip2`)"),
                        &output
                    )
                );
                String::from_utf8_lossy(&output.stdout).into_owned()
            };
            cargo(&["build", "--release", "--quiet", "--target", "wasm32-wasip2"]);
            let tested = cargo(&["test", "--quiet"]);
            assert!(tested.contains("test result: ok"), "{tested}");
            let wasm = target.join(format!(
                "wasm32-wasip2/release/{}.wasm",
                name.replace('-', "_")
            ));
            (
                wasm.display().to_string(),
                vec!["--manifest".into(), "plugin.toml".into()],
            )
        }
        Lang::Py => {
            run(dir, "sh", &["build.sh"], PYTHON);
            let output = Command::new(python_env().join("bin/python"))
                .args(["-m", "unittest", "test_app"])
                .current_dir(dir)
                .output()
                .unwrap_or_else(|e| panic!("python ({PYTHON}): {e}"));
            assert!(
                output.status.success(),
                "{}",
                report("python -m unittest test_app", &output)
            );
            assert!(
                String::from_utf8_lossy(&output.stderr).contains("\nOK"),
                "{}",
                report("unittest", &output)
            );
            (format!("dist/{name}.wasm"), Vec::new())
        }
        Lang::Js | Lang::Ts => {
            npm_install(dir);
            run(dir, "npm", &["run", "build"], NPM);
            let tested = run(dir, "npm", &["test"], NPM);
            assert!(
                tested.contains("# fail 0") && !tested.contains("# pass 0"),
                "{tested}"
            );
            (format!("dist/{name}.wasm"), Vec::new())
        }
    }
}

/// `plugin check` and `plugin run` on the project's own sample message, as its README says.
fn check_and_run(dir: &Path, wasm: &str, manifest: &[String], expect: &str) {
    let manifest: Vec<&str> = manifest.iter().map(String::as_str).collect();
    let checked = guildhost(dir, &[&["plugin", "check", wasm][..], &manifest].concat());
    assert!(checked.contains("subscribes MESSAGE_CREATED"), "{checked}");
    let ran = guildhost(
        dir,
        &[
            &["plugin", "run", wasm][..],
            &manifest,
            &["--message", "message.json"],
        ]
        .concat(),
    );
    assert!(ran.contains(expect), "plugin run:\n{ran}");
}

/// A `guildhost run` process, stopped when dropped.
struct LiveHost {
    child: Child,
    dir: PathBuf,
}

impl Drop for LiveHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Installs the component and its manifest into a fresh host's plugins directory as
/// `<name>.wasm` and `<name>.toml`, sends `message` as the gateway would, and returns the first
/// dry-run record the host writes.
fn served(name: &str, wasm: &Path, manifest: &Path, message: &Path) -> serde_json::Value {
    let dir = scratch(&format!("{name}-host"));
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(wasm, plugins.join(format!("{name}.wasm"))).expect("install the component");
    std::fs::copy(manifest, plugins.join(format!("{name}.toml"))).expect("install the manifest");
    let prefix = format!("lang-{name}-{}", std::process::id());
    let config = format!(
        "[redis]\nprefix = \"{prefix}\"\n\n[plugins]\ndir = \"{}\"\nfirst_party = false\ncache_dir = \"{}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n",
        plugins.display(),
        cache().display()
    );
    let config_file = dir.join("guildhost.toml");
    std::fs::write(&config_file, config).expect("config");
    let config_arg = config_file.display().to_string();
    let message_arg = format!("@{}", message.display());
    guildhost(
        &dir,
        &[
            "--config",
            &config_arg,
            "enqueue",
            "guildhost:gateway",
            &message_arg,
        ],
    );
    let child = Command::new(env!("CARGO_BIN_EXE_guildhost"))
        .args(["--config", &config_arg, "run"])
        .env_remove("GUILDHOST_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("guildhost run starts");
    let _host = LiveHost { child, dir };
    let client = redis::Client::open("redis://127.0.0.1:6379").expect("a Redis URL");
    let mut conn = client.get_connection().unwrap_or_else(|e| {
        panic!("this test needs Redis on 127.0.0.1:6379 (apt install redis-server): {e}")
    });
    let key = format!("{prefix}:guildhost:dry-run");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let records: Vec<String> = redis::cmd("LRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query(&mut conn)
            .expect("LRANGE");
        if let Some(record) = records.first() {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{prefix}:*"))
                .query(&mut conn)
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query(&mut conn);
            }
            return serde_json::from_str(record).expect("a dry-run record is JSON");
        }
        assert!(
            Instant::now() < deadline,
            "{name}: no dry-run record within 180 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `guildhost plugin new` → build → unit tests → check → run → served by a live host.
fn scaffold_end_to_end(lang: Lang, name: &str) {
    let parent = scratch(name);
    let created = guildhost(
        &parent,
        &[
            "plugin",
            "new",
            name,
            "--lang",
            &format!("{lang:?}").to_lowercase(),
        ],
    );
    assert!(created.contains("next:"), "{created}");
    let dir = parent.join(name);
    let (wasm, manifest) = build_and_test(&dir, name, lang);
    check_and_run(&dir, &wasm, &manifest, r#""content":"pong""#);
    let record = served(
        name,
        &dir.join(&wasm),
        &dir.join("plugin.toml"),
        &dir.join("message.json"),
    );
    assert_eq!(record["action"], "SEND_MESSAGE", "{record}");
    assert_eq!(record["data"]["content"], "pong", "{record}");
    assert_eq!(
        record["data"]["channelId"], "1187459222185005126",
        "{record}"
    );
    let _ = std::fs::remove_dir_all(&parent);
}

#[test]
fn a_new_rust_plugin_builds_tests_checks_runs_and_is_served() {
    scaffold_end_to_end(Lang::Rust, "pinger-rs");
}

#[test]
fn a_new_javascript_plugin_builds_tests_checks_runs_and_is_served() {
    scaffold_end_to_end(Lang::Js, "pinger-js");
}

#[test]
fn a_new_typescript_plugin_builds_tests_checks_runs_and_is_served() {
    scaffold_end_to_end(Lang::Ts, "pinger-ts");
}

#[test]
fn a_new_python_plugin_builds_tests_checks_runs_and_is_served() {
    scaffold_end_to_end(Lang::Py, "pinger-py");
}

/// The TypeScript automod example, from a copy outside the repository (its SDK dependency
/// pointed at this checkout's by absolute path): the same rules and walk-through as the Rust one.
#[test]
fn the_typescript_example_builds_tests_checks_runs_and_is_served() {
    let example = repo().join("examples").join("guild-automod-ts");
    let copy = scratch("guild-automod-ts");
    for file in [
        "package.json",
        "tsconfig.json",
        "plugin.toml",
        "message.json",
    ] {
        std::fs::copy(example.join(file), copy.join(file))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    for dir in ["src", "test"] {
        std::fs::create_dir_all(copy.join(dir)).expect("a source dir");
        for entry in std::fs::read_dir(example.join(dir)).expect("the example's sources") {
            let path = entry.expect("a file").path();
            std::fs::copy(
                &path,
                copy.join(dir).join(path.file_name().expect("a name")),
            )
            .expect("a source file");
        }
    }
    let relative = "file:../../plugins/sdk-js";
    let manifest = std::fs::read_to_string(copy.join("package.json")).expect("package.json");
    assert!(
        manifest.contains(relative),
        "the example names the SDK as {relative}"
    );
    let sdk = format!("file:{}", repo().join("plugins").join("sdk-js").display());
    std::fs::write(copy.join("package.json"), manifest.replace(relative, &sdk))
        .expect("package.json");

    let (wasm, manifest) = build_and_test(&copy, "guild-automod-ts", Lang::Ts);
    check_and_run(&copy, &wasm, &manifest, r#""type":"DELETE_MESSAGE""#);
    // The walk-through's second run: a guild configuration that blocks only example.org.
    let ran = guildhost(
        &copy,
        &[
            "plugin",
            "run",
            &wasm,
            "--message",
            "message.json",
            "--guild-config",
            r#"{"blockedHosts": ["example.org"], "strikesBeforeWarning": 3}"#,
        ],
    );
    assert!(ran.contains("outputs (0)"), "{ran}");
    let record = served(
        "guild-automod-ts",
        &copy.join(&wasm),
        &copy.join("dist").join("guild-automod-ts.toml"),
        &copy.join("message.json"),
    );
    assert_eq!(record["action"], "DELETE_MESSAGE", "{record}");
    assert_eq!(
        record["data"]["messageId"], "1312457001122334455",
        "{record}"
    );
    let _ = std::fs::remove_dir_all(&copy);
}
