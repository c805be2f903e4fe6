//! The first-party `notifications` plugin:
//!
//! * USER_NOTIFICATION → a SEND_DM to the target user with an embed styled by the notification's
//!   kind (success, info, warning, error) and its action link; an expired one is dropped.
//! * BROADCAST_NOTIFICATION → a SEND_MESSAGE in each target guild's announcement channel,
//!   mentioning `targetRoles`; nothing when `channels` leaves Discord out.
//!
//! Where broadcasts go: a broadcast in a guild's context (envelope `guildId`) goes to that
//! guild's own `announcementChannel` only. A broadcast without a guild comes from the platform:
//! it goes to `targetGuildId`, or to every guild, through the operator's `announcementChannels`
//! map in the manifest — a map no guild's settings can change for another guild.

pub mod config;
pub mod style;

use guildhost_plugin::types::{
    BroadcastChannel, BroadcastNotification, SendDm, SendMessage, UserNotification,
};
use guildhost_plugin::{Context, Error, Incoming, Message, Output, Plugin, info, warn};

use config::NotificationsConfig;

/// The plugin.
pub struct Notifications;

impl Plugin for Notifications {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        match &msg.message {
            Message::UserNotification(notification) => Ok(user(ctx, notification)),
            Message::BroadcastNotification(broadcast) => {
                let config = NotificationsConfig::load(ctx)?;
                Ok(broadcast_outputs(ctx, &config, msg.guild_id(), broadcast))
            }
            _ => Ok(Vec::new()),
        }
    }
}

fn user(ctx: &Context<'_>, notification: &UserNotification) -> Vec<Output> {
    let notice = &notification.notification;
    let now = ctx.now();
    if notice.expires_at.is_some_and(|at| at <= now) {
        info!(
            ctx,
            "notification {} expired before delivery: dropped", notice.id
        );
        return Vec::new();
    }
    let dm = SendDm {
        user_id: notification.target_user_id.clone(),
        content: None,
        embeds: Some(vec![style::user_embed(notice, now).to_json()]),
        reason: Some(format!("notification {}", notice.id)),
    };
    vec![Output::execute(dm)]
}

fn broadcast_outputs(
    ctx: &Context<'_>,
    config: &NotificationsConfig,
    context_guild: Option<&str>,
    broadcast: &BroadcastNotification,
) -> Vec<Output> {
    let notice = &broadcast.notification;
    if let Some(channels) = &notice.channels
        && !channels.contains(&BroadcastChannel::Discord)
    {
        return Vec::new();
    }
    let targets: Vec<(String, String)> = match (context_guild, &broadcast.target_guild_id) {
        (Some(guild), target) => {
            if target.as_deref().is_some_and(|t| t != guild) {
                warn!(
                    ctx,
                    "broadcast in guild {guild} targets another guild: only guild-less broadcasts reach other guilds"
                );
                return Vec::new();
            }
            config
                .announcement_channel
                .iter()
                .map(|channel| (guild.to_owned(), channel.clone()))
                .collect()
        }
        (None, Some(target)) => config
            .announcement_channels
            .get(target)
            .map(|channel| (target.clone(), channel.clone()))
            .into_iter()
            .collect(),
        (None, None) => config
            .announcement_channels
            .iter()
            .map(|(guild, channel)| (guild.clone(), channel.clone()))
            .collect(),
    };
    if targets.is_empty() {
        warn!(
            ctx,
            "broadcast `{}`: no announcement channel configured for its target", notice.title
        );
        return Vec::new();
    }
    let embed = style::broadcast_embed(notice, ctx.now());
    let mentions = broadcast
        .target_roles
        .as_ref()
        .filter(|roles| !roles.is_empty())
        .map(|roles| {
            roles
                .iter()
                .map(|r| format!("<@&{r}>"))
                .collect::<Vec<_>>()
                .join(" ")
        });
    targets
        .into_iter()
        .map(|(guild, channel)| {
            let mut message = SendMessage::embed(channel, &embed);
            message.content = mentions.clone();
            Output::execute(message).for_guild(guild)
        })
        .collect()
}

guildhost_plugin::export!(Notifications);

#[cfg(test)]
mod tests;
