//! A queue's Redis keys as one JSON document two runs can be compared by: every key under
//! `<prefix>:<queue>:` with what is deterministic about it (order of lists, members of sets,
//! job hash fields) and nothing that depends on the clock (timestamps, lock tokens, scores
//! derived from times, the stalled check's own bookkeeping).

use std::collections::BTreeMap;

use guildhost::queue::RedisConn;
use serde_json::{Map, Value, json};

/// Job-hash fields that hold times.
const TIME_FIELDS: [&str; 4] = ["timestamp", "processedOn", "finishedOn", "retriedOn"];
/// Option keys that hold times.
const TIME_OPTIONS: [&str; 2] = ["timestamp", "prevMillis"];

/// Every key of the queue, normalized.
pub async fn dump(conn: &RedisConn, prefix: &str, queue: &str) -> anyhow::Result<Value> {
    let base = format!("{prefix}:{queue}:");
    let mut redis = conn.clone();
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{base}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut redis)
            .await?;
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    let mut out = BTreeMap::new();
    for key in keys {
        let suffix = key[base.len()..].to_owned();
        // The stalled check's throttle and suspects depend on when the checks ran.
        if suffix == "stalled-check" || suffix == "stalled" || suffix.ends_with(":data") {
            continue;
        }
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut redis).await?;
        let value = match kind.as_str() {
            "string" if suffix.ends_with(":lock") => json!("<lock>"),
            "string" => {
                let text: String = redis::cmd("GET").arg(&key).query_async(&mut redis).await?;
                json!(text)
            }
            "list" => {
                let items: Vec<String> = redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut redis)
                    .await?;
                json!(items)
            }
            "set" => {
                let mut members: Vec<String> = redis::cmd("SMEMBERS")
                    .arg(&key)
                    .query_async(&mut redis)
                    .await?;
                members.sort();
                json!(members)
            }
            "zset" => {
                let pairs: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut redis)
                    .await?;
                if suffix == "priority" {
                    json!(pairs)
                } else {
                    // Scores are times: only the members count.
                    let mut members: Vec<String> = pairs.into_iter().map(|(m, _)| m).collect();
                    members.sort();
                    json!(members)
                }
            }
            "hash" => {
                let fields: BTreeMap<String, String> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut redis)
                    .await?;
                hash(&suffix, fields)
            }
            other => json!(format!("<{other}>")),
        };
        out.insert(suffix, value);
    }
    Ok(json!(out))
}

/// A hash's fields without times; JSON fields parsed, options without their times.
fn hash(suffix: &str, fields: BTreeMap<String, String>) -> Value {
    // A repeat iteration's delay is the time left until its slot: it depends on the clock.
    let iteration = suffix.starts_with("repeat:");
    let mut out = Map::new();
    for (field, text) in fields {
        if TIME_FIELDS.contains(&field.as_str()) || (iteration && field == "delay") {
            continue;
        }
        // The metrics' previous point depends on the minute the runs happened in.
        if suffix.starts_with("metrics:") && field != "count" {
            continue;
        }
        let value = match field.as_str() {
            "stacktrace" => json!(
                serde_json::from_str::<Vec<Value>>(&text)
                    .map(|entries| entries.len())
                    .unwrap_or(0)
            ),
            "opts" => {
                let mut opts: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if let Some(map) = opts.as_object_mut() {
                    for key in TIME_OPTIONS {
                        map.remove(key);
                    }
                    if iteration {
                        map.remove("delay");
                    }
                }
                opts
            }
            "data" | "returnvalue" | "progress" => {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            }
            _ => Value::String(text),
        };
        out.insert(field, value);
    }
    Value::Object(out)
}

/// Whether the queue has drained as the Node agent's `work` sees it: nothing waiting or
/// active, no delayed job due within `horizon_ms`; while paused, only nothing active.
pub async fn drained(
    conn: &RedisConn,
    prefix: &str,
    queue: &str,
    horizon_ms: i64,
) -> anyhow::Result<bool> {
    let base = format!("{prefix}:{queue}:");
    let mut redis = conn.clone();
    let (wait, active, paused, first): (u64, u64, bool, Vec<(String, f64)>) = redis::pipe()
        .cmd("LLEN")
        .arg(format!("{base}wait"))
        .cmd("LLEN")
        .arg(format!("{base}active"))
        .cmd("EXISTS")
        .arg(format!("{base}meta-paused"))
        .cmd("ZRANGE")
        .arg(format!("{base}delayed"))
        .arg(0)
        .arg(0)
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await?;
    if paused {
        return Ok(active == 0);
    }
    let due_soon = first.first().is_some_and(|(_, score)| {
        (*score / 4096.0) as i64 <= guildhost::queue::now_ms() + horizon_ms
    });
    Ok(wait == 0 && active == 0 && !due_soon)
}

/// Replaces what differs between two runs by construction: the time in repeat job ids
/// (`repeat:<md5>:<ms>`), anywhere in the document.
pub fn normalize(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(normalize_text(&text)),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (normalize_text(&key), normalize(value)))
                .collect(),
        ),
        other => other,
    }
}

fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("repeat:") {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        // repeat:<32 hex>:<digits>
        let id_end = tail
            .char_indices()
            .skip(7)
            .find(|(_, c)| !c.is_ascii_hexdigit())
            .map_or(tail.len(), |(i, _)| i);
        let after = &tail[id_end..];
        if let Some(millis) = after.strip_prefix(':') {
            let digits = millis.chars().take_while(char::is_ascii_digit).count();
            if digits >= 10 {
                out.push_str(&tail[..id_end]);
                out.push_str(":<ms>");
                rest = &millis[digits..];
                continue;
            }
        }
        out.push_str(&tail[..id_end]);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The first place two documents differ, as two short texts (path and value on each side).
pub fn first_difference(left: &Value, right: &Value) -> (String, String) {
    fn walk(path: &str, left: &Value, right: &Value) -> Option<(String, String)> {
        match (left, right) {
            (Value::Object(l), Value::Object(r)) => {
                for key in l.keys().chain(r.keys()) {
                    let here = format!("{path}.{key}");
                    match (l.get(key), r.get(key)) {
                        (Some(a), Some(b)) => {
                            if let Some(found) = walk(&here, a, b) {
                                return Some(found);
                            }
                        }
                        (a, b) => {
                            return Some((
                                format!(
                                    "{here} = {}",
                                    a.map_or("<absent>".into(), Value::to_string)
                                ),
                                format!(
                                    "{here} = {}",
                                    b.map_or("<absent>".into(), Value::to_string)
                                ),
                            ));
                        }
                    }
                }
                None
            }
            (Value::Array(l), Value::Array(r)) if l.len() == r.len() => l
                .iter()
                .zip(r)
                .enumerate()
                .find_map(|(i, (a, b))| walk(&format!("{path}[{i}]"), a, b)),
            _ if left == right => None,
            _ => Some((format!("{path} = {left}"), format!("{path} = {right}"))),
        }
    }
    walk("", left, right).unwrap_or_else(|| ("(equal)".into(), "(equal)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_ids_lose_their_time_and_nothing_else() {
        assert_eq!(
            normalize_text("repeat:0123456789abcdef0123456789abcdef:1796690760000"),
            "repeat:0123456789abcdef0123456789abcdef:<ms>"
        );
        assert_eq!(
            normalize_text("x repeat:ab:12 y"),
            "x repeat:ab:12 y",
            "short digit runs are not times"
        );
        assert_eq!(normalize_text("plain"), "plain");
    }
}
