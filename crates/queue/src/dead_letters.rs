//! The dead-letter queue: a plain Bull queue (default `dead-letters`) whose jobs describe jobs
//! that failed for good. The letter format (written by the worker, and by `stalled.lua` for jobs
//! that stalled too often), listing, reading, replaying to the original queue, purging.

use std::sync::Arc;

use redis::AsyncCommands;
use serde_json::{Map, Value};

use super::conn::RedisConn;
use super::error::{QueueError, QueueResult};
use super::job::{Job, NewJob};
use super::keys::QueueKeys;
use super::now_ms;
use super::options::JobOptions;
use super::producer::prepare_add;
use super::scripts::{Purge, Replay};

/// Name of the dead-letter queue when none is configured.
pub const DEFAULT_DEAD_LETTER_QUEUE: &str = "dead-letters";
/// Job name of dead letters (the seed's `deadLetterQueue.add("failed_job", ...)`).
pub const DEAD_LETTER_JOB_NAME: &str = "failed_job";

/// A letter's `failedAt`: ms since the epoch as ISO 8601 with milliseconds, as JS `toISOString()`.
pub(crate) fn failed_at_text(failed_at_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(failed_at_ms)
        .map(|date| date.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

/// JSON text embedded as is when valid, else as a JSON string.
fn json_or_string(text: Option<&str>) -> String {
    match text {
        Some(text) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            text.to_owned()
        }
        Some(text) => Value::String(text.to_owned()).to_string(),
        None => "null".to_owned(),
    }
}

/// The dead-letter data for `job`: `{originalJob, error, failedAt, queue, jobId, jobName,
/// attemptsMade, opts}` (`stalled.lua` writes the same for jobs that stalled too often).
pub(crate) fn dead_letter_data(
    job: &Job,
    error: &str,
    failed_at_ms: i64,
    attempts_made: u32,
) -> String {
    format!(
        "{{\"originalJob\":{},\"error\":{},\"failedAt\":{},\"queue\":{},\"jobId\":{},\"jobName\":{},\"attemptsMade\":{},\"opts\":{}}}",
        json_or_string(Some(&job.data)),
        Value::String(error.to_owned()),
        Value::String(failed_at_text(failed_at_ms)),
        Value::String(job.queue.to_string()),
        Value::String(job.id.clone()),
        Value::String(job.name.clone()),
        attempts_made,
        json_or_string(job.opts_raw.as_deref()),
    )
}

/// The letter to add to dead-letter queue `queue` for `job`, which failed for good.
pub(crate) fn dead_letter_job(
    queue: &str,
    job: &Job,
    error: &str,
    failed_at_ms: i64,
    attempts_made: u32,
) -> NewJob {
    NewJob {
        queue: queue.to_owned(),
        name: DEAD_LETTER_JOB_NAME.to_owned(),
        data: dead_letter_data(job, error, failed_at_ms, attempts_made),
        opts: JobOptions::default(),
    }
}

/// One dead letter, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The letter's own job id in the dead-letter queue.
    pub id: String,
    /// The queue the failed job came from.
    pub queue: String,
    /// The failed job's id.
    pub job_id: String,
    /// The failed job's name.
    pub job_name: String,
    /// Why it failed.
    pub error: String,
    /// When it failed (ISO 8601).
    pub failed_at: String,
    /// Failed attempts.
    pub attempts_made: u64,
    /// The failed job's data (JSON text, or a JSON string when the original was not JSON).
    pub original_data: String,
    /// The failed job's options, when they were JSON.
    pub opts: Option<Value>,
}

impl DeadLetter {
    /// Decodes a letter job's data.
    pub fn from_job(job: &Job) -> QueueResult<DeadLetter> {
        let malformed =
            |rule: &str| QueueError::Malformed(format!("dead letter {}: {rule}", job.id));
        let mut data: Map<String, Value> = serde_json::from_str(&job.data)
            .map_err(|error| malformed(&format!("data is not a JSON object ({error})")))?;
        let text = |data: &mut Map<String, Value>, field: &str| -> String {
            match data.remove(field) {
                Some(Value::String(text)) => text,
                Some(other) => other.to_string(),
                None => String::new(),
            }
        };
        let queue = text(&mut data, "queue");
        if queue.is_empty() {
            return Err(malformed("field `queue` is missing"));
        }
        Ok(DeadLetter {
            id: job.id.clone(),
            job_id: text(&mut data, "jobId"),
            job_name: text(&mut data, "jobName"),
            error: text(&mut data, "error"),
            failed_at: text(&mut data, "failedAt"),
            attempts_made: data
                .get("attemptsMade")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            original_data: data
                .get("originalJob")
                .map(Value::to_string)
                .unwrap_or_else(|| "null".to_owned()),
            opts: data.remove("opts").filter(|opts| !opts.is_null()),
            queue,
        })
    }

    /// The job to add when replaying: same queue, name, data and options, minus the fields that
    /// tie it to its old life (id, repeat series, delay, timestamp, debounce slot: a slot still
    /// held would make the add return its holder, and the letter, already taken back, would be
    /// gone with nothing added).
    pub fn replay_job(&self) -> NewJob {
        let mut opts = match &self.opts {
            Some(Value::Object(map)) => {
                serde_json::from_value::<JobOptions>(Value::Object(map.clone())).unwrap_or_default()
            }
            _ => JobOptions::default(),
        };
        opts.job_id = None;
        opts.repeat = None;
        opts.prev_millis = None;
        opts.delay = None;
        opts.timestamp = None;
        opts.extra.remove("debounce");
        NewJob {
            queue: self.queue.clone(),
            name: if self.job_name.is_empty() {
                "__default__".to_owned()
            } else {
                self.job_name.clone()
            },
            data: self.original_data.clone(),
            opts,
        }
    }
}

/// The dead-letter queue under one prefix.
#[derive(Clone, Debug)]
pub struct DeadLetters {
    conn: RedisConn,
    keys: QueueKeys,
    token: Arc<str>,
}

impl DeadLetters {
    /// The dead-letter queue `name` (default `dead-letters`) under `prefix`.
    pub fn new(conn: RedisConn, prefix: &str, name: Option<&str>) -> DeadLetters {
        DeadLetters {
            conn,
            keys: QueueKeys::new(prefix, name.unwrap_or(DEFAULT_DEAD_LETTER_QUEUE)),
            token: Arc::from(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// The dead-letter queue's keys.
    pub fn keys(&self) -> &QueueKeys {
        &self.keys
    }

    /// Letter ids, oldest first.
    pub async fn ids(&self) -> QueueResult<Vec<String>> {
        let mut conn = self.conn.clone();
        let (mut waiting, paused): (Vec<String>, Vec<String>) = redis::pipe()
            .lrange(self.keys.wait(), 0, -1)
            .lrange(self.keys.paused(), 0, -1)
            .query_async(&mut conn)
            .await?;
        waiting.extend(paused);
        // Lists hold the newest on the left: oldest first is the reverse.
        waiting.reverse();
        Ok(waiting)
    }

    /// Every letter, oldest first. Letters that cannot be decoded are skipped with a warning.
    pub async fn list(&self) -> QueueResult<Vec<DeadLetter>> {
        let ids = self.ids().await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.job(id));
        }
        let mut conn = self.conn.clone();
        let hashes: Vec<Vec<(Vec<u8>, Vec<u8>)>> = pipe.query_async(&mut conn).await?;
        let queue: Arc<str> = Arc::from(self.keys.name());
        let mut letters = Vec::with_capacity(ids.len());
        for (id, fields) in ids.into_iter().zip(hashes) {
            if fields.is_empty() {
                continue;
            }
            match DeadLetter::from_job(&Job::from_fields(queue.clone(), id, fields)) {
                Ok(letter) => letters.push(letter),
                Err(error) => tracing::warn!(%error, "undecodable dead letter skipped"),
            }
        }
        Ok(letters)
    }

    /// One letter, if it exists.
    pub async fn get(&self, id: &str) -> QueueResult<Option<DeadLetter>> {
        let mut conn = self.conn.clone();
        let fields: Vec<(Vec<u8>, Vec<u8>)> = conn.hgetall(self.keys.job(id)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        DeadLetter::from_job(&Job::from_fields(
            Arc::from(self.keys.name()),
            id.to_owned(),
            fields,
        ))
        .map(Some)
    }

    /// Sends one letter back to its queue (atomically removing the letter). Returns the new job
    /// id, or `None` when the letter does not exist (any more).
    pub async fn replay(&self, id: &str) -> QueueResult<Option<String>> {
        let Some(letter) = self.get(id).await? else {
            return Ok(None);
        };
        Ok(self.replay_letters(&[letter]).await?.pop().flatten())
    }

    /// Sends every letter back, in one script call. Returns the new job ids.
    pub async fn replay_all(&self) -> QueueResult<Vec<String>> {
        let letters = self.list().await?;
        Ok(self
            .replay_letters(&letters)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Sends `letters` back to their queues in one script call (removing each letter); returns
    /// each new job id, `None` for a letter that was gone already. For progress over thousands
    /// of letters, call it on chunks of [`DeadLetters::list`].
    pub async fn replay_letters(&self, letters: &[DeadLetter]) -> QueueResult<Vec<Option<String>>> {
        if letters.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut records = Vec::with_capacity(letters.len());
        for letter in letters {
            let record =
                prepare_add(self.keys.prefix(), &letter.replay_job(), now)?.ok_or_else(|| {
                    QueueError::Malformed(format!("dead letter {} cannot be replayed", letter.id))
                })?;
            records.push((letter.id.as_str(), record));
        }
        let replay = Replay {
            keys: &self.keys,
            token: &self.token,
            letters: &records,
        };
        Ok(replay.run(&self.conn).await?)
    }

    /// Deletes every letter. Returns how many were deleted.
    pub async fn purge(&self) -> QueueResult<u64> {
        let ids = self.ids().await?;
        if ids.is_empty() {
            return Ok(0);
        }
        let purge = Purge {
            keys: &self.keys,
            ids: ids.iter().map(String::as_str),
        };
        Ok(purge.run(&self.conn).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dead_letter_data_embeds_json_and_quotes_the_rest() {
        let job = Job {
            queue: Arc::from("q"),
            id: "5".into(),
            name: "ban".into(),
            data: "{not json".into(),
            opts_raw: Some(r#"{"attempts":2}"#.into()),
            ..Job::default()
        };
        let letter: Value = serde_json::from_str(&dead_letter_data(&job, "bad", 0, 2)).unwrap();
        assert_eq!(letter["originalJob"], "{not json");
        assert_eq!(letter["opts"]["attempts"], 2);
        assert_eq!(letter["failedAt"], "1970-01-01T00:00:00.000Z");
        assert_eq!(letter["attemptsMade"], 2);
    }
}
