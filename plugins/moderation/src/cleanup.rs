//! CLEANUP_EXPIRED_CASES: moves the guild's cases whose time has passed to EXPIRED, announcing
//! each with CASE_UPDATED.

use guildhost_plugin::types::CleanupExpiredCases;
use guildhost_plugin::{Error, Output, info};

use crate::actions::{Request, status_change};
use crate::cases::Status;

/// Cases expired per call; the next cleanup run takes the rest (the manifest's `max-outputs`
/// leaves room for this many CASE_UPDATED events).
pub const BATCH: usize = 100;

/// Handles a cleanup run for the request's guild.
pub fn cleanup(
    req: Request<'_, '_>,
    cleanup: &CleanupExpiredCases,
    updated_by: &str,
) -> Result<Vec<Output>, Error> {
    let cases = req.cases();
    let wanted = |kind: &str| {
        cleanup.case_types.is_empty()
            || cleanup
                .case_types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(kind))
    };
    let mut outputs = Vec::new();
    for entry in cases.expiring()? {
        if outputs.len() >= BATCH || entry.expires_at > cleanup.expired_before {
            break;
        }
        let Some(mut case) = cases.get(&entry.case_id)? else {
            // Closed some other way; the index only lagged behind.
            cases.forget_expiry(&entry.case_id)?;
            continue;
        };
        if case.status != Status::Active || !wanted(case.kind.api_name()) {
            continue;
        }
        cases.close(&mut case, Status::Expired)?;
        let by = if updated_by.is_empty() {
            case.moderator_id.clone()
        } else {
            updated_by.to_owned()
        };
        outputs.push(Output::publish(status_change(&case, &by)));
    }
    info!(req.ctx, "cleanup expired {} case(s)", outputs.len());
    Ok(outputs)
}
