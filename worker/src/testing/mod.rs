//! Test support (feature `testing`), the worker's part of the test kit:
//! [`Rig`], the engine over the local runtime and a fresh database, with
//! the router in front when asked for; shared by the worker's tests and
//! benchmarks. What needs only `core` (databases, manifests, `wait_until`)
//! is in `slipway_core::testing`.

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
