//! A fake Discord on 127.0.0.1 for serenity's real client: the REST endpoints the executor and the
//! gateway use, a recorder of every request, scripted failures, and a gateway websocket that
//! speaks HELLO → IDENTIFY → READY → dispatches and acknowledges heartbeats.
//!
//! Point serenity at it with `RestMode::Proxy(fake.base_url())` (REST goes to `/api/v10/…`);
//! the gateway URL it hands out is `ws://127.0.0.1:PORT/gw`. Every payload it sends is built by
//! [`fixtures`], whose shapes a test deserializes with serenity's model types.

pub mod fixtures;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::{Notify, broadcast};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path after `/api/v10`, e.g. `/guilds/1/bans/2`.
    pub path: String,
    /// The query string without serenity's leading `&`, e.g. `delete_message_seconds=86400`.
    pub query: String,
    /// The headers, names lower-case.
    pub headers: HashMap<String, String>,
    /// The body (JSON when it parses, else `Value::Null`; multipart stays in `raw_body`).
    pub body: Value,
    /// The body as sent.
    pub raw_body: Bytes,
    /// When the fake received it.
    pub received_at: std::time::Instant,
}

impl Recorded {
    /// `X-Audit-Log-Reason`, percent-decoded.
    pub fn audit_reason(&self) -> Option<String> {
        self.headers
            .get("x-audit-log-reason")
            .map(|v| percent_decode(v))
    }
}

/// A response the fake gives instead of its normal one.
#[derive(Debug, Clone)]
pub struct Scripted {
    method: Method,
    path_contains: String,
    status: StatusCode,
    body: Value,
    headers: Vec<(String, String)>,
    times: usize,
    after_applying: bool,
    stall: bool,
}

impl Scripted {
    /// For requests of `method` whose path contains `path_contains`: answer `status` with
    /// Discord's error body `{code, message}`, once.
    pub fn error(method: Method, path_contains: &str, status: u16, code: i64) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            method,
            path_contains: path_contains.to_owned(),
            status,
            body: json!({ "code": code, "message": format!("fake error {code}") }),
            headers: Vec::new(),
            times: 1,
            after_applying: false,
            stall: false,
        }
    }

    /// The same with a body that is not Discord's JSON (as a proxy's or Cloudflare's page is).
    pub fn bare(method: Method, path_contains: &str, status: u16) -> Self {
        Self {
            body: Value::Null,
            ..Self::error(method, path_contains, status, 0)
        }
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Applies `times` times instead of once (`usize::MAX`: until cleared).
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// Performs the request first and then answers with the error, as when Discord did the
    /// work but the answer was lost.
    pub fn after_applying(mut self) -> Self {
        self.after_applying = true;
        self
    }

    /// Never answers (after applying the request, with [`Scripted::after_applying`]): the
    /// caller is left waiting, as when a host is killed while Discord acts.
    pub fn stalling(mut self) -> Self {
        self.stall = true;
        self
    }
}

#[derive(Default)]
struct Inner {
    requests: Vec<Recorded>,
    script: Vec<Scripted>,
    /// Messages created, per (channel, nonce) when a nonce was enforced.
    by_nonce: HashMap<(String, String), Value>,
    posts: Vec<Value>,
    next_id: u64,
    identify: Vec<Value>,
    /// Interactions that have their response (a second one is refused with 40060).
    acknowledged: std::collections::HashSet<String>,
    audit_log: Vec<Value>,
    /// Channel → its guild, for `GET /channels/{id}` (each guild's `general`, `guild + 1`, and
    /// the channels a test adds).
    channels: HashMap<u64, u64>,
    /// (guild, user) of members, for `GET /guilds/{g}/members/{u}`.
    members: std::collections::HashSet<(u64, u64)>,
    /// Each guild's invites as (code, uses), for `GET /guilds/{g}/invites`.
    invites: HashMap<u64, Vec<(String, u64)>>,
    /// Privileged intents the bot is not approved for: an IDENTIFY asking for one is closed
    /// with 4014, as Discord does.
    unapproved_intents: u64,
}

struct Shared {
    inner: Mutex<Inner>,
    changed: Notify,
    dispatches: broadcast::Sender<(String, Value)>,
    addr: SocketAddr,
    guilds: Vec<u64>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running fake Discord; it stops when dropped.
pub struct FakeDiscord {
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The bot's user id in READY.
pub const BOT_USER_ID: u64 = 900_000_000_000_000_001;
/// The application id in READY.
pub const APPLICATION_ID: u64 = 900_000_000_000_000_002;

/// Dispatches a gateway client may fall behind by before it loses any (the end-to-end bench
/// sends tens of thousands at once).
const DISPATCH_BACKLOG: usize = 1 << 16;

/// Points `config` at the fake Discord at `base_url` (a token, REST through it, one shard), so
/// a host runs serenity's real client against it.
pub fn use_fake_discord(config: &mut guildhost::config::Config, base_url: String) {
    config.discord.token = Some("fake-token".into());
    config.discord.proxy = Some(base_url);
    config.discord.shards = Some(guildhost::config::ShardsConfig {
        first: 0,
        last: 0,
        total: 1,
    });
}

impl FakeDiscord {
    /// Starts a fake whose gateway reports `guilds` in READY (each also gets a GUILD_CREATE).
    pub async fn start(guilds: &[u64]) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // Room for a benchmark's burst: a lagging gateway client would lose dispatches.
        let (dispatches, _) = broadcast::channel(DISPATCH_BACKLOG);
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                next_id: 1_000_000_000_000_000_000,
                channels: guilds.iter().map(|&g| (g + 1, g)).collect(),
                ..Inner::default()
            }),
            changed: Notify::new(),
            dispatches,
            addr,
            guilds: guilds.to_vec(),
        });
        let app = Router::new()
            .route("/gw", get(gateway_socket))
            .fallback(rest)
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, server })
    }

    /// `http://127.0.0.1:PORT`, the base URL serenity's proxy mode takes.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// Adds a scripted response (checked in the order added).
    pub fn script(&self, scripted: Scripted) {
        self.shared.lock().script.push(scripted);
    }

    /// Never answers requests of `method` whose path contains `path_contains`.
    pub fn stall(&self, method: Method, path_contains: &str) {
        let mut scripted = Scripted::bare(method, path_contains, 504).times(usize::MAX);
        scripted.stall = true;
        self.script(scripted);
    }

    /// Adds an audit-log entry of `action_type` (20 kick, 22 ban) by a moderator on `target`,
    /// dated now, to what `GET /guilds/{g}/audit-logs` returns.
    pub fn add_audit_entry(&self, action_type: u8, target: u64) {
        let mut inner = self.shared.lock();
        let entry = fixtures::audit_entry(action_type, target, BOT_USER_ID + 7);
        inner.audit_log.insert(0, entry);
    }

    /// Adds an audit-log entry of `action_type` by `moderator` on `target`, dated now, with
    /// `options` (Discord's optional entry info, e.g. a message delete's `channel_id` and
    /// `count`).
    pub fn add_audit_entry_by(&self, action_type: u8, target: u64, moderator: u64, options: Value) {
        let mut entry = fixtures::audit_entry(action_type, target, moderator);
        if let Some(fields) = entry.as_object_mut() {
            fields.insert("options".to_owned(), options);
        }
        self.shared.lock().audit_log.insert(0, entry);
    }

    /// Refuses IDENTIFY with close code 4014 when it asks for any of `intents` (bits), as
    /// Discord does for privileged intents a bot is not approved for.
    pub fn refuse_intents(&self, intents: u64) {
        self.shared.lock().unapproved_intents = intents;
    }

    /// Sets `guild`'s invites (code, uses): what `GET /guilds/{g}/invites` answers from now on.
    pub fn set_invites(&self, guild: u64, invites: &[(&str, u64)]) {
        self.shared.lock().invites.insert(
            guild,
            invites
                .iter()
                .map(|(code, uses)| ((*code).to_owned(), *uses))
                .collect(),
        );
    }

    /// Makes `channel` a text channel of `guild` (what `GET /channels/{id}` answers).
    pub fn add_channel(&self, channel: u64, guild: u64) {
        self.shared.lock().channels.insert(channel, guild);
    }

    /// Makes `user` a member of `guild` (what `GET /guilds/{g}/members/{u}` answers).
    pub fn add_member(&self, guild: u64, user: u64) {
        self.shared.lock().members.insert((guild, user));
    }

    /// Removes every scripted response still pending.
    pub fn clear_script(&self) {
        self.shared.lock().script.clear();
    }

    /// Every REST request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The REST requests of `method` whose path contains `path_contains`.
    pub fn requests_to(&self, method: &str, path_contains: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == method && r.path.contains(path_contains))
            .collect()
    }

    /// Messages actually created (a repeated nonce creates none): each body as posted, with
    /// the `id` the message got.
    pub fn posts(&self) -> Vec<Value> {
        self.shared.lock().posts.clone()
    }

    /// IDENTIFY payloads received on the gateway.
    pub fn identifies(&self) -> Vec<Value> {
        self.shared.lock().identify.clone()
    }

    /// Waits until `check` holds over the requests received, or fails after `within`.
    pub async fn wait_for<T>(
        &self,
        within: Duration,
        what: &str,
        mut check: impl FnMut(&[Recorded]) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.changed.notified();
            if let Some(found) = check(&self.shared.lock().requests) {
                return Ok(found);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let seen: Vec<String> = self
                    .requests()
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                anyhow::bail!("fake Discord: no {what} within {within:?}; saw {seen:?}");
            }
        }
    }

    /// Waits until a client has identified on the gateway.
    pub async fn wait_for_identify(&self, within: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.shared.changed.notified();
            if let Some(identify) = self.shared.lock().identify.first().cloned() {
                return Ok(identify);
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                anyhow::bail!("fake Discord: no IDENTIFY on the gateway within {within:?}");
            }
        }
    }

    /// Sends a dispatch (`t` = `event`, `d` = `data`) to every connected gateway client.
    pub fn dispatch(&self, event: &str, data: Value) {
        let _ = self.shared.dispatches.send((event.to_owned(), data));
    }
}

async fn rest(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let raw_body = axum::body::to_bytes(body, 25 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts
        .uri
        .path()
        .strip_prefix("/api/v10")
        .unwrap_or(parts.uri.path())
        .to_owned();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts
            .uri
            .query()
            .unwrap_or("")
            .trim_start_matches('&')
            .to_owned(),
        headers: headers_of(&parts.headers),
        body: serde_json::from_slice(&raw_body).unwrap_or(Value::Null),
        raw_body,
        received_at: std::time::Instant::now(),
    };
    let (response, stall) = {
        let mut inner = shared.lock();
        inner.requests.push(recorded.clone());
        let scripted = inner
            .script
            .iter_mut()
            .find(|s| s.times > 0 && s.method == parts.method && path.contains(&s.path_contains))
            .map(|s| {
                s.times = s.times.saturating_sub(1);
                s.clone()
            });
        let stall = scripted.as_ref().is_some_and(|s| s.stall);
        let response = match scripted {
            Some(s) if !s.after_applying => scripted_response(&s),
            Some(s) => {
                let _ = answer(&mut inner, &shared, &recorded);
                scripted_response(&s)
            }
            None => answer(&mut inner, &shared, &recorded),
        };
        (response, stall)
    };
    shared.changed.notify_waiters();
    if stall {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    response
}

fn scripted_response(s: &Scripted) -> Response {
    let mut response = if s.body.is_null() {
        (s.status, "<html><body>upstream error</body></html>").into_response()
    } else {
        (s.status, axum::Json(s.body.clone())).into_response()
    };
    for (name, value) in &s.headers {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::try_from(name.as_str()),
            axum::http::HeaderValue::try_from(value.as_str()),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The fake's normal answer to a request.
fn answer(inner: &mut Inner, shared: &Shared, request: &Recorded) -> Response {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let ok = |value: Value| (StatusCode::OK, axum::Json(value)).into_response();
    let no_content = || StatusCode::NO_CONTENT.into_response();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["gateway"]) | ("GET", ["gateway", "bot"]) => ok(json!({
            "url": format!("ws://{}/gw", shared.addr),
            "shards": 1,
            "session_start_limit": {
                "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1
            }
        })),
        // Attachments named by URL in tests are served from here.
        ("GET", ["files", name]) => (StatusCode::OK, format!("fake file {name}")).into_response(),
        ("GET", ["users", "@me"]) => ok(fixtures::user(BOT_USER_ID, "guildhost", true)),
        ("POST", ["users", "@me", "channels"]) => {
            let recipient = request.body["recipient_id"]
                .as_str()
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(1);
            ok(fixtures::dm_channel(recipient + 1, recipient))
        }
        ("POST", ["channels", channel, "messages"]) => {
            let channel = channel.parse::<u64>().unwrap_or(1);
            let nonce = request.body["nonce"].as_str().map(str::to_owned);
            let enforced = request.body["enforce_nonce"].as_bool() == Some(true);
            if let Some(nonce) = nonce.as_ref().filter(|_| enforced)
                && let Some(existing) = inner.by_nonce.get(&(channel.to_string(), nonce.clone()))
            {
                return ok(existing.clone());
            }
            inner.next_id += 1;
            let content = request.body["content"].as_str().unwrap_or("");
            let message = fixtures::message(inner.next_id, channel, None, BOT_USER_ID, content);
            if let Some(nonce) = nonce.filter(|_| enforced) {
                inner
                    .by_nonce
                    .insert((channel.to_string(), nonce), message.clone());
            }
            // The body as posted, with the id the message got.
            let mut posted = request.body.clone();
            if let Some(fields) = posted.as_object_mut() {
                fields.insert("id".to_owned(), message["id"].clone());
            }
            inner.posts.push(posted);
            ok(message)
        }
        ("GET", ["channels", channel]) => {
            let id = channel.parse::<u64>().unwrap_or(0);
            match inner.channels.get(&id) {
                Some(&guild) => ok(fixtures::text_channel(id, guild, "channel")),
                None => (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({ "code": 10003, "message": "Unknown Channel" })),
                )
                    .into_response(),
            }
        }
        ("GET", ["guilds", guild, "members", user]) => {
            let guild = guild.parse::<u64>().unwrap_or(0);
            let user = user.parse::<u64>().unwrap_or(0);
            if inner.members.contains(&(guild, user)) {
                ok(fixtures::member(guild, user, "member"))
            } else {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(json!({ "code": 10007, "message": "Unknown Member" })),
                )
                    .into_response()
            }
        }
        ("DELETE", ["channels", _, "messages", _]) => no_content(),
        ("PUT", ["guilds", _, "bans", _]) => no_content(),
        ("DELETE", ["guilds", _, "bans", _]) => no_content(),
        ("DELETE", ["guilds", _, "members", _]) => no_content(),
        ("PATCH", ["guilds", guild, "members", user]) => {
            let guild = guild.parse::<u64>().unwrap_or(1);
            let user = user.parse::<u64>().unwrap_or(1);
            let mut member = fixtures::member(guild, user, "member");
            if let Some(until) = request.body.get("communication_disabled_until") {
                member["communication_disabled_until"] = until.clone();
            }
            ok(member)
        }
        ("GET", ["guilds", guild, "invites"]) => {
            let guild = guild.parse::<u64>().unwrap_or(0);
            let invites = inner.invites.get(&guild).cloned().unwrap_or_default();
            ok(Value::Array(
                invites
                    .iter()
                    .map(|(code, uses)| fixtures::invite(code, guild + 1, *uses))
                    .collect(),
            ))
        }
        ("GET", ["guilds", _, "audit-logs"]) => ok(json!({
            "audit_log_entries": inner.audit_log.clone(), "users": [], "integrations": [], "webhooks": [],
            "guild_scheduled_events": [], "threads": [], "application_commands": [],
            "auto_moderation_rules": []
        })),
        ("PUT", ["applications", _, "commands"]) | ("PUT", ["applications", _, "guilds", _, "commands"]) => {
            let guild = match segments.as_slice() {
                [_, _, "guilds", guild, _] => guild.parse::<u64>().ok(),
                _ => None,
            };
            let commands: Vec<Value> = request
                .body
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .enumerate()
                .map(|(i, c)| fixtures::command(APPLICATION_ID, guild, 1_100 + i as u64, &c))
                .collect();
            ok(Value::Array(commands))
        }
        ("POST", ["interactions", interaction, _, "callback"]) => {
            if inner.acknowledged.insert((*interaction).to_owned()) {
                no_content()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    axum::Json(json!({ "code": 40060, "message": "Interaction has already been acknowledged." })),
                )
                    .into_response()
            }
        }
        ("GET", ["oauth2", "applications", "@me"]) => {
            ok(fixtures::application(APPLICATION_ID, BOT_USER_ID + 7))
        }
        ("POST", ["applications", _, "commands"])
        | ("POST", ["applications", _, "guilds", _, "commands"]) => {
            let guild = match segments.as_slice() {
                [_, _, "guilds", guild, _] => guild.parse::<u64>().ok(),
                _ => None,
            };
            inner.next_id += 1;
            ok(fixtures::command(APPLICATION_ID, guild, inner.next_id, &request.body))
        }
        ("POST", ["webhooks", _, _]) => {
            inner.next_id += 1;
            let content = request.body["content"].as_str().unwrap_or("");
            ok(fixtures::message(inner.next_id, 1, None, BOT_USER_ID, content))
        }
        ("PATCH", ["webhooks", _, _, "messages", _]) => {
            inner.next_id += 1;
            let content = request.body["content"].as_str().unwrap_or("");
            ok(fixtures::message(inner.next_id, 1, None, BOT_USER_ID, content))
        }
        _ => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "code": 0, "message": format!("fake Discord: no route {} {}", request.method, request.path) })),
        )
            .into_response(),
    }
}

fn headers_of(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len() + 1
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn gateway_socket(
    State(shared): State<Arc<Shared>>,
    upgrade: WebSocketUpgrade,
) -> impl IntoResponse {
    upgrade.on_upgrade(move |socket| run_gateway(shared, socket))
}

/// One gateway session: HELLO, IDENTIFY, READY and a GUILD_CREATE per guild, then the test's
/// dispatches, acknowledging heartbeats throughout.
async fn run_gateway(shared: Arc<Shared>, mut socket: WebSocket) {
    let mut dispatches = shared.dispatches.subscribe();
    let send = |value: Value| WsMessage::Text(value.to_string().into());
    if socket
        .send(send(
            json!({ "op": 10, "d": { "heartbeat_interval": 41_250 } }),
        ))
        .await
        .is_err()
    {
        return;
    }
    let mut seq = 0u64;
    loop {
        tokio::select! {
            frame = socket.recv() => {
                let Some(Ok(frame)) = frame else { return };
                let WsMessage::Text(text) = frame else { continue };
                let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
                match payload["op"].as_u64() {
                    Some(1) if socket.send(send(json!({ "op": 11 }))).await.is_err() => return,
                    Some(1) => {}
                    Some(2) => {
                        let unapproved = {
                            let mut inner = shared.lock();
                            inner.identify.push(payload["d"].clone());
                            payload["d"]["intents"].as_u64().unwrap_or(0) & inner.unapproved_intents
                        };
                        shared.changed.notify_waiters();
                        if unapproved != 0 {
                            let close = axum::extract::ws::CloseFrame {
                                code: 4014,
                                reason: "Disallowed intent(s).".into(),
                            };
                            let _ = socket.send(WsMessage::Close(Some(close))).await;
                            return;
                        }
                        seq += 1;
                        let ready = fixtures::ready(BOT_USER_ID, APPLICATION_ID, &shared.guilds, &format!("ws://{}/gw", shared.addr));
                        if socket.send(send(json!({ "op": 0, "s": seq, "t": "READY", "d": ready }))).await.is_err() {
                            return;
                        }
                        for guild in &shared.guilds {
                            seq += 1;
                            let create = fixtures::guild(*guild, BOT_USER_ID);
                            if socket.send(send(json!({ "op": 0, "s": seq, "t": "GUILD_CREATE", "d": create }))).await.is_err() {
                                return;
                            }
                        }
                    }
                    _ => {}
                }
            }
            dispatch = dispatches.recv() => {
                let Ok((event, data)) = dispatch else { continue };
                seq += 1;
                if socket.send(send(json!({ "op": 0, "s": seq, "t": event, "d": data }))).await.is_err() {
                    return;
                }
            }
        }
    }
}
