//! Shipping instance output to the store, for `GET /apps/{app}/logs`: the
//! supervising worker reads each instance's new output every half second
//! (on the next pass when an instance came or went), cuts it into lines and
//! appends them together with how far it read, so a worker taking the app
//! over goes on from there (nothing twice, nothing lost). An instance that
//! disappeared (stopped, crashed) gets one last read.

use crate::runtime::{Instance, Runtime};
use slipway_core::domain::AppName;
use slipway_core::store::{AppLogs, LogOffset, NewLogLine, Store, Supervised};
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

/// The apps of a pass whose output is read, each with what runs of it.
type Due<'a> = [(&'a AppName, &'a [Instance])];

impl LogShipper {
    /// Reads what the instances of `apps` (those `running` now and those gone
    /// since the last pass) wrote and appends it to the store: one read of
    /// the store's offsets when instances are new, rounds of reads of every
    /// instance at once, and one write, for all the apps.
    pub(super) async fn ship<R: Runtime>(
        &mut self,
        runtime: &R,
        store: &Store,
        apps: &[Supervised],
        running: &HashMap<AppName, Vec<Instance>>,
    ) {
        let due: Vec<(&AppName, &[Instance])> = apps
            .iter()
            .map(|a| (&a.app, running.get(&a.app).map_or(&[][..], Vec::as_slice)))
            .filter(|(app, running)| self.is_due(app, running))
            .collect();
        if due.is_empty() {
            return;
        }
        for (app, _) in &due {
            self.read_at.insert((*app).clone(), Instant::now());
        }
        self.follow_new(store, &due).await;
        let lines = self.read_all(runtime, &due).await;
        let (shipped, gone) = self.what_to_ship(&due, lines);
        if shipped.is_empty() {
            return;
        }
        let writer = store.clone();
        let appended = tokio::task::spawn_blocking(move || writer.append_logs_of(&shipped)).await;
        let error = match appended {
            Ok(Ok(())) => {
                for tail in self.tails.values_mut().filter(|t| of(&due, t)) {
                    tail.shipped = tail.next;
                }
                for id in gone {
                    self.tails.remove(&id);
                }
                return;
            }
            Ok(Err(error)) => error.to_string(),
            Err(error) => error.to_string(),
        };
        // The tails go back to where they were shipped from: read again next pass.
        tracing::warn!(%error, "cannot ship instance output; trying again");
        for tail in self.tails.values_mut().filter(|t| of(&due, t)) {
            tail.next = tail.shipped;
            tail.partial.clear();
        }
    }

    /// Follows the instances of `due` not followed yet from where the store
    /// says their output was shipped; without an answer, at the next pass.
    async fn follow_new(&mut self, store: &Store, due: &Due<'_>) {
        let new: Vec<&Instance> = due
            .iter()
            .flat_map(|(_, running)| running.iter())
            .filter(|i| !self.tails.contains_key(&i.id))
            .collect();
        if new.is_empty() {
            return;
        }
        let Some(known) = offsets(store, &new).await else {
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

    /// The complete lines the followed instances of `due` wrote, by app: all
    /// of them read at once, then those that had more, up to
    /// [`READS_PER_PASS`] reads each.
    async fn read_all<R: Runtime>(
        &mut self,
        runtime: &R,
        due: &Due<'_>,
    ) -> HashMap<AppName, Vec<NewLogLine>> {
        let mut lines = HashMap::<AppName, Vec<NewLogLine>>::new();
        let mut reading: Vec<&mut Tail> = self.tails.values_mut().filter(|t| of(due, t)).collect();
        for _ in 0..READS_PER_PASS {
            if reading.is_empty() {
                break;
            }
            let reads: Vec<(&Instance, u64)> =
                reading.iter().map(|t| (&t.instance, t.next)).collect();
            let chunks = runtime.read_logs(&reads).await;
            let mut again = Vec::new();
            for (tail, chunk) in reading.into_iter().zip(chunks) {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(error) => {
                        tracing::debug!(instance = %tail.instance.id, %error, "cannot read output");
                        continue;
                    }
                };
                let rotated = chunk.next < tail.next;
                tail.next = chunk.next;
                tail.cut(
                    &chunk.bytes,
                    lines.entry(tail.instance.app.clone()).or_default(),
                );
                if !chunk.bytes.is_empty() || rotated {
                    again.push(tail);
                }
            }
            reading = again;
        }
        lines
    }

    /// What to append for each app of `due`: its `lines`, the last part of
    /// the output of its instances gone since, and where each instance's
    /// output is shipped now (forgotten for those gone, which are returned).
    fn what_to_ship(
        &mut self,
        due: &Due<'_>,
        mut lines: HashMap<AppName, Vec<NewLogLine>>,
    ) -> (Vec<AppLogs>, Vec<String>) {
        let (mut shipped, mut gone) = (Vec::new(), Vec::new());
        for (app, running) in due {
            let mut logs = AppLogs {
                app: (*app).clone(),
                lines: lines.remove(*app).unwrap_or_default(),
                offsets: Vec::new(),
            };
            for (id, tail) in self
                .tails
                .iter_mut()
                .filter(|(_, t)| &t.instance.app == *app)
            {
                if !running.iter().any(|i| &i.id == id) {
                    tail.flush(&mut logs.lines);
                    gone.push(id.clone());
                    logs.offsets.push(LogOffset {
                        instance: id.clone(),
                        next: None,
                    });
                } else if tail.next != tail.shipped {
                    logs.offsets.push(LogOffset {
                        instance: id.clone(),
                        next: Some(tail.next),
                    });
                }
            }
            if !logs.lines.is_empty() || !logs.offsets.is_empty() {
                shipped.push(logs);
            }
        }
        (shipped, gone)
    }

    /// Whether `app`'s output is read in this pass: an instance came or
    /// went, or it was last read [`READ_EVERY`] ago.
    fn is_due(&self, app: &AppName, running: &[Instance]) -> bool {
        let new = running.iter().any(|i| !self.tails.contains_key(&i.id));
        let gone = self
            .tails
            .values()
            .any(|t| &t.instance.app == app && !running.iter().any(|i| i.id == t.instance.id));
        let recent = self
            .read_at
            .get(app)
            .is_some_and(|at| at.elapsed() < READ_EVERY);
        new || gone || !recent
    }

    /// Forgets the instances of apps no longer supervised here.
    pub(super) fn keep_only(&mut self, supervised: impl Fn(&AppName) -> bool) {
        self.tails.retain(|_, tail| supervised(&tail.instance.app));
        self.read_at.retain(|app, _| supervised(app));
    }
}

/// Whether `tail` is an instance of an app of `due`.
fn of(due: &Due<'_>, tail: &Tail) -> bool {
    due.iter().any(|(app, _)| &tail.instance.app == *app)
}

impl Tail {
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

/// The shipping offsets of the apps of `new`, by instance; `None` when the
/// store cannot say.
async fn offsets(store: &Store, new: &[&Instance]) -> Option<HashMap<String, u64>> {
    let mut apps: Vec<AppName> = new.iter().map(|i| i.app.clone()).collect();
    apps.dedup();
    let store = store.clone();
    let listed = tokio::task::spawn_blocking(move || store.list_log_offsets_of(&apps)).await;
    let error = match listed {
        Ok(Ok(known)) => return Some(known.into_iter().collect()),
        Ok(Err(error)) => error.to_string(),
        Err(error) => error.to_string(),
    };
    tracing::warn!(%error, "cannot read how far output was shipped");
    None
}
