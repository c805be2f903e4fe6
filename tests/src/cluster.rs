//! A throwaway 3-master (or N-master) Redis Cluster on loopback ports.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::KillOnDrop;

/// A throwaway Redis Cluster of `masters` `redis-server --cluster-enabled yes` processes on free
/// loopback ports, in a temporary directory. The servers are killed and the directory removed
/// when it is dropped.
pub struct LocalCluster {
    dir: PathBuf,
    ports: Vec<u16>,
    servers: Vec<KillOnDrop>,
}

impl LocalCluster {
    /// Starts the servers, joins them with `redis-cli --cluster create` and waits (up to 30 s)
    /// until every node reports `cluster_state:ok`.
    pub async fn start(masters: usize) -> anyhow::Result<LocalCluster> {
        for tool in ["redis-server", "redis-cli"] {
            let found = std::process::Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if !matches!(found, Ok(status) if status.success()) {
                bail!(
                    "the cluster tests need `{tool}`: install redis-server and redis-tools (apt-get install redis-server redis-tools)"
                );
            }
        }
        let dir =
            std::env::temp_dir().join(format!("ght-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut cluster = LocalCluster {
            dir,
            ports: free_cluster_ports(masters)?,
            servers: Vec::new(),
        };
        for &port in &cluster.ports {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .args(["--cluster-node-timeout", "5000"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--logfile", &format!("redis-{port}.log")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start redis-server")?;
            cluster.servers.push(KillOnDrop(child));
        }
        for &port in &cluster.ports {
            cluster
                .wait_for_node(port, |reply| reply == "PONG", &["PING"])
                .await?;
        }
        let mut create = std::process::Command::new("redis-cli");
        create.args(["--cluster", "create"]);
        for &port in &cluster.ports {
            create.arg(format!("127.0.0.1:{port}"));
        }
        let output = create
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .context("cannot run redis-cli --cluster create")?;
        if !output.status.success() {
            bail!(
                "redis-cli --cluster create failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        for &port in &cluster.ports {
            cluster
                .wait_for_node(
                    port,
                    |reply| reply.contains("cluster_state:ok"),
                    &["CLUSTER", "INFO"],
                )
                .await?;
        }
        Ok(cluster)
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn nodes(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|port| format!("redis://127.0.0.1:{port}"))
            .collect()
    }

    /// Runs `command` on the node at `port` until `accept` likes the reply (30 s at most).
    async fn wait_for_node(
        &self,
        port: u16,
        accept: impl Fn(&str) -> bool,
        command: &[&str],
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut last = String::new();
        while tokio::time::Instant::now() < deadline {
            let reply = async {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
                let mut connection = client.get_multiplexed_async_connection().await?;
                let mut cmd = redis::cmd(command[0]);
                for arg in &command[1..] {
                    cmd.arg(*arg);
                }
                cmd.query_async::<String>(&mut connection).await
            }
            .await;
            match reply {
                Ok(text) if accept(&text) => return Ok(()),
                Ok(text) => last = text,
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "cluster node 127.0.0.1:{port} not ready after 30 s (last reply: {last}); logs in {}",
            self.dir.display()
        )
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            server.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `count` loopback ports that are free together with their cluster bus port (port + 10000).
fn free_cluster_ports(count: usize) -> anyhow::Result<Vec<u16>> {
    let mut ports = Vec::new();
    for _ in 0..200 {
        if ports.len() == count {
            break;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let Some(bus) = port.checked_add(10000) else {
            continue;
        };
        if ports.contains(&port) || std::net::TcpListener::bind(("127.0.0.1", bus)).is_err() {
            continue;
        }
        ports.push(port);
    }
    if ports.len() < count {
        bail!("could not find {count} free loopback ports for a Redis Cluster");
    }
    Ok(ports)
}
