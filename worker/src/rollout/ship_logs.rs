//! Shipping instance output to the store, for `GET /apps/{app}/logs`: the
//! supervising worker reads each instance's new output every half second
//! (on the next pass when an instance came or went), cuts it into lines and
//! appends them together with how far it read, so a worker taking the app
//! over goes on from there (nothing twice, nothing lost). An instance that
//! disappeared (stopped, crashed) gets one last read.

use crate::runtime::{Instance, Runtime};
use slipway_core::domain::AppName;
use slipway_core::store::{LogOffset, NewLogLine, Store};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// A line longer than this is shipped in parts (the store keeps 8 KiB).
const LONGEST_LINE: usize = 8 * 1024;
/// Reads of one instance per pass at most: a chatty one cannot hold the pass.
const READS_PER_PASS: usize = 4;
/// How often the output of an app whose instances did not change is read:
/// a read per instance on every supervisor pass was most of an idle
/// worker's work.
const READ_EVERY: Duration = Duration::from_millis(500);

/// Where each instance's output was read up to.
#[derive(Default)]
pub(super) struct LogShipper {
    tails: HashMap<String, Tail>,
    /// When each app's output was last read.
    read_at: HashMap<AppName, Instant>,
}

struct Tail {
    instance: Instance,
    next: u64,
    /// `next` as the store has it.
    shipped: u64,
    /// The start of a line not yet ended.
    partial: Vec<u8>,
}

impl LogShipper {
    /// Reads what `app`'s instances (those running now and those gone since
    /// the last pass) wrote and appends it to the store.
    pub(super) async fn ship<R: Runtime>(
        &mut self,
        runtime: &R,
        store: &Store,
        app: &AppName,
        running: &[Instance],
    ) {
        let new: Vec<&Instance> = running
            .iter()
            .filter(|i| !self.tails.contains_key(&i.id))
            .collect();
        let gone = || {
            self.tails
                .values()
                .any(|t| &t.instance.app == app && !running.iter().any(|i| i.id == t.instance.id))
        };
        let recent = self
            .read_at
            .get(app)
            .is_some_and(|at| at.elapsed() < READ_EVERY);
        if new.is_empty() && recent && !gone() {
            return;
        }
        self.read_at.insert(app.clone(), Instant::now());
        if !new.is_empty() {
            let Some(known) = offsets(store, app).await else {
                return;
            };
            for instance in new {
                let next = known.get(&instance.id).copied().unwrap_or(0);
                let tail = Tail {
                    instance: instance.clone(),
                    next,
                    shipped: next,
                    partial: Vec::new(),
                };
                self.tails.insert(instance.id.clone(), tail);
            }
        }
        let (mut lines, mut offsets, mut gone) = (Vec::new(), Vec::new(), Vec::new());
        for (id, tail) in self
            .tails
            .iter_mut()
            .filter(|(_, t)| &t.instance.app == app)
        {
            tail.read(runtime, &mut lines).await;
            if !running.iter().any(|i| &i.id == id) {
                tail.flush(&mut lines);
                gone.push(id.clone());
                offsets.push(LogOffset {
                    instance: id.clone(),
                    next: None,
                });
            } else if tail.next != tail.shipped {
                offsets.push(LogOffset {
                    instance: id.clone(),
                    next: Some(tail.next),
                });
            }
        }
        if lines.is_empty() && offsets.is_empty() {
            return;
        }
        let (writer, name) = (store.clone(), app.clone());
        let appended =
            tokio::task::spawn_blocking(move || writer.append_logs(&name, &lines, &offsets)).await;
        match appended {
            Ok(Ok(())) => {
                for tail in self.tails.values_mut().filter(|t| &t.instance.app == app) {
                    tail.shipped = tail.next;
                }
                for id in gone {
                    self.tails.remove(&id);
                }
            }
            // The tails stay where they were shipped from: read again next pass.
            Ok(Err(error)) => self.rewind(app, &error.to_string()),
            Err(error) => self.rewind(app, &error.to_string()),
        }
    }

    /// After a failed append: back to what the store has, to ship again.
    fn rewind(&mut self, app: &AppName, error: &str) {
        tracing::warn!(%app, %error, "cannot ship instance output; trying again");
        for tail in self.tails.values_mut().filter(|t| &t.instance.app == app) {
            tail.next = tail.shipped;
            tail.partial.clear();
        }
    }

    /// Forgets the instances of apps no longer supervised here.
    pub(super) fn keep_only(&mut self, supervised: impl Fn(&AppName) -> bool) {
        self.tails.retain(|_, tail| supervised(&tail.instance.app));
        self.read_at.retain(|app, _| supervised(app));
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
            self.cut(&chunk.bytes, lines);
            if chunk.bytes.is_empty() && !rotated {
                return;
            }
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

/// The app's shipping offsets by instance; `None` when the store cannot say.
async fn offsets(store: &Store, app: &AppName) -> Option<HashMap<String, u64>> {
    let (store, app) = (store.clone(), app.clone());
    match tokio::task::spawn_blocking(move || store.list_log_offsets(&app)).await {
        Ok(Ok(known)) => Some(known.into_iter().collect()),
        Ok(Err(error)) => {
            tracing::warn!(%error, "cannot read how far output was shipped");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "cannot read how far output was shipped");
            None
        }
    }
}
