// The echo logic, shared by the `echo` and `echo-v2` guests (each tags its outputs with its
// own crate name, so a test can tell which binary handled a message).

use guildhost_plugin::serde_json::json;
use guildhost_plugin::types::{CustomMessage, Message, SendMessage};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, info};

/// The binary that handled the message.
const BINARY: &str = env!("CARGO_PKG_NAME");

/// Replies to `MESSAGE_CREATED` with `prefix` (from the config) and the content; answers every
/// other message with an `ECHOED` event naming the message, the binary and the time.
pub struct Echo;

impl Plugin for Echo {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        info!(
            ctx,
            "{BINARY}: {} {} guild={:?}",
            msg.type_name(),
            msg.envelope.id,
            msg.guild_id()
        );
        if let Message::MessageCreated(created) = &msg.message {
            let prefix: String = ctx
                .config_value("prefix")?
                .unwrap_or_else(|| String::from("echo: "));
            let reply =
                SendMessage::text(&created.channel_id, format!("{prefix}{}", created.content))
                    .replying_to(&created.message_id);
            return Ok(vec![Output::execute(reply)]);
        }
        let echoed = json!({
            "type": msg.type_name(),
            "id": msg.envelope.id,
            "binary": BINARY,
            "now": ctx.now(),
        });
        Ok(vec![Output::publish(CustomMessage::new("ECHOED", &echoed))])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;
    use guildhost_plugin::types::{DeleteMessage, MessageCreated};

    fn created(content: &str) -> MessageCreated {
        MessageCreated::text("3", "2", "1", content)
    }

    #[test]
    fn replies_with_the_configured_prefix() {
        let host = TestHost::new().with_config(json!({ "prefix": ">> " }));
        let outputs = host
            .handle::<Echo>(&Incoming::new(created("hi")).in_guild("9"))
            .unwrap();
        let [Output::Execute(emission)] = outputs.as_slice() else {
            panic!("{outputs:?}")
        };
        let Message::SendMessage(reply) = &emission.message else {
            panic!("{emission:?}")
        };
        assert_eq!(reply.content.as_deref(), Some(">> hi"));
        assert_eq!(host.logs().len(), 1);
    }

    #[test]
    fn answers_other_messages_with_an_echoed_event() {
        let host = TestHost::new().with_now(1234);
        let msg = Incoming::new(DeleteMessage::new("1", "2")).with_id("m-7");
        let outputs = host.handle::<Echo>(&msg).unwrap();
        let Message::Custom(custom) = outputs[0].message() else {
            panic!("{outputs:?}")
        };
        let data: guildhost_plugin::serde_json::Value =
            guildhost_plugin::serde_json::from_str(&custom.data).unwrap();
        assert_eq!(data["id"], "m-7");
        assert_eq!(data["now"], 1234);
        assert_eq!(data["type"], "DELETE_MESSAGE");
    }
}
