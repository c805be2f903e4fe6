//! {{name}}: answers a trigger word in the channel it was written in, and counts how often each
//! member asked.

use guildhost_plugin::types::{Message, SendMessage};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, info};
use serde::Deserialize;

/// The configuration: the manifest's `[config]`, overridden per guild by `UPDATE_CONFIG`.
#[derive(Deserialize)]
struct Settings {
    trigger: String,
    reply: String,
}

struct Handler;

impl Plugin for Handler {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Message::MessageCreated(created) = &msg.message else {
            return Ok(Vec::new());
        };
        let settings: Settings = ctx.config()?;
        if created.content.trim() != settings.trigger {
            return Ok(Vec::new());
        }
        let asked = ctx
            .kv()
            .increment(&format!("asked:{}", created.author_id), 1)?;
        info!(ctx, "{} asked {asked} times", created.author_id);
        Ok(vec![Output::execute(SendMessage::text(
            &created.channel_id,
            &settings.reply,
        ))])
    }
}

guildhost_plugin::export!(Handler);

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
        TestHost::new().with_config(json!({ "trigger": "!ping", "reply": "pong" }))
    }

    #[test]
    fn the_trigger_is_answered_in_its_channel() {
        let host = host();
        let outputs = host.handle::<Handler>(&message("!ping")).unwrap();
        assert_eq!(outputs.len(), 1);
        let Message::SendMessage(sent) = outputs[0].message() else {
            panic!("expected a SEND_MESSAGE, got {:?}", outputs[0].message());
        };
        assert_eq!(sent.channel_id, "2");
        assert_eq!(sent.content.as_deref(), Some("pong"));
    }

    #[test]
    fn other_messages_are_left_alone() {
        assert!(host().handle::<Handler>(&message("hello")).unwrap().is_empty());
    }
}
