//! Sequences of queue operations from a seed: adds with every option Bull 4 accepts, workers
//! that complete and fail, crashed takes, pauses, removals, retries, promotions, cleans,
//! empties. The same seed gives the same sequence.

use serde_json::{Map, Value, json};

use super::Op;

/// A small deterministic generator (SplitMix64).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The sequence of seed `seed`: 3 to 16 operations.
pub fn generate(seed: u64) -> Vec<Op> {
    let mut dice = Dice(seed);
    let length = 3 + dice.below(14);
    (0..length).map(|_| operation(&mut dice)).collect()
}

fn operation(dice: &mut Dice) -> Op {
    let job = dice.below(8) as usize;
    match dice.below(100) {
        0..45 => add(dice),
        45..63 => Op::Work,
        63..68 => Op::Take,
        68..72 => Op::Pause,
        72..76 => Op::Resume,
        76..80 => Op::Remove { job },
        80..84 => Op::Retry { job },
        84..89 => Op::Promote { job },
        89..93 => Op::Clean {
            state: (*dice.pick(&["completed", "failed", "delayed", "wait"])).to_owned(),
        },
        93..95 => Op::Empty,
        _ => Op::RemoveRepeatable {
            name: (*dice.pick(&["a", "b"])).to_owned(),
            repeat: repeat(dice),
        },
    }
}

fn add(dice: &mut Dice) -> Op {
    let name = (*dice.pick(&["a", "b", "c"])).to_owned();
    let data = if dice.chance(30) {
        json!({"outcome": "fail", "reason": format!("broke {}", dice.below(3))})
    } else {
        json!({"outcome": "ok", "value": dice.below(5)})
    };
    let mut opts = Map::new();
    // A short delay would race the observation after the add: delayed jobs come due only
    // through `promote` (and retries through their 10 ms backoff, within `work`).
    if dice.chance(25) {
        opts.insert("delay".into(), json!(*dice.pick(&[0, 60_000])));
    }
    if dice.chance(25) {
        opts.insert("priority".into(), json!(1 + dice.below(3)));
    }
    if dice.chance(35) {
        opts.insert("attempts".into(), json!(1 + dice.below(3)));
    }
    if dice.chance(25) {
        let backoff = match dice.below(3) {
            0 => json!(10),
            1 => json!({"type": "fixed", "delay": 10}),
            _ => json!({"type": "exponential", "delay": 10}),
        };
        opts.insert("backoff".into(), backoff);
    }
    for key in ["removeOnComplete", "removeOnFail"] {
        if dice.chance(25) {
            opts.insert(key.into(), keep(dice));
        }
    }
    if dice.chance(15) {
        opts.insert("jobId".into(), json!(format!("j{}", dice.below(3))));
    }
    if dice.chance(10) {
        opts.insert("lifo".into(), json!(true));
    }
    if dice.chance(5) {
        opts.insert("timeout".into(), json!(5000));
    }
    let repeating = dice.chance(10);
    // Not with a repeat: removing a series frees its pending iteration's debounce slot here,
    // where Bull's removeRepeatable leaves it pointing at the deleted job (on purpose: see the
    // README's differential tester).
    if !repeating && dice.chance(12) {
        let mut debounce = json!({"id": format!("d{}", dice.below(2))});
        if dice.chance(30) {
            debounce["ttl"] = json!(60_000);
        }
        opts.insert("debounce".into(), debounce);
    }
    if repeating {
        opts.insert("repeat".into(), repeat(dice));
    }
    Op::Add {
        name,
        data,
        opts: Value::Object(opts),
    }
}

/// `removeOnComplete` / `removeOnFail` in every form Bull takes.
fn keep(dice: &mut Dice) -> Value {
    match dice.below(6) {
        0 => json!(true),
        1 => json!(false),
        2 => json!(1 + dice.below(2)),
        3 => json!({"count": 1}),
        4 => json!({"age": 0}),
        _ => json!({"age": 3600, "count": 2}),
    }
}

/// Repeat options: hourly and daily intervals and crons (nothing comes due during a run), with a
/// limit, an end date (date-only, as Node writes it), and now and then both cron and every
/// (which Bull refuses).
fn repeat(dice: &mut Dice) -> Value {
    // Hours and days: a slot within `work`'s 300 ms horizon (a minute's boundary would come
    // every minute) would make the runs depend on when they ran.
    let mut repeat = match dice.below(3) {
        0 => json!({"every": 86_400_000}),
        1 => json!({"cron": "0 0 * * *"}),
        _ => json!({"every": 3_600_000}),
    };
    if dice.chance(30) {
        repeat["limit"] = json!(1 + dice.below(3));
    }
    if dice.chance(20) {
        repeat["endDate"] = json!("2099-01-01");
    }
    if dice.chance(8) {
        repeat["cron"] = json!("0 0 * * *");
        repeat["every"] = json!(3_600_000);
    }
    repeat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_sequence() {
        assert_eq!(generate(7), generate(7));
        assert_ne!(generate(7), generate(8));
        assert!((3..=16).contains(&generate(7).len()));
    }
}
