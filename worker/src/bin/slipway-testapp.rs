//! `slipway-testapp`: a tiny HTTP/1.1 server that plays a deployed app in the
//! local runtime's tests and benchmarks. Standard library only.
//!
//! It listens on `127.0.0.1:$PORT` and answers:
//! - `GET /health`: 503 until `--healthy-after-ms`, then 200; or always
//!   `--health-status CODE`;
//! - `GET /env/<KEY>`: the value of env var KEY, 404 when unset;
//! - anything else: 200 with `$SLIPWAY_RELEASE` (`-` when unset).
//!
//! SIGTERM keeps its default action (exit at once), as a well-behaved app's would.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::exit;
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: slipway-testapp [--healthy-after-ms N] [--health-status CODE] \
[--listen-after-ms N] [--exit-after-ms N] [--exit-code C]";

/// Longest request head read; the rest is ignored.
const MAX_HEAD: usize = 16 * 1024;

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

/// Answers one request, then closes the connection.
fn serve(mut stream: TcpStream, options: Options, started: Instant) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(path) = read_path(&mut stream) else {
        respond(&mut stream, 400, "bad request\n");
        return;
    };
    let path = path.split('?').next().unwrap_or_default();
    if path == "/health" {
        let status =
            options
                .health_status
                .unwrap_or(if started.elapsed() >= options.healthy_after {
                    200
                } else {
                    503
                });
        respond(&mut stream, status, "health\n");
    } else if let Some(key) = path.strip_prefix("/env/") {
        match std::env::var(key) {
            Ok(value) => respond(&mut stream, 200, &value),
            Err(_) => respond(&mut stream, 404, "unset\n"),
        }
    } else {
        let release = std::env::var("SLIPWAY_RELEASE").unwrap_or_else(|_| "-".to_owned());
        respond(&mut stream, 200, &release);
    }
}

/// The path of the request line, once the whole head has arrived.
fn read_path(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buf = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut parts = head.lines().next()?.split_whitespace();
    let _method = parts.next()?;
    parts.next().map(str::to_owned)
}

fn respond(stream: &mut TcpStream, status: u16, body: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The client may have gone; nothing to do about it.
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}
