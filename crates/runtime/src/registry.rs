//! The set of plugins serving right now, swapped atomically as a whole: readers take a snapshot
//! (an `Arc`) and keep using the versions in it while a reload installs new ones.
//!
//! A name is served by one plugin. Who may take a name from whom depends on each plugin's
//! [`Origin`] and scope (the rules are on [`PluginRegistry::install`]): a guild-scoped plugin
//! can never replace or shadow a first-party or global plugin.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use super::error::LoadError;
use super::manifest::Scope;
use super::plugin::LoadedPlugin;

/// Where a loaded plugin came from. It decides which plugin keeps a name when two sources offer
/// one ([`PluginRegistry::install`]); a new source (an upload store) is a new variant, and the
/// compiler then asks for its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// Embedded in the binary (`bundled.rs`): the project's own plugins.
    FirstParty,
    /// A `<name>.wasm` + `<name>.toml` pair in the operator's plugins directory.
    Directory,
    /// Installed by a guild's admin through the plugin store, served as `<name>@<guild>` and
    /// always scoped to that guild: a name no other origin can take (manifest names never
    /// contain `@`), so a store plugin never meets another origin's plugin under one name.
    Store,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::FirstParty => "first-party",
            Self::Directory => "plugins-directory",
            Self::Store => "store",
        })
    }
}

/// What [`PluginRegistry::install`] did.
#[derive(Debug)]
pub enum Installed {
    /// Nothing served under the name before; the plugin serves now.
    Added,
    /// A version from the same origin was replaced (a hot reload); it is returned.
    Replaced(Arc<LoadedPlugin>),
    /// An operator's global plugin took the name of the first-party plugin returned here,
    /// which is kept and serves again when the operator's plugin is removed.
    ShadowedFirstParty(Arc<LoadedPlugin>),
    /// A first-party plugin was installed while an operator's global plugin holds its name:
    /// it is kept and serves once the operator's plugin is removed.
    HeldBack,
    /// A first-party plugin took its name from the guild-scoped plugin returned here, which no
    /// longer serves.
    DisplacedGuildPlugin(Arc<LoadedPlugin>),
}

/// The rule a refused install broke, as its error states it.
const GUILD_RULE: &str =
    "a guild-scoped plugin may never replace or shadow a first-party or global plugin; rename it";

#[derive(Debug, Default, Clone)]
struct Tables {
    /// The plugin serving each name.
    serving: BTreeMap<String, Arc<LoadedPlugin>>,
    /// First-party plugins whose name an operator's global plugin serves; each one serves again
    /// when that plugin is removed. A name here is always served by a global directory plugin.
    shadowed: BTreeMap<String, Arc<LoadedPlugin>>,
}

#[derive(Debug, Default)]
struct Snapshot {
    tables: Tables,
    by_type: HashMap<String, Vec<Arc<LoadedPlugin>>>,
}

impl Snapshot {
    fn with(tables: Tables) -> Self {
        let mut by_type: HashMap<String, Vec<Arc<LoadedPlugin>>> = HashMap::new();
        // BTreeMap order makes every subscriber list sorted by plugin name: deterministic dispatch.
        for plugin in tables.serving.values() {
            for type_name in &plugin.manifest().subscribes {
                by_type
                    .entry(type_name.clone())
                    .or_default()
                    .push(plugin.clone());
            }
        }
        Self { tables, by_type }
    }
}

/// What the install rules look at: a plugin's origin and whether it is global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    origin: Origin,
    global: bool,
}

impl Claim {
    fn of(plugin: &LoadedPlugin) -> Self {
        Self {
            origin: plugin.origin(),
            global: plugin.manifest().scope == Scope::Global,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Serve,
    Replace,
    ShadowFirstParty,
    HoldBack,
    DisplaceGuild,
    /// Refused: the name is held by a first-party plugin (serving or shadowed) or a global one.
    Refuse,
}

/// The install rules. `shadowed_first_party`: a first-party plugin of the name is kept behind
/// the serving one.
fn decide(new: Claim, serving: Option<Claim>, shadowed_first_party: bool) -> Decision {
    let Some(current) = serving else {
        return Decision::Serve;
    };
    if current.origin == new.origin {
        // A new version from the same source (the same file, for the directory) replaces the
        // old one, except that it may not become guild-scoped over a first-party plugin.
        return if !new.global && shadowed_first_party {
            Decision::Refuse
        } else {
            Decision::Replace
        };
    }
    // Exhaustive on purpose: a new origin must state its rules here.
    match (new.origin, new.global, current.origin, current.global) {
        // The operator's choice: their global plugin serves instead of the first-party one.
        (Origin::Directory, true, Origin::FirstParty, _) => Decision::ShadowFirstParty,
        (Origin::Directory, false, Origin::FirstParty, _) => Decision::Refuse,
        (Origin::FirstParty, _, Origin::Directory, true) => Decision::HoldBack,
        // A guild's plugin never keeps a first-party name, whichever was installed first.
        (Origin::FirstParty, _, Origin::Directory, false) => Decision::DisplaceGuild,
        (Origin::FirstParty, _, Origin::FirstParty, _)
        | (Origin::Directory, _, Origin::Directory, _)
        | (Origin::Store, _, Origin::Store, _) => Decision::Replace,
        // Store names (`<name>@<guild>`) and the others never meet; should one ever, neither
        // side gives way.
        (Origin::Store, _, _, _) | (_, _, Origin::Store, _) => Decision::Refuse,
    }
}

fn describe(claim: Claim, plugin: &LoadedPlugin) -> String {
    match &plugin.manifest().scope {
        Scope::Global => format!("global {} plugin", claim.origin),
        Scope::Guild(guild) => format!("{} plugin scoped to guild {guild}", claim.origin),
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

    fn update<R>(&self, change: impl FnOnce(&mut Tables) -> R) -> R {
        let mut current = self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut tables = current.tables.clone();
        let result = change(&mut tables);
        *current = Arc::new(Snapshot::with(tables));
        result
    }

    /// Installs a plugin under its name, by these rules:
    ///
    /// - a new version from the same [`Origin`] replaces the old one (hot reload);
    /// - a guild-scoped plugin never takes a name a first-party or global plugin of another
    ///   origin holds, nor becomes guild-scoped over a shadowed first-party plugin: refused
    ///   with [`LoadError::NameTaken`], whatever served keeps serving;
    /// - an operator's global directory plugin shadows a first-party plugin of the same name
    ///   (logged at warn); the first-party one is kept and serves again when the directory
    ///   plugin is [removed](Self::remove);
    /// - a first-party plugin installed while a global directory plugin holds its name is kept
    ///   behind it; while a guild-scoped one holds it, the first-party plugin takes the name
    ///   and the guild plugin is removed (logged at error).
    pub fn install(&self, plugin: Arc<LoadedPlugin>) -> Result<Installed, LoadError> {
        let name = plugin.name().to_owned();
        let new = Claim::of(&plugin);
        self.update(|tables| {
            let serving = tables.serving.get(&name).cloned();
            let shadowed_first_party = tables.shadowed.contains_key(&name);
            let current = serving.as_deref().map(Claim::of);
            match decide(new, current, shadowed_first_party) {
                Decision::Serve => {
                    tables.serving.insert(name, plugin);
                    Ok(Installed::Added)
                }
                Decision::Replace => {
                    let previous = tables.serving.insert(name, plugin);
                    Ok(previous.map_or(Installed::Added, Installed::Replaced))
                }
                Decision::ShadowFirstParty => {
                    let previous = tables.serving.insert(name.clone(), plugin);
                    let Some(first_party) = previous else {
                        return Ok(Installed::Added);
                    };
                    tracing::warn!(
                        plugin = %name,
                        first_party_version = %first_party.manifest().version,
                        "a global plugin from the plugins directory shadows the first-party plugin of the same name; the first-party one serves again when it is removed"
                    );
                    tables.shadowed.insert(name, first_party.clone());
                    Ok(Installed::ShadowedFirstParty(first_party))
                }
                Decision::HoldBack => {
                    tracing::warn!(
                        plugin = %name,
                        "a global plugin from the plugins directory holds the name of this first-party plugin, which serves once that plugin is removed"
                    );
                    tables.shadowed.insert(name, plugin);
                    Ok(Installed::HeldBack)
                }
                Decision::DisplaceGuild => {
                    let previous = tables.serving.insert(name.clone(), plugin);
                    let Some(guild_plugin) = previous else {
                        return Ok(Installed::Added);
                    };
                    tracing::error!(
                        plugin = %name,
                        removed = %describe(Claim::of(&guild_plugin), &guild_plugin),
                        "a first-party plugin takes its name back: the guild-scoped plugin of that name no longer serves; rename it"
                    );
                    Ok(Installed::DisplacedGuildPlugin(guild_plugin))
                }
                Decision::Refuse => {
                    let holder = match (&serving, tables.shadowed.get(&name)) {
                        (_, Some(first_party)) => describe(Claim::of(first_party), first_party),
                        (Some(serving), None) => describe(Claim::of(serving), serving),
                        (None, None) => "plugin".to_owned(),
                    };
                    Err(LoadError::NameTaken {
                        plugin: name,
                        refused: describe(new, &plugin),
                        holder,
                        rule: GUILD_RULE.to_owned(),
                    })
                }
            }
        })
    }

    /// Removes the plugin `origin` installed under `name` (serving or kept behind another);
    /// calls in flight on it finish normally. When it served and a first-party plugin of that
    /// name was kept behind it, the first-party plugin serves again. A plugin of another origin
    /// is never removed.
    pub fn remove(&self, name: &str, origin: Origin) -> Option<Arc<LoadedPlugin>> {
        self.update(|tables| {
            if tables
                .serving
                .get(name)
                .is_some_and(|plugin| plugin.origin() == origin)
            {
                let removed = tables.serving.remove(name);
                if let Some(first_party) = tables.shadowed.remove(name) {
                    tracing::warn!(
                        plugin = %name,
                        version = %first_party.manifest().version,
                        "the plugin that shadowed the first-party plugin is gone: the first-party plugin serves again"
                    );
                    tables.serving.insert(name.to_owned(), first_party);
                }
                return removed;
            }
            if tables
                .shadowed
                .get(name)
                .is_some_and(|plugin| plugin.origin() == origin)
            {
                return tables.shadowed.remove(name);
            }
            None
        })
    }

    /// The plugin serving under `name`.
    pub fn get(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.snapshot().tables.serving.get(name).cloned()
    }

    /// The first-party plugin kept behind an operator's global plugin of the same name.
    pub fn shadowed(&self, name: &str) -> Option<Arc<LoadedPlugin>> {
        self.snapshot().tables.shadowed.get(name).cloned()
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
            .tables
            .serving
            .values()
            .filter(|plugin| plugin.manifest().command(command).is_some())
            .cloned()
            .collect()
    }

    /// Every plugin serving, sorted by name.
    pub fn plugins(&self) -> Vec<Arc<LoadedPlugin>> {
        self.snapshot().tables.serving.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST_PARTY: Claim = Claim {
        origin: Origin::FirstParty,
        global: true,
    };
    const DIR_GLOBAL: Claim = Claim {
        origin: Origin::Directory,
        global: true,
    };
    const DIR_GUILD: Claim = Claim {
        origin: Origin::Directory,
        global: false,
    };

    #[test]
    fn a_free_name_is_served() {
        for claim in [FIRST_PARTY, DIR_GLOBAL, DIR_GUILD] {
            assert_eq!(decide(claim, None, false), Decision::Serve);
        }
    }

    #[test]
    fn a_guild_plugin_never_takes_a_first_party_name() {
        assert_eq!(
            decide(DIR_GUILD, Some(FIRST_PARTY), false),
            Decision::Refuse
        );
        // Not by first shadowing it with a global version either.
        assert_eq!(decide(DIR_GUILD, Some(DIR_GLOBAL), true), Decision::Refuse);
        // And a first-party plugin takes its name back from one.
        assert_eq!(
            decide(FIRST_PARTY, Some(DIR_GUILD), false),
            Decision::DisplaceGuild
        );
    }

    #[test]
    fn an_operator_global_plugin_shadows_a_first_party_one() {
        assert_eq!(
            decide(DIR_GLOBAL, Some(FIRST_PARTY), false),
            Decision::ShadowFirstParty
        );
        assert_eq!(
            decide(FIRST_PARTY, Some(DIR_GLOBAL), false),
            Decision::HoldBack
        );
        assert_eq!(
            decide(FIRST_PARTY, Some(DIR_GLOBAL), true),
            Decision::HoldBack
        );
    }

    #[test]
    fn the_same_origin_replaces_its_own_versions() {
        assert_eq!(
            decide(DIR_GLOBAL, Some(DIR_GLOBAL), true),
            Decision::Replace
        );
        assert_eq!(
            decide(DIR_GLOBAL, Some(DIR_GUILD), false),
            Decision::Replace
        );
        assert_eq!(decide(DIR_GUILD, Some(DIR_GUILD), false), Decision::Replace);
        // Without a first-party plugin behind it, the operator may scope their own plugin.
        assert_eq!(
            decide(DIR_GUILD, Some(DIR_GLOBAL), false),
            Decision::Replace
        );
        assert_eq!(
            decide(FIRST_PARTY, Some(FIRST_PARTY), false),
            Decision::Replace
        );
    }
}
