//! Application commands against the fake Discord: RELOAD_COMMANDS registers what the loaded
//! plugins declare (globally, per guild, only the named ones); an interaction from the gateway
//! reaches only the plugin that declared its command, and that plugin's reply is the interaction
//! response — at once when it comes in time, else as the edit of the response the host deferred.
//!
//! Buttons, select menus, modals and autocomplete come back to the plugin that sent them (by
//! the `custom_id`'s prefix), and its answers become Discord's update, modal, choices or
//! message responses.
//!
//! The guests: `slash-command` (global: `/ping`, `/about` guild-only; answers at once),
//! `slow-command` (the guild's own: `/report`, answered 3 s later; it also subscribes to
//! INTERACTION_CREATED, which must not bring it `/ping`) and `poll` (global: `/poll` with an
//! autocompleting `topic`, buttons, a select menu and a modal).

mod common;
mod host_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use guildhost::discord::rest::{RestMode, SerenityDiscord, http_client};
use guildhost::discord::{Action, CommandScope, CommandSpec, Discord, Outcome, Registration};
use guildhost::dispatch::routes::EXECUTE_QUEUE;
use guildhost::protocol::{Message, Snowflake};
use guildhost::queue::JobState;
use guildhost_tests::fake_discord::fixtures::Click;
use guildhost_tests::fake_discord::{APPLICATION_ID, FakeDiscord, Recorded, fixtures};
use serde_json::{Value, json};

use host_support::Host;

/// The guild `slow-command` is scoped to.
const GUILD: u64 = 100_000_000_000_000_001;
const OTHER_GUILD: u64 = 100_000_000_000_000_009;
const MEMBER: u64 = 300_000_000_000_000_001;

async fn fake() -> FakeDiscord {
    match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("starting the fake Discord: {e:#}"),
    }
}

async fn host_on(fake: &FakeDiscord) -> Host {
    host_with(fake, &["slash-command", "slow-command"]).await
}

async fn host_with(fake: &FakeDiscord, guests: &[&str]) -> Host {
    let base = fake.base_url();
    let host = Host::start_with_guests_and(guests, move |config| {
        guildhost_tests::fake_discord::use_fake_discord(config, base)
    })
    .await;
    if let Err(e) = fake.wait_for_identify(Duration::from_secs(20)).await {
        panic!("{e:#}");
    }
    host
}

async fn request(fake: &FakeDiscord, what: &str, method: &str, path: &str) -> Recorded {
    let found = fake
        .wait_for(Duration::from_secs(20), what, |requests| {
            requests
                .iter()
                .find(|r| r.method == method && r.path == path)
                .cloned()
        })
        .await;
    match found {
        Ok(found) => found,
        Err(e) => panic!("{e:#}"),
    }
}

fn names(body: &Value) -> Vec<&str> {
    body.as_array()
        .map(|commands| commands.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default()
}

/// Runs RELOAD_COMMANDS for `guild` on the execution queue and returns the job's outcome.
async fn reload(host: &Host, guild: u64, data: Value) -> Value {
    let message = host_support::envelope("RELOAD_COMMANDS", &guild.to_string(), data);
    let id = host.send(EXECUTE_QUEUE, &message).await;
    let queue = host.queue(EXECUTE_QUEUE);
    common::eventually(20, "RELOAD_COMMANDS executed", || async {
        let state = queue.get_state(&id).await.ok()?;
        (state == JobState::Completed).then_some(())
    })
    .await;
    let job = queue.get_job(&id).await.ok().flatten();
    let returned = job.and_then(|j| j.return_value).unwrap_or_default();
    let value: Value = serde_json::from_str(&returned).unwrap_or(Value::Null);
    value["outcome"]["registered"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_commands_registers_what_plugins_declare_globally_per_guild_and_by_name() {
    let fake = fake().await;
    let host = host_on(&fake).await;
    let global_path = format!("/applications/{APPLICATION_ID}/commands");
    let guild_path = format!("/applications/{APPLICATION_ID}/guilds/{GUILD}/commands");

    // As the API sends it: on bot:config, executed as it is (no plugin handles it).
    let api = host_support::envelope(
        "RELOAD_COMMANDS",
        &GUILD.to_string(),
        json!({ "global": true }),
    );
    host.send("bot:config", &api).await;
    let global = request(&fake, "the global registration", "PUT", &global_path).await;
    // Global plugins' commands only; a guild plugin's never go global.
    assert_eq!(names(&global.body), ["ping", "about"], "{}", global.body);
    assert_eq!(global.body[0]["type"], 1);
    assert_eq!(global.body[0]["description"], "Are you there?");
    assert_eq!(
        global.body[0]["options"],
        json!([{ "name": "text", "type": 3, "description": "Something to say back", "required": false }])
    );
    assert!(global.body[0].get("contexts").is_none());
    // guild-only: usable in servers, not in DMs.
    assert_eq!(global.body[1]["contexts"], json!([0]));

    // Per guild: the global plugins' commands and the guild's own.
    let outcome = reload(&host, GUILD, json!({ "global": false })).await;
    assert_eq!(
        outcome,
        json!({ "scope": GUILD.to_string(), "commands": ["ping", "about", "report"] })
    );
    let in_guild = request(&fake, "the guild registration", "PUT", &guild_path).await;
    assert_eq!(names(&in_guild.body), ["ping", "about", "report"]);
    assert_eq!(in_guild.body[2]["options"][0]["type"], 6);
    let outcome = reload(&host, OTHER_GUILD, json!({ "global": false })).await;
    assert_eq!(outcome["commands"], json!(["ping", "about"]));

    // Only the named ones: each upserted with a POST, nothing replaced; unknown names reported.
    let puts_before = fake.requests_to("PUT", "/commands").len();
    let outcome = reload(
        &host,
        GUILD,
        json!({ "global": false, "commandNames": ["report", "nope"] }),
    )
    .await;
    assert_eq!(
        outcome,
        json!({ "scope": GUILD.to_string(), "commands": ["report"], "unknown": ["nope"] })
    );
    let posted = fake.requests_to("POST", &guild_path);
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0].body["name"], "report");
    assert_eq!(posted[0].body["options"][0]["name"], "member");
    assert_eq!(fake.requests_to("PUT", "/commands").len(), puts_before);
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interactions_reach_only_their_plugin_and_are_answered_in_time_or_deferred() {
    let fake = fake().await;
    let host = host_on(&fake).await;
    let ping_id = 1_400_000_000_000_000_001_u64;
    let report_id = 1_400_000_000_000_000_011_u64;
    let gone_id = 1_400_000_000_000_000_021_u64;

    // Answered in time: the plugin's reply is the response itself (type 4).
    let ping_sent = Instant::now();
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::interaction(
            ping_id,
            GUILD,
            MEMBER,
            "tok-ping",
            "ping",
            json!([{ "name": "text", "type": 3, "value": "hello" }]),
        ),
    );
    let ping_path = format!("/interactions/{ping_id}/tok-ping/callback");
    let answer = request(&fake, "the /ping response", "POST", &ping_path).await;
    assert_eq!(
        answer.body,
        json!({ "type": 4, "data": { "content": "pong: hello" } })
    );
    let took = answer.received_at.duration_since(ping_sent);
    assert!(
        took < Duration::from_millis(2500),
        "answered after {took:?}"
    );

    // A command nobody declares: answered for the member only, not left to fail.
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::interaction(gone_id, GUILD, MEMBER, "tok-gone", "gone", json!([])),
    );
    let gone_path = format!("/interactions/{gone_id}/tok-gone/callback");
    let gone = request(&fake, "the /gone response", "POST", &gone_path).await;
    assert_eq!(
        gone.body,
        json!({ "type": 4, "data": { "content": "/gone is not available right now.", "flags": 64 } })
    );

    // Answered after 3 s: deferred at 2.5 s (type 5), then the reply edits that response.
    let report_sent = Instant::now();
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::interaction(
            report_id,
            GUILD,
            MEMBER,
            "tok-report",
            "report",
            json!([{ "name": "member", "type": 6, "value": MEMBER.to_string() }]),
        ),
    );
    let edit_path = format!("/webhooks/{APPLICATION_ID}/tok-report/messages/@original");
    let edit = request(&fake, "the /report edit", "PATCH", &edit_path).await;
    assert_eq!(
        edit.body,
        json!({ "content": format!("/report filed about <@{MEMBER}>") })
    );
    let report_path = format!("/interactions/{report_id}/tok-report/callback");
    let deferrals = fake.requests_to("POST", &report_path);
    assert_eq!(deferrals.len(), 1, "{deferrals:?}");
    assert_eq!(deferrals[0].body, json!({ "type": 5 }));
    let deferred_after = deferrals[0].received_at.duration_since(report_sent);
    assert!(
        deferred_after >= Duration::from_millis(2400),
        "deferred after only {deferred_after:?}"
    );
    assert!(deferrals[0].received_at < edit.received_at);

    // More than 3 s after /ping: it was answered once and never deferred, and `slow-command`
    // (subscribed to INTERACTION_CREATED) never saw it.
    assert!(ping_sent.elapsed() > Duration::from_secs(3));
    assert_eq!(fake.requests_to("POST", &ping_path).len(), 1);
    assert!(fake.requests_to("PATCH", "/tok-ping/").is_empty());
    assert_eq!(fake.requests_to("POST", &gone_path).len(), 1);

    // The API hears of each interaction on discord:events.
    let events = host
        .expect_on("discord:events", "INTERACTION_CREATED", |e| {
            e["data"]["commandName"] == "report"
        })
        .await;
    assert_eq!(events["guildId"], GUILD.to_string());
    assert_eq!(events["userId"], MEMBER.to_string());
    assert_eq!(events["data"]["options"][0]["value"], MEMBER.to_string());
    assert_eq!(events["data"]["memberPermissions"], "2147483647");
    host.stop().await;
}

/// The one response to interaction `id` (with token `token`) the fake received.
async fn response(fake: &FakeDiscord, id: u64, token: &str) -> Value {
    let path = format!("/interactions/{id}/{token}/callback");
    request(fake, &format!("the response to {token}"), "POST", &path)
        .await
        .body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_modals_and_autocomplete_reach_the_plugin_that_sent_them() {
    let fake = fake().await;
    let host = host_with(&fake, &["poll", "slash-command"]).await;
    let id = |n: u64| 1_500_000_000_000_000_000_u64 + n * 10;
    let poll_message = 1_500_000_000_000_000_777_u64;

    // The command: a message with the poll's buttons and select menu.
    let topic = json!([{ "name": "topic", "type": 3, "value": "lunch" }]);
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::interaction(id(1), GUILD, MEMBER, "tok-poll", "poll", topic),
    );
    let started = response(&fake, id(1), "tok-poll").await;
    assert_eq!(started["type"], 4, "{started}");
    assert_eq!(started["data"]["content"], "Poll: lunch");
    assert_eq!(
        started["data"]["components"][0]["components"][0]["custom_id"],
        "poll:yes"
    );

    // Autocomplete: the choices for what is typed so far, as the first (and only) answer.
    let typing = json!([{ "name": "topic", "type": 3, "value": "la", "focused": true }]);
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::autocomplete(id(2), GUILD, MEMBER, "tok-typing", "poll", typing),
    );
    assert_eq!(
        response(&fake, id(2), "tok-typing").await,
        json!({ "type": 8, "data": { "choices": [{ "name": "launch", "value": "launch" }] } })
    );

    // A button: the plugin updates the message the button is on.
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::component_click(
            id(3),
            GUILD,
            MEMBER,
            "tok-yes",
            Click::button(poll_message, "poll:yes"),
        ),
    );
    let updated = response(&fake, id(3), "tok-yes").await;
    assert_eq!(updated["type"], 7, "{updated}");
    assert_eq!(
        updated["data"]["content"],
        format!("Poll: 1 vote, by <@{MEMBER}>")
    );
    assert_eq!(updated["data"]["components"], started["data"]["components"]);
    // Its second reply is a message of its own (a follow-up), not an edit of the update.
    let confirm_path = format!("/webhooks/{APPLICATION_ID}/tok-yes");
    let confirmed = request(&fake, "the vote's confirmation", "POST", &confirm_path).await;
    assert_eq!(
        confirmed.body,
        json!({ "content": "Vote counted", "flags": 64 })
    );
    assert!(fake.requests_to("PATCH", "/tok-yes/").is_empty());

    // A select menu: what was picked reaches the plugin; it answers the member only.
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::component_click(
            id(4),
            GUILD,
            MEMBER,
            "tok-pick",
            Click::select(poll_message, "poll:pick", &["tomorrow"]),
        ),
    );
    assert_eq!(
        response(&fake, id(4), "tok-pick").await,
        json!({ "type": 4, "data": { "content": "You picked tomorrow", "flags": 64 } })
    );

    // A button that opens a modal, and the modal's submission.
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::component_click(
            id(5),
            GUILD,
            MEMBER,
            "tok-why",
            Click::button(poll_message, "poll:why"),
        ),
    );
    let modal = response(&fake, id(5), "tok-why").await;
    assert_eq!(modal["type"], 9, "{modal}");
    assert_eq!(modal["data"]["custom_id"], "poll:reason-form");
    assert_eq!(modal["data"]["title"], "Why?");
    assert_eq!(
        modal["data"]["components"][0]["components"][0]["custom_id"],
        "poll:reason"
    );
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::modal_submit(
            id(6),
            GUILD,
            MEMBER,
            "tok-form",
            "poll:reason-form",
            &[("poll:reason", "we are hungry")],
        ),
    );
    assert_eq!(
        response(&fake, id(6), "tok-form").await,
        json!({ "type": 4, "data": { "content": "Thanks: we are hungry" } })
    );

    // A plugin cannot send a component under another plugin's name: the answer is refused
    // (counted against it), and the click is only acknowledged silently at 2.5 s (type 6).
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::component_click(
            id(7),
            GUILD,
            MEMBER,
            "tok-steal",
            Click::button(poll_message, "poll:steal"),
        ),
    );
    let series = "guildhost_plugin_outputs_refused_total{plugin=\"poll\",reason=\"custom_id\"}";
    host_support::metric_reaches(&host, series, 1.0).await;
    assert_eq!(
        response(&fake, id(7), "tok-steal").await,
        json!({ "type": 6 })
    );

    // A component no loaded plugin owns is left to the API: acknowledged silently, and the
    // API hears of the click on discord:events.
    fake.dispatch(
        "INTERACTION_CREATE",
        fixtures::component_click(
            id(8),
            GUILD,
            MEMBER,
            "tok-api",
            Click::button(poll_message, "dashboard:refresh"),
        ),
    );
    assert_eq!(
        response(&fake, id(8), "tok-api").await,
        json!({ "type": 6 })
    );
    let click = host
        .expect_on("discord:events", "INTERACTION_CREATED", |e| {
            e["data"]["customId"] == "dashboard:refresh"
        })
        .await;
    assert_eq!(click["data"]["kind"], "component");
    assert_eq!(click["data"]["componentType"], 2);
    assert_eq!(click["data"]["messageId"], poll_message.to_string());
    let submitted = host
        .expect_on("discord:events", "INTERACTION_CREATED", |e| {
            e["data"]["kind"] == "modalSubmit"
        })
        .await;
    assert_eq!(
        submitted["data"]["fields"],
        json!({ "poll:reason": "we are hungry" })
    );
    // Every interaction was answered exactly once.
    for (n, token) in [
        (1, "tok-poll"),
        (2, "tok-typing"),
        (3, "tok-yes"),
        (4, "tok-pick"),
        (5, "tok-why"),
        (6, "tok-form"),
        (7, "tok-steal"),
    ] {
        let path = format!("/interactions/{}/{token}/callback", id(n));
        assert_eq!(fake.requests_to("POST", &path).len(), 1, "{token}");
    }
    host.stop().await;
}

/// After a component was acknowledged silently (the plugin answered after 5 s), a message
/// answer follows up and an update edits the component's message; a modal can no longer open,
/// and its job fails into the dead letters saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_answers_to_a_component_follow_up_or_edit_and_a_late_modal_fails_with_the_reason() {
    let fake = fake().await;
    let host = host_with(&fake, &["poll"]).await;
    let id = |n: u64| 1_600_000_000_000_000_000_u64 + n * 10;
    let message = 1_600_000_000_000_000_777_u64;
    for (n, token, custom_id) in [
        (1, "tok-late-yes", "poll:late-yes"),
        (2, "tok-late-note", "poll:late-note"),
        (3, "tok-late-why", "poll:late-why"),
    ] {
        fake.dispatch(
            "INTERACTION_CREATE",
            fixtures::component_click(
                id(n),
                GUILD,
                MEMBER,
                token,
                Click::button(message, custom_id),
            ),
        );
    }
    let edit_path = format!("/webhooks/{APPLICATION_ID}/tok-late-yes/messages/@original");
    let edit = request(&fake, "the late update", "PATCH", &edit_path).await;
    assert_eq!(edit.body, json!({ "content": "Poll: 1 late vote" }));
    let follow_up_path = format!("/webhooks/{APPLICATION_ID}/tok-late-note");
    let follow_up = request(&fake, "the late note", "POST", &follow_up_path).await;
    assert_eq!(follow_up.body, json!({ "content": "Noted, late" }));
    for (n, token) in [
        (1, "tok-late-yes"),
        (2, "tok-late-note"),
        (3, "tok-late-why"),
    ] {
        assert_eq!(response(&fake, id(n), token).await, json!({ "type": 6 }));
    }
    let dead = common::eventually(20, "the late modal dead-lettered", || async {
        host.waiting("dead-letters").await.into_iter().find(|d| {
            d["error"]
                .as_str()
                .is_some_and(|e| e.contains("must be the interaction's first"))
        })
    })
    .await;
    assert!(
        dead["originalJob"].to_string().contains("poll:reason-form"),
        "{dead}"
    );
    // Nothing else was sent for them.
    assert!(fake.requests_to("PATCH", "/tok-late-note/").is_empty());
    assert!(fake.requests_to("POST", "/webhooks/").len() == 1);
    host.stop().await;
}

fn reply(interaction: u64, token: &str, content: &str) -> Message {
    let text = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": "INTERACTION_REPLY",
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "bot",
        "guildId": GUILD.to_string(),
        "data": { "interactionId": interaction.to_string(), "token": token, "content": content },
    })
    .to_string();
    match Message::decode(text.as_bytes()) {
        Ok(message) => message,
        Err(e) => panic!("test reply is invalid: {e}"),
    }
}

/// Without a gateway (another host received the interaction, or none said READY yet), the
/// boundary asks Discord for the application id and tells an acknowledged interaction by 40060.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_boundary_without_the_gateway_registers_and_answers_interactions_received_elsewhere() {
    let fake = fake().await;
    let http = Arc::new(http_client("fake-token", &RestMode::Proxy(fake.base_url())));
    let discord = SerenityDiscord::new(http, Arc::default());
    let commands = [CommandSpec {
        name: "ping".into(),
        description: "Are you there?".into(),
        options: json!([]),
        guild_only: false,
    }];
    for scope in [
        CommandScope::Global,
        CommandScope::Guild(Snowflake::new(GUILD)),
    ] {
        let registered = discord
            .register_commands(Registration {
                scope,
                commands: &commands,
                replace_all: true,
                unknown: &[],
            })
            .await;
        assert_eq!(
            registered,
            Ok(Outcome::Registered {
                scope: scope.label(),
                commands: vec!["ping".into()],
                unknown: Vec::new(),
            })
        );
    }
    let asked: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        asked,
        [
            "GET /oauth2/applications/@me".to_owned(),
            format!("PUT /applications/{APPLICATION_ID}/commands"),
            format!("PUT /applications/{APPLICATION_ID}/guilds/{GUILD}/commands"),
        ]
    );

    // The first answer is the response; the same answer again (a retried job, or a host that
    // deferred it) meets 40060 and edits the response instead of failing.
    let first = reply(1_500_000_000_000_000_001, "tok-x", "done");
    for _ in 0..2 {
        let outcome = discord
            .execute(Action {
                message: &first,
                nonce: "nonce-0123456789abcdef012",
            })
            .await;
        assert!(
            matches!(outcome, Ok(Outcome::Done | Outcome::Sent { .. })),
            "{outcome:?}"
        );
    }
    let callbacks = fake.requests_to("POST", "/interactions/1500000000000000001/tok-x/callback");
    assert_eq!(callbacks.len(), 2);
    assert_eq!(
        callbacks[0].body,
        json!({ "type": 4, "data": { "content": "done" } })
    );
    let edits = fake.requests_to(
        "PATCH",
        &format!("/webhooks/{APPLICATION_ID}/tok-x/messages/@original"),
    );
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].body, json!({ "content": "done" }));
}
