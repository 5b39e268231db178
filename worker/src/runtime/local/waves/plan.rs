//! The arithmetic of a rolling update, Convox's way: `minimum` is the
//! percent of `scale.count` that must stay available, `maximum` the percent
//! that may run at once. Pure, so it is tested on its own.

use slipway_core::domain::Strategy;

/// What to do next for one service, given what runs now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// New instances to start.
    pub start: usize,
    /// Instances of other releases to stop.
    pub stop_old: usize,
    /// Surplus instances of the target release to stop.
    pub stop_new: usize,
    /// Nothing left to do: `count` healthy target instances, nothing else.
    pub done: bool,
}

/// `old`: instances of other releases (counted as available until stopped);
/// `new`: target instances in all; `healthy`: those of `new` verified healthy.
pub fn next_step(count: usize, strategy: Strategy, old: usize, new: usize, healthy: usize) -> Step {
    let done = old == 0 && new == count && healthy == count;
    let min_available = (count * usize::from(strategy.minimum())).div_ceil(100);
    let max_running = (count * usize::from(strategy.maximum()) / 100).max(count);
    let start = count
        .saturating_sub(new)
        .min(max_running.saturating_sub(old + new));
    let available = old + healthy;
    let stop_old = old.min(available.saturating_sub(min_available));
    Step {
        start,
        stop_old,
        stop_new: new.saturating_sub(count),
        done,
    }
}

/// How many waves of starts a rollout of `count` takes when every start
/// becomes healthy before the next look: the ideal the benchmark compares
/// wall time against.
pub fn waves(count: usize, strategy: Strategy) -> usize {
    let (mut old, mut new, mut waves) = (count, 0, 0);
    // Bounded: every strategy that parses finishes in fewer steps.
    for _ in 0..4 * count + 4 {
        let step = next_step(count, strategy, old, new, new);
        if step.done {
            break;
        }
        waves += usize::from(step.start > 0);
        old -= step.stop_old;
        new += step.start;
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strategy(minimum: u8, maximum: u16) -> Strategy {
        Strategy::new(minimum, maximum).unwrap()
    }

    #[test]
    fn the_default_surges_everything_then_stops_the_old() {
        let s = strategy(50, 200);
        let step = next_step(10, s, 10, 0, 0);
        assert_eq!((step.start, step.stop_old, step.done), (10, 5, false));
        // Once the new ones are healthy, every old one may go.
        assert_eq!(next_step(10, s, 5, 10, 10).stop_old, 5);
        assert!(next_step(10, s, 0, 10, 10).done);
        assert_eq!(waves(10, s), 1);
    }

    #[test]
    fn minimum_keeps_instances_available() {
        let s = strategy(100, 200);
        let step = next_step(4, s, 4, 0, 0);
        assert_eq!(
            (step.start, step.stop_old),
            (4, 0),
            "nothing stops before new are healthy"
        );
        assert_eq!(next_step(4, s, 4, 4, 2).stop_old, 2);
    }

    #[test]
    fn no_surge_stops_first_then_starts() {
        let s = strategy(50, 100);
        let step = next_step(4, s, 4, 0, 0);
        assert_eq!((step.start, step.stop_old), (0, 2));
        let step = next_step(4, s, 2, 0, 0);
        assert_eq!(step.start, 2);
        assert_eq!(waves(4, s), 2);
        assert_eq!(waves(1, strategy(0, 100)), 1);
    }

    #[test]
    fn a_first_deploy_and_scaling_to_zero() {
        assert_eq!(next_step(3, Strategy::default(), 0, 0, 0).start, 3);
        let step = next_step(0, Strategy::default(), 3, 0, 0);
        assert_eq!((step.start, step.stop_old, step.done), (0, 3, false));
        assert!(next_step(0, Strategy::default(), 0, 0, 0).done);
    }

    #[test]
    fn surplus_new_instances_are_stopped() {
        let step = next_step(2, Strategy::default(), 0, 3, 3);
        assert_eq!(step.stop_new, 1);
        assert!(!step.done);
    }
}
