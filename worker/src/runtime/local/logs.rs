//! Instance output on disk: one file per instance under
//! `state_dir/logs/<app>/`, read from where the last read ended, rotated when
//! it grows past [`ROTATE_AT`] (copied to `<id>.log.1`, then truncated: the
//! instance keeps its file open for appending, so it simply goes on writing
//! at the start), and pruned to the newest [`KEEP_STOPPED`] files of stopped
//! instances per app.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::runtime::LogChunk;

/// A log file this large is rotated once read.
pub const ROTATE_AT: u64 = 8 * 1024 * 1024;
/// The most one read returns; the rest comes with the next.
const READ_AT_MOST: u64 = 256 * 1024;
/// Log files of stopped instances kept per app (the newest).
pub const KEEP_STOPPED: usize = 10;

/// The output written to `path` since byte `from`. A file shorter than
/// `from` was truncated (rotated): reading starts again at 0. A missing file
/// is no output.
pub fn read_from(path: &Path, from: u64) -> io::Result<LogChunk> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(LogChunk {
                bytes: Vec::new(),
                next: 0,
            })
        }
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let from = if len < from { 0 } else { from };
    let take = (len - from).min(READ_AT_MOST);
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::with_capacity(usize::try_from(take).unwrap_or(0));
    file.take(take).read_to_end(&mut bytes)?;
    let mut next = from + bytes.len() as u64;
    if next >= ROTATE_AT && next == len {
        rotate(path)?;
        next = 0;
    }
    Ok(LogChunk { bytes, next })
}

/// Keeps the previous part as `<file>.1` and empties the file.
fn rotate(path: &Path) -> io::Result<()> {
    let mut old = path.as_os_str().to_owned();
    old.push(".1");
    fs::copy(path, PathBuf::from(old))?;
    File::options().write(true).open(path)?.set_len(0)
}

/// Removes the log files of stopped instances in `dir` (an app's log
/// directory) but the newest [`KEEP_STOPPED`]; `running` are the ids whose
/// files stay whatever their age.
pub fn prune(dir: &Path, running: &[String]) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut stopped = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".log") else {
            continue;
        };
        if running.iter().any(|r| r == id) {
            continue;
        }
        let modified = entry.metadata()?.modified()?;
        stopped.push((modified, entry.path()));
    }
    stopped.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in stopped.into_iter().skip(KEEP_STOPPED) {
        remove(&path)?;
        let mut rotated = path.into_os_string();
        rotated.push(".1");
        remove(Path::new(&rotated))?;
    }
    Ok(())
}

fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_resume_and_a_rotated_file_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web-r1-abc123.log");
        assert_eq!(read_from(&path, 0).unwrap().bytes, b"", "no file yet");
        let mut out = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        out.write_all(b"one\ntwo\n").unwrap();
        let first = read_from(&path, 0).unwrap();
        assert_eq!(
            (first.bytes.as_slice(), first.next),
            (&b"one\ntwo\n"[..], 8)
        );
        out.write_all(b"three\n").unwrap();
        let second = read_from(&path, first.next).unwrap();
        assert_eq!(second.bytes, b"three\n");
        // Grown past the limit: read, then rotated; the writer goes on at 0.
        out.write_all(&vec![b'x'; ROTATE_AT as usize]).unwrap();
        let mut at = second.next;
        let mut read = 0;
        loop {
            let chunk = read_from(&path, at).unwrap();
            read += chunk.bytes.len();
            at = chunk.next;
            if at == 0 {
                break;
            }
        }
        assert_eq!(read, ROTATE_AT as usize);
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
        let kept = dir.path().join("web-r1-abc123.log.1");
        assert!(fs::metadata(kept).unwrap().len() > ROTATE_AT);
        out.write_all(b"after\n").unwrap();
        assert_eq!(read_from(&path, 0).unwrap().bytes, b"after\n");
    }

    #[test]
    fn pruning_keeps_running_instances_and_the_newest_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..KEEP_STOPPED + 3)
            .map(|n| format!("web-r1-{n:06}"))
            .collect();
        for id in &ids {
            fs::write(dir.path().join(format!("{id}.log")), id).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let running = vec![ids[0].clone()];
        prune(dir.path(), &running).unwrap();
        let left: Vec<_> = ids
            .iter()
            .filter(|id| dir.path().join(format!("{id}.log")).exists())
            .collect();
        assert_eq!(left.len(), KEEP_STOPPED + 1, "{left:?}");
        assert!(left.contains(&&ids[0]), "the running one stays");
        assert!(!left.contains(&&ids[1]), "the oldest stopped go");
        assert!(left.contains(&ids.last().unwrap()));
    }
}
