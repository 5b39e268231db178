//! When a failed delivery is tried again: a list of delays after the first
//! (immediate) attempt, each with ±10 % jitter so receivers coming back from
//! an outage are not hit by every retry at once.

use rand::Rng;
use std::time::Duration;

/// Delays before the 2nd, 3rd, ... attempt; after the last, the delivery fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule(Vec<Duration>);

/// The default: attempts at 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h.
impl Default for RetrySchedule {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        RetrySchedule(vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(600),
        ])
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid retry schedule {given:?}: {why} (expected comma-separated durations such as \"1s,30s,5m,2h\")")]
pub struct BadSchedule {
    given: String,
    why: String,
}

impl RetrySchedule {
    /// Parses `5s,5m,30m`: whole numbers with `ms`, `s`, `m` or `h`.
    pub fn parse(s: &str) -> Result<RetrySchedule, BadSchedule> {
        let bad = |why: String| BadSchedule {
            given: s.to_owned(),
            why,
        };
        let delays = s
            .split(',')
            .map(|part| parse_duration(part.trim()).map_err(&bad))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.len() > 50 {
            return Err(bad("at most 50 retries".into()));
        }
        Ok(RetrySchedule(delays))
    }

    /// Attempts in all, the first included.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.0.len()).map_or(u32::MAX, |n| n + 1)
    }

    /// The jittered wait after failed attempt number `attempt` (1-based), or
    /// `None` when that was the last one.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        let index = usize::try_from(attempt).ok()?.checked_sub(1)?;
        let base = *self.0.get(index)?;
        let factor = rand::rng().random_range(0.9..=1.1);
        Some(base.mul_f64(factor))
    }
}

/// `250ms`, `5s`, `10m`, `2h`: a whole number and a unit, at most a week.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?} has no unit (ms, s, m or h)"))?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?} does not start with a whole number"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("{s:?} has an unknown unit (use ms, s, m or h)")),
    };
    if duration > Duration::from_secs(7 * 24 * 3600) {
        return Err(format!("{s:?} is longer than a week"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_eight_attempts_ending_ten_hours_apart() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule.attempts(), 8);
        let first = schedule.delay_after(1).unwrap();
        assert!(first >= Duration::from_millis(4500) && first <= Duration::from_millis(5500));
        let last = schedule.delay_after(7).unwrap();
        assert!(last >= Duration::from_secs(32_400) && last <= Duration::from_secs(39_600));
        assert_eq!(schedule.delay_after(8), None);
        assert_eq!(schedule.delay_after(0), None);
    }

    #[test]
    fn schedules_parse_from_the_environment_form() {
        let schedule = RetrySchedule::parse("1s, 1s,2s").unwrap();
        assert_eq!(schedule.attempts(), 4);
        assert_eq!(
            RetrySchedule::parse("250ms,10m,2h").unwrap().0,
            [
                Duration::from_millis(250),
                Duration::from_secs(600),
                Duration::from_secs(7200)
            ]
        );
    }

    #[test]
    fn bad_schedules_say_what_is_wrong() {
        for (bad, why) in [
            ("", "no unit"),
            ("5", "no unit"),
            ("5x", "unknown unit"),
            ("s", "whole number"),
            ("-1s", "whole number"),
            ("1.5s", "unknown unit"),
            ("1s,,2s", "no unit"),
            ("200h", "longer than a week"),
        ] {
            let err = RetrySchedule::parse(bad).expect_err(bad).to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        let many = vec!["1s"; 51].join(",");
        assert!(RetrySchedule::parse(&many).is_err());
    }
}
