//! Per-guild ordering: jobs of one guild are handled one after another, in the order their
//! handling started (the order the worker took them), while different guilds run in parallel.
//!
//! A moderation plugin's DM must reach the member before the ban it precedes, and a guild's
//! music requests must apply in the order they were sent; the worker's concurrency is for
//! serving many guilds at once. tokio's mutex is fair (first come, first served), which is the
//! ordering guarantee. It holds within one host; across hosts, Bull gives no order either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use crate::protocol::Snowflake;

/// Hands out per-guild turns.
#[derive(Debug, Default)]
pub struct GuildOrder {
    guilds: Mutex<HashMap<Snowflake, Arc<tokio::sync::Mutex<()>>>>,
}

/// A guild's turn; the next job of the guild starts when it is dropped.
#[derive(Debug)]
pub struct Turn {
    _guard: Option<OwnedMutexGuard<()>>,
}

impl GuildOrder {
    /// Waits for `guild`'s turn; messages without a guild need none.
    pub async fn turn(&self, guild: Option<Snowflake>) -> Turn {
        let Some(guild) = guild else {
            return Turn { _guard: None };
        };
        let lock = {
            let mut guilds = self
                .guilds
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // Forget guilds nobody is waiting for, so the map stays as small as the guilds in
            // flight.
            if guilds.len() > 1024 {
                guilds.retain(|_, lock| Arc::strong_count(lock) > 1);
            }
            guilds.entry(guild).or_default().clone()
        };
        Turn {
            _guard: Some(lock.lock_owned().await),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_guild_runs_in_start_order_others_in_parallel() {
        let order = Arc::new(GuildOrder::default());
        let log = Arc::new(Mutex::new(Vec::new()));
        let first = order.turn(Some(Snowflake::new(1))).await;
        let mut waiting = Vec::new();
        for step in 0..3 {
            let (order, log) = (order.clone(), log.clone());
            waiting.push(tokio::spawn(async move {
                let _turn = order.turn(Some(Snowflake::new(1))).await;
                log.lock().unwrap().push(step);
            }));
            // Each waiter queues before the next one starts.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Another guild is not held up by guild 1.
        let _other = order.turn(Some(Snowflake::new(2))).await;
        assert!(log.lock().unwrap().is_empty());
        drop(first);
        for handle in waiting {
            handle.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
    }
}
