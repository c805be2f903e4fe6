//! Hostile test guest: reads the environment and the arguments with `std::env` (through
//! `wasi:cli/environment`, which every std guest imports). A host that gives plugins no
//! environment and no arguments makes both empty; the outcome is reported in a `SEND_MESSAGE`
//! as `vars=<count> args=<count> HOME=<value or "unset"> REDIS_URL=<value or "unset">`.

use guildhost_plugin::types::SendMessage;
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct EnvAccess;

impl Plugin for EnvAccess {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let var = |name: &str| std::env::var(name).unwrap_or_else(|_| String::from("unset"));
        let report = format!(
            "vars={} args={} HOME={} REDIS_URL={}",
            std::env::vars_os().count(),
            std::env::args_os().count(),
            var("HOME"),
            var("REDIS_URL"),
        );
        Ok(vec![Output::execute(SendMessage::text(
            "100000000000000001",
            report,
        ))])
    }
}

guildhost_plugin::export!(EnvAccess);
