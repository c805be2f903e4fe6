//! The `guildhost` binary itself, as its users run it: a plugin author's `plugin check` and
//! `plugin run` (with a guild configuration, and with `GUILDHOST_CONFIG` exported), every
//! operator command the README's table documents, `config-check`'s effective TOML with its
//! secrets hidden, and mistyped queue names refused with the one meant. Nothing panics.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The test guests the build script compiled.
fn guest(name: &str, ext: &str) -> PathBuf {
    Path::new(env!("OUT_DIR"))
        .join("test-guests")
        .join(format!("{name}.{ext}"))
}

fn guildhost(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_guildhost"));
    command.args(args).env_remove("GUILDHOST_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("running guildhost {args:?}: {e}"),
    }
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A scratch directory with the `automod-like` guest, a message and a host configuration.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("guildhost-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("{}: {e}", dir.display());
    }
    for ext in ["wasm", "toml"] {
        if let Err(e) = std::fs::copy(
            guest("automod-like", ext),
            dir.join(format!("automod-like.{ext}")),
        ) {
            panic!("automod-like.{ext} (built by host/build.rs): {e}");
        }
    }
    let message = serde_json::json!({
        "id": "m-1", "type": "MESSAGE_CREATED", "timestamp": "2026-11-30T17:45:12.345Z",
        "source": "bot", "guildId": "123456789012345678",
        "data": {
            "messageId": "1312457001122334455", "channelId": "1187459222185005126",
            "authorId": "829410203982675998", "content": "a badword here",
            "mentions": { "users": [], "roles": [], "everyone": false },
            "attachmentCount": 0, "timestamp": "2026-11-30T17:45:12.300Z"
        }
    });
    let written = std::fs::write(dir.join("message.json"), message.to_string())
        .and_then(|()| std::fs::write(dir.join("guildhost.toml"), "[redis]\nprefix = \"cli\"\n"));
    if let Err(e) = written {
        panic!("writing the scratch files: {e}");
    }
    dir
}

#[test]
fn plugin_check_and_run_work_through_the_binary() {
    let dir = scratch("plugin");
    let wasm = dir.join("automod-like.wasm");
    let wasm = wasm.to_string_lossy();
    let message = dir.join("message.json");
    let message = message.to_string_lossy();

    let check = guildhost(&["plugin", "check", &wasm], &[]);
    assert!(check.status.success(), "{}", text(&check));

    let run = guildhost(&["plugin", "run", &wasm, "--message", &message], &[]);
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains(r#"execute {"id":"#)
            && String::from_utf8_lossy(&run.stdout).contains(r#""type":"DELETE_MESSAGE""#),
        "{}",
        text(&run)
    );

    // The walk-through's next step: a guild configuration, with the host's configuration file
    // named by the environment as an operator's shell may have it.
    let config = dir.join("guildhost.toml");
    let configured = guildhost(
        &[
            "plugin",
            "run",
            &wasm,
            "--message",
            &message,
            "--guild-config",
            r#"{"strict": true}"#,
        ],
        &[("GUILDHOST_CONFIG", &config)],
    );
    assert!(configured.status.success(), "{}", text(&configured));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn mistyped_queue_names_are_refused_with_the_one_meant() {
    let dir = scratch("typos");
    let config = dir.join("typo.toml");
    if let Err(e) = std::fs::write(&config, "[queues.\"bot:musik\"]\nconcurrency = 2\n") {
        panic!("{}: {e}", config.display());
    }
    let check = guildhost(&["config-check"], &[("GUILDHOST_CONFIG", &config)]);
    assert!(!check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains(
            "queues.\"bot:musik\": is not a queue guildhost knows; did you mean \"bot:music\"?"
        ),
        "{}",
        text(&check)
    );
    // Refused before anything connects: no Redis is needed to be told.
    let message = dir.join("message.json");
    let enqueue = guildhost(
        &["enqueue", "bot:comands", &format!("@{}", message.display())],
        &[],
    );
    assert!(!enqueue.status.success(), "{}", text(&enqueue));
    assert!(
        text(&enqueue).contains("\"bot:comands\" is not a queue guildhost or the API works; did you mean \"bot:commands\"?"),
        "{}",
        text(&enqueue)
    );
}

#[test]
fn config_check_prints_the_effective_settings_as_toml_with_secrets_hidden() {
    let dir = scratch("config-check");
    let config = dir.join("secret.toml");
    let written = std::fs::write(
        &config,
        "[redis]\nurl = \"redis://ops:hunter2@cache.internal:6379\"\n[discord]\ntoken = \"MTIz.secret.token\"\n",
    );
    if let Err(e) = written {
        panic!("{}: {e}", config.display());
    }
    let check = guildhost(&["config-check"], &[("GUILDHOST_CONFIG", &config)]);
    assert!(check.status.success(), "{}", text(&check));
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(
        !stdout.contains("hunter2") && !stdout.contains("secret.token"),
        "{stdout}"
    );
    let printed: toml::Table = match stdout.parse() {
        Ok(table) => table,
        Err(e) => panic!("config-check printed no TOML ({e}):\n{stdout}"),
    };
    assert_eq!(
        printed["redis"]["url"].as_str(),
        Some("redis://ops:***@cache.internal:6379")
    );
    assert_eq!(printed["discord"]["token"].as_str(), Some("***"));
    assert_eq!(
        printed["queues"]["defaults"]["attempts"].as_integer(),
        Some(3)
    );
}

/// Every operator command the README's table documents (`| `guildhost …` | … |`), one form per
/// alternative: `dlq list|show <id>` gives `dlq list` and `dlq show <id>`.
fn documented_forms() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let mut forms = Vec::new();
    for row in readme.lines().filter(|l| l.starts_with("| `guildhost ")) {
        let cell = row
            .trim_start_matches("| `guildhost ")
            .split('`')
            .next()
            .unwrap_or_default()
            .replace("\\|", "|");
        // The group is the words before the first alternative (`plugin store` in `plugin store
        // show|enable`), else the first word.
        let words: Vec<&str> = cell.split(' ').collect();
        let first_choice = words
            .iter()
            .position(|word| word.contains('|') && !word.starts_with('<'))
            .unwrap_or(1)
            .max(1);
        let group = words[..first_choice].join(" ");
        let rest = words[first_choice..].join(" ");
        // `|` separates alternatives, except inside a placeholder (`<json|@file>`).
        let mut depth = 0;
        let mut alternative = String::new();
        let mut alternatives = Vec::new();
        for c in rest.chars() {
            match c {
                '<' => depth += 1,
                '>' => depth -= 1,
                '|' if depth == 0 => {
                    alternatives.push(std::mem::take(&mut alternative));
                    continue;
                }
                _ => {}
            }
            alternative.push(c);
        }
        alternatives.push(alternative);
        for alternative in alternatives {
            forms.push(format!("{group} {alternative}").trim().to_owned());
        }
    }
    forms
}

/// The README's operator commands, each run through the built binary against the test Redis (a
/// key prefix of its own, set the documented way: `GUILDHOST__REDIS__PREFIX`), with a real dead
/// letter to show and replay. Each exits 0 without a panic; a documented command this test cannot
/// run fails it.
#[tokio::test]
async fn every_operator_command_in_the_readme_runs() {
    use guildhost::queue::{DeadLetters, JobFailure, RedisConn, Worker, WorkerOptions, handler_fn};

    let dir = scratch("readme");
    let prefix = format!("readme-{}", std::process::id());
    let wasm = dir.join("automod-like.wasm").display().to_string();
    let message = dir.join("message.json").display().to_string();
    let send = serde_json::json!({
        "id": "cmd-readme-1", "type": "SEND_MESSAGE", "timestamp": "2026-12-01T09:00:00.000Z",
        "source": "api", "guildId": "123456789012345678",
        "data": { "channelId": "1187459222185005126", "content": "hello" }
    })
    .to_string();
    let run = |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_guildhost"));
        command
            .args(args)
            .current_dir(&dir)
            .env_remove("GUILDHOST_CONFIG")
            .env("GUILDHOST__REDIS__PREFIX", &prefix);
        let output = match command.output() {
            Ok(output) => output,
            Err(e) => panic!("running guildhost {args:?}: {e}"),
        };
        assert!(
            output.status.success() && !text(&output).contains("panicked"),
            "guildhost {}: {}",
            args.join(" "),
            text(&output)
        );
        output
    };

    // A dead letter to show and replay: a command that fails for good.
    run(&["enqueue", "bot:commands", &send]);
    let conn = match RedisConn::connect("redis://127.0.0.1:6379").await {
        Ok(conn) => conn,
        Err(e) => panic!("this test needs Redis on 127.0.0.1:6379 (apt install redis-server): {e}"),
    };
    let worker = Worker::new(
        conn.clone(),
        &prefix,
        "bot:commands",
        WorkerOptions::default(),
    );
    let letters = DeadLetters::new(conn.clone(), &prefix, None);
    let failing = handler_fn(|_job| async { Err(JobFailure::permanent("refused for the test")) });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let working = tokio::spawn(async move {
        worker
            .run(failing, async {
                let _ = stopped.await;
            })
            .await
    });
    let mut id = None;
    for _ in 0..250 {
        if let Some(letter) = letters.list().await.ok().and_then(|l| l.into_iter().next()) {
            id = Some(letter.id);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    let _ = working.await;
    let Some(id) = id else {
        panic!("the failed command never reached the dead letters");
    };

    // A guild's plugin in the store, for the `plugin store` commands.
    const GUILD: &str = "123456789012345678";
    let component = b"\0asm a guild's component".to_vec();
    let sha = {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(&component))
    };
    let store = guildhost::store::PluginStore::new(conn.clone(), &prefix);
    let mut c = conn.clone();
    let _: () = redis::cmd("SET")
        .arg(store.blob_key(&sha))
        .arg(&component)
        .query_async(&mut c)
        .await
        .unwrap_or_else(|e| panic!("upload: {e}"));
    let record = guildhost::store::Record {
        enabled: true,
        operator_hold: false,
        current: guildhost::store::Version {
            version: "1.0.0".into(),
            sha256: sha.clone(),
            size: component.len() as u64,
            manifest: "name = \"greeter\"".into(),
            installed_by: None,
            installed_at: "2026-12-07T12:00:00.000Z".into(),
        },
        previous: Vec::new(),
    };
    store
        .update(GUILD, "greeter", "install", |_| {
            Ok::<_, ()>(guildhost::store::Change::Put(record.clone()))
        })
        .await
        .unwrap_or_else(|e| panic!("install in the store: {e:?}"));

    let new_project = dir.join("readme-plugin").display().to_string();
    let forms = documented_forms();
    assert!(forms.len() >= 10, "the README's command table: {forms:?}");
    for form in &forms {
        let args: Vec<&str> = match form.as_str() {
            "queues" => vec!["queues"],
            "dlq list" => vec!["dlq", "list"],
            "dlq show <id>" => vec!["dlq", "show", &id],
            "dlq replay <id>" => vec!["dlq", "replay", &id],
            "dlq replay --all" => vec!["dlq", "replay", "--all"],
            "dlq purge" => vec!["dlq", "purge"],
            "enqueue <queue> <json|@file>" => vec!["enqueue", "bot:commands", &send],
            "config-check" => vec!["config-check"],
            "plugin new <name> [--lang <rust|js|ts|py>]" => {
                vec![
                    "plugin",
                    "new",
                    "readme-plugin",
                    "--lang",
                    "ts",
                    "--dir",
                    &new_project,
                ]
            }
            "plugin list" => vec!["plugin", "list"],
            "plugin check" => vec!["plugin", "check", &wasm],
            "plugin run" => vec!["plugin", "run", &wasm, "--message", &message],
            "plugin store list [--guild <id>]" => vec!["plugin", "store", "list", "--guild", GUILD],
            "plugin store show" => vec!["plugin", "store", "show", GUILD, "greeter"],
            "plugin store enable" => vec!["plugin", "store", "enable", GUILD, "greeter"],
            "plugin store disable" => vec!["plugin", "store", "disable", GUILD, "greeter"],
            "plugin store remove <guild> <name>" => {
                vec!["plugin", "store", "remove", GUILD, "greeter"]
            }
            "plugin store kill" => vec!["plugin", "store", "kill", &sha, "--reason", "test"],
            "plugin store revive <sha256>" => vec!["plugin", "store", "revive", &sha],
            other => panic!("the README documents `guildhost {other}`; teach this test to run it"),
        };
        run(&args);
    }
    // The `enqueue` file form, too.
    let file = dir.join("send.json");
    if let Err(e) = std::fs::write(&file, &send) {
        panic!("{}: {e}", file.display());
    }
    run(&["enqueue", "bot:commands", &format!("@{}", file.display())]);
}

/// The guild admin example's "Check and run it locally" block (`examples/guild-automod`), run
/// as its README shows it — every line, through `sh` with the built binary on `PATH` — in a
/// scratch directory laid out as the example's: the component where `cargo build` puts it, the
/// manifest and the example message. Each line succeeds, nothing panics, and the outputs are
/// what the README says.
#[test]
fn the_examples_check_and_run_block_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits in the repository root")
        .to_path_buf();
    let example = root.join("examples").join("guild-automod");
    let readme = std::fs::read_to_string(example.join("README.md")).expect("the example README");
    let section = readme
        .split("## 3.")
        .nth(1)
        .and_then(|rest| rest.split("```sh\n").nth(1))
        .and_then(|block| block.split("\n```").next())
        .expect("the README's section 3 has a ```sh block");

    // The component, built as section 1 does (in the guests' target directory, where the SDK's
    // dependencies are already built).
    let target = root.join("target").join("wasm-guests");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(example.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .output()
        .expect("cargo runs");
    assert!(
        built.status.success(),
        "building examples/guild-automod (needs `rustup target add wasm32-wasip2`):\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let dir = std::env::temp_dir().join(format!("guildhost-example-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let release = dir.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&release).expect("scratch directory");
    std::fs::copy(
        target.join("wasm32-wasip2/release/guild_automod.wasm"),
        release.join("guild_automod.wasm"),
    )
    .expect("the component");
    for file in ["plugin.toml", "message.json"] {
        std::fs::copy(example.join(file), dir.join(file)).expect("an example file");
    }

    let binary = Path::new(env!("CARGO_BIN_EXE_guildhost"));
    let path = format!(
        "{}:{}",
        binary.parent().expect("the binary's directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = section.replace("\\\n", " ");
    let mut outputs = Vec::new();
    for line in script.lines().filter(|l| !l.trim().is_empty()) {
        let output = Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(&dir)
            .env("PATH", &path)
            .env_remove("GUILDHOST_CONFIG")
            .output()
            .expect("sh runs");
        let shown = text(&output);
        assert!(output.status.success(), "`{line}` failed:\n{shown}");
        assert!(!shown.contains("panicked"), "`{line}`:\n{shown}");
        outputs.push((line.to_owned(), shown));
    }
    let of = |start: &str| -> Vec<&String> {
        outputs
            .iter()
            .filter(|(line, _)| line.starts_with(start))
            .map(|(_, shown)| shown)
            .collect()
    };
    let checks = of("guildhost plugin check");
    assert_eq!(checks.len(), 1, "the block checks the plugin once");
    assert!(
        checks[0].contains("guild 123456789012345678"),
        "{}",
        checks[0]
    );
    let runs = of("guildhost plugin run");
    assert_eq!(runs.len(), 2, "the block runs the plugin twice");
    assert!(
        runs[0].contains("execute {\"id\"") && runs[0].contains("\"type\":\"DELETE_MESSAGE\""),
        "as the README says, outputs print as the queue messages they become:\n{}",
        runs[0]
    );
    assert!(
        runs[1].contains("outputs (0)"),
        "as the README says, a guild blocking only example.org leaves the link alone:\n{}",
        runs[1]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
