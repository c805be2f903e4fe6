//! The message-rate rule: a per-member counter for each fixed time window in the plugin's KV
//! store (`rate:<userId>:<window>`), incremented atomically so concurrent workers count right.

use guildhost_plugin::{Context, Error, KvError, warn};

use crate::config::RateRule;
use crate::rules::Hit;

/// Counts the message of `user_id` posted at `at` (ms) and says whether it is one too many.
pub fn rate_hit(
    ctx: &Context<'_>,
    rule: &RateRule,
    user_id: &str,
    at: u64,
) -> Result<Option<Hit>, Error> {
    let window_ms = rule.window_seconds.saturating_mul(1000).max(1);
    let window = at / window_ms;
    let kv = ctx.kv();
    let count = match kv.increment(&key(user_id, window), 1) {
        Ok(count) => count,
        // A full store must not stop the other rules: this one just cannot count for now.
        Err(KvError::QuotaExceeded(reason)) => {
            warn!(
                ctx,
                "automod rate rule skipped: kv quota exceeded ({reason})"
            );
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    if count == 1 && window > 0 {
        // The member's first message of a new window: their previous counter is done with.
        kv.delete(&key(user_id, window - 1))?;
    }
    Ok((count > i64::from(rule.max)).then(|| Hit {
        rule: String::from("rate"),
        consequence: rule.consequence(),
        detail: format!(
            "{count} messages within {} s (at most {})",
            rule.window_seconds, rule.max
        ),
    }))
}

fn key(user_id: &str, window: u64) -> String {
    format!("rate:{user_id}:{window}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use guildhost_plugin::testing::TestHost;

    #[test]
    fn the_message_past_the_limit_fires_and_windows_reset() {
        let host = TestHost::new();
        let ctx = host.context();
        let rule = RateRule {
            max: 2,
            window_seconds: 10,
            ..RateRule::default()
        };
        assert_eq!(rate_hit(&ctx, &rule, "1", 10_000).unwrap(), None);
        assert_eq!(rate_hit(&ctx, &rule, "1", 11_000).unwrap(), None);
        assert_eq!(
            rate_hit(&ctx, &rule, "2", 12_000).unwrap(),
            None,
            "per member"
        );
        let hit = rate_hit(&ctx, &rule, "1", 12_000).unwrap().unwrap();
        assert_eq!(hit.rule, "rate");
        assert_eq!(
            rate_hit(&ctx, &rule, "1", 20_000).unwrap(),
            None,
            "a new window"
        );
        assert_eq!(
            host.kv_value(None, "rate:1:1"),
            None,
            "the old counter is gone"
        );
    }

    #[test]
    fn a_full_store_skips_the_rule() {
        let host = TestHost::new().with_kv_quota(0, 0);
        let rule = RateRule {
            max: 0,
            ..RateRule::default()
        };
        assert_eq!(rate_hit(&host.context(), &rule, "1", 0).unwrap(), None);
    }
}
