//! Hostile test guest: writes 1 KiB values under fresh keys until the store refuses (at most
//! `max_writes`, config, default 1 000 000), then fails the call with the store's error and the
//! number of writes that succeeded — the host's KV quota must be what stops it.

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, warn};

struct KvFlood;

impl Plugin for KvFlood {
    fn handle(ctx: &Context<'_>, msg: &Incoming) -> Result<Vec<Output>, Error> {
        let max_writes: u64 = ctx.config_value("max_writes")?.unwrap_or(1_000_000);
        let value = [0x5A_u8; 1024];
        for written in 0..max_writes {
            if let Err(refused) = ctx
                .kv()
                .set(&format!("flood:{}:{written}", msg.envelope.id), &value)
            {
                warn!(ctx, "kv refused after {written} writes: {refused}");
                let error = Error::from(refused);
                return Err(Error::new(format!(
                    "{} (after {written} writes)",
                    error.message()
                )));
            }
        }
        Ok(Vec::new())
    }
}

guildhost_plugin::export!(KvFlood);
