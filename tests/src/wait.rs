//! Waiting without sleeping blindly: polling with a deadline, and a shutdown trigger.

use std::future::Future;
use std::time::Duration;

/// Polls `probe` every 20 ms until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A shutdown trigger for `Worker::run`: send on (or drop) the sender to stop the worker.
pub fn shutdown_pair() -> (
    tokio::sync::oneshot::Sender<()>,
    impl Future<Output = ()> + Send + 'static,
) {
    let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
    (sender, async move {
        let _ = receiver.await;
    })
}
