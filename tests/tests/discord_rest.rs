//! The serenity executor against the fake Discord: the exact request of every action, each
//! error class, the nonce that keeps a retried send from posting twice, and the 401 stop; and
//! the fetch policy on a message's files (loopback servers refused unless allowed, redirects
//! checked, size and time capped).

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use guildhost::discord::fetch::FetchPolicy;
use guildhost::discord::recent::RecentActions;
use guildhost::discord::rest::{RestMode, SerenityDiscord, http_client};
use guildhost::discord::{Action, Discord, DiscordError, Outcome};
use guildhost::protocol::{LeaveReason, Message, TypePolicy};
use guildhost_tests::fake_discord::{FakeDiscord, Recorded, Scripted, fixtures};
use guildhost_tests::file_server::allowing;
use guildhost_tests::file_server::{FileServer, SECRET};
use serde_json::{Value, json};

const GUILD: u64 = 1_187_459_221_346_115_625;
const USER: u64 = 829_410_203_982_675_998;
const CHANNEL: u64 = 1_187_459_222_185_005_126;
const MODERATOR: &str = "302050872383242240";

fn command(kind: &str, data: Value) -> Message {
    let text = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-11-30T12:00:00.000Z",
        "source": "api",
        "guildId": GUILD.to_string(),
        "data": data,
    })
    .to_string();
    match Message::decode_with(text.as_bytes(), TypePolicy::Strict) {
        Ok(message) => message,
        Err(e) => panic!("test command {kind} is invalid: {e}"),
    }
}

struct Setup {
    fake: FakeDiscord,
    discord: SerenityDiscord,
    recent: Arc<RecentActions>,
}

async fn setup() -> Setup {
    setup_with(FetchPolicy::default()).await
}

/// The executor downloading files under `fetch`.
async fn setup_with(fetch: FetchPolicy) -> Setup {
    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("starting the fake Discord: {e:#}"),
    };
    let http = Arc::new(http_client("fake-token", &RestMode::Proxy(fake.base_url())));
    let recent = Arc::new(RecentActions::default());
    let discord = SerenityDiscord::new(http, recent.clone())
        .with_request_timeout(Duration::from_secs(5))
        .with_fetch_policy(fetch);
    Setup {
        fake,
        discord,
        recent,
    }
}

async fn run(discord: &SerenityDiscord, message: &Message) -> Result<Outcome, DiscordError> {
    discord
        .execute(Action {
            message,
            nonce: "nonce-0123456789abcdef012",
        })
        .await
}

async fn file_server(ip: [u8; 4]) -> FileServer {
    match FileServer::start(ip).await {
        Ok(server) => server,
        Err(e) => panic!("starting a file server on {ip:?}: {e:#}"),
    }
}

/// A SEND_MESSAGE with one file, `notes.txt`, downloaded from `url`.
fn send_file(url: &str) -> Message {
    command(
        "SEND_MESSAGE",
        json!({
            "channelId": CHANNEL.to_string(),
            "content": "the file",
            "files": [{ "filename": "notes.txt", "url": url, "description": "some notes" }],
        }),
    )
}

/// The refusal's message, failing the test on any other outcome.
fn refused(outcome: Result<Outcome, DiscordError>) -> String {
    match outcome {
        Err(DiscordError::Permanent { code: 0, message }) => message,
        other => panic!("expected a permanent refusal, got {other:?}"),
    }
}

/// The body of the one message upload, which must carry `notes.txt`.
fn uploaded(fake: &FakeDiscord) -> String {
    let post = only(fake.requests_to("POST", "/messages"));
    let raw = String::from_utf8_lossy(&post.raw_body).into_owned();
    assert!(raw.contains("filename=\"notes.txt\""), "{raw}");
    raw
}

fn only(requests: Vec<Recorded>) -> Recorded {
    assert_eq!(
        requests.len(),
        1,
        "expected exactly one request: {requests:?}"
    );
    requests
        .into_iter()
        .next()
        .unwrap_or_else(|| unreachable!())
}

fn moderation(extra: Value) -> Value {
    let mut data = json!({
        "userId": USER.to_string(),
        "reason": "spam & raid – ünïcode",
        "moderatorId": MODERATOR,
        "notifyUser": false,
        "createCase": false,
    });
    if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
        data.extend(extra.clone());
    }
    data
}

#[tokio::test]
async fn send_message_posts_content_embeds_components_reply_and_nonce() {
    let s = setup().await;
    let message = command(
        "SEND_MESSAGE",
        json!({
            "channelId": CHANNEL.to_string(),
            "content": "hello",
            "embeds": [{ "title": "T", "description": "D", "color": 5793266 }],
            "components": [{ "type": 1, "components": [
                { "type": 2, "style": 1, "label": "OK", "custom_id": "ok" }
            ]}],
            "reply": { "messageId": "1312456789012345678", "failIfNotExists": false },
        }),
    );
    let outcome = run(&s.discord, &message).await;
    assert!(matches!(outcome, Ok(Outcome::Sent { .. })), "{outcome:?}");
    let request = only(s.fake.requests());
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/channels/{CHANNEL}/messages"));
    assert_eq!(
        request.headers.get("authorization").map(String::as_str),
        Some("Bot fake-token")
    );
    assert_eq!(
        request.body,
        json!({
            "content": "hello",
            "embeds": [{ "title": "T", "description": "D", "color": 5793266 }],
            "nonce": "nonce-0123456789abcdef012",
            "enforce_nonce": true,
            "components": [{ "type": 1, "components": [
                { "type": 2, "style": 1, "label": "OK", "custom_id": "ok" }
            ]}],
            "message_reference": { "message_id": "1312456789012345678", "fail_if_not_exists": false },
        })
    );
}

#[tokio::test]
async fn send_message_uploads_files_named_by_url() {
    // The fake serves the file on 127.0.0.1, which the operator allows here.
    let s = setup_with(allowing(&["127.0.0.1"])).await;
    let message = command(
        "SEND_MESSAGE",
        json!({
            "channelId": CHANNEL.to_string(),
            "content": "the rules",
            "files": [{ "filename": "rules.txt", "url": format!("{}/files/rules.txt", s.fake.base_url()) }],
        }),
    );
    let outcome = run(&s.discord, &message).await;
    assert!(matches!(outcome, Ok(Outcome::Sent { .. })), "{outcome:?}");
    let post = only(s.fake.requests_to("POST", "/messages"));
    let content_type = post
        .headers
        .get("content-type")
        .cloned()
        .unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/form-data"),
        "{content_type}"
    );
    let raw = String::from_utf8_lossy(&post.raw_body);
    assert!(raw.contains("filename=\"rules.txt\""), "{raw}");
    assert!(
        raw.contains("fake file rules.txt"),
        "the file's bytes are uploaded: {raw}"
    );
}

#[tokio::test]
async fn send_dm_opens_the_channel_then_posts() {
    let s = setup().await;
    let message = command(
        "SEND_DM",
        json!({ "userId": USER.to_string(), "content": "You were warned." }),
    );
    let outcome = run(&s.discord, &message).await;
    assert!(matches!(outcome, Ok(Outcome::Sent { .. })), "{outcome:?}");
    let requests = s.fake.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("POST", "/users/@me/channels")
    );
    assert_eq!(
        requests[0].body,
        json!({ "recipient_id": USER.to_string() })
    );
    assert_eq!(requests[1].path, format!("/channels/{}/messages", USER + 1));
    assert_eq!(requests[1].body["content"], "You were warned.");
}

#[tokio::test]
async fn ban_sends_delete_seconds_and_the_audit_reason() {
    let s = setup().await;
    let message = command("BAN_USER", moderation(json!({ "deleteMessageDays": 2 })));
    assert_eq!(run(&s.discord, &message).await, Ok(Outcome::Done));
    let request = only(s.fake.requests());
    assert_eq!(request.method, "PUT");
    assert_eq!(request.path, format!("/guilds/{GUILD}/bans/{USER}"));
    assert_eq!(request.query, "delete_message_seconds=172800");
    assert_eq!(
        request.audit_reason().as_deref(),
        Some("spam & raid – ünïcode")
    );
    assert_eq!(s.recent.take(GUILD, USER), Some(LeaveReason::Banned));
}

#[tokio::test]
async fn kick_unban_delete_and_timeout_send_their_requests() {
    let s = setup().await;
    let kick = command("KICK_USER", moderation(json!({})));
    assert_eq!(run(&s.discord, &kick).await, Ok(Outcome::Done));
    let unban = command("UNBAN_USER", moderation(json!({})));
    assert_eq!(run(&s.discord, &unban).await, Ok(Outcome::Done));
    let delete = command(
        "DELETE_MESSAGE",
        json!({ "channelId": CHANNEL.to_string(), "messageId": "1312456789012345678", "reason": "automod: link" }),
    );
    assert_eq!(run(&s.discord, &delete).await, Ok(Outcome::Done));
    let timeout = command("TIMEOUT_USER", moderation(json!({ "duration": 600 })));
    let before = chrono::Utc::now();
    assert_eq!(run(&s.discord, &timeout).await, Ok(Outcome::Done));

    let requests = s.fake.requests();
    let summary: Vec<(String, String, Option<String>)> = requests
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.audit_reason()))
        .collect();
    let reason = Some("spam & raid – ünïcode".to_owned());
    assert_eq!(
        summary,
        vec![
            (
                "DELETE".into(),
                format!("/guilds/{GUILD}/members/{USER}"),
                reason.clone()
            ),
            (
                "DELETE".into(),
                format!("/guilds/{GUILD}/bans/{USER}"),
                reason.clone()
            ),
            (
                "DELETE".into(),
                format!("/channels/{CHANNEL}/messages/1312456789012345678"),
                Some("automod: link".into())
            ),
            (
                "PATCH".into(),
                format!("/guilds/{GUILD}/members/{USER}"),
                reason
            ),
        ]
    );
    assert_eq!(s.recent.take(GUILD, USER), Some(LeaveReason::Kicked));
    let until = requests[3].body["communication_disabled_until"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    let Some(until) = until else {
        panic!("timeout body: {}", requests[3].body)
    };
    let offset = (until - before).num_seconds();
    assert!(
        (599..=605).contains(&offset),
        "timeout ends {offset} s from now"
    );
}

#[tokio::test]
async fn already_done_answers_count_as_success() {
    let s = setup().await;
    s.fake
        .script(Scripted::error(Method::DELETE, "/bans/", 404, 10026));
    s.fake
        .script(Scripted::error(Method::DELETE, "/members/", 404, 10007));
    s.fake
        .script(Scripted::error(Method::DELETE, "/messages/", 404, 10008));
    let unban = command("UNBAN_USER", moderation(json!({})));
    assert_eq!(run(&s.discord, &unban).await, Ok(Outcome::AlreadyDone));
    let kick = command("KICK_USER", moderation(json!({})));
    assert_eq!(run(&s.discord, &kick).await, Ok(Outcome::AlreadyDone));
    let delete = command(
        "DELETE_MESSAGE",
        json!({ "channelId": CHANNEL.to_string(), "messageId": "1312456789012345678" }),
    );
    assert_eq!(run(&s.discord, &delete).await, Ok(Outcome::AlreadyDone));
}

#[tokio::test]
async fn error_classes_follow_discords_codes() {
    let s = setup().await;
    let ban = command("BAN_USER", moderation(json!({ "deleteMessageDays": 0 })));
    let cases: Vec<(Scripted, &str)> = vec![
        (
            Scripted::error(Method::PUT, "/bans/", 403, 50013),
            "permanent 50013",
        ),
        (
            Scripted::error(Method::PUT, "/bans/", 403, 50001),
            "permanent 50001",
        ),
        (
            Scripted::error(Method::PUT, "/bans/", 400, 50035),
            "permanent 50035",
        ),
        (Scripted::bare(Method::PUT, "/bans/", 429), "retriable"),
        (
            Scripted::bare(Method::PUT, "/bans/", 429).header("retry-after", "1"),
            "retriable",
        ),
        (Scripted::bare(Method::PUT, "/bans/", 502), "retriable"),
        (Scripted::error(Method::PUT, "/bans/", 500, 0), "retriable"),
        (
            Scripted::error(Method::PUT, "/bans/", 401, 0),
            "unauthorized",
        ),
    ];
    for (scripted, expected) in cases {
        s.fake.script(scripted);
        let got = match run(&s.discord, &ban).await {
            Err(DiscordError::Permanent { code, .. }) => format!("permanent {code}"),
            Err(DiscordError::Retriable(_)) => "retriable".to_owned(),
            Err(DiscordError::Unauthorized) => "unauthorized".to_owned(),
            other => format!("{other:?}"),
        };
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn a_closed_dm_is_reported_not_failed() {
    let s = setup().await;
    s.fake
        .script(Scripted::error(Method::POST, "/messages", 403, 50007));
    let message = command(
        "SEND_DM",
        json!({ "userId": USER.to_string(), "content": "hi" }),
    );
    let outcome = run(&s.discord, &message).await;
    assert!(
        matches!(outcome, Ok(Outcome::Undeliverable { code: 50007, .. })),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_silent_discord_is_a_retriable_timeout() {
    let fake = match FakeDiscord::start(&[GUILD]).await {
        Ok(fake) => fake,
        Err(e) => panic!("{e:#}"),
    };
    fake.stall(Method::PUT, "/bans/");
    let http = Arc::new(http_client("fake-token", &RestMode::Proxy(fake.base_url())));
    let discord =
        SerenityDiscord::new(http, Arc::default()).with_request_timeout(Duration::from_millis(300));
    let ban = command("BAN_USER", moderation(json!({ "deleteMessageDays": 0 })));
    let outcome = run(&discord, &ban).await;
    assert!(
        matches!(outcome, Err(DiscordError::Retriable(ref why)) if why.contains("no answer")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_repeated_nonce_posts_once() {
    let s = setup().await;
    // Discord created the message but the answer was lost: the retry carries the same nonce.
    s.fake
        .script(Scripted::bare(Method::POST, "/messages", 502).after_applying());
    let message = command(
        "SEND_MESSAGE",
        json!({ "channelId": CHANNEL.to_string(), "content": "once" }),
    );
    let first = run(&s.discord, &message).await;
    assert!(
        matches!(first, Err(DiscordError::Retriable(_))),
        "{first:?}"
    );
    let second = run(&s.discord, &message).await;
    assert!(matches!(second, Ok(Outcome::Sent { .. })), "{second:?}");
    assert_eq!(s.fake.requests_to("POST", "/messages").len(), 2);
    assert_eq!(s.fake.posts().len(), 1, "one message exists");
}

#[test]
fn fixtures_match_serenitys_models() {
    use serenity::model::prelude::*;
    fn parses<T: serde::de::DeserializeOwned>(what: &str, value: Value) {
        if let Err(e) = serde_json::from_value::<T>(value.clone()) {
            panic!("{what} does not deserialize: {e}\n{value:#}");
        }
    }
    parses::<User>("user", fixtures::user(1, "a", false));
    parses::<Member>(
        "member",
        fixtures::member_event(GUILD, USER, "m", &[5], Some("nick")),
    );
    parses::<Message>(
        "message",
        fixtures::message(2, CHANNEL, Some(GUILD), USER, "hi"),
    );
    parses::<Message>(
        "DM message",
        fixtures::message(2, CHANNEL, None, USER, "hi"),
    );
    parses::<PrivateChannel>("DM channel", fixtures::dm_channel(3, USER));
    parses::<GuildChannel>("text channel", fixtures::text_channel(4, GUILD, "general"));
    let mut role = fixtures::role(5, GUILD, "mods");
    role["guild_id"] = json!(GUILD.to_string());
    parses::<Role>("role", role);
    parses::<Guild>("guild", fixtures::guild(GUILD, 9));
    parses::<Ready>(
        "ready",
        fixtures::ready(9, 10, &[GUILD], "ws://127.0.0.1:1/gw"),
    );
    parses::<serenity::model::guild::audit_log::AuditLogEntry>(
        "audit-log entry",
        fixtures::audit_entry(22, USER, 9),
    );
    parses::<CurrentApplicationInfo>("application", fixtures::application(10, 9));
    let interaction = fixtures::interaction(
        12,
        GUILD,
        USER,
        "token",
        "ping",
        json!([{ "name": "text", "type": 3, "value": "hi" }]),
    );
    parses::<Interaction>("interaction", interaction.clone());
    let parsed = serde_json::from_value::<Interaction>(interaction);
    let Ok(Interaction::Command(command)) = parsed else {
        panic!("INTERACTION_CREATE type 2 is not a command interaction: {parsed:?}");
    };
    assert_eq!(command.data.name, "ping");
    assert!(command.member.is_some_and(|m| m.permissions.is_some()));
    parses::<Command>(
        "command",
        fixtures::command(
            10,
            Some(GUILD),
            11,
            &json!({ "name": "ping", "description": "Ping" }),
        ),
    );
}

#[tokio::test]
async fn a_file_on_a_loopback_address_is_refused_before_anything_is_fetched_or_posted() {
    let secret = file_server([127, 0, 0, 1]).await;
    let s = setup().await;
    let url = secret.url("/latest/meta-data/secret");
    assert_eq!(
        refused(run(&s.discord, &send_file(&url)).await),
        format!(
            "files: {url} resolves to 127.0.0.1, a loopback address; only public addresses are \
             fetched (allow it with [discord.fetch] allow)"
        )
    );
    // The same server named other ways: by name, IPv4-mapped, as one number, with credentials.
    let port = secret.addr().port();
    for other in [
        format!("http://localhost:{port}/latest/meta-data/secret"),
        format!("http://[::ffff:127.0.0.1]:{port}/latest/meta-data/secret"),
        format!("http://2130706433:{port}/latest/meta-data/secret"),
        format!("http://admin:hunter2@127.0.0.1:{port}/latest/meta-data/secret"),
    ] {
        let message = refused(run(&s.discord, &send_file(&other)).await);
        assert!(
            message.contains("a loopback address; only public addresses are fetched"),
            "{other}: {message}"
        );
        assert!(!message.contains("hunter2"), "no credentials: {message}");
    }
    for (other, rule) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "a link-local address",
        ),
        (
            "http://[fd00:ec2::254]/latest/meta-data/",
            "a unique-local address",
        ),
        ("http://10.0.0.1/internal", "a private address"),
        ("file:///etc/passwd", "the scheme `file` is not fetched"),
        (
            "gopher://127.0.0.1:70/_stats",
            "the scheme `gopher` is not fetched",
        ),
    ] {
        let message = refused(run(&s.discord, &send_file(other)).await);
        assert!(message.contains(rule), "{other}: {message}");
    }
    assert_eq!(secret.hits(), Vec::<String>::new(), "nothing was fetched");
    assert!(s.fake.requests().is_empty(), "nothing was posted");
}

#[tokio::test]
async fn an_operator_allowed_address_is_uploaded_with_its_bytes() {
    let secret = file_server([127, 0, 0, 1]).await;
    let port = secret.addr().port();
    let cases = [
        (
            "allow = [\"127.0.0.1\"]",
            allowing(&["127.0.0.1"]),
            secret.url("/latest/meta-data/secret"),
        ),
        (
            "allow = [\"127.0.0.0/8\"]",
            allowing(&["127.0.0.0/8"]),
            secret.url("/latest/meta-data/secret"),
        ),
        (
            "allow = [\"localhost\"]",
            allowing(&["localhost"]),
            format!("http://LocalHost:{port}/latest/meta-data/secret"),
        ),
        (
            "allow_private_networks",
            FetchPolicy {
                allow_private_networks: true,
                ..FetchPolicy::default()
            },
            secret.url("/latest/meta-data/secret"),
        ),
    ];
    for (what, policy, url) in cases {
        let s = setup_with(policy).await;
        let outcome = run(&s.discord, &send_file(&url)).await;
        assert!(
            matches!(outcome, Ok(Outcome::Sent { .. })),
            "{what}: {outcome:?}"
        );
        let raw = uploaded(&s.fake);
        assert!(
            raw.contains(SECRET),
            "{what}: the file's bytes are uploaded: {raw}"
        );
    }
    assert_eq!(secret.hits().len(), 4);
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_places_and_at_most_three_times() {
    // The operator allows 127.0.0.2 only; `localhost` and 127.0.0.1 stay refused.
    let allowed = file_server([127, 0, 0, 2]).await;
    let other = file_server([127, 0, 0, 1]).await;
    let s = setup_with(allowing(&["127.0.0.2"])).await;

    // Within the allowed host: followed.
    allowed.redirect("/moved", &allowed.url("/files/moved.txt"));
    allowed.redirect("/again", &allowed.url("/moved"));
    let outcome = run(&s.discord, &send_file(&allowed.url("/again"))).await;
    assert!(matches!(outcome, Ok(Outcome::Sent { .. })), "{outcome:?}");
    assert!(uploaded(&s.fake).contains("file moved.txt"));
    assert_eq!(allowed.hits(), ["/again", "/moved", "/files/moved.txt"]);

    // To a loopback address the operator did not allow: refused before it is requested.
    let target = other.url("/latest/meta-data/secret");
    allowed.redirect("/hop", &target);
    let message = refused(run(&s.discord, &send_file(&allowed.url("/hop"))).await);
    assert_eq!(
        message,
        format!(
            "files: {target} (redirected from {}) resolves to 127.0.0.1, a loopback address; \
             only public addresses are fetched (allow it with [discord.fetch] allow)",
            allowed.url("/hop")
        )
    );
    // By name, to a scheme never fetched, and in a loop.
    allowed.redirect(
        "/named",
        &format!(
            "http://localhost:{}/latest/meta-data/secret",
            other.addr().port()
        ),
    );
    let message = refused(run(&s.discord, &send_file(&allowed.url("/named"))).await);
    assert!(
        message.contains("(redirected from ")
            && message.contains("resolves to 127.0.0.1, a loopback address"),
        "{message}"
    );
    allowed.redirect("/file", "file:///etc/passwd");
    let message = refused(run(&s.discord, &send_file(&allowed.url("/file"))).await);
    assert!(
        message.contains("the scheme `file` is not fetched"),
        "{message}"
    );
    allowed.redirect("/loop", &allowed.url("/loop"));
    let message = refused(run(&s.discord, &send_file(&allowed.url("/loop"))).await);
    assert!(
        message.ends_with(": redirects more than 3 times"),
        "{message}"
    );
    assert_eq!(
        allowed.hits().iter().filter(|p| *p == "/loop").count(),
        4,
        "the first request and three redirects"
    );

    assert_eq!(
        other.hits(),
        Vec::<String>::new(),
        "the unallowed server was never asked"
    );
    assert_eq!(
        s.fake.requests_to("POST", "/messages").len(),
        1,
        "only the allowed upload"
    );
}

#[tokio::test]
async fn a_file_larger_than_max_bytes_is_refused_declared_or_streamed() {
    let server = file_server([127, 0, 0, 1]).await;
    let s = setup_with(FetchPolicy {
        max_bytes: 4096,
        ..allowing(&["127.0.0.1"])
    })
    .await;
    let declared = refused(run(&s.discord, &send_file(&server.url("/sized/4097"))).await);
    assert!(
        declared.ends_with(
            "/sized/4097: declares 4097 bytes, more than the 4096 fetched at most \
             ([discord.fetch] max_bytes)"
        ),
        "{declared}"
    );
    let streamed = refused(run(&s.discord, &send_file(&server.url("/streamed/100000"))).await);
    assert!(
        streamed.ends_with(
            "/streamed/100000: larger than the 4096 bytes fetched at most ([discord.fetch] max_bytes)"
        ),
        "{streamed}"
    );
    assert!(s.fake.requests().is_empty(), "nothing was posted");

    // Exactly the cap, streamed: uploaded whole.
    let outcome = run(&s.discord, &send_file(&server.url("/streamed/4096"))).await;
    assert!(matches!(outcome, Ok(Outcome::Sent { .. })), "{outcome:?}");
    assert!(uploaded(&s.fake).contains(&"x".repeat(4096)));
}

#[tokio::test]
async fn a_stalled_download_times_out_retriably_and_a_404_is_refused() {
    let server = file_server([127, 0, 0, 1]).await;
    let s = setup_with(FetchPolicy {
        timeout: Duration::from_millis(300),
        ..allowing(&["127.0.0.1"])
    })
    .await;
    let url = server.url("/stall");
    let outcome = run(&s.discord, &send_file(&url)).await;
    assert_eq!(
        outcome,
        Err(DiscordError::Retriable(format!(
            "files: {url}: not fetched within 300ms ([discord.fetch] timeout_ms)"
        )))
    );
    let message = refused(run(&s.discord, &send_file(&server.url("/missing/file"))).await);
    assert!(message.ends_with("/missing/file: HTTP 404"), "{message}");
    assert!(s.fake.requests().is_empty(), "nothing was posted");
}
