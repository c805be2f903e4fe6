//! The API's `PLUGIN_*` commands on `bot:config`, carried out on the store.
//!
//! [`StoreCommands`] wraps the dispatcher's job handler and takes these jobs before anything
//! decodes them as seed messages (`dispatch/` knows nothing of the store). The job is the
//! command: it completes once the store changed, and fails for good with the rejection (so it
//! lands in the dead letters). Either way exactly one event goes to `plugins:events`, in the
//! same Redis step that completes or finally fails the job (a completed job's return value is
//! that event's `{ type, data }`, a failed job's reason is the rejection's `<field>: <reason>`): `PLUGIN_INSTALLED`,
//! `PLUGIN_UNINSTALLED`, `PLUGIN_ENABLED`, `PLUGIN_DISABLED`, `PLUGIN_ROLLED_BACK`,
//! `PLUGIN_CONFIGURED`, or `PLUGIN_REJECTED` with `reason` and `field`. Trouble with Redis is
//! retried with the job's attempts; its rejection event goes out with the last one.
//!
//! | command | `data` |
//! |---|---|
//! | `PLUGIN_INSTALL` | `sha256` (the uploaded blob), `manifest` (TOML text), `name` (optional: the manifest's), `installedBy` (optional) |
//! | `PLUGIN_UNINSTALL`, `PLUGIN_ENABLE`, `PLUGIN_DISABLE` | `name` |
//! | `PLUGIN_ROLLBACK` | `name`, `version` (optional: the one before the current) |
//! | `PLUGIN_CONFIGURE` | `name`, `config` (an object, merged into the plugin's section of the guild's configuration as `UPDATE_CONFIG` merges) |
//!
//! Every command needs the envelope's `guildId`: a plugin always belongs to the guild that
//! installed it.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::admission::{self, Rejection};
use super::sync::{StoreSync, served_name};
use super::{Change, PluginStore, Record, UpdateError, Version};
use crate::config::Config;
use crate::dispatch::GuildConfigStore;
use crate::dispatch::outputs::{derived_id, job_options};
use crate::protocol::{QueueName, Timestamp};
use crate::queue::{Completion, Job, JobFailure, JobHandler, NewJob};
use crate::runtime::Runtime;

/// Where the store's events go for the API.
pub const PLUGIN_EVENTS_QUEUE: &str = "plugins:events";

/// The commands, by type name.
const COMMANDS: [&str; 6] = [
    "PLUGIN_INSTALL",
    "PLUGIN_UNINSTALL",
    "PLUGIN_ENABLE",
    "PLUGIN_DISABLE",
    "PLUGIN_ROLLBACK",
    "PLUGIN_CONFIGURE",
];

/// Whether `type_name` is one of the store's commands.
pub fn is_store_command(type_name: &str) -> bool {
    COMMANDS.contains(&type_name)
}

/// What the store needs to carry out a command.
#[derive(Debug, Clone)]
pub struct StoreContext {
    /// The store.
    pub store: PluginStore,
    /// The runtime installs are compiled on (and whose operator plugins' names are reserved).
    pub runtime: Arc<Runtime>,
    /// The host's configuration (`[plugins.store]`, `[plugins.guild_policy]`, queue options).
    pub config: Arc<Config>,
    /// Where `PLUGIN_CONFIGURE` writes.
    pub guild_config: GuildConfigStore,
    /// This host's view, told of a change at once.
    pub sync: Option<Arc<StoreSync>>,
    /// Compilations of installs at once: a burst of installs queues here, so each one's
    /// `compile_timeout_ms` measures its own compilation, not its wait for a core.
    pub compiles: Arc<tokio::sync::Semaphore>,
}

/// As many compilations at once as the machine has cores.
pub fn compile_slots() -> Arc<tokio::sync::Semaphore> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Arc::new(tokio::sync::Semaphore::new(cores))
}

/// A job handler that carries out `PLUGIN_*` jobs of `bot:config` and hands every other job to
/// `inner`.
#[derive(Debug)]
pub struct StoreCommands<H> {
    context: StoreContext,
    inner: Arc<H>,
}

impl<H> StoreCommands<H> {
    /// Wraps `inner`.
    pub fn new(context: StoreContext, inner: Arc<H>) -> Self {
        Self { context, inner }
    }
}

impl<H: JobHandler> JobHandler for StoreCommands<H> {
    async fn handle(&self, job: &Job) -> Result<Completion, JobFailure> {
        if &*job.queue != QueueName::BotConfig.as_str() {
            return self.inner.handle(job).await;
        }
        let Ok(head) = serde_json::from_str::<Head>(&job.data) else {
            return self.inner.handle(job).await;
        };
        if !head.kind.as_deref().is_some_and(is_store_command) {
            return self.inner.handle(job).await;
        }
        let command = head.kind.clone().unwrap_or_default();
        let event = |kind: &str, data: Value| self.event(job, &head, kind, data);
        match self.carry_out(&command, &head).await {
            Ok((kind, data)) => {
                let outputs = vec![event(kind, data.clone())];
                // The job's result is the event it ended in, for an API that awaits the job.
                Ok(Completion::value(json!({ "type": kind, "data": data })).with_outputs(outputs))
            }
            Err(Failure::Rejected(rejection)) => {
                tracing::warn!(job = %job.id, %command, %rejection, "plugin store command rejected");
                let data = rejected(&command, &head, &rejection);
                Err(JobFailure::permanent(rejection.to_string())
                    .with_outputs_if_final(vec![event("PLUGIN_REJECTED", data)]))
            }
            Err(Failure::Store(error)) => {
                let rejection = Rejection::new("store", format!("unavailable: {error}"));
                let data = rejected(&command, &head, &rejection);
                Err(JobFailure::retryable(rejection.to_string())
                    .with_outputs_if_final(vec![event("PLUGIN_REJECTED", data)]))
            }
        }
    }
}

/// The envelope fields a store command reads, checked by hand so every error names its field.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    guild_id: Option<Value>,
    user_id: Option<Value>,
    request_id: Option<Value>,
    #[serde(default)]
    data: Value,
}

enum Failure {
    Rejected(Rejection),
    Store(String),
}

impl From<Rejection> for Failure {
    fn from(rejection: Rejection) -> Self {
        Self::Rejected(rejection)
    }
}

impl<R: Into<Failure>> From<UpdateError<R>> for Failure {
    fn from(error: UpdateError<R>) -> Self {
        match error {
            UpdateError::Refused(refused) => refused.into(),
            UpdateError::MissingBlob(sha) => Self::Rejected(Rejection::new(
                "data.sha256",
                format!("the component {sha} was not uploaded, or its upload expired"),
            )),
            UpdateError::Store(error) => Self::Store(error.to_string()),
        }
    }
}

impl From<crate::queue::QueueError> for Failure {
    fn from(error: crate::queue::QueueError) -> Self {
        Self::Store(error.to_string())
    }
}

/// The `PLUGIN_REJECTED` event's data.
fn rejected(command: &str, head: &Head, rejection: &Rejection) -> Value {
    let mut data = json!({
        "command": command,
        "reason": rejection.reason,
        "field": rejection.field,
    });
    if let Some(name) = head.data.get("name").and_then(Value::as_str) {
        data["name"] = json!(name);
    }
    data
}

/// A required string field of `data`.
fn text<'a>(head: &'a Head, field: &str) -> Result<&'a str, Rejection> {
    match head.data.get(field) {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(Rejection::new(&format!("data.{field}"), "is required")),
        Some(_) => Err(Rejection::new(&format!("data.{field}"), "must be a string")),
    }
}

/// An optional string field of `data`.
fn optional_text<'a>(head: &'a Head, field: &str) -> Result<Option<&'a str>, Rejection> {
    match head.data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(Rejection::new(&format!("data.{field}"), "must be a string")),
    }
}

/// The guild the command is for: the envelope's `guildId`, a snowflake.
fn guild(head: &Head) -> Result<String, Rejection> {
    let rule = "must be the guild's id (a snowflake string): a plugin belongs to one guild";
    match &head.guild_id {
        Some(Value::String(id))
            if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(id.clone())
        }
        None | Some(Value::Null) => Err(Rejection::new("guildId", format!("is required; {rule}"))),
        Some(_) => Err(Rejection::new("guildId", rule)),
    }
}

/// Whether `guild`'s plugins, with `name` at `size` bytes, stay within the policy's quota.
fn check_quota(
    name: &str,
    size: u64,
    exists: bool,
    others: &[(String, Record)],
    policy: &crate::config::GuildPolicy,
) -> Result<(), Rejection> {
    let count = others.iter().filter(|(other, _)| other != name).count();
    if !exists && count >= usize::try_from(policy.max_plugins).unwrap_or(usize::MAX) {
        return Err(Rejection::new(
            "data.name",
            format!("this guild already has {count} plugins, the most this bot allows"),
        ));
    }
    let total = others
        .iter()
        .filter(|(other, _)| other != name)
        .map(|(_, record)| record.current.size)
        .sum::<u64>()
        .saturating_add(size);
    if total > policy.max_total_bytes {
        return Err(Rejection::new(
            "data.sha256",
            format!(
                "the guild's plugins would take {total} bytes, over this bot's limit of {} bytes",
                policy.max_total_bytes
            ),
        ));
    }
    Ok(())
}

/// Refuses a guild admin's change to a plugin the operator holds.
fn check_hold(name: &str, record: Option<&Record>) -> Result<(), Rejection> {
    if record.is_some_and(|record| record.operator_hold) {
        return Err(Rejection::new(
            "data.name",
            format!("{name:?} is held by the bot's operator; only the operator can release it"),
        ));
    }
    Ok(())
}

fn not_installed(name: &str) -> Rejection {
    Rejection::new(
        "data.name",
        format!("no plugin {name:?} is installed in this guild"),
    )
}

impl<H> StoreCommands<H> {
    fn event(&self, job: &Job, head: &Head, kind: &str, data: Value) -> NewJob {
        let mut envelope = json!({
            "id": derived_id(&job.queue, &job.id, 0),
            "type": kind,
            "timestamp": Timestamp::now(),
            "source": "bot",
            "data": data,
        });
        for (field, value) in [
            ("guildId", &head.guild_id),
            ("userId", &head.user_id),
            ("requestId", &head.request_id),
        ] {
            if let Some(value @ Value::String(_)) = value {
                envelope[field] = value.clone();
            }
        }
        NewJob::new(PLUGIN_EVENTS_QUEUE, kind, envelope.to_string())
            .with_opts(job_options(&self.context.config, PLUGIN_EVENTS_QUEUE))
    }

    async fn carry_out(
        &self,
        command: &str,
        head: &Head,
    ) -> Result<(&'static str, Value), Failure> {
        if !self.context.config.plugins.store.enabled {
            return Err(Rejection::new(
                "type",
                "the plugin store is off on this bot ([plugins.store] enabled = false)",
            )
            .into());
        }
        let guild = guild(head)?;
        let outcome = match command {
            "PLUGIN_INSTALL" => self.install(&guild, head).await?,
            "PLUGIN_UNINSTALL" => {
                let name = text(head, "name")?;
                let before = self
                    .context
                    .store
                    .update(&guild, name, "uninstall", |record| match record {
                        Some(_) => Ok(Change::Delete),
                        None => Err(not_installed(name)),
                    })
                    .await?;
                let version = before.map(|record| record.current.version);
                (
                    "PLUGIN_UNINSTALLED",
                    json!({ "name": name, "version": version }),
                )
            }
            "PLUGIN_ENABLE" | "PLUGIN_DISABLE" => {
                let name = text(head, "name")?;
                let enabled = command == "PLUGIN_ENABLE";
                let action = if enabled { "enable" } else { "disable" };
                let before = self
                    .context
                    .store
                    .update(&guild, name, action, |record| match record {
                        Some(record) => {
                            check_hold(name, Some(record))?;
                            Ok(Change::Put(Record {
                                enabled,
                                ..record.clone()
                            }))
                        }
                        None => Err(not_installed(name)),
                    })
                    .await?;
                let version = before.map(|record| record.current.version);
                let kind = if enabled {
                    "PLUGIN_ENABLED"
                } else {
                    "PLUGIN_DISABLED"
                };
                (kind, json!({ "name": name, "version": version }))
            }
            "PLUGIN_ROLLBACK" => {
                let name = text(head, "name")?;
                let wanted = optional_text(head, "version")?;
                let mut to = None;
                let killed = self.context.store.killed().await?;
                let policy = &self.context.config.plugins.guild_policy;
                let before = self
                    .context
                    .store
                    .update_in_guild(&guild, name, "rollback", |record, others| {
                        let record = record.ok_or_else(|| not_installed(name))?;
                        check_hold(name, Some(record))?;
                        let index = match wanted {
                            None if record.previous.is_empty() => {
                                return Err(Rejection::new(
                                    "data.name",
                                    format!("{name:?} has no earlier version to roll back to"),
                                ));
                            }
                            None => 0,
                            Some(version) => record
                                .previous
                                .iter()
                                .position(|kept| kept.version == version)
                                .ok_or_else(|| {
                                    Rejection::new(
                                        "data.version",
                                        format!(
                                            "{version:?} is not a kept earlier version of {name:?} (kept: {:?})",
                                            record.previous.iter().map(|v| &v.version).collect::<Vec<_>>()
                                        ),
                                    )
                                })?,
                        };
                        let mut previous = record.previous.clone();
                        let target = previous.remove(index);
                        if killed.iter().any(|(sha, _)| *sha == target.sha256) {
                            return Err(Rejection::new(
                                "data.version",
                                "that version's component was stopped by the bot's operator",
                            ));
                        }
                        check_quota(name, target.size, true, others, policy)?;
                        previous.insert(0, record.current.clone());
                        to = Some(target.version.clone());
                        Ok(Change::Put(Record {
                            current: target,
                            previous,
                            ..record.clone()
                        }))
                    })
                    .await?;
                let from = before.map(|record| record.current.version);
                (
                    "PLUGIN_ROLLED_BACK",
                    json!({ "name": name, "version": to, "from": from }),
                )
            }
            "PLUGIN_CONFIGURE" => {
                let name = text(head, "name")?;
                let Some(Value::Object(config)) = head.data.get("config") else {
                    return Err(
                        Rejection::new("data.config", "is required and must be an object").into(),
                    );
                };
                let installed = self.context.store.guild(&guild).await?;
                if !installed.iter().any(|(installed, _)| installed == name) {
                    return Err(not_installed(name).into());
                }
                let mut section = Map::new();
                section.insert(name.to_owned(), Value::Object(config.clone()));
                self.context
                    .guild_config
                    .apply_update(&guild, &section, None)
                    .await?;
                ("PLUGIN_CONFIGURED", json!({ "name": name }))
            }
            _ => unreachable!("is_store_command lists every command"),
        };
        if let Some(sync) = &self.context.sync
            && let Err(error) = sync.reconcile().await
        {
            // The change is in the store; the periodic check serves it.
            tracing::warn!(%error, "serving the store's change here failed; the periodic check retries");
        }
        Ok(outcome)
    }

    async fn install(&self, guild: &str, head: &Head) -> Result<(&'static str, Value), Failure> {
        let context = &self.context;
        let policy = &context.config.plugins.guild_policy;
        let sha256 = text(head, "sha256")?;
        admission::check_sha256(sha256)?;
        let manifest_text = text(head, "manifest")?;
        let name = optional_text(head, "name")?;
        let installed_by = optional_text(head, "installedBy")?;
        if context.store.is_killed(sha256).await? {
            return Err(Rejection::new(
                "data.sha256",
                "this component was stopped by the bot's operator and cannot be installed",
            )
            .into());
        }
        // Checked before it is read: an upload over the limit is never loaded into memory.
        let size = context.store.blob_size(sha256).await?;
        if size == 0 {
            return Err(Rejection::new(
                "data.sha256",
                "no component of this SHA-256 was uploaded, or its upload expired",
            )
            .into());
        }
        admission::check_size(size, policy)?;
        // The quota before the compilation (a full guild cannot make the host compile), and
        // again in the write, on the guild as it is then.
        let installed: Vec<(String, Record)> = context
            .store
            .guild(guild)
            .await?
            .into_iter()
            .filter_map(|(installed, record)| Some((installed, record.ok()?)))
            .collect();
        if let Some(name) = name {
            admission::check_name(name, &context.runtime)?;
            let existing = installed.iter().find(|(other, _)| other == name);
            check_hold(name, existing.map(|(_, record)| record))?;
            check_quota(name, size, existing.is_some(), &installed, policy)?;
        }
        let wasm = context.store.blob(sha256).await?.unwrap_or_default();
        admission::check_component(sha256, &wasm, policy)?;
        let (runtime, task_policy) = (context.runtime.clone(), policy.clone());
        let (task_guild, task_name, task_manifest) = (
            guild.to_owned(),
            name.map(str::to_owned),
            manifest_text.to_owned(),
        );
        let slot = context
            .compiles
            .clone()
            .acquire_owned()
            .await
            .map_err(|closed| Failure::Store(closed.to_string()))?;
        let compile = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            admission::prepare(
                &runtime,
                &task_policy,
                &task_guild,
                task_name.as_deref(),
                &task_manifest,
                &wasm,
            )
        });
        let limit = Duration::from_millis(policy.compile_timeout_ms);
        let prepared = match tokio::time::timeout(limit, compile).await {
            Err(_) => {
                return Err(Rejection::new(
                    "data.sha256",
                    format!(
                        "the component did not compile within {} ms",
                        policy.compile_timeout_ms
                    ),
                )
                .into());
            }
            Ok(Err(panicked)) => {
                return Err(Rejection::new(
                    "data.sha256",
                    format!("the component could not be compiled: {panicked}"),
                )
                .into());
            }
            Ok(Ok(prepared)) => prepared?,
        };
        let served = prepared.plugin.name().to_owned();
        let name = served
            .strip_suffix(&format!("@{guild}"))
            .unwrap_or(&served)
            .to_owned();
        let version = Version {
            version: prepared.plugin.manifest().version.clone(),
            sha256: sha256.to_owned(),
            size,
            manifest: manifest_text.to_owned(),
            installed_by: installed_by.map(str::to_owned),
            installed_at: serde_json::to_value(Timestamp::now())
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default(),
        };
        let kept = usize::try_from(context.config.plugins.store.versions_kept).unwrap_or(1);
        let before = context
            .store
            .update_in_guild(guild, &name, "install", |record, others| {
                check_hold(&name, record)?;
                check_quota(&name, size, record.is_some(), others, policy)?;
                let mut previous = Vec::new();
                if let Some(record) = record {
                    previous.push(record.current.clone());
                    previous.extend(record.previous.iter().cloned());
                }
                previous.truncate(kept.saturating_sub(1));
                Ok::<_, Rejection>(Change::Put(Record {
                    enabled: true,
                    operator_hold: false,
                    current: version.clone(),
                    previous,
                }))
            })
            .await?;
        let notices = prepared.notices.clone();
        if let Some(sync) = &context.sync {
            // This host serves the version it compiled; the others load it from the store.
            sync.adopt(guild, &name, &version, prepared).await;
        }
        tracing::info!(plugin = %served_name(guild, &name), version = %version.version, %sha256, "store plugin installed");
        Ok((
            "PLUGIN_INSTALLED",
            json!({
                "name": name,
                "version": version.version,
                "sha256": sha256,
                "size": size,
                "previousVersion": before.map(|record| record.current.version),
                "notices": notices,
            }),
        ))
    }
}
