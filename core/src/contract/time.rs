//! How the clients show a time: "3 hours ago" in the CLI's tables and on
//! the console's pages, worded the same in both.

use chrono::{DateTime, Utc};

/// "just now", "1 minute ago", "3 hours ago", "1 week ago", "2 years ago".
/// By hand: `timeago` counts a month as 30.4 days and a year as 365.04
/// (30 days would read "4 weeks ago", 365 "12 months ago").
pub fn relative(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - then).num_seconds();
    if seconds < 60 {
        return "just now".into();
    }
    let (n, unit) = match seconds {
        s if s < 3_600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3_600, "hour"),
        s if s < 7 * 86_400 => (s / 86_400, "day"),
        s if s < 30 * 86_400 => (s / (7 * 86_400), "week"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    let plural = if n == 1 { "" } else { "s" };
    format!("{n} {unit}{plural} ago")
}
