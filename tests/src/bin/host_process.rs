//! `guildhost run` as a process of the test suite's own build, for the tests that SIGKILL a
//! host (cargo builds a package's binaries for its own tests only).
//!
//! ```text
//! host_process <guildhost.toml>
//! ```

// The allocator of the `guildhost` binary, as the product runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::stderr)
        .init();
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: host_process <guildhost.toml>"))?;
    guildhost::app::run_command(Some(std::path::Path::new(&path)))
}
