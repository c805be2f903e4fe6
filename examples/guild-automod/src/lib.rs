//! A guild's own automod rule: links to blocked hosts are deleted, and every third strike of a
//! member becomes a warning for the moderation plugin to escalate.

use guildhost_plugin::types::{
    AutomodAction, AutomodTriggered, DeleteMessage, Message, Severity, WarnUser,
};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, info};
use serde::Deserialize;

/// The plugin's configuration: manifest defaults, overridden per guild by `UPDATE_CONFIG`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rules {
    blocked_hosts: Vec<String>,
    strikes_before_warning: i64,
}

struct GuildAutomod;

impl Plugin for GuildAutomod {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Message::MessageCreated(created) = &msg.message else {
            return Ok(Vec::new());
        };
        let rules: Rules = ctx.config()?;
        let content = created.content.to_lowercase();
        let Some(host) = rules
            .blocked_hosts
            .iter()
            .find(|host| content.contains(&format!("{}/", host.to_lowercase())))
        else {
            return Ok(Vec::new());
        };
        let strikes = ctx
            .kv()
            .increment(&format!("strikes:{}", created.author_id), 1)?;
        info!(
            ctx,
            "link to {host} by {} (strike {strikes})", created.author_id
        );

        let mut outputs = vec![
            Output::execute(
                DeleteMessage::new(&created.channel_id, &created.message_id)
                    .with_reason(format!("link to {host}")),
            ),
            Output::publish(
                AutomodTriggered::new(
                    "blocked-link",
                    &created.author_id,
                    &created.channel_id,
                    AutomodAction::Delete,
                    Severity::Medium,
                )
                .with_message(&created.message_id),
            ),
        ];
        if rules.strikes_before_warning > 0 && strikes % rules.strikes_before_warning == 0 {
            // Executed requests of this kind go to the moderation plugin, which escalates.
            let bot = msg.user_id().unwrap_or(&created.author_id).to_owned();
            outputs.push(Output::execute(WarnUser::new(
                &created.author_id,
                format!("{strikes} links to blocked hosts"),
                &bot,
            )));
        }
        Ok(outputs)
    }
}

guildhost_plugin::export!(GuildAutomod);

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::serde_json::json;
    use guildhost_plugin::testing::TestHost;
    use guildhost_plugin::types::MessageCreated;

    fn message(content: &str) -> Incoming {
        Incoming::new(MessageCreated::text("3", "2", "1", content)).in_guild("123456789012345678")
    }

    fn host() -> TestHost {
        TestHost::new().with_config(json!({
            "blockedHosts": ["bit.ly"],
            "strikesBeforeWarning": 2,
        }))
    }

    #[test]
    fn a_blocked_link_is_deleted_and_reported() {
        let outputs = host()
            .handle::<GuildAutomod>(&message("see https://BIT.ly/x"))
            .unwrap();
        assert_eq!(outputs.len(), 2);
        assert!(matches!(outputs[0].message(), Message::DeleteMessage(_)));
    }

    #[test]
    fn every_second_strike_warns() {
        let host = host();
        host.handle::<GuildAutomod>(&message("bit.ly/1")).unwrap();
        let outputs = host.handle::<GuildAutomod>(&message("bit.ly/2")).unwrap();
        assert!(matches!(outputs[2].message(), Message::WarnUser(_)));
    }

    #[test]
    fn other_links_pass() {
        let outputs = host()
            .handle::<GuildAutomod>(&message("https://example.com/"))
            .unwrap();
        assert!(outputs.is_empty());
    }
}
