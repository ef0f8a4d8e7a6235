//! The `LOCK` file that keeps a second process off a store directory.
//!
//! sled 0.34 locks its own `db` file too, but its error does not say who holds it. We take an
//! exclusive, non-blocking `flock` on `DIR/LOCK` *before* opening sled and write our pid and start
//! time into it, so the second process can name the holder. `flock` belongs to the open file
//! description, so a second open in the same process is refused as well, and the kernel drops
//! the lock when the process dies (no stale locks after `kill -9`). The file is never deleted:
//! removing a lock file races with the next process taking it.
//!
//! This module knows nothing of sled or events.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::Path;

use super::StoreError;

/// An exclusive hold on a store directory; released when dropped (the file is closed).
#[derive(Debug)]
pub(crate) struct LockFile {
    _file: File,
}

impl LockFile {
    /// Takes the lock on `path` or says who holds it.
    pub(crate) fn acquire(path: &Path) -> Result<LockFile, StoreError> {
        let io_err = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        // SAFETY: flock on a file descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
                return Err(StoreError::Locked {
                    path: path.to_path_buf(),
                    holder: read_holder(&mut file),
                });
            }
            return Err(io_err(error));
        }
        let stamp = format!(
            "pid {} since {}\n",
            std::process::id(),
            crate::event::format_ns(crate::event::now_ns())
        );
        file.set_len(0).map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        file.write_all(stamp.as_bytes()).map_err(io_err)?;
        Ok(LockFile { _file: file })
    }

    /// Whether some process holds the lock on `path` now (used before moving a store aside).
    pub(crate) fn is_held(path: &Path) -> Result<Option<String>, StoreError> {
        if !path.exists() {
            return Ok(None);
        }
        match LockFile::acquire(path) {
            Ok(_lock) => Ok(None),
            Err(StoreError::Locked { holder, .. }) => Ok(Some(holder)),
            Err(other) => Err(other),
        }
    }
}

/// The holder's stamp, or a placeholder when it has not written one yet.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.take(256).read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "an unknown process".to_string()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_names_this_pid_and_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("LOCK");
        let lock = LockFile::acquire(&path).unwrap();
        let err = LockFile::acquire(&path).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
        assert!(
            text.contains("locked") && text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains(path.to_str().unwrap()), "{text}");
        assert!(LockFile::is_held(&path).unwrap().is_some());
        drop(lock);
        assert!(LockFile::is_held(&path).unwrap().is_none());
        let _again = LockFile::acquire(&path).unwrap();
    }
}
