//! The handler of the inbound queues: decode the job's message, apply `UPDATE_CONFIG`, call the
//! subscribed plugins and return their replies as the job's outputs (enqueued by the queue in
//! the same script that completes the job).
//!
//! An `INTERACTION_CREATED` goes only to the plugin that declared its command (subscriptions do
//! not matter); one nobody declares is answered, for the member only, that the command is not
//! available, so Discord does not show a failed interaction.
//!
//! Before a reply becomes a job it passes the containment checks, in order: it converts to a
//! valid message; when a guild-scoped plugin made it (or the chain it answers passed through
//! one) every target it names belongs to that guild ([`TargetDirectory`]); and it fits the
//! [`OutputBudget`]. A reply that fails one is dropped with the reason (in the job's
//! returnvalue, the log and `guildhost_plugin_outputs_refused`), and a target or budget refusal
//! counts against the plugin's breaker for that guild. Every reply carries the [`Causation`]
//! stamp of the message it answers, one level deeper.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::config::{Config, Unhandled};
use crate::metrics::Metrics;
use crate::protocol::{self as p, Message, MessageType, Payload, QueueName};
use crate::queue::{Completion, Job, JobFailure, JobHandler, NewJob};
use crate::runtime::bindings as w;
use crate::runtime::lanes::Lanes;
use crate::runtime::{GuildContext, LoadedPlugin, PluginError, Runtime, Scope};

use super::budget::{Grant, OutputBudget, Refusal};
use super::causation::Causation;
use super::command_job::{CommandJobs, Plan};
use super::convert;
use super::custom_ids;
use super::guild_config::GuildConfigStore;
use super::guild_order::GuildOrder;
use super::outputs::{Route, derived_id, job_options, reply_envelope, reply_job};
use super::redis_kv::KvGuilds;
use super::routes::{
    EXECUTE_QUEUE, GATEWAY_QUEUE, executes_unhandled, is_command_queue, publish_queue, type_policy,
};
use super::targets::{TargetDirectory, TargetError};

/// Dispatches jobs of the inbound queues (and the gateway queue) to plugins.
pub struct Dispatcher {
    runtime: Arc<Runtime>,
    lanes: Arc<Lanes>,
    configs: GuildConfigStore,
    config: Arc<Config>,
    order: GuildOrder,
    metrics: Option<Arc<Metrics>>,
    targets: Arc<TargetDirectory>,
    budget: OutputBudget,
    commands: Option<CommandJobs>,
    kv_guilds: Option<KvGuilds>,
}

/// A plugin call that failed, as the job's outcome sees it.
struct Failed {
    reason: String,
    /// The plugin said no attempt can help.
    is_final: bool,
    /// Not the plugin's fault: how long to wait before trying again.
    wait: Option<Duration>,
}

/// A plugin reply on its way to becoming a job.
struct Reply {
    message: Message,
    route: Route,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher calling plugins of `runtime` on `lanes`.
    pub fn new(
        runtime: Arc<Runtime>,
        lanes: Arc<Lanes>,
        configs: GuildConfigStore,
        config: Arc<Config>,
    ) -> Self {
        let budget = OutputBudget::new(config.plugins.budget.clone(), None);
        Self {
            runtime,
            lanes,
            configs,
            config,
            order: GuildOrder::default(),
            metrics: None,
            targets: Arc::default(),
            budget,
            commands: None,
            kv_guilds: None,
        }
    }

    /// The same dispatcher, checking reply targets with `targets` (by default a directory that
    /// knows only what the gateway queue shows it and refuses the rest).
    pub fn with_targets(mut self, targets: Arc<TargetDirectory>) -> Self {
        self.targets = targets;
        self
    }

    /// The same dispatcher under `budget` (by default the configured one, with the pending
    /// delayed cap not enforced for want of a Redis connection).
    pub fn with_budget(mut self, budget: OutputBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The same dispatcher, carrying out the API's command jobs itself (see `command_job`):
    /// without it, their replies go to the execution queue and the job completes at once.
    pub fn with_commands(mut self, commands: CommandJobs) -> Self {
        self.commands = Some(commands);
        self
    }

    /// The same dispatcher, sending work addressed to every guild (a cleanup with no guild) to
    /// each guild a plugin holds data for, as `kv_guilds` lists them (without it, such work
    /// reaches each plugin once, with no guild).
    pub fn with_kv_guilds(mut self, kv_guilds: KvGuilds) -> Self {
        self.kv_guilds = Some(kv_guilds);
        self
    }

    /// The same dispatcher, recording each plugin call's duration and failure in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// The prefix `plugin`'s `custom_id`s must carry: its own name, or for a guild's store
    /// plugin whose name the operator's plugin also has, its served name (the short one routes
    /// to the operator's plugin).
    fn custom_id_prefix<'a>(&self, plugin: &'a LoadedPlugin) -> &'a str {
        let authored = plugin.authored_name();
        if authored != plugin.name() && self.runtime.registry().get(authored).is_some() {
            plugin.name()
        } else {
            authored
        }
    }

    /// Plugins subscribed to the message that may see it (a guild-scoped plugin only sees its
    /// guild); for an interaction, the one plugin it belongs to: the one that declared its
    /// command, or the one whose name prefixes the component's or the modal's `customId`.
    fn subscribers(&self, message: &Message) -> Vec<Arc<LoadedPlugin>> {
        let guild = message.envelope.guild_id.map(|g| g.to_string());
        let sees = |plugin: &Arc<LoadedPlugin>| match &plugin.manifest().scope {
            Scope::Global => true,
            Scope::Guild(scope) => guild.as_deref() == Some(scope.as_str()),
        };
        if let Payload::InteractionCreated(interaction) = &message.payload {
            if !interaction.kind.is_command() {
                // The operator's plugin of that name, else the guild's own store plugin
                // (`<name>@<guild>`): a guild's plugin never takes the operator's clicks.
                let registry = self.runtime.registry();
                let owner = interaction
                    .custom_id
                    .as_deref()
                    .and_then(custom_ids::owner)
                    .and_then(|name| {
                        registry.get(name).or_else(|| {
                            guild
                                .as_deref()
                                .and_then(|guild| registry.get(&format!("{name}@{guild}")))
                        })
                    });
                return owner.filter(sees).into_iter().collect();
            }
            let command = interaction.command_name.as_deref().unwrap_or_default();
            let declaring: Vec<_> = self
                .runtime
                .declaring(command)
                .into_iter()
                .filter(sees)
                .collect();
            if declaring.len() > 1 {
                tracing::warn!(
                    command,
                    plugins = ?declaring.iter().map(|p| p.name()).collect::<Vec<_>>(),
                    "several plugins declare this command; the guild's own (else the first) answers"
                );
            }
            // The guild's own plugin over a global one: its registration is the guild's.
            let chosen = declaring
                .iter()
                .find(|p| matches!(p.manifest().scope, Scope::Guild(_)))
                .or(declaring.first())
                .cloned();
            return chosen.into_iter().collect();
        }
        let mut subscribers = self.runtime.subscribers(message.payload.type_name());
        // A scheduled task also reaches the plugins subscribed to its kind alone
        // (`SCHEDULED_TASK:BACKUP`), so a task nobody takes is unhandled, not silently done.
        if let Payload::ScheduledTask(task) = &message.payload
            && let Some(kind) = serde_json::to_value(task.task_type)
                .ok()
                .as_ref()
                .and_then(Value::as_str)
        {
            for plugin in self.runtime.subscribers(&format!("SCHEDULED_TASK:{kind}")) {
                if !subscribers.iter().any(|p| p.name() == plugin.name()) {
                    subscribers.push(plugin);
                }
            }
        }
        subscribers.into_iter().filter(sees).collect()
    }

    /// The answer to a command no loaded plugin declares (a registration left over from a
    /// removed plugin, or not reloaded yet): for the member only, so it is not left to fail; for
    /// autocomplete, no choices. A component or modal no plugin owns is left to the API, which
    /// hears of it on `discord:events` (the host's silent deferral keeps it from failing).
    fn not_available(&self, job: &Job, message: &Message) -> Option<NewJob> {
        let Payload::InteractionCreated(interaction) = &message.payload else {
            return None;
        };
        let command = interaction.command_name.as_ref()?;
        let mut answer = p::InteractionReply {
            interaction_id: interaction.interaction_id,
            token: interaction.token.clone(),
            response: None,
            content: Some(format!("/{command} is not available right now.")),
            embeds: None,
            components: None,
            ephemeral: Some(true),
            custom_id: None,
            title: None,
            choices: None,
            extra: Default::default(),
        };
        if interaction.kind == p::InteractionKind::Autocomplete {
            answer.response = Some(p::ReplyKind::Autocomplete);
            answer.content = None;
            answer.ephemeral = None;
            answer.choices = Some(Vec::new());
        }
        let reply = Message {
            envelope: reply_envelope(&message.envelope, derived_id(&job.queue, &job.id, 0), None),
            payload: Payload::InteractionReply(answer),
        };
        match reply_job(&self.config, &reply, Route::Execute) {
            Ok(job) => Some(job),
            Err(reason) => {
                tracing::warn!(%reason, "could not answer an interaction no plugin takes");
                None
            }
        }
    }

    /// The message as `plugin` gets it: as it is, or, for a cleanup addressed to every guild
    /// (`CLEANUP_EXPIRED_CASES` with no guild), one copy per guild the plugin holds data for,
    /// each addressed to its guild, since a plugin's store is per guild.
    async fn copies_for(
        &self,
        plugin: &LoadedPlugin,
        message: &Arc<Message>,
    ) -> Result<Vec<Arc<Message>>, JobFailure> {
        let every_guild = matches!(message.payload, Payload::CleanupExpiredCases(_))
            && message.envelope.guild_id.is_none();
        let Some(kv_guilds) = self.kv_guilds.as_ref().filter(|_| every_guild) else {
            return Ok(vec![message.clone()]);
        };
        let guilds = kv_guilds.of(plugin.name()).await.map_err(|e| {
            host_trouble(format!(
                "listing the guilds {} has data for: {e}",
                plugin.name()
            ))
        })?;
        let mut copies = Vec::with_capacity(guilds.len());
        for guild in guilds {
            // Only snowflakes name guilds; anything else in the set is not a guild's store.
            let Ok(guild) = guild.parse::<p::Snowflake>() else {
                continue;
            };
            let mut copy = Message::clone(message);
            copy.envelope.guild_id = Some(guild);
            if let Payload::CleanupExpiredCases(cleanup) = &mut copy.payload {
                cleanup.guild_id = Some(guild);
            }
            copies.push(Arc::new(copy));
        }
        Ok(copies)
    }

    async fn apply_config_update(&self, message: &Message) -> Result<(), JobFailure> {
        let Payload::UpdateConfig(update) = &message.payload else {
            return Ok(());
        };
        let guild = message
            .envelope
            .guild_id
            .ok_or_else(|| JobFailure::permanent("guildId: is required for UPDATE_CONFIG"))?;
        let written = self
            .configs
            .apply_update(
                &guild.to_string(),
                &update.config.0,
                update.section.as_deref(),
            )
            .await
            .map_err(|e| host_trouble(format!("storing the configuration: {e}")))?;
        tracing::info!(guild = %guild, sections = ?written, "guild configuration updated");
        Ok(())
    }

    /// A message no plugin took: commands are executed as they are; what the host handles
    /// itself (configuration, gateway events, which go to the API anyway) ends here; anything
    /// else follows the queue's `unhandled` rule — never completed as if handled. `owed` (a
    /// notification's dashboard copy) goes out whatever the rule does.
    fn unhandled(
        &self,
        job: &Job,
        message: &Message,
        owed: Vec<NewJob>,
    ) -> Result<Completion, JobFailure> {
        let executes = message
            .payload
            .message_type()
            .is_some_and(executes_unhandled);
        if executes {
            let execute = NewJob::new(EXECUTE_QUEUE, message.payload.type_name(), job.data.clone())
                .with_opts(job_options(&self.config, EXECUTE_QUEUE));
            return Ok(
                Completion::value(json!({ "plugins": [], "executedAsIs": true }))
                    .with_outputs(std::iter::once(execute).chain(owed).collect()),
            );
        }
        let handled_here = &*job.queue == GATEWAY_QUEUE
            || matches!(message.payload, Payload::UpdateConfig(_))
            || (!owed.is_empty() && !wants_discord(message));
        if handled_here {
            return Ok(
                Completion::value(json!({ "plugins": [], "executedAsIs": false }))
                    .with_outputs(owed),
            );
        }
        let queue = &*job.queue;
        let type_name = match &message.payload {
            Payload::ScheduledTask(task) => format!(
                "SCHEDULED_TASK:{}",
                serde_json::to_value(task.task_type)
                    .ok()
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or("?")
            ),
            other => other.type_name().to_owned(),
        };
        match self.config.queue(queue).unhandled {
            Unhandled::DeadLetter => {
                if let Some(metrics) = &self.metrics {
                    metrics.record_unhandled(job, "dead_letter");
                }
                Err(JobFailure::permanent(format!(
                    "unhandled: no plugin takes {type_name} on {queue} and guildhost does not                      execute it as it is (the queue's rule is unhandled = \"dead-letter\"; load a \
                     plugin that subscribes to it, or set [queues.\"{queue}\"] unhandled = \
                     {{ forward = \"<queue>\" }}, or consume = false)"
                ))
                .with_outputs_if_final(owed))
            }
            Unhandled::Forward(target) => {
                if let Some(metrics) = &self.metrics {
                    metrics.record_unhandled(job, "forward");
                }
                let forward = NewJob::new(target.as_str(), job.name.as_str(), job.data.clone())
                    .with_opts(job_options(&self.config, &target));
                Ok(
                    Completion::value(json!({ "plugins": [], "forwardedTo": target }))
                        .with_outputs(std::iter::once(forward).chain(owed).collect()),
                )
            }
        }
    }

    /// The dashboard's part of a notification, forwarded unchanged to the API's queue: every
    /// `USER_NOTIFICATION`, and a `BROADCAST_NOTIFICATION` whose `channels` name `DASHBOARD`
    /// (or name none: everywhere).
    fn dashboard_copy(&self, job: &Job, message: &Message) -> Option<NewJob> {
        if &*job.queue != QueueName::Notifications.as_str() {
            return None;
        }
        let for_dashboard = match &message.payload {
            Payload::UserNotification(_) => true,
            Payload::BroadcastNotification(broadcast) => broadcast
                .notification
                .channels
                .as_ref()
                .is_none_or(|channels| channels.contains(&p::BroadcastChannel::Dashboard)),
            _ => false,
        };
        let queue = &self.config.notifications.dashboard_queue;
        for_dashboard.then(|| {
            NewJob::new(queue.as_str(), job.name.as_str(), job.data.clone())
                .with_opts(job_options(&self.config, queue))
        })
    }

    /// Gateway events also go to the API, whatever the plugins do with them.
    fn forward_gateway_event(&self, job: &Job, message: &Message) -> Option<NewJob> {
        if &*job.queue != GATEWAY_QUEUE {
            return None;
        }
        let queue = message.payload.message_type().and_then(publish_queue)?;
        Some(
            NewJob::new(queue, message.payload.type_name(), job.data.clone())
                .with_opts(job_options(&self.config, queue)),
        )
    }

    /// Turns one plugin output into the message it stands for, or says why it was dropped.
    fn reply(
        &self,
        job: &Job,
        incoming: &Message,
        index: usize,
        output: w::Output,
    ) -> Result<Reply, String> {
        let (wit_message, target, route) = match output {
            w::Output::Execute(e) => (e.message, e.guild_id, Route::Execute),
            w::Output::Publish(e) => (e.message, e.guild_id, Route::Publish),
            w::Output::ExecuteAfter(e) => (
                e.message,
                e.guild_id,
                Route::ExecuteAfter {
                    delay_ms: e.delay_ms,
                },
            ),
        };
        let payload = convert::payload_from_wit(wit_message).map_err(|e| e.to_string())?;
        let guild = target
            .map(|g| {
                g.parse::<p::Snowflake>()
                    .map_err(|_| format!("guildId: must be a snowflake, got {g:?}"))
            })
            .transpose()?;
        let id = derived_id(&job.queue, &job.id, index);
        let message = Message {
            envelope: reply_envelope(&incoming.envelope, id, guild),
            payload,
        };
        Ok(Reply { message, route })
    }

    /// The job carrying a reply that passed every check.
    fn reply_job(&self, incoming: &Message, reply: &Reply) -> Result<NewJob, String> {
        let message = &reply.message;
        // A warning is a request for the moderation plugin, not something Discord executes;
        // it is never routed back in reply to a warning, so replies cannot loop.
        if matches!(message.payload, Payload::WarnUser(_)) && reply.route != Route::Publish {
            if matches!(incoming.payload, Payload::WarnUser(_)) {
                return Err("WARN_USER in reply to WARN_USER would loop".to_owned());
            }
            let queue = MessageType::WarnUser.queue().as_str();
            let data = message
                .to_validated_json_string()
                .map_err(|e| e.to_string())?;
            return Ok(
                NewJob::new(queue, "WARN_USER", data).with_opts(job_options(&self.config, queue))
            );
        }
        reply_job(&self.config, message, reply.route)
    }

    /// Turns one plugin's outputs into jobs: converted, scope-checked, within budget and
    /// stamped; returns the jobs and the reasons for what was dropped. `index` numbers the
    /// outputs of the whole job (their ids derive from it).
    async fn admit(
        &self,
        job: &Job,
        incoming: &Message,
        causation: &Causation,
        plugin: &LoadedPlugin,
        outputs: Vec<w::Output>,
        index: &mut usize,
    ) -> Result<(Vec<NewJob>, Vec<String>), JobFailure> {
        let first = *index;
        *index += outputs.len();
        let mut drops = Drops {
            plugin: plugin.name(),
            job_id: &job.id,
            metrics: self.metrics.as_deref(),
            reasons: Vec::new(),
            misbehaved: None,
        };
        let guild = incoming.envelope.guild_id.map(|g| g.to_string());
        if outputs.is_empty() {
            return Ok((Vec::new(), drops.reasons));
        }
        let plugin_guild = match &plugin.manifest().scope {
            Scope::Guild(guild) => guild.parse::<p::Snowflake>().ok(),
            Scope::Global => None,
        };
        let stamp = causation.reply(plugin_guild);
        if let Err(refusal) = self.budget.depth(causation) {
            drops.refuse_for(&refusal, outputs.len());
            plugin.record_misbehaviour(guild.as_deref(), &refusal.to_string());
            return Ok((Vec::new(), drops.reasons));
        }
        let mut replies = Vec::with_capacity(outputs.len());
        for (offset, output) in outputs.into_iter().enumerate() {
            match self.reply(job, incoming, first + offset, output) {
                Ok(reply) => match custom_ids::check(self.custom_id_prefix(plugin), &reply.message)
                {
                    Ok(()) => replies.push(reply),
                    Err(reason) => {
                        let reason = format!("{}: {reason}", reply.message.payload.type_name());
                        drops.refuse("custom_id", 1, reason, true);
                    }
                },
                Err(reason) => drops.refuse("invalid", 1, reason, false),
            }
        }
        if let Some(scope) = stamp.scope {
            let mut inside = Vec::with_capacity(replies.len());
            for reply in replies {
                match self.targets.check(scope, &reply.message).await {
                    Ok(()) => inside.push(reply),
                    Err(TargetError::Refused(reason)) => {
                        let reason = format!("{}: {reason}", reply.message.payload.type_name());
                        drops.refuse("target", 1, reason, true);
                    }
                    Err(unavailable @ TargetError::Unavailable(_)) => {
                        return Err(host_trouble(unavailable.to_string()));
                    }
                }
            }
            replies = inside;
        }
        let chain = self.budget.chain(causation, replies.len());
        drops.trim(&mut replies, chain);
        // The rate and the pending cap hold for guild-scoped plugins, per guild.
        if let (Some(plugin_guild), false) = (plugin_guild, replies.is_empty()) {
            let rate = self.budget.rate(plugin.name(), plugin_guild, replies.len());
            drops.trim(&mut replies, rate);
            let delayed: Vec<(String, u64)> = replies
                .iter()
                .filter_map(|reply| match reply.route {
                    Route::ExecuteAfter { delay_ms } => Some((
                        reply.message.envelope.id.clone(),
                        u64::try_from(p::Timestamp::now().as_millis())
                            .unwrap_or(0)
                            .saturating_add(delay_ms),
                    )),
                    _ => None,
                })
                .collect();
            if !delayed.is_empty() {
                let granted = self
                    .budget
                    .pending_delayed(plugin.name(), plugin_guild, &delayed)
                    .await
                    .map_err(|e| host_trouble(format!("counting pending delayed outputs: {e}")))?;
                let refused: std::collections::HashSet<&str> = delayed
                    .iter()
                    .zip(&granted)
                    .filter(|(_, granted)| !**granted)
                    .map(|((id, _), _)| id.as_str())
                    .collect();
                if !refused.is_empty() {
                    let count = refused.len();
                    let refused: std::collections::HashSet<String> =
                        refused.into_iter().map(str::to_owned).collect();
                    replies.retain(|reply| !refused.contains(&reply.message.envelope.id));
                    drops.refuse_for(&self.budget.pending_delayed_refusal(), count);
                }
            }
        }
        let mut jobs = Vec::with_capacity(replies.len());
        for mut reply in replies {
            stamp.stamp(&mut reply.message.envelope);
            match self.reply_job(incoming, &reply) {
                Ok(new_job) => jobs.push(new_job),
                Err(reason) => drops.refuse("invalid", 1, reason, false),
            }
        }
        if let Some(reason) = &drops.misbehaved {
            plugin.record_misbehaviour(guild.as_deref(), reason);
        }
        Ok((jobs, drops.reasons))
    }
}

/// A cleanup names its guild in `data.guildId` (the seed's field) or in the envelope; the
/// plugins read the envelope's, so a guild named only in the data is set there too.
fn address_cleanup(message: &mut Message) -> Result<(), JobFailure> {
    let Payload::CleanupExpiredCases(cleanup) = &message.payload else {
        return Ok(());
    };
    match (message.envelope.guild_id, cleanup.guild_id) {
        (None, Some(guild)) => message.envelope.guild_id = Some(guild),
        (Some(envelope), Some(data)) if envelope != data => {
            return Err(JobFailure::permanent(format!(
                "data.guildId: must be the envelope's guildId ({envelope}) when both are set, got {data}"
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Whether a message asks for something on Discord's side (a notification that names only the
/// dashboard does not).
fn wants_discord(message: &Message) -> bool {
    match &message.payload {
        Payload::BroadcastNotification(broadcast) => broadcast
            .notification
            .channels
            .as_ref()
            .is_none_or(|channels| channels.contains(&p::BroadcastChannel::Discord)),
        _ => true,
    }
}

/// The outputs of one plugin call the host dropped, and whether any drop is held against the
/// plugin (a target outside its guild or a budget exceeded, not an output it got wrong).
struct Drops<'a> {
    plugin: &'a str,
    job_id: &'a str,
    metrics: Option<&'a Metrics>,
    reasons: Vec<String>,
    misbehaved: Option<String>,
}

impl Drops<'_> {
    fn refuse(&mut self, label: &'static str, count: usize, reason: String, misbehaviour: bool) {
        tracing::warn!(plugin = %self.plugin, job_id = %self.job_id, %reason, count, "plugin output dropped");
        if let Some(metrics) = self.metrics {
            metrics.record_outputs_refused(self.plugin, label, count as u64);
        }
        if misbehaviour && self.misbehaved.is_none() {
            self.misbehaved = Some(reason.clone());
        }
        self.reasons.push(reason);
    }

    fn refuse_for(&mut self, refusal: &Refusal, count: usize) {
        self.refuse(refusal.label(), count, refusal.to_string(), true);
    }

    /// Keeps the replies a budget granted and drops the rest.
    fn trim(&mut self, replies: &mut Vec<Reply>, grant: Grant) {
        if let Some(refusal) = grant.refusal {
            let cut = replies.len().saturating_sub(grant.granted);
            replies.truncate(grant.granted);
            self.refuse_for(&refusal, cut);
        }
    }
}

/// How long a job waits after trouble that is not its own (Redis or Discord unavailable).
const HOST_TROUBLE_DELAY: Duration = Duration::from_secs(2);

/// Bounds on how long a suspended plugin's job waits for it: at least this long per wait (a
/// breaker about to close is tried again at once otherwise) ...
const MIN_SUSPENSION_WAIT: Duration = Duration::from_millis(500);
/// ... and at most this long per wait, so a plugin resumed early is not left idle.
const MAX_SUSPENSION_WAIT: Duration = Duration::from_secs(60);

/// A job older than this is no longer postponed: its failures use attempts again, so trouble
/// that never ends still ends in the dead letters instead of waiting forever.
const MAX_POSTPONED_AGE: Duration = Duration::from_secs(60 * 60);

/// The note saying a job's events were forwarded (by a failed attempt, see `handle`).
const FORWARDED_NOTE: &str = "forwarded";

/// A failure of what the host depends on (Redis, Discord's API), not of the job: it waits and
/// is tried again without using an attempt.
fn host_trouble(reason: String) -> JobFailure {
    JobFailure::postponed(reason, HOST_TROUBLE_DELAY)
}

/// Whether a failed plugin call is the host's trouble or the plugin's suspension rather than
/// the job's failure, and how long to wait before trying again.
fn wait_for(error: &PluginError) -> Option<Duration> {
    match error {
        PluginError::Suspended { remaining, .. } => {
            Some((*remaining).clamp(MIN_SUSPENSION_WAIT, MAX_SUSPENSION_WAIT))
        }
        PluginError::Unavailable { .. } => Some(HOST_TROUBLE_DELAY),
        _ => None,
    }
}

impl JobHandler for Dispatcher {
    async fn handle(&self, job: &Job) -> Result<Completion, JobFailure> {
        self.dispatch(job).await.map_err(|mut failure| {
            // From when the job was due (a delayed job, a repeat iteration), not when added.
            let age = job
                .timestamp
                .map(|created| created.saturating_add(job.delay.unwrap_or(0).max(0)))
                .map(|due| crate::queue::now_ms().saturating_sub(due))
                .unwrap_or(0);
            if failure.postpone.is_some()
                && u128::try_from(age).unwrap_or(0) > MAX_POSTPONED_AGE.as_millis()
            {
                failure.postpone = None;
            }
            failure
        })
    }
}

impl Dispatcher {
    async fn dispatch(&self, job: &Job) -> Result<Completion, JobFailure> {
        let mut message = Message::decode_with(job.data.as_bytes(), type_policy(&job.queue))
            .map_err(|e| JobFailure::permanent(format!("invalid message: {e}")))?;
        address_cleanup(&mut message)?;
        super::annotate_job_span(&message);
        if &*job.queue == GATEWAY_QUEUE {
            self.targets.learn(&message);
        }
        // Places in the guild's lines are taken now, in the order jobs were taken: one for the
        // plugin calls, one for a command job's steps (see `command_job`).
        let guild = message.envelope.guild_id;
        let dispatch_place = self.order.place(guild);
        let commands = self
            .commands
            .as_ref()
            .filter(|_| is_command_queue(&job.queue));
        let mut step_place = None;
        if let Some(commands) = commands {
            // The API's command: resumed from its record on a retry, without the plugins.
            match commands.resume(job, commands.place(guild)).await {
                Ok(resumed) => return resumed,
                Err(place) => step_place = Some(place),
            }
        }
        let turn = dispatch_place.turn().await;
        self.apply_config_update(&message).await?;
        // What goes to the API whatever the plugins do: with the completion, or, when every
        // plugin failed, with the failed attempt (noted, so a later attempt does not repeat it).
        let owed_anyway = !job.notes.contains_key(FORWARDED_NOTE);
        let forwarded = self
            .forward_gateway_event(job, &message)
            .filter(|_| owed_anyway);
        let dashboard = self.dashboard_copy(job, &message).filter(|_| owed_anyway);
        let subscribers = self.subscribers(&message);
        if subscribers.is_empty() {
            let owed: Vec<NewJob> = forwarded
                .into_iter()
                .chain(dashboard)
                .chain(self.not_available(job, &message))
                .collect();
            let mut completion = self.unhandled(job, &message, owed)?;
            drop(turn);
            return match (commands, step_place) {
                (Some(commands), Some(place)) => {
                    let plugins = completion.return_value["plugins"].take();
                    let plan = Plan::from_replies(completion.outputs, plugins);
                    commands
                        .start(job, plan.derived_from_the_job(), place)
                        .await
                }
                _ => Ok(completion),
            };
        }
        // Each plugin gets the message, or, for work addressed to every guild, one copy per
        // guild it holds data for.
        let mut calls: Vec<(Arc<LoadedPlugin>, Arc<Message>)> = Vec::new();
        let message = Arc::new(message);
        for plugin in &subscribers {
            for copy in self.copies_for(plugin, &message).await? {
                calls.push((plugin.clone(), copy));
            }
        }
        let mut pending = Vec::with_capacity(calls.len());
        for (plugin, incoming) in calls {
            let (envelope, wit_message) = convert::to_wit(&incoming)
                .map_err(|e| JobFailure::permanent(format!("invalid message: {e}")))?;
            let config = match incoming.envelope.guild_id {
                Some(guild) => self
                    .configs
                    .cached_section(&guild.to_string(), plugin.authored_name())
                    .await
                    .map_err(|e| host_trouble(format!("reading guild configuration: {e}")))?,
                None => None,
            };
            let call = self.runtime.submit(
                &self.lanes,
                plugin.name().to_owned(),
                envelope,
                wit_message,
                GuildContext { config },
            );
            pending.push((plugin, incoming, call));
        }
        // Submitted in order: the lanes keep that order from here, so the guild's next job may
        // start while these calls run (a command job's steps wait for their own place).
        drop(turn);

        let causation = Causation::of(&message.envelope);
        let mut outputs = Vec::new();
        let mut reports = Vec::with_capacity(pending.len());
        let mut failures = Vec::new();
        let mut index = 0;
        let calls = pending.len();
        for (loaded, incoming, call) in pending {
            let plugin = loaded.name();
            let outcome = call.await;
            if let (Some(metrics), Ok(result)) = (&self.metrics, &outcome) {
                match result {
                    Ok(done) => {
                        metrics.record_plugin_call(plugin, done.duration, None);
                        metrics.record_plugin_log_dropped(plugin, done.dropped_log_lines);
                    }
                    Err(failed) => {
                        metrics.record_plugin_call(plugin, failed.duration, Some(&failed.error));
                        metrics.record_plugin_log_dropped(plugin, failed.dropped_log_lines);
                    }
                }
            }
            match outcome {
                Ok(Ok(result)) => {
                    let mut dropped: Vec<Value> = result
                        .dropped
                        .iter()
                        .map(|d| json!(d.reason.to_string()))
                        .collect();
                    let (jobs, refused) = self
                        .admit(
                            job,
                            &incoming,
                            &causation,
                            &loaded,
                            result.outputs,
                            &mut index,
                        )
                        .await?;
                    outputs.extend(jobs);
                    dropped.extend(refused.into_iter().map(Value::from));
                    reports.push(
                        json!({ "plugin": plugin, "version": result.version, "dropped": dropped }),
                    );
                }
                Ok(Err(failure)) => {
                    tracing::warn!(plugin = %plugin, job_id = %job.id, error = %failure, "plugin call failed");
                    reports.push(json!({ "plugin": plugin, "error": failure.to_string() }));
                    failures.push(Failed {
                        reason: failure.to_string(),
                        is_final: failure.error.is_final(),
                        wait: wait_for(&failure.error),
                    });
                }
                Err(_) => {
                    let reason =
                        format!("plugin {plugin}: the call was abandoned (runtime shutting down)");
                    reports.push(json!({ "plugin": plugin, "error": reason }));
                    failures.push(Failed {
                        reason,
                        is_final: false,
                        wait: Some(HOST_TROUBLE_DELAY),
                    });
                }
            }
        }
        if calls > 0 && failures.len() == calls {
            // Every plugin failed: another attempt may help unless each of them said it cannot
            // (`retryable: false`), in which case the job fails at once into the dead letters.
            // When none of them failed by its own fault (suspended, or the host's trouble), the
            // job waits for them without using an attempt. What the API is owed goes out now.
            let all_final = failures.iter().all(|failed| failed.is_final);
            let wait = failures
                .iter()
                .map(|failed| failed.wait)
                .try_fold(Duration::ZERO, |longest, wait| wait.map(|w| longest.max(w)));
            let reason = failures
                .into_iter()
                .map(|failed| failed.reason)
                .collect::<Vec<_>>()
                .join("; ");
            let failure = match wait {
                _ if all_final => JobFailure::permanent(reason),
                Some(wait) => JobFailure::postponed(reason, wait),
                None => JobFailure::retryable(reason),
            };
            let owed: Vec<NewJob> = forwarded.into_iter().chain(dashboard).collect();
            return Err(if owed.is_empty() {
                failure
            } else {
                failure.with_outputs_now(owed, &[(FORWARDED_NOTE, "1")])
            });
        }
        outputs.extend(forwarded);
        outputs.extend(dashboard);
        match (commands, step_place) {
            (Some(commands), Some(place)) => {
                let plan = Plan::from_replies(outputs, json!(reports));
                commands.start(job, plan, place).await
            }
            _ => Ok(Completion::value(json!({ "plugins": reports })).with_outputs(outputs)),
        }
    }
}
