//! No host call can hold a plugin past its wall-time limit.
//!
//! The epoch deadline interrupts a plugin only while it runs Wasm; a plugin blocked inside a host
//! call (a WASI sleep: `monotonic-clock.subscribe-*` then `poll`) holds its thread for as long as
//! it asked. Every blocking host call a plugin can reach ends in a clock pollable (stdin is
//! empty, stdout and stderr are always writable, there is no file or socket), so the linker's
//! `wasi:clocks/monotonic-clock` is shadowed here by one whose subscriptions never outlast the
//! call's deadline: a sleep past it wakes at the deadline and the call fails with the ordinary
//! wall-time error (the cut is recorded, so the call fails even if the guest returns before the
//! epoch deadline is checked again).

use std::time::{Duration, Instant};

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi::p2::bindings::clocks::monotonic_clock::Host as MonotonicClock;

use super::host::{HostState, LimitHit};

/// The `wasi:clocks/monotonic-clock` version wasmtime-wasi links (imports of older 0.2.x
/// versions resolve to it by semver).
const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

/// Replaces the linker's monotonic-clock subscriptions with deadline-capped ones. Call after
/// `wasmtime_wasi::p2::add_to_linker_sync`.
pub(crate) fn cap_clock_subscriptions(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock.func_wrap(
        "subscribe-duration",
        |mut store: StoreContextMut<'_, HostState>, (nanos,): (u64,)| {
            subscribe_capped(store.data_mut(), Duration::from_nanos(nanos)).map(|p| (p,))
        },
    )?;
    clock.func_wrap(
        "subscribe-instant",
        |mut store: StoreContextMut<'_, HostState>, (when,): (u64,)| {
            let state = store.data_mut();
            let now = MonotonicClock::now(&mut state.clocks())?;
            let wait = Duration::from_nanos(when.saturating_sub(now));
            subscribe_capped(state, wait).map(|p| (p,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

fn subscribe_capped(
    state: &mut HostState,
    wait: Duration,
) -> wasmtime::Result<Resource<DynPollable>> {
    let capped = cap(wait, state.call_deadline(), Instant::now());
    if capped < wait {
        // The guest may return before the epoch deadline is checked again: the cut alone
        // fails the call.
        state.limiter.hit = Some(LimitHit::Blocked);
    }
    let nanos = u64::try_from(capped.as_nanos()).unwrap_or(u64::MAX);
    MonotonicClock::subscribe_duration(&mut state.clocks(), nanos)
}

/// `wait`, shortened so it ends no later than `deadline` (if there is one).
fn cap(wait: Duration, deadline: Option<Instant>, now: Instant) -> Duration {
    match deadline {
        Some(deadline) => wait.min(deadline.saturating_duration_since(now)),
        None => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_never_outlasts_the_deadline() {
        let now = Instant::now();
        let deadline = Some(now + Duration::from_millis(100));
        assert_eq!(
            cap(Duration::from_secs(40), deadline, now),
            Duration::from_millis(100)
        );
        assert_eq!(
            cap(Duration::from_millis(5), deadline, now),
            Duration::from_millis(5)
        );
        assert_eq!(
            cap(
                Duration::from_secs(1),
                deadline,
                now + Duration::from_secs(1)
            ),
            Duration::ZERO,
            "past the deadline a sleep returns at once"
        );
        assert_eq!(
            cap(Duration::from_secs(3), None, now),
            Duration::from_secs(3)
        );
    }
}
