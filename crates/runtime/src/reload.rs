//! Hot reload: a plugins directory of `<name>.wasm` + `<name>.toml` pairs, polled for changes
//! (modification time and size). Added, replaced and removed plugins take effect without a
//! restart; a plugin that fails to load is reported and its previous version keeps serving.
//!
//! Writers should replace files atomically (write elsewhere, then rename); a half-written file
//! simply fails to load and is retried when it changes again.
//!
//! Only regular files are loaded: a `.wasm` or `.toml` that is a symlink, a directory, a FIFO or
//! anything else is refused unread, as is a component above
//! [`RuntimeLimits::max_component_bytes`](super::RuntimeLimits::max_component_bytes) or a
//! manifest above [`MAX_MANIFEST_BYTES`](super::manifest::MAX_MANIFEST_BYTES). Plugins from the
//! directory have [`Origin::Directory`]: a global one may shadow a first-party plugin of the same
//! name (which serves again once the file is removed), a guild-scoped one is refused (see
//! [`PluginRegistry::install`](super::PluginRegistry::install)).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use super::Runtime;
use super::error::LoadError;
use super::logs::escape;
use super::registry::{Installed, Origin};

/// What one scan of the directory changed.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Plugins loaded for the first time.
    pub added: Vec<String>,
    /// Plugins whose new version replaced the old one (or shadowed a first-party plugin).
    pub replaced: Vec<String>,
    /// Plugins whose files disappeared (a first-party plugin they shadowed serves again).
    pub removed: Vec<String>,
    /// Plugins that failed to load (a previous version, if any, keeps serving).
    pub failed: Vec<(String, LoadError)>,
}

impl ReloadReport {
    /// Whether the scan changed nothing and found no error.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.replaced.is_empty()
            && self.removed.is_empty()
            && self.failed.is_empty()
    }
}

/// A file's identity for change detection (of the directory entry itself, not what a symlink
/// points to: symlinks are refused anyway).
type Stamp = Option<(SystemTime, u64)>;

fn stamp(path: &Path) -> Stamp {
    let metadata = std::fs::symlink_metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Remembers what each plugin's files looked like at the last scan.
#[derive(Debug, Default)]
pub(crate) struct DirectoryState {
    seen: HashMap<String, (Stamp, Stamp)>,
}

impl Runtime {
    /// Scans `dir` once and applies what changed.
    pub fn scan_dir(&self, dir: &Path) -> ReloadReport {
        let mut report = ReloadReport::default();
        let mut state = self
            .directory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut present: HashMap<String, PathBuf> = HashMap::new();
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|ext| ext == "wasm")
                        && let Some(stem) = path.file_stem().and_then(|stem| stem.to_str())
                    {
                        present.insert(stem.to_owned(), path);
                    }
                }
            }
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "cannot read the plugins directory");
                return report;
            }
        }
        let gone: Vec<String> = state
            .seen
            .keys()
            .filter(|name| !present.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            state.seen.remove(&name);
            if self.registry().remove(&name, Origin::Directory).is_some() {
                tracing::info!(plugin = %escape(&name), "plugin removed");
                report.removed.push(name);
            }
        }
        let mut names: Vec<_> = present.into_iter().collect();
        names.sort();
        for (name, wasm) in names {
            let stamps = (stamp(&wasm), stamp(&wasm.with_extension("toml")));
            if state.seen.get(&name) == Some(&stamps) {
                continue;
            }
            state.seen.insert(name.clone(), stamps);
            let installed = self.load_file(&wasm).and_then(|plugin| {
                let version = plugin.manifest().version.clone();
                let generation = plugin.generation();
                let installed = self.registry().install(plugin)?;
                Ok((installed, version, generation))
            });
            match installed {
                Ok((Installed::Added | Installed::HeldBack, version, generation)) => {
                    tracing::info!(plugin = %name, %version, generation, "plugin added");
                    report.added.push(name);
                }
                Ok((
                    Installed::Replaced(_)
                    | Installed::ShadowedFirstParty(_)
                    | Installed::DisplacedGuildPlugin(_),
                    version,
                    generation,
                )) => {
                    tracing::info!(plugin = %name, %version, generation, "plugin replaced");
                    report.replaced.push(name);
                }
                Err(error) => {
                    let kept_previous = self
                        .registry()
                        .get(&name)
                        .is_some_and(|plugin| plugin.origin() == Origin::Directory);
                    // File names and error texts come from the directory: escaped, one line.
                    tracing::error!(plugin = %escape(&name), error = %escape(&error.to_string()), kept_previous, "plugin failed to load");
                    report.failed.push((name, error));
                }
            }
        }
        report
    }

    /// Polls `dir` every `interval` on a background thread until the returned handle is dropped.
    pub fn watch(self: &Arc<Self>, dir: PathBuf, interval: Duration) -> std::io::Result<Watcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let runtime = self.clone();
        let thread = std::thread::Builder::new()
            .name("guildhost-plugin-watch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    runtime.scan_dir(&dir);
                    std::thread::park_timeout(interval);
                }
            })?;
        Ok(Watcher {
            stop,
            thread: Mutex::new(Some(thread)),
        })
    }
}

/// Stops the directory watcher when dropped.
#[derive(Debug)]
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            thread.thread().unpark();
            // A scan that panicked has already been reported by the panic hook.
            let _ = thread.join();
        }
    }
}
