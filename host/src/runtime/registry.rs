//! The set of plugins serving right now, swapped atomically as a whole: readers take a snapshot
//! (an `Arc`) and keep using the versions in it while a reload installs new ones.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::plugin::LoadedPlugin;

#[derive(Debug, Default)]
struct Snapshot {
    by_name: BTreeMap<String, Arc<LoadedPlugin>>,
    by_type: HashMap<String, Vec<Arc<LoadedPlugin>>>,
}

impl Snapshot {
    fn with(by_name: BTreeMap<String, Arc<LoadedPlugin>>) -> Self {
        let mut by_type: HashMap<String, Vec<Arc<LoadedPlugin>>> = HashMap::new();
        // BTreeMap order makes every subscriber list sorted by plugin name: deterministic dispatch.
        for plugin in by_name.values() {
            for type_name in &plugin.manifest().subscribes {
                by_type
                    .entry(type_name.clone())
                    .or_default()
                    .push(plugin.clone());
            }
        }
        Self { by_name, by_type }
    }
}

/// The loaded plugins by name, with an index of subscribers by message type.
#[derive(Debug, Default)]
pub struct PluginRegistry {
    current: RwLock<Arc<Snapshot>>,
}

impl PluginRegistry {
    fn snapshot(&self) -> Arc<Snapshot> {
        // Writers replace the Arc in one assignment; a poisoned lock still holds a whole snapshot.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn update(&self, change: impl FnOnce(&mut BTreeMap<String, Arc<LoadedPlugin>>)) {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut by_name = current.by_name.clone();
        change(&mut by_name);
        *current = Arc::new(Snapshot::with(by_name));
    }

    /// Installs a plugin, replacing any version of the same name; returns the previous one.
    pub fn install(&self, plugin: Arc<LoadedPlugin>) -> Option<Arc<LoadedPlugin>> {
        let mut previous = None;
        self.update(|by_name| previous = by_name.insert(plugin.name().to_owned(), plugin));
        previous
    }

    /// Removes a plugin; calls in flight on it finish normally.
    pub fn remove(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        let mut previous = None;
        self.update(|by_name| previous = by_name.remove(name));
        previous
    }

    /// The plugin serving under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.snapshot().by_name.get(name).cloned()
    }

    /// The plugins subscribed to a message type, sorted by name.
    pub fn subscribers(&self, type_name: &str) -> Vec<Arc<LoadedPlugin>> {
        self.snapshot()
            .by_type
            .get(type_name)
            .cloned()
            .unwrap_or_default()
    }

    /// The plugins that declare a command named `command`, sorted by name.
    pub fn declaring(&self, command: &str) -> Vec<Arc<LoadedPlugin>> {
        self.snapshot()
            .by_name
            .values()
            .filter(|plugin| plugin.manifest().command(command).is_some())
            .cloned()
            .collect()
    }

    /// Every loaded plugin, sorted by name.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        self.snapshot().by_name.values().cloned().collect()
    }
}
