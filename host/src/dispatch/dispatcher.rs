//! The handler of the inbound queues: decode the job's message, apply `UPDATE_CONFIG`, call the
//! subscribed plugins and return their replies as the job's outputs (enqueued by the queue in
//! the same script that completes the job).
//!
//! An `INTERACTION_CREATED` goes only to the plugin that declared its command (subscriptions do
//! not matter); one nobody declares is answered, for the member only, that the command is not
//! available, so Discord does not show a failed interaction.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::protocol::{self as p, Message, MessageType, Payload};
use crate::queue::{Completion, Job, JobFailure, JobHandler, NewJob};
use crate::runtime::bindings as w;
use crate::runtime::lanes::Lanes;
use crate::runtime::{GuildContext, LoadedPlugin, Runtime, Scope};

use super::convert;
use super::guild_config::GuildConfigStore;
use super::guild_order::GuildOrder;
use super::outputs::{Route, derived_id, job_options, reply_envelope, reply_job};
use super::routes::{EXECUTE_QUEUE, GATEWAY_QUEUE, executes_unhandled, publish_queue, type_policy};

/// Dispatches jobs of the inbound queues (and the gateway queue) to plugins.
pub struct Dispatcher {
    runtime: Arc<Runtime>,
    lanes: Arc<Lanes>,
    configs: GuildConfigStore,
    config: Arc<Config>,
    order: GuildOrder,
    metrics: Option<Arc<Metrics>>,
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
        Self {
            runtime,
            lanes,
            configs,
            config,
            order: GuildOrder::default(),
            metrics: None,
        }
    }

    /// The same dispatcher, recording each plugin call's duration and failure in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Plugins subscribed to the message that may see it (a guild-scoped plugin only sees its
    /// guild); for an interaction, the one plugin that declared its command.
    fn subscribers(&self, message: &Message) -> Vec<Arc<LoadedPlugin>> {
        let guild = message.envelope.guild_id.map(|g| g.to_string());
        let sees = |plugin: &Arc<LoadedPlugin>| match &plugin.manifest().scope {
            Scope::Global => true,
            Scope::Guild(scope) => guild.as_deref() == Some(scope.as_str()),
        };
        if let Payload::InteractionCreated(interaction) = &message.payload {
            let declaring: Vec<_> = self
                .runtime
                .declaring(&interaction.command_name)
                .into_iter()
                .filter(sees)
                .collect();
            if declaring.len() > 1 {
                tracing::warn!(
                    command = %interaction.command_name,
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
        self.runtime
            .subscribers(message.payload.type_name())
            .into_iter()
            .filter(sees)
            .collect()
    }

    /// The answer to an interaction no loaded plugin declares (a registration left over from a
    /// removed plugin, or not reloaded yet).
    fn not_available(&self, job: &Job, message: &Message) -> Option<NewJob> {
        let Payload::InteractionCreated(interaction) = &message.payload else {
            return None;
        };
        let reply = Message {
            envelope: reply_envelope(&message.envelope, derived_id(&job.queue, &job.id, 0), None),
            payload: Payload::InteractionReply(p::InteractionReply {
                interaction_id: interaction.interaction_id,
                token: interaction.token.clone(),
                content: Some(format!(
                    "/{} is not available right now.",
                    interaction.command_name
                )),
                embeds: None,
                components: None,
                ephemeral: Some(true),
                extra: Default::default(),
            }),
        };
        match reply_job(&self.config, &reply, Route::Execute) {
            Ok(job) => Some(job),
            Err(reason) => {
                tracing::warn!(%reason, "could not answer an undeclared command");
                None
            }
        }
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
            .map_err(|e| JobFailure::retryable(format!("storing the configuration: {e}")))?;
        tracing::info!(guild = %guild, sections = ?written, "guild configuration updated");
        Ok(())
    }

    /// A message no plugin took: commands are executed as they are, events end here.
    fn unhandled(&self, job: &Job, message: &Message) -> Completion {
        let executes = message
            .payload
            .message_type()
            .is_some_and(executes_unhandled);
        let mut outputs = Vec::new();
        if executes {
            outputs.push(
                NewJob::new(EXECUTE_QUEUE, message.payload.type_name(), job.data.clone())
                    .with_opts(job_options(&self.config, EXECUTE_QUEUE)),
            );
        }
        Completion::value(json!({ "plugins": [], "executedAsIs": executes })).with_outputs(outputs)
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

    /// Turns one plugin output into a job, or says why it was dropped.
    fn output_job(
        &self,
        job: &Job,
        incoming: &Message,
        index: usize,
        output: w::Output,
    ) -> Result<NewJob, String> {
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
        // A warning is a request for the moderation plugin, not something Discord executes;
        // it is never routed back in reply to a warning, so replies cannot loop.
        if matches!(message.payload, Payload::WarnUser(_)) && route != Route::Publish {
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
        reply_job(&self.config, &message, route)
    }
}

impl JobHandler for Dispatcher {
    async fn handle(&self, job: &Job) -> Result<Completion, JobFailure> {
        let message = Message::decode_with(job.data.as_bytes(), type_policy(&job.queue))
            .map_err(|e| JobFailure::permanent(format!("invalid message: {e}")))?;
        super::annotate_job_span(&message);
        let turn = self.order.turn(message.envelope.guild_id).await;
        self.apply_config_update(&message).await?;
        let forwarded = self.forward_gateway_event(job, &message);
        let subscribers = self.subscribers(&message);
        if subscribers.is_empty() {
            let mut completion = self.unhandled(job, &message);
            completion.outputs.extend(self.not_available(job, &message));
            completion.outputs.extend(forwarded);
            return Ok(completion);
        }
        let (envelope, wit_message) = convert::to_wit(&message)
            .map_err(|e| JobFailure::permanent(format!("invalid message: {e}")))?;
        let guild = message.envelope.guild_id.map(|g| g.to_string());
        let mut pending = Vec::with_capacity(subscribers.len());
        for plugin in &subscribers {
            let config = match &guild {
                Some(guild) => self
                    .configs
                    .cached_section(guild, plugin.name())
                    .await
                    .map_err(|e| {
                        JobFailure::retryable(format!("reading guild configuration: {e}"))
                    })?,
                None => None,
            };
            let call = self.runtime.submit(
                &self.lanes,
                plugin.name().to_owned(),
                envelope.clone(),
                wit_message.clone(),
                GuildContext { config },
            );
            pending.push((plugin.name().to_owned(), call));
        }
        // Submitted in order: the lanes keep that order from here, so the guild's next job may
        // start while these calls run.
        drop(turn);

        let mut outputs = Vec::new();
        let mut reports = Vec::with_capacity(pending.len());
        let mut failures = Vec::new();
        let mut index = 0;
        for (plugin, call) in pending {
            let outcome = call.await;
            if let (Some(metrics), Ok(result)) = (&self.metrics, &outcome) {
                match result {
                    Ok(done) => {
                        metrics.record_plugin_call(&plugin, done.duration, None);
                        metrics.record_plugin_log_dropped(&plugin, done.dropped_log_lines);
                    }
                    Err(failed) => {
                        metrics.record_plugin_call(&plugin, failed.duration, Some(&failed.error));
                        metrics.record_plugin_log_dropped(&plugin, failed.dropped_log_lines);
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
                    for output in result.outputs {
                        match self.output_job(job, &message, index, output) {
                            Ok(new_job) => outputs.push(new_job),
                            Err(reason) => {
                                tracing::warn!(plugin = %plugin, job_id = %job.id, %reason, "plugin output dropped");
                                dropped.push(json!(reason));
                            }
                        }
                        index += 1;
                    }
                    reports.push(
                        json!({ "plugin": plugin, "version": result.version, "dropped": dropped }),
                    );
                }
                Ok(Err(failure)) => {
                    tracing::warn!(plugin = %plugin, job_id = %job.id, error = %failure, "plugin call failed");
                    reports.push(json!({ "plugin": plugin, "error": failure.to_string() }));
                    failures.push(failure.to_string());
                }
                Err(_) => {
                    let reason =
                        format!("plugin {plugin}: the call was abandoned (runtime shutting down)");
                    reports.push(json!({ "plugin": plugin, "error": reason }));
                    failures.push(reason);
                }
            }
        }
        if failures.len() == subscribers.len() {
            return Err(JobFailure::retryable(failures.join("; ")));
        }
        outputs.extend(forwarded);
        Ok(Completion::value(json!({ "plugins": reports })).with_outputs(outputs))
    }
}
