//! The budget on the work plugins cause ([`crate::config::BudgetConfig`]): a chain's depth and
//! its outputs after the first hop, and per (guild-scoped plugin, guild) a rate of outputs and a
//! cap on delayed outputs pending at once. Each check grants part or all of what a call asked
//! for; the dispatcher drops the rest with the [`Refusal`] as the reason.
//!
//! Depth, chain and rate are counted in this process (a chain split over several hosts gets each
//! host's budget); the pending-delayed cap is counted in Redis, shared by every host, in a sorted
//! set per (plugin, guild) of the delayed outputs' ids scored by when they are due: a due entry
//! no longer counts, and a retried job re-reserves its own ids rather than new ones.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::BudgetConfig;
use crate::protocol::Snowflake;
use crate::queue::RedisConn;

use super::causation::Causation;

/// Why the budget refused an output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The message handled is already as deep as chains may go.
    #[error(
        "budget: the message is {depth} plugin replies deep, the most a chain may go is {max} \
         ([plugins.budget] max_depth)"
    )]
    Depth {
        /// The handled message's depth.
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// The chain has added all the outputs it may.
    #[error(
        "budget: the chain started by message {origin} has added its {max} outputs \
         ([plugins.budget] max_chain_outputs)"
    )]
    Chain {
        /// The chain's first message.
        origin: String,
        /// The limit.
        max: u32,
    },
    /// The plugin is over its rate in this guild.
    #[error(
        "budget: over {per_second} outputs/s (burst {burst}) for this plugin in this guild \
         ([plugins.budget] outputs_per_second, outputs_burst)"
    )]
    Rate {
        /// Sustained rate.
        per_second: u32,
        /// Burst.
        burst: u32,
    },
    /// The plugin has as many delayed outputs pending in this guild as it may.
    #[error(
        "budget: {max} delayed outputs of this plugin are already pending in this guild \
         ([plugins.budget] max_pending_delayed)"
    )]
    PendingDelayed {
        /// The limit.
        max: u32,
    },
}

impl Refusal {
    /// A short label for metrics (a bounded set).
    pub fn label(&self) -> &'static str {
        match self {
            Self::Depth { .. } => "budget_depth",
            Self::Chain { .. } => "budget_chain",
            Self::Rate { .. } => "budget_rate",
            Self::PendingDelayed { .. } => "budget_delayed",
        }
    }
}

/// How much of a request the budget granted: the first `granted` outputs; the rest are refused
/// for `refusal`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Outputs granted, from the first.
    pub granted: usize,
    /// Why the rest were refused (`None` when all were granted).
    pub refusal: Option<Refusal>,
}

impl Grant {
    fn all(wanted: usize) -> Self {
        Self {
            granted: wanted,
            refusal: None,
        }
    }

    fn of(wanted: usize, granted: usize, refusal: impl FnOnce() -> Refusal) -> Self {
        Self {
            granted,
            refusal: (granted < wanted).then(refusal),
        }
    }
}

/// A token bucket.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Chains forgotten after this long without an output (a chain's work is done in seconds).
const CHAIN_MEMORY: Duration = Duration::from_secs(600);
/// Most chains and buckets remembered at once before old ones are forgotten.
const MAX_TRACKED: usize = 100_000;

/// The budget, shared by every job of a host.
#[derive(Debug)]
pub struct OutputBudget {
    config: BudgetConfig,
    chains: Mutex<HashMap<String, (u32, Instant)>>,
    buckets: Mutex<HashMap<(String, Snowflake), Bucket>>,
    delayed: Option<(RedisConn, String)>,
}

const RESERVE_DELAYED: &str = r#"
-- KEYS[1]: the (plugin, guild) sorted set. ARGV: now (ms), cap, then (due ms, id) pairs.
-- Returns one 0/1 per pair: whether that output may be added.
local key, now, cap = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local count = redis.call('ZCARD', key)
local granted, latest = {}, 0
for i = 3, #ARGV, 2 do
  local due, id = tonumber(ARGV[i]), ARGV[i + 1]
  if redis.call('ZSCORE', key, id) then
    granted[#granted + 1] = 1
  elseif count < cap then
    redis.call('ZADD', key, due, id)
    count = count + 1
    granted[#granted + 1] = 1
  else
    granted[#granted + 1] = 0
  end
end
local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', key, math.floor(tonumber(last[2])) + 1000) end
return granted
"#;

/// The script, its SHA computed once.
static RESERVE_DELAYED_SCRIPT: std::sync::LazyLock<redis::Script> =
    std::sync::LazyLock::new(|| redis::Script::new(RESERVE_DELAYED));

impl OutputBudget {
    /// A budget with `config`; the pending-delayed cap is kept in Redis under `prefix` (without
    /// a connection it is not enforced: the runtime tools, which enqueue nothing).
    pub fn new(config: BudgetConfig, redis: Option<(RedisConn, &str)>) -> Self {
        Self {
            config,
            chains: Mutex::default(),
            buckets: Mutex::default(),
            delayed: redis.map(|(conn, prefix)| (conn, format!("{prefix}:guildhost:budget"))),
        }
    }

    /// Whether a plugin handling a message of `causation` may add anything at all.
    pub fn depth(&self, causation: &Causation) -> Result<(), Refusal> {
        if causation.depth >= self.config.max_depth {
            return Err(Refusal::Depth {
                depth: causation.depth,
                max: self.config.max_depth,
            });
        }
        Ok(())
    }

    /// How many of `wanted` outputs a plugin handling a message of `causation` may add to its
    /// chain. The first hop (replies to a message that started a chain) is not counted: it is
    /// bounded by the plugin's own output limit, and is the hot path.
    pub fn chain(&self, causation: &Causation, wanted: usize) -> Grant {
        if causation.depth == 0 || wanted == 0 {
            return Grant::all(wanted);
        }
        let now = Instant::now();
        let mut chains = lock(&self.chains);
        if chains.len() >= MAX_TRACKED && !chains.contains_key(&causation.origin) {
            chains.retain(|_, (_, seen)| now.duration_since(*seen) < CHAIN_MEMORY);
        }
        let (used, seen) = chains.entry(causation.origin.clone()).or_insert((0, now));
        *seen = now;
        let left = self.config.max_chain_outputs.saturating_sub(*used) as usize;
        let granted = wanted.min(left);
        *used += granted as u32;
        Grant::of(wanted, granted, || Refusal::Chain {
            origin: causation.origin.clone(),
            max: self.config.max_chain_outputs,
        })
    }

    /// How many of `wanted` outputs `plugin` may add in `guild` now.
    pub fn rate(&self, plugin: &str, guild: Snowflake, wanted: usize) -> Grant {
        if wanted == 0 {
            return Grant::all(0);
        }
        let now = Instant::now();
        let burst = f64::from(self.config.outputs_burst);
        let per_second = f64::from(self.config.outputs_per_second);
        let mut buckets = lock(&self.buckets);
        let key = (plugin.to_owned(), guild);
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            // A full bucket is the same as none.
            buckets.retain(|_, bucket| {
                bucket.tokens + now.duration_since(bucket.updated).as_secs_f64() * per_second
                    < burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.updated = now;
        let granted = (bucket.tokens.floor() as usize).min(wanted);
        bucket.tokens -= granted as f64;
        Grant::of(wanted, granted, || Refusal::Rate {
            per_second: self.config.outputs_per_second,
            burst: self.config.outputs_burst,
        })
    }

    /// Which of the delayed outputs `(id, due at in ms since the epoch)` `plugin` may add in
    /// `guild`: one flag per output, in order.
    pub async fn pending_delayed(
        &self,
        plugin: &str,
        guild: Snowflake,
        outputs: &[(String, u64)],
    ) -> redis::RedisResult<Vec<bool>> {
        let Some((conn, prefix)) = &self.delayed else {
            return Ok(vec![true; outputs.len()]);
        };
        if outputs.is_empty() {
            return Ok(Vec::new());
        }
        let now = crate::protocol::Timestamp::now().as_millis();
        let mut invocation = RESERVE_DELAYED_SCRIPT.prepare_invoke();
        invocation
            .key(format!("{prefix}:delayed:{plugin}:{guild}"))
            .arg(now)
            .arg(self.config.max_pending_delayed);
        for (id, due) in outputs {
            invocation.arg(*due).arg(id);
        }
        let granted: Vec<i64> = invocation.invoke_async(&mut conn.clone()).await?;
        Ok(granted.into_iter().map(|flag| flag == 1).collect())
    }

    /// The refusal for a delayed output past the cap.
    pub fn pending_delayed_refusal(&self) -> Refusal {
        Refusal::PendingDelayed {
            max: self.config.max_pending_delayed,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each update is a few arithmetic steps on one entry: a poisoned map is still usable.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> OutputBudget {
        OutputBudget::new(
            BudgetConfig {
                max_depth: 3,
                max_chain_outputs: 5,
                outputs_per_second: 1,
                outputs_burst: 4,
                max_pending_delayed: 10,
            },
            None,
        )
    }

    fn at(depth: u32) -> Causation {
        Causation {
            depth,
            origin: "origin".into(),
            scope: None,
        }
    }

    #[test]
    fn depth_stops_at_the_limit() {
        let budget = budget();
        assert!(budget.depth(&at(2)).is_ok());
        assert_eq!(
            budget.depth(&at(3)),
            Err(Refusal::Depth { depth: 3, max: 3 })
        );
    }

    #[test]
    fn a_chain_gets_its_outputs_once_and_the_first_hop_is_free() {
        let budget = budget();
        assert_eq!(budget.chain(&at(0), 100), Grant::all(100));
        assert_eq!(budget.chain(&at(1), 3), Grant::all(3));
        let partial = budget.chain(&at(2), 3);
        assert_eq!(partial.granted, 2);
        assert!(matches!(partial.refusal, Some(Refusal::Chain { .. })));
        assert_eq!(budget.chain(&at(2), 1).granted, 0);
    }

    #[test]
    fn the_rate_allows_a_burst_then_refuses() {
        let budget = budget();
        let guild = Snowflake::new(1);
        assert_eq!(budget.rate("p", guild, 3), Grant::all(3));
        assert_eq!(budget.rate("p", guild, 3).granted, 1);
        let refused = budget.rate("p", guild, 1);
        assert_eq!(refused.granted, 0);
        assert!(matches!(refused.refusal, Some(Refusal::Rate { .. })));
        assert_eq!(
            budget.rate("p", Snowflake::new(2), 4),
            Grant::all(4),
            "another guild has its own bucket"
        );
        assert_eq!(
            budget.rate("q", guild, 4),
            Grant::all(4),
            "another plugin has its own bucket"
        );
    }
}
