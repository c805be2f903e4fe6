//! The `guildhost` binary operators run.

fn main() {
    println!("guildhost {}", env!("CARGO_PKG_VERSION"));
}
