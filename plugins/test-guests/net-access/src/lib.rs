//! Hostile test guest: tries to open a TCP connection to Redis with `std::net::TcpStream`
//! (which makes the component import `wasi:sockets`); the host must refuse it at load, naming
//! the import. Were it ever run, the outcome is reported in a `SEND_MESSAGE`.

use std::net::TcpStream;

use guildhost_plugin::types::SendMessage;
use guildhost_plugin::{Context, Error, Incoming, Output, Plugin};

struct NetAccess;

impl Plugin for NetAccess {
    fn handle(_ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let report = match TcpStream::connect("127.0.0.1:6379") {
            Ok(_) => String::from("connected to 127.0.0.1:6379"),
            Err(error) => format!("denied 127.0.0.1:6379: {error}"),
        };
        Ok(vec![Output::execute(SendMessage::text(
            "100000000000000001",
            report,
        ))])
    }
}

guildhost_plugin::export!(NetAccess);
