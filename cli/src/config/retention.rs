//! Retention settings of a worker: how many finished jobs Redis keeps and for
//! how long, and how long events and webhook deliveries stay in the database.

use clap::Args;
use slipway_queue::retention::{JobRetention, DEFAULT_KEEP_LAST};
use slipway_worker::retention::RetentionConfig;
use std::time::Duration;

/// Largest accepted job count: 10 million finished jobs are about 5 GB of Redis.
const MAX_KEPT_JOBS: usize = 10_000_000;
/// Longest accepted retention in days (100 years), short of `forever`.
const MAX_DAYS: u32 = 36_500;
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Finished jobs kept in Redis, newest first; 0 keeps none. With
    /// SLIPWAY_JOB_RETENTION_DAYS the stricter of the two wins
    #[arg(long = "job-retention", env = "SLIPWAY_JOB_RETENTION", default_value_t = DEFAULT_KEEP_LAST, value_parser = parse_job_count)]
    pub job_retention: usize,
    /// Days a finished job stays in Redis at most, or `forever`
    #[arg(long = "job-retention-days", env = "SLIPWAY_JOB_RETENTION_DAYS", default_value = "7", value_parser = parse_days)]
    pub job_retention_days: Days,
    /// Days events and webhook deliveries are kept (pending deliveries and
    /// their events stay until they are done), or `forever`
    #[arg(long = "event-retention-days", env = "SLIPWAY_EVENT_RETENTION_DAYS", default_value = "90", value_parser = parse_days)]
    pub event_retention_days: Days,
}

impl RetentionArgs {
    /// The worker's retention, swept at the default pace.
    pub fn config(&self) -> RetentionConfig {
        RetentionConfig {
            jobs: JobRetention {
                keep_last: Some(self.job_retention),
                keep_for: self.job_retention_days.duration(),
            },
            events: self.event_retention_days.duration(),
            ..RetentionConfig::default()
        }
    }
}

/// A number of days, or `forever`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Days(Option<u32>);

impl Days {
    pub fn duration(self) -> Option<Duration> {
        self.0.map(|days| DAY * days)
    }
}

fn parse_job_count(raw: &str) -> Result<usize, String> {
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| *n <= MAX_KEPT_JOBS)
        .ok_or_else(|| {
            format!("a whole number of finished jobs from 0 to {MAX_KEPT_JOBS} expected")
        })
}

fn parse_days(raw: &str) -> Result<Days, String> {
    let raw = raw.trim();
    if raw.eq_ignore_ascii_case("forever") {
        return Ok(Days(None));
    }
    raw.parse::<u32>()
        .ok()
        .filter(|days| (1..=MAX_DAYS).contains(days))
        .map(|days| Days(Some(days)))
        .ok_or_else(|| {
            format!("a whole number of days from 1 to {MAX_DAYS}, or `forever`, expected")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_days_are_read() {
        assert_eq!(parse_job_count("0"), Ok(0));
        assert_eq!(parse_job_count("10000"), Ok(10_000));
        assert_eq!(parse_days("7"), Ok(Days(Some(7))));
        assert_eq!(parse_days("forever"), Ok(Days(None)));
        assert_eq!(parse_days("Forever").unwrap().duration(), None);
        assert_eq!(parse_days("2").unwrap().duration(), Some(DAY * 2));
    }

    #[test]
    fn a_negative_or_non_numeric_job_count_is_refused() {
        for bad in ["-1", "ten", "", "1e4", "10 000"] {
            let message = parse_job_count(bad).unwrap_err();
            assert!(
                message.contains("whole number of finished jobs"),
                "{bad}: {message}"
            );
        }
    }

    #[test]
    fn a_job_count_above_ten_million_is_refused() {
        let message = parse_job_count("10000001").unwrap_err();
        assert!(message.contains("from 0 to 10000000"), "{message}");
    }

    #[test]
    fn zero_days_is_refused_in_favour_of_a_count_of_zero() {
        let message = parse_days("0").unwrap_err();
        assert!(
            message.contains("from 1 to 36500, or `forever`"),
            "{message}"
        );
    }

    #[test]
    fn days_that_are_not_a_whole_number_are_refused() {
        for bad in ["-5", "7d", "90 days", "1.5", "never", ""] {
            let message = parse_days(bad).unwrap_err();
            assert!(message.contains("whole number of days"), "{bad}: {message}");
        }
    }

    #[test]
    fn more_than_a_hundred_years_is_refused() {
        assert!(parse_days("36500").is_ok());
        let message = parse_days("36501").unwrap_err();
        assert!(message.contains("or `forever`"), "{message}");
    }

    #[test]
    fn the_defaults_are_ten_thousand_jobs_a_week_and_ninety_days() {
        let args = RetentionArgs {
            job_retention: DEFAULT_KEEP_LAST,
            job_retention_days: parse_days("7").unwrap(),
            event_retention_days: parse_days("90").unwrap(),
        };
        assert_eq!(args.config(), RetentionConfig::default());
    }
}
