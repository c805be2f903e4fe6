//! Per-guild ordering: jobs of one guild are handled one after another, in the order their
//! handling started (the order the worker took them), while different guilds run in parallel.
//!
//! A moderation plugin's DM must reach the member before the ban it precedes, and a guild's
//! music requests must apply in the order they were sent; the worker's concurrency is for
//! serving many guilds at once. tokio's mutex is fair (first come, first served), which is the
//! ordering guarantee. It holds within one host; across hosts, Bull gives no order either.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

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

/// A place in a guild's line, taken now and turned into the guild's turn later: turns are given
/// in the order places were taken, whatever runs in between. The dispatcher takes a command
/// job's place for execution while it still holds the job's dispatch turn, so one guild's
/// commands reach Discord in the order their jobs were taken, while the next job's plugins run.
pub struct Place {
    state: PlaceState,
}

enum PlaceState {
    /// No guild: no line to wait in.
    Free,
    /// The lock was free when the place was taken.
    Held(OwnedMutexGuard<()>),
    /// Queued on the guild's (fair) lock.
    Queued(Pin<Box<dyn Future<Output = OwnedMutexGuard<()>> + Send>>),
}

impl std::fmt::Debug for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            PlaceState::Free => "free",
            PlaceState::Held(_) => "held",
            PlaceState::Queued(_) => "queued",
        };
        f.debug_struct("Place").field("state", &state).finish()
    }
}

impl Place {
    /// Waits until every earlier place of the guild has had its turn and ended it.
    pub async fn turn(self) -> Turn {
        match self.state {
            PlaceState::Free => Turn { _guard: None },
            PlaceState::Held(guard) => Turn {
                _guard: Some(guard),
            },
            PlaceState::Queued(waiting) => Turn {
                _guard: Some(waiting.await),
            },
        }
    }
}

impl GuildOrder {
    fn lock_of(&self, guild: Snowflake) -> Arc<tokio::sync::Mutex<()>> {
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
    }

    /// Waits for `guild`'s turn; messages without a guild need none.
    pub async fn turn(&self, guild: Option<Snowflake>) -> Turn {
        self.place(guild).turn().await
    }

    /// Takes a place in `guild`'s line now, without waiting (see [`Place`]).
    pub fn place(&self, guild: Option<Snowflake>) -> Place {
        let Some(guild) = guild else {
            return Place {
                state: PlaceState::Free,
            };
        };
        let mut waiting = Box::pin(self.lock_of(guild).lock_owned());
        // One poll queues the waiter on tokio's fair lock (its place is kept from then on); the
        // real waker replaces this one when the place is awaited.
        let mut context = Context::from_waker(futures_util::task::noop_waker_ref());
        let state = match waiting.as_mut().poll(&mut context) {
            Poll::Ready(guard) => PlaceState::Held(guard),
            Poll::Pending => PlaceState::Queued(waiting),
        };
        Place { state }
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

    #[tokio::test]
    async fn places_are_served_in_the_order_they_were_taken() {
        let order = GuildOrder::default();
        let guild = Some(Snowflake::new(1));
        let first = order.place(guild);
        let second = order.place(guild);
        let third = order.place(guild);
        let log = Arc::new(Mutex::new(Vec::new()));
        // Awaited in reverse: the turns still come first, second, third.
        let waits: Vec<_> = [(third, 3), (second, 2), (first, 1)]
            .into_iter()
            .map(|(place, n)| {
                let log = log.clone();
                tokio::spawn(async move {
                    let _turn = place.turn().await;
                    log.lock().unwrap().push(n);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                })
            })
            .collect();
        for wait in waits {
            wait.await.unwrap();
        }
        assert_eq!(*log.lock().unwrap(), [1, 2, 3]);
        // A place dropped without its turn does not hold up the next.
        let skipped = order.place(guild);
        let next = order.place(guild);
        drop(skipped);
        tokio::time::timeout(Duration::from_secs(1), next.turn())
            .await
            .expect("the next place gets its turn");
    }
}
