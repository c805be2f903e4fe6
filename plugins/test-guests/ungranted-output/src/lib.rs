//! Hostile test guest: answers every message with a `BAN_USER` its manifest does not grant,
//! next to a granted `SEND_MESSAGE`; the host must drop and report the ban and keep the rest.

use guildhost_plugin::types::{BanUser, SendMessage};
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct UngrantedOutput;

impl Plugin for UngrantedOutput {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        Ok(vec![
            Output::execute(SendMessage::text("100000000000000001", "granted")),
            Output::execute(BanUser::new(
                "100000000000000002",
                "not granted",
                "100000000000000003",
            )),
        ])
    }
}

guildhost_plugin::export!(UngrantedOutput);
