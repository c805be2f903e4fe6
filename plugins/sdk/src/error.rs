//! The error a handler returns, and its conversion into the WIT `plugin-error`.

use std::fmt;

use crate::bindings::guildhost::plugin::kv::KvError;
use crate::types::PluginError;

/// Why a handler failed: a message for the logs and the failed job, and whether retrying the
/// same message later may succeed.
///
/// Every SDK error converts into it, so `?` works throughout a handler:
///
/// ```
/// use guildhost_plugin::Error;
///
/// fn parse_limit(text: &str) -> Result<u32, Error> {
///     text.parse::<u32>().map_err(|e| Error::new(format!("limit: {e}")))
/// }
/// assert_eq!(parse_limit("x").unwrap_err().message(), "limit: invalid digit found in string");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    retryable: bool,
}

impl Error {
    /// A permanent failure: retrying the same message would fail the same way.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: false,
        }
    }

    /// A transient failure: the same message may succeed later (e.g. the store was unavailable).
    pub fn retryable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            retryable: true,
        }
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether retrying later may succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }

    /// The WIT form the host receives.
    pub fn into_plugin_error(self) -> PluginError {
        PluginError {
            message: self.message,
            retryable: self.retryable,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<KvError> for Error {
    fn from(error: KvError) -> Self {
        match error {
            KvError::Unavailable(reason) => {
                Self::retryable(format!("kv store unavailable: {reason}"))
            }
            KvError::InvalidKey(reason) => Self::new(format!("kv key invalid: {reason}")),
            KvError::QuotaExceeded(reason) => Self::new(format!("kv quota exceeded: {reason}")),
            KvError::NotAnInteger(reason) => {
                Self::new(format!("kv value is not an integer: {reason}"))
            }
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(error: serde_json::Error) -> Self {
        Self::new(format!("invalid JSON: {error}"))
    }
}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::new(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::new(message)
    }
}

impl From<PluginError> for Error {
    fn from(error: PluginError) -> Self {
        Self {
            message: error.message,
            retryable: error.retryable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_unavailable_store_is_retryable() {
        assert!(Error::from(KvError::Unavailable("down".into())).is_retryable());
        let quota = Error::from(KvError::QuotaExceeded("kv-keys 50".into()));
        assert!(!quota.is_retryable());
        assert_eq!(quota.message(), "kv quota exceeded: kv-keys 50");
    }

    #[test]
    fn converts_to_the_wit_error_and_back() {
        let wit = Error::retryable("later").into_plugin_error();
        assert_eq!(
            wit,
            PluginError {
                message: "later".into(),
                retryable: true
            }
        );
        assert_eq!(Error::from(wit), Error::retryable("later"));
    }
}
