//! Discord objects as the fake sends them. serenity drops a gateway payload that does not match
//! its model types without a word, so every builder here is checked against those types in
//! `tests/tests/discord_fake.rs`.

use serde_json::{Value, json};

/// A fixed instant for `joined_at` and friends.
const LONG_AGO: &str = "2025-01-01T00:00:00.000000+00:00";

/// A user.
pub fn user(id: u64, name: &str, bot: bool) -> Value {
    json!({
        "id": id.to_string(),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": null,
        "bot": bot,
        "public_flags": 0,
    })
}

/// A guild member (without `guild_id`, as REST returns it).
pub fn member(guild: u64, user_id: u64, name: &str) -> Value {
    let _ = guild;
    json!({
        "user": user(user_id, name, false),
        "nick": null,
        "avatar": null,
        "roles": [],
        "joined_at": LONG_AGO,
        "premium_since": null,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "pending": false,
        "communication_disabled_until": null,
    })
}

/// A member as GUILD_MEMBER_ADD / GUILD_MEMBER_UPDATE carry it (with `guild_id`).
pub fn member_event(
    guild: u64,
    user_id: u64,
    name: &str,
    roles: &[u64],
    nick: Option<&str>,
) -> Value {
    let mut member = member(guild, user_id, name);
    member["guild_id"] = json!(guild.to_string());
    member["roles"] = json!(roles.iter().map(u64::to_string).collect::<Vec<_>>());
    member["nick"] = json!(nick);
    member
}

/// A message; with `guild`, as MESSAGE_CREATE carries it in a guild.
pub fn message(id: u64, channel: u64, guild: Option<u64>, author: u64, content: &str) -> Value {
    let mut message = json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": user(author, "author", author == super::BOT_USER_ID),
        "content": content,
        "timestamp": "2026-11-30T12:00:00.000000+00:00",
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": 0,
        "flags": 0,
    });
    if let Some(guild) = guild {
        message["guild_id"] = json!(guild.to_string());
        message["member"] = json!({
            "roles": [], "joined_at": LONG_AGO, "deaf": false, "mute": false, "flags": 0
        });
    }
    message
}

/// A DM channel with `recipient`.
pub fn dm_channel(id: u64, recipient: u64) -> Value {
    json!({
        "id": id.to_string(),
        "type": 1,
        "last_message_id": null,
        "recipients": [user(recipient, "recipient", false)],
    })
}

/// A text channel of `guild`.
pub fn text_channel(id: u64, guild: u64, name: &str) -> Value {
    json!({
        "id": id.to_string(),
        "type": 0,
        "guild_id": guild.to_string(),
        "name": name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": false,
        "topic": null,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "parent_id": null,
    })
}

/// A role.
pub fn role(id: u64, guild: u64, name: &str) -> Value {
    let _ = guild;
    json!({
        "id": id.to_string(),
        "name": name,
        "color": 0,
        "colors": { "primary_color": 0, "secondary_color": null, "tertiary_color": null },
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": 1,
        "permissions": "0",
        "managed": false,
        "mentionable": false,
        "flags": 0,
    })
}

/// A full guild as GUILD_CREATE carries it, with the bot as its only member.
pub fn guild(id: u64, bot: u64) -> Value {
    json!({
        "id": id.to_string(),
        "name": format!("guild {id}"),
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "owner_id": bot.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "roles": [role(id, id, "@everyone")],
        "emojis": [],
        "features": [],
        "mfa_level": 0,
        "application_id": null,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "vanity_url_code": null,
        "description": null,
        "banner": null,
        "premium_tier": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": null,
        "nsfw_level": 0,
        "stickers": [],
        "premium_progress_bar_enabled": false,
        "joined_at": LONG_AGO,
        "large": false,
        "unavailable": false,
        "member_count": 100,
        "voice_states": [],
        "members": [member(id, bot, "guildhost")],
        "channels": [text_channel(id + 1, id, "general")],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    })
}

/// READY for `bot` in `guilds` (each unavailable until its GUILD_CREATE).
pub fn ready(bot: u64, application: u64, guilds: &[u64], resume_url: &str) -> Value {
    let mut me = user(bot, "guildhost", true);
    me["verified"] = json!(true);
    me["mfa_enabled"] = json!(false);
    me["flags"] = json!(0);
    json!({
        "v": 10,
        "user": me,
        "guilds": guilds.iter().map(|g| json!({ "id": g.to_string(), "unavailable": true })).collect::<Vec<_>>(),
        "session_id": "fake-session",
        "resume_gateway_url": resume_url,
        "shard": [0, 1],
        "application": { "id": application.to_string(), "flags": 0 },
    })
}

/// An application command as Discord returns it after registration.
pub fn command(application: u64, guild: Option<u64>, id: u64, request: &Value) -> Value {
    json!({
        "id": id.to_string(),
        "application_id": application.to_string(),
        "guild_id": guild.map(|g| g.to_string()),
        "name": request["name"].clone(),
        "description": request.get("description").cloned().unwrap_or(json!("")),
        "options": request.get("options").cloned().unwrap_or(json!([])),
        "type": request.get("type").cloned().unwrap_or(json!(1)),
        "default_member_permissions": null,
        "dm_permission": true,
        "nsfw": false,
        "version": "1",
    })
}

/// An audit-log entry of `action_type` by `moderator` on `target`, with an id dated now (Discord
/// dates entries by their snowflake).
pub fn audit_entry(action_type: u8, target: u64, moderator: u64) -> Value {
    const DISCORD_EPOCH_MILLIS: u128 = 1_420_070_400_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(DISCORD_EPOCH_MILLIS);
    let id = ((now.saturating_sub(DISCORD_EPOCH_MILLIS)) as u64) << 22;
    json!({
        "id": id.to_string(),
        "action_type": action_type,
        "user_id": moderator.to_string(),
        "target_id": target.to_string(),
        "reason": "by hand",
        "changes": [],
    })
}

/// An invite to `channel` used `uses` times, as `GET /guilds/{g}/invites` lists it.
pub fn invite(code: &str, channel: u64, uses: u64) -> Value {
    json!({
        "code": code,
        "channel": { "id": channel.to_string(), "name": "general", "type": 0 },
        "created_at": "2026-11-30T12:00:00.000000+00:00",
        "max_age": 0,
        "max_uses": 0,
        "temporary": false,
        "uses": uses,
    })
}

/// The bot's application as `GET /oauth2/applications/@me` returns it.
pub fn application(id: u64, owner: u64) -> Value {
    json!({
        "id": id.to_string(),
        "name": "guildhost",
        "icon": null,
        "description": "",
        "rpc_origins": [],
        "bot_public": true,
        "bot_require_code_grant": false,
        "owner": user(owner, "owner", false),
        "verify_key": "0000000000000000000000000000000000000000000000000000000000000000",
        "team": null,
        "flags": 0,
    })
}

/// INTERACTION_CREATE for a slash command (`type` 2) named `name` with `options` (Discord's
/// option objects), used by `member` in the `general` channel (`guild + 1`) of `guild`.
pub fn interaction(
    id: u64,
    guild: u64,
    member: u64,
    token: &str,
    name: &str,
    options: Value,
) -> Value {
    let data = json!({ "id": (id + 1).to_string(), "name": name, "type": 1, "options": options });
    interaction_of_type(2, id, guild, member, token, data)
}

/// INTERACTION_CREATE for an autocomplete (`type` 4) of command `name`: `options` as Discord
/// sends them, the one being typed with `"focused": true`.
pub fn autocomplete(
    id: u64,
    guild: u64,
    member: u64,
    token: &str,
    name: &str,
    options: Value,
) -> Value {
    let mut typing = interaction(id, guild, member, token, name, options);
    typing["type"] = json!(4);
    typing
}

/// What a member clicked: a component on the bot's message `message`.
#[derive(Debug, Clone, Copy)]
pub struct Click<'a> {
    /// The message the component is on.
    pub message: u64,
    /// The component's `custom_id`.
    pub custom_id: &'a str,
    /// 2 a button, 3 a string select.
    pub component_type: u8,
    /// What was picked (selects).
    pub values: &'a [&'a str],
}

impl<'a> Click<'a> {
    /// A click on button `custom_id`.
    pub fn button(message: u64, custom_id: &'a str) -> Self {
        Click {
            message,
            custom_id,
            component_type: 2,
            values: &[],
        }
    }

    /// A pick of `values` in string select `custom_id`.
    pub fn select(message: u64, custom_id: &'a str, values: &'a [&'a str]) -> Self {
        Click {
            message,
            custom_id,
            component_type: 3,
            values,
        }
    }
}

/// INTERACTION_CREATE for a click (`type` 3) on a component, in the `general` channel.
pub fn component_click(id: u64, guild: u64, member: u64, token: &str, click: Click<'_>) -> Value {
    let mut data = json!({ "custom_id": click.custom_id, "component_type": click.component_type });
    if click.component_type != 2 {
        data["values"] = json!(click.values);
    }
    let mut interaction = interaction_of_type(3, id, guild, member, token, data);
    interaction["message"] = self::message(
        click.message,
        guild + 1,
        Some(guild),
        super::BOT_USER_ID,
        "a message with components",
    );
    interaction
}

/// INTERACTION_CREATE for the submission (`type` 5) of modal `custom_id`, each of `fields` a
/// text input's `custom_id` and the text typed into it.
pub fn modal_submit(
    id: u64,
    guild: u64,
    member: u64,
    token: &str,
    custom_id: &str,
    fields: &[(&str, &str)],
) -> Value {
    let rows: Vec<Value> = fields
        .iter()
        .map(|(input, value)| {
            json!({ "type": 1, "components": [{ "type": 4, "custom_id": input, "value": value }] })
        })
        .collect();
    let data = json!({ "custom_id": custom_id, "components": rows });
    interaction_of_type(5, id, guild, member, token, data)
}

/// The parts every guild interaction shares, around its `type` and `data`.
fn interaction_of_type(
    kind: u8,
    id: u64,
    guild: u64,
    member: u64,
    token: &str,
    data: Value,
) -> Value {
    let application = super::APPLICATION_ID;
    let channel = guild + 1;
    let mut invoker = self::member(guild, member, "invoker");
    invoker["permissions"] = json!("2147483647");
    json!({
        "id": id.to_string(),
        "application_id": application.to_string(),
        "type": kind,
        "data": data,
        "guild_id": guild.to_string(),
        "channel": { "id": channel.to_string(), "type": 0, "name": "general", "permissions": "2147483647" },
        "channel_id": channel.to_string(),
        "member": invoker,
        "token": token,
        "version": 1,
        "app_permissions": "2147483647",
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": { "0": guild.to_string() },
        "context": 0,
        "attachment_size_limit": 10_485_760,
    })
}
