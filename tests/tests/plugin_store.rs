//! The plugin store through the front door: `guildhost run` processes on one Redis, guild
//! admins' plugins installed with the Node example (`examples/node-api/plugins.js`, the real npm
//! `bull`) or by `PLUGIN_*` jobs as the API adds them, and what each host serves read from its
//! `/metrics` (`guildhost_plugin_serving`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use guildhost::queue::{JobOptions, Queue, RedisConn};
use guildhost_tests::{KillOnDrop, cleanup, connect, eventually, redis_url, unique_prefix};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[path = "runtime_support/mod.rs"]
mod runtime_support;

const GUILD: &str = "100000000000000001";
const OTHER_GUILD: &str = "100000000000000002";
const CHANNEL: &str = "200000000000000001";

/// A manifest for the echo guest as a guild admin would write it: it claims global scope and a
/// wall time over the policy's, which the store overrides.
fn manifest(version: &str, prefix: &str) -> String {
    format!(
        "name = \"greeter\"\nversion = \"{version}\"\nsubscribes = [\"MESSAGE_CREATED\"]\n\
         emits = [\"SEND_MESSAGE\"]\nscope = \"global\"\n[limits]\nwall-time-ms = 5000\n\
         [config]\nprefix = \"{prefix}\"\n"
    )
}

fn wasm(guest: &str) -> Vec<u8> {
    std::fs::read(runtime_support::wasm(guest)).expect("the test guest is built")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A free port on 127.0.0.1 for a host's endpoints.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

struct Host {
    process: KillOnDrop,
    port: u16,
}

impl Host {
    /// Stops the host as an operator does (SIGTERM): jobs in flight finish or go back.
    fn stop(mut self) {
        let pid = i32::try_from(self.process.id()).expect("a pid");
        // SAFETY: signalling a child this test started and has not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let _ = self.process.0.wait();
    }
}

/// The hosts' shared settings; each host gets its own endpoints port.
struct Setup {
    prefix: String,
    dir: PathBuf,
    extra: String,
}

impl Setup {
    fn new(tag: &str, extra: &str) -> Self {
        let prefix = unique_prefix(tag);
        let dir = std::env::temp_dir().join(format!("{prefix}-hosts"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self {
            prefix,
            dir,
            extra: extra.to_owned(),
        }
    }

    fn start(&self) -> Host {
        let port = free_port();
        let config = self.dir.join(format!("host-{port}.toml"));
        std::fs::write(
            &config,
            format!(
                "[redis]\nurl = \"{}\"\nprefix = \"{}\"\n[plugins]\ndir = \"{}\"\nfirst_party = false\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\n\
                 [queues.defaults]\nconcurrency = 4\nlock_duration_ms = 2000\nstalled_interval_ms = 1000\n{}",
                redis_url(),
                self.prefix,
                self.dir.join("plugins").display(),
                self.extra,
            ),
        )
        .expect("write the config");
        let process = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_host_process"))
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the host process starts"),
        );
        Host { process, port }
    }
}

async fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
        .await
        .ok()?;
    let status = response.status().as_u16();
    Some((status, response.text().await.ok()?))
}

async fn ready(host: &Host) {
    eventually(Duration::from_secs(60), "the host is ready", || async {
        (get(host.port, "/readyz").await?.0 == 200).then_some(())
    })
    .await;
}

/// The version of `plugin` the host serves from the store, read from its metrics.
async fn serving(host: &Host, plugin: &str) -> Option<String> {
    let (_, text) = get(host.port, "/metrics").await?;
    let needle = format!("plugin=\"{plugin}\"");
    text.lines()
        .filter(|line| line.starts_with("guildhost_plugin_serving{") && line.contains(&needle))
        .find_map(|line| {
            let version = line.split("version=\"").nth(1)?;
            Some(version.split('"').next()?.to_owned())
        })
}

/// Waits until every host serves `version` of `plugin` (`None`: serves none); returns how long.
async fn wait_serving(hosts: &[&Host], plugin: &str, version: Option<&str>) -> Duration {
    let started = Instant::now();
    for host in hosts {
        eventually(
            Duration::from_secs(20),
            &format!("{plugin} at {version:?} on port {}", host.port),
            || async { (serving(host, plugin).await.as_deref() == version).then_some(()) },
        )
        .await;
    }
    started.elapsed()
}

/// Runs `node examples/node-api/plugins.js install …` with the suite's `bull`.
async fn install_with_node(prefix: &str, guild: &str, wasm: &[u8], manifest: &str) -> Value {
    guildhost_tests::require_node_modules().expect("npm ci in tests/node");
    let dir = std::env::temp_dir().join(format!("{prefix}-upload-{}", sha256(manifest.as_bytes())));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (wasm_path, manifest_path) = (dir.join("plugin.wasm"), dir.join("plugin.toml"));
    std::fs::write(&wasm_path, wasm).expect("write the component");
    std::fs::write(&manifest_path, manifest).expect("write the manifest");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/node-api/plugins.js");
    let output = tokio::process::Command::new("node")
        .arg(example)
        .arg("install")
        .arg(&wasm_path)
        .arg(&manifest_path)
        .env(
            "NODE_PATH",
            guildhost_tests::node_dir().join("node_modules"),
        )
        .env("REDIS_URL", redis_url())
        .env("BULL_PREFIX", prefix)
        .env("GUILD_ID", guild)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the Node example answers within a minute")
        .expect("node runs (Node.js 20+)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the example printed no JSON: {stdout} {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Posts a component to the Node example's upload route (`node plugins.js serve 0`); returns the
/// HTTP status and the JSON it answered.
async fn install_through_route(
    prefix: &str,
    guild: &str,
    wasm: &[u8],
    manifest: &str,
) -> (u16, Value) {
    use tokio::io::AsyncBufReadExt as _;
    guildhost_tests::require_node_modules().expect("npm ci in tests/node");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/node-api/plugins.js");
    let mut server = tokio::process::Command::new("node")
        .arg(example)
        .arg("serve")
        .arg("0")
        .env(
            "NODE_PATH",
            guildhost_tests::node_dir().join("node_modules"),
        )
        .env("REDIS_URL", redis_url())
        .env("BULL_PREFIX", prefix)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (Node.js 20+)");
    let stdout = server.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the route listens within 30 s")
        .expect("its output")
        .expect("a line naming its address");
    // `POST http://127.0.0.1:<port>/guilds/<guildId>/plugins`
    let base = line
        .split_whitespace()
        .nth(1)
        .and_then(|url| url.split("/guilds").next())
        .expect("the address")
        .to_owned();
    let response = reqwest::Client::new()
        .post(format!("{base}/guilds/{guild}/plugins"))
        .header("x-plugin-manifest", base64_encode(manifest.as_bytes()))
        .body(wasm.to_vec())
        .send()
        .await
        .expect("the route answers");
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.expect("JSON");
    (status, body)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Adds a `PLUGIN_*` command as the API would and returns the job's id.
async fn command(
    conn: &RedisConn,
    prefix: &str,
    guild: Option<&str>,
    kind: &str,
    data: Value,
) -> String {
    let mut envelope = json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "timestamp": "2026-12-07T12:00:00.000Z",
        "source": "api",
        "data": data,
    });
    if let Some(guild) = guild {
        envelope["guildId"] = json!(guild);
    }
    let options = JobOptions {
        attempts: Some(3),
        ..JobOptions::default()
    };
    Queue::new(conn.clone(), prefix, "bot:config")
        .add(kind, &envelope.to_string(), options)
        .await
        .expect("add the command")
}

/// The event the command job `id` ended in, from `plugins:events`.
async fn event_of(conn: &RedisConn, prefix: &str, job: &str) -> Value {
    let events = Queue::new(conn.clone(), prefix, "plugins:events");
    let derived = guildhost::dispatch::outputs::derived_id("bot:config", job, 0);
    eventually(Duration::from_secs(30), "the command's event", || async {
        let mut c = conn.clone();
        let waiting: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{prefix}:plugins:events:wait"))
            .arg(0)
            .arg(-1)
            .query_async(&mut c)
            .await
            .ok()?;
        for id in waiting {
            let Some(job) = events.get_job(&id).await.ok()? else {
                continue;
            };
            let event: Value = serde_json::from_str(&job.data).ok()?;
            if event["id"] == derived {
                return Some(event);
            }
        }
        None
    })
    .await
}

/// Adds a `PLUGIN_*` command for `guild` and waits for the event it ends in.
async fn carried_out(
    conn: &RedisConn,
    prefix: &str,
    guild: &str,
    kind: &str,
    data: Value,
) -> Value {
    let job = command(conn, prefix, Some(guild), kind, data).await;
    event_of(conn, prefix, &job).await
}

/// Waits until `queues` have nothing waiting or active, then asserts none failed.
async fn drained(conn: &RedisConn, prefix: &str, queues: &[&str]) {
    for name in queues {
        let queue = Queue::new(conn.clone(), prefix, name);
        eventually(
            Duration::from_secs(60),
            &format!("{name} drained"),
            || async {
                let counts = queue.job_counts().await.ok()?;
                (counts.waiting + counts.active + counts.delayed == 0).then_some(())
            },
        )
        .await;
    }
    guildhost_tests::assert_queues_drained(conn, prefix, queues).await;
}

/// Waits until every message of the installing guild sent so far has its reply; returns the mark.
async fn answered_through(conn: &RedisConn, prefix: &str, traffic: &Traffic) -> u64 {
    let mark = traffic.mark();
    let first = traffic.first_served.load(Ordering::SeqCst);
    eventually(
        Duration::from_secs(30),
        "every message so far answered",
        || async {
            let replies = replies(conn, prefix).await;
            (first..mark)
                .filter(|id| id % 2 == 0)
                .all(|id| replies.contains_key(&id))
                .then_some(mark)
        },
    )
    .await
}

async fn upload(conn: &RedisConn, prefix: &str, bytes: &[u8]) -> String {
    let sha = sha256(bytes);
    let mut c = conn.clone();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}:guildhost:store:blob:{sha}"))
        .arg(bytes)
        .arg("EX")
        .arg(3600)
        .arg("NX")
        .query_async(&mut c)
        .await
        .expect("upload");
    sha
}

fn message_created(id: u64, guild: &str) -> String {
    let channel = if guild == GUILD {
        CHANNEL
    } else {
        "200000000000000002"
    };
    guildhost_tests::messages::message_created(id, guild, channel).to_string()
}

/// The replies the hosts executed (dry run), by the message they answer: `m-<id>` → contents.
async fn replies(conn: &RedisConn, prefix: &str) -> BTreeMap<u64, Vec<String>> {
    let mut c = conn.clone();
    let records: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("{prefix}:guildhost:dry-run"))
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .expect("LRANGE");
    let mut replies: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for record in records {
        let record: Value = serde_json::from_str(&record).expect("a dry-run record");
        let content = record["data"]["content"].as_str().unwrap_or_default();
        if let Some((_, id)) = content.rsplit_once("m-")
            && let Ok(id) = id.parse()
        {
            replies.entry(id).or_default().push(content.to_owned());
        }
    }
    replies
}

/// A steady stream of MESSAGE_CREATED for two guilds while the plugin changes underneath.
struct Traffic {
    next: Arc<AtomicU64>,
    /// The first message a version is known to serve (set once the first install serves).
    first_served: AtomicU64,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Traffic {
    fn start(conn: &RedisConn, prefix: &str) -> Self {
        let next = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let gateway = Queue::new(conn.clone(), prefix, "guildhost:gateway");
        let (counter, stopped) = (next.clone(), stop.clone());
        let task = tokio::spawn(async move {
            while !stopped.load(Ordering::Relaxed) {
                let id = counter.fetch_add(1, Ordering::SeqCst);
                // Even ids are the installing guild's, odd ids another guild's.
                let guild = if id % 2 == 0 { GUILD } else { OTHER_GUILD };
                gateway
                    .add(
                        "MESSAGE_CREATED",
                        &message_created(id, guild),
                        JobOptions::default(),
                    )
                    .await
                    .expect("add a message");
                // 20 messages a second per guild: within a guild plugin's output budget.
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        });
        Self {
            next,
            first_served: AtomicU64::new(0),
            stop,
            task,
        }
    }

    /// The id the next message will have: every message from here on comes after this point.
    fn mark(&self) -> u64 {
        self.next.load(Ordering::SeqCst)
    }

    async fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the traffic task");
        self.next.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_installed_from_node_serves_on_every_host_through_upgrade_rollback_and_uninstall()
{
    let conn = connect().await;
    let setup = Setup::new("store", "");
    let (first, second) = (setup.start(), setup.start());
    ready(&first).await;
    ready(&second).await;
    let hosts = [&first, &second];
    let served = format!("greeter@{GUILD}");
    let traffic = Traffic::start(&conn, &setup.prefix);

    // Install from the Node example: the component's hash names it, the job ends in the event.
    let v1 = install_with_node(
        &setup.prefix,
        GUILD,
        &wasm("echo"),
        &manifest("1.0.0", "v1: "),
    )
    .await;
    assert_eq!(v1["ok"], true, "{v1}");
    assert_eq!(v1["type"], "PLUGIN_INSTALLED", "{v1}");
    assert_eq!(v1["data"]["version"], "1.0.0");
    let notices = v1["data"]["notices"].to_string();
    assert!(
        notices.contains("served in guild"),
        "the scope override is told: {notices}"
    );
    assert!(
        notices.contains("wall-time"),
        "the lowered limit is told: {notices}"
    );
    let took = wait_serving(&hosts, &served, Some("1.0.0")).await;
    eprintln!("v1 serving on both hosts {took:?} after the install completed");
    let v1_from = traffic.mark();
    traffic.first_served.store(v1_from, Ordering::SeqCst);

    // A host started after the install serves the plugin from its first message.
    let late = setup.start();
    ready(&late).await;
    assert_eq!(serving(&late, &served).await.as_deref(), Some("1.0.0"));
    late.stop();

    // Each change comes once every message before it has been answered, so the version that
    // answers each message is known.
    let v1_until = answered_through(&conn, &setup.prefix, &traffic).await;
    let v2 = install_with_node(
        &setup.prefix,
        GUILD,
        &wasm("echo-v2"),
        &manifest("2.0.0", "v2: "),
    )
    .await;
    assert_eq!(v2["data"]["previousVersion"], "1.0.0", "{v2}");
    wait_serving(&hosts, &served, Some("2.0.0")).await;
    let v2_from = traffic.mark();

    let v2_until = answered_through(&conn, &setup.prefix, &traffic).await;
    let rolled = carried_out(
        &conn,
        &setup.prefix,
        GUILD,
        "PLUGIN_ROLLBACK",
        json!({ "name": "greeter" }),
    )
    .await;
    assert_eq!(rolled["type"], "PLUGIN_ROLLED_BACK", "{rolled}");
    assert_eq!(
        (&rolled["data"]["version"], &rolled["data"]["from"]),
        (&json!("1.0.0"), &json!("2.0.0"))
    );
    wait_serving(&hosts, &served, Some("1.0.0")).await;
    let back_from = traffic.mark();

    let back_until = answered_through(&conn, &setup.prefix, &traffic).await;
    let event = carried_out(
        &conn,
        &setup.prefix,
        GUILD,
        "PLUGIN_UNINSTALL",
        json!({ "name": "greeter" }),
    )
    .await;
    assert_eq!(event["type"], "PLUGIN_UNINSTALLED");
    wait_serving(&hosts, &served, None).await;
    let gone_from = traffic.mark();
    // Let some messages pass with nothing installed.
    eventually(
        Duration::from_secs(20),
        "traffic after the uninstall",
        || async { (traffic.mark() > gone_from + 40).then_some(()) },
    )
    .await;
    let sent = traffic.stop().await;

    // Every message is handled (none failed, none left), each reply exactly once.
    drained(
        &conn,
        &setup.prefix,
        &["guildhost:gateway", "guildhost:execute"],
    )
    .await;
    let replies = replies(&conn, &setup.prefix).await;
    let twice: Vec<_> = replies.iter().filter(|(_, r)| r.len() > 1).collect();
    assert!(twice.is_empty(), "replied twice: {twice:?}");
    for id in 0..sent {
        let answer = replies.get(&id).map(|r| r[0].clone());
        let version = |prefix: &str| Some(format!("{prefix}m-{id}"));
        if id % 2 == 1 || id >= gone_from {
            assert_eq!(
                answer, None,
                "message {id} (another guild's, or after the uninstall)"
            );
        } else if (v1_from..v1_until).contains(&id) || (back_from..back_until).contains(&id) {
            assert_eq!(answer, version("v1: "), "message {id}");
        } else if (v2_from..v2_until).contains(&id) {
            assert_eq!(answer, version("v2: "), "message {id}");
        } else if (v1_from..back_until).contains(&id) {
            // During a swap: the old version or the new one, but never lost.
            assert!(
                answer == version("v1: ") || answer == version("v2: "),
                "message {id}: {answer:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&setup.dir);
    let _ = cleanup(&conn, &setup.prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_names_its_field_and_changes_nothing() {
    let conn = connect().await;
    let setup = Setup::new(
        "store-reject",
        "[plugins.guild_policy]\nmax_plugins = 1\nmax_component_bytes = 4194304\n",
    );
    let host = setup.start();
    ready(&host).await;
    let prefix = setup.prefix.as_str();
    let echo = upload(&conn, prefix, &wasm("echo")).await;
    let good = manifest("1.0.0", "v1: ");
    // One plugin installed fills the guild's quota.
    let event = carried_out(
        &conn,
        prefix,
        GUILD,
        "PLUGIN_INSTALL",
        json!({ "sha256": echo, "manifest": good }),
    )
    .await;
    assert_eq!(event["type"], "PLUGIN_INSTALLED");

    let mismatched = sha256(b"something else");
    {
        let mut c = conn.clone();
        let _: () = redis::cmd("SET")
            .arg(format!("{prefix}:guildhost:store:blob:{mismatched}"))
            .arg(wasm("echo"))
            .query_async(&mut c)
            .await
            .expect("upload under a wrong name");
    }
    let oversized = upload(&conn, prefix, &vec![0u8; 5 << 20]).await;
    let not_a_component = upload(&conn, prefix, b"\0asm not really").await;
    let net = upload(&conn, prefix, &wasm("net-access")).await;
    let killed = upload(&conn, prefix, &wasm("noop")).await;
    guildhost::store::PluginStore::new(conn.clone(), prefix)
        .set_killed(&killed, Some("test"))
        .await
        .expect("kill");
    let named = |name: &str| manifest("1.0.0", "x").replace("\"greeter\"", &format!("{name:?}"));
    let cases: Vec<(Option<&str>, &str, Value, &str, &str)> = vec![
        (
            None,
            "PLUGIN_INSTALL",
            json!({ "sha256": echo, "manifest": good }),
            "guildId",
            "is required",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": "abc", "manifest": good }),
            "data.sha256",
            "64 lowercase hex",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": sha256(b"never uploaded"), "manifest": good }),
            "data.sha256",
            "was uploaded",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": mismatched, "manifest": good }),
            "data.sha256",
            "does not hash",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": oversized, "manifest": good }),
            "data.sha256",
            "over this bot's limit",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": not_a_component, "manifest": good }),
            "data.sha256",
            "not a valid WebAssembly component",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": net, "manifest": named("net") }),
            "data.sha256",
            "import",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": killed, "manifest": good }),
            "data.sha256",
            "stopped by the bot's operator",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": echo, "manifest": "name = " }),
            "data.manifest",
            "",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": echo, "manifest": good.replace("[\"SEND_MESSAGE\"]", "[\"BAN_USER\"]") }),
            "data.manifest",
            "may emit only",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": echo, "manifest": named("automod") }),
            "data.name",
            "bot's own plugins",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": echo, "manifest": good, "name": "Bad Name" }),
            "data.name",
            "[a-z0-9_-]",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "sha256": echo, "manifest": named("second") }),
            "data.name",
            "most this bot allows",
        ),
        (
            Some(GUILD),
            "PLUGIN_INSTALL",
            json!({ "manifest": good }),
            "data.sha256",
            "is required",
        ),
        (
            Some(GUILD),
            "PLUGIN_UNINSTALL",
            json!({ "name": "missing" }),
            "data.name",
            "no plugin",
        ),
        (
            Some(GUILD),
            "PLUGIN_ROLLBACK",
            json!({ "name": "greeter" }),
            "data.name",
            "no earlier version",
        ),
        (
            Some(GUILD),
            "PLUGIN_CONFIGURE",
            json!({ "name": "greeter", "config": 3 }),
            "data.config",
            "object",
        ),
    ];
    let store = guildhost::store::PluginStore::new(conn.clone(), prefix);
    let before = (
        store.revision().await.expect("revision"),
        store.guild(GUILD).await.expect("guild"),
    );
    for (guild, kind, data, field, reason) in cases {
        let job = command(&conn, prefix, guild, kind, data.clone()).await;
        let event = event_of(&conn, prefix, &job).await;
        let case = format!("{kind} {data}: {event}");
        assert_eq!(event["type"], "PLUGIN_REJECTED", "{case}");
        assert_eq!(event["data"]["field"], field, "{case}");
        assert!(
            event["data"]["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(reason),
            "{case}"
        );
        let failed = Queue::new(conn.clone(), prefix, "bot:config")
            .get_job(&job)
            .await
            .expect("read the job")
            .expect("the job is kept");
        assert_eq!(
            failed.attempts_made, 1,
            "a rejection is final at once: {case}"
        );
        assert!(
            failed.failed_reason.unwrap_or_default().starts_with(field),
            "{case}"
        );
    }
    let after = (
        store.revision().await.expect("revision"),
        store.guild(GUILD).await.expect("guild"),
    );
    assert_eq!(before, after, "no rejection changed the store");
    let _ = std::fs::remove_dir_all(&setup.dir);
    let _ = cleanup(&conn, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guild_plugin_stays_in_its_guild_and_the_kill_switch_stops_it_everywhere() {
    let conn = connect().await;
    let setup = Setup::new("store-contain", "");
    let (first, second) = (setup.start(), setup.start());
    ready(&first).await;
    ready(&second).await;
    let prefix = setup.prefix.as_str();
    // A plugin that answers every message with a send to another guild, claiming global scope.
    let hostile = upload(&conn, prefix, &wasm("other-guild")).await;
    let claim = "name = \"reach\"\nversion = \"1.0.0\"\nsubscribes = [\"MESSAGE_CREATED\"]\n\
                 emits = [\"SEND_MESSAGE\"]\nscope = \"global\"\n[config]\ntarget_guild = \"100000000000000002\"\n";
    for guild in [GUILD, "100000000000000003"] {
        let event = carried_out(
            &conn,
            prefix,
            guild,
            "PLUGIN_INSTALL",
            json!({ "sha256": hostile, "manifest": claim }),
        )
        .await;
        assert_eq!(event["type"], "PLUGIN_INSTALLED");
    }
    let hosts = [&first, &second];
    for guild in [GUILD, "100000000000000003"] {
        wait_serving(&hosts, &format!("reach@{guild}"), Some("1.0.0")).await;
    }
    let gateway = Queue::new(conn.clone(), prefix, "guildhost:gateway");
    for id in 0..20 {
        let guild = if id % 2 == 0 { GUILD } else { OTHER_GUILD };
        gateway
            .add(
                "MESSAGE_CREATED",
                &message_created(id, guild),
                JobOptions::default(),
            )
            .await
            .expect("add");
    }
    drained(&conn, prefix, &["guildhost:gateway", "guildhost:execute"]).await;
    let mut c = conn.clone();
    let executed: i64 = redis::cmd("LLEN")
        .arg(format!("{prefix}:guildhost:dry-run"))
        .query_async(&mut c)
        .await
        .expect("LLEN");
    assert_eq!(executed, 0, "nothing reached another guild");
    // The sends were dropped with the reason, in the job's result (the last ten are kept).
    let completed: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}:guildhost:gateway:completed"))
        .arg(0)
        .arg(-1)
        .query_async(&mut c)
        .await
        .expect("ZRANGE");
    let mut dropped = 0;
    for id in completed {
        let job = gateway.get_job(&id).await.expect("read").expect("kept");
        let result: Value =
            serde_json::from_str(job.return_value.as_deref().unwrap_or("null")).expect("JSON");
        let guild = serde_json::from_str::<Value>(&job.data).expect("JSON")["guildId"].clone();
        for call in result["plugins"].as_array().into_iter().flatten() {
            assert_eq!(call["plugin"], format!("reach@{GUILD}"), "{result}");
            assert_eq!(
                guild, GUILD,
                "only the installing guild's messages reach it: {result}"
            );
            dropped += call["dropped"].as_array().map_or(0, Vec::len);
        }
    }
    assert!(
        dropped >= 1,
        "the sends to another guild were dropped with the reason"
    );

    // The kill switch: one component, every guild, every host.
    let started = Instant::now();
    guildhost::store::PluginStore::new(conn.clone(), prefix)
        .set_killed(&hostile, Some("abuse"))
        .await
        .expect("kill");
    for guild in [GUILD, "100000000000000003"] {
        wait_serving(&hosts, &format!("reach@{guild}"), None).await;
    }
    eprintln!(
        "the kill stopped both guilds' copies on both hosts in {:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&setup.dir);
    let _ = cleanup(&conn, prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_lives_as_long_as_a_kept_version_names_it() {
    use guildhost::store::{Change, PluginStore, Record, Version};
    let conn = connect().await;
    let prefix = unique_prefix("store-blobs");
    let store = PluginStore::new(conn.clone(), &prefix);
    let version = |n: u8, sha: &str| Version {
        version: format!("{n}.0.0"),
        sha256: sha.to_owned(),
        size: 1,
        manifest: String::new(),
        installed_by: None,
        installed_at: "2026-12-07T12:00:00.000Z".to_owned(),
    };
    let exists = |sha: String| {
        let (conn, key) = (conn.clone(), store.blob_key(&sha));
        async move {
            let mut c = conn;
            let ttl: i64 = redis::cmd("TTL")
                .arg(key)
                .query_async(&mut c)
                .await
                .expect("TTL");
            ttl
        }
    };
    let (a, b, c) = (
        upload(&conn, &prefix, b"a").await,
        upload(&conn, &prefix, b"b").await,
        upload(&conn, &prefix, b"c").await,
    );
    // Installing makes the upload permanent (TTL -1); an upload nobody installs keeps expiring.
    let put = |record: Record| move |_: Option<&Record>| Ok::<_, ()>(Change::Put(record.clone()));
    let first = Record {
        enabled: true,
        operator_hold: false,
        current: version(1, &a),
        previous: vec![],
    };
    store
        .update(GUILD, "p", "install", put(first))
        .await
        .expect("install");
    assert_eq!(exists(a.clone()).await, -1);
    assert!(exists(b.clone()).await > 0);
    let second = Record {
        enabled: true,
        operator_hold: false,
        current: version(2, &b),
        previous: vec![version(1, &a)],
    };
    store
        .update(GUILD, "p", "install", put(second))
        .await
        .expect("upgrade");
    // A version no longer kept frees its blob.
    let third = Record {
        enabled: true,
        operator_hold: false,
        current: version(3, &c),
        previous: vec![version(2, &b)],
    };
    store
        .update(GUILD, "p", "install", put(third))
        .await
        .expect("upgrade");
    assert_eq!(
        exists(a.clone()).await,
        -2,
        "the blob of a version no longer kept is deleted"
    );
    // One blob shared by two guilds stays while either names it.
    let other = Record {
        enabled: true,
        operator_hold: false,
        current: version(1, &c),
        previous: vec![],
    };
    store
        .update(OTHER_GUILD, "q", "install", put(other))
        .await
        .expect("install");
    store
        .update(GUILD, "p", "uninstall", |_| Ok::<_, ()>(Change::Delete))
        .await
        .expect("uninstall");
    assert_eq!(exists(b.clone()).await, -2);
    assert_eq!(
        exists(c.clone()).await,
        -1,
        "still named by the other guild"
    );
    assert_eq!(
        store.guilds().await.expect("guilds"),
        vec![OTHER_GUILD.to_owned()]
    );
    store
        .update(OTHER_GUILD, "q", "uninstall", |_| {
            Ok::<_, ()>(Change::Delete)
        })
        .await
        .expect("uninstall");
    assert_eq!(exists(c).await, -2);
    assert!(store.guilds().await.expect("guilds").is_empty());
    // An install naming a blob that expired changes nothing.
    let missing = sha256(b"expired");
    let refused = store
        .update(
            GUILD,
            "p",
            "install",
            put(Record {
                enabled: true,
                operator_hold: false,
                current: version(1, &missing),
                previous: vec![],
            }),
        )
        .await;
    assert!(
        matches!(refused, Err(guildhost::store::UpdateError::MissingBlob(_))),
        "{refused:?}"
    );
    assert!(store.guild(GUILD).await.expect("guild").is_empty());
    let _ = cleanup(&conn, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_enable_and_configure_take_effect_on_the_host() {
    let conn = connect().await;
    let setup = Setup::new("store-toggle", "");
    let host = setup.start();
    ready(&host).await;
    let prefix = setup.prefix.as_str();
    let served = format!("greeter@{GUILD}");
    let run = async |kind: &str, data: Value| carried_out(&conn, prefix, GUILD, kind, data).await;
    // Installed through the example's upload route, as a dashboard would.
    let (status, installed) =
        install_through_route(prefix, GUILD, &wasm("echo"), &manifest("1.0.0", "v1: ")).await;
    assert_eq!(
        (status, &installed["type"]),
        (201, &json!("PLUGIN_INSTALLED")),
        "{installed}"
    );
    let (status, refused) =
        install_through_route(prefix, GUILD, b"not wasm", &manifest("1.0.0", "v1: ")).await;
    assert_eq!(
        (status, &refused["type"]),
        (422, &json!("PLUGIN_REJECTED")),
        "{refused}"
    );
    assert_eq!(refused["data"]["field"], "data.sha256", "{refused}");
    wait_serving(&[&host], &served, Some("1.0.0")).await;
    assert_eq!(
        run("PLUGIN_DISABLE", json!({ "name": "greeter" })).await["type"],
        "PLUGIN_DISABLED"
    );
    wait_serving(&[&host], &served, None).await;
    assert_eq!(
        run("PLUGIN_ENABLE", json!({ "name": "greeter" })).await["type"],
        "PLUGIN_ENABLED"
    );
    wait_serving(&[&host], &served, Some("1.0.0")).await;
    // The operator's disable holds against the guild's admin until the operator releases it.
    let mut operator = guildhost::config::Config::default();
    operator.redis.url = redis_url();
    operator.redis.prefix = prefix.to_owned();
    use guildhost::ops::{StoreAction, store_change};
    store_change(&operator, GUILD, "greeter", StoreAction::Disable)
        .await
        .expect("the operator disables it");
    wait_serving(&[&host], &served, None).await;
    let refused = run("PLUGIN_ENABLE", json!({ "name": "greeter" })).await;
    assert_eq!(refused["type"], "PLUGIN_REJECTED", "{refused}");
    assert!(
        refused["data"]["reason"]
            .to_string()
            .contains("held by the bot's operator"),
        "{refused}"
    );
    store_change(&operator, GUILD, "greeter", StoreAction::Enable)
        .await
        .expect("the operator releases it");
    wait_serving(&[&host], &served, Some("1.0.0")).await;
    let configured = run(
        "PLUGIN_CONFIGURE",
        json!({ "name": "greeter", "config": { "prefix": "cfg: " } }),
    )
    .await;
    assert_eq!(configured["type"], "PLUGIN_CONFIGURED", "{configured}");
    // The plugin reads its section by its own name: the next message is answered with it.
    let gateway = Queue::new(conn.clone(), prefix, "guildhost:gateway");
    eventually(
        Duration::from_secs(20),
        "a reply with the configured prefix",
        || async {
            gateway
                .add(
                    "MESSAGE_CREATED",
                    &message_created(0, GUILD),
                    JobOptions::default(),
                )
                .await
                .ok()?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let replies = replies(&conn, prefix).await;
            replies
                .values()
                .flatten()
                .any(|reply| reply.starts_with("cfg: "))
                .then_some(())
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&setup.dir);
    let _ = cleanup(&conn, prefix).await;
}
