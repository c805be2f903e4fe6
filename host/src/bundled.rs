//! The first-party plugins (moderation, automod, music, notifications), built from `plugins/`
//! by the build script and embedded in the binary, so a new operator runs one file. They are
//! installed with [`Origin::FirstParty`]: a global plugin of the same name in the plugins
//! directory shadows the embedded one (which serves again once that file is removed); a
//! guild-scoped one is refused.

use crate::runtime::{LoadError, Manifest, Origin, Runtime};

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
                .and_then(|manifest| runtime.load(Origin::FirstParty, manifest, wasm))
                .and_then(|plugin| runtime.registry().install(plugin))
                .map(drop);
            (name, outcome)
        })
        .collect()
}
