//! Jobs: the parsed form of a Bull job hash, and the description of a job to add.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::options::JobOptions;

/// A job to add: target queue (under the producer's prefix), name, JSON data and options.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Queue name, e.g. `discord:events`.
    pub queue: String,
    /// Job name (`__default__` is Bull's name for unnamed jobs).
    pub name: String,
    /// The data as JSON text, stored verbatim.
    pub data: String,
    /// Bull options.
    pub opts: JobOptions,
}

impl NewJob {
    /// A job with default options.
    pub fn new(
        queue: impl Into<String>,
        name: impl Into<String>,
        data: impl Into<String>,
    ) -> NewJob {
        NewJob {
            queue: queue.into(),
            name: name.into(),
            data: data.into(),
            opts: JobOptions::default(),
        }
    }

    /// The same job with `opts`.
    pub fn with_opts(mut self, opts: JobOptions) -> NewJob {
        self.opts = opts;
        self
    }
}

/// A job read from Redis. Every field Bull may leave out is optional; nothing here panics on
/// foreign data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Job {
    /// The queue it belongs to.
    pub queue: Arc<str>,
    /// The job id (`"17"`, `"custom-7"`, `"repeat:<md5>:<ms>"`).
    pub id: String,
    /// Job name.
    pub name: String,
    /// The data as stored: JSON text when written by Bull (not validated here).
    pub data: String,
    /// The options parsed from `opts_raw`; defaults when absent or invalid (see `opts_error`).
    pub opts: JobOptions,
    /// The raw `opts` field, if present.
    pub opts_raw: Option<String>,
    /// Why `opts_raw` could not be used, if it could not.
    pub opts_error: Option<String>,
    /// Creation time (ms).
    pub timestamp: Option<i64>,
    /// The `delay` field (ms).
    pub delay: Option<i64>,
    /// The `priority` field.
    pub priority: Option<u32>,
    /// Failed tries so far.
    pub attempts_made: u32,
    /// When the current (or last) try started (ms).
    pub processed_on: Option<i64>,
    /// When the job completed or finally failed (ms).
    pub finished_on: Option<i64>,
    /// The return value JSON text (completed jobs).
    pub return_value: Option<String>,
    /// The last failure message.
    pub failed_reason: Option<String>,
    /// The `stacktrace` JSON array text.
    pub stacktrace: Option<String>,
    /// How many times the stalled checker recovered it.
    pub stalled_counter: u32,
    /// The `progress` JSON text.
    pub progress: Option<String>,
    /// The debounce slot the job owns (`deid`, set from Bull's `debounce.id` option), if any.
    pub debounce_id: Option<String>,
    /// What a handler noted on the job in an earlier attempt ([`crate::Queue::note`]): the
    /// hash's fields named `gh:<name>`, by name. Bull ignores them; they go with the job.
    pub notes: BTreeMap<String, String>,
    /// The lock token the worker holds the job under (set by the worker that took it).
    pub lock_token: Option<Arc<str>>,
}

/// The prefix of the job-hash fields that hold a handler's notes.
pub(crate) const NOTE_PREFIX: &str = "gh:";

/// A number field, read in place (no copy of the value).
fn parse_num<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

/// A text field; invalid UTF-8 is replaced rather than refused.
fn text(value: Vec<u8>) -> String {
    match String::from_utf8(value) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

impl Job {
    /// Builds a job from the field/value pairs of its hash (an `HGETALL` reply).
    pub fn from_fields<I, K, V>(queue: Arc<str>, id: String, fields: I) -> Job
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]> + Into<Vec<u8>>,
    {
        let mut job = Job {
            queue,
            id,
            ..Job::default()
        };
        for (field, value) in fields {
            match field.as_ref() {
                b"name" => job.name = text(value.into()),
                b"data" => job.data = text(value.into()),
                b"opts" => job.opts_raw = Some(text(value.into())),
                b"timestamp" => job.timestamp = parse_num(value.as_ref()),
                b"delay" => job.delay = parse_num(value.as_ref()),
                b"priority" => job.priority = parse_num(value.as_ref()),
                b"attemptsMade" => job.attempts_made = parse_num(value.as_ref()).unwrap_or(0),
                b"processedOn" => job.processed_on = parse_num(value.as_ref()),
                b"finishedOn" => job.finished_on = parse_num(value.as_ref()),
                b"returnvalue" => job.return_value = Some(text(value.into())),
                b"failedReason" => job.failed_reason = Some(text(value.into())),
                b"stacktrace" => job.stacktrace = Some(text(value.into())),
                b"stalledCounter" => job.stalled_counter = parse_num(value.as_ref()).unwrap_or(0),
                b"progress" => job.progress = Some(text(value.into())),
                b"deid" => job.debounce_id = Some(text(value.into())),
                name if name.starts_with(NOTE_PREFIX.as_bytes()) => {
                    let name = text(name[NOTE_PREFIX.len()..].to_vec());
                    job.notes.insert(name, text(value.into()));
                }
                _ => {}
            }
        }
        match job.opts_raw.as_deref() {
            None => job.opts_error = Some("job field `opts` is missing".to_owned()),
            Some(raw) => match JobOptions::from_json(raw) {
                Ok(opts) => job.opts = opts,
                Err(error) => {
                    job.opts_error = Some(format!(
                        "job field `opts` is not valid Bull options: {error}"
                    ))
                }
            },
        }
        job
    }

    /// Why this job cannot be processed at all (bad `opts`, `data` that is not JSON), if so.
    pub fn input_error(&self) -> Option<String> {
        if let Some(error) = &self.opts_error {
            return Some(error.clone());
        }
        match serde_json::from_str::<serde::de::IgnoredAny>(&self.data) {
            Ok(_) => None,
            Err(error) => Some(format!("job field `data` is not valid JSON: {error}")),
        }
    }

    /// The data parsed as JSON.
    pub fn data_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.data)
    }
}
