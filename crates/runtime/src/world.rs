//! What a component asks of the host: its imports checked against the allow-list, and the
//! `guildhost:plugin` version it targets, read from its interface names at load time so an
//! unsupported version is refused with a clear message rather than a link error.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::LoadError;

/// The WIT package every plugin implements.
pub(crate) const PACKAGE: &str = "guildhost:plugin";

/// A `guildhost:plugin` version line this host serves. Adding a major version means adding a
/// variant here, its bindings module in `bindings.rs` and an arm where instances are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorldVersion {
    /// `guildhost:plugin@0.1.x`.
    V0_1,
}

impl WorldVersion {
    /// Every version line this host serves.
    pub const SUPPORTED: &'static [WorldVersion] = &[WorldVersion::V0_1];

    /// The version line as users write it, e.g. `0.1.x`.
    pub fn label(self) -> &'static str {
        match self {
            Self::V0_1 => "0.1.x",
        }
    }

    /// The line a semver version belongs to: `0.minor` below 1.0, `major` from 1.0 on.
    fn for_version(version: &str) -> Option<Self> {
        let mut parts = version.split(['.', '-', '+']);
        let major: u64 = parts.next()?.parse().ok()?;
        let minor: u64 = parts.next()?.parse().ok()?;
        match (major, minor) {
            (0, 1) => Some(Self::V0_1),
            _ => None,
        }
    }

    fn supported_labels() -> Vec<String> {
        Self::SUPPORTED
            .iter()
            .map(|version| format!("{PACKAGE}@{}", version.label()))
            .collect()
    }
}

impl std::fmt::Display for WorldVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PACKAGE}@{}", self.label())
    }
}

/// Interfaces (package/interface, without version) a plugin may import. WASI is linked with no
/// preopened directory, no sockets, no environment and no arguments, so the filesystem interfaces
/// (imported by components built through the wasip1 adapter, e.g. by `cargo component`) reach
/// nothing.
const ALLOWED_IMPORTS: &[&str] = &[
    "guildhost:plugin/types",
    "guildhost:plugin/logging",
    "guildhost:plugin/kv",
    "guildhost:plugin/clock",
    "guildhost:plugin/config",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
];

/// A component's imports and exports, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Surface {
    /// Import names, e.g. `guildhost:plugin/kv@0.1.0`.
    pub imports: Vec<String>,
    /// Export names, e.g. `handle`.
    pub exports: Vec<String>,
}

impl Surface {
    /// Reads a compiled component's imports and exports.
    pub fn of(engine: &Engine, component: &Component) -> Self {
        let ty = component.component_type();
        Self {
            imports: ty
                .imports(engine)
                .map(|(name, _)| name.to_owned())
                .collect(),
            exports: ty
                .exports(engine)
                .map(|(name, _)| name.to_owned())
                .collect(),
        }
    }

    /// Refuses the first import outside the allow-list, naming it.
    pub fn check_imports(&self, plugin: &str) -> Result<(), LoadError> {
        for import in &self.imports {
            let unversioned = import.split('@').next().unwrap_or(import);
            if !ALLOWED_IMPORTS.contains(&unversioned) {
                return Err(LoadError::ForbiddenImport {
                    plugin: plugin.to_owned(),
                    import: import.clone(),
                });
            }
        }
        Ok(())
    }

    /// The `guildhost:plugin` version the component targets, from the versions on its
    /// `guildhost:plugin/*` imports and exports.
    pub fn world_version(&self, plugin: &str) -> Result<WorldVersion, LoadError> {
        let prefix = format!("{PACKAGE}/");
        let mut found: Option<&str> = None;
        for name in self.imports.iter().chain(&self.exports) {
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let Some((_, version)) = rest.split_once('@') else {
                continue;
            };
            match found {
                None => found = Some(version),
                Some(previous) if WorldVersion::for_version(previous).is_some() => {
                    if WorldVersion::for_version(previous) != WorldVersion::for_version(version) {
                        return Err(LoadError::UnsupportedVersion {
                            plugin: plugin.to_owned(),
                            found: format!("{previous} and {version} mixed"),
                            supported: WorldVersion::supported_labels(),
                        });
                    }
                }
                Some(_) => {}
            }
        }
        let Some(version) = found else {
            return Err(LoadError::UnknownVersion {
                plugin: plugin.to_owned(),
                supported: WorldVersion::supported_labels(),
            });
        };
        WorldVersion::for_version(version).ok_or_else(|| LoadError::UnsupportedVersion {
            plugin: plugin.to_owned(),
            found: version.to_owned(),
            supported: WorldVersion::supported_labels(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn surface(imports: &[&str]) -> Surface {
        Surface {
            imports: imports.iter().map(|name| name.to_string()).collect(),
            exports: vec!["handle".into()],
        }
    }

    #[test]
    fn a_plain_wasip2_plugin_passes() {
        let plugin = surface(&[
            "wasi:cli/environment@0.2.6",
            "wasi:io/streams@0.2.6",
            "guildhost:plugin/types@0.1.0",
            "guildhost:plugin/kv@0.1.0",
        ]);
        plugin.check_imports("p").unwrap();
        assert_eq!(plugin.world_version("p").unwrap(), WorldVersion::V0_1);
    }

    #[test]
    fn a_socket_import_is_refused_by_name() {
        let plugin = surface(&["guildhost:plugin/types@0.1.0", "wasi:sockets/tcp@0.2.6"]);
        let error = plugin.check_imports("net").unwrap_err();
        assert!(
            error.to_string().contains("`wasi:sockets/tcp@0.2.6`"),
            "{error}"
        );
    }

    #[test]
    fn an_unsupported_version_lists_the_supported_ones() {
        let plugin = surface(&["guildhost:plugin/types@2.0.0"]);
        let error = plugin.world_version("future").unwrap_err().to_string();
        assert!(error.contains("guildhost:plugin@2.0.0"), "{error}");
        assert!(error.contains("guildhost:plugin@0.1.x"), "{error}");
        let none = surface(&["wasi:io/streams@0.2.6"]);
        assert!(matches!(
            none.world_version("bare"),
            Err(LoadError::UnknownVersion { .. })
        ));
    }

    #[test]
    fn later_patch_and_prerelease_of_a_line_are_accepted() {
        assert_eq!(WorldVersion::for_version("0.1.7"), Some(WorldVersion::V0_1));
        assert_eq!(
            WorldVersion::for_version("0.1.0-rc.1"),
            Some(WorldVersion::V0_1)
        );
        assert_eq!(WorldVersion::for_version("0.2.0"), None);
        assert_eq!(WorldVersion::for_version("garbage"), None);
    }
}
