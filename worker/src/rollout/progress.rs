//! Progress of one rollout as `deployment.progress` events: a wave started,
//! instances became healthy, a rollback began. A background task writes them
//! in order, so the rollout never waits on the database for them; `flush`
//! before a state change keeps them ahead of it in the event stream.

use crate::runtime::Steps;
use slipway_core::events::Progress as Step;
use slipway_core::store::{Deployment, Store};
use tokio::sync::{mpsc, oneshot};

enum Message {
    Record(Step),
    Flush(oneshot::Sender<()>),
}

/// The progress log of one deployment; the writer stops when this is dropped.
pub struct Progress {
    tx: mpsc::UnboundedSender<Message>,
}

impl Progress {
    pub fn start(store: Store, deployment: Deployment) -> Progress {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write(store, deployment, rx));
        Progress { tx }
    }

    /// Waits until every step queued so far is written (or given up).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = written.await;
        }
    }
}

impl Steps for Progress {
    /// Queues one step; best effort (a lost step is only a missed line).
    fn record(&self, step: Step) {
        let _ = self.tx.send(Message::Record(step));
    }
}

async fn write(store: Store, deployment: Deployment, mut rx: mpsc::UnboundedReceiver<Message>) {
    while let Some(message) = rx.recv().await {
        match message {
            Message::Flush(done) => {
                let _ = done.send(());
            }
            Message::Record(step) => {
                let (store, d) = (store.clone(), deployment.clone());
                let written =
                    tokio::task::spawn_blocking(move || store.record_progress(&d, &step)).await;
                match written {
                    Ok(Ok(())) => {}
                    Ok(Err(err)) => tracing::warn!(error = %err, "cannot record progress"),
                    Err(err) => tracing::warn!(error = %err, "progress task failed"),
                }
            }
        }
    }
}
