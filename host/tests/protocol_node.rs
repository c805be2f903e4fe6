//! Interop with real Node: messages built the way the seed's TypeScript builds them
//! (`timestamp: new Date()`, `undefined` and `null` optionals, fractional numbers) and written by
//! `JSON.stringify` decode, and our encoding is the JSON Node wrote.

use std::process::Command;

use guildhost::protocol::{Message, MessageType};
use serde_json::Value;

/// Builds one message per interesting shape and prints them as a JSON array.
const NODE_SCRIPT: &str = r#"
const now = new Date();
const guildId = "1187459221346115625";
const moderator = "302050872383242240";
const user = "829410203982675998";
const messages = [
  { id: "cmd-ban", type: "BAN_USER", timestamp: now, source: "api", guildId, userId: moderator,
    requestId: undefined,
    data: { userId: user, reason: "spam & raid – ünïcode 🎵", deleteMessageDays: 7,
            duration: undefined, moderatorId: moderator, caseId: undefined,
            notifyUser: true, createCase: true } },
  { id: "cmd-timeout", type: "TIMEOUT_USER", timestamp: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
    source: "api", guildId,
    data: { userId: user, duration: 28 * 24 * 60 * 60, reason: "", moderatorId: moderator,
            notifyUser: false, createCase: false } },
  { id: "evt-join", type: "MEMBER_JOINED", timestamp: now, source: "bot", guildId,
    data: { user: { id: user, username: "nightowl", discriminator: "0", avatar: null, bot: false },
            member: { joinedAt: new Date(now.getTime() - 1), roles: [], nickname: null, pending: false },
            inviteCode: undefined } },
  { id: "evt-paused", type: "MUSIC_PAUSED", timestamp: now, source: "bot", guildId,
    data: { paused: true, requestedBy: user, currentPosition: 1 / 3 } },
  { id: "evt-ended", type: "MUSIC_ENDED", timestamp: now, source: "bot", guildId, priority: "low",
    data: { trackId: "t-1", reason: "FINISHED", duration: 213.00000000000003 } },
  { id: "evt-task", type: "SCHEDULED_TASK", timestamp: Date.now(), source: "api",
    data: { taskType: "CLEANUP", taskData: null, schedule: { interval: 3600000 },
            nextRun: new Date(8.64e15 / 1000) } },
];
process.stdout.write(JSON.stringify(messages));
"#;

fn run_node() -> Vec<Value> {
    let output = Command::new("node").arg("-e").arg(NODE_SCRIPT).output().unwrap_or_else(|error| {
        panic!("cannot run `node` ({error}): install Node.js 20 (e.g. `apt-get install nodejs`) to run the interop tests")
    });
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("node printed a JSON array")
}

/// What the protocol writes for `value`: the same JSON without `null` optionals, which read as
/// absent. `taskData` is `unknown` in the seed, so its `null` is data and stays.
fn without_null_optionals(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, child)| !child.is_null() || key.as_str() == "taskData")
                .map(|(key, child)| (key.clone(), without_null_optionals(child)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_null_optionals).collect()),
        other => other.clone(),
    }
}

#[test]
fn messages_written_by_node_decode_and_re_encode_to_the_same_json() {
    let messages = run_node();
    assert_eq!(messages.len(), 6);
    for node_json in messages {
        let type_name = node_json["type"].as_str().expect("a type").to_owned();
        let text = serde_json::to_vec(&node_json).expect("re-serializable");
        let message = Message::decode(&text).unwrap_or_else(|error| panic!("{type_name}: {error}"));
        assert_eq!(
            message.message_type().map(MessageType::as_str),
            Some(type_name.as_str())
        );
        let mut expected = without_null_optionals(&node_json);
        if type_name == "SCHEDULED_TASK" {
            // `Date.now()` is epoch milliseconds; the protocol writes every date as ISO-8601.
            let millis = expected["timestamp"].as_i64().expect("epoch millis");
            let iso = guildhost::protocol::Timestamp::from_millis(millis)
                .expect("in range")
                .to_string();
            expected["timestamp"] = Value::from(iso);
        }
        assert_eq!(
            message.to_value().expect("encodes"),
            expected,
            "{type_name}"
        );
    }
}

#[test]
fn node_reads_back_what_we_write() {
    let messages = run_node();
    let ours: Vec<String> = messages
        .iter()
        .map(|value| {
            let bytes = serde_json::to_vec(value).expect("serializable");
            Message::decode(&bytes)
                .expect("decodes")
                .to_json_string()
                .expect("encodes")
        })
        .collect();
    // Node parses each of our documents, turns its dates back into `Date`s, and checks that
    // re-stringifying gives the exact text (dates as `toISOString()`, numbers as JS writes them).
    let check = r#"
const docs = JSON.parse(require("fs").readFileSync(0, "utf8"));
for (const text of docs) {
  const parsed = JSON.parse(text);
  const date = new Date(parsed.timestamp);
  if (date.toISOString() !== parsed.timestamp) throw new Error("date differs: " + parsed.timestamp);
  if (JSON.stringify(parsed) !== text) throw new Error("text differs: " + text);
}
process.stdout.write(String(docs.length));
"#;
    let mut child = Command::new("node")
        .arg("-e")
        .arg(check)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run `node` ({error}): install Node.js 20"));
    let input = serde_json::to_vec(&ours).expect("serializable");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), &input).expect("write to node");
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("node finishes");
    assert!(
        output.status.success(),
        "node refused our JSON: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        ours.len().to_string()
    );
}
