//! When a Redis consumer looks for work: at once when told a job arrived,
//! else every `poll_interval`.
//!
//! The producer publishes every job it pushes on
//! `tasks:<active jobs list>:available`. A listener per consumer subscribes
//! to that channel and wakes the consumer, which then fetches, so a job is
//! picked up in the time of one message rather than half a poll interval,
//! and an idle consumer costs one fetch per interval instead of one every few
//! milliseconds. (A consumer that took a job fetches again by itself, so jobs
//! that waited for a free slot need no message.)
//!
//! The message can overtake the answer to a fetch Redis ran just before the
//! push: that fetch comes back empty after the wake-up was spent on it. So
//! every wake-up is followed by one more, [`RECHECK`] later. Messages are
//! lost while the listener is not connected (Redis restarting, the
//! connection cut); the interval is the fallback that still finds those
//! jobs, and retries coming due, which are not published.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy};
use futures_util::task::AtomicWaker;
use futures_util::StreamExt;

use crate::producer::RedisQueue;

/// The second look after a wake-up.
const RECHECK: Duration = Duration::from_millis(20);
/// Reconnection delays of the listener after its connection was lost.
const MIN_RELISTEN_DELAY: Duration = Duration::from_millis(100);
const MAX_RELISTEN_DELAY: Duration = Duration::from_secs(5);

/// "Look for work now", set by the listener, taken by the consumer's poll.
#[derive(Debug, Default)]
pub(super) struct Wake {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Wake {
    fn notify(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Whether a wake-up came since the last call; registers `cx` for the next.
    fn take(&self, cx: &Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.set.swap(false, Ordering::AcqRel)
    }
}

/// The consumer's poll strategy: it wakes the consumer (which fetches when
/// woken) on every wake-up and [`RECHECK`] after the last one, and every
/// `every` regardless. apalis calls it on each poll of the consumer.
pub(super) struct PollOnWake {
    every: tokio::time::Interval,
    wake: Arc<Wake>,
    recheck: Pin<Box<tokio::time::Sleep>>,
    rechecking: bool,
}

impl PollOnWake {
    pub(super) fn new(every: Duration, wake: Arc<Wake>) -> Self {
        let mut every = tokio::time::interval(every);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Self {
            every,
            wake,
            recheck: Box::pin(tokio::time::sleep(RECHECK)),
            rechecking: false,
        }
    }
}

/// Unlike apalis's `IntervalStrategy`, which replaces an elapsed timer with
/// one it never polls (so when the fetch that follows comes back empty
/// nothing wakes the consumer until its next heartbeat), every timer here is
/// polled until pending, so it is always armed.
impl PollStrategy for PollOnWake {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        let mut due = false;
        if self.wake.take(cx) {
            due = true;
            let again = tokio::time::Instant::now() + RECHECK;
            self.recheck.as_mut().reset(again);
            self.rechecking = true;
        }
        if self.rechecking && self.recheck.as_mut().poll(cx).is_ready() {
            due = true;
            self.rechecking = false;
        }
        while self.every.poll_tick(cx).is_ready() {
            due = true;
        }
        if due {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// Wakes `wake` on every job pushed to `queue`, reconnecting after a lost
/// connection, until dropped (the consumer aborts it on its way out). A
/// wake-up follows every (re)subscription: jobs may have come meanwhile.
pub(super) async fn listen(queue: RedisQueue, wake: Arc<Wake>) {
    let (client, channel) = (queue.client(), queue.notifications());
    let mut delay = MIN_RELISTEN_DELAY;
    loop {
        let subscribed = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match subscribed.await {
            Ok(pubsub) => {
                delay = MIN_RELISTEN_DELAY;
                wake.notify();
                let mut messages = pubsub.into_on_message();
                while messages.next().await.is_some() {
                    wake.notify();
                }
                tracing::warn!(%channel, "lost the job notifications; polling until they are back");
            }
            Err(error) => {
                tracing::warn!(%channel, error = %queue.redact(&error), retry_in = ?delay,
                    "cannot listen for job notifications; polling meanwhile");
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RELISTEN_DELAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::task::Waker;

    struct CountWakes(AtomicUsize);

    impl std::task::Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// After a tick the strategy must already be armed for the next one, even
    /// if the consumer does not poll it again (it parks once a fetch comes
    /// back empty); a wake-up wakes it at once and once more a little later.
    #[tokio::test]
    async fn the_strategy_wakes_on_each_tick_and_twice_on_each_wake_up() {
        let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let wake = Arc::new(Wake::default());
        let mut strategy = PollOnWake::new(Duration::from_millis(200), wake.clone());
        let snapshot = PollSnapshot::new();
        let woken = || wakes.0.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(
            strategy.poll_drive(&mut cx, &snapshot).is_ready(),
            "first tick"
        );
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(woken(), 1, "woken by the tick");
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());

        wake.notify();
        assert_eq!(woken(), 2, "woken by the wake-up");
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_ready());
        assert!(
            strategy.poll_drive(&mut cx, &snapshot).is_pending(),
            "one look per wake-up"
        );
        tokio::time::sleep(RECHECK * 2).await;
        assert_eq!(woken(), 3, "woken again");
        assert!(
            strategy.poll_drive(&mut cx, &snapshot).is_ready(),
            "the recheck"
        );
        assert!(strategy.poll_drive(&mut cx, &snapshot).is_pending());
    }
}
