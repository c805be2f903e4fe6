//! Resource limits: the host-wide ceilings an operator sets, and the per-plugin limits a manifest
//! asks for, clamped within those ceilings.

use std::time::Duration;

/// Host-wide ceilings and defaults. A manifest may ask for less than a ceiling, never more; a
/// manifest that omits a limit gets the default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeLimits {
    /// Longest wall time one call may take.
    pub max_wall_time: Duration,
    /// Wall time a plugin gets when its manifest does not say.
    pub default_wall_time: Duration,
    /// Largest linear memory one instance may grow to, in bytes. Also sizes the pooling allocator.
    pub max_memory_bytes: u64,
    /// Memory an instance gets when its manifest does not say.
    pub default_memory_bytes: u64,
    /// Most outputs one call may return.
    pub max_outputs_per_call: u32,
    /// Outputs per call when the manifest does not say.
    pub default_outputs_per_call: u32,
    /// Largest encoded size of a single output, in bytes.
    pub max_output_bytes: u64,
    /// Output size when the manifest does not say.
    pub default_output_bytes: u64,
    /// Most KV keys one plugin may hold per guild.
    pub max_kv_keys: u64,
    /// KV keys when the manifest does not say.
    pub default_kv_keys: u64,
    /// Most KV bytes (keys + values) one plugin may hold per guild.
    pub max_kv_bytes: u64,
    /// KV bytes when the manifest does not say.
    pub default_kv_bytes: u64,
    /// Most fuel one call may burn; a manifest asking for fuel gets at most this.
    pub max_fuel: u64,
    /// Calls a warm instance serves before it is replaced, when the manifest does not say.
    pub default_recycle_after: u64,
    /// Most bytes of log text one call may write (its log lines and its stdout/stderr, after
    /// escaping); further lines are neither logged nor captured, only counted.
    pub max_log_bytes_per_call: usize,
    /// Longest log line kept (after escaping); longer lines are cut.
    pub max_log_line_bytes: usize,
    /// Most bytes of log text one plugin may write per minute in one guild, across all its
    /// instances and calls; further lines are neither logged nor captured, only counted.
    pub max_log_bytes_per_minute: u64,
    /// Largest component (`.wasm`) the runtime loads, in bytes, whatever its source.
    pub max_component_bytes: u64,
    /// Native wasm stack per instance, in bytes.
    pub max_wasm_stack_bytes: usize,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        Self {
            max_wall_time: Duration::from_secs(2),
            default_wall_time: Duration::from_millis(100),
            max_memory_bytes: 64 << 20,
            default_memory_bytes: 16 << 20,
            max_outputs_per_call: 256,
            default_outputs_per_call: 32,
            max_output_bytes: 256 << 10,
            default_output_bytes: 16 << 10,
            max_kv_keys: 100_000,
            default_kv_keys: 1_000,
            max_kv_bytes: 64 << 20,
            default_kv_bytes: 1 << 20,
            max_fuel: 10_000_000_000,
            default_recycle_after: 10_000,
            max_log_bytes_per_call: 64 << 10,
            max_log_line_bytes: 4 << 10,
            max_log_bytes_per_minute: 256 << 10,
            max_component_bytes: 32 << 20,
            max_wasm_stack_bytes: 512 << 10,
        }
    }
}

/// The limits one plugin runs under, already clamped to the host's [`RuntimeLimits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLimits {
    /// Wall time per call (enforced by the epoch deadline).
    pub wall_time: Duration,
    /// Largest linear memory, in bytes (enforced by trapping on grow failure).
    pub memory_bytes: u64,
    /// Most outputs one call may return.
    pub max_outputs: u32,
    /// Largest encoded size of one output, in bytes.
    pub max_output_bytes: u64,
    /// Most KV keys per guild.
    pub kv_keys: u64,
    /// Most KV bytes per guild.
    pub kv_bytes: u64,
    /// Fuel per call, when the manifest asks for fuel metering as a limit.
    pub fuel: Option<u64>,
}

/// What a manifest asked for, before clamping; `None` means "use the host default".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestedLimits {
    /// Wall time per call.
    pub wall_time: Option<Duration>,
    /// Memory in bytes.
    pub memory_bytes: Option<u64>,
    /// Outputs per call.
    pub max_outputs: Option<u32>,
    /// Bytes per output.
    pub max_output_bytes: Option<u64>,
    /// KV keys per guild.
    pub kv_keys: Option<u64>,
    /// KV bytes per guild.
    pub kv_bytes: Option<u64>,
    /// Fuel per call.
    pub fuel: Option<u64>,
}

impl RuntimeLimits {
    /// Clamps what a manifest asked for within the ceilings, filling in defaults.
    pub fn clamp(&self, requested: &RequestedLimits) -> PluginLimits {
        let default_wall = self.default_wall_time.min(self.max_wall_time);
        PluginLimits {
            wall_time: requested
                .wall_time
                .unwrap_or(default_wall)
                .min(self.max_wall_time),
            memory_bytes: requested
                .memory_bytes
                .unwrap_or(self.default_memory_bytes)
                .min(self.max_memory_bytes),
            max_outputs: requested
                .max_outputs
                .unwrap_or(self.default_outputs_per_call)
                .min(self.max_outputs_per_call),
            max_output_bytes: requested
                .max_output_bytes
                .unwrap_or(self.default_output_bytes)
                .min(self.max_output_bytes),
            kv_keys: requested
                .kv_keys
                .unwrap_or(self.default_kv_keys)
                .min(self.max_kv_keys),
            kv_bytes: requested
                .kv_bytes
                .unwrap_or(self.default_kv_bytes)
                .min(self.max_kv_bytes),
            fuel: requested.fuel.map(|fuel| fuel.min(self.max_fuel)),
        }
    }
}

impl RuntimeLimits {
    /// What a manifest asked for above this host's ceilings, one line per limit: the manifest
    /// key, the request, and what the plugin runs with instead.
    pub fn lowered(&self, requested: &RequestedLimits) -> Vec<String> {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let asked_and_allowed = [
            (
                "wall-time-ms",
                requested.wall_time.map(millis),
                millis(self.max_wall_time),
                " ms",
            ),
            (
                "memory-bytes",
                requested.memory_bytes,
                self.max_memory_bytes,
                " bytes",
            ),
            (
                "max-outputs",
                requested.max_outputs.map(u64::from),
                u64::from(self.max_outputs_per_call),
                "",
            ),
            (
                "max-output-bytes",
                requested.max_output_bytes,
                self.max_output_bytes,
                " bytes",
            ),
            ("kv-keys", requested.kv_keys, self.max_kv_keys, ""),
            ("kv-bytes", requested.kv_bytes, self.max_kv_bytes, " bytes"),
            ("fuel", requested.fuel, self.max_fuel, ""),
        ];
        asked_and_allowed
            .into_iter()
            .filter_map(|(key, asked, allowed, unit)| {
                let asked = asked.filter(|&asked| asked > allowed)?;
                Some(format!(
                    "limits.{key}: asked {asked}{unit}, this host allows at most {allowed}{unit}; \
                     the plugin runs with {allowed}{unit}"
                ))
            })
            .collect()
    }
}

/// Formats a duration the way limit errors show it: `50ms`, `2s`, `1500us`.
pub(crate) fn human_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros.is_multiple_of(1_000_000) {
        format!("{}s", micros / 1_000_000)
    } else if micros.is_multiple_of(1_000) {
        format!("{}ms", micros / 1_000)
    } else {
        format!("{micros}us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_above_a_ceiling_are_named_with_what_the_plugin_gets() {
        let host = RuntimeLimits::default();
        let asked = RequestedLimits {
            wall_time: Some(Duration::from_secs(20)),
            max_outputs: Some(3),
            ..RequestedLimits::default()
        };
        assert_eq!(
            host.lowered(&asked),
            [
                "limits.wall-time-ms: asked 20000 ms, this host allows at most 2000 ms; the plugin \
              runs with 2000 ms"
            ]
        );
        assert!(host.lowered(&RequestedLimits::default()).is_empty());
    }

    #[test]
    fn clamps_requests_above_the_ceiling_and_fills_defaults() {
        let host = RuntimeLimits::default();
        let asked = RequestedLimits {
            wall_time: Some(Duration::from_secs(60)),
            memory_bytes: Some(1 << 40),
            fuel: Some(u64::MAX),
            ..RequestedLimits::default()
        };
        let limits = host.clamp(&asked);
        assert_eq!(limits.wall_time, host.max_wall_time);
        assert_eq!(limits.memory_bytes, host.max_memory_bytes);
        assert_eq!(limits.fuel, Some(host.max_fuel));
        assert_eq!(limits.max_outputs, host.default_outputs_per_call);
        assert_eq!(limits.kv_keys, host.default_kv_keys);
    }

    #[test]
    fn keeps_requests_below_the_ceiling() {
        let host = RuntimeLimits::default();
        let asked = RequestedLimits {
            wall_time: Some(Duration::from_millis(50)),
            max_outputs: Some(4),
            ..RequestedLimits::default()
        };
        let limits = host.clamp(&asked);
        assert_eq!(limits.wall_time, Duration::from_millis(50));
        assert_eq!(limits.max_outputs, 4);
        assert_eq!(limits.fuel, None);
    }

    #[test]
    fn formats_durations_for_error_messages() {
        assert_eq!(human_duration(Duration::from_millis(50)), "50ms");
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_micros(1500)), "1500us");
    }
}
