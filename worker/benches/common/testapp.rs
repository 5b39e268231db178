//! The test app as the benches run it: its binary from the build the bench
//! runs with, and a manifest of one `web` service of it.

use slipway_core::domain::Manifest;
use slipway_core::testing::{ManifestBuilder, ServiceBuilder};
use std::path::PathBuf;

/// `slipway-testapp` beside the bench's own build (release), else debug.
pub fn testapp() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    // target/<profile>/deps/<bench>-<hash> → target/<profile>/slipway-testapp.
    let target = exe.ancestors().nth(3).expect("target dir").to_owned();
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("slipway-testapp"))
        .find(|p| p.exists())
        .expect("build slipway-testapp first: cargo build --release -p slipway-worker --bins")
}

/// One `web` service: the test app with `flags`, `count` instances,
/// health-checked every second from the start.
pub fn manifest(flags: &str, count: u32) -> Manifest {
    let web = ServiceBuilder::testapp(testapp().display(), flags).count(count);
    ManifestBuilder::web(web).build()
}
