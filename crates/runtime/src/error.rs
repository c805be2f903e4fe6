//! The runtime's typed errors: loading a plugin, and one call failing.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// A manifest could not be read or is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The manifest file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The path is not a regular file (a symlink, a directory, a FIFO...): refused unread.
    #[error(
        "manifest {path}: is {kind}; only regular files are loaded (symlinks, directories, FIFOs, sockets and devices are refused)"
    )]
    NotRegularFile {
        /// The manifest path.
        path: PathBuf,
        /// What it is instead (`a symlink`, `a directory`...).
        kind: &'static str,
    },
    /// The file is larger than a manifest may be: refused unread.
    #[error("manifest {path}: larger than the limit of {max} bytes{}", size.map(|size| format!(" ({size} bytes)")).unwrap_or_default())]
    TooLarge {
        /// The manifest file.
        path: PathBuf,
        /// Its size, when known before reading (a file that grows while read has none).
        size: Option<u64>,
        /// The limit.
        max: u64,
    },
    /// The TOML is malformed or has unknown keys (the message names the key).
    #[error("manifest{}: {message}", at(path))]
    Syntax {
        /// The manifest file, when known.
        path: Option<PathBuf>,
        /// The parser's message, naming the key and line.
        message: String,
    },
    /// A field breaks a rule.
    #[error("manifest{}: {field}: {rule}", at(path))]
    Invalid {
        /// The manifest file, when known.
        path: Option<PathBuf>,
        /// The field, as a TOML key path (`limits.wall-time-ms`).
        field: String,
        /// The rule it breaks.
        rule: String,
    },
}

fn at(path: &Option<PathBuf>) -> String {
    path.as_ref()
        .map(|path| format!(" {}", path.display()))
        .unwrap_or_default()
}

impl ManifestError {
    /// Attaches the file the error came from.
    pub(crate) fn in_file(self, file: &Path) -> Self {
        match self {
            Self::Syntax { message, .. } => Self::Syntax {
                path: Some(file.to_path_buf()),
                message,
            },
            Self::Invalid { field, rule, .. } => Self::Invalid {
                path: Some(file.to_path_buf()),
                field,
                rule,
            },
            other @ (Self::Read { .. } | Self::NotRegularFile { .. } | Self::TooLarge { .. }) => {
                other
            }
        }
    }
}

/// A plugin could not be loaded; the previous version (if any) keeps serving.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The component file could not be read.
    #[error("cannot read component {path}: {source}")]
    Read {
        /// The `.wasm` file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The component's path is not a regular file (a symlink, a directory, a FIFO...): refused
    /// unread.
    #[error(
        "component {path}: is {kind}; only regular files are loaded (symlinks, directories, FIFOs, sockets and devices are refused)"
    )]
    NotRegularFile {
        /// The `.wasm` path.
        path: PathBuf,
        /// What it is instead (`a symlink`, `a directory`...).
        kind: &'static str,
    },
    /// The component is larger than the host's `max_component_bytes`: refused before it is
    /// read whole or compiled.
    #[error("plugin {plugin}: component{} larger than the limit of {max} bytes (max_component_bytes){}", path.as_ref().map(|path| format!(" {}", path.display())).unwrap_or_default(), size.map(|size| format!(": {size} bytes")).unwrap_or_default())]
    ComponentTooLarge {
        /// The plugin's name.
        plugin: String,
        /// The `.wasm` file, when it came from one.
        path: Option<PathBuf>,
        /// Its size, when known (a file that grows while read has none).
        size: Option<u64>,
        /// The limit.
        max: u64,
    },
    /// A plugin would take a name it may not: a guild-scoped plugin over a first-party or
    /// global one. Whatever served under the name keeps serving.
    #[error("plugin {plugin}: refused the {refused}: the name is held by the {holder}; {rule}")]
    NameTaken {
        /// The name both plugins have.
        plugin: String,
        /// The plugin refused (origin and scope).
        refused: String,
        /// The plugin holding the name (origin and scope).
        holder: String,
        /// The rule the install broke.
        rule: String,
    },
    /// The bytes are not a valid component (or are a core module).
    #[error("plugin {plugin}: not a valid WebAssembly component: {reason}")]
    Compile {
        /// The plugin's name.
        plugin: String,
        /// Why wasmtime refused it.
        reason: String,
    },
    /// The component imports something outside the allow-list.
    #[error(
        "plugin {plugin}: imports `{import}`, which plugins may not use (allowed: guildhost:plugin interfaces, wasi:io, wasi:cli, wasi:clocks, wasi:random, and wasi:filesystem without any preopened directory)"
    )]
    ForbiddenImport {
        /// The plugin's name.
        plugin: String,
        /// The import's full name, e.g. `wasi:sockets/tcp@0.2.6`.
        import: String,
    },
    /// The component targets a `guildhost:plugin` version this host does not serve.
    #[error(
        "plugin {plugin}: built for guildhost:plugin@{found}; this host supports {}",
        supported.join(", ")
    )]
    UnsupportedVersion {
        /// The plugin's name.
        plugin: String,
        /// The version the component targets.
        found: String,
        /// The versions this host serves.
        supported: Vec<String>,
    },
    /// No import or export names a `guildhost:plugin` version.
    #[error(
        "plugin {plugin}: cannot tell which guildhost:plugin version it targets (no guildhost:plugin import or export); this host supports {}",
        supported.join(", ")
    )]
    UnknownVersion {
        /// The plugin's name.
        plugin: String,
        /// The versions this host serves.
        supported: Vec<String>,
    },
    /// The component does not match the world (wrong export type, missing `handle`...).
    #[error("plugin {plugin}: does not implement the guildhost:plugin world: {reason}")]
    World {
        /// The plugin's name.
        plugin: String,
        /// What wasmtime found wrong.
        reason: String,
    },
    /// The manifest's name differs from the file name.
    #[error(
        "plugin file {file}: the manifest names the plugin {name:?}; the files must be <name>.wasm and <name>.toml"
    )]
    NameMismatch {
        /// The `.wasm` file.
        file: PathBuf,
        /// The name in the manifest.
        name: String,
    },
    /// The artifact cache failed (compiling still works; this is reported only when nothing can).
    #[error("plugin {plugin}: artifact cache: {reason}")]
    Cache {
        /// The plugin's name.
        plugin: String,
        /// What went wrong.
        reason: String,
    },
}

/// One call failed. The error names the plugin and, for limits, the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// A limit was exceeded: `wall-time 50ms`, `memory 16777216 bytes`, `outputs 32`,
    /// `output-bytes 16384`, `fuel 1000000`, `kv-keys 1000`, `kv-bytes 1048576`.
    #[error("plugin {plugin}: limit exceeded: {limit}")]
    Limit {
        /// The plugin's name.
        plugin: String,
        /// The limit and its value.
        limit: String,
    },
    /// The guest trapped (panic, stack overflow, out-of-bounds access...).
    #[error("plugin {plugin}: trapped: {reason}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// The trap, with the guest's stderr tail when it printed one (a panic message).
        reason: String,
    },
    /// The plugin returned its own error value.
    #[error("plugin {plugin}: returned an error: {message}{}", if *retryable { " (retryable)" } else { "" })]
    Returned {
        /// The plugin's name.
        plugin: String,
        /// The plugin's error message, escaped.
        message: String,
        /// Whether the plugin says trying again may succeed (its `plugin-error.retryable`).
        retryable: bool,
    },
    /// The circuit breaker suspended the plugin after repeated failures.
    #[error("plugin {plugin}: suspended for {}ms more after {failures} failures", remaining.as_millis())]
    Suspended {
        /// The plugin's name.
        plugin: String,
        /// Failures that opened the breaker.
        failures: u32,
        /// Time left before the plugin is tried again.
        remaining: Duration,
    },
    /// No plugin of that name is loaded.
    #[error("plugin {plugin}: not loaded")]
    NotLoaded {
        /// The name asked for.
        plugin: String,
    },
    /// A guild-scoped plugin was handed another guild's message (or one with no guild).
    #[error("plugin {plugin}: scoped to guild {scope}, refused a message for {}", guild.as_deref().unwrap_or("no guild"))]
    OutOfScope {
        /// The plugin's name.
        plugin: String,
        /// The guild the plugin is scoped to.
        scope: String,
        /// The message's guild.
        guild: Option<String>,
    },
    /// The host's own backend (the KV store) failed during the call, and the call failed: the
    /// host's trouble, not the plugin's (never counted against its breaker).
    #[error("plugin {plugin}: the host's store was unavailable during the call: {reason}")]
    Unavailable {
        /// The plugin's name.
        plugin: String,
        /// What the backend said.
        reason: String,
    },
    /// The host could not create an instance (pool exhausted, ...).
    #[error("plugin {plugin}: cannot instantiate: {reason}")]
    Instantiate {
        /// The plugin's name.
        plugin: String,
        /// Why.
        reason: String,
    },
}

impl PluginError {
    /// The plugin the error is about.
    pub fn plugin(&self) -> &str {
        match self {
            Self::Limit { plugin, .. }
            | Self::Trap { plugin, .. }
            | Self::Returned { plugin, .. }
            | Self::Suspended { plugin, .. }
            | Self::NotLoaded { plugin }
            | Self::OutOfScope { plugin, .. }
            | Self::Unavailable { plugin, .. }
            | Self::Instantiate { plugin, .. } => plugin,
        }
    }

    /// Whether this failure counts against the circuit breaker (the plugin misbehaved).
    pub fn counts_as_failure(&self) -> bool {
        matches!(self, Self::Limit { .. } | Self::Trap { .. })
    }

    /// Whether the plugin itself said trying again cannot help: an error it returned with
    /// `retryable: false`. Everything else (traps, limits, a suspension, the host's own
    /// trouble) may pass on another attempt.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Returned {
                retryable: false,
                ..
            }
        )
    }
}
