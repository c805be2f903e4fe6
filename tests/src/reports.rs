//! Reading what the host reported to the API: the `MODERATION_ACTION_COMPLETED` events waiting
//! on `moderation:events`, counted per user, for tests that prove each request was reported
//! exactly once; and the check that the queues a request passed through were left empty.

use std::collections::HashMap;
use std::time::Duration;

use guildhost::queue::{Queue, RedisConn};
use serde_json::Value;

use crate::wait::eventually;

/// Waits (up to 90 s) until `count` reports wait on `moderation:events` under `prefix`, then
/// returns how many name each user. Fails the test on a report of another type.
pub async fn moderation_reports_per_user(
    conn: &RedisConn,
    prefix: &str,
    count: usize,
) -> HashMap<String, usize> {
    let events = Queue::new(conn.clone(), prefix, "moderation:events");
    let key = events.keys().wait();
    let reports: Vec<Value> =
        eventually(Duration::from_secs(90), "a report per request", || async {
            let ids: Vec<String> = redis::cmd("LRANGE")
                .arg(&key)
                .arg(0)
                .arg(-1)
                .query_async(&mut conn.clone())
                .await
                .ok()?;
            if ids.len() < count {
                return None;
            }
            let mut reports = Vec::with_capacity(ids.len());
            for id in ids {
                let job = events.get_job(&id).await.ok()??;
                reports.push(serde_json::from_str(&job.data).ok()?);
            }
            Some(reports)
        })
        .await;
    let mut per_user = HashMap::new();
    for report in &reports {
        assert_eq!(report["type"], "MODERATION_ACTION_COMPLETED", "{report}");
        let user = report["data"]["userId"].as_str().unwrap_or_default();
        *per_user.entry(user.to_owned()).or_default() += 1;
    }
    per_user
}

/// Asserts that each of `requests` users was reported exactly once.
pub fn assert_each_reported_once(per_user: &HashMap<String, usize>, requests: usize) {
    assert_eq!(per_user.len(), requests, "every request reported");
    assert!(
        per_user.values().all(|&n| n == 1),
        "a report enqueued twice: {:?}",
        per_user.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
}

/// Asserts that nothing is waiting, active or failed on any of `queues` under `prefix`.
pub async fn assert_queues_drained(conn: &RedisConn, prefix: &str, queues: &[&str]) {
    for name in queues {
        let counts = Queue::new(conn.clone(), prefix, name)
            .job_counts()
            .await
            .expect("counts");
        assert_eq!(
            (counts.waiting, counts.active, counts.failed),
            (0, 0, 0),
            "{name}: {counts:?}"
        );
    }
}
