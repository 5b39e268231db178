//! `slipway-switch UID PROGRAM [ARGS]`: how a worker running as root starts an
//! app's instance under the app's own uid (see the local runtime's switch
//! module). As root, in the directory and environment PROGRAM is to have, it
//! switches every uid and gid to UID, with no supplementary groups, and
//! executes PROGRAM. Its own binary, so that starting it loads nothing but
//! libc; its errors go to stderr, which is the instance's log.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use slipway_worker::runtime::local::switch::{MIN_APP_UID, SWITCH};

/// This binary's own failure to switch (as `env` and `chroot` use it).
const CANNOT_SWITCH: u8 = 125;
/// The program was found and could not be executed (as shells use it).
const CANNOT_EXECUTE: u8 = 126;
/// The program was not found (as shells use it).
const NOT_FOUND: u8 = 127;

/// Returns only when the switch or the exec failed, with the exit code to
/// end with.
fn main() -> ExitCode {
    ExitCode::from(switch_and_execute(std::env::args_os().skip(1)))
}

fn switch_and_execute(mut args: impl Iterator<Item = OsString>) -> u8 {
    // Never u32::MAX: to setresuid, -1 leaves a uid unchanged (root).
    let uid = args
        .next()
        .and_then(|uid| uid.to_str()?.parse::<u32>().ok())
        .filter(|uid| (MIN_APP_UID..u32::MAX).contains(uid));
    let (Some(uid), Some(program)) = (uid, args.next()) else {
        eprintln!(
            "usage: {SWITCH} UID PROGRAM [ARGS], with a UID from {MIN_APP_UID} to {}",
            u32::MAX - 1
        );
        return CANNOT_SWITCH;
    };
    if let Err(errno) = drop_to(uid) {
        eprintln!("{SWITCH}: cannot switch to uid {uid}: {errno}");
        return CANNOT_SWITCH;
    }
    let error = std::process::Command::new(&program).args(args).exec();
    eprintln!(
        "{SWITCH}: cannot run {}: {error}",
        program.to_string_lossy()
    );
    match error.kind() {
        std::io::ErrorKind::NotFound => NOT_FOUND,
        _ => CANNOT_EXECUTE,
    }
}

/// Real, effective and saved uid and gid all `uid`, no supplementary groups.
fn drop_to(uid: u32) -> nix::Result<()> {
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(uid));
    setgroups(&[])?;
    setresgid(gid, gid, gid)?;
    setresuid(uid, uid, uid)
}
