//! What the client prints: aligned tables, relative times, JSON, colour
//! (only on a terminal, never with `NO_COLOR`), and durations people type.

use anstyle::{AnsiColor, Color, Style};
use chrono::{DateTime, Utc};
use comfy_table::ContentArrangement;
use serde_json::Value;
use slipway_core::contract::relative;
use std::io::{IsTerminal, Write};

/// Whether a stream may be coloured: only a terminal, and never when
/// `NO_COLOR` is set to anything but the empty string (no-color.org). Logs
/// and the client's own output follow the same rule.
pub fn colour_for(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub fn stdout_colour() -> bool {
    colour_for(std::io::stdout().is_terminal())
}

/// Writes one line to stdout; a closed pipe (`| head`) is not an error.
pub fn line(text: impl AsRef<str>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", text.as_ref());
}

/// Writes one line to stderr; a pipe nobody reads is not an error (on one,
/// `eprintln!` panics).
pub fn err_line(text: impl AsRef<str>) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", text.as_ref());
}

/// Writes a value as pretty JSON to stdout.
pub fn json(value: &Value) {
    line(serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into()));
}

/// A table cell: its text and, on a terminal, its colour.
pub struct Cell {
    text: String,
    colour: Option<Style>,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: one_line(&text.into()),
            colour: None,
        }
    }

    /// A status, coloured by what it means.
    pub fn status(text: &str) -> Cell {
        let colour = match text {
            "active" | "succeeded" => Some(GREEN),
            "promoting" | "running" | "pending" | "rolling_back" => Some(YELLOW),
            "failed" | "rolled_back" => Some(RED),
            _ => None,
        };
        Cell {
            text: one_line(text),
            colour,
        }
    }
}

pub const GREEN: Style = fg(AnsiColor::Green);
pub const YELLOW: Style = fg(AnsiColor::Yellow);
pub const RED: Style = fg(AnsiColor::Red);

const fn fg(colour: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(colour)))
}

/// Control characters from the server never reach the terminal.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `text` in `colour` when `enabled` (`\x1b[31m...\x1b[0m`), else as it is.
pub fn paint(text: &str, colour: Style, enabled: bool) -> String {
    if enabled {
        format!("{colour}{text}{colour:#}")
    } else {
        text.to_owned()
    }
}

/// Columns two spaces apart, the last one unpadded (as Convox prints them):
/// a table with no borders whose cells are padded two spaces on the right.
pub fn table(headers: &[&str], rows: Vec<Vec<Cell>>, colour: bool) -> String {
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(headers.iter().copied());
    for row in rows {
        table.add_row(row.into_iter().map(|cell| match cell.colour {
            Some(style) if !cell.text.is_empty() => paint(&cell.text, style, colour),
            _ => cell.text,
        }));
    }
    let last = headers.len().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        column.set_padding((0, if i < last { 2 } else { 0 }));
    }
    table
        .lines()
        .map(|line| line.trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `Key  value` lines, keys aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| {
            format!("{k:<width$}  {}", one_line(v))
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A time from the API, relative to now.
pub fn since(then: DateTime<Utc>) -> String {
    relative(then, Utc::now())
}

/// A time from the API as it sent it (RFC 3339, UTC, microseconds).
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// An optional field of an answer, or empty.
pub fn optional(value: &Option<impl std::fmt::Display>) -> String {
    value.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// A JSON string field, or empty.
pub fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `1.2s`, `3m 4s` from milliseconds.
pub fn duration_ms(ms: i64) -> String {
    if ms < 60_000 {
        format!("{:.1}s", ms as f64 / 1000.0)
    } else {
        format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// Seconds from `600`, `90s`, `10m`, `1h`, `1h30m`, `90d`.
pub fn parse_duration(raw: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration `{raw}`: use e.g. 90s, 10m or 1h");
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(bad());
    }
    if raw.bytes().all(|b| b.is_ascii_digit()) {
        return raw.parse().map_err(|_| bad());
    }
    let (mut total, mut number) = (0i64, String::new());
    for c in raw.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: i64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    fn ago_by(seconds: i64) -> String {
        let now = Utc::now();
        relative(now - TimeDelta::seconds(seconds), now)
    }

    #[test]
    fn relative_times_read_like_convox() {
        assert_eq!(ago_by(0), "just now");
        assert_eq!(ago_by(59), "just now");
        assert_eq!(ago_by(-30), "just now", "a clock ahead of ours");
        assert_eq!(ago_by(60), "1 minute ago");
        assert_eq!(ago_by(119), "1 minute ago");
        assert_eq!(ago_by(120), "2 minutes ago");
        assert_eq!(ago_by(3_600), "1 hour ago");
        assert_eq!(ago_by(3 * 3_600 + 59), "3 hours ago");
        assert_eq!(ago_by(86_400), "1 day ago");
        assert_eq!(ago_by(6 * 86_400), "6 days ago");
        assert_eq!(ago_by(7 * 86_400), "1 week ago");
        assert_eq!(ago_by(13 * 86_400), "1 week ago");
        assert_eq!(ago_by(14 * 86_400), "2 weeks ago");
        assert_eq!(ago_by(21 * 86_400), "3 weeks ago");
        assert_eq!(ago_by(45 * 86_400), "1 month ago");
        assert_eq!(ago_by(400 * 86_400), "1 year ago");
        assert_eq!(ago_by(800 * 86_400), "2 years ago");
    }

    #[test]
    fn tables_align_and_leave_the_last_column_unpadded() {
        let rows = vec![
            vec![
                Cell::new("RAAAAAAAAAA"),
                Cell::status("active"),
                Cell::new("1 week ago"),
            ],
            vec![Cell::new("RB"), Cell::status(""), Cell::new("")],
        ];
        let shown = table(&["ID", "STATUS", "CREATED"], rows, false);
        assert_eq!(
            shown,
            "ID           STATUS  CREATED\nRAAAAAAAAAA  active  1 week ago\nRB"
        );
    }

    #[test]
    fn colour_does_not_break_alignment() {
        let rows = vec![vec![Cell::status("failed"), Cell::new("x")]];
        let shown = table(&["STATUS", "X"], rows, true);
        assert_eq!(shown, "STATUS  X\n\x1b[31mfailed\x1b[0m  x");
    }

    #[test]
    fn control_characters_are_not_printed() {
        let shown = table(&["A"], vec![vec![Cell::new("a\x1b[2Jb\nc")]], false);
        assert_eq!(shown, "A\na [2Jb c");
    }

    #[test]
    fn timestamps_show_as_the_api_sent_them() {
        for sent in [
            "2026-11-29T22:29:46.848949Z",
            "2026-11-29T22:29:46.100Z",
            "2026-11-29T22:29:46Z",
        ] {
            let at: DateTime<Utc> = serde_json::from_value(Value::from(sent)).unwrap();
            assert_eq!(timestamp(at), sent);
            assert_eq!(serde_json::to_value(at).unwrap(), sent);
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("600"), Ok(600));
        assert_eq!(parse_duration("90s"), Ok(90));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("1h30m"), Ok(5_400));
        for bad in [
            "",
            "m",
            "10x",
            "1.5m",
            "10m5",
            "99999999999999999999h",
            "-1m",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
