//! Test support (feature `testing`), the worker's part of the test kit:
//! [`Rig`], the engine over the local runtime and a fresh database, with
//! the router in front when asked for; shared by the worker's tests and
//! benchmarks. Also reading the local runtime's instance records, for tests
//! of the `slipway` binary. What needs only `core` (databases, manifests,
//! `wait_until`) is in `slipway_core::testing`.

pub mod kube;
mod rig;

pub use rig::{Rig, RigBuilder};

use crate::runtime::local::LocalRuntime;
use std::path::Path;
use std::time::Duration;

/// Stops every instance recorded under the local runtime's state dir `dir`,
/// at once. Callable from a `Drop` on any thread, inside a tokio runtime or
/// not: it runs on a thread and a runtime of its own, since blocking on a
/// runtime from inside another one is refused.
pub fn stop_everything_in(dir: &Path) {
    let dir = dir.to_owned();
    let _ = std::thread::spawn(move || {
        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to stop the instances");
        let runtime = LocalRuntime::new(&dir).expect("the runtime's state dir");
        tokio.block_on(runtime.stop_all(Duration::ZERO));
    })
    .join();
}

/// The instance records the local runtime keeps under its state dir `dir`
/// (`instances/<id>.json`), as JSON: how a test sees the instances of a
/// runtime in another process. Temporary files (`.<id>.json.tmp`) and
/// records that do not parse are left out.
pub fn instance_records(dir: &Path) -> Vec<serde_json::Value> {
    let Ok(entries) = std::fs::read_dir(dir.join("instances")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| {
            let path = e.ok()?.path();
            let name = path.file_name()?.to_str()?;
            (!name.starts_with('.') && name.ends_with(".json"))
                .then(|| std::fs::read(&path).ok())?
        })
        .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
        .collect()
}
