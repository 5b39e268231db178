//! Keeping apps away from Slipway and from each other.
//!
//! - A worker makes itself non-dumpable ([`protect_this_process`]), so an app
//!   running as the same user cannot read its `/proc/<pid>/environ` or memory.
//! - Each app runs in its own working directory, `<state_dir>/apps/<app>/`
//!   (also its `$HOME`), never in the worker's.
//! - A worker running as root runs each app under its own unprivileged uid
//!   from a [`UidRange`]. The uid an app got is claimed once, as a symlink
//!   `<state_dir>/uids/<uid> -> <app>`, so it stays the app's across restarts
//!   and two workers over one state dir never hand it to two apps.
//!
//! How an instance is switched to its app's uid is the switch module's.

use std::fmt;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use slipway_core::domain::AppName;

use crate::runtime::RuntimeError;

/// The lowest uid an app may be given: below are the system's.
pub const MIN_APP_UID: u32 = 1000;

/// Search-only for others: apps may pass through, not list.
const PASS_THROUGH: u32 = 0o711;
const PRIVATE: u32 = 0o700;

/// Makes this process non-dumpable: its `/proc/<pid>/environ`, `mem` and
/// `maps` become root's, and processes of its own user can no longer attach to
/// it. Called at the start of every process that runs apps (`slipway dev`,
/// `slipway server worker`), which hold the secret key and database URL.
pub fn protect_this_process() -> Result<(), RuntimeError> {
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| RuntimeError::Failed(format!("cannot make this process non-dumpable: {e}")))
}

/// The uids apps may be given, both ends included (`200000-265535`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UidRange {
    first: u32,
    last: u32,
}

/// Why a uid range was refused.
#[derive(Debug, thiserror::Error)]
#[error("a uid range is FIRST-LAST with 1000 <= FIRST <= LAST < 4294967295 and without 65534 (nobody), like 200000-265535; got {0:?}")]
pub struct InvalidUidRange(String);

impl UidRange {
    /// Far above the uids distributions give to people and services.
    pub const DEFAULT: UidRange = UidRange {
        first: 200_000,
        last: 265_535,
    };

    /// `FIRST-LAST`: never system uids (below 1000), never `nobody` (65534),
    /// never `-1` (4294967295 means "unchanged" to setresuid).
    pub fn parse(s: &str) -> Result<UidRange, InvalidUidRange> {
        let invalid = || InvalidUidRange(s.to_owned());
        let (first, last) = s.trim().split_once('-').ok_or_else(invalid)?;
        let first: u32 = first.trim().parse().map_err(|_| invalid())?;
        let last: u32 = last.trim().parse().map_err(|_| invalid())?;
        let nobody = 65_534;
        if first < MIN_APP_UID
            || first > last
            || last == u32::MAX
            || (first..=last).contains(&nobody)
        {
            return Err(invalid());
        }
        Ok(UidRange { first, last })
    }

    pub fn first(&self) -> u32 {
        self.first
    }

    pub fn last(&self) -> u32 {
        self.last
    }

    fn len(&self) -> u32 {
        self.last - self.first + 1
    }

    /// Where the search for `app`'s uid begins: the same for the same name on
    /// every machine (FNV-1a, not std's hasher, which may change between Rust releases).
    fn start_for(&self, app: &AppName) -> u32 {
        let hash = app
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        // The remainder is below `len`, itself a u32.
        u32::try_from(hash % u64::from(self.len())).unwrap_or(0)
    }
}

impl Default for UidRange {
    fn default() -> Self {
        UidRange::DEFAULT
    }
}

impl FromStr for UidRange {
    type Err = InvalidUidRange;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        UidRange::parse(s)
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Whose user the apps run as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Users {
    /// The worker's own: apps can read each other's environment and files,
    /// and whatever the worker's user can read.
    Shared,
    /// One uid per app from the range; only a root worker can do this.
    /// Claims are kept per state dir: workers on one machine over different
    /// state dirs should be given ranges that do not overlap.
    PerApp(UidRange),
}

impl Users {
    /// Own uids from `range` when this process is root, else the worker's user.
    pub fn for_this_process(range: UidRange) -> Users {
        Users::for_root(nix::unistd::geteuid().is_root(), range)
    }

    fn for_root(is_root: bool, range: UidRange) -> Users {
        if is_root {
            Users::PerApp(range)
        } else {
            Users::Shared
        }
    }

    /// What a worker says at start when apps share its user, so whoever runs
    /// it knows what apps can read; `None` when each app has its own uid.
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            Users::Shared => Some(
                "the worker is not root: apps run as its user, so they can read each other's \
                 environment and files and anything of this user's, including Slipway's data \
                 dir; run the worker as root to give each app its own uid",
            ),
            Users::PerApp(_) => None,
        }
    }
}

/// Where an instance of an app runs, and as whom.
#[derive(Clone, Debug)]
pub(super) struct AppHome {
    /// Its working directory and `$HOME`.
    pub dir: PathBuf,
    /// `None`: the worker's own user.
    pub uid: Option<u32>,
}

/// The apps' working directories and uid claims under a state dir.
#[derive(Debug)]
pub(super) struct AppHomes {
    apps: PathBuf,
    uids: PathBuf,
    users: Users,
}

impl AppHomes {
    /// Sets up `state_dir/apps` and, for per-app users, `state_dir/uids`;
    /// the state dir becomes pass-through so apps reach their directories,
    /// everything else in it stays the worker's.
    pub fn new(state_dir: &Path, users: Users) -> io::Result<AppHomes> {
        let apps = state_dir.join("apps");
        let uids = state_dir.join("uids");
        let open = match users {
            Users::PerApp(_) => PASS_THROUGH,
            Users::Shared => PRIVATE,
        };
        create_dir_with_mode(&apps, open)?;
        if let Users::PerApp(_) = users {
            std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(PASS_THROUGH))?;
            create_dir_with_mode(&uids, PRIVATE)?;
            if let Some(closed) = first_closed_ancestor(&apps) {
                tracing::warn!(
                    directory = %closed.display(),
                    "apps start in their working directory but cannot reach it by its path \
                     ($HOME) because this directory is not searchable by others; make it \
                     searchable (chmod o+x) or keep Slipway's data dir elsewhere"
                );
            }
        }
        Ok(AppHomes { apps, uids, users })
    }

    /// The app's directory, created (and owned by its uid, mode 0700) if needed.
    /// Blocking: called from the blocking part of `start`.
    pub fn prepare(&self, app: &AppName) -> io::Result<AppHome> {
        let dir = self.apps.join(app.as_str());
        create_dir_with_mode(&dir, PRIVATE)?;
        let uid = match self.users {
            Users::Shared => None,
            Users::PerApp(range) => {
                let uid = self.claim(app, range)?;
                std::os::unix::fs::lchown(&dir, Some(uid), Some(uid))?;
                Some(uid)
            }
        };
        Ok(AppHome { dir, uid })
    }

    /// Removes the app's directory and gives its uid up, so a new app of the
    /// same name starts afresh (nothing of the deleted one's files, another
    /// uid's claim at most). Blocking.
    pub fn forget(&self, app: &AppName) -> io::Result<()> {
        match std::fs::remove_dir_all(self.apps.join(app.as_str())) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let claims = match std::fs::read_dir(&self.uids) {
            Ok(claims) => claims,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        for claim in claims {
            let claim = claim?.path();
            if std::fs::read_link(&claim).is_ok_and(|owner| owner.as_os_str() == app.as_str()) {
                std::fs::remove_file(&claim)?;
            }
        }
        Ok(())
    }

    /// The app's uid: the one it claimed before, else the first free one from
    /// where its name hashes to. A claim is a symlink, created atomically, so
    /// two workers claiming at once cannot both win one uid.
    fn claim(&self, app: &AppName, range: UidRange) -> io::Result<u32> {
        let start = range.start_for(app);
        for step in 0..range.len() {
            let uid = range.first + (start + step) % range.len();
            let claim = self.uids.join(uid.to_string());
            loop {
                match std::fs::read_link(&claim) {
                    Ok(owner) if owner.as_os_str() == app.as_str() => return Ok(uid),
                    Ok(_) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        match std::os::unix::fs::symlink(app.as_str(), &claim) {
                            Ok(()) => return Ok(uid),
                            // Someone else claimed it meanwhile: look at whom.
                            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                            Err(e) => return Err(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Err(io::Error::other(format!(
            "every uid of {range} is taken by another app"
        )))
    }
}

/// Creates `dir` readable by this process's user only (also when it existed).
pub(super) fn create_private_dir(dir: &Path) -> io::Result<()> {
    create_dir_with_mode(dir, PRIVATE)
}

fn create_dir_with_mode(dir: &Path, mode: u32) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)?;
    // Also when it existed already, made by an older version with other modes.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// The first directory above `dir` that others cannot pass through.
fn first_closed_ancestor(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .skip(1)
        .find(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 == 0))
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_ranges_are_parsed_and_unsafe_ones_refused() {
        assert_eq!(UidRange::parse("200000-265535").unwrap(), UidRange::DEFAULT);
        assert_eq!(UidRange::DEFAULT.to_string(), "200000-265535");
        let one = UidRange::parse(" 70000 - 70000 ").unwrap();
        assert_eq!((one.first(), one.last(), one.len()), (70000, 70000, 1));
        for bad in [
            "",
            "200000",
            "0-100",
            "999-5000",
            "300-200",
            "60000-70000",
            "a-b",
            "1000-4294967295",
            "-5-10",
        ] {
            assert!(UidRange::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_root_gives_apps_their_own_uids_and_otherwise_says_so() {
        let range = UidRange::DEFAULT;
        assert_eq!(Users::for_root(true, range), Users::PerApp(range));
        assert_eq!(Users::for_root(true, range).warning(), None);
        assert_eq!(Users::for_root(false, range), Users::Shared);
        let warning = Users::for_root(false, range).warning().expect("a warning");
        assert!(warning.contains("apps run as its user"), "{warning}");
    }

    #[test]
    fn an_app_keeps_its_uid_and_two_apps_never_share_one() {
        let dir = tempfile::tempdir().unwrap();
        // Two uids for three apps: the third finds none free.
        let range = UidRange::parse("70000-70001").unwrap();
        let homes = AppHomes {
            apps: dir.path().join("apps"),
            uids: dir.path().join("uids"),
            users: Users::PerApp(range),
        };
        std::fs::create_dir_all(&homes.uids).unwrap();
        let name = |s: &str| AppName::parse(s).unwrap();
        let shop = homes.claim(&name("shop"), range).unwrap();
        let blog = homes.claim(&name("blog"), range).unwrap();
        assert_ne!(shop, blog);
        assert_eq!(homes.claim(&name("shop"), range).unwrap(), shop);
        assert_eq!(homes.claim(&name("blog"), range).unwrap(), blog);
        assert!(homes.claim(&name("wiki"), range).is_err());
    }
}
