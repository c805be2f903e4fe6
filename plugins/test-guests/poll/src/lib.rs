//! Test guest: `/poll topic` answers with two buttons and a select menu. `poll:yes` updates the
//! poll's message and confirms the vote to the member alone (a second reply), `poll:why` opens
//! a modal whose submission is answered with a new message, `poll:pick` answers with what was picked, for the member only. `topic` autocompletes from a
//! fixed list. `poll:steal` answers with a button named after another plugin, which the host
//! must refuse. `poll:late-yes`, `poll:late-note` and `poll:late-why` answer as `poll:yes` and
//! `poll:why` do, and with a message, 5 s later: well after the host acknowledged the click.

use guildhost_plugin::{
    Context, Error, Incoming, Interaction, InteractionKind, Output, Plugin, component,
};
use std::time::Duration;

use guildhost_plugin::serde_json::Value;

const TOPICS: [&str; 3] = ["lunch", "launch", "dinner"];

struct Poll;

fn poll_components() -> Vec<Value> {
    vec![
        component::row([
            component::button("poll:yes", "Yes"),
            component::button("poll:why", "Tell us why"),
        ]),
        component::row([component::select(
            "poll:pick",
            [("Today", "today"), ("Tomorrow", "tomorrow")],
        )]),
    ]
}

impl Plugin for Poll {
    fn handle(_ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let Some(interaction) = Interaction::from_message(&msg.message)? else {
            return Ok(Vec::new());
        };
        let custom_id = interaction.custom_id.as_deref().unwrap_or_default();
        if let Some(late) = custom_id.strip_prefix("poll:late-") {
            let reply = match late {
                "yes" => interaction.update("Poll: 1 late vote"),
                "note" => interaction.reply("Noted, late"),
                _ => interaction.modal(
                    "poll:reason-form",
                    "Why?",
                    [component::text_input("poll:reason", "Your reason")],
                ),
            };
            return Ok(vec![Output::execute_after(Duration::from_secs(5), reply)]);
        }
        let reply = match interaction.kind {
            InteractionKind::Command => {
                let topic = interaction.option("topic").and_then(Value::as_str);
                interaction
                    .reply(format!("Poll: {}", topic.unwrap_or("?")))
                    .with_components(poll_components())
            }
            InteractionKind::Autocomplete => {
                let typed = interaction
                    .focused()
                    .and_then(|(_, value)| value.as_str())
                    .unwrap_or_default();
                interaction.choices(
                    TOPICS
                        .iter()
                        .filter(|topic| topic.starts_with(typed))
                        .map(|topic| (*topic, Value::from(*topic))),
                )
            }
            InteractionKind::Component => match custom_id {
                "poll:yes" => {
                    let update = interaction
                        .update(format!("Poll: 1 vote, by <@{}>", interaction.user_id))
                        .with_components(poll_components());
                    let confirm = interaction.reply("Vote counted").ephemeral();
                    return Ok(vec![Output::execute(update), Output::execute(confirm)]);
                }
                "poll:why" => interaction.modal(
                    "poll:reason-form",
                    "Why?",
                    [component::text_input("poll:reason", "Your reason")],
                ),
                "poll:pick" => {
                    let picked = interaction.values.clone().unwrap_or_default().join(", ");
                    interaction
                        .reply(format!("You picked {picked}"))
                        .ephemeral()
                }
                "poll:steal" => interaction
                    .reply("click me")
                    .with_components([component::row([component::button(
                        "slash-command:ping",
                        "Ping",
                    )])]),
                other => return Err(Error::new(format!("{other} is not a poll component"))),
            },
            InteractionKind::ModalSubmit => {
                let reason = interaction.field("poll:reason").unwrap_or("(none)");
                interaction.reply(format!("Thanks: {reason}"))
            }
        };
        Ok(vec![Output::execute(reply)])
    }
}

guildhost_plugin::export!(Poll);
