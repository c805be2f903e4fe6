//! Seed messages the suites and benchmarks send as the gateway would, built in one place.

use serde_json::{Value, json};

/// A `MESSAGE_CREATED` of `guild` in `channel`, numbered `id`: its content is `m-<id>` (what a
/// test matches replies against) and its envelope id `evt-<guild>-<id>`.
pub fn message_created(id: u64, guild: &str, channel: &str) -> Value {
    json!({
        "id": format!("evt-{guild}-{id}"),
        "type": "MESSAGE_CREATED",
        "timestamp": "2026-12-07T12:00:00.000Z",
        "source": "bot",
        "guildId": guild,
        "data": {
            "messageId": (400_000_000_000_000_000u64 + id).to_string(),
            "channelId": channel,
            "authorId": "300000000000000001",
            "content": format!("m-{id}"),
            "mentions": { "users": [], "roles": [], "everyone": false },
            "attachmentCount": 0,
            "timestamp": "2026-12-07T12:00:00.000Z",
            "authorRoles": [],
            "isBot": false,
        },
    })
}
