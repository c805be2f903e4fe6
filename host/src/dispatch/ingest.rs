//! Carries what Discord's side reports — gateway events, the ends of tracks — onto the gateway
//! queue, where the dispatcher hands them to plugins and forwards them to the API.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::protocol::Message;
use crate::queue::{Queue, RedisConn};

use super::outputs::job_options;
use super::routes::GATEWAY_QUEUE;

/// How long to wait before adding an event again after Redis refused it.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// Adds every message from `events` to the gateway queue until the channel closes. An event
/// Redis refuses is retried until it is added: Discord does not send it twice.
pub async fn forward(conn: RedisConn, config: Arc<Config>, mut events: mpsc::Receiver<Message>) {
    let queue = Queue::new(conn, &config.redis.prefix, GATEWAY_QUEUE);
    let opts = job_options(&config, GATEWAY_QUEUE);
    while let Some(message) = events.recv().await {
        let name = message.payload.type_name().to_owned();
        let data = match message.to_json_string() {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(%error, r#type = %name, "could not encode a gateway event");
                continue;
            }
        };
        loop {
            match queue.add(&name, &data, opts.clone()).await {
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, r#type = %name, "adding a gateway event failed; retrying");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
    }
}
