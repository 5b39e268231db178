//! Switching an instance to its app's uid.
//!
//! A worker that runs apps under their own uids spawns, as root and already in
//! the app's directory, a program that drops to the app's uid and gid (with no
//! supplementary groups) and then executes the app's program. std's
//! `Command::uid` changes the uid before it changes directory, which fails
//! wherever a directory above the state dir is private (a 0700 data dir or temp
//! dir), and `pre_exec` needs unsafe code.
//!
//! That program is `slipway-switch UID PROGRAM [ARGS]` (`cli/src/bin`), built
//! and installed beside `slipway`: a worker uses the one beside its own binary.
//! Where there is none (the runtime inside another program, as in this
//! crate's tests) it is util-linux's `setpriv`, which costs about 1.3 ms more
//! a start: it loads the locale and the user database, with their shared
//! libraries, before it switches. `slipway` itself would cost more than
//! both: the loader resolves 27 shared libraries (libpq's) before its
//! `main` runs.

use std::path::PathBuf;

use tokio::process::Command;

pub use super::isolation::MIN_APP_UID;
use crate::runtime::RuntimeError;

/// The switch's file name, beside `slipway`.
pub const SWITCH: &str = "slipway-switch";

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
