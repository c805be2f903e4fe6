//! Hostile test guest: allocates (and touches) 1 MiB blocks until memory runs out; the host's
//! memory limit ends the call.

use std::hint::black_box;

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct MemoryBomb;

impl Plugin for MemoryBomb {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(black_box(vec![0xA5; 1 << 20]));
            black_box(&hoard);
        }
    }
}

guildhost_plugin::export!(MemoryBomb);
