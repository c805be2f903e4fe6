//! Test guest: the shape of a realistic automod call, for the benchmark. On `MESSAGE_CREATED`
//! it reads two KV keys (the author's strike count and the channel's slow-mode flag), logs one
//! line, and — when the content contains a banned word — returns two outputs: delete the message
//! and publish `AUTOMOD_TRIGGERED`. It never writes, so repeated calls cost the same.

use guildhost_plugin::types::{AutomodAction, AutomodTriggered, DeleteMessage, Message, Severity};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, info};

struct AutomodLike;

impl Plugin for AutomodLike {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Message::MessageCreated(created) = &msg.message else {
            return Ok(Vec::new());
        };
        let kv = ctx.kv();
        let strikes = kv
            .get_i64(&format!("strikes:{}", created.author_id))?
            .unwrap_or(0);
        let strict = kv.get(&format!("strict:{}", created.channel_id))?.is_some();
        let banned = created.content.contains("badword");
        info!(
            ctx,
            "automod: author={} strikes={strikes} strict={strict} banned={banned}",
            created.author_id
        );
        if !banned {
            return Ok(Vec::new());
        }
        let severity = if strikes >= 3 || strict {
            Severity::High
        } else {
            Severity::Low
        };
        Ok(vec![
            Output::execute(
                DeleteMessage::new(&created.channel_id, &created.message_id)
                    .with_reason("banned word"),
            ),
            Output::publish(
                AutomodTriggered::new(
                    "banned-word",
                    &created.author_id,
                    &created.channel_id,
                    AutomodAction::Delete,
                    severity,
                )
                .with_message(&created.message_id),
            ),
        ])
    }
}

guildhost_plugin::export!(AutomodLike);

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;
    use guildhost_plugin::types::MessageCreated;

    fn created(content: &str) -> Incoming {
        Incoming::new(MessageCreated::text("3", "2", "1", content)).in_guild("9")
    }

    #[test]
    fn a_banned_word_gives_two_outputs_and_one_log_line() {
        let host = TestHost::new();
        host.put_kv_value(Some("9"), "strikes:1", b"4");
        let outputs = host
            .handle::<AutomodLike>(&created("a badword here"))
            .unwrap();
        assert_eq!(outputs.len(), 2);
        let Message::AutomodTriggered(triggered) = outputs[1].message() else {
            panic!("{outputs:?}")
        };
        assert_eq!(triggered.severity, Severity::High);
        assert_eq!(host.logs().len(), 1);
    }

    #[test]
    fn clean_content_gives_no_outputs() {
        let host = TestHost::new();
        assert!(
            host.handle::<AutomodLike>(&created("hello"))
                .unwrap()
                .is_empty()
        );
    }
}
