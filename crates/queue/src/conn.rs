//! The Redis connection the queue engine runs on: a single server (reconnecting manager) or a
//! Redis Cluster, behind one cloneable handle.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use super::error::QueueResult;

/// Scripts that finish a batch can take a while on a loaded server: far longer than the client
/// library's 500 ms default, which would report a timeout for work Redis still completes.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(30);

/// A cloneable, multiplexed connection to a Redis server or cluster. Reconnects with backoff.
#[derive(Clone)]
pub struct RedisConn {
    inner: Inner,
}

#[derive(Clone)]
enum Inner {
    Single {
        client: redis::Client,
        manager: ConnectionManager,
    },
    Cluster {
        client: Box<ClusterClient>,
        connection: ClusterConnection,
    },
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Single { .. } => f.write_str("RedisConn::Single"),
            Inner::Cluster { .. } => f.write_str("RedisConn::Cluster"),
        }
    }
}

fn manager_config(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_secs(5))
        .set_number_of_retries(usize::MAX)
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(response_timeout)
}

/// How long the first connection may take before `connect` gives up and says why.
const FIRST_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl RedisConn {
    /// Connects to one Redis server (`redis://host:port/db`). The first connection is tried
    /// once, within a few seconds, so a wrong address or password fails at once with Redis's
    /// reason instead of retrying forever; later disconnects are retried with backoff.
    pub async fn connect(url: &str) -> QueueResult<RedisConn> {
        let client = redis::Client::open(url)?;
        let first = tokio::time::timeout(FIRST_CONNECT_TIMEOUT, async {
            let mut connection = client.get_multiplexed_async_connection().await?;
            redis::cmd("PING")
                .query_async::<redis::Value>(&mut connection)
                .await
        })
        .await;
        match first {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(error.into()),
            Err(_) => {
                return Err(redis::RedisError::from((
                    redis::ErrorKind::Io,
                    "no answer",
                    format!("nothing answered within {FIRST_CONNECT_TIMEOUT:?}"),
                ))
                .into());
            }
        }
        let manager = ConnectionManager::new_with_config(
            client.clone(),
            manager_config(Some(RESPONSE_TIMEOUT)),
        )
        .await?;
        Ok(RedisConn {
            inner: Inner::Single { client, manager },
        })
    }

    /// Connects to a Redis Cluster through any of its nodes. Queue prefixes must carry a hash tag
    /// (`{bull}`) so that every key of every queue lands in one slot.
    pub async fn connect_cluster(nodes: &[String]) -> QueueResult<RedisConn> {
        let client = ClusterClient::builder(nodes.iter().map(String::as_str))
            .response_timeout(RESPONSE_TIMEOUT)
            .connection_timeout(Duration::from_secs(5))
            .retries(16)
            .build()?;
        let connection = client.get_async_connection().await?;
        Ok(RedisConn {
            inner: Inner::Cluster {
                client: Box::new(client),
                connection,
            },
        })
    }

    /// Whether this handle talks to a cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner, Inner::Cluster { .. })
    }

    /// A separate connection for blocking commands (`BRPOPLPUSH`), which would otherwise stall
    /// every request multiplexed on the shared connection. Its response timeout is disabled.
    pub async fn dedicated(&self) -> QueueResult<RedisConn> {
        match &self.inner {
            Inner::Single { client, .. } => {
                let manager =
                    ConnectionManager::new_with_config(client.clone(), manager_config(None))
                        .await?;
                Ok(RedisConn {
                    inner: Inner::Single {
                        client: client.clone(),
                        manager,
                    },
                })
            }
            Inner::Cluster { client, .. } => {
                let connection = client.get_async_connection().await?;
                Ok(RedisConn {
                    inner: Inner::Cluster {
                        client: client.clone(),
                        connection,
                    },
                })
            }
        }
    }
}

impl RedisConn {
    /// Messages of one pub/sub channel on a new connection, or `None` on a cluster (whose
    /// pub/sub routing the engine does not rely on: periodic polling covers it).
    pub(crate) async fn subscribe(
        &self,
        channel: &str,
    ) -> QueueResult<Option<redis::aio::PubSubStream>> {
        match &self.inner {
            Inner::Single { client, .. } => {
                let mut pubsub = client.get_async_pubsub().await?;
                pubsub.subscribe(channel).await?;
                Ok(Some(pubsub.into_on_message()))
            }
            Inner::Cluster { .. } => Ok(None),
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.inner {
            Inner::Single { manager, .. } => manager.req_packed_command(cmd),
            Inner::Cluster { connection, .. } => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.inner {
            Inner::Single { manager, .. } => manager.req_packed_commands(cmd, offset, count),
            Inner::Cluster { connection, .. } => connection.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Single { manager, .. } => manager.get_db(),
            Inner::Cluster { connection, .. } => connection.get_db(),
        }
    }
}
