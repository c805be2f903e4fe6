//! The handler of the execution queue: runs each command against the [`Discord`] boundary and
//! reports moderation actions with `MODERATION_ACTION_COMPLETED`, enqueued atomically with the
//! job's completion. Its jobs never reach plugins, so nothing a plugin replies can loop.
//!
//! `RELOAD_COMMANDS` registers the application commands the loaded plugins declare: all of
//! them in one list, or only the named ones; globally (global plugins' commands) or for the
//! message's guild (global plugins' and that guild's plugins' commands).

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use md5::{Digest, Md5};
use serde_json::json;

use crate::config::Config;
use crate::discord::{
    Action, ActionRecord, CommandScope, CommandSpec, Discord, DiscordError, DryRun, Outcome,
    Registration, moderation_action,
};
use crate::metrics::Metrics;
use crate::protocol::{self as p, Message, Payload, TypePolicy};
use crate::queue::{Completion, Job, JobFailure, JobHandler, NewJob, RedisConn};
use crate::runtime::{Runtime, Scope};

use super::command_job::RunCommand;
use super::guild_order::GuildOrder;
use super::outputs::{derived_id, job_options, reply_envelope};
use super::routes::GATEWAY_QUEUE;

/// How many dry-run records are kept for inspection.
const DRY_RUN_KEEP: i64 = 10_000;

/// Where a dry run records what it would have done: a Redis list, newest first,
/// `<prefix>:guildhost:dry-run`.
#[derive(Clone)]
pub struct DryRunLog {
    conn: RedisConn,
    key: String,
}

impl std::fmt::Debug for DryRunLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DryRunLog").field("key", &self.key).finish()
    }
}

impl DryRunLog {
    /// The log under `prefix`.
    pub fn new(conn: RedisConn, prefix: &str) -> Self {
        Self {
            conn,
            key: Self::key(prefix),
        }
    }

    /// The list's key under `prefix`.
    pub fn key(prefix: &str) -> String {
        format!("{prefix}:guildhost:dry-run")
    }

    async fn record(&self, record: &ActionRecord) -> redis::RedisResult<()> {
        let mut conn = self.conn.clone();
        let text = serde_json::to_string(record).map_err(|e| {
            redis::RedisError::from((redis::ErrorKind::Io, "encoding", e.to_string()))
        })?;
        redis::pipe()
            .cmd("LPUSH")
            .arg(&self.key)
            .arg(text)
            .ignore()
            .cmd("LTRIM")
            .arg(&self.key)
            .arg(0)
            .arg(DRY_RUN_KEEP - 1)
            .ignore()
            .query_async(&mut conn)
            .await
    }
}

/// Holds every command while Discord rejects the token: a 401 stops execution (Discord bans
/// IPs that keep sending invalid requests), the jobs stay active under their locks, and one
/// probe asks Discord now and then whether the token works again.
#[derive(Debug)]
struct AuthGate {
    rejected: AtomicBool,
    accepted_again: tokio::sync::Notify,
    probe_every: Duration,
}

impl AuthGate {
    fn is_open(&self) -> bool {
        !self.rejected.load(Ordering::Acquire)
    }

    /// Waits until the token works again; the caller that closed the gate probes, the rest wait.
    async fn wait_until_open<D: Discord>(&self, discord: &D, prober: bool) {
        loop {
            let reopened = self.accepted_again.notified();
            if self.is_open() {
                return;
            }
            if !prober {
                reopened.await;
                continue;
            }
            tokio::time::sleep(self.probe_every).await;
            match discord.verify_token().await {
                Ok(()) => {
                    tracing::warn!("Discord accepts the bot token again: resuming execution");
                    self.rejected.store(false, Ordering::Release);
                    self.accepted_again.notify_waiters();
                    return;
                }
                Err(e) => tracing::error!(
                    error = %e,
                    retry_in = ?self.probe_every,
                    "Discord still rejects the bot token: execution stays stopped, jobs are kept"
                ),
            }
        }
    }
}

/// Executes commands from the execution queue.
#[derive(Debug)]
pub struct Executor<D> {
    discord: D,
    config: Arc<Config>,
    dry_run_log: Option<DryRunLog>,
    order: GuildOrder,
    metrics: Option<Arc<Metrics>>,
    auth: AuthGate,
    plugins: Option<Arc<Runtime>>,
}

impl<D: Discord> Executor<D> {
    /// An executor over `discord`; with `dry_run_log`, every action is also recorded there.
    pub fn new(discord: D, config: Arc<Config>, dry_run_log: Option<DryRunLog>) -> Self {
        Self {
            discord,
            config,
            dry_run_log,
            order: GuildOrder::default(),
            metrics: None,
            plugins: None,
            auth: AuthGate {
                rejected: AtomicBool::new(false),
                accepted_again: tokio::sync::Notify::new(),
                probe_every: Self::DEFAULT_TOKEN_PROBE_INTERVAL,
            },
        }
    }

    /// How often a rejected token is tried again by default.
    pub const DEFAULT_TOKEN_PROBE_INTERVAL: Duration = Duration::from_secs(30);

    /// Sets how often a rejected token is tried again.
    pub fn with_token_probe_interval(mut self, every: Duration) -> Self {
        self.auth.probe_every = every;
        self
    }

    /// Registers the commands `plugins` declare when `RELOAD_COMMANDS` asks (without it,
    /// `RELOAD_COMMANDS` is not executable).
    pub fn with_plugins(mut self, plugins: Arc<Runtime>) -> Self {
        self.plugins = Some(plugins);
        self
    }

    /// The commands the loaded plugins declare for `scope`: a global plugin's everywhere, a
    /// guild plugin's in its guild only.
    fn declared_commands(&self, scope: CommandScope) -> Result<Vec<CommandSpec>, DiscordError> {
        let Some(runtime) = &self.plugins else {
            return Err(DiscordError::NotExecutable(
                "RELOAD_COMMANDS: this executor has no plugins to take commands from".into(),
            ));
        };
        let mut specs: Vec<(String, CommandSpec)> = Vec::new();
        for plugin in runtime.registry().plugins() {
            let manifest = plugin.manifest();
            let applies = match (&manifest.scope, scope) {
                (Scope::Global, _) => true,
                (Scope::Guild(own), CommandScope::Guild(guild)) => *own == guild.to_string(),
                (Scope::Guild(_), CommandScope::Global) => false,
            };
            if !applies {
                continue;
            }
            for command in &manifest.commands {
                if let Some((other, _)) = specs.iter().find(|(_, s)| s.name == command.name) {
                    return Err(DiscordError::Permanent {
                        code: 0,
                        message: format!(
                            "commands: /{} is declared by plugins `{other}` and `{}`; Discord \
                             registers one command per name",
                            command.name,
                            plugin.name()
                        ),
                    });
                }
                specs.push((
                    plugin.name().to_owned(),
                    CommandSpec {
                        name: command.name.clone(),
                        description: command.description.clone(),
                        options: command.options.clone(),
                        guild_only: command.guild_only,
                    },
                ));
            }
        }
        Ok(specs.into_iter().map(|(_, spec)| spec).collect())
    }

    /// `RELOAD_COMMANDS`: the declared commands for its scope, all or the named ones.
    async fn reload_commands(
        &self,
        message: &Message,
        reload: &p::ReloadCommands,
    ) -> Result<Outcome, DiscordError> {
        let scope = if reload.global {
            CommandScope::Global
        } else {
            CommandScope::Guild(message.envelope.guild_id.ok_or_else(|| {
                DiscordError::Permanent {
                    code: 0,
                    message: "guildId: RELOAD_COMMANDS with `global: false` names the guild".into(),
                }
            })?)
        };
        let declared = self.declared_commands(scope)?;
        let Some(names) = &reload.command_names else {
            return self
                .discord
                .register_commands(Registration {
                    scope,
                    commands: &declared,
                    replace_all: true,
                    unknown: &[],
                })
                .await;
        };
        let (chosen, unknown): (Vec<&String>, Vec<&String>) = names
            .iter()
            .partition(|name| declared.iter().any(|c| &c.name == *name));
        let commands: Vec<CommandSpec> = declared
            .into_iter()
            .filter(|c| chosen.contains(&&c.name))
            .collect();
        let unknown: Vec<String> = unknown.into_iter().cloned().collect();
        if !unknown.is_empty() {
            tracing::warn!(
                scope = %scope.label(),
                ?unknown,
                "RELOAD_COMMANDS names commands no loaded plugin declares; they are skipped"
            );
        }
        self.discord
            .register_commands(Registration {
                scope,
                commands: &commands,
                replace_all: false,
                unknown: &unknown,
            })
            .await
    }

    /// One attempt at `action` against Discord.
    async fn perform(&self, action: Action<'_>) -> Result<Outcome, DiscordError> {
        match &action.message.payload {
            Payload::ReloadCommands(reload) => self.reload_commands(action.message, reload).await,
            _ => self.discord.execute(action).await,
        }
    }

    /// Runs `action`, holding it while the token is rejected.
    async fn execute_gated(&self, action: Action<'_>) -> Result<Outcome, DiscordError> {
        loop {
            self.auth.wait_until_open(&self.discord, false).await;
            let result = self.perform(action).await;
            // Every call counts, a 401 too, though the gate keeps it from the job's result.
            if let Some(metrics) = &self.metrics {
                // A dry run reached no Discord: its actions count apart, never as `ok`.
                let (code, failed) = match (&self.dry_run_log, &result) {
                    (Some(_), Ok(_)) => (Cow::Borrowed("dry_run"), false),
                    _ => discord_code(&result),
                };
                metrics.record_discord(action.message.payload.type_name(), &code, failed);
            }
            match result {
                Err(DiscordError::Unauthorized) => {
                    let first = !self.auth.rejected.swap(true, Ordering::AcqRel);
                    if first {
                        tracing::error!(
                            "Discord rejected the bot token (401): execution stopped, jobs are \
                             kept; fix [discord] token or DISCORD_TOKEN"
                        );
                    }
                    self.auth.wait_until_open(&self.discord, first).await;
                }
                other => return other,
            }
        }
    }

    /// The same executor, counting each Discord call by route and code in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// One attempt at `message` (a command), held while the token is rejected, recorded in
    /// the dry-run log when running dry.
    pub async fn execute_now(&self, message: &Message) -> Result<Outcome, DiscordError> {
        // A DM must reach the member before the ban a plugin queued after it.
        let _turn = self.order.turn(message.envelope.guild_id).await;
        let nonce = nonce_for(message);
        let action = Action {
            message,
            nonce: &nonce,
        };
        let result = self.execute_gated(action).await;
        if result.is_ok()
            && let Some(log) = &self.dry_run_log
            && let Ok(record) = DryRun::record(action)
            && let Err(e) = log.record(&record).await
        {
            tracing::warn!(error = %e, "could not record the dry-run action");
        }
        result
    }
}

impl<D: Discord> RunCommand for Executor<D> {
    fn run_command<'a>(
        &'a self,
        message: &'a Message,
    ) -> BoxFuture<'a, Result<Outcome, DiscordError>> {
        Box::pin(self.execute_now(message))
    }
}

/// `MODERATION_ACTION_COMPLETED` for a moderation command, as a job for the gateway queue
/// (`None` for any other command); `id` is the report's envelope id, `error` why the action did
/// not happen.
pub fn moderation_report(
    config: &Config,
    message: &Message,
    id: String,
    error: Option<String>,
) -> Result<Option<NewJob>, String> {
    let Some(action) = moderation_action(&message.payload) else {
        return Ok(None);
    };
    let (user_id, moderator_id, case_id) = match &message.payload {
        Payload::BanUser(c) => (c.user_id, c.moderator_id, c.case_id.clone()),
        Payload::KickUser(c) => (c.user_id, c.moderator_id, c.case_id.clone()),
        Payload::TimeoutUser(c) => (c.user_id, c.moderator_id, c.case_id.clone()),
        Payload::UnbanUser(c) => (c.user_id, c.moderator_id, c.case_id.clone()),
        _ => return Ok(None),
    };
    let event = Message {
        envelope: reply_envelope(&message.envelope, id, None),
        payload: Payload::ModerationActionCompleted(p::ModerationActionCompleted {
            action,
            user_id,
            success: error.is_none(),
            error,
            case_id,
            executed_by: moderator_id,
            timestamp: p::Timestamp::now(),
            extra: Default::default(),
        }),
    };
    // Through the gateway queue, like every event from Discord's side: plugins hear of it
    // (the moderation plugin expires a temporary ban's case) and the dispatcher forwards it
    // to `moderation:events` for the API.
    let data = event
        .to_validated_json_string()
        .map_err(|e| e.to_string())?;
    Ok(Some(
        NewJob::new(GATEWAY_QUEUE, event.payload.type_name(), data)
            .with_opts(job_options(config, GATEWAY_QUEUE)),
    ))
}

/// The idempotency nonce of a command: stable across retries, at most 25 characters (Discord's
/// limit for `nonce`).
pub fn nonce_for(message: &Message) -> String {
    let digest = Md5::digest(message.envelope.id.as_bytes());
    hex::encode(digest)[..25].to_owned()
}

/// The `code` label of a Discord call (the outcome, or the error's code) and whether it failed.
fn discord_code(result: &Result<Outcome, DiscordError>) -> (Cow<'static, str>, bool) {
    match result {
        Ok(Outcome::Done | Outcome::Sent { .. } | Outcome::Registered { .. }) => {
            (Cow::Borrowed("ok"), false)
        }
        Ok(Outcome::AlreadyDone) => (Cow::Borrowed("already_done"), false),
        // Handled (the job goes on), but Discord answered with an error: counted as one.
        Ok(Outcome::Undeliverable { code, .. }) => (Cow::Owned(code.to_string()), true),
        Err(DiscordError::Permanent { code, .. }) => (Cow::Owned(code.to_string()), true),
        Err(DiscordError::Unauthorized) => (Cow::Borrowed("401"), true),
        Err(DiscordError::Retriable(_)) => (Cow::Borrowed("retriable"), true),
        Err(DiscordError::NotExecutable(_)) => (Cow::Borrowed("not_executable"), true),
    }
}

impl<D: Discord> JobHandler for Executor<D> {
    async fn handle(&self, job: &Job) -> Result<Completion, JobFailure> {
        let message = Message::decode_with(job.data.as_bytes(), TypePolicy::Strict)
            .map_err(|e| JobFailure::permanent(format!("invalid message: {e}")))?;
        super::annotate_job_span(&message);
        let report = |error: Option<String>| {
            let id = derived_id(&job.queue, &job.id, 0);
            moderation_report(&self.config, &message, id, error).map_err(JobFailure::permanent)
        };
        match self.execute_now(&message).await {
            Ok(outcome) => {
                let outputs = report(None)?.into_iter().collect();
                Ok(Completion::value(json!({ "outcome": outcome })).with_outputs(outputs))
            }
            Err(DiscordError::Permanent {
                code,
                message: text,
            }) => {
                let reason = format!("refused by Discord ({code}): {text}");
                match report(Some(reason.clone()))? {
                    // The refusal is the result: the API learns it from the event.
                    Some(report) => {
                        Ok(Completion::value(json!({ "refused": reason }))
                            .with_outputs(vec![report]))
                    }
                    None => Err(JobFailure::permanent(reason)),
                }
            }
            Err(DiscordError::Unauthorized) => Err(JobFailure::retryable(
                "unauthorized: the bot token was rejected",
            )),
            Err(DiscordError::Retriable(reason)) => {
                // At its last attempt a moderation action still failing ends as a refusal does:
                // the API hears of it in the one MODERATION_ACTION_COMPLETED it is owed.
                let attempt = job.attempts_made.saturating_add(1);
                let last = format!("failed at each of {attempt} attempts: {reason}");
                Err(JobFailure::retryable(reason)
                    .with_outputs_if_final(report(Some(last))?.into_iter().collect()))
            }
            Err(e @ DiscordError::NotExecutable(_)) => Err(JobFailure::permanent(e.to_string())),
        }
    }
}
