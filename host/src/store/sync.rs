//! Keeps a host's registry equal to the store: what is installed and enabled, and not killed,
//! serves as `<name>@<guild>`; nothing else of the store does.
//!
//! A host reconciles before its workers start (so a host started after an install serves the
//! plugin before it takes a message), then on every entry of the change stream (a blocking
//! `XREAD` on a connection of its own), and every `reconcile_interval_ms` when the store's
//! revision moved or a load failed (a host that missed the stream, or whose Redis blinked,
//! catches up). A new version replaces the old in one registry swap: calls in flight finish
//! on the old one, the next message meets the new one; nothing is dropped or run twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::admission::{self, Prepared};
use super::{Installed, PluginStore, Version};
use crate::config::GuildPolicy;
use crate::queue::QueueError;
use crate::runtime::{Origin, Runtime};

/// What a host serves of one store plugin: enough to tell whether the record changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Serving {
    sha256: String,
    manifest: String,
}

/// Why a store plugin does not serve.
#[derive(Debug)]
enum LoadFailure {
    /// The record or its component is refused: tried again only when the record changes.
    Refused(String),
    /// Redis did not answer: tried again at the next check.
    Unavailable(String),
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one reconcile did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// Served names loaded or replaced.
    pub loaded: Vec<String>,
    /// Served names removed.
    pub removed: Vec<String>,
    /// Served names refused (admission, compilation), with why: tried again when the record
    /// changes.
    pub refused: Vec<(String, String)>,
    /// Served names not loaded for want of Redis, with why (retried at the next check).
    pub failed: Vec<(String, String)>,
}

/// One host's view of the store.
pub struct StoreSync {
    store: PluginStore,
    runtime: Arc<Runtime>,
    policy: Arc<GuildPolicy>,
    serving: Mutex<HashMap<String, Serving>>,
    /// Versions refused at load (admission, compilation): not tried again until the record
    /// changes, so a bad record costs one compilation, not one a second.
    refused: Mutex<HashMap<String, Serving>>,
    /// Serializes reconciles (the stream listener and the periodic check may both ask).
    reconciling: tokio::sync::Mutex<u64>,
}

impl std::fmt::Debug for StoreSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSync")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// A revision no store has: forces the next check to read everything.
const UNSYNCED: u64 = u64::MAX;

impl StoreSync {
    /// A view of `store` serving into `runtime`'s registry under `policy`.
    pub fn new(store: PluginStore, runtime: Arc<Runtime>, policy: GuildPolicy) -> Self {
        Self {
            store,
            runtime,
            policy: Arc::new(policy),
            serving: Mutex::default(),
            refused: Mutex::default(),
            reconciling: tokio::sync::Mutex::new(UNSYNCED),
        }
    }

    fn serving(&self) -> std::sync::MutexGuard<'_, HashMap<String, Serving>> {
        lock(&self.serving)
    }

    /// Reads the whole store and makes the registry match it.
    pub async fn reconcile(&self) -> Result<SyncReport, QueueError> {
        let mut synced = self.reconciling.lock().await;
        let revision = self.store.revision().await?;
        let report = self.reconcile_locked().await?;
        *synced = if report.failed.is_empty() {
            revision
        } else {
            UNSYNCED
        };
        Ok(report)
    }

    /// Reconciles only when the store's revision moved since the last complete reconcile.
    pub async fn check(&self) -> Result<Option<SyncReport>, QueueError> {
        let synced = *self.reconciling.lock().await;
        if synced != UNSYNCED && self.store.revision().await? == synced {
            return Ok(None);
        }
        self.reconcile().await.map(Some)
    }

    async fn reconcile_locked(&self) -> Result<SyncReport, QueueError> {
        let killed: std::collections::HashSet<String> = self
            .store
            .killed()
            .await?
            .into_iter()
            .map(|(sha, _)| sha)
            .collect();
        let wanted: HashMap<String, Installed> = self
            .store
            .all()
            .await?
            .into_iter()
            .filter(|installed| {
                installed.record.enabled
                    && !installed.record.operator_hold
                    && !killed.contains(&installed.record.current.sha256)
            })
            .map(|installed| (served_name(&installed.guild, &installed.name), installed))
            .collect();
        let mut report = SyncReport::default();
        let gone: Vec<String> = self
            .serving()
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            self.serving().remove(&name);
            if self
                .runtime
                .registry()
                .remove(&name, Origin::Store)
                .is_some()
            {
                tracing::info!(plugin = %name, "store plugin no longer serves");
                report.removed.push(name);
            }
        }
        let mut wanted: Vec<_> = wanted.into_iter().collect();
        wanted.sort_by(|a, b| a.0.cmp(&b.0));
        for (served, installed) in wanted {
            let current = &installed.record.current;
            let serving = Serving {
                sha256: current.sha256.clone(),
                manifest: current.manifest.clone(),
            };
            if self.serving().get(&served) == Some(&serving)
                || lock(&self.refused).get(&served) == Some(&serving)
            {
                continue;
            }
            let outcome = match self.load(&installed).await {
                Ok(prepared) => self.serve(&served, serving.clone(), prepared),
                Err(failure) => Err(failure),
            };
            match outcome {
                Ok(()) => {
                    lock(&self.refused).remove(&served);
                    report.loaded.push(served);
                }
                Err(LoadFailure::Refused(reason)) => {
                    tracing::error!(plugin = %served, %reason, "store plugin refused; tried again when its record changes");
                    lock(&self.refused).insert(served.clone(), serving);
                    report.refused.push((served, reason));
                }
                Err(LoadFailure::Unavailable(reason)) => {
                    tracing::warn!(plugin = %served, %reason, "store plugin not loaded; retried at the next check");
                    report.failed.push((served, reason));
                }
            }
        }
        Ok(report)
    }

    /// Installs `prepared` in the registry as the version `serving` describes.
    fn serve(&self, served: &str, serving: Serving, prepared: Prepared) -> Result<(), LoadFailure> {
        let version = prepared.plugin.manifest().version.clone();
        self.runtime
            .registry()
            .install(prepared.plugin)
            .map_err(|error| LoadFailure::Refused(format!("refused by the registry: {error}")))?;
        tracing::info!(plugin = %served, %version, sha256 = %serving.sha256, "store plugin serves");
        self.serving().insert(served.to_owned(), serving);
        Ok(())
    }

    /// Serves the version an install on this host just compiled and wrote to the store, so the
    /// host that took the command does not compile it again.
    pub async fn adopt(&self, guild: &str, name: &str, version: &Version, prepared: Prepared) {
        let _reconciling = self.reconciling.lock().await;
        let serving = Serving {
            sha256: version.sha256.clone(),
            manifest: version.manifest.clone(),
        };
        if let Err(LoadFailure::Refused(reason) | LoadFailure::Unavailable(reason)) =
            self.serve(&served_name(guild, name), serving, prepared)
        {
            tracing::error!(plugin = %served_name(guild, name), %reason, "an installed plugin could not serve here");
        }
    }

    /// Loads a record as if hostile: its blob read, hashed and sized, its manifest and
    /// component held to the policy as at install.
    async fn load(&self, installed: &Installed) -> Result<Prepared, LoadFailure> {
        let current = &installed.record.current;
        let refused = |rejection: admission::Rejection| LoadFailure::Refused(rejection.to_string());
        let unavailable = |error: QueueError| LoadFailure::Unavailable(error.to_string());
        admission::check_sha256(&current.sha256).map_err(refused)?;
        if installed.guild.is_empty() || !installed.guild.bytes().all(|b| b.is_ascii_digit()) {
            return Err(LoadFailure::Refused(format!(
                "guild id {:?} is not a snowflake",
                installed.guild
            )));
        }
        let size = self
            .store
            .blob_size(&current.sha256)
            .await
            .map_err(unavailable)?;
        admission::check_size(size, &self.policy).map_err(refused)?;
        let wasm = self
            .store
            .blob(&current.sha256)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                LoadFailure::Refused(format!("component {} is missing", current.sha256))
            })?;
        admission::check_component(&current.sha256, &wasm, &self.policy).map_err(refused)?;
        let (runtime, policy) = (self.runtime.clone(), self.policy.clone());
        let (guild, name, manifest) = (
            installed.guild.clone(),
            installed.name.clone(),
            current.manifest.clone(),
        );
        tokio::task::spawn_blocking(move || {
            admission::prepare(&runtime, &policy, &guild, Some(&name), &manifest, &wasm)
        })
        .await
        .map_err(|e| LoadFailure::Refused(format!("the load panicked: {e}")))?
        .map_err(refused)
    }

    /// Follows the change stream and the revision until `stop` turns true.
    pub async fn run(self: Arc<Self>, interval: Duration, mut stop: watch::Receiver<bool>) {
        let listener = tokio::spawn(self.clone().listen());
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    if let Err(error) = self.check().await {
                        tracing::warn!(%error, "checking the plugin store failed; trying again");
                    }
                }
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
        listener.abort();
    }

    /// Blocks on the change stream and reconciles on each new entry.
    async fn listen(self: Arc<Self>) {
        let key = self.store.changes_key();
        let mut last = "$".to_owned();
        loop {
            let mut conn = match self.store.conn.dedicated().await {
                Ok(conn) => conn,
                Err(error) => {
                    tracing::warn!(%error, "cannot open the plugin store's stream connection; the periodic check goes on");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                // `[[stream, [[id, [field, value, …]], …]]]`, or nil when the block timed out.
                type Entries = Vec<(String, Vec<(String, Vec<String>)>)>;
                let read: Result<Option<Entries>, _> = redis::cmd("XREAD")
                    .arg("BLOCK")
                    .arg(5000)
                    .arg("STREAMS")
                    .arg(&key)
                    .arg(&last)
                    .query_async(&mut conn)
                    .await;
                let reply = match read {
                    Ok(reply) => reply,
                    Err(error) => {
                        tracing::warn!(%error, "reading the plugin store's change stream failed");
                        break;
                    }
                };
                let newest = reply
                    .into_iter()
                    .flatten()
                    .flat_map(|(_, entries)| entries)
                    .map(|(id, _)| id)
                    .next_back();
                if let Some(newest) = newest {
                    last = newest;
                    if let Err(error) = self.reconcile().await {
                        tracing::warn!(%error, "reconciling with the plugin store failed");
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The name a guild's plugin serves under.
pub fn served_name(guild: &str, name: &str) -> String {
    format!("{name}@{guild}")
}
