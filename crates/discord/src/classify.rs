//! Sorts what serenity returns into the [`DiscordError`] classes that decide a job's fate.
//!
//! The rule, from Discord's documented codes: network failures, timeouts, 5xx, 429 and the
//! "slow down" codes retry; 401 stops execution; every other 4xx is permanent. Which permanent
//! refusals mean "already so" depends on the action and is decided by the caller with
//! [`discord_code`].

use serenity::http::HttpError;

use super::DiscordError;

/// Discord JSON codes that ask the caller to slow down rather than give up: writes to a channel
/// too fast (20028), slowmode (20016), opening DMs too fast (40003), API overloaded (130000).
const SLOW_DOWN_CODES: [isize; 4] = [20028, 20016, 40003, 130_000];

/// The HTTP status and Discord JSON code of a refused request (`code` is `-1` when the body was
/// not Discord's JSON, e.g. an HTML error page).
pub(crate) fn discord_code(error: &serenity::Error) -> Option<(u16, isize)> {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            Some((response.status_code.as_u16(), response.error.code))
        }
        _ => None,
    }
}

/// The class of `error`.
pub(crate) fn classify(error: serenity::Error) -> DiscordError {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            let status = response.status_code.as_u16();
            let code = response.error.code;
            let message = if code == -1 {
                format!("HTTP {status} without a Discord error body")
            } else {
                response.error.message.clone()
            };
            if status == 401 {
                DiscordError::Unauthorized
            } else if status == 429 || status >= 500 || SLOW_DOWN_CODES.contains(&code) {
                DiscordError::Retriable(format!("HTTP {status} (code {code}): {message}"))
            } else {
                DiscordError::Permanent {
                    code: u32::try_from(code).unwrap_or(u32::from(status)),
                    message,
                }
            }
        }
        serenity::Error::Http(HttpError::Request(e)) => {
            DiscordError::Retriable(format!("request failed: {e}"))
        }
        serenity::Error::Io(e) => DiscordError::Retriable(format!("I/O error: {e}")),
        // Checks serenity makes before sending (lengths, counts): retrying cannot help.
        other => DiscordError::Permanent {
            code: 0,
            message: other.to_string(),
        },
    }
}
