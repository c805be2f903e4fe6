//! What a plugin's store holds and the host side of every interface the WIT world imports:
//! logging into `tracing` (and the call's captured log), the namespaced KV store, the clock, the
//! configuration, and a locked-down WASI whose stdout/stderr land in the plugin's log.
//!
//! Every line of plugin text (the `logging` interface, each stdout/stderr line) is escaped and
//! cut ([`super::logs::escape_line`]), then admitted only within the call's cap and the
//! (plugin, guild)'s per-minute [`LogBudget`]; only an admitted line reaches `tracing` and the
//! call's captured log. What was dropped is summarised once per call in one host line.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use serde_json::Value;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::v0_1::guildhost::plugin::{clock, config, kv, logging, types};
use super::kv::{KvError, KvNamespace, KvQuota, KvStore};
use super::limits::RuntimeLimits;
use super::logs::{Dropped, LogBudget, LogBudgetKey, escape, escape_line};

/// Longest KV key a plugin may use, in bytes.
pub(crate) const MAX_KV_KEY_BYTES: usize = 512;

/// Severity of a captured log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected the plugin handled.
    Warn,
    /// Something failed.
    Error,
}

/// Where a captured log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogSource {
    /// The `logging` interface.
    Plugin,
    /// The guest's stdout or stderr (a panic message, a stray `println!`).
    Stdio,
    /// The host, about the plugin (e.g. a KV quota refusal).
    Host,
}

/// One line of a plugin's log, captured for the call's result.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Severity.
    pub level: LogLevel,
    /// Origin.
    pub source: LogSource,
    /// The text: control characters escaped (`\n`, `\u{1b}`), cut to the host's line limit.
    pub message: String,
}

/// A limit the host saw exceeded during a call, recorded so the call's error can name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LimitHit {
    /// Linear memory would have grown past the cap.
    Memory(u64),
    /// A table would have grown past the host's ceiling.
    Table(usize),
    /// A KV write was refused for quota (`kv-keys 1000` / `kv-bytes 1048576`).
    Kv(String),
    /// A host call (a sleep, a poll) would have blocked past the wall-time limit and was cut
    /// short at it.
    Blocked,
}

impl LimitHit {
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Memory(bytes) => format!("memory {bytes} bytes"),
            Self::Table(elements) => format!("table {elements} elements"),
            Self::Kv(limit) => limit.clone(),
            Self::Blocked => "wall-time (a host call blocked past it)".to_owned(),
        }
    }
}

/// Caps memory growth and records which cap was hit.
pub(crate) struct GuestLimiter {
    memory_bytes: usize,
    table_elements: usize,
    pub(crate) hit: Option<LimitHit>,
    /// Linear memory the instance holds, summed over its memories (a component has several).
    pub(crate) memory_in_use: usize,
    /// The last growth allowed, taken back if wasmtime then refuses it.
    pending_growth: usize,
}

/// Most table elements an instance may have (function tables of ordinary Rust guests hold a few
/// hundred entries).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // The limit holds for all of an instance's memories together (a component may have
        // several), as `CallResult::memory_bytes` reports them.
        let growth = desired.saturating_sub(current);
        let total = self.memory_in_use.saturating_add(growth);
        if total > self.memory_bytes {
            self.hit = Some(LimitHit::Memory(self.memory_bytes as u64));
            // Trapping (rather than returning false) ends the call with a host-attributable
            // error instead of a guest allocation failure that looks like a bug.
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes exceeded",
                self.memory_bytes
            ));
        }
        self.memory_in_use = total;
        self.pending_growth = growth;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // Allowed here, refused by wasmtime after (the module's own maximum): not in use.
        self.memory_in_use = self.memory_in_use.saturating_sub(self.pending_growth);
        self.pending_growth = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.hit = Some(LimitHit::Table(self.table_elements));
            return Err(wasmtime::format_err!(
                "table limit of {} elements exceeded",
                self.table_elements
            ));
        }
        Ok(true)
    }

    // A Rust guest has a handful of core instances; a Python one (componentize-py links
    // CPython and its extension modules as separate modules) has about 40.
    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        32
    }

    fn memories(&self) -> usize {
        8
    }
}

/// The per-call facts host functions need; replaced before every call.
pub(crate) struct CallScope {
    pub(crate) plugin: Arc<str>,
    pub(crate) guild: Option<String>,
    pub(crate) message_id: String,
    pub(crate) namespace: KvNamespace,
    pub(crate) quota: KvQuota,
    pub(crate) default_config: Arc<Value>,
    pub(crate) guild_config: Option<Arc<Value>>,
    merged_config: Option<Arc<Value>>,
    pub(crate) logs: Vec<LogLine>,
    log_bytes: usize,
    /// The (plugin, guild) the per-minute budget is charged to, made at the first log line.
    log_key: Option<LogBudgetKey>,
    dropped: Dropped,
}

impl CallScope {
    pub(crate) fn new(
        plugin: Arc<str>,
        guild: Option<String>,
        message_id: String,
        quota: KvQuota,
        default_config: Arc<Value>,
        guild_config: Option<Arc<Value>>,
    ) -> Self {
        let namespace = KvNamespace {
            plugin: plugin.to_string(),
            guild: guild.clone(),
        };
        Self {
            plugin,
            guild,
            message_id,
            namespace,
            quota,
            default_config,
            guild_config,
            merged_config: None,
            logs: Vec::new(),
            log_bytes: 0,
            log_key: None,
            dropped: Dropped::default(),
        }
    }

    fn config(&mut self) -> Arc<Value> {
        if let Some(merged) = &self.merged_config {
            return merged.clone();
        }
        let merged = match &self.guild_config {
            None => self.default_config.clone(),
            Some(overlay) => Arc::new(merge_json(&self.default_config, overlay)),
        };
        self.merged_config = Some(merged.clone());
        merged
    }
}

/// Overlays `overlay` on `base`: objects merge key by key (recursively), anything else replaces.
pub(crate) fn merge_json(base: &Value, overlay: &Value) -> Value {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            let mut merged = base.clone();
            for (key, value) in overlay {
                let combined = match merged.get(key) {
                    Some(existing) => merge_json(existing, value),
                    None => value.clone(),
                };
                merged.insert(key.clone(), combined);
            }
            Value::Object(merged)
        }
        (_, overlay) => overlay.clone(),
    }
}

/// One call's captured log and how many lines were kept out of it.
#[derive(Debug, Default)]
pub(crate) struct CallLog {
    /// The admitted lines, then the host's summary of what was dropped (if anything was).
    pub(crate) lines: Vec<LogLine>,
    /// Lines dropped for the per-call or the per-minute cap.
    pub(crate) dropped_lines: u64,
}

/// The data of one plugin instance's store.
pub(crate) struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: GuestLimiter,
    pub(crate) scope: Option<CallScope>,
    pub(crate) stdio: StdioCapture,
    kv: Arc<dyn KvStore>,
    max_log_bytes: usize,
    max_log_line: usize,
    /// When the running call (or instantiation) must end; host calls never block past it.
    deadline: Option<std::time::Instant>,
    /// How much time the host's backend (the KV store) may still add to `deadline` in this
    /// call: its round trips are the host's time, not the plugin's, within this bound.
    backend_allowance: std::time::Duration,
    /// The host's ceiling for `backend_allowance` (its maximum wall time per call).
    max_backend_allowance: std::time::Duration,
    /// Why the backend failed during this call, if it did: a failure of the call is then the
    /// host's trouble, not the plugin's.
    pub(crate) backend_failure: Option<String>,
    log_budget: Arc<LogBudget>,
}

/// Emits one admitted plugin line to `tracing` at its level.
fn emit(scope: &CallScope, level: LogLevel, source: LogSource, text: &str) {
    let plugin = &*scope.plugin;
    let guild = scope.guild.as_deref().unwrap_or("-");
    let message_id = scope.message_id.as_str();
    let stdio = source == LogSource::Stdio;
    macro_rules! emit {
        ($level:ident) => {
            if stdio {
                tracing::$level!(target: "guildhost::plugin", plugin, guild, message_id, stdio = true, "{text}")
            } else {
                tracing::$level!(target: "guildhost::plugin", plugin, guild, message_id, "{text}")
            }
        };
    }
    match level {
        LogLevel::Trace => emit!(trace),
        LogLevel::Debug => emit!(debug),
        LogLevel::Info => emit!(info),
        LogLevel::Warn => emit!(warn),
        LogLevel::Error => emit!(error),
    }
}

impl HostState {
    /// A state for a new instance: WASI with no preopened directories, no network, no
    /// environment variables or arguments, stdin empty, stdout and stderr captured.
    pub(crate) fn new(
        kv: Arc<dyn KvStore>,
        memory_bytes: u64,
        limits: &RuntimeLimits,
        log_budget: Arc<LogBudget>,
    ) -> Self {
        let stdio = StdioCapture::new(limits.max_log_bytes_per_call);
        let wasi = WasiCtxBuilder::new()
            .stdout(stdio.clone())
            .stderr(stdio.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }))
            .build();
        Self {
            wasi,
            table: ResourceTable::new(),
            limiter: GuestLimiter {
                memory_bytes: usize::try_from(memory_bytes).unwrap_or(usize::MAX),
                table_elements: MAX_TABLE_ELEMENTS,
                hit: None,
                memory_in_use: 0,
                pending_growth: 0,
            },
            scope: None,
            stdio,
            kv,
            max_log_bytes: limits.max_log_bytes_per_call,
            max_log_line: limits.max_log_line_bytes,
            log_budget,
            deadline: None,
            backend_allowance: limits.max_wall_time,
            max_backend_allowance: limits.max_wall_time,
            backend_failure: None,
        }
    }

    /// Sets when the call about to run must end (see `deadline`), with a fresh allowance for
    /// backend time and no backend failure.
    pub(crate) fn set_call_deadline(&mut self, deadline: std::time::Instant) {
        self.deadline = Some(deadline);
        self.backend_allowance = self.max_backend_allowance;
        self.backend_failure = None;
    }

    /// Gives the call back `spent` (time the host's backend took), within the allowance.
    fn excuse_backend_time(&mut self, spent: std::time::Duration) {
        let granted = spent.min(self.backend_allowance);
        self.backend_allowance -= granted;
        if let Some(deadline) = &mut self.deadline {
            *deadline += granted;
        }
    }

    /// When the running call must end, if one is running.
    pub(crate) fn call_deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }

    /// Admits one line of text into the call's log: escaped and cut, then kept only within the
    /// call's cap and (for the plugin's own text) the per-minute budget of its (plugin, guild).
    /// Only an admitted line of plugin text reaches `tracing`; host notes are only captured.
    fn record(&mut self, level: LogLevel, source: LogSource, text: &str) {
        let Self {
            scope,
            log_budget,
            max_log_bytes,
            max_log_line,
            ..
        } = self;
        let Some(scope) = scope.as_mut() else {
            return;
        };
        let written = u64::try_from(text.len()).unwrap_or(u64::MAX);
        // Once the call's cap is reached, nothing more is escaped: the line is only counted.
        let over_call_cap = |size: usize| scope.log_bytes.saturating_add(size) > *max_log_bytes;
        if over_call_cap(1) {
            scope.dropped.call_cap_lines += 1;
            scope.dropped.call_cap_bytes = scope.dropped.call_cap_bytes.saturating_add(written);
            return;
        }
        let (message, _cut) = escape_line(text, *max_log_line);
        if over_call_cap(message.len()) {
            scope.dropped.call_cap_lines += 1;
            scope.dropped.call_cap_bytes = scope.dropped.call_cap_bytes.saturating_add(written);
            return;
        }
        if source != LogSource::Host {
            let key = scope.log_key.get_or_insert_with(|| {
                LogBudgetKey::new(scope.plugin.clone(), scope.guild.as_deref())
            });
            let size = u64::try_from(message.len()).unwrap_or(u64::MAX);
            if !log_budget.try_take(key, size, Instant::now()) {
                scope.dropped.minute_cap_lines += 1;
                scope.dropped.minute_cap_bytes =
                    scope.dropped.minute_cap_bytes.saturating_add(written);
                return;
            }
            emit(scope, level, source, &message);
        }
        scope.log_bytes += message.len();
        scope.logs.push(LogLine {
            level,
            source,
            message,
        });
    }

    /// Moves what the guest wrote to stdout/stderr into the call's log (one line each, under
    /// the same caps as logged lines), adds the summary of what was dropped, and returns the
    /// call's log. Called once after every call.
    pub(crate) fn finish_call(&mut self) -> CallLog {
        let written = self.stdio.take();
        if !written.bytes.is_empty() {
            let text = String::from_utf8_lossy(&written.bytes);
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                self.record(LogLevel::Warn, LogSource::Stdio, line);
            }
        }
        let Some(mut scope) = self.scope.take() else {
            return CallLog::default();
        };
        scope.dropped.call_cap_lines = scope
            .dropped
            .call_cap_lines
            .saturating_add(written.dropped_lines);
        scope.dropped.call_cap_bytes = scope
            .dropped
            .call_cap_bytes
            .saturating_add(written.dropped_bytes);
        let dropped_lines = scope.dropped.lines();
        if dropped_lines > 0 {
            let note = scope
                .dropped
                .summary(self.max_log_bytes, self.log_budget.per_window());
            emit(&scope, LogLevel::Warn, LogSource::Host, &note);
            scope.logs.push(LogLine {
                level: LogLevel::Warn,
                source: LogSource::Host,
                message: note,
            });
        }
        CallLog {
            lines: scope.logs,
            dropped_lines,
        }
    }

    /// The last `max` bytes the guest wrote to stdout/stderr during this call, without
    /// consuming them, with control characters escaped (the text goes into an error message).
    pub(crate) fn stdio_tail(&self, max: usize) -> String {
        escape(&self.stdio.tail(max))
    }

    fn scope_mut(&mut self) -> wasmtime::Result<&mut CallScope> {
        self.scope
            .as_mut()
            .ok_or_else(|| wasmtime::format_err!("host interface used outside a call"))
    }

    fn kv_call<T>(
        &mut self,
        key: &str,
        operation: impl FnOnce(&dyn KvStore, &KvNamespace, KvQuota) -> Result<T, KvError>,
    ) -> wasmtime::Result<Result<T, kv::KvError>> {
        if key.is_empty() || key.len() > MAX_KV_KEY_BYTES {
            return Ok(Err(kv::KvError::InvalidKey(format!(
                "a key must be 1 to {MAX_KV_KEY_BYTES} bytes, got {}",
                key.len()
            ))));
        }
        let kv = self.kv.clone();
        let scope = self.scope_mut()?;
        let started = std::time::Instant::now();
        let result = operation(kv.as_ref(), &scope.namespace, scope.quota);
        self.excuse_backend_time(started.elapsed());
        if let Err(KvError::Unavailable(reason)) = &result {
            self.backend_failure = Some(reason.clone());
        }
        Ok(result.map_err(|error| self.kv_error(error)))
    }

    fn kv_error(&mut self, error: KvError) -> kv::KvError {
        match error {
            KvError::KeysExceeded { .. } | KvError::BytesExceeded { .. } => {
                let limit = error.to_string();
                self.limiter.hit = Some(LimitHit::Kv(limit.clone()));
                self.record(
                    LogLevel::Warn,
                    LogSource::Host,
                    &format!("kv write refused: quota {limit} reached"),
                );
                kv::KvError::QuotaExceeded(limit)
            }
            KvError::NotAnInteger(reason) => kv::KvError::NotAnInteger(reason),
            KvError::Unavailable(reason) => kv::KvError::Unavailable(reason),
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for HostState {}

impl logging::Host for HostState {
    fn log(&mut self, level: logging::Level, message: String) {
        let level = match level {
            logging::Level::Trace => LogLevel::Trace,
            logging::Level::Debug => LogLevel::Debug,
            logging::Level::Info => LogLevel::Info,
            logging::Level::Warn => LogLevel::Warn,
            logging::Level::Error => LogLevel::Error,
        };
        self.record(level, LogSource::Plugin, &message);
    }
}

impl kv::Host for HostState {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, kv::KvError> {
        self.kv_call(&key, |store, namespace, _| store.get(namespace, &key))
            .unwrap_or_else(|error| Err(kv::KvError::Unavailable(error.to_string())))
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), kv::KvError> {
        self.kv_call(&key, |store, namespace, quota| {
            store.set(namespace, &key, &value, quota)
        })
        .unwrap_or_else(|error| Err(kv::KvError::Unavailable(error.to_string())))
    }

    fn delete(&mut self, key: String) -> Result<bool, kv::KvError> {
        self.kv_call(&key, |store, namespace, _| store.delete(namespace, &key))
            .unwrap_or_else(|error| Err(kv::KvError::Unavailable(error.to_string())))
    }

    fn increment(&mut self, key: String, delta: i64) -> Result<i64, kv::KvError> {
        self.kv_call(&key, |store, namespace, quota| {
            store.increment(namespace, &key, delta, quota)
        })
        .unwrap_or_else(|error| Err(kv::KvError::Unavailable(error.to_string())))
    }
}

impl clock::Host for HostState {
    fn now(&mut self) -> u64 {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
    }
}

impl config::Host for HostState {
    fn get(&mut self) -> String {
        match self.scope.as_mut() {
            Some(scope) => scope.config().to_string(),
            None => "{}".to_owned(),
        }
    }

    fn get_key(&mut self, key: String) -> Option<String> {
        let scope = self.scope.as_mut()?;
        scope.config().get(&key).map(Value::to_string)
    }
}

/// How many lines start in `bytes` (a line starts at a byte other than `\n` that is first or
/// follows a `\n`; `at_line_start`: whether the byte before `bytes` ended a line), and whether
/// the byte after `bytes` starts a line. Words without a newline are skipped eight bytes at a
/// time: a guest may write megabytes past the cap, all of which are counted here.
fn lines_started(bytes: &[u8], mut at_line_start: bool) -> (u64, bool) {
    const NEWLINES: u64 = u64::from_ne_bytes([b'\n'; 8]);
    const LOW_BITS: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);
    let mut started = 0u64;
    let mut step = |byte: u8, at_line_start: &mut bool| {
        if *at_line_start && byte != b'\n' {
            started += 1;
        }
        *at_line_start = byte == b'\n';
    };
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut array = [0u8; 8];
        array.copy_from_slice(word);
        // A byte of `x` is zero exactly where the word holds a newline.
        let x = u64::from_ne_bytes(array) ^ NEWLINES;
        if x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS == 0 {
            step(0, &mut at_line_start);
            continue;
        }
        for &byte in word {
            step(byte, &mut at_line_start);
        }
    }
    for &byte in words.remainder() {
        step(byte, &mut at_line_start);
    }
    (started, at_line_start)
}

#[derive(Debug)]
struct StdioBuffer {
    bytes: Vec<u8>,
    /// Whether the next byte written starts a line.
    at_line_start: bool,
    /// Lines (not only newlines) whose first byte came after the buffer was full.
    dropped_lines: u64,
    /// Bytes written after the buffer was full.
    dropped_bytes: u64,
}

impl Default for StdioBuffer {
    fn default() -> Self {
        Self {
            bytes: Vec::new(),
            at_line_start: true,
            dropped_lines: 0,
            dropped_bytes: 0,
        }
    }
}

/// What the guest wrote to stdout/stderr during one call.
#[derive(Debug, Default)]
pub(crate) struct StdioWritten {
    /// The bytes kept (at most the capacity).
    pub(crate) bytes: Vec<u8>,
    /// Lines that started after the capacity was reached.
    pub(crate) dropped_lines: u64,
    /// Bytes written after the capacity was reached.
    pub(crate) dropped_bytes: u64,
}

/// The guest's stdout and stderr: an in-memory buffer drained after every call. Writes past the
/// cap are dropped and counted (never an error the guest could trip over).
#[derive(Debug, Clone)]
pub(crate) struct StdioCapture {
    buffer: Arc<Mutex<StdioBuffer>>,
    capacity: usize,
}

impl StdioCapture {
    fn new(capacity: usize) -> Self {
        Self {
            buffer: Arc::new(Mutex::new(StdioBuffer::default())),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StdioBuffer> {
        // Appending bytes cannot leave the buffer inconsistent, even after a panic elsewhere.
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn append(&self, bytes: &[u8]) {
        let mut buffer = self.lock();
        let room = self.capacity.saturating_sub(buffer.bytes.len());
        let (kept, dropped) = bytes.split_at(bytes.len().min(room));
        buffer.bytes.extend_from_slice(kept);
        if let Some(&last) = kept.last() {
            buffer.at_line_start = last == b'\n';
        }
        if dropped.is_empty() {
            return;
        }
        buffer.dropped_bytes = buffer
            .dropped_bytes
            .saturating_add(u64::try_from(dropped.len()).unwrap_or(u64::MAX));
        let (started, at_line_start) = lines_started(dropped, buffer.at_line_start);
        buffer.at_line_start = at_line_start;
        buffer.dropped_lines = buffer.dropped_lines.saturating_add(started);
    }

    fn take(&self) -> StdioWritten {
        let mut buffer = self.lock();
        let taken = std::mem::take(&mut *buffer);
        StdioWritten {
            bytes: taken.bytes,
            dropped_lines: taken.dropped_lines,
            dropped_bytes: taken.dropped_bytes,
        }
    }

    fn tail(&self, max: usize) -> String {
        let buffer = self.lock();
        let start = buffer.bytes.len().saturating_sub(max);
        String::from_utf8_lossy(&buffer.bytes[start..])
            .trim()
            .to_owned()
    }
}

impl IsTerminal for StdioCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for StdioCapture {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for StdioCapture {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for StdioCapture {
    fn write(&mut self, bytes: bytes::Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        // Always writable: excess is dropped by `append`, so the guest never blocks or fails.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for StdioCapture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::kv::MemoryKv;
    use logging::Host as _;

    #[test]
    fn merge_overlays_objects_recursively() {
        let base = serde_json::json!({"a": 1, "nested": {"x": 1, "y": 2}, "list": [1]});
        let overlay = serde_json::json!({"nested": {"y": 3}, "list": [2], "b": true});
        assert_eq!(
            merge_json(&base, &overlay),
            serde_json::json!({"a": 1, "nested": {"x": 1, "y": 3}, "list": [2], "b": true})
        );
    }

    #[test]
    fn stdio_capture_caps_counts_and_drains() {
        let capture = StdioCapture::new(8);
        capture.append(b"hello ");
        capture.append(b"world\nsecond\n\nthird");
        assert_eq!(capture.tail(100), "hello wo");
        let taken = capture.take();
        assert_eq!(taken.bytes, b"hello wo");
        // "rld\n" ends the line that was kept in part; "second" and "third" started after the
        // cap (the empty line is not a line).
        assert_eq!(taken.dropped_lines, 2);
        assert_eq!(taken.dropped_bytes, 17);
        let again = capture.take();
        assert!(again.bytes.is_empty());
        assert_eq!((again.dropped_lines, again.dropped_bytes), (0, 0));
    }

    #[test]
    fn lines_started_matches_a_byte_by_byte_count() {
        let naive = |bytes: &[u8], mut at_line_start: bool| {
            let mut started = 0u64;
            for &byte in bytes {
                if at_line_start && byte != b'\n' {
                    started += 1;
                }
                at_line_start = byte == b'\n';
            }
            (started, at_line_start)
        };
        // A deterministic mix of long lines, blank lines and newline runs across word edges.
        let mut bytes = Vec::new();
        let mut state = 7u32;
        for _ in 0..2_000 {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let run = (state >> 16) % 23;
            bytes.extend(std::iter::repeat_n(b'x', run as usize));
            bytes.extend(std::iter::repeat_n(b'\n', ((state >> 8) % 3) as usize));
        }
        for start in 0..9 {
            for at_line_start in [false, true] {
                let slice = &bytes[start..];
                assert_eq!(
                    lines_started(slice, at_line_start),
                    naive(slice, at_line_start)
                );
            }
        }
        assert_eq!(lines_started(b"", true), (0, true));
        assert_eq!(lines_started(b"\n\n\n", false), (0, true));
        assert_eq!(lines_started(b"abcdefghij", true), (1, false));
    }

    /// What a `tracing` subscriber printed, shared with the test.
    #[derive(Clone, Default)]
    struct Printed(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Printed {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Printed {
        /// The printed lines of calls for `message_id`.
        fn lines_of(&self, message_id: &str) -> Vec<String> {
            let bytes = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .clone();
            let field = format!("message_id=\"{message_id}\"");
            String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|line| line.contains(&field))
                .map(str::to_owned)
                .collect()
        }
    }

    /// What `tracing` printed: a process-wide subscriber writing to memory, installed once (a
    /// thread-local one can miss events while other tests' threads register the same
    /// callsites). Tests read the lines of their own message id.
    fn host_log() -> &'static Printed {
        static PRINTED: std::sync::OnceLock<Printed> = std::sync::OnceLock::new();
        PRINTED.get_or_init(|| {
            let printed = Printed::default();
            let writer = printed.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::TRACE)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber in the unit tests");
            printed
        })
    }

    fn limits(per_call: usize, per_line: usize) -> RuntimeLimits {
        RuntimeLimits {
            max_log_bytes_per_call: per_call,
            max_log_line_bytes: per_line,
            ..RuntimeLimits::default()
        }
    }

    fn state(limits: &RuntimeLimits, budget: &Arc<LogBudget>) -> HostState {
        HostState::new(Arc::new(MemoryKv::new()), 1 << 20, limits, budget.clone())
    }

    fn begin(state: &mut HostState, plugin: &str, guild: &str, message_id: &str) {
        state.scope = Some(CallScope::new(
            Arc::from(plugin),
            Some(guild.to_owned()),
            message_id.to_owned(),
            KvQuota {
                max_keys: 10,
                max_bytes: 1000,
            },
            Arc::new(Value::Null),
            None,
        ));
    }

    fn minute_budget(bytes: u64) -> Arc<LogBudget> {
        Arc::new(LogBudget::new(bytes, Duration::from_secs(60)))
    }

    #[test]
    fn a_plugin_line_is_one_escaped_host_line() {
        let limits = limits(64 << 10, 4 << 10);
        let mut host = state(&limits, &minute_budget(1 << 20));
        let forged =
            "legit\n2026-01-01T00:00:00.000000Z  INFO guildhost::app: forged\r\x1b[2Jwiped";
        let host_log = host_log();
        begin(&mut host, "p", "1", "escaped-host-line");
        host.log(logging::Level::Info, forged.to_owned());
        let log = host.finish_call();
        let lines = host_log.lines_of("escaped-host-line");
        assert_eq!(lines.len(), 1, "{lines:?}");
        let expected =
            "legit\\n2026-01-01T00:00:00.000000Z  INFO guildhost::app: forged\\r\\u{1b}[2Jwiped";
        assert!(lines[0].contains(expected), "{lines:?}");
        assert!(lines[0].contains("plugin=\"p\""), "{lines:?}");
        assert_eq!(log.dropped_lines, 0);
        assert_eq!(log.lines.len(), 1);
        assert_eq!(log.lines[0].message, expected);
        assert_eq!(log.lines[0].source, LogSource::Plugin);
    }

    #[test]
    fn the_call_cap_applies_before_tracing_and_drops_are_summarised_once() {
        let limits = limits(16 << 10, 4 << 10);
        let mut host = state(&limits, &minute_budget(1 << 30));
        let host_log = host_log();
        begin(&mut host, "p", "1", "call-cap");
        for _ in 0..100 {
            host.log(logging::Level::Warn, "x".repeat(1 << 20));
        }
        let log = host.finish_call();
        let lines = host_log.lines_of("call-cap");
        // Four lines cut to 4 KiB fill the 16 KiB cap; 96 are dropped, then one summary.
        assert_eq!(log.dropped_lines, 96);
        assert_eq!(log.lines.len(), 5, "{:?}", log.lines.len());
        let kept: usize = log.lines[..4].iter().map(|line| line.message.len()).sum();
        assert!(kept <= limits.max_log_bytes_per_call);
        let summary = &log.lines[4];
        assert_eq!(summary.source, LogSource::Host);
        assert_eq!(
            summary.message,
            format!(
                "96 log lines ({} bytes) dropped: 96 over the per-call cap of 16384 bytes",
                96u64 << 20
            )
        );
        assert_eq!(lines.len(), 5, "four lines and the summary reach tracing");
        let printed_bytes: usize = lines.iter().map(String::len).sum();
        assert!(printed_bytes < 20 << 10, "{printed_bytes}");
        assert!(lines[4].contains("96 log lines"), "{}", lines[4]);
    }

    #[test]
    fn the_minute_budget_is_shared_by_instances_of_a_plugin_in_a_guild() {
        let limits = limits(64 << 10, 4 << 10);
        let budget = minute_budget(10 << 10);
        let mut first = state(&limits, &budget);
        let mut second = state(&limits, &budget);
        let line = "y".repeat(1000);
        let logs = |host: &mut HostState, guild: &str, count: usize| {
            begin(host, "p", guild, "minute-budget");
            for _ in 0..count {
                host.log(logging::Level::Info, line.clone());
            }
            host.finish_call()
        };
        let a = logs(&mut first, "1", 6);
        assert_eq!(a.dropped_lines, 0);
        // The other instance shares the 10 000 bytes of (p, 1): 4 more lines fit, then none.
        let b = logs(&mut second, "1", 6);
        assert_eq!(b.dropped_lines, 2);
        let summary = &b.lines.last().expect("a summary").message;
        assert_eq!(
            summary,
            "2 log lines (2000 bytes) dropped: 2 over the per-minute cap of 10240 bytes for this plugin in this guild"
        );
        // Another guild has a budget of its own.
        assert_eq!(logs(&mut second, "2", 6).dropped_lines, 0);
    }

    #[test]
    fn stdio_lines_are_escaped_and_count_against_the_same_caps() {
        let limits = limits(4 << 10, 1 << 10);
        let mut host = state(&limits, &minute_budget(1 << 20));
        begin(&mut host, "p", "1", "stdio");
        for _ in 0..3 {
            host.log(logging::Level::Info, "z".repeat(2000));
        }
        host.stdio
            .append("first\r\x1b[31mforged\nsecond\n\u{2028}third\n".as_bytes());
        host.stdio.append(&[b'w'; 2000]);
        let log = host.finish_call();
        let stdio: Vec<&str> = log
            .lines
            .iter()
            .filter(|line| line.source == LogSource::Stdio)
            .map(|line| line.message.as_str())
            .collect();
        assert_eq!(
            stdio,
            ["first\\r\\u{1b}[31mforged", "second", "\\u{2028}third"]
        );
        // The line of w's does not fit what the three 1 KiB lines and the others left.
        assert_eq!(log.dropped_lines, 1, "{log:?}");
        let (summary, kept) = log.lines.split_last().expect("lines");
        assert!(
            summary
                .message
                .starts_with("1 log lines (2000 bytes) dropped: 1 over the per-call cap"),
            "{}",
            summary.message
        );
        let total: usize = kept.iter().map(|line| line.message.len()).sum();
        assert!(total <= limits.max_log_bytes_per_call, "{total}");
        assert!(
            log.lines
                .iter()
                .all(|line| !line.message.chars().any(char::is_control))
        );
    }
}
