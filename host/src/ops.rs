//! The operator's inspection and repair commands: queue counts, dead letters, enqueueing a
//! message as the API would. Each returns the text to print; `main.rs` only parses arguments.

use std::fmt::Write as _;

use anyhow::{Context as _, bail};

use crate::config::Config;
use crate::dispatch::outputs::job_options;
use crate::dispatch::routes::type_policy;
use crate::protocol::Message;
use crate::queue::{DeadLetters, Queue, RedisConn};
use crate::store::sync::served_name;
use crate::store::{Change, PluginStore, Record};

pub use crate::dispatch::routes::known_queues;

/// Connects to the configured Redis, saying which one on failure.
pub async fn connect(config: &Config) -> anyhow::Result<RedisConn> {
    RedisConn::connect(&config.redis.url)
        .await
        .with_context(|| {
            format!(
                "connecting to Redis at {}",
                crate::config::redact_url(&config.redis.url)
            )
        })
}

/// `guildhost queues`: jobs per queue and state, as Node's `getJobCounts()` reports them.
pub async fn queue_counts(config: &Config) -> anyhow::Result<String> {
    let conn = connect(config).await?;
    let mut out = format!(
        "{:<20} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}\n",
        "queue", "waiting", "active", "delayed", "completed", "failed", "paused"
    );
    for name in known_queues() {
        let counts = Queue::new(conn.clone(), &config.redis.prefix, name)
            .job_counts()
            .await
            .with_context(|| format!("counting jobs of {name}"))?;
        let _ = writeln!(
            out,
            "{:<20} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8}",
            name,
            counts.waiting,
            counts.active,
            counts.delayed,
            counts.completed,
            counts.failed,
            counts.paused
        );
    }
    Ok(out)
}

fn dead_letters(config: &Config, conn: RedisConn) -> DeadLetters {
    DeadLetters::new(conn, &config.redis.prefix, None)
}

/// `guildhost dlq list`: one line per dead letter.
pub async fn dlq_list(config: &Config) -> anyhow::Result<String> {
    let letters = dead_letters(config, connect(config).await?).list().await?;
    let mut out = String::new();
    for letter in &letters {
        let _ = writeln!(
            out,
            "{:<8} {:<24} {:<16} {:<20} {}",
            letter.id, letter.failed_at, letter.queue, letter.job_name, letter.error
        );
    }
    let _ = writeln!(out, "{} dead letter(s)", letters.len());
    Ok(out)
}

/// `guildhost dlq show <id>`: one dead letter in full.
pub async fn dlq_show(config: &Config, id: &str) -> anyhow::Result<String> {
    let Some(letter) = dead_letters(config, connect(config).await?).get(id).await? else {
        bail!("no dead letter {id}");
    };
    let data = serde_json::from_str::<serde_json::Value>(&letter.original_data)
        .map(|v| serde_json::to_string_pretty(&v).unwrap_or_else(|_| letter.original_data.clone()))
        .unwrap_or_else(|_| letter.original_data.clone());
    Ok(format!(
        "id:        {}\nqueue:     {}\njob:       {} ({})\nfailed at: {}\nattempts:  {}\nerror:     {}\ndata:\n{data}\n",
        letter.id,
        letter.queue,
        letter.job_id,
        letter.job_name,
        letter.failed_at,
        letter.attempts_made,
        letter.error
    ))
}

/// Dead letters sent back per script call; progress is reported after each.
const REPLAY_CHUNK: usize = 500;

/// `guildhost dlq replay <id|--all>`: sends letters back to their queues, with progress.
pub async fn dlq_replay(config: &Config, id: Option<&str>) -> anyhow::Result<String> {
    let letters = dead_letters(config, connect(config).await?);
    match id {
        Some(id) => match letters.replay(id).await? {
            Some(job) => Ok(format!("replayed dead letter {id} as job {job}\n")),
            None => bail!("no dead letter {id}"),
        },
        None => {
            let all = letters.list().await?;
            let mut replayed = 0;
            for (done, chunk) in all.chunks(REPLAY_CHUNK).enumerate() {
                replayed += letters
                    .replay_letters(chunk)
                    .await?
                    .iter()
                    .flatten()
                    .count();
                if all.len() > REPLAY_CHUNK {
                    let seen = ((done + 1) * REPLAY_CHUNK).min(all.len());
                    eprintln!("replayed {seen}/{} dead letters", all.len());
                }
            }
            Ok(format!("replayed {replayed} dead letter(s)\n"))
        }
    }
}

/// `guildhost dlq purge`: deletes every dead letter.
pub async fn dlq_purge(config: &Config) -> anyhow::Result<String> {
    let purged = dead_letters(config, connect(config).await?).purge().await?;
    Ok(format!("purged {purged} dead letter(s)\n"))
}

/// `guildhost enqueue <queue> <json|@file>`: validates the message as the host will, then adds
/// it as the Node API does (`queue.add(type, message, defaultJobOptions)`).
pub async fn enqueue(config: &Config, queue: &str, message: &str) -> anyhow::Result<String> {
    let known = known_queues();
    if !known.contains(&queue) {
        let hint = guildhost_rules::nearest(queue, known.iter().copied())
            .map(|meant| format!("did you mean {meant:?}? "))
            .unwrap_or_default();
        bail!(
            "{queue:?} is not a queue guildhost or the API works; {hint}the queues are: {}",
            known.join(", ")
        );
    }
    let text = match message.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => message.to_owned(),
    };
    let decoded = Message::decode_with(text.as_bytes(), type_policy(queue))
        .map_err(|e| anyhow::anyhow!("invalid message: {e}"))?;
    let conn = connect(config).await?;
    let id = Queue::new(conn, &config.redis.prefix, queue)
        .add(
            decoded.payload.type_name(),
            &decoded.to_json_string()?,
            job_options(config, queue),
        )
        .await?;
    Ok(format!(
        "added {} to {queue} as job {id}\n",
        decoded.payload.type_name()
    ))
}

/// `guildhost plugin run`: runs one message through a plugin without Redis or Discord. The
/// fixture is a queue message as the API sends it (decoded and validated like a job's data,
/// custom types allowed) or `{"envelope", "message"}` in the WIT shape. Each output is printed
/// as the queue message it becomes (`execute {…}`, `publish {…}`, `execute after N ms {…}`).
pub fn plugin_run(
    wasm: &std::path::Path,
    manifest: Option<&std::path::Path>,
    fixture: &std::path::Path,
    config: Option<&str>,
) -> anyhow::Result<(String, bool)> {
    let text = std::fs::read_to_string(fixture)
        .with_context(|| format!("cannot read the fixture {}", fixture.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).context("the fixture is not valid JSON")?;
    let (envelope, message, incoming) = match crate::runtime::tool::parse_wit_fixture(&value)? {
        Some((envelope, message)) => (envelope, message, None),
        None => {
            let decoded = Message::decode_value_allowing_custom(value)
                .map_err(|e| anyhow::anyhow!("invalid message: {e}"))?;
            let (envelope, message) = crate::dispatch::convert::to_wit(&decoded)
                .map_err(|e| anyhow::anyhow!("invalid message: {e}"))?;
            (envelope, message, Some(decoded))
        }
    };
    let render =
        |output: &crate::runtime::bindings::Output| render_output(incoming.as_ref(), output);
    crate::runtime::tool::run(wasm, manifest, &envelope, &message, config, &render)
}

/// One plugin output as what it becomes on the queues: where it goes, then the JSON message
/// (the envelope the host would give it in reply to `incoming`).
fn render_output(incoming: Option<&Message>, output: &crate::runtime::bindings::Output) -> String {
    use crate::runtime::bindings::Output;
    let (route, emission_guild, message) = match output {
        Output::Execute(e) => ("execute".to_owned(), e.guild_id.clone(), e.message.clone()),
        Output::Publish(e) => ("publish".to_owned(), e.guild_id.clone(), e.message.clone()),
        Output::ExecuteAfter(e) => (
            format!("execute after {} ms", e.delay_ms),
            e.guild_id.clone(),
            e.message.clone(),
        ),
    };
    let payload = match crate::dispatch::convert::payload_from_wit(message) {
        Ok(payload) => payload,
        Err(error) => return format!("{route}: not a valid message: {error}"),
    };
    let guild = emission_guild.and_then(|g| g.parse().ok());
    let envelope = match incoming {
        Some(incoming) => crate::dispatch::outputs::reply_envelope(
            &incoming.envelope,
            "(assigned on enqueue)".to_owned(),
            guild,
        ),
        None => {
            let envelope = crate::protocol::Envelope::new(crate::protocol::Source::Bot);
            match guild {
                Some(guild) => envelope.with_guild(guild),
                None => envelope,
            }
        }
    };
    let reply = Message { envelope, payload };
    match reply.to_json_string() {
        Ok(json) => format!("{route} {json}"),
        Err(error) => format!("{route}: cannot be written as JSON: {error}"),
    }
}

/// `guildhost plugin list`: the embedded first-party plugins, the plugins directory (as the host
/// would load them: a directory plugin replaces an embedded one of the same name) and the
/// guilds' plugins in the store, served as `<name>@<guild>`.
pub async fn plugin_list(config: &Config) -> anyhow::Result<String> {
    use crate::runtime::{Manifest, RuntimeLimits, Scope};
    let limits = RuntimeLimits::default();
    let mut rows: Vec<(String, String)> = Vec::new();
    let mut describe = |source: String, manifest: Result<Manifest, String>| match manifest {
        Ok(m) => {
            let scope = match &m.scope {
                Scope::Global => "global".to_owned(),
                Scope::Guild(guild) => format!("guild {guild}"),
            };
            let subscribes: Vec<_> = m.subscribes.iter().map(String::as_str).collect();
            rows.push((
                m.name.clone(),
                format!(
                    "{:<16} {:<9} {:<22} {:<10} {}",
                    m.name,
                    m.version,
                    scope,
                    source,
                    subscribes.join(", ")
                ),
            ));
        }
        Err(error) => rows.push((source.clone(), format!("{source}: {error}"))),
    };
    if config.plugins.first_party {
        for (_, _, manifest) in crate::bundled::PLUGINS {
            describe(
                "embedded".to_owned(),
                Manifest::parse(manifest, &limits).map_err(|e| e.to_string()),
            );
        }
    }
    if let Ok(entries) = std::fs::read_dir(&config.plugins.dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "wasm") {
                describe(
                    path.display().to_string(),
                    Manifest::load(&path.with_extension("toml"), &limits)
                        .map_err(|e| e.to_string()),
                );
            }
        }
    }
    if config.plugins.store.enabled {
        match connect(config).await {
            Ok(conn) => {
                let store = PluginStore::new(conn, &config.redis.prefix);
                for installed in store.all().await? {
                    let current = &installed.record.current;
                    let state = if installed.record.enabled {
                        "store"
                    } else {
                        "store:off"
                    };
                    describe(
                        state.to_owned(),
                        Manifest::parse(&current.manifest, &limits)
                            .map(|mut manifest| {
                                manifest.name = served_name(&installed.guild, &installed.name);
                                manifest.scope = Scope::Guild(installed.guild.clone());
                                manifest
                            })
                            .map_err(|e| e.to_string()),
                    );
                }
            }
            Err(error) => rows.push((
                "~".to_owned(),
                format!("(the plugin store was not read: {error:#})"),
            )),
        }
    }
    rows.sort();
    let mut out = format!(
        "{:<16} {:<9} {:<22} {:<10} {}\n",
        "plugin", "version", "scope", "source", "subscribes"
    );
    for (_, row) in rows {
        let _ = writeln!(out, "{row}");
    }
    Ok(out)
}

/// `guildhost plugin store list [--guild]`: every guild's plugins (or one guild's), with their
/// state, version, component and kept versions, and the components stopped everywhere.
pub async fn store_list(config: &Config, guild: Option<&str>) -> anyhow::Result<String> {
    let store = PluginStore::new(connect(config).await?, &config.redis.prefix);
    let guilds = match guild {
        Some(guild) => vec![guild.to_owned()],
        None => store.guilds().await?,
    };
    let killed: std::collections::HashMap<String, String> =
        store.killed().await?.into_iter().collect();
    let mut out = format!(
        "{:<20} {:<20} {:<9} {:<9} {:<14} {}\n",
        "guild", "plugin", "state", "version", "sha256", "kept"
    );
    for guild in guilds {
        for (name, record) in store.guild(&guild).await? {
            let line = match record {
                Ok(record) => {
                    let sha = &record.current.sha256;
                    let state = if killed.contains_key(sha) {
                        "killed"
                    } else if record.enabled {
                        "enabled"
                    } else {
                        "disabled"
                    };
                    let kept: Vec<&str> =
                        record.previous.iter().map(|v| v.version.as_str()).collect();
                    format!(
                        "{guild:<20} {name:<20} {state:<9} {:<9} {:<14} {}",
                        record.current.version,
                        sha.get(..12).unwrap_or(sha),
                        kept.join(", ")
                    )
                }
                Err(error) => format!("{guild:<20} {name:<20} {error}"),
            };
            let _ = writeln!(out, "{line}");
        }
    }
    for (sha, reason) in &killed {
        let _ = writeln!(out, "killed {sha}: {reason}");
    }
    Ok(out)
}

/// `guildhost plugin store show <guild> <name>`: the plugin's record, as JSON.
pub async fn store_show(config: &Config, guild: &str, name: &str) -> anyhow::Result<String> {
    let store = PluginStore::new(connect(config).await?, &config.redis.prefix);
    let record = store
        .guild(guild)
        .await?
        .into_iter()
        .find(|(installed, _)| installed == name)
        .map(|(_, record)| record)
        .ok_or_else(|| anyhow::anyhow!("guild {guild} has no plugin {name:?}"))?
        .map_err(|error| anyhow::anyhow!("{name:?} in guild {guild}: {error}"))?;
    Ok(format!("{}\n", serde_json::to_string_pretty(&record)?))
}

/// `guildhost plugin store enable|disable|remove <guild> <name>`: the operator's hand on one
/// guild's plugin; every host follows within a second.
pub async fn store_change(
    config: &Config,
    guild: &str,
    name: &str,
    action: StoreAction,
) -> anyhow::Result<String> {
    let store = PluginStore::new(connect(config).await?, &config.redis.prefix);
    let verb = match action {
        StoreAction::Enable => "enable",
        StoreAction::Disable => "disable",
        StoreAction::Remove => "remove",
    };
    store
        .update(guild, name, verb, |record| {
            let Some(record) = record else {
                return Err(format!("guild {guild} has no plugin {name:?}"));
            };
            Ok(match action {
                // The operator's disable holds: the guild's admin cannot undo it.
                StoreAction::Enable | StoreAction::Disable => Change::Put(Record {
                    enabled: action == StoreAction::Enable,
                    operator_hold: action == StoreAction::Disable,
                    ..record.clone()
                }),
                StoreAction::Remove => Change::Delete,
            })
        })
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(format!("{verb}d {name} in guild {guild}\n"))
}

/// What [`store_change`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreAction {
    /// Serve it again.
    Enable,
    /// Keep it, but stop serving it.
    Disable,
    /// Delete it and its versions.
    Remove,
}

/// `guildhost plugin store kill <sha256> [--reason]` and `revive`: stops one component in every
/// guild on every host (and refuses it to installs), or lifts that.
pub async fn store_kill(
    config: &Config,
    sha256: &str,
    reason: Option<&str>,
) -> anyhow::Result<String> {
    crate::store::admission::check_sha256(sha256).map_err(|r| anyhow::anyhow!("{}", r.reason))?;
    let store = PluginStore::new(connect(config).await?, &config.redis.prefix);
    store.set_killed(sha256, reason).await?;
    Ok(match reason {
        Some(_) => format!("killed {sha256}: it stops on every host within a second\n"),
        None => format!("revived {sha256}\n"),
    })
}
