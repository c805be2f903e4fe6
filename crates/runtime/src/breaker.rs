//! The circuit breaker: a plugin that keeps trapping or exceeding its limits is suspended for a
//! back-off period instead of burning every message's budget.
//!
//! Failure is accounted per (plugin, guild): [`GuildBreakers`] holds one [`CircuitBreaker`] per
//! guild that has failed recently, so one guild's heavy configuration or hostile input suspends
//! the plugin for that guild only and every other guild's calls go on.
//!
//! Closed: calls run; failures within the window are counted. K failures in the window open the
//! breaker for the back-off period. When it expires the breaker is half-open: the next call runs;
//! a success closes it, a failure re-opens it with the back-off doubled (up to a ceiling).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures in what window open the breaker, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerPolicy {
    /// Failures within `window` that open the breaker.
    pub failures: u32,
    /// The sliding window failures are counted in.
    pub window: Duration,
    /// The first suspension.
    pub backoff: Duration,
    /// The longest suspension after repeated trips.
    pub max_backoff: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        Self {
            failures: 5,
            window: Duration::from_secs(60),
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(15 * 60),
        }
    }
}

/// The breaker refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// Failures that opened it.
    pub failures: u32,
    /// Time left before the next trial call.
    pub remaining: Duration,
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tripped {
    /// The breaker is still closed.
    No,
    /// The breaker just opened for this long.
    Opened {
        /// The suspension.
        backoff: Duration,
    },
}

#[derive(Debug)]
enum State {
    Closed { recent: VecDeque<Instant> },
    Open { until: Instant, failures: u32 },
    HalfOpen,
}

#[derive(Debug)]
struct Inner {
    state: State,
    next_backoff: Duration,
}

/// One plugin's breaker. Cheap to check on every call.
#[derive(Debug)]
pub struct CircuitBreaker {
    policy: BreakerPolicy,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            inner: Mutex::new(Inner {
                state: State::Closed {
                    recent: VecDeque::new(),
                },
                next_backoff: policy.backoff,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every transition is a single assignment: a poisoned lock still holds a valid state.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call may run at `now`.
    pub fn check(&self, now: Instant) -> Result<(), Open> {
        let mut inner = self.lock();
        if let State::Open { until, failures } = inner.state {
            if now < until {
                return Err(Open {
                    failures,
                    remaining: until - now,
                });
            }
            inner.state = State::HalfOpen;
        }
        Ok(())
    }

    /// Whether the breaker is open at `now`, without moving it to half-open (for status reports).
    pub fn peek(&self, now: Instant) -> Option<Open> {
        match self.lock().state {
            State::Open { until, failures } if now < until => Some(Open {
                failures,
                remaining: until - now,
            }),
            _ => None,
        }
    }

    /// Whether the breaker is closed with no failure left in the window at `now`: it holds
    /// nothing worth keeping.
    pub fn is_idle(&self, now: Instant) -> bool {
        match &self.lock().state {
            State::Closed { recent } => recent
                .back()
                .is_none_or(|last| now.saturating_duration_since(*last) > self.policy.window),
            _ => false,
        }
    }

    /// Records a successful call.
    pub fn record_success(&self) {
        let mut inner = self.lock();
        if matches!(inner.state, State::HalfOpen) {
            inner.state = State::Closed {
                recent: VecDeque::new(),
            };
            inner.next_backoff = self.policy.backoff;
        }
    }

    /// Records a failed call (a trap or an exceeded limit) at `now`.
    pub fn record_failure(&self, now: Instant) -> Tripped {
        let mut inner = self.lock();
        let backoff = inner.next_backoff;
        let open = |inner: &mut Inner, failures: u32| {
            inner.state = State::Open {
                until: now + backoff,
                failures,
            };
            inner.next_backoff = (backoff * 2).min(self.policy.max_backoff);
            Tripped::Opened { backoff }
        };
        match &mut inner.state {
            State::HalfOpen => open(&mut inner, 1),
            // Calls admitted before the breaker opened may still finish and fail: they do not
            // extend the suspension.
            State::Open { .. } => Tripped::No,
            State::Closed { recent } => {
                while recent
                    .front()
                    .is_some_and(|first| now.saturating_duration_since(*first) > self.policy.window)
                {
                    recent.pop_front();
                }
                recent.push_back(now);
                let count = recent.len() as u32;
                if count >= self.policy.failures {
                    open(&mut inner, count)
                } else {
                    Tripped::No
                }
            }
        }
    }
}

/// Most guilds whose breakers are kept at once; past it, idle breakers are forgotten first.
const MAX_TRACKED_GUILDS: usize = 10_000;

/// One plugin's breakers, one per guild (`None`: messages without a guild). A guild appears only
/// once it has failed, and is forgotten when its breaker is idle again, so the map stays small
/// and a call of a guild that never failed costs one lookup.
#[derive(Debug)]
pub struct GuildBreakers {
    policy: BreakerPolicy,
    by_guild: Mutex<HashMap<Option<String>, CircuitBreaker>>,
}

impl GuildBreakers {
    /// No guild suspended.
    pub fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            by_guild: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<String>, CircuitBreaker>> {
        // Each operation is one insert, lookup or removal: a poisoned map is still consistent.
        self.by_guild
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether a call for `guild` may run at `now`.
    pub fn check(&self, guild: Option<&str>, now: Instant) -> Result<(), Open> {
        let map = self.lock();
        match map.get(&guild.map(str::to_owned)) {
            Some(breaker) => breaker.check(now),
            None => Ok(()),
        }
    }

    /// Whether `guild`'s breaker is open at `now`, without moving it (for status reports).
    pub fn peek(&self, guild: Option<&str>, now: Instant) -> Option<Open> {
        self.lock()
            .get(&guild.map(str::to_owned))
            .and_then(|breaker| breaker.peek(now))
    }

    /// The guilds (`None` for guildless messages) whose breaker is open at `now`.
    pub fn open_guilds(&self, now: Instant) -> Vec<Option<String>> {
        self.lock()
            .iter()
            .filter(|(_, breaker)| breaker.peek(now).is_some())
            .map(|(guild, _)| guild.clone())
            .collect()
    }

    /// Records a successful call for `guild`.
    pub fn record_success(&self, guild: Option<&str>, now: Instant) {
        let mut map = self.lock();
        if map.is_empty() {
            return;
        }
        let key = guild.map(str::to_owned);
        if let Some(breaker) = map.get(&key) {
            breaker.record_success();
            if breaker.is_idle(now) {
                map.remove(&key);
            }
        }
    }

    /// Records a failure for `guild` at `now`.
    pub fn record_failure(&self, guild: Option<&str>, now: Instant) -> Tripped {
        let mut map = self.lock();
        let key = guild.map(str::to_owned);
        if !map.contains_key(&key) && map.len() >= MAX_TRACKED_GUILDS {
            map.retain(|_, breaker| !breaker.is_idle(now));
        }
        map.entry(key)
            .or_insert_with(|| CircuitBreaker::new(self.policy))
            .record_failure(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BreakerPolicy {
        BreakerPolicy {
            failures: 3,
            window: Duration::from_secs(10),
            backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(12),
        }
    }

    #[test]
    fn opens_after_k_failures_in_the_window() {
        let breaker = CircuitBreaker::new(policy());
        let t0 = Instant::now();
        assert_eq!(breaker.record_failure(t0), Tripped::No);
        assert_eq!(
            breaker.record_failure(t0 + Duration::from_secs(1)),
            Tripped::No
        );
        assert_eq!(
            breaker.record_failure(t0 + Duration::from_secs(2)),
            Tripped::Opened {
                backoff: Duration::from_secs(5)
            }
        );
        let open = breaker.check(t0 + Duration::from_secs(3)).unwrap_err();
        assert_eq!(open.failures, 3);
        assert_eq!(open.remaining, Duration::from_secs(4));
    }

    #[test]
    fn failures_outside_the_window_are_forgotten() {
        let breaker = CircuitBreaker::new(policy());
        let t0 = Instant::now();
        breaker.record_failure(t0);
        breaker.record_failure(t0 + Duration::from_secs(1));
        assert_eq!(
            breaker.record_failure(t0 + Duration::from_secs(20)),
            Tripped::No
        );
        assert!(breaker.check(t0 + Duration::from_secs(20)).is_ok());
    }

    #[test]
    fn half_open_success_closes_and_failure_doubles_the_backoff() {
        let breaker = CircuitBreaker::new(policy());
        let t0 = Instant::now();
        for i in 0..3 {
            breaker.record_failure(t0 + Duration::from_millis(i));
        }
        let after = t0 + Duration::from_secs(6);
        assert!(
            breaker.check(after).is_ok(),
            "half-open lets one call through"
        );
        assert_eq!(
            breaker.record_failure(after),
            Tripped::Opened {
                backoff: Duration::from_secs(10)
            }
        );
        let later = after + Duration::from_secs(11);
        assert!(breaker.check(later).is_ok());
        assert_eq!(
            breaker.record_failure(later),
            Tripped::Opened {
                backoff: Duration::from_secs(12)
            },
            "capped at max_backoff"
        );
        let recovered = later + Duration::from_secs(13);
        assert!(breaker.check(recovered).is_ok());
        breaker.record_success();
        assert_eq!(breaker.record_failure(recovered), Tripped::No);
    }

    #[test]
    fn one_guild_failing_leaves_the_others_running() {
        let breakers = GuildBreakers::new(policy());
        let t0 = Instant::now();
        for i in 0..3 {
            breakers.record_failure(Some("1"), t0 + Duration::from_millis(i));
        }
        assert!(
            breakers.check(Some("1"), t0).is_err(),
            "guild 1 is suspended"
        );
        assert!(breakers.check(Some("2"), t0).is_ok(), "guild 2 is not");
        assert!(
            breakers.check(None, t0).is_ok(),
            "guildless messages are not"
        );
        assert_eq!(breakers.open_guilds(t0), vec![Some("1".to_owned())]);
    }

    #[test]
    fn a_recovered_guild_is_forgotten() {
        let breakers = GuildBreakers::new(policy());
        let t0 = Instant::now();
        breakers.record_failure(Some("1"), t0);
        let later = t0 + Duration::from_secs(11);
        breakers.record_success(Some("1"), later);
        assert!(breakers.lock().is_empty());
    }
}
