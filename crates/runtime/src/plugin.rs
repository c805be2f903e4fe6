//! One loaded plugin version: its manifest, its `InstancePre`, its pool of warm instances and
//! its circuit breaker; and what a single call does — take an instance, set the deadline, fuel
//! and per-call scope, call `handle`, classify the outcome, and keep or discard the instance.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use wasmtime::Store;
use wasmtime::component::{ComponentExportIndex, Func, HasSelf, Linker, TypedFunc};

use super::bindings::{Envelope, Message, Output, v0_1};
use super::breaker::{GuildBreakers, Open, Tripped};
use super::cache::{ArtifactCache, CompiledFrom};
use super::engine::{PluginEngine, RuntimeConfig};
use super::error::{LoadError, PluginError};
use super::host::{CallScope, HostState, LimitHit, LogLine};
use super::kv::{KvQuota, KvStore};
use super::limits::human_duration;
use super::logs::{LogBudget, escape_line};
use super::manifest::{InstancePolicy, Manifest, Scope};
use super::outputs::{DroppedOutput, enforce};
use super::registry::Origin;
use super::world::{Surface, WorldVersion};

/// What the caller supplies about the guild besides the envelope: the guild's configuration for
/// this plugin (overlaid on the manifest's defaults; `None` = defaults only).
#[derive(Debug, Clone, Default)]
pub struct GuildContext {
    /// The guild's settings for this plugin, a JSON object.
    pub config: Option<Arc<Value>>,
}

/// A successful call.
#[derive(Debug, Clone)]
pub struct CallResult {
    /// The plugin that handled the message.
    pub plugin: String,
    /// The manifest version that handled it.
    pub version: String,
    /// The load generation that handled it (unique per loaded version in this process).
    pub generation: u64,
    /// Outputs that passed the manifest's grants and scope, in the plugin's order.
    pub outputs: Vec<Output>,
    /// Outputs refused, with the reason.
    pub dropped: Vec<DroppedOutput>,
    /// The plugin's log lines, its stdout/stderr, and host notes, in order.
    pub logs: Vec<LogLine>,
    /// Log lines (and stdout/stderr lines) kept out of `logs` and the host's log by the
    /// per-call or per-minute log caps.
    pub dropped_log_lines: u64,
    /// Fuel the call burned, when fuel metering is on.
    pub fuel: Option<u64>,
    /// Wall time of the call into the guest.
    pub duration: Duration,
    /// Whether the call ran on a new instance (fresh mode, first call, or after a recycle).
    pub fresh_instance: bool,
    /// Linear memory the instance held after the call, in bytes, summed over its memories: what
    /// the plugin's `memory-bytes` limit is measured against (a JavaScript plugin's engine heap
    /// lives there too).
    pub memory_bytes: u64,
}

/// A failed call: the typed error plus what the plugin logged before failing.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct CallError {
    /// What went wrong; names the plugin and, for limits, the limit.
    pub error: PluginError,
    /// The plugin's log up to the failure (a panic message appears here as stdio).
    pub logs: Vec<LogLine>,
    /// Log lines kept out of `logs` and the host's log by the log caps.
    pub dropped_log_lines: u64,
    /// Fuel burned, when fuel metering is on.
    pub fuel: Option<u64>,
    /// Time spent.
    pub duration: Duration,
}

impl CallError {
    /// A failure before the guest ran: no log, no fuel, no time.
    pub(crate) fn bare(error: PluginError) -> Box<Self> {
        Box::new(Self {
            error,
            logs: Vec::new(),
            dropped_log_lines: 0,
            fuel: None,
            duration: Duration::ZERO,
        })
    }
}

/// The host-side linkers, one per supported world version, built once per runtime.
pub(crate) struct Linkers {
    v0_1: Linker<HostState>,
}

impl Linkers {
    pub(crate) fn new(engine: &PluginEngine) -> anyhow::Result<Self> {
        let mut v0_1 = Linker::new(engine.engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut v0_1)?;
        super::deadline::cap_clock_subscriptions(&mut v0_1)?;
        v0_1::Plugin::add_to_linker::<HostState, HasSelf<HostState>>(&mut v0_1, |state| state)?;
        Ok(Self { v0_1 })
    }
}

/// The result of `handle` in `guildhost:plugin@0.1.x`.
type HandleResultV0_1 = (Result<Vec<Output>, v0_1::guildhost::plugin::types::PluginError>,);

/// The version-specific pre-instantiated component, and where its `handle` export is.
enum Pre {
    V0_1 {
        pre: v0_1::PluginPre<HostState>,
        handle: ComponentExportIndex,
    },
}

/// The version-specific entry point of a live instance.
enum Bindings {
    V0_1(Func),
}

/// A live instance and how many calls it has served.
struct Instance {
    store: Store<HostState>,
    bindings: Bindings,
    calls: u64,
}

/// One loaded version of a plugin. Calls in flight hold an `Arc` to it, so replacing a plugin in
/// the registry lets them finish on this version.
pub struct LoadedPlugin {
    manifest: Manifest,
    shared_name: Arc<str>,
    world: WorldVersion,
    surface: Surface,
    generation: u64,
    compiled_from: CompiledFrom,
    /// Keeps the compiled code alive for other loads of the same bytes to share.
    _component: Arc<wasmtime::component::Component>,
    default_config: Arc<Value>,
    pre: Pre,
    /// Set once `handle`'s signature has been checked against the bindings on a live instance;
    /// later instances of the same component skip the (costly) check.
    handle_checked: std::sync::OnceLock<()>,
    idle: Mutex<Vec<Instance>>,
    breakers: GuildBreakers,
    engine: Arc<PluginEngine>,
    kv: Arc<dyn KvStore>,
    config: Arc<RuntimeConfig>,
    origin: Origin,
    log_budget: Arc<LogBudget>,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.manifest.name)
            .field("version", &self.manifest.version)
            .field("world", &self.world)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Everything a plugin load needs from the runtime.
pub(crate) struct LoadContext<'a> {
    pub(crate) engine: &'a Arc<PluginEngine>,
    pub(crate) linkers: &'a Linkers,
    pub(crate) cache: &'a ArtifactCache,
    pub(crate) kv: &'a Arc<dyn KvStore>,
    pub(crate) config: &'a Arc<RuntimeConfig>,
    pub(crate) log_budget: &'a Arc<LogBudget>,
    pub(crate) origin: Origin,
}

impl LoadedPlugin {
    /// Compiles (or loads from the cache), checks imports and world version, and pre-instantiates.
    pub(crate) fn load(
        context: &LoadContext<'_>,
        manifest: Manifest,
        wasm: &[u8],
        generation: u64,
    ) -> Result<Self, LoadError> {
        let plugin = manifest.name.clone();
        let (component, compiled_from) = context
            .cache
            .load_or_compile(context.engine, wasm)
            .map_err(|error| LoadError::Compile {
                plugin: plugin.clone(),
                reason: format!("{error:#}"),
            })?;
        let surface = Surface::of(context.engine.engine(), &component);
        surface.check_imports(&plugin)?;
        let world = surface.world_version(&plugin)?;
        let world_error = |error: wasmtime::Error| LoadError::World {
            plugin: plugin.clone(),
            reason: format!("{error:#}"),
        };
        let pre = match world {
            WorldVersion::V0_1 => {
                let instance_pre = context
                    .linkers
                    .v0_1
                    .instantiate_pre(&component)
                    .map_err(world_error)?;
                let pre = v0_1::PluginPre::new(instance_pre).map_err(world_error)?;
                let handle = pre
                    .instance_pre()
                    .component()
                    .get_export_index(None, "handle")
                    .ok_or_else(|| LoadError::World {
                        plugin: plugin.clone(),
                        reason: "no `handle` export".into(),
                    })?;
                Pre::V0_1 { pre, handle }
            }
        };
        Ok(Self {
            default_config: Arc::new(manifest.default_config.clone()),
            shared_name: Arc::from(manifest.name.as_str()),
            manifest,
            world,
            surface,
            generation,
            compiled_from,
            _component: component,
            pre,
            handle_checked: std::sync::OnceLock::new(),
            idle: Mutex::new(Vec::new()),
            breakers: GuildBreakers::new(context.config.breaker),
            engine: context.engine.clone(),
            kv: context.kv.clone(),
            config: context.config.clone(),
            origin: context.origin,
            log_budget: context.log_budget.clone(),
        })
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    /// The name the plugin's author gave it: [`name`](Self::name) without the `@<guild>` a
    /// store-installed plugin is served under. It names the plugin's section of a guild's
    /// configuration and the prefix of the `custom_id`s it sends.
    pub fn authored_name(&self) -> &str {
        self.manifest
            .name
            .split_once('@')
            .map_or(self.manifest.name.as_str(), |(name, _)| name)
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The `guildhost:plugin` version line the component targets.
    pub fn world(&self) -> WorldVersion {
        self.world
    }

    /// The component's import and export names.
    pub fn surface(&self) -> &Surface {
        &self.surface
    }

    /// This load's generation number.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Where the plugin came from (first-party, the plugins directory).
    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// Whether the compiled code came from the artifact cache.
    pub fn compiled_from(&self) -> CompiledFrom {
        self.compiled_from
    }

    /// When the circuit breaker has suspended the plugin for `guild` (`None`: messages without a
    /// guild): the failures that opened it and the time left.
    pub fn suspended(&self, guild: Option<&str>) -> Option<Open> {
        self.breakers.peek(guild, Instant::now())
    }

    /// The guilds this plugin is suspended for now (`None`: messages without a guild).
    pub fn suspended_guilds(&self) -> Vec<Option<String>> {
        self.breakers.open_guilds(Instant::now())
    }

    /// Counts a misbehaviour the host saw outside the call itself (an output budget exceeded,
    /// a target refused) against the plugin's breaker for `guild`.
    pub fn record_misbehaviour(&self, guild: Option<&str>, reason: &str) {
        self.trip(guild, reason);
    }

    /// Idle warm instances currently kept.
    pub fn idle_instances(&self) -> usize {
        self.lock_idle().len()
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance>> {
        // The pool is a plain Vec of owned instances: a poisoned lock still holds valid ones.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn new_instance(&self) -> Result<Instance, PluginError> {
        let limits = &self.config.limits;
        let mut state = HostState::new(
            self.kv.clone(),
            self.manifest.limits.memory_bytes,
            limits,
            self.log_budget.clone(),
        );
        // Initialisation code runs under the host's wall-time ceiling, not the plugin's per-call
        // budget: a slow start on a loaded machine is not the plugin's fault, and a loop in
        // initialisation still ends (fuel and memory limits apply as in a call).
        let init_wall_time = limits.max_wall_time.max(self.manifest.limits.wall_time);
        state.set_call_deadline(Instant::now() + init_wall_time);
        let mut store = Store::new(self.engine.engine(), state);
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.engine.deadline_ticks(init_wall_time));
        // The deadline moves when the host's backend takes time (see `excuse_backend_time`):
        // when the epoch deadline comes, the call goes on if its deadline has moved past now.
        let epoch_tick = self.engine.epoch_tick();
        store.epoch_deadline_callback(move |context| {
            let now = Instant::now();
            match context.data().call_deadline() {
                Some(deadline) if deadline > now => Ok(wasmtime::UpdateDeadline::Continue(
                    crate::engine::ticks_for(deadline - now, epoch_tick),
                )),
                _ => Err(wasmtime::Trap::Interrupt.into()),
            }
        });
        if self.engine.fuel_metering() {
            store
                .set_fuel(self.manifest.limits.fuel.unwrap_or(u64::MAX))
                .map_err(|error| self.instantiate_error(error))?;
        }
        let bindings = match &self.pre {
            // Not `PluginPre::instantiate`: it type-checks every export on every instantiation,
            // which for the large `message` variant costs more than the instantiation itself.
            Pre::V0_1 { pre, handle } => {
                let instance = pre
                    .instance_pre()
                    .instantiate(&mut store)
                    .map_err(|error| self.instantiate_error(error))?;
                let func = instance.get_func(&mut store, handle).ok_or_else(|| {
                    self.instantiate_error(wasmtime::format_err!("no `handle` export"))
                })?;
                if self.handle_checked.get().is_none() {
                    func.typed::<(&Envelope, &Message), HandleResultV0_1>(&store)
                        .map_err(|error| self.instantiate_error(error))?;
                    let _ = self.handle_checked.set(());
                }
                Bindings::V0_1(func)
            }
        };
        Ok(Instance {
            store,
            bindings,
            calls: 0,
        })
    }

    fn instantiate_error(&self, error: wasmtime::Error) -> PluginError {
        PluginError::Instantiate {
            plugin: self.manifest.name.clone(),
            reason: format!("{error:#}"),
        }
    }

    /// Handles one message. Runs on the calling thread and may block (host KV calls); call it
    /// from a blocking context.
    pub fn call(
        &self,
        envelope: &Envelope,
        message: &Message,
        context: &GuildContext,
    ) -> Result<CallResult, Box<CallError>> {
        let name = &self.manifest.name;
        if let Scope::Guild(scope) = &self.manifest.scope
            && envelope.guild_id.as_deref() != Some(scope.as_str())
        {
            return Err(CallError::bare(PluginError::OutOfScope {
                plugin: name.clone(),
                scope: scope.clone(),
                guild: envelope.guild_id.clone(),
            }));
        }
        let guild = envelope.guild_id.as_deref();
        if let Err(open) = self.breakers.check(guild, Instant::now()) {
            return Err(CallError::bare(PluginError::Suspended {
                plugin: name.clone(),
                failures: open.failures,
                remaining: open.remaining,
            }));
        }
        let reused = match self.manifest.instance {
            InstancePolicy::Warm { .. } => self.lock_idle().pop(),
            InstancePolicy::Fresh => None,
        };
        let fresh_instance = reused.is_none();
        let mut instance = match reused {
            Some(instance) => instance,
            None => self.new_instance().map_err(|error| {
                self.record(guild, &error);
                CallError::bare(error)
            })?,
        };
        let outcome = self.run(&mut instance, envelope, message, context);
        let memory_bytes = instance.store.data().limiter.memory_in_use as u64;
        let healthy = outcome.healthy;
        let result = match outcome.result {
            Ok((outputs, dropped)) => Ok(CallResult {
                plugin: name.clone(),
                version: self.manifest.version.clone(),
                generation: self.generation,
                outputs,
                dropped,
                logs: outcome.logs,
                dropped_log_lines: outcome.dropped_log_lines,
                fuel: outcome.fuel,
                duration: outcome.duration,
                fresh_instance,
                memory_bytes,
            }),
            Err(error) => {
                self.record(guild, &error);
                Err(Box::new(CallError {
                    error,
                    logs: outcome.logs,
                    dropped_log_lines: outcome.dropped_log_lines,
                    fuel: outcome.fuel,
                    duration: outcome.duration,
                }))
            }
        };
        if result.is_ok() {
            self.breakers.record_success(guild, Instant::now());
        }
        instance.calls += 1;
        // An instance whose memory has grown past three quarters of its limit is not reused:
        // its next call starts from the component's initial memory instead of risking the limit
        // mid-call. A garbage-collected guest (a JavaScript plugin's engine) grows its heap
        // between collections and would otherwise fail a message once it reached the limit.
        let memory_headroom = memory_bytes <= self.manifest.limits.memory_bytes / 4 * 3;
        if let InstancePolicy::Warm { recycle_after } = self.manifest.instance
            && healthy
            && memory_headroom
            && instance.calls < recycle_after
        {
            let mut idle = self.lock_idle();
            if idle.len() < self.config.max_idle_instances {
                idle.push(instance);
            }
        }
        result
    }

    fn record(&self, guild: Option<&str>, error: &PluginError) {
        if error.counts_as_failure() {
            self.trip(guild, &error.to_string());
        }
    }

    fn trip(&self, guild: Option<&str>, last_error: &str) {
        if let Tripped::Opened { backoff } = self.breakers.record_failure(guild, Instant::now()) {
            tracing::warn!(
                plugin = %self.manifest.name,
                version = %self.manifest.version,
                guild = guild.unwrap_or("-"),
                backoff_ms = backoff.as_millis() as u64,
                last_error,
                "circuit breaker opened: plugin suspended for this guild after repeated failures"
            );
        }
    }

    fn run(
        &self,
        instance: &mut Instance,
        envelope: &Envelope,
        message: &Message,
        context: &GuildContext,
    ) -> Outcome {
        let limits = &self.manifest.limits;
        let name = &self.manifest.name;
        let state = instance.store.data_mut();
        state.limiter.hit = None;
        state.scope = Some(CallScope::new(
            self.shared_name.clone(),
            envelope.guild_id.clone(),
            envelope.id.clone(),
            KvQuota {
                max_keys: limits.kv_keys,
                max_bytes: limits.kv_bytes,
            },
            self.default_config.clone(),
            context.config.clone(),
        ));
        state.set_call_deadline(Instant::now() + limits.wall_time);
        let store = &mut instance.store;
        store.set_epoch_deadline(self.engine.deadline_ticks(limits.wall_time));
        let budget = limits.fuel.unwrap_or(u64::MAX);
        let metering = self.engine.fuel_metering() && store.set_fuel(budget).is_ok();
        let started = Instant::now();
        let returned = match &instance.bindings {
            Bindings::V0_1(func) => {
                // SAFETY: `new_instance` checked this component's `handle` against exactly
                // these parameter and result types before any instance was handed out, and every
                // instance comes from the same component.
                let handle: TypedFunc<(&Envelope, &Message), HandleResultV0_1> =
                    unsafe { TypedFunc::new_unchecked(*func) };
                handle
                    .call(&mut *store, (envelope, message))
                    .map(|(result,)| result)
            }
        };
        let duration = started.elapsed();
        let fuel = metering.then(|| budget - store.get_fuel().unwrap_or(0));
        let stdio_tail = store.data().stdio_tail(2048);
        let hit = store.data_mut().limiter.hit.take();
        let backend_failure = store.data_mut().backend_failure.take();
        let log = store.data_mut().finish_call();
        let limit = |limit: String| PluginError::Limit {
            plugin: name.clone(),
            limit,
        };
        let (result, healthy) = match returned {
            // A host call cut short at the deadline fails the call, whatever the guest did next.
            _ if hit == Some(LimitHit::Blocked) => (Err(self.wall_time_exceeded(duration)), false),
            Err(error) => (
                Err(self.classify_trap(&error, hit, &stdio_tail, duration)),
                false,
            ),
            Ok(Err(plugin_error)) => match hit {
                Some(hit) => (Err(limit(hit.describe())), true),
                None => (
                    Err(PluginError::Returned {
                        plugin: name.clone(),
                        message: escape_line(
                            &plugin_error.message,
                            self.config.limits.max_log_line_bytes,
                        )
                        .0,
                        retryable: plugin_error.retryable,
                    }),
                    true,
                ),
            },
            Ok(Ok(outputs)) => (
                enforce(&self.manifest, envelope.guild_id.as_deref(), outputs),
                true,
            ),
        };
        // A call that failed after the host's store failed it is the host's trouble: the
        // plugin may have trapped, run out of time or given up (retryably) only because of it.
        let result = match (result, backend_failure) {
            (Err(error), Some(reason))
                if error.counts_as_failure()
                    || matches!(
                        error,
                        PluginError::Returned {
                            retryable: true,
                            ..
                        }
                    ) =>
            {
                Err(PluginError::Unavailable {
                    plugin: name.clone(),
                    reason,
                })
            }
            (result, _) => result,
        };
        Outcome {
            result,
            healthy,
            logs: log.lines,
            dropped_log_lines: log.dropped_lines,
            fuel,
            duration,
        }
    }

    fn wall_time_exceeded(&self, duration: Duration) -> PluginError {
        PluginError::Limit {
            plugin: self.manifest.name.clone(),
            limit: format!(
                "wall-time {} (stopped after {})",
                human_duration(self.manifest.limits.wall_time),
                human_duration(Duration::from_millis(duration.as_millis() as u64))
            ),
        }
    }

    fn classify_trap(
        &self,
        error: &wasmtime::Error,
        hit: Option<LimitHit>,
        stdio_tail: &str,
        duration: Duration,
    ) -> PluginError {
        let name = self.manifest.name.clone();
        let limits = &self.manifest.limits;
        if let Some(hit) = hit {
            return PluginError::Limit {
                plugin: name,
                limit: hit.describe(),
            };
        }
        match error.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::Interrupt) => self.wall_time_exceeded(duration),
            Some(wasmtime::Trap::OutOfFuel) => PluginError::Limit {
                plugin: name,
                limit: format!("fuel {}", limits.fuel.unwrap_or(u64::MAX)),
            },
            Some(wasmtime::Trap::StackOverflow) => PluginError::Limit {
                plugin: name,
                limit: format!("stack {} bytes", self.config.limits.max_wasm_stack_bytes),
            },
            _ => {
                let trap = error
                    .downcast_ref::<wasmtime::Trap>()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| format!("{error:#}"));
                let reason = if stdio_tail.is_empty() {
                    trap
                } else {
                    format!("{trap}; the plugin wrote: {stdio_tail}")
                };
                PluginError::Trap {
                    plugin: name,
                    reason,
                }
            }
        }
    }
}

struct Outcome {
    result: Result<(Vec<Output>, Vec<DroppedOutput>), PluginError>,
    healthy: bool,
    logs: Vec<LogLine>,
    dropped_log_lines: u64,
    fuel: Option<u64>,
    duration: Duration,
}
