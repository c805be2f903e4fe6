//! Test guest: accepts every message and does nothing — no host calls, no outputs — so a
//! benchmark measures the bare cost of a call.

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct Noop;

impl Plugin for Noop {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        Ok(Vec::new())
    }
}

guildhost_plugin::export!(Noop);
