//! `GET /apps/{app}/logs?service=&since=&limit=&follow=`: what the app's
//! instances wrote, as the supervising worker shipped it: the newest
//! `limit` lines as JSON, or with `follow=true` those and then every new
//! line as server-sent events, until the client goes.

use super::openapi::answers::*;
use super::openapi::params::AppPath;
use super::{app_path, sorted_json};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, TimeDelta, Utc};
use slipway_core::contract::{LogLines, LogsQuery};
use slipway_core::domain::{AppName, InvalidInput, Scope, ServiceName};
use slipway_core::store::{LogLine, LogQuery, Store};
use std::time::Duration;

const POLL: Duration = Duration::from_millis(250);
const KEEP_ALIVE: Duration = Duration::from_secs(15);
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;
/// The longest `since` as a duration: lines are not kept longer anyway.
const MAX_SINCE: TimeDelta = TimeDelta::days(30);

#[utoipa::path(get, path = "/apps/{app}/logs", operation_id = "listLogs", tag = "apps",
    description = "What the app's instances wrote (stdout and stderr), as the worker \
        supervising the app shipped it (within about 100 ms); the newest 10,000 lines of each \
        app are kept, a line up to 8 KiB. Without `follow`, the newest `limit` lines that \
        match, oldest first, as JSON. With `follow=true`, those lines and then every new one \
        as server-sent events (`event: log`, `id` the line's `seq`, `data` the line as JSON) \
        with a comment every 15 s, until the client goes or the app is deleted. Lines are the \
        app's own output and are shown as written; Slipway's own log lines never carry env \
        values.",
    params(AppPath, LogsQuery),
    responses(
        (status = 200, description = "The lines, oldest first; or, with `follow=true`, a \
            stream of them, each event's `data` a `LogLine`.",
            content((LogLines = "application/json"),
                (ref("#/components/schemas/LogStreamFrame") = "text/event-stream"))),
        BadRequest, Unauthorized, Forbidden, NotFound, UriTooLong, Invalid, HeaderTooLarge,
        Unavailable))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<LogsQuery>,
) -> Result<HttpResponse, ApiError> {
    let app = app_path(&path)?;
    caller.require(Scope::Read, Some(&app))?;
    let wanted = parse(&query, Utc::now())?;
    let (store, name) = (state.store.clone(), app.clone());
    let first = wanted.clone();
    let lines = state.db(move |s| s.list_logs(&name, &first)).await?;
    if query.follow != Some(true) {
        return sorted_json(StatusCode::OK, &LogLines { lines });
    }
    let cursor = Cursor {
        store,
        app,
        query: LogQuery {
            after: lines.last().map_or(0, |l| l.seq),
            limit: MAX_LIMIT,
            ..wanted
        },
        pending: Some(lines),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .streaming(futures_util::stream::unfold(cursor, next_chunk)))
}

/// The query the parameters ask for; a bad one names the parameter.
fn parse(query: &LogsQuery, now: DateTime<Utc>) -> Result<LogQuery, InvalidInput> {
    let service = query
        .service
        .as_deref()
        .map(|s| ServiceName::parse(s).map_err(|e| InvalidInput::new("service", e.message)))
        .transpose()?;
    let since = query.since.as_deref().map(|s| since(s, now)).transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(InvalidInput::new(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(LogQuery {
        service,
        since,
        after: 0,
        limit,
    })
}

/// `since`: an RFC 3339 time, or how long ago (`30s`, `10m`, `2h`, `1d`).
fn since(raw: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, InvalidInput> {
    if let Ok(at) = DateTime::parse_from_rfc3339(raw) {
        return Ok(at.with_timezone(&Utc));
    }
    let bad = || {
        InvalidInput::new(
            "since",
            "must be a time (RFC 3339) or how long ago, e.g. 30s, 10m, 2h, 1d (at most 30 days)",
        )
    };
    let split = raw.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = raw.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let ago = match unit {
        "s" => TimeDelta::try_seconds(n),
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        _ => None,
    }
    .filter(|ago| *ago <= MAX_SINCE)
    .ok_or_else(bad)?;
    Ok(now - ago)
}

struct Cursor {
    store: Store,
    app: AppName,
    query: LogQuery,
    /// Lines found but not yet sent (the first answer).
    pending: Option<Vec<LogLine>>,
}

/// The next lines (or a keep-alive); the stream ends when the app is gone.
async fn next_chunk(mut cursor: Cursor) -> Option<(Result<Bytes, ApiError>, Cursor)> {
    if let Some(lines) = cursor.pending.take() {
        return Some((Ok(Bytes::from(events(&lines))), cursor));
    }
    let mut waited = Duration::ZERO;
    loop {
        let (store, app, query) = (
            cursor.store.clone(),
            cursor.app.clone(),
            cursor.query.clone(),
        );
        let found = tokio::task::spawn_blocking(move || store.list_logs(&app, &query)).await;
        let lines = match found {
            Ok(Ok(lines)) => lines,
            // The app was deleted, or the database is away: the stream ends.
            Ok(Err(_)) | Err(_) => return None,
        };
        if let Some(last) = lines.last() {
            cursor.query.after = last.seq;
            return Some((Ok(Bytes::from(events(&lines))), cursor));
        }
        tokio::time::sleep(POLL).await;
        waited += POLL;
        if waited >= KEEP_ALIVE {
            return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), cursor));
        }
    }
}

fn events(lines: &[LogLine]) -> String {
    lines
        .iter()
        .map(|line| {
            let data = serde_json::to_string(line).unwrap_or_else(|_| "{}".into());
            format!("id: {}\nevent: log\ndata: {data}\n\n", line.seq)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_is_a_time_or_how_long_ago() {
        let now = Utc::now();
        assert_eq!(since("10m", now).unwrap(), now - TimeDelta::minutes(10));
        assert_eq!(since("1d", now).unwrap(), now - TimeDelta::days(1));
        let at = "2026-11-29T10:00:00Z";
        assert_eq!(
            since(at, now).unwrap().to_rfc3339(),
            "2026-11-29T10:00:00+00:00"
        );
        for bad in ["", "10", "m", "10x", "31d", "-5m", "99999999999999999999s"] {
            let err = since(bad, now).unwrap_err();
            assert_eq!(err.field, "since", "{bad}");
        }
    }
}
