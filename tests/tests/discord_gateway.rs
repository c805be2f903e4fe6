//! The whole host against the fake Discord: serenity's gateway client identifies with the
//! intents ingest needs; Discord's dispatches become seed events that a Node Bull worker reads
//! on `discord:events`; a rule-breaking message is deleted at the fake's REST by the automod
//! plugin; deletes and edits name the author and old content; a kick guildhost executed is
//! reported as KICKED, a ban made by hand
//! (found in the audit log) as BANNED.

mod common;
mod host_support;

use std::time::Duration;

use guildhost_tests::fake_discord::{FakeDiscord, fixtures};
use serde_json::{Value, json};

use host_support::Host;

const GUILD: u64 = 100_000_000_000_000_001;
const CHANNEL: u64 = 500_000_000_000_000_001;
const MEMBER: u64 = 300_000_000_000_000_001;

async fn host_on(fake: &FakeDiscord, plugins: &[&str]) -> Host {
    let base = fake.base_url();
    let host = Host::start_and(plugins, move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base)
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    host
}

/// The events a Node Bull worker reads from `discord:events`, once `count` are there.
async fn node_events(host: &Host, count: usize) -> Vec<Value> {
    common::eventually(20, "events on discord:events", || async {
        let counts = host.queue("discord:events").job_counts().await.ok()?;
        (counts.waiting as usize >= count).then_some(())
    })
    .await;
    host_support::node_read_events(&host.prefix, "discord:events", count).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_events_reach_a_node_worker_and_automod_deletes_at_discord() {
    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    let host = host_on(&fake, &["automod"]).await;
    let identify = fake.identifies().first().cloned().unwrap_or_default();
    let intents = identify["intents"].as_u64().unwrap_or(0);
    // What automod's subscriptions need (messages with their content), not members.
    for (bit, name) in [(1 << 9, "GUILD_MESSAGES"), (1 << 15, "MESSAGE_CONTENT")] {
        assert!(intents & bit != 0, "IDENTIFY asks for {name}: {identify}");
    }
    assert_eq!(intents & (1 << 1), 0, "no GUILD_MEMBERS: {identify}");
    assert_eq!(identify["shard"], json!([0, 1]));

    fake.dispatch(
        "GUILD_MEMBER_ADD",
        fixtures::member_event(GUILD, MEMBER, "newcomer", &[], None),
    );
    fake.dispatch(
        "MESSAGE_CREATE",
        fixtures::message(
            400_000_000_000_000_002,
            CHANNEL,
            Some(GUILD),
            MEMBER,
            "join my server discord.gg/raiders",
        ),
    );

    // The automod plugin's delete reaches Discord's REST.
    let delete = fake
        .wait_for(Duration::from_secs(20), "the automod delete", |requests| {
            requests
                .iter()
                .find(|r| r.method == "DELETE" && r.path.contains("/messages/400000000000000002"))
                .cloned()
        })
        .await;
    let delete = match delete {
        Ok(delete) => delete,
        Err(e) => panic!("{e:#}"),
    };
    assert_eq!(
        delete.path,
        format!("/channels/{CHANNEL}/messages/400000000000000002")
    );

    let events = node_events(&host, 2).await;
    let joined = events.iter().find(|e| e["type"] == "MEMBER_JOINED");
    let Some(joined) = joined else {
        panic!("no MEMBER_JOINED among {events:?}")
    };
    assert_eq!(joined["guildId"], GUILD.to_string());
    assert_eq!(joined["data"]["user"]["id"], MEMBER.to_string());
    assert_eq!(joined["data"]["user"]["username"], "newcomer");
    let created = events.iter().find(|e| e["type"] == "MESSAGE_CREATED");
    let Some(created) = created else {
        panic!("no MESSAGE_CREATED among {events:?}")
    };
    assert_eq!(
        created["data"]["content"],
        "join my server discord.gg/raiders"
    );
    assert_eq!(created["source"], "bot");
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_and_edits_name_the_author_and_old_content_and_kicks_are_told_from_leaves() {
    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    let host = host_on(&fake, &[]).await;
    let message_id = 400_000_000_000_000_010_u64;
    fake.dispatch(
        "MESSAGE_CREATE",
        fixtures::message(message_id, CHANNEL, Some(GUILD), MEMBER, "first words"),
    );
    // serenity handles each event on its own task: wait for the message before changing it.
    node_events(&host, 1).await;
    fake.dispatch(
        "MESSAGE_UPDATE",
        json!({
            "id": message_id.to_string(), "channel_id": CHANNEL.to_string(),
            "guild_id": GUILD.to_string(), "content": "second words",
            "edited_timestamp": "2026-11-30T12:01:00.000000+00:00",
        }),
    );
    let edited = node_events(&host, 1).await;
    assert_eq!(edited[0]["type"], "MESSAGE_EDITED", "{edited:?}");
    assert_eq!(edited[0]["data"]["oldContent"], "first words");
    assert_eq!(edited[0]["data"]["newContent"], "second words");

    fake.dispatch(
        "MESSAGE_DELETE",
        json!({ "id": message_id.to_string(), "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string() }),
    );
    let deleted = node_events(&host, 1).await;
    assert_eq!(deleted[0]["type"], "MESSAGE_DELETED", "{deleted:?}");
    assert_eq!(deleted[0]["data"]["authorId"], MEMBER.to_string());
    assert_eq!(deleted[0]["data"]["content"], "second words");

    // A kick guildhost executes, then the member's removal: KICKED. Another removal: LEFT.
    host.send(
        guildhost::dispatch::routes::EXECUTE_QUEUE,
        &host_support::envelope(
            "KICK_USER",
            &GUILD.to_string(),
            json!({
                "userId": MEMBER.to_string(), "reason": "spam",
                "moderatorId": host_support::MODERATOR, "notifyUser": false, "createCase": false,
            }),
        ),
    )
    .await;
    if let Err(e) = fake
        .wait_for(Duration::from_secs(20), "the kick", |requests| {
            requests
                .iter()
                .any(|r| r.method == "DELETE" && r.path.contains("/members/"))
                .then_some(())
        })
        .await
    {
        panic!("{e:#}");
    }
    let removal = |user: u64| json!({ "guild_id": GUILD.to_string(), "user": fixtures::user(user, "someone", false) });
    // Each removal is awaited on the queue before the next, then a Node worker reads all three.
    let waiting = || async {
        host.queue("discord:events")
            .job_counts()
            .await
            .map(|c| c.waiting)
            .unwrap_or(0)
    };
    fake.dispatch("GUILD_MEMBER_REMOVE", removal(MEMBER));
    common::eventually(20, "the first removal", || async {
        (waiting().await >= 1).then_some(())
    })
    .await;
    fake.dispatch("GUILD_MEMBER_REMOVE", removal(MEMBER + 1));
    common::eventually(20, "the second removal", || async {
        (waiting().await >= 2).then_some(())
    })
    .await;
    // A ban a moderator made by hand in Discord: told from the audit log.
    fake.add_audit_entry(22, MEMBER + 2);
    fake.dispatch("GUILD_MEMBER_REMOVE", removal(MEMBER + 2));
    let removals = node_events(&host, 3).await;
    let mut left_reasons: Vec<(Value, Value)> = removals
        .iter()
        .filter(|e| e["type"] == "MEMBER_LEFT")
        .map(|e| (e["data"]["user"]["id"].clone(), e["data"]["reason"].clone()))
        .collect();
    left_reasons.sort_by_key(|(user, _)| user.as_str().unwrap_or_default().to_owned());
    assert_eq!(
        left_reasons,
        vec![
            (json!(MEMBER.to_string()), json!("KICKED")),
            (json!((MEMBER + 1).to_string()), json!("LEFT")),
            (json!((MEMBER + 2).to_string()), json!("BANNED")),
        ]
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_updates_channels_roles_and_bulk_deletes_become_seed_events() {
    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    let host = host_on(&fake, &[]).await;
    fake.dispatch(
        "GUILD_MEMBER_ADD",
        fixtures::member_event(GUILD, MEMBER, "member", &[700_000_000_000_000_001], None),
    );
    // The member must be known (cached) before its update, to tell what changed.
    node_events(&host, 1).await;
    let mut update = fixtures::member_event(
        GUILD,
        MEMBER,
        "member",
        &[700_000_000_000_000_002],
        Some("Nick"),
    );
    update["communication_disabled_until"] = json!("2026-12-01T00:00:00.000000+00:00");
    fake.dispatch("GUILD_MEMBER_UPDATE", update);
    let updated = node_events(&host, 1).await;
    assert_eq!(updated[0]["type"], "MEMBER_UPDATED", "{updated:?}");
    let changes = &updated[0]["data"]["changes"];
    assert_eq!(changes["nickname"], json!({ "new": "Nick" }));
    assert_eq!(
        changes["roles"],
        json!({ "added": ["700000000000000002"], "removed": ["700000000000000001"] })
    );
    assert_eq!(changes["timeout"]["new"], "2026-12-01T00:00:00.000Z");

    let mut channel = fixtures::text_channel(800_000_000_000_000_001, GUILD, "announcements");
    channel["position"] = json!(3);
    fake.dispatch("CHANNEL_CREATE", channel);
    let channel_created = node_events(&host, 1).await;
    let mut role = fixtures::role(900_000_000_000_000_001, GUILD, "helpers");
    role["color"] = json!(3_447_003);
    fake.dispatch(
        "GUILD_ROLE_CREATE",
        json!({ "guild_id": GUILD.to_string(), "role": role }),
    );
    let role_created = node_events(&host, 1).await;
    fake.dispatch(
        "MESSAGE_DELETE_BULK",
        json!({ "ids": ["400000000000000021", "400000000000000022"], "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string() }),
    );
    let bulk = node_events(&host, 1).await;

    assert_eq!(channel_created[0]["type"], "CHANNEL_CREATED");
    assert_eq!(
        channel_created[0]["data"]["channel"],
        json!({ "id": "800000000000000001", "name": "announcements", "type": 0, "position": 3 })
    );
    assert_eq!(role_created[0]["type"], "ROLE_CREATED");
    assert_eq!(role_created[0]["data"]["role"]["name"], "helpers");
    assert_eq!(role_created[0]["data"]["role"]["color"], 3_447_003);
    assert_eq!(bulk[0]["type"], "MESSAGE_BULK_DELETED");
    assert_eq!(bulk[0]["data"]["count"], 2);
    assert_eq!(
        bulk[0]["data"]["messageIds"],
        json!(["400000000000000021", "400000000000000022"])
    );
    host.stop().await;
}

/// The fields Discord does not send with the event, filled where it can tell: the invite a
/// member joined with (from the invite counts), who deleted a member's message and who created
/// a channel or role (from the audit log); absent when it cannot tell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_codes_and_who_deleted_or_created_are_filled_where_discord_can_tell() {
    const MODERATOR: u64 = 200_000_000_000_000_009;
    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    fake.set_invites(GUILD, &[("abc", 3), ("xyz", 0)]);
    let host = host_on(&fake, &[]).await;
    // The guild's invites were read when it became available.
    if let Err(e) = fake
        .wait_for(Duration::from_secs(20), "the invites read", |requests| {
            requests
                .iter()
                .any(|r| r.path == format!("/guilds/{GUILD}/invites"))
                .then_some(())
        })
        .await
    {
        panic!("{e:#}");
    }
    fake.set_invites(GUILD, &[("abc", 3), ("xyz", 1)]);
    fake.dispatch(
        "GUILD_MEMBER_ADD",
        fixtures::member_event(GUILD, MEMBER, "member", &[], None),
    );
    let joined = node_events(&host, 1).await;
    assert_eq!(joined[0]["data"]["inviteCode"], "xyz", "{joined:?}");
    // Two invites used at once: nobody can tell which.
    fake.set_invites(GUILD, &[("abc", 4), ("xyz", 2)]);
    fake.dispatch(
        "GUILD_MEMBER_ADD",
        fixtures::member_event(GUILD, MEMBER + 1, "other", &[], None),
    );
    let joined = node_events(&host, 1).await;
    assert_eq!(joined[0]["type"], "MEMBER_JOINED");
    assert!(joined[0]["data"].get("inviteCode").is_none(), "{joined:?}");

    // A moderator deletes the member's message: the audit log names them.
    fake.dispatch(
        "MESSAGE_CREATE",
        fixtures::message(
            400_000_000_000_000_031,
            CHANNEL,
            Some(GUILD),
            MEMBER,
            "hello",
        ),
    );
    node_events(&host, 1).await;
    fake.add_audit_entry_by(
        72,
        MEMBER,
        MODERATOR,
        json!({ "channel_id": CHANNEL.to_string(), "count": "1" }),
    );
    fake.dispatch(
        "MESSAGE_DELETE",
        json!({ "id": "400000000000000031", "channel_id": CHANNEL.to_string(), "guild_id": GUILD.to_string() }),
    );
    let deleted = node_events(&host, 1).await;
    assert_eq!(deleted[0]["type"], "MESSAGE_DELETED");
    assert_eq!(deleted[0]["data"]["deletedBy"], MODERATOR.to_string());

    // Channels and roles: their creators, from the audit log.
    fake.add_audit_entry_by(10, 800_000_000_000_000_002, MODERATOR, Value::Null);
    fake.dispatch(
        "CHANNEL_CREATE",
        fixtures::text_channel(800_000_000_000_000_002, GUILD, "rules"),
    );
    let channel = node_events(&host, 1).await;
    assert_eq!(channel[0]["data"]["createdBy"], MODERATOR.to_string());
    fake.add_audit_entry_by(30, 900_000_000_000_000_002, MODERATOR, Value::Null);
    fake.dispatch(
        "GUILD_ROLE_CREATE",
        json!({ "guild_id": GUILD.to_string(), "role": fixtures::role(900_000_000_000_000_002, GUILD, "mods") }),
    );
    let role = node_events(&host, 1).await;
    assert_eq!(role[0]["data"]["createdBy"], MODERATOR.to_string());
    host.stop().await;
}

/// Intents: as configured when listed; a refusal of privileged ones (4014) ends the gateway with
/// an error naming them and where to enable them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_intents_are_asked_for_and_a_refusal_names_the_privileged_ones() {
    use guildhost::discord::gateway::{self, GatewayFailure, GatewaySettings, Shards};
    use guildhost::discord::rest::{RestMode, http_client};

    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    let base = fake.base_url();
    let host = Host::start_and(&[], move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base);
        config.discord.intents = Some(vec!["GUILDS".into(), "GUILD_MEMBERS".into()]);
    })
    .await;
    let identify = match fake.wait_for_identify(Duration::from_secs(20)).await {
        Ok(identify) => identify,
        Err(e) => panic!("{e:#}"),
    };
    assert_eq!(identify["intents"], (1 << 0) | (1 << 1), "{identify}");
    host.stop().await;

    // A bot not approved for MESSAGE_CONTENT asks for it.
    fake.refuse_intents(1 << 15);
    let (events, _received) = tokio::sync::mpsc::channel(16);
    let settings = GatewaySettings {
        http: http_client("fake-token", &RestMode::Proxy(fake.base_url())),
        shards: Shards::Range {
            range: 0..1,
            total: 1,
        },
        message_cache: 10,
        recent: Default::default(),
        voice: None,
        interactions: Default::default(),
        intents: gateway::intents_for(["MESSAGE_CREATED", "MEMBER_LEFT"]),
    };
    let ended = tokio::time::timeout(
        Duration::from_secs(30),
        gateway::run(settings, events, std::future::pending()),
    )
    .await;
    match ended {
        Ok(Err(failure @ GatewayFailure::IntentsRefused { .. })) => {
            let text = failure.to_string();
            assert!(
                text.contains("4014")
                    && text.contains("GUILD_MEMBERS, MESSAGE_CONTENT")
                    && text.contains("Developer Portal"),
                "{text}"
            );
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
}
