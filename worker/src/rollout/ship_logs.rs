//! Shipping instance output to the store, for `GET /apps/{app}/logs`: the
//! supervising worker reads each instance's new output on every pass, cuts
//! it into lines and appends them. An instance that disappeared (stopped,
//! crashed) gets one last read. Output written before this worker took the
//! app over is skipped, so a hand-over ships nothing twice.

use crate::runtime::{Instance, Runtime};
use chrono::{DateTime, Utc};
use slipway_core::domain::AppName;
use slipway_core::store::{NewLogLine, Store};
use std::collections::HashMap;

/// A line longer than this is shipped in parts (the store keeps 8 KiB).
const LONGEST_LINE: usize = 8 * 1024;
/// Reads of one instance per pass at most: a chatty one cannot hold the pass.
const READS_PER_PASS: usize = 4;

/// Where each instance's output was read up to.
#[derive(Default)]
pub(super) struct LogShipper {
    tails: HashMap<String, Tail>,
}

struct Tail {
    instance: Instance,
    next: u64,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
    /// Output from before the shipper first saw the instance is skipped.
    skipping: bool,
}

impl LogShipper {
    /// Reads what `app`'s instances (those running now and those gone since
    /// the last pass) wrote and appends it to the store. Instances that
    /// started before `since` are read from their end.
    pub(super) async fn ship<R: Runtime>(
        &mut self,
        runtime: &R,
        store: &Store,
        app: &AppName,
        running: &[Instance],
        since: DateTime<Utc>,
    ) {
        for instance in running {
            self.tails
                .entry(instance.id.clone())
                .or_insert_with(|| Tail {
                    instance: instance.clone(),
                    next: 0,
                    partial: Vec::new(),
                    skipping: instance.started_at < since,
                });
        }
        let mut lines = Vec::new();
        let mut gone = Vec::new();
        for (id, tail) in self
            .tails
            .iter_mut()
            .filter(|(_, t)| &t.instance.app == app)
        {
            let alive = running.iter().any(|i| &i.id == id);
            tail.read(runtime, &mut lines).await;
            if !alive {
                tail.flush(&mut lines);
                gone.push(id.clone());
            }
        }
        for id in gone {
            self.tails.remove(&id);
        }
        if lines.is_empty() {
            return;
        }
        let (store, app) = (store.clone(), app.clone());
        let appended = tokio::task::spawn_blocking(move || store.append_logs(&app, &lines)).await;
        match appended {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot ship instance output"),
            Err(error) => tracing::warn!(%error, "cannot ship instance output"),
        }
    }

    /// Forgets the instances of apps no longer supervised here.
    pub(super) fn keep_only(&mut self, supervised: impl Fn(&AppName) -> bool) {
        self.tails.retain(|_, tail| supervised(&tail.instance.app));
    }
}

impl Tail {
    async fn read<R: Runtime>(&mut self, runtime: &R, lines: &mut Vec<NewLogLine>) {
        for _ in 0..READS_PER_PASS {
            let chunk = match runtime.read_log(&self.instance, self.next).await {
                Ok(chunk) => chunk,
                Err(error) => {
                    return tracing::debug!(instance = %self.instance.id, %error, "cannot read output")
                }
            };
            let rotated = chunk.next < self.next;
            self.next = chunk.next;
            if chunk.bytes.is_empty() && !rotated {
                self.skipping = false;
                return;
            }
            if self.skipping {
                continue;
            }
            self.cut(&chunk.bytes, lines);
        }
    }

    /// Appends the complete lines of `bytes` (after what was left over).
    fn cut(&mut self, bytes: &[u8], lines: &mut Vec<NewLogLine>) {
        for &byte in bytes {
            if byte == b'\n' {
                self.flush(lines);
            } else {
                self.partial.push(byte);
                if self.partial.len() >= LONGEST_LINE {
                    self.flush(lines);
                }
            }
        }
    }

    fn flush(&mut self, lines: &mut Vec<NewLogLine>) {
        if self.partial.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.partial);
        let line = text.strip_suffix('\r').unwrap_or(&text).to_owned();
        self.partial.clear();
        lines.push(NewLogLine {
            service: self.instance.service.clone(),
            instance: self.instance.id.clone(),
            line,
        });
    }
}
