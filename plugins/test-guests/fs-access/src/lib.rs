//! Hostile test guest: tries to read `/etc/passwd` and list `/` with `std::fs` (which makes the
//! component import `wasi:filesystem`). A host that links no preopened directory makes both
//! fail; the outcome is reported in a `SEND_MESSAGE` so a test can assert nothing leaked.

use guildhost_plugin::types::SendMessage;
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct FsAccess;

impl Plugin for FsAccess {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let passwd = match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => format!("read /etc/passwd: {} bytes", text.len()),
            Err(error) => format!("denied /etc/passwd: {error}"),
        };
        let root = match std::fs::read_dir("/") {
            Ok(entries) => format!("listed /: {} entries", entries.count()),
            Err(error) => format!("denied /: {error}"),
        };
        Ok(vec![Output::execute(SendMessage::text(
            "100000000000000001",
            format!("{passwd}; {root}"),
        ))])
    }
}

guildhost_plugin::export!(FsAccess);
