//! The first-party `automod` plugin: checks every MESSAGE_CREATED and MESSAGE_EDITED against
//! the guild's rules — banned keywords with `*` wildcards, regular expressions, allow lists,
//! invite links, mention spam, message-rate spam and caps — and acts on each hit: DELETE_MESSAGE,
//! TIMEOUT_USER or WARN_USER (which the moderation plugin turns into a warning case), plus an
//! AUTOMOD_TRIGGERED event per rule that fired. A clean message produces nothing.
//!
//! Rules come from the guild's `automod` configuration section over the manifest's defaults
//! (see [`config::AutomodConfig`]). Members with an exempt role, exempt channels and (by default)
//! bots and webhooks are never checked. An edit carries no roles, so an author's exemption is
//! remembered from their last message (`exempt:<userId>` in KV).

pub mod config;
pub mod rate;
pub mod rules;
pub mod wildcard;

use std::time::Duration;

use guildhost_plugin::types::{
    AutomodTriggered, DeleteMessage, Mentions, Snowflake, TimeoutUser, WarnUser,
};
use guildhost_plugin::{Context, Error, Incoming, Message, Output, Plugin, info};

use config::{Action, AutomodConfig};
use rules::Hit;

/// Longest audit-log reason Discord accepts, in characters.
const MAX_REASON: usize = 512;
/// Longest offending content copied into AUTOMOD_TRIGGERED, in characters.
const MAX_CONTENT: usize = 2000;

/// The plugin.
pub struct Automod;

/// The message under review, from either event.
struct Reviewed<'a> {
    message_id: &'a Snowflake,
    channel_id: &'a Snowflake,
    author_id: &'a Snowflake,
    content: &'a str,
    /// Only a new message carries mentions, roles and a time for the rate rule.
    created: Option<Created<'a>>,
}

struct Created<'a> {
    mentions: &'a Mentions,
    roles: Option<&'a [Snowflake]>,
    automated: bool,
    at: u64,
}

impl Plugin for Automod {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let reviewed = match &msg.message {
            Message::MessageCreated(m) => Reviewed {
                message_id: &m.message_id,
                channel_id: &m.channel_id,
                author_id: &m.author_id,
                content: &m.content,
                created: Some(Created {
                    mentions: &m.mentions,
                    roles: m.author_roles.as_deref(),
                    automated: m.is_bot == Some(true) || m.is_webhook == Some(true),
                    at: if m.timestamp > 0 {
                        m.timestamp
                    } else {
                        ctx.now()
                    },
                }),
            },
            Message::MessageEdited(m) => Reviewed {
                message_id: &m.message_id,
                channel_id: &m.channel_id,
                author_id: &m.author_id,
                content: &m.new_content,
                created: None,
            },
            _ => return Ok(Vec::new()),
        };
        // Rules, counters and exemptions are per guild; a DM has none of them.
        if msg.guild_id().is_none() {
            return Ok(Vec::new());
        }
        let config = AutomodConfig::load(ctx)?;
        if !config.enabled || is_exempt(ctx, &config, &reviewed)? {
            return Ok(Vec::new());
        }
        let mut hits = rules::content_hits(
            ctx,
            &config,
            reviewed.content,
            reviewed.created.as_ref().map(|c| c.mentions),
        );
        if config.rate.enabled
            && let Some(created) = &reviewed.created
        {
            hits.extend(rate::rate_hit(
                ctx,
                &config.rate,
                reviewed.author_id,
                created.at,
            )?);
        }
        if hits.is_empty() {
            return Ok(Vec::new());
        }
        for hit in &hits {
            info!(
                ctx,
                "rule {} fired on message {} by {}: {}",
                hit.rule,
                reviewed.message_id,
                reviewed.author_id,
                hit.detail
            );
        }
        Ok(outputs(&config, &reviewed, &hits))
    }
}

/// Whether the author or channel is exempt; keeps the author's exemption for their edits.
fn is_exempt(ctx: &Context<'_>, config: &AutomodConfig, msg: &Reviewed<'_>) -> Result<bool, Error> {
    if config.exempt_channels.iter().any(|c| c == msg.channel_id) {
        return Ok(true);
    }
    if config.exempt_roles.is_empty() {
        return Ok(msg
            .created
            .as_ref()
            .is_some_and(|c| c.automated && config.ignore_bots));
    }
    let key = format!("exempt:{}", msg.author_id);
    match &msg.created {
        Some(created) => {
            if created.automated && config.ignore_bots {
                return Ok(true);
            }
            let Some(roles) = created.roles else {
                return Ok(false);
            };
            let exempt = roles.iter().any(|r| config.exempt_roles.contains(r));
            if exempt {
                ctx.kv().set_string(&key, "1")?;
            } else {
                ctx.kv().delete(&key)?;
            }
            Ok(exempt)
        }
        None => Ok(ctx.kv().get(&key)?.is_some()),
    }
}

/// The actions (at most one of each kind) and one AUTOMOD_TRIGGERED per hit.
fn outputs(config: &AutomodConfig, msg: &Reviewed<'_>, hits: &[Hit]) -> Vec<Output> {
    let mut outputs = Vec::new();
    let with = |action: Action| hits.iter().filter(move |h| h.consequence.action == action);
    let reason = |hits: Vec<&Hit>| {
        let parts: Vec<String> = hits
            .iter()
            .map(|h| format!("{} ({})", h.rule, h.detail))
            .collect();
        truncate(&format!("automod: {}", parts.join("; ")), MAX_REASON)
    };

    let deleting: Vec<&Hit> = with(Action::Delete).collect();
    if !deleting.is_empty() {
        outputs.push(Output::execute(
            DeleteMessage::new(msg.channel_id, msg.message_id).with_reason(reason(deleting)),
        ));
    }
    let timing_out: Vec<&Hit> = with(Action::Timeout).collect();
    if let Some(seconds) = timing_out
        .iter()
        .map(|h| h.consequence.timeout_seconds)
        .max()
    {
        outputs.push(Output::execute(TimeoutUser::new(
            msg.author_id,
            Duration::from_secs(seconds),
            reason(timing_out),
            &config.moderator_id,
        )));
    }
    let warning: Vec<&Hit> = with(Action::Warn).collect();
    if let Some(severity) = warning.iter().map(|h| h.consequence.severity).max() {
        outputs.push(Output::execute(
            WarnUser::new(msg.author_id, reason(warning), &config.moderator_id)
                .with_severity(severity.wit()),
        ));
    }
    for hit in hits {
        outputs.push(Output::publish(
            AutomodTriggered::new(
                &hit.rule,
                msg.author_id,
                msg.channel_id,
                hit.consequence.action.wit(),
                hit.consequence.severity.wit(),
            )
            .with_message(msg.message_id)
            .with_content(truncate(msg.content, MAX_CONTENT)),
        ));
    }
    outputs
}

/// `text` cut to at most `max` characters.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    }
}

guildhost_plugin::export!(Automod);

#[cfg(test)]
mod tests;
