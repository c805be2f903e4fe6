//! Test guest: tells the host's tests how instances are managed. Every call increments a counter
//! held in the instance's own memory and answers with a `STATEFUL` event
//! `{"id": <message id>, "calls": <calls this instance has served>}` — 1, 2, 3… for a warm
//! instance, always 1 for a fresh one, back to 1 after a trap or a recycle. A `MESSAGE_CREATED`
//! whose content contains `panic` makes it panic instead (a trap on demand).

use std::sync::atomic::{AtomicU64, Ordering};

use guildhost_plugin::serde_json::json;
use guildhost_plugin::types::{CustomMessage, Message};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

/// Calls served by this instance; lives in linear memory, so it dies with the instance.
static CALLS: AtomicU64 = AtomicU64::new(0);

struct Stateful;

impl Plugin for Stateful {
    fn handle(_ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        if let Message::MessageCreated(created) = &msg.message
            && created.content.contains("panic")
        {
            panic!(
                "stateful guest asked to panic by message {}",
                msg.envelope.id
            );
        }
        let report = json!({ "id": msg.envelope.id, "calls": calls });
        Ok(vec![Output::publish(CustomMessage::new(
            "STATEFUL", &report,
        ))])
    }
}

guildhost_plugin::export!(Stateful);

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;
    use guildhost_plugin::types::DeleteMessage;

    #[test]
    fn counts_calls_served() {
        let host = TestHost::new();
        let msg = Incoming::new(DeleteMessage::new("1", "2"));
        let first = host.handle::<Stateful>(&msg).unwrap();
        let second = host.handle::<Stateful>(&msg).unwrap();
        let calls = |outputs: &[Output]| {
            let Message::Custom(custom) = outputs[0].message() else {
                panic!("{outputs:?}")
            };
            let data: guildhost_plugin::serde_json::Value =
                guildhost_plugin::serde_json::from_str(&custom.data).unwrap();
            data["calls"].as_u64().unwrap()
        };
        assert_eq!(calls(&second), calls(&first) + 1);
    }
}
