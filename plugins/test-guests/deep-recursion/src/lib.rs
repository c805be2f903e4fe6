//! Hostile test guest: recurses without end, with a 1 KiB frame each time, until the stack
//! overflows (Rust's shadow stack in linear memory, or the native wasm stack).

use std::hint::black_box;

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct DeepRecursion;

#[allow(
    unconditional_recursion,
    reason = "overflowing the stack is this guest's purpose"
)]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth as u8; 1024]);
    // Using the frame after the call keeps this from becoming a loop.
    descend(black_box(depth + 1)).wrapping_add(u64::from(frame[(depth % 1024) as usize]))
}

impl Plugin for DeepRecursion {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        black_box(descend(0));
        Ok(Vec::new())
    }
}

guildhost_plugin::export!(DeepRecursion);
