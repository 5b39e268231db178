//! `slipway-testapp`: a tiny HTTP/1.1 server that plays a deployed app in the
//! local runtime's tests and benchmarks. Standard library only.
//!
//! It listens on `127.0.0.1:$PORT`, keeps connections alive (HTTP/1.1) and
//! answers:
//! - `GET /health`: 503 until `--healthy-after-ms`, then 200; or always
//!   `--health-status CODE`;
//! - `GET /env/<KEY>`: the value of env var KEY, 404 when unset;
//! - `GET /health/down` and `/health/up`: `/health` fails (503) from now on,
//!   or answers as before again;
//! - `GET /headers`: the request's head as it arrived;
//! - `GET /sleep/<ms>`: `$SLIPWAY_RELEASE` after that long;
//! - `GET /echo` with `Connection: upgrade`: `101 Switching Protocols`, then
//!   every byte sent back (a stand-in for a WebSocket);
//! - anything else: 200 with `$SLIPWAY_RELEASE` (`-` when unset).
//!
//! SIGTERM keeps its default action (exit at once, whatever is in flight).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::exit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: slipway-testapp [--healthy-after-ms N] [--health-status CODE] \
[--listen-after-ms N] [--exit-after-ms N] [--exit-code C]";

/// Longest request head read; a longer one ends the connection.
const MAX_HEAD: usize = 16 * 1024;

/// Set by `/health/down`, cleared by `/health/up`.
static SICK: AtomicBool = AtomicBool::new(false);

/// What the flags ask for.
#[derive(Clone, Copy, Debug)]
struct Options {
    healthy_after: Duration,
    health_status: Option<u16>,
    listen_after: Duration,
    exit_after: Option<Duration>,
    exit_code: i32,
}

fn main() {
    let started = Instant::now();
    let options = parse_args(std::env::args().skip(1)).unwrap_or_else(|message| {
        eprintln!("slipway-testapp: {message}\n{USAGE}");
        exit(2)
    });
    let port: u16 = match std::env::var("PORT").map(|p| p.parse()) {
        Ok(Ok(port)) => port,
        _ => {
            eprintln!("slipway-testapp: $PORT must be set to a port number");
            exit(2)
        }
    };
    if let Some(after) = options.exit_after {
        if after.is_zero() {
            exit(options.exit_code);
        }
        thread::spawn(move || {
            thread::sleep(after);
            exit(options.exit_code);
        });
    }
    thread::sleep(options.listen_after);
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("slipway-testapp: cannot listen on 127.0.0.1:{port}: {e}");
        exit(1)
    });
    println!("testapp listening on 127.0.0.1:{port}");
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                thread::spawn(move || serve(stream, options, started));
            }
            Err(e) => eprintln!("slipway-testapp: accept failed: {e}"),
        }
    }
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        healthy_after: Duration::ZERO,
        health_status: None,
        listen_after: Duration::ZERO,
        exit_after: None,
        exit_code: 1,
    };
    let mut args = args;
    while let Some(flag) = args.next() {
        const FLAGS: &[&str] = &[
            "--healthy-after-ms",
            "--health-status",
            "--listen-after-ms",
            "--exit-after-ms",
            "--exit-code",
        ];
        if !FLAGS.contains(&flag.as_str()) {
            return Err(format!("unknown flag {flag:?}"));
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |what: &str| -> Result<u64, String> {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: {what} expected, got {value:?}"))
        };
        match flag.as_str() {
            "--healthy-after-ms" => {
                options.healthy_after = Duration::from_millis(number("milliseconds")?)
            }
            "--listen-after-ms" => {
                options.listen_after = Duration::from_millis(number("milliseconds")?)
            }
            "--exit-after-ms" => {
                options.exit_after = Some(Duration::from_millis(number("milliseconds")?))
            }
            "--health-status" => {
                let code = number("an HTTP status")?;
                if !(100..=999).contains(&code) {
                    return Err(format!("{flag}: an HTTP status expected, got {value}"));
                }
                options.health_status = u16::try_from(code).ok();
            }
            "--exit-code" => {
                options.exit_code = value
                    .parse()
                    .map_err(|_| format!("{flag}: an exit code expected, got {value:?}"))?;
            }
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    Ok(options)
}

/// Answers requests on one connection until the client closes it or asks
/// to.
fn serve(stream: TcpStream, options: Options, started: Instant) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let Some(head) = read_head(&mut reader) else {
            return;
        };
        let Some((path, keep_alive, length, upgrade)) = parse_head(&head) else {
            respond(&mut writer, 400, "bad request\n", false);
            return;
        };
        // The body is read and dropped, so the next request starts clean.
        if std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink()).is_err() {
            return;
        }
        let path = path.split('?').next().unwrap_or_default();
        if path == "/echo" && upgrade {
            let _ = writer.write_all(
                b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n",
            );
            let _ = std::io::copy(&mut reader, &mut writer);
            return;
        }
        let (status, body) = answer(path, &head, options, started);
        respond(&mut writer, status, &body, keep_alive);
        if !keep_alive {
            return;
        }
    }
}

fn answer(path: &str, head: &str, options: Options, started: Instant) -> (u16, String) {
    let release = || std::env::var("SLIPWAY_RELEASE").unwrap_or_else(|_| "-".to_owned());
    if path == "/health/down" || path == "/health/up" {
        SICK.store(path == "/health/down", Ordering::SeqCst);
        (200, "ok\n".to_owned())
    } else if path == "/health" {
        let healthy = started.elapsed() >= options.healthy_after && !SICK.load(Ordering::SeqCst);
        let status = options
            .health_status
            .unwrap_or(if healthy { 200 } else { 503 });
        (status, "health\n".to_owned())
    } else if let Some(key) = path.strip_prefix("/env/") {
        match std::env::var(key) {
            Ok(value) => (200, value),
            Err(_) => (404, "unset\n".to_owned()),
        }
    } else if path == "/headers" {
        (200, head.to_owned())
    } else if let Some(ms) = path.strip_prefix("/sleep/") {
        match ms.parse() {
            Ok(ms) => {
                thread::sleep(Duration::from_millis(ms));
                (200, release())
            }
            Err(_) => (400, "milliseconds expected\n".to_owned()),
        }
    } else {
        (200, release())
    }
}

/// The request head, once it has all arrived; `None` at the end of the
/// connection.
fn read_head(reader: &mut BufReader<TcpStream>) -> Option<String> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).ok()?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return None;
        }
        if line == "\r\n" || line == "\n" {
            return (!head.is_empty()).then_some(head);
        }
        head.push_str(&line);
    }
}

/// The path, whether to keep the connection, the body's length and
/// whether an upgrade is asked for.
fn parse_head(head: &str) -> Option<(String, bool, u64, bool)> {
    let mut lines = head.lines();
    let mut parts = lines.next()?.split_whitespace();
    let _method = parts.next()?;
    let path = parts.next()?.to_owned();
    let mut keep_alive = parts.next()? == "HTTP/1.1";
    let (mut length, mut upgrade) = (0, false);
    for line in lines {
        let (name, value) = line.split_once(':')?;
        let value = value.trim().to_ascii_lowercase();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse().ok()?,
            "connection" if value.contains("close") => keep_alive = false,
            "connection" if value.contains("upgrade") => upgrade = true,
            _ => {}
        }
    }
    Some((path, keep_alive, length, upgrade))
}

fn respond(stream: &mut TcpStream, status: u16, body: &str, keep_alive: bool) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{body}",
        body.len(),
        if keep_alive { "keep-alive" } else { "close" }
    );
    // The client may have gone; nothing to do about it.
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}
