//! Child processes that cannot outlive the test that started them.

/// A child process killed (SIGKILL) and reaped when dropped.
pub struct KillOnDrop(pub std::process::Child);

impl KillOnDrop {
    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// Sends SIGKILL now and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `guildhost run` as a child of a benchmark binary: the binary runs itself again with
/// `--host <guildhost.toml>` (it calls [`HostProcess::run_if_asked`] first thing in `main`), so
/// the host is built with the benchmark and uses its allocator. Killed when dropped.
pub struct HostProcess {
    process: KillOnDrop,
    dir: std::path::PathBuf,
    port: u16,
}

impl HostProcess {
    /// In the child: runs the host when the arguments are `--host <file>`.
    pub fn run_if_asked() -> Option<anyhow::Result<()>> {
        let args: Vec<String> = std::env::args().collect();
        if args.get(1).map(String::as_str) != Some("--host") {
            return None;
        }
        Some(match args.get(2) {
            Some(path) => guildhost::app::run_command(Some(std::path::Path::new(path))),
            None => Err(anyhow::anyhow!("--host needs a configuration file")),
        })
    }

    /// Starts a host with `config` (its plugins directory and endpoints its own, the cleanup
    /// schedule off) and waits until `/readyz` answers 200.
    pub async fn start(config: guildhost::config::Config) -> anyhow::Result<HostProcess> {
        Self::start_exe(&std::env::current_exe()?, &["--host"], config).await
    }

    /// [`HostProcess::start`] running `exe args… <guildhost.toml>` (e.g. the suite's
    /// `host_process` binary, for a test: cargo builds a package's binaries for its tests).
    pub async fn start_exe(
        exe: &std::path::Path,
        args: &[&str],
        mut config: guildhost::config::Config,
    ) -> anyhow::Result<HostProcess> {
        use anyhow::Context as _;
        let dir =
            std::env::temp_dir().join(format!("bench-host-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("plugins"))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        config.http.listen = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        config.plugins.dir = dir.join("plugins");
        config.cleanup.enabled = false;
        let path = dir.join("guildhost.toml");
        std::fs::write(&path, toml::to_string(&config)?)?;
        let child = std::process::Command::new(exe)
            .args(args)
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .context("starting the host process")?;
        let host = HostProcess {
            process: KillOnDrop(child),
            dir,
            port,
        };
        let ready = format!("http://127.0.0.1:{port}/readyz");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            if let Ok(response) = reqwest::get(&ready).await
                && response.status().is_success()
            {
                return Ok(host);
            }
            if std::time::Instant::now() > deadline {
                anyhow::bail!("the host was not ready within 120 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// The port of its `/metrics`, `/healthz` and `/readyz`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.process.id()
    }

    /// Its plugins directory (watched: a plugin copied in is loaded).
    pub fn plugins_dir(&self) -> std::path::PathBuf {
        self.dir.join("plugins")
    }

    /// The plugins it serves now, `(plugin, version)`, from its `/metrics`
    /// (`guildhost_plugin_serving`).
    pub async fn serving(&self) -> anyhow::Result<Vec<(String, String)>> {
        let text = reqwest::get(format!("http://127.0.0.1:{}/metrics", self.port))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|line| line.starts_with("guildhost_plugin_serving{"))
            .filter_map(|line| {
                let field = |name: &str| {
                    let start = line.find(&format!("{name}=\""))? + name.len() + 2;
                    let end = line[start..].find('"')? + start;
                    Some(line[start..end].to_owned())
                };
                Some((field("plugin")?, field("version")?))
            })
            .collect())
    }

    /// CPU time the process used so far, in microseconds.
    pub fn cpu_us(&self) -> anyhow::Result<f64> {
        crate::bench::process_cpu_us(self.process.id())
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        self.process.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
