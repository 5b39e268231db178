//! Switching an instance to its app's uid.
//!
//! A worker that runs apps under their own uids spawns, as root and already in
//! the app's directory, a program that drops to the app's uid and gid (with no
//! supplementary groups) and then executes the app's program. std's
//! `Command::uid` changes the uid before it changes directory, which fails
//! wherever a directory above the state dir is private (a 0700 data dir or temp
//! dir), and `pre_exec` needs unsafe code.
//!
//! That program is `slipway-switch UID PROGRAM [ARGS]` ([`main`]), built and
//! installed beside `slipway`: a worker uses the one beside its own binary.
//! Where there is none (the runtime inside another program, as in this
//! crate's tests) it is util-linux's `setpriv`, which costs about 1.3 ms more
//! a start: it loads the locale and the user database, with their shared
//! libraries, before it switches. `slipway` itself would cost more than
//! both: the loader resolves some 25 shared libraries (libpq's) before its
//! `main` runs.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use tokio::process::Command;

use super::isolation::MIN_APP_UID;
use crate::runtime::RuntimeError;

/// The switch's file name, beside `slipway`.
const SWITCH: &str = "slipway-switch";
/// This binary's own failure to switch (as `env` and `chroot` use it).
const CANNOT_SWITCH: u8 = 125;
/// The program was found and could not be executed (as shells use it).
const CANNOT_EXECUTE: u8 = 126;
/// The program was not found (as shells use it).
const NOT_FOUND: u8 = 127;

/// The whole of `slipway-switch UID PROGRAM [ARGS]`: as root, in the
/// directory and environment PROGRAM is to have, it switches every uid and gid
/// to UID, with no supplementary groups, and executes PROGRAM. It returns
/// only when that failed, with the exit code to end with (and the reason on
/// stderr, the instance's log).
pub fn main() -> ExitCode {
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

/// What switches this process's instances to their apps' uids.
#[derive(Debug)]
pub(super) enum Switch {
    /// `slipway-switch`, at this path.
    Own(PathBuf),
    /// util-linux's `setpriv`, at this path.
    Setpriv(PathBuf),
}

impl Switch {
    /// `slipway-switch` beside this process's binary, or else `setpriv` from
    /// the worker's `PATH` (and the usual places).
    pub fn for_this_process() -> Result<Switch, RuntimeError> {
        let own = std::env::current_exe().map(|exe| exe.with_file_name(SWITCH));
        if let Some(own) = own.ok().filter(|p| p.is_file()) {
            return Ok(Switch::Own(own));
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .chain(["/usr/bin".into(), "/bin".into()])
            .map(|d: PathBuf| d.join("setpriv"))
            .find(|p| p.is_file())
            .map(Switch::Setpriv)
            .ok_or_else(|| {
                RuntimeError::Failed(
                    "running apps under their own uids needs `slipway-switch` beside \
                     `slipway`, or else `setpriv` (util-linux): neither was found"
                        .to_owned(),
                )
            })
    }

    /// The command that runs `program` as `uid` (its group the same number);
    /// the caller adds the program's arguments.
    pub fn command(&self, uid: u32, program: &str) -> Command {
        match self {
            Switch::Own(switch) => {
                let mut cmd = Command::new(switch);
                cmd.arg(uid.to_string()).arg(program);
                cmd
            }
            Switch::Setpriv(setpriv) => {
                let mut cmd = Command::new(setpriv);
                cmd.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={uid}"))
                    .arg("--clear-groups")
                    .args(["--", program]);
                cmd
            }
        }
    }
}
