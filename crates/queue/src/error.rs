//! The queue module's error type: Redis failures, malformed stored data and invalid options.

use thiserror::Error;

/// Everything that can go wrong talking to a Bull queue.
#[derive(Debug, Error)]
pub enum QueueError {
    /// Redis refused a command or the connection broke.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A job option violates Bull's rules (the message names the field and the rule).
    #[error("invalid job option `{field}`: {rule}")]
    InvalidOption {
        /// The option, e.g. `repeat.cron`.
        field: &'static str,
        /// What the value must look like.
        rule: String,
    },
    /// Data read from Redis does not have the shape Bull writes.
    #[error("malformed queue data: {0}")]
    Malformed(String),
    /// A JSON document could not be encoded or decoded.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl QueueError {
    /// Whether retrying the same request later may succeed (connection trouble, timeouts, a
    /// server that is loading or failing over) rather than failing the same way again.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Redis(error) => {
                error.is_io_error()
                    || error.is_timeout()
                    || error.is_connection_dropped()
                    || error.is_connection_refusal()
                    || matches!(
                        error.code(),
                        Some(
                            "LOADING"
                                | "OOM"
                                | "BUSY"
                                | "TRYAGAIN"
                                | "CLUSTERDOWN"
                                | "MASTERDOWN"
                                | "MOVED"
                                | "ASK"
                                | "READONLY"
                        )
                    )
            }
            _ => false,
        }
    }
}

/// Shorthand for results of queue operations.
pub type QueueResult<T> = Result<T, QueueError>;
