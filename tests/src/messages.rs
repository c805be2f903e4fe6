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

/// A `MESSAGE_CREATED` as a plugin receives it (the WIT record): `content` by `author` in
/// `channel`, with no mentions, attachments or optional details, at a fixed time.
pub fn wit_message_created(
    message_id: &str,
    channel: &str,
    author: &str,
    content: &str,
) -> guildhost::runtime::bindings::MessageCreated {
    guildhost::runtime::bindings::MessageCreated {
        message_id: message_id.into(),
        channel_id: channel.into(),
        author_id: author.into(),
        content: content.into(),
        mentions: guildhost::runtime::bindings::Mentions {
            users: vec![],
            roles: vec![],
            everyone: false,
        },
        attachment_count: 0,
        timestamp: 1_796_000_000_000,
        author_roles: None,
        is_bot: None,
        is_webhook: None,
        author_created_at: None,
        member_joined_at: None,
        embed_count: None,
        sticker_count: None,
        referenced_message_id: None,
    }
}
