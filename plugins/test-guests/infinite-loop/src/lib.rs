//! Hostile test guest: spins forever on every message; only the host's wall-time limit (epoch
//! deadline) ends the call.

use std::hint::black_box;

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct InfiniteLoop;

impl Plugin for InfiniteLoop {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let mut counter: u64 = 0;
        loop {
            // `black_box` keeps the optimizer from proving the loop pointless.
            counter = black_box(counter.wrapping_add(1));
        }
    }
}

guildhost_plugin::export!(InfiniteLoop);
