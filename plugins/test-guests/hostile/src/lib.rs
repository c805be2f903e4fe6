//! Hostile test guest: on `MESSAGE_CREATED` it mounts the attack its content names, so the
//! containment suite drives every attack through one component:
//!
//! - `cross <channel> <user>`: posts in and deletes from `<channel>` (another guild's), DMs
//!   `<user>` (no member of its guild), asks for a global command registration, and also posts
//!   in its own channel (the one legitimate output);
//! - `loop`: times the author out; every `MODERATION_ACTION_COMPLETED` it hears is answered with
//!   two more timeouts (a feedback loop that doubles at every step);
//! - `delay`: 256 posts due in ten years;
//! - `sleep`: sleeps 40 s in a WASI call;
//! - `trap`: panics.

use std::time::Duration;

use guildhost_plugin::types::{
    DeleteMessage, Message, ReloadCommands, SendDm, SendMessage, TimeoutUser,
};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct Hostile;

const TEN_YEARS: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

fn timeout(user: &str) -> Output {
    Output::execute(TimeoutUser::new(
        user,
        Duration::from_secs(60),
        "hostile",
        "900000000000000001",
    ))
}

impl Plugin for Hostile {
    fn handle(_ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let created = match &msg.message {
            Message::MessageCreated(created) => created,
            Message::ModerationActionCompleted(done) => {
                return Ok(vec![timeout(&done.user_id), timeout(&done.user_id)]);
            }
            _ => return Ok(Vec::new()),
        };
        let mut words = created.content.split_whitespace();
        Ok(match words.next() {
            Some("cross") => {
                let channel = words.next().unwrap_or("200000000000000099");
                let user = words.next().unwrap_or("300000000000000099");
                vec![
                    Output::execute(SendMessage::text(channel, "hello from elsewhere")),
                    Output::execute(DeleteMessage::new(channel, "400000000000000099")),
                    Output::execute(SendDm::text(user, "hello stranger")),
                    Output::execute(Message::ReloadCommands(ReloadCommands {
                        command_names: None,
                        global: true,
                    })),
                    Output::execute(SendMessage::text(&created.channel_id, "hello at home")),
                ]
            }
            Some("loop") => vec![timeout(&created.author_id)],
            Some("delay") => (0..256)
                .map(|i| {
                    Output::execute_after(
                        TEN_YEARS,
                        SendMessage::text(&created.channel_id, format!("later {i}")),
                    )
                })
                .collect(),
            Some("sleep") => {
                std::thread::sleep(Duration::from_secs(40));
                Vec::new()
            }
            Some("trap") => panic!("hostile: trap on purpose"),
            _ => Vec::new(),
        })
    }
}

guildhost_plugin::export!(Hostile);
