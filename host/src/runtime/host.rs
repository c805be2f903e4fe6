//! What a plugin's store holds and the host side of every interface the WIT world imports:
//! logging into `tracing` (and the call's captured log), the namespaced KV store, the clock, the
//! configuration, and a locked-down WASI whose stdout/stderr land in the plugin's log.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::Value;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::v0_1::guildhost::plugin::{clock, config, kv, logging, types};
use super::kv::{KvError, KvNamespace, KvQuota, KvStore};
use super::limits::RuntimeLimits;

/// Longest KV key a plugin may use, in bytes.
pub const MAX_KV_KEY_BYTES: usize = 512;

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
    /// The text (cut to the host's line limit).
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
}

/// Most table elements an instance may have (function tables of ordinary Rust guests hold a few
/// hundred entries).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for GuestLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = Some(LimitHit::Memory(self.memory_bytes as u64));
            // Trapping (rather than returning false) ends the call with a host-attributable
            // error instead of a guest allocation failure that looks like a bug.
            return Err(wasmtime::format_err!(
                "memory limit of {} bytes exceeded",
                self.memory_bytes
            ));
        }
        Ok(true)
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

    fn instances(&self) -> usize {
        32
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
    dropped_log_lines: u64,
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
            dropped_log_lines: 0,
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
pub fn merge_json(base: &Value, overlay: &Value) -> Value {
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
}

impl HostState {
    /// A state for a new instance: WASI with no preopened directories, no network, no
    /// environment variables or arguments, stdin empty, stdout and stderr captured.
    pub(crate) fn new(kv: Arc<dyn KvStore>, memory_bytes: u64, limits: &RuntimeLimits) -> Self {
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
            },
            scope: None,
            stdio,
            kv,
            max_log_bytes: limits.max_log_bytes_per_call,
            max_log_line: limits.max_log_line_bytes,
            deadline: None,
        }
    }

    /// Sets when the call about to run must end (see `deadline`).
    pub(crate) fn set_call_deadline(&mut self, deadline: std::time::Instant) {
        self.deadline = Some(deadline);
    }

    /// When the running call must end, if one is running.
    pub(crate) fn call_deadline(&self) -> Option<std::time::Instant> {
        self.deadline
    }

    /// Records a log line in the call's capture, within the per-call budget.
    fn capture(&mut self, level: LogLevel, source: LogSource, message: String) {
        let max_line = self.max_log_line;
        let max_total = self.max_log_bytes;
        let Some(scope) = self.scope.as_mut() else {
            return;
        };
        let message = truncate_utf8(message, max_line);
        if scope.log_bytes + message.len() > max_total {
            scope.dropped_log_lines += 1;
            return;
        }
        scope.log_bytes += message.len();
        scope.logs.push(LogLine {
            level,
            source,
            message,
        });
    }

    /// Moves what the guest wrote to stdout/stderr into the call's log, and returns the call's
    /// log. Called once after every call.
    pub(crate) fn finish_call(&mut self) -> Vec<LogLine> {
        let written = self.stdio.take();
        if !written.is_empty() {
            let text = String::from_utf8_lossy(&written).into_owned();
            for line in text.lines().filter(|line| !line.trim().is_empty()) {
                if let Some(scope) = &self.scope {
                    tracing::warn!(target: "guildhost::plugin", plugin = %scope.plugin, guild = scope.guild.as_deref().unwrap_or("-"), message_id = %scope.message_id, stdio = true, "{line}");
                }
                self.capture(LogLevel::Warn, LogSource::Stdio, line.to_owned());
            }
        }
        let Some(mut scope) = self.scope.take() else {
            return Vec::new();
        };
        if scope.dropped_log_lines > 0 {
            let note = format!(
                "{} log lines dropped: the call's log exceeded {} bytes",
                scope.dropped_log_lines, self.max_log_bytes
            );
            scope.logs.push(LogLine {
                level: LogLevel::Warn,
                source: LogSource::Host,
                message: note,
            });
        }
        scope.logs
    }

    /// The text the guest wrote to stdout/stderr during this call, without consuming it.
    pub(crate) fn stdio_tail(&self, max: usize) -> String {
        self.stdio.tail(max)
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
        let result = operation(kv.as_ref(), &scope.namespace, scope.quota);
        Ok(result.map_err(|error| self.kv_error(error)))
    }

    fn kv_error(&mut self, error: KvError) -> kv::KvError {
        match error {
            KvError::KeysExceeded { .. } | KvError::BytesExceeded { .. } => {
                let limit = error.to_string();
                self.limiter.hit = Some(LimitHit::Kv(limit.clone()));
                self.capture(
                    LogLevel::Warn,
                    LogSource::Host,
                    format!("kv write refused: quota {limit} reached"),
                );
                kv::KvError::QuotaExceeded(limit)
            }
            KvError::NotAnInteger(reason) => kv::KvError::NotAnInteger(reason),
            KvError::Unavailable(reason) => kv::KvError::Unavailable(reason),
        }
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
fn truncate_utf8(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(3);
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str("...");
    text
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
        if let Some(scope) = &self.scope {
            let plugin = &*scope.plugin;
            let guild = scope.guild.as_deref().unwrap_or("-");
            let message_id = scope.message_id.as_str();
            let text = message.as_str();
            macro_rules! emit {
                ($level:ident) => {
                    tracing::$level!(target: "guildhost::plugin", plugin, guild, message_id, "{text}")
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
        self.capture(level, LogSource::Plugin, message);
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

#[derive(Debug, Default)]
struct StdioBuffer {
    bytes: Vec<u8>,
    overflowed: bool,
}

/// The guest's stdout and stderr: an in-memory buffer drained after every call. Writes past the
/// cap are dropped (never an error the guest could trip over).
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
        if bytes.len() > room {
            buffer.overflowed = true;
        }
        buffer
            .bytes
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    fn take(&self) -> Vec<u8> {
        let mut buffer = self.lock();
        let mut bytes = std::mem::take(&mut buffer.bytes);
        if std::mem::take(&mut buffer.overflowed) {
            bytes.extend_from_slice(b"\n[output truncated]\n");
        }
        bytes
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
    use super::*;

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
    fn truncation_respects_char_boundaries() {
        let cut = truncate_utf8("ééééé".to_owned(), 6);
        assert!(cut.ends_with("..."));
        assert!(cut.len() <= 6);
    }

    #[test]
    fn stdio_capture_caps_and_drains() {
        let capture = StdioCapture::new(8);
        capture.append(b"hello ");
        capture.append(b"world");
        assert_eq!(capture.tail(100), "hello wo");
        let taken = capture.take();
        assert!(taken.starts_with(b"hello wo"));
        assert!(String::from_utf8_lossy(&taken).contains("truncated"));
        assert!(capture.take().is_empty());
    }
}
