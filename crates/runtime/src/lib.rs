//! The sandboxed plugin runtime: wasmtime components implementing the `guildhost:plugin` WIT world.
//!
//! Knows nothing of Redis, queues or Discord: dispatch hands it a WIT [`bindings::Envelope`] and
//! [`bindings::Message`] and gets back the outputs to apply.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use guildhost_runtime::{Runtime, RuntimeConfig, GuildContext, kv::MemoryKv};
//! # fn demo(envelope: guildhost_runtime::bindings::Envelope, message: guildhost_runtime::bindings::Message) -> anyhow::Result<()> {
//! let runtime = Arc::new(Runtime::new(RuntimeConfig::default(), Arc::new(MemoryKv::new()))?);
//! runtime.scan_dir("plugins.d".as_ref());            // or runtime.watch(dir, interval)
//! for plugin in runtime.subscribers(&envelope.type_name) {
//!     // On a blocking thread: KV calls may block.
//!     match plugin.call(&envelope, &message, &GuildContext::default()) {
//!         Ok(result) => { /* enqueue result.outputs; report result.dropped */ }
//!         Err(failure) => { /* failure.error names the plugin and the limit */ }
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod bindings;
pub mod breaker;
pub mod cache;
mod deadline;
mod engine;
mod error;
mod files;
mod host;
pub mod kv;
pub mod lanes;
mod limits;
mod logs;
mod manifest;
mod outputs;
mod plugin;
pub mod registry;
mod reload;
pub mod tool;
mod world;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use bindings::message_type_name;
pub use engine::{Allocator, PluginEngine, RuntimeConfig};
pub use error::{LoadError, ManifestError, PluginError};
pub use host::{LogLevel, LogLine, LogSource};
pub use kv::{KvStore, MemoryKv};
pub use limits::{PluginLimits, RuntimeLimits};
pub use logs::LogBudget;
pub use manifest::{DeclaredCommand, InstancePolicy, MAX_MANIFEST_BYTES, Manifest, Scope};
pub use outputs::{DropReason, DroppedOutput};
pub use plugin::{CallError, CallResult, GuildContext, LoadedPlugin};
pub use registry::{Installed, Origin, PluginRegistry};
pub use reload::{ReloadReport, Watcher};
pub use world::WorldVersion;

use cache::ArtifactCache;
use files::{Refusal, read_regular};
use plugin::{Linkers, LoadContext};

/// The window of [`RuntimeLimits::max_log_bytes_per_minute`].
const LOG_BUDGET_WINDOW: Duration = Duration::from_secs(60);

/// The plugin runtime: one engine, the linkers, the artifact cache, the KV store and the
/// registry of plugins serving now.
pub struct Runtime {
    engine: Arc<PluginEngine>,
    linkers: Linkers,
    cache: ArtifactCache,
    kv: Arc<dyn KvStore>,
    config: Arc<RuntimeConfig>,
    registry: PluginRegistry,
    generations: AtomicU64,
    directory: Mutex<reload::DirectoryState>,
    log_budget: Arc<LogBudget>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine", &self.engine)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine (starting its epoch ticker) and the linkers.
    pub fn new(config: RuntimeConfig, kv: Arc<dyn KvStore>) -> anyhow::Result<Self> {
        let engine = PluginEngine::new(&config)?;
        let linkers = Linkers::new(&engine)?;
        let log_budget = Arc::new(LogBudget::new(
            config.limits.max_log_bytes_per_minute,
            LOG_BUDGET_WINDOW,
        ));
        Ok(Self {
            log_budget,
            cache: ArtifactCache::new(config.cache_dir.clone()),
            engine,
            linkers,
            kv,
            config: Arc::new(config),
            registry: PluginRegistry::default(),
            generations: AtomicU64::new(1),
            directory: Mutex::new(reload::DirectoryState::default()),
        })
    }

    /// The engine (allocator in use, compatibility key).
    pub fn engine(&self) -> &Arc<PluginEngine> {
        &self.engine
    }

    /// The runtime's configuration.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The plugins serving now.
    pub fn registry(&self) -> &PluginRegistry {
        &self.registry
    }

    /// The per-minute budget of log bytes per (plugin, guild) all plugins share.
    pub fn log_budget(&self) -> &Arc<LogBudget> {
        &self.log_budget
    }

    /// Loads a plugin from `origin` from its manifest and component bytes, without installing
    /// it. A component larger than [`RuntimeLimits::max_component_bytes`] is refused before it
    /// is compiled, whatever its source.
    pub fn load(
        &self,
        origin: Origin,
        manifest: Manifest,
        wasm: &[u8],
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        let max = self.config.limits.max_component_bytes;
        let size = u64::try_from(wasm.len()).unwrap_or(u64::MAX);
        if size > max {
            return Err(LoadError::ComponentTooLarge {
                plugin: manifest.name,
                path: None,
                size: Some(size),
                max,
            });
        }
        for notice in &manifest.notices {
            tracing::warn!(plugin = %manifest.name, "manifest: {notice}");
        }
        let context = LoadContext {
            engine: &self.engine,
            linkers: &self.linkers,
            cache: &self.cache,
            kv: &self.kv,
            config: &self.config,
            log_budget: &self.log_budget,
            origin,
        };
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        LoadedPlugin::load(&context, manifest, wasm, generation).map(Arc::new)
    }

    /// Loads `<dir>/<name>.wasm` with its manifest `<dir>/<name>.toml` as a plugins-directory
    /// plugin, without installing it. Both must be regular files (a symlink, a directory, a
    /// FIFO... is refused unread); the component is refused unread above
    /// [`RuntimeLimits::max_component_bytes`], the manifest above
    /// `manifest::MAX_MANIFEST_BYTES`.
    pub fn load_file(&self, wasm_path: &Path) -> Result<Arc<LoadedPlugin>, LoadError> {
        let manifest_path = wasm_path.with_extension("toml");
        let manifest = Manifest::load(&manifest_path, &self.config.limits)?;
        let stem = wasm_path.file_stem().and_then(|stem| stem.to_str());
        if stem != Some(manifest.name.as_str()) {
            return Err(LoadError::NameMismatch {
                file: wasm_path.to_path_buf(),
                name: manifest.name,
            });
        }
        self.load_component_file(wasm_path, manifest)
    }

    /// Loads a component with a manifest kept elsewhere (a plugin author's build output and the
    /// project's `plugin.toml`), as [`Runtime::load_file`] does but without asking the file to
    /// be named after the plugin.
    pub fn load_file_with_manifest(
        &self,
        wasm_path: &Path,
        manifest_path: &Path,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        let manifest = Manifest::load(manifest_path, &self.config.limits)?;
        self.load_component_file(wasm_path, manifest)
    }

    fn load_component_file(
        &self,
        wasm_path: &Path,
        manifest: Manifest,
    ) -> Result<Arc<LoadedPlugin>, LoadError> {
        let max = self.config.limits.max_component_bytes;
        let wasm = read_regular(wasm_path, max).map_err(|refusal| match refusal {
            Refusal::NotRegular(kind) => LoadError::NotRegularFile {
                path: wasm_path.to_path_buf(),
                kind,
            },
            Refusal::TooLarge(size) => LoadError::ComponentTooLarge {
                plugin: manifest.name.clone(),
                path: Some(wasm_path.to_path_buf()),
                size,
                max,
            },
            Refusal::Io(source) => LoadError::Read {
                path: wasm_path.to_path_buf(),
                source,
            },
        })?;
        self.load(Origin::Directory, manifest, &wasm)
    }

    /// The plugins subscribed to a message type, sorted by name.
    pub fn subscribers(&self, type_name: &str) -> Vec<Arc<LoadedPlugin>> {
        self.registry.subscribers(type_name)
    }

    /// The plugins that declare a command named `command` (`[[commands]]`), sorted by name.
    pub fn declaring(&self, command: &str) -> Vec<Arc<LoadedPlugin>> {
        self.registry.declaring(command)
    }

    /// Calls the plugin serving under `plugin` with one message. Blocks the calling thread for
    /// the call (and any KV access); run it on a blocking thread.
    pub fn call(
        &self,
        plugin: &str,
        envelope: &bindings::Envelope,
        message: &bindings::Message,
        context: &GuildContext,
    ) -> Result<CallResult, Box<CallError>> {
        let Some(loaded) = self.registry.get(plugin) else {
            return Err(CallError::bare(PluginError::NotLoaded {
                plugin: plugin.to_owned(),
            }));
        };
        loaded.call(envelope, message, context)
    }
}
