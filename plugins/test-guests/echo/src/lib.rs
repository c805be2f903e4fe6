//! Test guest: echoes messages back (see `echo.rs`), built from the shared echo logic.

#[path = "../../echo/src/echo.rs"]
mod echo;

guildhost_plugin::export!(echo::Echo);
