//! `trapline backup`, `trapline restore` and `trapline compact`: the store as a whole, for
//! operators.
//!
//! A data directory holds the store (`DATA/store`, one sled database, locked by the process
//! that uses it), the incident archive (`DATA/archive/`, files) and, while trapline runs, its
//! control socket (`DATA/control.sock`). A backup holds the store and the archive.
//!
//! - **backup**: when the store is free, open it and write the backup here; when a running
//!   trapline holds it, ask that process over the control socket ([`crate::control`]) and
//!   write what it streams. Either way the bytes go to `FILE.tmp` (mode 0600: the store holds
//!   password hashes), which is synced, verified as a whole and only then renamed to `FILE`.
//! - **restore**: refuses a live store (naming the holder), verifies the file before anything
//!   is touched, writes a fresh data directory beside the target (`DATA.restoring-PID`), and
//!   swaps it in; a non-empty target is refused unless `--force`, which moves it to
//!   `DATA.before-restore-TIME` — nothing is ever deleted.
//! - **compact**: offline; see [`Store::compact_dir`].
//!
//! Progress goes to stderr as an indicatif bar, only when stderr is a terminal.
//! This module knows no sled and no HTTP.

use std::fs::File;
use std::io::IsTerminal;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use crate::control::{self, ControlError};
use crate::store::backup::{
    BackupFile, BackupReader, BackupSummary, FormatError, Progress, RestoreReport, SnapshotError,
};
use crate::store::{CompactReport, Store, StoreError, StoreOptions};

/// At most this many archive files go into a backup (one per year is what trapline writes).
const MAX_DATA_FILES: usize = 10_000;

/// Why a backup, restore or compaction did not happen; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Control(#[from] ControlError),
    // The inner errors are part of the message, not `source`s: `main` prints the chain, and
    // the operator should read each reason once.
    #[error("{}: {error}", path.display())]
    Format { path: PathBuf, error: FormatError },
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("no store in {} (nothing to back up)", .0.display())]
    NoStore(PathBuf),
    #[error(
        "the store {} is live: it is locked by {holder}; stop trapline before restoring or compacting",
        path.display()
    )]
    Live { path: PathBuf, holder: String },
    #[error(
        "{} is not empty; restore refuses to overwrite it (use --force to move it aside to {}.before-restore-TIME)",
        .0.display(), .0.display()
    )]
    NotEmpty(PathBuf),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |error| BackupError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The store inside a data directory.
pub fn store_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("store")
}

/// The control socket of the trapline running on a data directory.
pub fn control_socket(data_dir: &Path) -> PathBuf {
    data_dir.join("control.sock")
}

/// The files of `DATA/archive/` (regular files, recursively, sorted) to put in a backup.
pub fn data_files(data_dir: &Path) -> Result<Vec<BackupFile>, BackupError> {
    let mut files = Vec::new();
    collect_files(data_dir, Path::new("archive"), 0, &mut files)?;
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn collect_files(
    data_dir: &Path,
    relative: &Path,
    depth: usize,
    files: &mut Vec<BackupFile>,
) -> Result<(), BackupError> {
    let dir = data_dir.join(relative);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_error(&dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_error(&dir))?;
        let kind = entry.file_type().map_err(io_error(&dir))?;
        let name = relative.join(entry.file_name());
        if kind.is_dir() && depth < 4 {
            collect_files(data_dir, &name, depth + 1, files)?;
        } else if kind.is_file()
            && files.len() < MAX_DATA_FILES
            && let Some(text) = name.to_str()
        {
            files.push(BackupFile {
                name: text.to_string(),
                source: data_dir.join(&name),
            });
        }
    }
    Ok(())
}

/// How a backup was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupSource {
    /// The store was free and this process read it.
    Offline,
    /// A running trapline made it and sent it over the control socket.
    Online,
}

/// What `trapline backup` did.
#[derive(Debug, Clone, Copy)]
pub struct BackupOutcome {
    pub summary: BackupSummary,
    pub source: BackupSource,
    /// Size of the backup file.
    pub bytes: u64,
}

/// Writes a backup of the store of `data_dir` to `out` (see the module docs).
pub fn backup(
    data_dir: &Path,
    options: &StoreOptions,
    out: &Path,
) -> Result<BackupOutcome, BackupError> {
    let store_dir = store_dir(data_dir);
    if !store_dir.is_dir() {
        return Err(BackupError::NoStore(store_dir));
    }
    let temp = sibling(out, "tmp");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .map_err(io_error(&temp))?;
    let bar = progress_bar("backup");
    let written = write_to(data_dir, &store_dir, options, file, &bar);
    bar.finish_and_clear();
    let (summary, source) = match written {
        Ok(done) => done,
        Err(error) => {
            let _ = std::fs::remove_file(&temp);
            return Err(error);
        }
    };
    let checked = File::open(&temp)
        .map_err(io_error(&temp))
        .and_then(|mut file| {
            crate::store::backup::format::verify(&mut file).map_err(|error| BackupError::Format {
                path: temp.clone(),
                error,
            })
        });
    if let Err(error) = checked {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    std::fs::rename(&temp, out).map_err(io_error(out))?;
    sync_parent(out)?;
    let bytes = std::fs::metadata(out).map_err(io_error(out))?.len();
    Ok(BackupOutcome {
        summary,
        source,
        bytes,
    })
}

/// Offline when the store is free, through the control socket when it is locked; synced.
fn write_to(
    data_dir: &Path,
    store_dir: &Path,
    options: &StoreOptions,
    file: File,
    bar: &ProgressBar,
) -> Result<(BackupSummary, BackupSource), BackupError> {
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut progress = |p: Progress| show(bar, p);
    let (summary, source) = match Store::open(store_dir, options) {
        Ok(store) => {
            let files = data_files(data_dir)?;
            let (_, summary) = store.write_backup(&mut out, &files, &mut progress)?;
            (summary, BackupSource::Offline)
        }
        Err(StoreError::Locked { holder, .. }) => {
            tracing::info!(%holder, "The store is in use; asking the running trapline for the backup.");
            let summary =
                control::request_backup(&control_socket(data_dir), &mut out, &mut progress)?;
            (summary, BackupSource::Online)
        }
        Err(other) => return Err(other.into()),
    };
    let file = out.into_inner().map_err(|e| BackupError::Io {
        path: store_dir.to_path_buf(),
        error: e.into_error(),
    })?;
    file.sync_all().map_err(io_error(store_dir))?;
    Ok((summary, source))
}

/// What `trapline restore` did.
#[derive(Debug, Clone)]
pub struct RestoreOutcome {
    pub report: RestoreReport,
    /// Where the data directory that was there before went (`--force`).
    pub moved_aside: Option<PathBuf>,
}

/// Restores the backup `from` as the data directory `data_dir` (see the module docs).
pub fn restore(
    data_dir: &Path,
    options: &StoreOptions,
    from: &Path,
    force: bool,
) -> Result<RestoreOutcome, BackupError> {
    // Held until the new directory is in place: no trapline starts on the old one meanwhile.
    let store_dir = store_dir(data_dir);
    let _lock = match store_dir.is_dir() {
        true => Some(Store::lock_dir(&store_dir).map_err(|e| live(&store_dir, e))?),
        false => None,
    };
    let file = File::open(from).map_err(io_error(from))?;
    let reader = BackupReader::open(file).map_err(|error| BackupError::Format {
        path: from.to_path_buf(),
        error,
    })?;
    let old = std::fs::metadata(data_dir).ok();
    let non_empty = std::fs::read_dir(data_dir).is_ok_and(|mut e| e.next().is_some());
    if non_empty && !force {
        return Err(BackupError::NotEmpty(data_dir.to_path_buf()));
    }
    let staging = sibling(data_dir, &format!("restoring-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
    }
    std::fs::create_dir_all(&staging).map_err(io_error(&staging))?;
    let bar = progress_bar("restore");
    let restored = crate::store::backup::restore_store(
        reader,
        &staging.join("store"),
        &staging,
        options,
        &mut |p| show(&bar, p),
    );
    bar.finish_and_clear();
    let report = match restored {
        Ok(report) => report,
        Err(error) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(error.into());
        }
    };
    if let Some(old) = &old {
        take_owner_and_mode(&staging, old)?;
    }
    let moved_aside = match (old.is_some(), non_empty) {
        (true, true) => {
            let secs = crate::event::now_ns() / 1_000_000_000;
            let aside = sibling(data_dir, &format!("before-restore-{secs}"));
            std::fs::rename(data_dir, &aside).map_err(io_error(data_dir))?;
            Some(aside)
        }
        (true, false) => {
            std::fs::remove_dir(data_dir).map_err(io_error(data_dir))?;
            None
        }
        _ => None,
    };
    std::fs::rename(&staging, data_dir).map_err(io_error(data_dir))?;
    sync_parent(data_dir)?;
    Ok(RestoreOutcome {
        report,
        moved_aside,
    })
}

/// Compacts the (stopped) store of `data_dir`; see [`Store::compact_dir`].
pub fn compact(data_dir: &Path, options: &StoreOptions) -> Result<CompactReport, BackupError> {
    let store_dir = store_dir(data_dir);
    if !store_dir.is_dir() {
        return Err(BackupError::NoStore(store_dir));
    }
    let spinner = progress_bar("compact");
    spinner.set_message("rewriting every tree");
    let report = Store::compact_dir(&store_dir, options).map_err(|e| live(&store_dir, e));
    spinner.finish_and_clear();
    report
}

/// A lock error becomes "the store is live"; other errors stay what they are.
fn live(store_dir: &Path, error: StoreError) -> BackupError {
    match error {
        StoreError::Locked { holder, .. } => BackupError::Live {
            path: store_dir.to_path_buf(),
            holder,
        },
        other => other.into(),
    }
}

/// The restored tree gets the replaced directory's mode and, when we are root, its owner (a
/// restore run as root for a service that runs as `trapline` must leave files it can open).
fn take_owner_and_mode(dir: &Path, like: &std::fs::Metadata) -> Result<(), BackupError> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(like.mode() & 0o7777))
        .map_err(io_error(dir))?;
    // SAFETY: geteuid has no arguments and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        chown_tree(dir, like.uid(), like.gid())?;
    }
    Ok(())
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), BackupError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(io_error(path))?;
    if std::fs::symlink_metadata(path)
        .map_err(io_error(path))?
        .is_dir()
    {
        for entry in std::fs::read_dir(path).map_err(io_error(path))? {
            chown_tree(&entry.map_err(io_error(path))?.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// `PATH.suffix` beside `path`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{suffix}"));
    PathBuf::from(name)
}

/// Makes a rename in `path`'s directory durable.
fn sync_parent(path: &Path) -> Result<(), BackupError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent)
        .and_then(|dir| dir.sync_all())
        .map_err(io_error(parent))
}

/// A bar on stderr when it is a terminal (records and bytes), else nothing.
fn progress_bar(what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} {prefix}: {msg} ({elapsed})")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// Records and bytes so far: read from the store or the file, and written (backups).
fn show(bar: &ProgressBar, p: Progress) {
    let mut message = format!("{} records, {}", p.records, HumanBytes(p.bytes_in));
    if p.bytes_out > 0 {
        message.push_str(&format!(", {} written", HumanBytes(p.bytes_out)));
    }
    bar.set_message(message);
}
