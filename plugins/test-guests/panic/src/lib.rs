//! Hostile test guest: panics on every message. The panic hook writes the message to stderr
//! before `panic = "abort"` traps, so the host's captured stderr must contain
//! `test guest panicked on purpose` followed by the message type.

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct Panic;

impl Plugin for Panic {
    fn handle(_ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        panic!(
            "test guest panicked on purpose while handling {}",
            msg.type_name()
        );
    }
}

guildhost_plugin::export!(Panic);
