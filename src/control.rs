//! The control socket: how a command reaches the running appliance, which holds the store.
//!
//! `trapline run` listens on `DATA/control.sock`, a Unix stream socket of mode 0600 owned by
//! the service user: file permissions are the authentication, as with many daemons, and the
//! peer's uid (`SO_PEERCRED`) must be ours or root's as a second check. The socket is bound
//! inside a private (0700) directory, given its mode, and only then renamed into place, so it
//! is never reachable with looser permissions.
//!
//! Protocol: the client sends one command line (`backup\n`, at most [`MAX_REQUEST_BYTES`]);
//! the server answers with frames `[tag u8][length u32 BE][payload]`:
//! `D` backup bytes (≤ [`MAX_FRAME_BYTES`]), `P` progress (records, bytes in, bytes out as
//! u64 BE), `E` an error message (the end), `Z` done (the [`BackupSummary`] as JSON; the end).
//! A connection closed before `E` or `Z` is an incomplete backup, and the client says so.
//!
//! One backup runs at a time; it runs on the blocking pool and its bytes go through a bounded
//! channel, so a slow client slows the copy, never the appliance's memory. Stopping the server
//! cancels a running backup. This module knows no sled and no backup format: it carries bytes
//! that `store::backup` makes.

use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tracing::{info, warn};

use crate::store::Store;
use crate::store::backup::{BackupSummary, Progress};

/// The longest command line a client may send.
pub const MAX_REQUEST_BYTES: usize = 256;
/// Clients served at once (only the service user and root can connect at all).
const MAX_SESSIONS: usize = 16;
/// The largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 4 << 20;
/// Backup bytes are sent in frames of this size.
const DATA_FRAME_BYTES: usize = 256 << 10;
/// Progress frames at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);
/// A client must send its command within this time.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A client gives up when the server says nothing for this long (a checkpoint waits ≤ 60 s).
const CLIENT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

const TAG_DATA: u8 = b'D';
const TAG_PROGRESS: u8 = b'P';
const TAG_ERROR: u8 = b'E';
const TAG_DONE: u8 = b'Z';

/// What can go wrong on the control socket, on either side.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    // Inner errors are part of the messages, not `source`s, so a printed chain says each once.
    #[error("cannot listen on the control socket {}: {error}", path.display())]
    Bind { path: PathBuf, error: io::Error },
    #[error("cannot reach the running trapline on {}: {error}", path.display())]
    Connect { path: PathBuf, error: io::Error },
    #[error("control socket: {0}")]
    Io(io::Error),
    #[error("control socket: {0}")]
    Protocol(String),
    /// The running trapline refused or failed the request; its words.
    #[error("the running trapline says: {0}")]
    Refused(String),
}

impl From<io::Error> for ControlError {
    fn from(error: io::Error) -> ControlError {
        ControlError::Io(error)
    }
}

/// The running control socket of `trapline run`.
pub struct ControlServer {
    path: PathBuf,
    cancel: Arc<AtomicBool>,
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What the server's sessions share.
struct Context {
    store: Store,
    data_dir: PathBuf,
    /// A backup is running (one at a time).
    busy: AtomicBool,
    /// Set when the server stops: a running backup ends with an error.
    cancel: Arc<AtomicBool>,
}

impl ControlServer {
    /// Binds `path` (replacing a stale socket: the caller holds the store's lock, so no other
    /// trapline uses this data directory) and serves it until [`ControlServer::stop`].
    pub fn start(
        path: &Path,
        store: Store,
        data_dir: &Path,
    ) -> Result<ControlServer, ControlError> {
        let listener = bind_private(path)?;
        let cancel = Arc::new(AtomicBool::new(false));
        let context = Arc::new(Context {
            store,
            data_dir: data_dir.to_path_buf(),
            busy: AtomicBool::new(false),
            cancel: cancel.clone(),
        });
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, context, stop_rx));
        info!(path = %path.display(), "Control socket ready (trapline backup uses it while trapline runs).");
        Ok(ControlServer {
            path: path.to_path_buf(),
            cancel,
            stop,
            task,
        })
    }

    /// Stops accepting, cancels a running backup, waits for sessions (≤ 5 s) and removes the
    /// socket file.
    pub async fn stop(self) {
        self.cancel.store(true, Ordering::Release);
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            warn!("Control socket sessions did not end within 5 s; dropping them.");
            abort.abort();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds in a fresh 0700 directory beside `path`, sets mode 0600, renames into place.
fn bind_private(path: &Path) -> Result<UnixListener, ControlError> {
    let bind_err = |error| ControlError::Bind {
        path: path.to_path_buf(),
        error,
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    let private = parent.join(format!(".control-{}", std::process::id()));
    if private.exists() {
        std::fs::remove_dir_all(&private).map_err(bind_err)?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(bind_err)?;
    let bound = (|| {
        let temp = private.join("sock");
        let listener = std::os::unix::net::UnixListener::bind(&temp)?;
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))?;
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::rename(&temp, path)?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    let listener = bound.map_err(bind_err)?;
    UnixListener::from_std(listener).map_err(bind_err)
}

async fn accept_loop(
    listener: UnixListener,
    context: Arc<Context>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut sessions = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) if sessions.len() < MAX_SESSIONS => {
                    sessions.spawn(session(stream, context.clone()));
                }
                Ok(_) => warn!("Control socket: too many clients at once; closed one."),
                Err(error) => {
                    warn!(%error, "Control socket accept failed.");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    while sessions.join_next().await.is_some() {}
}

/// Only our own user (the socket's owner) and root may give commands.
fn peer_allowed(stream: &UnixStream) -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    let ours = unsafe { libc::geteuid() };
    stream
        .peer_cred()
        .is_ok_and(|cred| cred.uid() == ours || cred.uid() == 0)
}

async fn session(mut stream: UnixStream, context: Arc<Context>) {
    if !peer_allowed(&stream) {
        warn!("Control socket: refused a client of another user.");
        let _ = send_frame(&mut stream, TAG_ERROR, b"not allowed").await;
        return;
    }
    let request = match tokio::time::timeout(REQUEST_TIMEOUT, read_request(&mut stream)).await {
        Ok(Ok(request)) => request,
        Ok(Err(error)) => {
            let _ = send_frame(&mut stream, TAG_ERROR, error.to_string().as_bytes()).await;
            return;
        }
        Err(_) => return,
    };
    match request.as_str() {
        "backup" => serve_backup(stream, &context).await,
        other => {
            let message = format!("unknown command {other:?}");
            let _ = send_frame(&mut stream, TAG_ERROR, message.as_bytes()).await;
        }
    }
}

/// One line, bounded.
async fn read_request(stream: &mut UnixStream) -> io::Result<String> {
    let mut line = Vec::new();
    let mut reader = tokio::io::BufReader::new(stream).take(MAX_REQUEST_BYTES as u64 + 1);
    reader.read_until(b'\n', &mut line).await?;
    if line.len() > MAX_REQUEST_BYTES || !line.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a command is one line of at most 256 bytes",
        ));
    }
    Ok(String::from_utf8_lossy(&line).trim().to_string())
}

/// A frame from the backup thread to the socket.
enum Frame {
    Data(Vec<u8>),
    Progress(Progress),
    Error(String),
    Done(BackupSummary),
}

async fn serve_backup(mut stream: UnixStream, context: &Arc<Context>) {
    if context.busy.swap(true, Ordering::AcqRel) {
        let _ = send_frame(&mut stream, TAG_ERROR, b"another backup is running").await;
        return;
    }
    info!("Backup requested on the control socket.");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Frame>(8);
    let job = {
        let context = context.clone();
        tokio::task::spawn_blocking(move || write_backup(&context, tx))
    };
    let mut client_gone = false;
    while let Some(frame) = rx.recv().await {
        let sent = match &frame {
            Frame::Data(bytes) => send_frame(&mut stream, TAG_DATA, bytes).await,
            Frame::Progress(p) => {
                let mut payload = Vec::with_capacity(24);
                for n in [p.records, p.bytes_in, p.bytes_out] {
                    payload.extend_from_slice(&n.to_be_bytes());
                }
                send_frame(&mut stream, TAG_PROGRESS, &payload).await
            }
            Frame::Error(message) => send_frame(&mut stream, TAG_ERROR, message.as_bytes()).await,
            Frame::Done(summary) => {
                let json = serde_json::to_vec(summary).unwrap_or_default();
                send_frame(&mut stream, TAG_DONE, &json).await
            }
        };
        if let Err(error) = sent {
            warn!(%error, "Backup client went away; stopping the backup.");
            client_gone = true;
            break;
        }
    }
    drop(rx); // the backup thread's next send fails, and it stops
    let _ = job.await;
    context.busy.store(false, Ordering::Release);
    if !client_gone {
        let _ = stream.shutdown().await;
    }
}

/// Runs on the blocking pool: the store's backup into `D` frames, then `Z` or `E`.
fn write_backup(context: &Context, tx: tokio::sync::mpsc::Sender<Frame>) {
    let files = match crate::backup::data_files(&context.data_dir) {
        Ok(files) => files,
        Err(error) => {
            let _ = tx.blocking_send(Frame::Error(error.to_string()));
            return;
        }
    };
    let sink = FrameSink {
        tx: tx.clone(),
        buf: Vec::with_capacity(DATA_FRAME_BYTES),
        cancel: context.cancel.clone(),
    };
    let mut last = Instant::now();
    let mut progress = |p: Progress| {
        if last.elapsed() >= PROGRESS_EVERY {
            last = Instant::now();
            let _ = tx.blocking_send(Frame::Progress(p));
        }
    };
    let frame = match context.store.write_backup(sink, &files, &mut progress) {
        Ok((_, summary)) => Frame::Done(summary),
        Err(error) => {
            warn!(%error, "Backup on the control socket failed.");
            Frame::Error(error.to_string())
        }
    };
    let _ = tx.blocking_send(frame);
}

/// `io::Write` into `D` frames on the channel; fails once the client is gone or the server
/// stops, which ends the backup.
struct FrameSink {
    tx: tokio::sync::mpsc::Sender<Frame>,
    buf: Vec<u8>,
    cancel: Arc<AtomicBool>,
}

impl FrameSink {
    fn send_buffered(&mut self) -> io::Result<()> {
        if self.cancel.load(Ordering::Acquire) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "trapline is stopping",
            ));
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let bytes = std::mem::replace(&mut self.buf, Vec::with_capacity(DATA_FRAME_BYTES));
        self.tx
            .blocking_send(Frame::Data(bytes))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the backup client went away"))
    }
}

impl Write for FrameSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = DATA_FRAME_BYTES - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= DATA_FRAME_BYTES {
            self.send_buffered()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buffered()
    }
}

async fn send_frame(stream: &mut UnixStream, tag: u8, payload: &[u8]) -> io::Result<()> {
    let len = payload.len().min(MAX_FRAME_BYTES);
    let mut header = [0u8; 5];
    header[0] = tag;
    header[1..].copy_from_slice(&(len as u32).to_be_bytes());
    stream.write_all(&header).await?;
    stream.write_all(&payload[..len]).await?;
    Ok(())
}

/// Client side (blocking): asks the trapline listening on `socket` for a backup, writes its
/// bytes to `out` and reports progress; returns what the backup holds.
pub fn request_backup(
    socket: &Path,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(Progress),
) -> Result<BackupSummary, ControlError> {
    let mut stream =
        std::os::unix::net::UnixStream::connect(socket).map_err(|error| ControlError::Connect {
            path: socket.to_path_buf(),
            error,
        })?;
    stream.set_read_timeout(Some(CLIENT_IDLE_TIMEOUT))?;
    stream.write_all(b"backup\n")?;
    let mut reader = io::BufReader::new(stream);
    let mut received = Progress::default();
    let mut payload = Vec::new();
    loop {
        let Some(tag) = read_frame(&mut reader, &mut payload)? else {
            return Err(ControlError::Protocol(
                "the running trapline closed the connection before the backup was complete (see its log)".into(),
            ));
        };
        match tag {
            TAG_DATA => {
                out.write_all(&payload)?;
                received.bytes_out += payload.len() as u64;
                progress(received);
            }
            TAG_PROGRESS if payload.len() == 24 => {
                let n = |i: usize| u64::from_be_bytes(payload[i..i + 8].try_into().expect("8"));
                received.records = n(0);
                received.bytes_in = n(8);
                progress(received);
            }
            TAG_ERROR => {
                return Err(ControlError::Refused(
                    String::from_utf8_lossy(&payload).into_owned(),
                ));
            }
            TAG_DONE => {
                let summary: BackupSummary = serde_json::from_slice(&payload)
                    .map_err(|e| ControlError::Protocol(format!("bad summary: {e}")))?;
                received.records = summary.counts.entries + summary.counts.files;
                progress(received);
                return Ok(summary);
            }
            other => {
                return Err(ControlError::Protocol(format!(
                    "unexpected frame 0x{other:02x} of {} bytes",
                    payload.len()
                )));
            }
        }
    }
}

/// One frame into `payload`; `None` at a clean end of stream before a frame.
fn read_frame(reader: &mut impl Read, payload: &mut Vec<u8>) -> Result<Option<u8>, ControlError> {
    let mut header = [0u8; 5];
    match reader.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(header[1..].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(ControlError::Protocol(format!("a frame of {len} bytes")));
    }
    payload.clear();
    reader.take(len as u64).read_to_end(payload)?;
    if payload.len() != len {
        return Ok(None);
    }
    Ok(Some(header[0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreOptions;
    use crate::store::backup::BackupReader;
    use std::os::unix::fs::FileTypeExt;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn backup_over_the_socket_is_a_valid_file_and_the_socket_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store"), &StoreOptions::default()).unwrap();
        store.records("users").unwrap().put("alice", b"{}").unwrap();
        std::fs::create_dir_all(dir.path().join("archive")).unwrap();
        std::fs::write(dir.path().join("archive/incidents-2025.jsonl"), b"{}\n").unwrap();
        let socket = dir.path().join("control.sock");
        // A stale socket file from a killed process is replaced.
        std::fs::write(&socket, b"stale").unwrap();
        let rt = runtime();
        let server = rt
            .block_on(async { ControlServer::start(&socket, store.clone(), dir.path()) })
            .unwrap();
        let meta = std::fs::metadata(&socket).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".control-")),
            "the private bind directory is gone"
        );

        let mut bytes = Vec::new();
        let mut calls = 0;
        let summary = request_backup(&socket, &mut bytes, &mut |_| calls += 1).unwrap();
        assert!(calls > 0);
        assert_eq!(summary.counts.files, 1);
        let mut reader = BackupReader::open(io::Cursor::new(bytes)).unwrap();
        while reader.next_item().unwrap().is_some() {}
        assert_eq!(reader.counts(), summary.counts);

        // Unknown commands are refused in words; over-long lines too.
        let mut raw = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        raw.write_all(b"format c:\n").unwrap();
        let mut payload = Vec::new();
        assert_eq!(read_frame(&mut raw, &mut payload).unwrap(), Some(TAG_ERROR));
        assert!(String::from_utf8_lossy(&payload).contains("unknown command"));
        let mut raw = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        raw.write_all(&[b'x'; 1000]).unwrap();
        assert_eq!(read_frame(&mut raw, &mut payload).unwrap(), Some(TAG_ERROR));

        rt.block_on(server.stop());
        assert!(!socket.exists(), "the socket is removed at stop");
        let err = request_backup(&socket, &mut Vec::new(), &mut |_| {}).unwrap_err();
        assert!(matches!(err, ControlError::Connect { .. }), "{err}");
    }
}
