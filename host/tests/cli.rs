//! The `guildhost` binary itself, as a plugin author runs it: `plugin check` and `plugin run`
//! (with a guild configuration, and with `GUILDHOST_CONFIG` exported) exit 0 and print their
//! report; nothing panics.

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
