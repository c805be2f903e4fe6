//! The first-party plugins (moderation, automod, music, notifications), built from `plugins/`
//! by the build script and embedded in the binary, so a new operator runs one file. A plugin
//! of the same name in the plugins directory replaces the embedded one.

use crate::runtime::{LoadError, Manifest, Runtime};

/// `(name, component, manifest TOML)` of every embedded plugin.
pub const PLUGINS: &[(&str, &[u8], &str)] =
    include!(concat!(env!("OUT_DIR"), "/bundled_plugins.rs"));

/// Loads and installs every embedded plugin; returns each name with its outcome.
pub fn install(runtime: &Runtime) -> Vec<(&'static str, Result<(), LoadError>)> {
    PLUGINS
        .iter()
        .map(|&(name, wasm, manifest)| {
            let outcome = Manifest::parse(manifest, &runtime.config().limits)
                .map_err(LoadError::from)
                .and_then(|manifest| runtime.load(manifest, wasm))
                .map(|plugin| {
                    runtime.registry().install(plugin);
                });
            (name, outcome)
        })
        .collect()
}
