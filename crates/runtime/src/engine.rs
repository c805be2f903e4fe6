//! The one wasmtime `Engine` of the process: component model, epoch interruption driven by a
//! ticker thread, optional fuel metering, and the pooling allocator with an on-demand fallback
//! when the address space is too small for the pool.

use std::hash::Hasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::breaker::BreakerPolicy;
use super::limits::RuntimeLimits;

/// Everything an operator can tune about the runtime.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Host-wide limit ceilings and defaults.
    pub limits: RuntimeLimits,
    /// How often the epoch advances; wall-time limits are enforced to within one tick.
    pub epoch_tick: Duration,
    /// Try the pooling allocator (falls back to on-demand if it cannot reserve its memory).
    pub pooling: bool,
    /// Instances the pool holds at once (warm instances of every plugin plus calls in flight).
    pub pool_instances: u32,
    /// Count fuel in every call (a few percent slower); needed for `fuel` limits and reports.
    pub fuel_metering: bool,
    /// Where precompiled artifacts are kept; `None` compiles in memory every time.
    pub cache_dir: Option<PathBuf>,
    /// When a misbehaving plugin gets suspended.
    pub breaker: BreakerPolicy,
    /// Most idle warm instances kept per plugin.
    pub max_idle_instances: usize,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: RuntimeLimits::default(),
            epoch_tick: Duration::from_millis(5),
            pooling: true,
            pool_instances: 1000,
            fuel_metering: true,
            cache_dir: None,
            breaker: BreakerPolicy::default(),
            max_idle_instances: 8,
        }
    }
}

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allocator {
    /// The pooling allocator, with this many instance slots.
    Pooling {
        /// Instance slots.
        instances: u32,
    },
    /// The on-demand allocator.
    OnDemand {
        /// Why pooling is not in use.
        reason: String,
    },
}

/// The shared engine and its epoch ticker. Dropping the last handle stops the ticker.
pub struct PluginEngine {
    engine: Engine,
    allocator: Allocator,
    epoch_tick: Duration,
    fuel_metering: bool,
    compatibility: String,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("allocator", &self.allocator)
            .field("epoch_tick", &self.epoch_tick)
            .field("fuel_metering", &self.fuel_metering)
            .field("compatibility", &self.compatibility)
            .finish_non_exhaustive()
    }
}

impl PluginEngine {
    /// Builds the engine: pooling if requested and possible, on-demand otherwise (logged).
    pub fn new(config: &RuntimeConfig) -> anyhow::Result<Arc<Self>> {
        let (engine, allocator) = if config.pooling {
            let pooled = base_config(config).and_then(|mut wasm_config| {
                wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(
                    pooling_config(config),
                ));
                Ok(Engine::new(&wasm_config)?)
            });
            match pooled {
                Ok(engine) => (
                    engine,
                    Allocator::Pooling {
                        instances: config.pool_instances,
                    },
                ),
                Err(error) => {
                    let reason = format!("{error:#}");
                    tracing::warn!(
                        %reason,
                        "pooling allocator unavailable (address space too small?); using on-demand allocation"
                    );
                    (
                        Engine::new(&base_config(config)?)?,
                        Allocator::OnDemand { reason },
                    )
                }
            }
        } else {
            (
                Engine::new(&base_config(config)?)?,
                Allocator::OnDemand {
                    reason: "pooling disabled by configuration".into(),
                },
            )
        };
        let compatibility = compatibility_key(&engine);
        let ticker = EpochTicker::start(engine.clone(), config.epoch_tick)?;
        tracing::info!(
            ?allocator,
            fuel = config.fuel_metering,
            tick_ms = config.epoch_tick.as_millis() as u64,
            "plugin engine ready"
        );
        Ok(Arc::new(Self {
            engine,
            allocator,
            epoch_tick: config.epoch_tick,
            fuel_metering: config.fuel_metering,
            compatibility,
            _ticker: ticker,
        }))
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The allocator in use.
    pub fn allocator(&self) -> &Allocator {
        &self.allocator
    }

    /// Whether fuel is counted.
    pub fn fuel_metering(&self) -> bool {
        self.fuel_metering
    }

    /// Hex digest of wasmtime's version and every setting that affects compiled code: a
    /// precompiled artifact is only valid for an engine with the same key.
    pub fn compatibility_key(&self) -> &str {
        &self.compatibility
    }

    /// Epoch ticks to allow for `wall_time`: rounded up, plus one because the current tick is
    /// already partly over when the deadline is set.
    pub fn deadline_ticks(&self, wall_time: Duration) -> u64 {
        ticks_for(wall_time, self.epoch_tick)
    }

    /// How often the epoch advances.
    pub fn epoch_tick(&self) -> Duration {
        self.epoch_tick
    }
}

/// Epoch ticks of `epoch_tick` to allow for `wall_time` (see [`PluginEngine::deadline_ticks`]).
pub(crate) fn ticks_for(wall_time: Duration, epoch_tick: Duration) -> u64 {
    let tick = epoch_tick.as_nanos().max(1);
    let ticks = wall_time.as_nanos().div_ceil(tick);
    u64::try_from(ticks)
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

fn base_config(config: &RuntimeConfig) -> anyhow::Result<Config> {
    let mut wasm_config = Config::new();
    wasm_config
        .wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(config.fuel_metering)
        .max_wasm_stack(config.limits.max_wasm_stack_bytes);
    Ok(wasm_config)
}

fn pooling_config(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    let instances = config.pool_instances.max(1);
    // A wasip2 guest built by wasm-component-ld has a handful of core instances (the program,
    // adapter shims and fix-ups), each possibly with a memory and tables.
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(8))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .max_memory_size(usize::try_from(config.limits.max_memory_bytes).unwrap_or(usize::MAX))
        // Keep a little of each slot's memory resident so re-instantiation avoids page faults.
        .linear_memory_keep_resident(64 << 10);
    pool
}

/// Feeds everything `Hash` writes into SHA-256, so the key is stable across processes.
struct DigestHasher(Sha256);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        // Only the full digest is used; `finish` exists to satisfy the trait.
        let digest = self.0.clone().finalize();
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn compatibility_key(engine: &Engine) -> String {
    use std::hash::Hash;
    let mut hasher = DigestHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(hasher.0.finalize())
}

/// Advances the engine's epoch every tick on its own thread until dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("guildhost-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::park_timeout(tick);
                    engine.increment_epoch();
                }
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // The ticker only loops and increments; it cannot panic, and a join error would
            // have nothing left to clean up.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_with_a_stable_compatibility_key_and_deadlines_round_up() {
        let config = RuntimeConfig {
            pool_instances: 4,
            ..RuntimeConfig::default()
        };
        let first = PluginEngine::new(&config).unwrap();
        let second = PluginEngine::new(&config).unwrap();
        assert_eq!(first.compatibility_key(), second.compatibility_key());
        assert_eq!(first.compatibility_key().len(), 64);
        assert_eq!(first.deadline_ticks(Duration::from_millis(50)), 11);
        assert_eq!(first.deadline_ticks(Duration::from_millis(51)), 12);
    }

    #[test]
    fn fuel_setting_changes_the_compatibility_key() {
        let with_fuel = PluginEngine::new(&RuntimeConfig {
            pooling: false,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let without = PluginEngine::new(&RuntimeConfig {
            pooling: false,
            fuel_metering: false,
            ..RuntimeConfig::default()
        })
        .unwrap();
        assert_ne!(with_fuel.compatibility_key(), without.compatibility_key());
        assert!(matches!(without.allocator(), Allocator::OnDemand { .. }));
    }
}
