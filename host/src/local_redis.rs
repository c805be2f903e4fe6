//! A Redis of the host's own for a one-command start: when the configured Redis is the default
//! address and nothing answers there, guildhost starts `redis-server` as a child process (data in
//! a temporary directory, no persistence unless configured) and stops it when the host stops.
//!
//! The child runs in its own process group, so a Ctrl-C in the terminal reaches only the host:
//! Redis stays up while the host finishes its jobs, and goes when the host is done. On Linux it
//! is also told to die with its parent, so an immediate exit (a second signal, a crash) does not
//! leave it holding the port.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The address `redis://127.0.0.1:6379` points at.
const DEFAULT_ADDR: ([u8; 4], u16) = ([127, 0, 0, 1], 6379);

/// A `redis-server` child, killed on drop.
#[derive(Debug)]
pub struct LocalRedis {
    child: Child,
    dir: PathBuf,
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether `url` is the default local address (the only one guildhost starts a server for).
pub fn is_default_url(url: &str) -> bool {
    matches!(
        url.trim_end_matches('/'),
        "redis://127.0.0.1:6379"
            | "redis://localhost:6379"
            | "redis://127.0.0.1"
            | "redis://localhost"
    )
}

fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Puts the child in its own process group and, on Linux, has the kernel stop it when the host
/// process ends (strictly: when the spawning thread ends; `run_command` spawns it from the main
/// thread, which lives as long as the process).
fn detach_from_terminal_signals(command: &mut Command) {
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        command.process_group(0);
        #[cfg(target_os = "linux")]
        {
            // The host's pid before the fork: if it is already gone when the child starts, the
            // death signal would never come, so the child exits at once instead.
            let parent = std::process::id();
            // SAFETY: between fork and exec only async-signal-safe calls are made (`prctl`,
            // `getppid`), and nothing is allocated.
            unsafe {
                command.pre_exec(move || {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    if u32::try_from(libc::getppid()).ok() != Some(parent) {
                        return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                    }
                    Ok(())
                });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = command;
}

/// Starts `redis-server` on 127.0.0.1:6379 unless something already answers there. Returns the
/// child to keep alive, or `None` when a Redis is already running.
pub fn ensure_running() -> anyhow::Result<Option<LocalRedis>> {
    let addr = SocketAddr::from(DEFAULT_ADDR);
    if answers(addr) {
        return Ok(None);
    }
    let dir = std::env::temp_dir().join(format!("guildhost-redis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut command = Command::new("redis-server");
    detach_from_terminal_signals(&mut command);
    let child = command
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no Redis answers on 127.0.0.1:6379 and redis-server is not installed: install it \
             (Debian/Ubuntu: `apt-get install redis-server`, macOS: `brew install redis`) or set \
             [redis] url / REDIS_URL"
        ),
        Err(e) => return Err(e).context("starting redis-server"),
    };
    let local = LocalRedis { child, dir };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(addr) {
        if Instant::now() > deadline {
            bail!("started redis-server, but it did not answer on 127.0.0.1:6379 within 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::warn!(
        dir = %local.dir.display(),
        "no Redis answered on 127.0.0.1:6379: started a local redis-server (stopped with the host; nothing persisted)"
    );
    Ok(Some(local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_default_address_gets_a_local_server() {
        assert!(is_default_url("redis://127.0.0.1:6379"));
        assert!(is_default_url("redis://localhost:6379/"));
        assert!(!is_default_url("redis://10.0.0.5:6379"));
        assert!(!is_default_url("redis://127.0.0.1:6380"));
    }
}
