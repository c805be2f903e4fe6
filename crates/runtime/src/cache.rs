//! Compiled components, cached on disk as precompiled artifacts so a plugin is compiled once per
//! engine configuration: the file name is a digest of the engine's compatibility key and the
//! component's bytes. While a component is loaded, a second load of the same bytes (many guilds
//! installing one store plugin) shares its compiled code from memory instead of compiling again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::engine::PluginEngine;

/// Where a compiled component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompiledFrom {
    /// Deserialized from the cache.
    Cache,
    /// Shared with a loaded plugin of the same bytes.
    Memory,
    /// Compiled now (and stored in the cache when there is one).
    Compiled,
}

/// A directory of precompiled artifacts, or none (compile every time), and the components
/// loaded now, by the digest of their bytes (held weakly: the plugins own them).
#[derive(Debug, Clone)]
pub struct ArtifactCache {
    dir: Option<PathBuf>,
    loaded: Arc<Mutex<HashMap<[u8; 32], Weak<Component>>>>,
    /// One gate per digest being compiled: a second load of the same bytes waits for the first
    /// compilation and shares it instead of compiling in parallel.
    compiling: Arc<Mutex<HashMap<[u8; 32], Gate>>>,
}

/// Held while one digest compiles.
type Gate = Arc<Mutex<()>>;

impl ArtifactCache {
    /// A cache in `dir` (created on first write), or no cache.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            dir,
            loaded: Arc::default(),
            compiling: Arc::default(),
        }
    }

    fn loaded(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Weak<Component>>> {
        lock(&self.loaded)
    }

    /// The cache file for these component bytes under this engine.
    pub fn artifact_path(&self, engine: &PluginEngine, wasm: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut digest = Sha256::new();
        digest.update(engine.compatibility_key().as_bytes());
        digest.update(b"\0");
        digest.update(Sha256::digest(wasm));
        Some(dir.join(format!("{}.cwasm", hex::encode(digest.finalize()))))
    }

    /// Returns the compiled component: shared with a loaded plugin of the same bytes, else from
    /// the cache when a valid artifact exists, else compiled (and cached). A cache that cannot
    /// be read or written is logged and bypassed.
    pub fn load_or_compile(
        &self,
        engine: &PluginEngine,
        wasm: &[u8],
    ) -> anyhow::Result<(Arc<Component>, CompiledFrom)> {
        let digest: [u8; 32] = Sha256::digest(wasm).into();
        let gate = {
            let mut compiling = lock(&self.compiling);
            compiling.retain(|_, gate| Arc::strong_count(gate) > 1);
            compiling.entry(digest).or_default().clone()
        };
        let _one_at_a_time = lock(&gate);
        if let Some(component) = self.loaded().get(&digest).and_then(Weak::upgrade) {
            return Ok((component, CompiledFrom::Memory));
        }
        let (component, from) = self.deserialize_or_compile(engine, wasm)?;
        let component = Arc::new(component);
        let mut loaded = self.loaded();
        loaded.retain(|_, held| held.strong_count() > 0);
        loaded.insert(digest, Arc::downgrade(&component));
        Ok((component, from))
    }

    fn deserialize_or_compile(
        &self,
        engine: &PluginEngine,
        wasm: &[u8],
    ) -> anyhow::Result<(Component, CompiledFrom)> {
        let path = self.artifact_path(engine, wasm);
        if let Some(path) = path.as_deref()
            && path.is_file()
        {
            // SAFETY: artifacts in the cache directory are written only by `store` below, from
            // `Component::serialize` of this same engine configuration (the file name includes
            // the engine's compatibility key), and the directory belongs to the operator.
            // wasmtime still checks the header and refuses an artifact from another engine.
            match unsafe { Component::deserialize_file(engine.engine(), path) } {
                Ok(component) => return Ok((component, CompiledFrom::Cache)),
                Err(error) => {
                    tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "discarding unusable cached artifact");
                }
            }
        }
        let component = Component::new(engine.engine(), wasm)?;
        if let Some(path) = path.as_deref()
            && let Err(error) = store(&component, path)
        {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "cannot write the artifact cache");
        }
        Ok((component, CompiledFrom::Compiled))
    }
}

/// A poisoned lock still holds whole maps: a panic never left one half-written.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes atomically: a reader never sees a half-written artifact.
fn store(component: &Component, path: &Path) -> anyhow::Result<()> {
    let bytes = component.serialize()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)?;
    Ok(())
}
