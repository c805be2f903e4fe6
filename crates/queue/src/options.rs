//! Bull's job options (`opts` JSON on the job hash): typed where the engine needs them, every other
//! key kept verbatim so a round trip through Rust never loses what a Node producer wrote.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{QueueError, QueueResult};

/// The options of one job, as Bull stores them in the `opts` field (camelCase JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobOptions {
    /// Custom job id (Bull accepts a string or a JSON number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobIdOption>,
    /// Total number of tries (Bull's default is 1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub attempts: Option<u32>,
    /// Delay between failed attempts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Milliseconds to wait before the job becomes waiting.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub delay: Option<i64>,
    /// 1 is the highest; 0 or absent means unprioritized.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub priority: Option<u32>,
    /// Push to the head of the queue instead of the tail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifo: Option<bool>,
    /// Per-attempt time limit in milliseconds.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub timeout: Option<u64>,
    /// Retention of completed jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_on_complete: Option<KeepJobs>,
    /// Retention of failed jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove_on_fail: Option<KeepJobs>,
    /// Makes the job repeatable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<RepeatOptions>,
    /// Scheduled time of the previous repeat iteration (ms), written by the scheduler.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub prev_millis: Option<i64>,
    /// Creation time (ms), written by `add`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::number"
    )]
    pub timestamp: Option<i64>,
    /// Every other key, kept verbatim (`stackTraceLimit`, `preventParsingData`, custom keys...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Numbers as JavaScript producers write them: integers, floats (truncated, as `parseInt` does)
/// or numeric strings; `null` means absent.
mod lenient {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::Value;

    pub(super) fn number<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i64>,
    {
        let value = Value::deserialize(deserializer)?;
        let integer = match &value {
            Value::Null => return Ok(None),
            Value::Number(number) => number
                .as_i64()
                .or_else(|| number.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
            Value::String(text) => text
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64),
            _ => None,
        };
        let integer =
            integer.ok_or_else(|| D::Error::custom(format!("must be a number, got {value}")))?;
        T::try_from(integer)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("{integer} is out of range")))
    }
}

/// A custom job id: Bull accepts `"custom-7"` as well as `123`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobIdOption {
    /// A string id.
    Text(String),
    /// A numeric id; the Redis id is its decimal text.
    Number(serde_json::Number),
}

impl JobIdOption {
    /// The id as Redis stores it.
    pub fn as_redis_id(&self) -> String {
        match self {
            Self::Text(text) => text.clone(),
            Self::Number(number) => number.to_string(),
        }
    }
}

/// `backoff`: a number of milliseconds (fixed) or `{type, delay}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Backoff {
    /// A bare number: fixed backoff of that many milliseconds.
    Millis(u64),
    /// `{type: "fixed"|"exponential"|<custom>, delay?, options?}`.
    Strategy {
        /// `fixed`, `exponential`, or a custom strategy name (only Node workers know those).
        #[serde(rename = "type")]
        kind: String,
        /// Base delay in milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delay: Option<u64>,
        /// Options of a custom strategy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        options: Option<Value>,
    },
}

impl Backoff {
    /// Bull's normal form: a bare number becomes `{type: "fixed", delay}`.
    pub fn normalized(&self) -> Backoff {
        match self {
            Self::Millis(delay) => Self::Strategy {
                kind: "fixed".to_owned(),
                delay: Some(*delay),
                options: None,
            },
            other => other.clone(),
        }
    }

    /// The delay before the next try after `attempts_made` failures (counting the one just made),
    /// exactly as Bull's built-in strategies compute it. `None` means no delay (immediate retry);
    /// an unknown strategy is an error because only the Node worker that defines it can compute it.
    pub fn delay_after(&self, attempts_made: u32) -> Result<Option<u64>, String> {
        let (kind, delay) = match self {
            Self::Millis(delay) => ("fixed", Some(*delay)),
            Self::Strategy { kind, delay, .. } => (kind.as_str(), *delay),
        };
        let base = delay.unwrap_or(0);
        let millis = match kind {
            "fixed" => base,
            "exponential" => {
                let factor = 2f64.powi(attempts_made.min(1000) as i32) - 1.0;
                let value = (factor * base as f64).round();
                if value >= u64::MAX as f64 {
                    u64::MAX
                } else {
                    value as u64
                }
            }
            other => return Err(format!("unknown backoff strategy `{other}`")),
        };
        Ok((millis > 0).then_some(millis))
    }
}

/// `removeOnComplete` / `removeOnFail`: `true`, `false`, a count, or `{age, count}` (KeepJobs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeepJobs {
    /// `true` deletes the job at once, `false` keeps everything.
    Remove(bool),
    /// Keep only the newest N.
    Count(i64),
    /// Keep at most `count` and none older than `age` seconds.
    Policy {
        /// Maximum age in seconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        age: Option<u64>,
        /// Maximum number kept.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        count: Option<i64>,
    },
}

/// Retention as the finishing scripts apply it: `count` 0 deletes the job, -1 keeps all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Jobs kept in the set (0 = delete this one, negative = unlimited).
    pub count: i64,
    /// Maximum age in seconds; `None` keeps jobs of any age. `Some(0)`, as in Bull, removes
    /// every job finished by now, this one included.
    pub age_secs: Option<u64>,
}

impl Retention {
    /// The age as the finishing scripts take it: seconds, or -1 for no limit.
    pub fn age_arg(&self) -> i64 {
        self.age_secs
            .map_or(-1, |age| i64::try_from(age).unwrap_or(i64::MAX / 1000))
    }

    /// Keep everything (Bull's default).
    pub const KEEP_ALL: Retention = Retention {
        count: -1,
        age_secs: None,
    };

    /// Maps an option the way Bull's JS does: `true`→count 0, `false`/absent→-1, N→N.
    pub fn from_option(keep: Option<&KeepJobs>) -> Retention {
        match keep {
            None | Some(KeepJobs::Remove(false)) => Self::KEEP_ALL,
            Some(KeepJobs::Remove(true)) => Retention {
                count: 0,
                age_secs: None,
            },
            Some(KeepJobs::Count(count)) => Retention {
                count: *count,
                age_secs: None,
            },
            Some(KeepJobs::Policy { age, count }) => Retention {
                count: count.unwrap_or(-1),
                age_secs: *age,
            },
        }
    }
}

/// `repeat`: a cron expression (optionally in a time zone) or a fixed interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepeatOptions {
    /// Cron expression, 5 fields or 6 with seconds first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// IANA time zone of the cron expression (the host's local zone when absent, as in Node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// Interval in milliseconds, aligned to multiples since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Maximum number of iterations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// No iteration before this time (ms number or date string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Value>,
    /// No iteration after this time (ms number or date string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<Value>,
    /// Iterations scheduled so far (written by the scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// The repeat key (written by the scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The custom job id of the first add, kept for the whole series (written by the scheduler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<JobIdOption>,
    /// Every other key, kept verbatim.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A date option as milliseconds: a number is taken as ms, a string is read as JavaScript's
/// `new Date(string)` reads it (see [`js_date_millis`]), since Node's Bull does.
pub(crate) fn date_option_millis(field: &'static str, value: &Value) -> QueueResult<i64> {
    match value {
        Value::Number(number) => number
            .as_i64()
            .or_else(|| number.as_f64().map(|float| float as i64))
            .ok_or_else(|| QueueError::InvalidOption {
                field,
                rule: "must be milliseconds since the epoch".to_owned(),
            }),
        Value::String(text) => js_date_millis(text).ok_or_else(|| QueueError::InvalidOption {
            field,
            rule: format!(
                "must be a date JavaScript reads (`2099-01-01`, `2099-01-01T10:00:00Z`, …) or \
                 milliseconds, got {text:?}"
            ),
        }),
        _ => Err(QueueError::InvalidOption {
            field,
            rule: "must be a number of milliseconds or a date string".to_owned(),
        }),
    }
}

/// `text` as JavaScript's `new Date(text)` reads the forms Node programs write: ISO dates alone
/// (`2099`, `2099-01`, `2099-01-01`) are UTC midnight; dates with a time (`T` or a space
/// between, minutes or seconds, a fraction) are in their offset (`Z`, `+02:00`) or, without
/// one, in local time; and `Date.toUTCString()`'s RFC 2822 form. `None` for anything else
/// (where JavaScript would give an Invalid Date or guess).
pub(crate) fn js_date_millis(text: &str) -> Option<i64> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone};
    let text = text.trim();
    let date_only = match text.len() {
        4 => format!("{text}-01-01"),
        7 => format!("{text}-01"),
        _ => text.to_owned(),
    };
    if let Ok(date) = NaiveDate::parse_from_str(&date_only, "%Y-%m-%d") {
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    let mut iso = text.replacen(' ', "T", 1);
    if let Some(stripped) = iso.strip_suffix('Z') {
        iso = format!("{stripped}+00:00");
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(date) = DateTime::parse_from_str(&iso, format) {
            return Some(date.timestamp_millis());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(&iso, format) {
            return Some(
                chrono::Local
                    .from_local_datetime(&local)
                    .earliest()?
                    .timestamp_millis(),
            );
        }
    }
    DateTime::parse_from_rfc2822(text)
        .ok()
        .map(|date| date.timestamp_millis())
}

/// Bull priority for the message envelope's `priority` (`high`, `normal`, `low`; absent = normal).
///
/// Every Bull-prioritized job runs before every unprioritized one, so all three levels map to
/// priorities (1, 2, 3) to keep `low` behind `normal`. Unknown levels are rejected.
pub fn bull_priority_for_level(level: Option<&str>) -> QueueResult<u32> {
    match level.unwrap_or("normal") {
        "high" => Ok(1),
        "normal" => Ok(2),
        "low" => Ok(3),
        other => Err(QueueError::InvalidOption {
            field: "priority",
            rule: format!("must be one of high, normal, low (got `{other}`)"),
        }),
    }
}

impl JobOptions {
    /// Parses the `opts` JSON text of a job hash.
    pub fn from_json(text: &str) -> QueueResult<JobOptions> {
        // Every taken job is parsed: the plain parse is the cheap common case, and the
        // path-tracking one only runs again to say where a bad document went wrong.
        if let Ok(opts) = serde_json::from_str(text) {
            return Ok(opts);
        }
        let mut deserializer = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            QueueError::InvalidOption {
                field: "opts",
                rule: format!("at `{}`: {}", error.path(), error.inner()),
            }
        })
    }

    /// Total tries allowed (Bull: at least 1).
    pub fn total_attempts(&self) -> u32 {
        self.attempts.unwrap_or(1).max(1)
    }

    /// Bull's `debounce: {id, ttl?}` (4.16+): the slot `id` this job takes when added, held
    /// until the job finishes or, with `ttl`, for that many milliseconds. Kept among the
    /// verbatim keys so a job whose `debounce` Bull would ignore (no `id`) still runs; read as
    /// Bull reads it: an absent or empty id means no debounce.
    pub fn debounce(&self) -> QueueResult<Option<Debounce>> {
        let Some(Value::Object(debounce)) = self.extra.get("debounce") else {
            return Ok(None);
        };
        let id = match debounce.get("id") {
            Some(Value::String(id)) => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            _ => return Ok(None),
        };
        if id.is_empty() {
            return Ok(None);
        }
        let ttl_millis = match debounce.get("ttl") {
            None | Some(Value::Null) => None,
            Some(ttl) => Some(ttl.as_u64().filter(|millis| *millis > 0).ok_or_else(|| {
                QueueError::InvalidOption {
                    field: "debounce.ttl",
                    rule: format!("must be a whole number of milliseconds above 0, got {ttl}"),
                }
            })?),
        };
        Ok(Some(Debounce { id, ttl_millis }))
    }
}

/// A job's debounce slot (see [`JobOptions::debounce`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Debounce {
    /// The slot: the key `<prefix>:<queue>:de:<id>` holds the id of the job owning it.
    pub id: String,
    /// How long the slot is held at most (without it, until the job finishes).
    pub ttl_millis: Option<u64>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_read_as_javascript_reads_them() {
        use super::js_date_millis;
        let midnight_2099 = Some(4_070_908_800_000);
        assert_eq!(js_date_millis("2099-01-01"), midnight_2099);
        assert_eq!(js_date_millis("2099-01"), midnight_2099);
        assert_eq!(js_date_millis("2099"), midnight_2099);
        assert_eq!(js_date_millis("2099-01-01T00:00:00.000Z"), midnight_2099);
        assert_eq!(js_date_millis("2099-01-01T00:00Z"), midnight_2099);
        assert_eq!(js_date_millis("2099-01-01 02:00:00+02:00"), midnight_2099);
        assert_eq!(
            js_date_millis("Thu, 01 Jan 2099 00:00:00 GMT"),
            midnight_2099
        );
        let local = chrono::NaiveDate::from_ymd_opt(2099, 1, 1)
            .and_then(|d| d.and_hms_opt(10, 30, 0))
            .and_then(|t| chrono::TimeZone::from_local_datetime(&chrono::Local, &t).earliest())
            .map(|t| t.timestamp_millis());
        assert_eq!(js_date_millis("2099-01-01T10:30"), local);
        assert_eq!(js_date_millis("2099-01-01 10:30:00"), local);
        assert_eq!(js_date_millis("tomorrow"), None);
        assert_eq!(js_date_millis("2099-13-01"), None);
    }

    use super::*;

    #[test]
    fn backoff_delays_are_bulls() {
        let fixed = Backoff::Millis(1000);
        assert_eq!(fixed.delay_after(1), Ok(Some(1000)));
        assert_eq!(fixed.delay_after(4), Ok(Some(1000)));
        let exponential = Backoff::Strategy {
            kind: "exponential".into(),
            delay: Some(1000),
            options: None,
        };
        let delays: Vec<_> = (1..=4).map(|made| exponential.delay_after(made)).collect();
        assert_eq!(
            delays,
            vec![
                Ok(Some(1000)),
                Ok(Some(3000)),
                Ok(Some(7000)),
                Ok(Some(15000))
            ]
        );
        let custom = Backoff::Strategy {
            kind: "jitter".into(),
            delay: None,
            options: None,
        };
        assert!(custom.delay_after(1).is_err());
        assert_eq!(Backoff::Millis(0).delay_after(1), Ok(None));
    }

    #[test]
    fn options_keep_unknown_fields_and_accept_numeric_ids() {
        let text = r#"{"jobId":123,"attempts":3,"removeOnComplete":{"age":60,"count":5},"custom":{"x":1}}"#;
        let opts = JobOptions::from_json(text).unwrap();
        assert_eq!(
            opts.job_id.as_ref().map(JobIdOption::as_redis_id),
            Some("123".to_owned())
        );
        assert_eq!(
            Retention::from_option(opts.remove_on_complete.as_ref()),
            Retention {
                count: 5,
                age_secs: Some(60)
            }
        );
        let back: serde_json::Value = serde_json::to_value(&opts).unwrap();
        let loose =
            JobOptions::from_json(r#"{"attempts":"3","delay":12.7,"timeout":null}"#).unwrap();
        assert_eq!(
            (loose.attempts, loose.delay, loose.timeout),
            (Some(3), Some(12), None)
        );
        let error = JobOptions::from_json(r#"{"attempts":"many"}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("attempts"), "{error}");
        assert_eq!(back["custom"]["x"], 1);
        assert_eq!(
            Retention::from_option(Some(&KeepJobs::Remove(true))).count,
            0
        );
        assert_eq!(Retention::from_option(None), Retention::KEEP_ALL);
    }

    #[test]
    fn envelope_priorities_map_onto_bull_priorities() {
        assert_eq!(bull_priority_for_level(Some("high")).unwrap(), 1);
        assert_eq!(bull_priority_for_level(None).unwrap(), 2);
        assert_eq!(bull_priority_for_level(Some("low")).unwrap(), 3);
        assert!(bull_priority_for_level(Some("urgent")).is_err());
    }
}
