//! Choosing an instance's port.
//!
//! Ports come from outside the kernel's ephemeral range
//! (`ip_local_port_range`), never from binding port 0. An instance binds its
//! port some milliseconds after it is chosen; inside the ephemeral range the
//! kernel may hand that port meanwhile to the source side of an outgoing
//! connection (health checks make a fresh one each, hundreds a second while
//! many rollouts run) or to another worker's port-0 bind, and the instance
//! then fails to listen and its rollout is rolled back for nothing. Outside
//! that range only listeners take ports, and the ports of recorded
//! instances (of every worker sharing the data directory) are skipped.
//!
//! From its choice until its instance's record is written, a start holds its
//! port with a [`PortClaim`]: an abstract Unix socket named after the port.
//! The kernel lets one socket at a time have a name and frees it when its
//! holder ends, however it ends, and it is no file: a file created and
//! removed for every start makes each later file creation slower on ext4,
//! which skips recently freed inodes. Its namespace is the network
//! namespace, the same as the ports': workers that share ports share claims.
//! Any process may take such a name, as any process may listen on a port of
//! the range: an app can get in the way of starts no more than it could.

use std::collections::HashSet;
use std::io;
use std::ops::RangeInclusive;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use rand::Rng;

use super::process::transient;
use crate::runtime::RuntimeError;

/// No instance port below this: the well-known and registered ports that
/// local services (databases, caches, dev servers) commonly listen on.
const LOWEST: u16 = 10_000;
/// A range smaller than this is not worth using; port 0 is used instead.
const SMALLEST_RANGE: u32 = 1_024;
/// Ports tried before giving up.
const TRIES: usize = 64;

/// The larger of the gaps below and above the ephemeral range `first..=last`
/// (as `ip_local_port_range` gives it), or `None` when neither is big enough.
fn outside_ephemeral(first: u16, last: u16) -> Option<RangeInclusive<u16>> {
    let below = (first > LOWEST).then(|| LOWEST..=first - 1);
    let above = (last < u16::MAX).then(|| last.max(LOWEST - 1) + 1..=u16::MAX);
    let size = |r: &RangeInclusive<u16>| u32::from(*r.end()) - u32::from(*r.start()) + 1;
    [below, above]
        .into_iter()
        .flatten()
        .filter(|r| size(r) >= SMALLEST_RANGE)
        .max_by_key(size)
}

/// `ip_local_port_range` of this machine; Linux's default when unreadable.
fn ephemeral_range() -> (u16, u16) {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut bounds = text.split_whitespace().map(str::parse::<u16>);
            Some((bounds.next()?.ok()?, bounds.next()?.ok()?))
        })
        .unwrap_or((32_768, 60_999))
}

/// A port on 127.0.0.1 that nothing listens on and no recorded instance was
/// given (`taken`), from outside the ephemeral range.
pub(super) fn free_port(taken: &HashSet<u16>) -> Result<u16, RuntimeError> {
    let (first, last) = ephemeral_range();
    match outside_ephemeral(first, last) {
        Some(range) => pick(range, taken),
        None => any_port(),
    }
}

/// A port held by one start (see the module docs); dropping it lets the port go.
#[derive(Debug)]
pub(super) struct PortClaim {
    _name: UnixDatagram,
}

/// Claims `port` for one start; `None` when another start, of this worker
/// or another, holds it.
pub(super) fn claim(port: u16) -> io::Result<Option<PortClaim>> {
    let name = SocketAddr::from_abstract_name(format!("slipway-port-{port}"))?;
    match UnixDatagram::bind_addr(&name) {
        Ok(socket) => Ok(Some(PortClaim { _name: socket })),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
        Err(e) => Err(e),
    }
}

/// A port of `range`, at random, neither `taken` nor listened on.
fn pick(range: RangeInclusive<u16>, taken: &HashSet<u16>) -> Result<u16, RuntimeError> {
    let mut rng = rand::rng();
    for _ in 0..TRIES {
        let port = rng.random_range(range.clone());
        if !taken.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(RuntimeError::Transient(format!(
        "no free port found in {TRIES} tries between {} and {}",
        range.start(),
        range.end()
    )))
}

/// Port 0's choice: for a machine whose ephemeral range leaves no room.
fn any_port() -> Result<u16, RuntimeError> {
    let why = || "cannot find a free port".to_owned();
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(|e| transient(why(), e))?;
    Ok(listener
        .local_addr()
        .map_err(|e| transient(why(), e))?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_from_the_larger_gap_outside_the_ephemeral_range() {
        // Linux's default: 32768..=60999 leaves 10000..=32767 below.
        assert_eq!(outside_ephemeral(32_768, 60_999), Some(10_000..=32_767));
        // A range moved low leaves the top.
        assert_eq!(outside_ephemeral(10_500, 40_000), Some(40_001..=65_535));
        // A range starting under LOWEST still leaves everything above it.
        assert_eq!(outside_ephemeral(1_024, 50_000), Some(50_001..=65_535));
        // The whole space, or gaps too small to use: port 0 instead.
        assert_eq!(outside_ephemeral(1_024, 65_535), None);
        assert_eq!(outside_ephemeral(10_500, 65_000), None);
    }

    /// Eight ports of the range the runtime uses that nothing listens on now.
    fn eight_free_ports() -> RangeInclusive<u16> {
        let (first, last) = ephemeral_range();
        let range = outside_ephemeral(first, last).expect("this machine leaves room");
        let start = (*range.start()..=*range.end() - 7)
            .step_by(8)
            .find(|p| (*p..*p + 8).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()))
            .expect("eight free ports in a row");
        start..=start + 7
    }

    #[test]
    fn a_port_taken_or_listened_on_is_never_chosen() {
        let range = eight_free_ports();
        let start = *range.start();
        let _held =
            [start, start + 1].map(|p| std::net::TcpListener::bind(("127.0.0.1", p)).unwrap());
        let taken: HashSet<u16> = [start + 2, start + 3, start + 4].into();
        let mut chosen = HashSet::new();
        for _ in 0..50 {
            let port = pick(range.clone(), &taken).expect("three of eight are free");
            assert!((start + 5..=start + 7).contains(&port), "chose {port}");
            chosen.insert(port);
        }
        assert!(chosen.len() > 1, "always the same port: {chosen:?}");
        // All eight taken or listened on: an error, not a port.
        let taken: HashSet<u16> = (start + 2..=start + 7).collect();
        let err = pick(range, &taken).expect_err("no port is free");
        assert!(matches!(err, RuntimeError::Transient(why) if why.contains("no free port")));
    }

    /// Set for the child half of the claim test: the port it holds.
    const HOLD_VAR: &str = "SLIPWAY_TEST_HOLD_CLAIM";

    #[test]
    fn a_port_is_claimed_by_one_start_at_a_time() {
        // Under the ephemeral range: no other test of this binary claims there.
        let first = claim(1_001).expect("claim").expect("free");
        assert!(claim(1_001).expect("claim").is_none());
        let other = claim(1_002).expect("claim");
        assert!(other.is_some());
        drop(first);
        assert!(claim(1_001).expect("claim").is_some());
    }

    /// The child half of the next test: holds the claim it is told to until
    /// it is killed; does nothing when run on its own.
    #[test]
    #[ignore = "run by a_claim_ends_with_the_process_that_held_it"]
    fn hold_a_claim() {
        let Some(port) = std::env::var(HOLD_VAR).ok().and_then(|p| p.parse().ok()) else {
            return;
        };
        let _held = claim(port).expect("claim").expect("free");
        println!("holding");
        std::thread::sleep(std::time::Duration::from_secs(60));
    }

    /// A worker killed between choosing a port and recording it leaves no
    /// claim behind: the kernel frees the name with the process.
    #[test]
    fn a_claim_ends_with_the_process_that_held_it() {
        use std::io::{BufRead, BufReader};
        let mut holder = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", "runtime::local::port::tests::hold_a_claim"])
            .args(["--ignored", "--nocapture", "--test-threads=1"])
            .env(HOLD_VAR, "1003")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the holder");
        let stdout = holder.stdout.take().expect("its stdout");
        let held = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.ends_with("holding"));
        let refused = claim(1_003).expect("claim").is_none();
        holder.kill().expect("kill the holder");
        holder.wait().expect("reap the holder");
        assert!(held, "the holder never claimed the port");
        assert!(refused, "a port held by another process was claimed again");
        assert!(claim(1_003).expect("claim").is_some());
    }

    #[test]
    fn free_port_stays_outside_the_ephemeral_range() {
        let (first, last) = ephemeral_range();
        for _ in 0..50 {
            let port = free_port(&HashSet::new()).unwrap();
            assert!(!(first..=last).contains(&port) && port >= LOWEST, "{port}");
        }
    }
}
