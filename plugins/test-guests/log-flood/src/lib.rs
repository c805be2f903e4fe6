//! Hostile test guest: on every message it logs one line that embeds a newline followed by a
//! forged host log line (plus a carriage return, ANSI escapes and a Unicode line separator),
//! then `lines` lines of `bytes` bytes (config, default 100 × 1 MiB), and writes the same to
//! stderr. The host must keep its log within the caps and show the forgery escaped, as one line.

use std::io::Write;

use guildhost_plugin::{Context, Error, Incoming, Output, Plugin, error, warn};

/// The forged text: after the newline it looks like a line of the host's own log.
const FORGED: &str = "innocent\n2026-01-01T00:00:00.000000Z  INFO guildhost::app: FORGED host line\r\x1b[2K\x1b[31mFORGED overwrite\u{2028}FORGED separator";

struct LogFlood;

impl Plugin for LogFlood {
    fn handle(ctx: &Context<'_>, _msg: &Incoming) -> Result<Vec<Output>, Error> {
        let lines: usize = ctx.config_value("lines")?.unwrap_or(100);
        let bytes: usize = ctx.config_value("bytes")?.unwrap_or(1 << 20);
        let line = "f".repeat(bytes);
        error!(ctx, "{FORGED}");
        for _ in 0..lines {
            warn!(ctx, "{line}");
        }
        // Errors writing to stderr are the host's business; the flood goes on regardless.
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{FORGED}");
        for _ in 0..lines {
            let _ = writeln!(stderr, "{line}");
        }
        Ok(Vec::new())
    }
}

guildhost_plugin::export!(LogFlood);
