//! The host's Prometheus metrics: one [`Metrics`] value built by `app::run` and shared as
//! `Arc<Metrics>`, fed by the modules that join the others (a [`Metered`] job handler, the
//! dispatcher's plugin calls, the executor's Discord calls) and encoded for `/metrics`.
//!
//! The queue engine and the plugin runtime know nothing of it: job outcomes are seen by wrapping
//! the [`JobHandler`], plugin calls through what the runtime already reports with each call
//! (its duration and its [`PluginError`]). Every label value comes from a bounded set (queue
//! names, known message types, plugin names, limit names, Discord codes), so a careless producer
//! cannot grow the number of series.
//!
//! ```
//! use guildhost::metrics::Metrics;
//! let metrics = Metrics::new();
//! metrics.discord_rate_limited("SEND_MESSAGE", std::time::Duration::from_millis(250));
//! assert!(metrics.encode().contains("guildhost_discord_rate_limit_wait_seconds_count{route=\"SEND_MESSAGE\"} 1"));
//! ```

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::protocol::MessageType;
use crate::queue::{
    Completion, Job, JobCounts, JobFailure, JobHandler, Queue, QueueResult, RedisConn,
};
use crate::runtime::PluginError;

/// The label value of a job whose message type is not one the protocol knows (custom types,
/// data that is not a message): arbitrary producer text never becomes a label.
pub const OTHER_TYPE: &str = "other";

/// Upper bounds (seconds) of the job and plugin call histograms: plugin calls take microseconds
/// to the wall-time limit, jobs up to the lock duration.
const DURATION_BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];

/// Upper bounds (seconds) of the rate-limit wait histogram: Discord's buckets reset within
/// milliseconds to minutes.
const WAIT_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct JobLabels {
    queue: Arc<str>,
    r#type: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UnhandledLabels {
    queue: Arc<str>,
    r#type: &'static str,
    action: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueLabel {
    queue: Arc<str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QueueStateLabels {
    queue: Arc<str>,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginLabel {
    plugin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ServingLabels {
    plugin: String,
    origin: String,
    version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginResultLabels {
    plugin: String,
    result: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginLimitLabels {
    plugin: String,
    limit: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct PluginReasonLabels {
    plugin: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteCodeLabels {
    route: String,
    code: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn wait_histogram() -> Histogram {
    Histogram::new(WAIT_BUCKETS)
}

/// Every metric the host exports, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    jobs_processed: Family<JobLabels, Counter>,
    jobs_failed: Family<JobLabels, Counter>,
    jobs_retried: Family<JobLabels, Counter>,
    jobs_dead_lettered: Family<JobLabels, Counter>,
    jobs_unhandled: Family<UnhandledLabels, Counter>,
    job_duration: HistogramFamily<QueueLabel>,
    queue_jobs: Family<QueueStateLabels, Gauge>,
    plugin_calls: Family<PluginResultLabels, Counter>,
    plugin_call_duration: HistogramFamily<PluginLabel>,
    plugin_traps: Family<PluginLabel, Counter>,
    plugin_limit_violations: Family<PluginLimitLabels, Counter>,
    plugin_outputs_refused: Family<PluginReasonLabels, Counter>,
    plugin_log_dropped: Family<PluginLabel, Counter>,
    plugin_serving: Family<ServingLabels, Gauge>,
    discord_requests: Family<RouteCodeLabels, Counter>,
    discord_errors: Family<RouteCodeLabels, Counter>,
    discord_rate_limit_waits: HistogramFamily<RouteLabel>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh set of metrics, all at zero, in a registry of their own (two hosts in one
    /// process count separately).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let jobs_processed = Family::<JobLabels, Counter>::default();
        registry.register(
            "guildhost_jobs_processed",
            "Job attempts the host finished handling (completed or failed), by queue and message type",
            jobs_processed.clone(),
        );
        let jobs_failed = Family::<JobLabels, Counter>::default();
        registry.register(
            "guildhost_jobs_failed",
            "Job attempts that failed (retried or dead-lettered), by queue and message type",
            jobs_failed.clone(),
        );
        let jobs_retried = Family::<JobLabels, Counter>::default();
        registry.register(
            "guildhost_jobs_retried",
            "Failed job attempts that will be tried again, by queue and message type",
            jobs_retried.clone(),
        );
        let jobs_dead_lettered = Family::<JobLabels, Counter>::default();
        registry.register(
            "guildhost_jobs_dead_lettered",
            "Jobs that failed for good and went to the dead letters, by queue and message type",
            jobs_dead_lettered.clone(),
        );
        let job_duration: HistogramFamily<QueueLabel> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "guildhost_job_duration",
            "Time the host spent handling one job attempt, by queue",
            Unit::Seconds,
            job_duration.clone(),
        );
        let queue_jobs = Family::<QueueStateLabels, Gauge>::default();
        registry.register(
            "guildhost_queue_jobs",
            "Jobs per queue and state (waiting, active, delayed, failed, paused), read from Redis at scrape time",
            queue_jobs.clone(),
        );
        let plugin_calls = Family::<PluginResultLabels, Counter>::default();
        registry.register(
            "guildhost_plugin_calls",
            "Plugin calls by plugin and result (ok, trap, limit, returned_error, suspended, unavailable, out_of_scope, instantiate, not_loaded)",
            plugin_calls.clone(),
        );
        let plugin_call_duration: HistogramFamily<PluginLabel> =
            Family::new_with_constructor(duration_histogram);
        registry.register_with_unit(
            "guildhost_plugin_call_duration",
            "Duration of plugin calls that ran (succeeded, trapped, hit a limit or returned an error), by plugin",
            Unit::Seconds,
            plugin_call_duration.clone(),
        );
        let plugin_traps = Family::<PluginLabel, Counter>::default();
        registry.register(
            "guildhost_plugin_traps",
            "Plugin calls that trapped (panic, stack overflow, out-of-bounds access), by plugin",
            plugin_traps.clone(),
        );
        let plugin_limit_violations = Family::<PluginLimitLabels, Counter>::default();
        registry.register(
            "guildhost_plugin_limit_violations",
            "Plugin calls stopped by a limit, by plugin and limit (wall-time, fuel, memory, outputs, ...)",
            plugin_limit_violations.clone(),
        );
        let jobs_unhandled = Family::<UnhandledLabels, Counter>::default();
        registry.register(
            "guildhost_jobs_unhandled",
            "Jobs of a consumed queue whose message type no handler takes, by queue, type and what the queue's `unhandled` rule did (dead_letter, forward)",
            jobs_unhandled.clone(),
        );
        let plugin_outputs_refused = Family::<PluginReasonLabels, Counter>::default();
        registry.register(
            "guildhost_plugin_outputs_refused",
            "Plugin outputs dropped by the host, by plugin and reason (not_granted, scope, target, custom_id, invalid, budget_depth, budget_chain, budget_rate, budget_delayed)",
            plugin_outputs_refused.clone(),
        );
        let plugin_log_dropped = Family::<PluginLabel, Counter>::default();
        registry.register(
            "guildhost_plugin_log_dropped",
            "Plugin log and stdout/stderr lines kept out of the host's log by the per-call or per-minute log caps, by plugin",
            plugin_log_dropped.clone(),
        );
        let plugin_serving = Family::<ServingLabels, Gauge>::default();
        registry.register(
            "guildhost_plugin_serving",
            "The plugins this host serves now (1 each), by plugin (a guild's store plugin as <name>@<guild>), origin (first-party, plugins-directory, store) and version, read at scrape time",
            plugin_serving.clone(),
        );
        let discord_requests = Family::<RouteCodeLabels, Counter>::default();
        registry.register(
            "guildhost_discord_requests",
            "Actions executed against Discord, by route (the command's message type) and code (ok, already_done, dry_run when no token is configured, or the error's code)",
            discord_requests.clone(),
        );
        let discord_errors = Family::<RouteCodeLabels, Counter>::default();
        registry.register(
            "guildhost_discord_errors",
            "Actions Discord refused or that failed, by route and code (Discord's error code, 401, retriable, not_executable)",
            discord_errors.clone(),
        );
        let discord_rate_limit_waits: HistogramFamily<RouteLabel> =
            Family::new_with_constructor(wait_histogram);
        registry.register_with_unit(
            "guildhost_discord_rate_limit_wait",
            "Waits imposed by Discord's rate limits, by route",
            Unit::Seconds,
            discord_rate_limit_waits.clone(),
        );
        Self {
            registry,
            jobs_processed,
            jobs_failed,
            jobs_retried,
            jobs_dead_lettered,
            jobs_unhandled,
            job_duration,
            queue_jobs,
            plugin_calls,
            plugin_call_duration,
            plugin_traps,
            plugin_limit_violations,
            plugin_outputs_refused,
            plugin_log_dropped,
            plugin_serving,
            discord_requests,
            discord_errors,
            discord_rate_limit_waits,
        }
    }

    /// Everything, in the OpenMetrics text format (ends with `# EOF`).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail; an encoder error would mean a broken label set.
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "encoding the metrics failed");
        }
        text
    }

    /// Records one attempt of `job` that ended with `result` after `elapsed`. A failure counts
    /// as dead-lettered when the worker will not try again: it is permanent or the job has used
    /// its last attempt (the worker's own rule).
    pub fn record_job(
        &self,
        job: &Job,
        result: &Result<Completion, JobFailure>,
        elapsed: Duration,
    ) {
        let labels = JobLabels {
            queue: job.queue.clone(),
            r#type: job_type(job),
        };
        self.jobs_processed.get_or_create(&labels).inc();
        self.job_duration
            .get_or_create(&QueueLabel {
                queue: job.queue.clone(),
            })
            .observe(elapsed.as_secs_f64());
        if let Err(failure) = result {
            self.jobs_failed.get_or_create(&labels).inc();
            let last_attempt = job.attempts_made.saturating_add(1) >= job.opts.total_attempts();
            if failure.permanent || last_attempt {
                self.jobs_dead_lettered.get_or_create(&labels).inc();
            } else {
                self.jobs_retried.get_or_create(&labels).inc();
            }
        }
    }

    /// Records one plugin call: `error` is `None` when it succeeded. The duration is observed
    /// only for calls that ran guest code (not for a suspended or unknown plugin).
    pub fn record_plugin_call(
        &self,
        plugin: &str,
        duration: Duration,
        error: Option<&PluginError>,
    ) {
        let result = match error {
            None => "ok",
            Some(PluginError::Trap { .. }) => "trap",
            Some(PluginError::Limit { .. }) => "limit",
            Some(PluginError::Returned { .. }) => "returned_error",
            Some(PluginError::Suspended { .. }) => "suspended",
            Some(PluginError::OutOfScope { .. }) => "out_of_scope",
            Some(PluginError::Instantiate { .. }) => "instantiate",
            Some(PluginError::Unavailable { .. }) => "unavailable",
            Some(PluginError::NotLoaded { .. }) => "not_loaded",
        };
        let plugin = plugin.to_owned();
        self.plugin_calls
            .get_or_create(&PluginResultLabels {
                plugin: plugin.clone(),
                result,
            })
            .inc();
        if matches!(result, "ok" | "trap" | "limit" | "returned_error") {
            self.plugin_call_duration
                .get_or_create(&PluginLabel {
                    plugin: plugin.clone(),
                })
                .observe(duration.as_secs_f64());
        }
        match error {
            Some(PluginError::Trap { .. }) => {
                self.plugin_traps
                    .get_or_create(&PluginLabel { plugin })
                    .inc();
            }
            Some(PluginError::Limit { limit, .. }) => {
                self.plugin_limit_violations
                    .get_or_create(&PluginLimitLabels {
                        plugin,
                        limit: limit_name(limit).to_owned(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// Records a job of `job`'s queue no handler took, and what the `unhandled` rule did with it
    /// (`dead_letter` or `forward`).
    pub fn record_unhandled(&self, job: &Job, action: &'static str) {
        self.jobs_unhandled
            .get_or_create(&UnhandledLabels {
                queue: job.queue.clone(),
                r#type: job_type(job),
                action,
            })
            .inc();
    }

    /// Records `count` outputs of `plugin` the host dropped for `reason` (a bounded label).
    pub fn record_outputs_refused(&self, plugin: &str, reason: &'static str, count: u64) {
        self.plugin_outputs_refused
            .get_or_create(&PluginReasonLabels {
                plugin: plugin.to_owned(),
                reason,
            })
            .inc_by(count);
    }

    /// Records `lines` log lines of one call of `plugin` dropped by the log caps.
    pub fn record_plugin_log_dropped(&self, plugin: &str, lines: u64) {
        if lines == 0 {
            return;
        }
        self.plugin_log_dropped
            .get_or_create(&PluginLabel {
                plugin: plugin.to_owned(),
            })
            .inc_by(lines);
    }

    /// Records one action sent to Discord: `route` is a bounded name (the command's message
    /// type), `code` the outcome (`ok`, `already_done`) or the error's code; `failed` says
    /// whether it also counts as an error.
    pub fn record_discord(&self, route: &str, code: &str, failed: bool) {
        let labels = RouteCodeLabels {
            route: route.to_owned(),
            code: code.to_owned(),
        };
        self.discord_requests.get_or_create(&labels).inc();
        if failed {
            self.discord_errors.get_or_create(&labels).inc();
        }
    }

    /// Records a wait imposed by a Discord rate limit. `route` must come from a bounded set (a
    /// message type or a route template such as `POST /channels/{id}/messages`), never a path
    /// with ids in it, or every channel would get a series of its own.
    pub fn discord_rate_limited(&self, route: &str, wait: Duration) {
        self.discord_rate_limit_waits
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(wait.as_secs_f64());
    }

    /// Sets the serving gauge to exactly `plugins`: `(name, origin, version)` of each plugin
    /// the host serves now.
    pub fn set_serving(&self, plugins: impl IntoIterator<Item = (String, String, String)>) {
        self.plugin_serving.clear();
        for (plugin, origin, version) in plugins {
            self.plugin_serving
                .get_or_create(&ServingLabels {
                    plugin,
                    origin,
                    version,
                })
                .set(1);
        }
    }

    /// Sets the queue depth gauges of `queue` from `counts`.
    pub fn set_queue_depth(&self, queue: &str, counts: &JobCounts) {
        let queue: Arc<str> = Arc::from(queue);
        for (state, value) in [
            ("waiting", counts.waiting),
            ("active", counts.active),
            ("delayed", counts.delayed),
            ("failed", counts.failed),
            ("paused", counts.paused),
        ] {
            self.queue_jobs
                .get_or_create(&QueueStateLabels {
                    queue: queue.clone(),
                    state,
                })
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Reads the counts of every queue in `queues` (under `prefix`) from Redis and sets the
    /// depth gauges. When Redis cannot answer, the gauges are removed rather than left at
    /// numbers that are no longer true.
    pub async fn sample_queue_depths(
        &self,
        conn: &RedisConn,
        prefix: &str,
        queues: &[String],
    ) -> QueueResult<()> {
        let counts = futures_util::future::try_join_all(queues.iter().map(|queue| async move {
            Queue::new(conn.clone(), prefix, queue).job_counts().await
        }))
        .await;
        match counts {
            Ok(counts) => {
                for (queue, counts) in queues.iter().zip(&counts) {
                    self.set_queue_depth(queue, counts);
                }
                Ok(())
            }
            Err(error) => {
                self.queue_jobs.clear();
                Err(error)
            }
        }
    }

    /// A handler that records every attempt of `inner` in these metrics.
    pub fn meter<H: JobHandler>(self: &Arc<Self>, inner: Arc<H>) -> Arc<Metered<H>> {
        Arc::new(Metered {
            inner,
            metrics: self.clone(),
        })
    }
}

/// The message type label of `job`: its Bull name when that is a known type (the API adds jobs
/// as `queue.add(type, message)`), else the `type` field of its data when known, else
/// [`OTHER_TYPE`].
fn job_type(job: &Job) -> &'static str {
    if let Some(known) = known_type(&job.name) {
        return known;
    }
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow, rename = "type")]
        kind: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<Head<'_>>(&job.data)
        .ok()
        .and_then(|head| head.kind)
        .and_then(|kind| known_type(&kind))
        .unwrap_or(OTHER_TYPE)
}

fn known_type(name: &str) -> Option<&'static str> {
    MessageType::ALL
        .iter()
        .find(|message_type| message_type.as_str() == name)
        .map(|message_type| message_type.as_str())
}

/// The limit's name without its value: `wall-time 50ms` → `wall-time`.
fn limit_name(limit: &str) -> &str {
    limit.split_whitespace().next().unwrap_or("unknown")
}

/// A [`JobHandler`] that records each attempt of the handler it wraps. Attempts the handler
/// never sees (data that is not JSON, a timeout that drops the attempt, a lost lock) are not
/// counted here; the dead-letter queue's depth still shows their dead letters.
pub struct Metered<H> {
    inner: Arc<H>,
    metrics: Arc<Metrics>,
}

impl<H> std::fmt::Debug for Metered<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metered").finish_non_exhaustive()
    }
}

impl<H: JobHandler> JobHandler for Metered<H> {
    fn handle(&self, job: &Job) -> impl Future<Output = Result<Completion, JobFailure>> + Send {
        let started = Instant::now();
        let attempt = self.inner.handle(job);
        async move {
            let result = attempt.await;
            self.metrics.record_job(job, &result, started.elapsed());
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::JobOptions;

    fn job(queue: &str, name: &str, data: &str, attempts_made: u32, attempts: u32) -> Job {
        Job {
            queue: Arc::from(queue),
            id: "1".into(),
            name: name.into(),
            data: data.into(),
            opts: JobOptions {
                attempts: Some(attempts),
                ..JobOptions::default()
            },
            attempts_made,
            ..Job::default()
        }
    }

    fn line_value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn retried_and_dead_lettered_follow_the_workers_rule() {
        let metrics = Metrics::new();
        let failure = Err(JobFailure::retryable("busy"));
        metrics.record_job(&job("q", "BAN_USER", "{}", 0, 3), &failure, Duration::ZERO);
        metrics.record_job(&job("q", "BAN_USER", "{}", 2, 3), &failure, Duration::ZERO);
        metrics.record_job(
            &job("q", "BAN_USER", "{}", 0, 3),
            &Err(JobFailure::permanent("bad")),
            Duration::ZERO,
        );
        metrics.record_job(
            &job("q", "BAN_USER", "{}", 0, 3),
            &Ok(Completion::empty()),
            Duration::ZERO,
        );
        let text = metrics.encode();
        let series = |name: &str| {
            line_value(&text, &format!("{name}{{queue=\"q\",type=\"BAN_USER\"}}"))
                .unwrap_or_else(|| panic!("{name} missing in\n{text}"))
        };
        assert_eq!(series("guildhost_jobs_processed_total"), 4.0);
        assert_eq!(series("guildhost_jobs_failed_total"), 3.0);
        assert_eq!(series("guildhost_jobs_retried_total"), 1.0);
        assert_eq!(series("guildhost_jobs_dead_lettered_total"), 2.0);
    }

    #[test]
    fn the_type_label_is_a_known_type_or_other() {
        let by_name = job("q", "KICK_USER", "{}", 0, 1);
        let by_data = job("q", "__default__", r#"{"data":{},"type":"SEND_DM"}"#, 0, 1);
        let made_up = job("q", "x", r#"{"type":"DROP TABLE"}"#, 0, 1);
        let not_json = job("q", "x", "{", 0, 1);
        assert_eq!(job_type(&by_name), "KICK_USER");
        assert_eq!(job_type(&by_data), "SEND_DM");
        assert_eq!(job_type(&made_up), OTHER_TYPE);
        assert_eq!(job_type(&not_json), OTHER_TYPE);
    }

    #[test]
    fn plugin_failures_are_counted_by_kind_and_limit() {
        let metrics = Metrics::new();
        let trap = PluginError::Trap {
            plugin: "p".into(),
            reason: "unreachable".into(),
        };
        let limit = PluginError::Limit {
            plugin: "p".into(),
            limit: "wall-time 20ms".into(),
        };
        let suspended = PluginError::Suspended {
            plugin: "p".into(),
            failures: 5,
            remaining: Duration::from_secs(1),
        };
        let ms = Duration::from_millis(1);
        metrics.record_plugin_call("p", ms, None);
        metrics.record_plugin_call("p", ms, Some(&trap));
        metrics.record_plugin_call("p", ms, Some(&limit));
        metrics.record_plugin_call("p", Duration::ZERO, Some(&suspended));
        let text = metrics.encode();
        let value = |series: &str| line_value(&text, series).unwrap_or(0.0);
        assert_eq!(value("guildhost_plugin_traps_total{plugin=\"p\"}"), 1.0);
        assert_eq!(
            value("guildhost_plugin_limit_violations_total{plugin=\"p\",limit=\"wall-time\"}"),
            1.0
        );
        assert_eq!(
            value("guildhost_plugin_calls_total{plugin=\"p\",result=\"suspended\"}"),
            1.0
        );
        // The suspended call ran no guest code: three durations, not four.
        assert_eq!(
            value("guildhost_plugin_call_duration_seconds_count{plugin=\"p\"}"),
            3.0
        );
    }

    #[test]
    fn dropped_plugin_log_lines_are_counted() {
        let metrics = Metrics::new();
        metrics.record_plugin_log_dropped("p", 84);
        metrics.record_plugin_log_dropped("p", 0);
        metrics.record_plugin_log_dropped("p", 2);
        let text = metrics.encode();
        assert_eq!(
            line_value(&text, "guildhost_plugin_log_dropped_total{plugin=\"p\"}"),
            Some(86.0),
            "{text}"
        );
    }

    #[test]
    fn discord_errors_are_a_subset_of_requests() {
        let metrics = Metrics::new();
        metrics.record_discord("BAN_USER", "ok", false);
        metrics.record_discord("BAN_USER", "50013", true);
        let text = metrics.encode();
        let value = |series: &str| line_value(&text, series).unwrap_or(0.0);
        assert_eq!(
            value("guildhost_discord_requests_total{route=\"BAN_USER\",code=\"ok\"}"),
            1.0
        );
        assert_eq!(
            value("guildhost_discord_errors_total{route=\"BAN_USER\",code=\"50013\"}"),
            1.0
        );
        assert_eq!(
            value("guildhost_discord_errors_total{route=\"BAN_USER\",code=\"ok\"}"),
            0.0
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
