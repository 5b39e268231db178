//! Waiting for a state a test expects: look again and again until it holds,
//! and when it never does, fail saying what was awaited, for how long, and
//! what was seen last. The one wait-until of every test and benchmark.

use std::fmt::{self, Debug};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for what it expects unless it says otherwise.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How often a wait looks unless told otherwise.
const EVERY: Duration = Duration::from_millis(20);

/// Polls `look` until `done` holds for what it returns, for up to
/// [`PATIENCE`]; returns that value. Panics, naming `what` and the last
/// value seen, when it never holds. [`Wait`] tunes the timeout and pace.
pub async fn wait_until<T, F, Fut>(what: &str, look: F, done: impl FnMut(&T) -> bool) -> T
where
    T: Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    Wait::new(what).until(look, done).await
}

/// A wait for `what`: how long it may take and how often to look.
#[derive(Clone, Debug)]
pub struct Wait {
    what: String,
    within: Duration,
    every: Duration,
}

impl Wait {
    /// A wait of [`PATIENCE`], looking every 20 ms.
    pub fn new(what: impl Into<String>) -> Wait {
        Wait {
            what: what.into(),
            within: PATIENCE,
            every: EVERY,
        }
    }

    /// Gives up after `within`.
    pub fn within(mut self, within: Duration) -> Wait {
        self.within = within;
        self
    }

    /// Looks every `every` (less often for costly looks, such as running a
    /// command; more often when the test measures how long it took).
    pub fn every(mut self, every: Duration) -> Wait {
        self.every = every;
        self
    }

    /// Polls `look` until `done` holds; that value. Panics with what was
    /// awaited and the last value seen when the time is up.
    pub async fn until<T, F, Fut>(self, look: F, done: impl FnMut(&T) -> bool) -> T
    where
        T: Debug,
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        self.try_until(look, done)
            .await
            .unwrap_or_else(|timed_out| panic!("{timed_out}"))
    }

    /// [`Wait::until`], handing the time-out back instead of panicking:
    /// for callers that add what they know to the failure (server logs).
    pub async fn try_until<T, F, Fut>(
        self,
        mut look: F,
        mut done: impl FnMut(&T) -> bool,
    ) -> Result<T, TimedOut<T>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = T>,
    {
        let deadline = Instant::now() + self.within;
        loop {
            let value = look().await;
            if done(&value) {
                return Ok(value);
            }
            if Instant::now() >= deadline {
                return Err(TimedOut {
                    what: self.what,
                    within: self.within,
                    last: value,
                });
            }
            tokio::time::sleep(self.every).await;
        }
    }
}

/// A wait that ran out of time, with the last value seen.
#[derive(Debug)]
pub struct TimedOut<T> {
    pub what: String,
    pub within: Duration,
    pub last: T,
}

impl<T: Debug> fmt::Display for TimedOut<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waited {:?} for {}; last seen: {:#?}",
            self.within, self.what, self.last
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Wait;
    use std::time::Duration;

    #[tokio::test]
    async fn returns_the_first_value_that_holds() {
        let mut n = 0;
        let seen = Wait::new("three looks")
            .every(Duration::from_millis(1))
            .until(
                || {
                    n += 1;
                    std::future::ready(n)
                },
                |n| *n == 3,
            )
            .await;
        assert_eq!(seen, 3);
    }

    #[tokio::test]
    async fn a_time_out_names_what_it_waited_for_and_the_last_value() {
        let timed_out = Wait::new("the moon")
            .within(Duration::from_millis(30))
            .every(Duration::from_millis(5))
            .try_until(|| std::future::ready("cheese"), |_| false)
            .await
            .unwrap_err();
        let message = timed_out.to_string();
        assert!(message.contains("for the moon"), "{message}");
        assert!(message.contains("last seen: \"cheese\""), "{message}");
    }

    #[tokio::test]
    #[should_panic(expected = "waited 10ms for nothing; last seen: 1")]
    async fn until_panics_when_the_time_is_up() {
        Wait::new("nothing")
            .within(Duration::from_millis(10))
            .until(|| std::future::ready(1), |_| false)
            .await;
    }
}
