//! The plugin author's loop without Redis or Discord: `guildhost plugin check` (what a component
//! imports, which world version it targets, what its manifest grants) and `guildhost plugin run`
//! (one message through the real runtime, printing outputs, logs, time and fuel).

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use serde_json::Value;

use super::bindings::{Envelope, Message, Output};
use super::kv::MemoryKv;
use super::manifest::{InstancePolicy, Scope};
use super::plugin::{GuildContext, LoadedPlugin};
use super::{Runtime, RuntimeConfig};

/// A runtime sized for one-off use: on-demand allocation, and the author's artifact cache, so
/// checking and running the same build again does not compile it again (a JavaScript plugin
/// embeds its engine: seconds of compilation).
fn tool_runtime() -> anyhow::Result<Runtime> {
    let config = RuntimeConfig {
        pooling: false,
        cache_dir: author_cache_dir(),
        ..RuntimeConfig::default()
    };
    Runtime::new(config, Arc::new(MemoryKv::new()))
}

/// Where `plugin check` and `plugin run` keep compiled components: `$GUILDHOST_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/guildhost`, else `~/.cache/guildhost` (absolute paths only); none when none
/// of them is set. Entries are keyed by the engine and the component's hash, so a stale one is
/// never used. The cache holds native code that is loaded as is, so a directory others may
/// write to (group or world writable) is not used.
pub fn author_cache_dir() -> Option<std::path::PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(std::path::PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    let dir = var("GUILDHOST_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|dir| dir.join("guildhost")))
        .or_else(|| var("HOME").map(|home| home.join(".cache").join("guildhost")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir);
        let mode = std::fs::metadata(&dir).ok()?.permissions().mode();
        if mode & 0o022 != 0 {
            return None;
        }
    }
    Some(dir)
}

/// Loads `<file>.wasm` with its manifest (`manifest`, or `<file>.toml` beside it) and describes
/// it.
pub fn check(wasm: &Path, manifest: Option<&Path>) -> anyhow::Result<String> {
    let runtime = tool_runtime()?;
    let plugin = load(&runtime, wasm, manifest)?;
    Ok(describe(&plugin))
}

fn load(
    runtime: &Runtime,
    wasm: &Path,
    manifest: Option<&Path>,
) -> Result<Arc<LoadedPlugin>, crate::LoadError> {
    match manifest {
        Some(manifest) => runtime.load_file_with_manifest(wasm, manifest),
        None => runtime.load_file(wasm),
    }
}

fn describe(plugin: &LoadedPlugin) -> String {
    let manifest = plugin.manifest();
    let limits = &manifest.limits;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "plugin     {} {}", manifest.name, manifest.version);
    let _ = writeln!(out, "world      {} (supported)", plugin.world());
    let scope = match &manifest.scope {
        Scope::Global => "global".to_owned(),
        Scope::Guild(guild) => format!("guild {guild}"),
    };
    let _ = writeln!(out, "scope      {scope}");
    let list = |items: &std::collections::BTreeSet<String>| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    let _ = writeln!(out, "subscribes {}", list(&manifest.subscribes));
    let _ = writeln!(out, "emits      {}", list(&manifest.emits));
    if !manifest.commands.is_empty() {
        let names: Vec<&str> = manifest.commands.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(out, "commands   /{}", names.join(", /"));
    }
    let _ = writeln!(
        out,
        "limits     wall-time {}ms, memory {} bytes, outputs {}, output-bytes {}, kv-keys {}, kv-bytes {}, fuel {}",
        limits.wall_time.as_millis(),
        limits.memory_bytes,
        limits.max_outputs,
        limits.max_output_bytes,
        limits.kv_keys,
        limits.kv_bytes,
        limits
            .fuel
            .map(|fuel| fuel.to_string())
            .unwrap_or_else(|| "unlimited".into()),
    );
    let instance = match manifest.instance {
        InstancePolicy::Warm { recycle_after } => {
            format!("warm, recycled after {recycle_after} calls")
        }
        InstancePolicy::Fresh => "fresh instance per message".to_owned(),
    };
    let _ = writeln!(out, "instance   {instance}");
    for notice in &manifest.notices {
        let _ = writeln!(out, "notice     {notice}");
    }
    let _ = writeln!(out, "config     {}", manifest.default_config);
    let _ = writeln!(out, "imports");
    for import in &plugin.surface().imports {
        let _ = writeln!(out, "  {import}");
    }
    let _ = writeln!(out, "exports");
    for export in &plugin.surface().exports {
        let _ = writeln!(out, "  {export}");
    }
    out
}

/// Reads a message fixture in the WIT shape, `{"envelope": …, "message": …}`. (A queue message
/// as the seed writes it is decoded by the protocol and converted before it reaches the
/// runtime: see `guildhost::ops::plugin_run`.)
pub fn parse_wit_fixture(value: &Value) -> anyhow::Result<Option<(Envelope, Message)>> {
    let (Some(envelope), Some(message)) = (value.get("envelope"), value.get("message")) else {
        return Ok(None);
    };
    let envelope: Envelope = serde_path_to_error::deserialize(envelope.clone())
        .context("fixture `envelope` does not match the WIT envelope")?;
    let message: Message = serde_path_to_error::deserialize(message.clone())
        .context("fixture `message` does not match the WIT message variant")?;
    Ok(Some((envelope, message)))
}

/// Runs one message through the plugin and renders the result; `render` writes one output as
/// the caller's users know it (the host renders the JSON message it becomes on its queue).
pub fn run(
    wasm: &Path,
    manifest: Option<&Path>,
    envelope: &Envelope,
    message: &Message,
    config: Option<&str>,
    render: &dyn Fn(&Output) -> String,
) -> anyhow::Result<(String, bool)> {
    let guild_config = match config {
        None => None,
        Some(text) => {
            let json = match serde_json::from_str::<Value>(text) {
                Ok(json) => json,
                Err(_) if Path::new(text).is_file() => {
                    let file = std::fs::read_to_string(text)
                        .with_context(|| format!("cannot read the config file {text}"))?;
                    serde_json::from_str(&file)
                        .with_context(|| format!("the config file {text} is not valid JSON"))?
                }
                Err(error) => {
                    anyhow::bail!("--guild-config is neither JSON nor a JSON file: {error}")
                }
            };
            anyhow::ensure!(json.is_object(), "--guild-config must be a JSON object");
            Some(Arc::new(json))
        }
    };
    let runtime = tool_runtime()?;
    let plugin = load(&runtime, wasm, manifest)?;
    let outcome = plugin.call(
        envelope,
        message,
        &GuildContext {
            config: guild_config,
        },
    );
    let mut out = String::new();
    let (logs, fuel, duration, ok) = match &outcome {
        Ok(result) => {
            let _ = writeln!(out, "outputs ({})", result.outputs.len());
            for output in &result.outputs {
                let _ = writeln!(out, "  {}", render(output));
            }
            if !result.dropped.is_empty() {
                let _ = writeln!(out, "dropped ({})", result.dropped.len());
                for dropped in &result.dropped {
                    let _ = writeln!(out, "  {}: {}", dropped.reason, render(&dropped.output));
                }
            }
            (&result.logs, result.fuel, result.duration, true)
        }
        Err(failure) => {
            let _ = writeln!(out, "error   {}", failure.error);
            (&failure.logs, failure.fuel, failure.duration, false)
        }
    };
    let _ = writeln!(out, "logs ({})", logs.len());
    for line in logs {
        let _ = writeln!(
            out,
            "  [{:?}/{:?}] {}",
            line.level, line.source, line.message
        );
    }
    let _ = writeln!(out, "time    {:?}", duration);
    let _ = writeln!(
        out,
        "fuel    {}",
        fuel.map(|fuel| fuel.to_string())
            .unwrap_or_else(|| "not metered".into())
    );
    if let Ok(result) = &outcome {
        let _ = writeln!(
            out,
            "memory  {} KiB (of the manifest's {} KiB)",
            result.memory_bytes / 1024,
            plugin.manifest().limits.memory_bytes / 1024
        );
    }
    Ok((out, ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wit_fixture_names_the_field_that_does_not_fit() {
        let value = serde_json::json!({"envelope": {"id": 5}, "message": {}});
        let error = parse_wit_fixture(&value).unwrap_err();
        assert!(format!("{error:#}").contains("id"), "{error:#}");
        let seed = serde_json::json!({"id": "m1", "type": "X"});
        assert!(parse_wit_fixture(&seed).unwrap().is_none());
    }
}
