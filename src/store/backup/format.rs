//! The backup file format: versioned, compressed, and checked as a whole before use.
//!
//! ```text
//! header   "TRAPLINE-BACKUP\n"  16 bytes, the magic
//!          format version       u32 BE (this code writes and reads 1)
//!          created              i64 BE, Unix nanoseconds
//!          trapline version     u16 BE length + UTF-8 (≤ 64 bytes)
//! body     one zstd frame of items:
//!            0x01 tree    u16 BE length + name
//!            0x02 entry   u32 BE length + key, u32 BE length + value (of the last tree)
//!            0x03 file    u16 BE length + relative path, u64 BE length + bytes
//!            0x7F end     u64 BE trees, entries, files (what the reader must have seen)
//! trailer  "TLBK-END"          8 bytes
//!          body length          u64 BE (compressed bytes)
//!          SHA-256              32 bytes, of header and body
//! ```
//!
//! A backup is written as a stream (the daemon sends it over a socket before it knows its
//! length), so the checks sit at the end: [`verify`] reads the whole file and compares the
//! trailer's length and digest before anything else looks at the body. A truncated file has no
//! end marker, a damaged one a wrong digest; both are refused before a store is touched.
//! Reading then checks the structure too: bounded lengths, relative paths, nothing after `end`,
//! and counts that match.
//!
//! This module knows no sled and no directories: bytes in, items out.

use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Component, Path};

use sha2::{Digest, Sha256};

/// First bytes of every backup file.
pub const MAGIC: &[u8; 16] = b"TRAPLINE-BACKUP\n";
/// The one format version this code writes; it reads this one and no other.
pub const FORMAT_VERSION: u32 = 1;
const TRAILER_MAGIC: &[u8; 8] = b"TLBK-END";
const TRAILER_BYTES: u64 = 8 + 8 + 32;
/// zstd level 1: event blocks are zstd already, so a higher level costs CPU on a running
/// appliance and gains little; records (JSON) still shrink well.
const ZSTD_LEVEL: i32 = 1;

const TAG_TREE: u8 = 0x01;
const TAG_ENTRY: u8 = 0x02;
const TAG_FILE: u8 = 0x03;
const TAG_END: u8 = 0x7F;

/// Bounds on what a reader accepts (a backup file is checked, but not trusted to be ours).
const MAX_VERSION_BYTES: usize = 64;
const MAX_NAME_BYTES: usize = 1024;
const MAX_KEY_BYTES: u64 = 1 << 20;
const MAX_VALUE_BYTES: u64 = 1 << 30;
const MAX_FILE_BYTES: u64 = 1 << 40;

/// Why a backup cannot be written or read; every variant says what is wrong with which part.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error(transparent)]
    Io(#[from] io::Error),
    #[error("not a trapline backup (wrong magic bytes)")]
    NotABackup,
    #[error(
        "backup format version {found} is not supported (this trapline reads version {FORMAT_VERSION}); use the trapline version that wrote it"
    )]
    UnsupportedVersion { found: u32 },
    #[error("the backup is incomplete (truncated: {0})")]
    Truncated(String),
    #[error(
        "the backup is damaged: its SHA-256 checksum does not match (stored {stored}, computed {computed})"
    )]
    ChecksumMismatch { stored: String, computed: String },
    #[error("the backup is malformed: {0}")]
    Malformed(String),
}

fn malformed(what: impl Into<String>) -> FormatError {
    FormatError::Malformed(what.into())
}

/// What the header says about a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Format version (always [`FORMAT_VERSION`] once read).
    pub format_version: u32,
    /// When the backup was started, Unix nanoseconds.
    pub created_ns: i64,
    /// The trapline version that wrote it (shown to operators; not used to decide anything).
    pub trapline_version: String,
}

/// Counts of what a backup holds, written in its `end` item and checked when reading.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ItemCounts {
    pub trees: u64,
    pub entries: u64,
    pub files: u64,
}

/// How far a backup being written has got, for progress displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Entries and files written so far.
    pub records: u64,
    /// Uncompressed bytes of keys, values and files so far.
    pub bytes_in: u64,
    /// Bytes of the backup file so far.
    pub bytes_out: u64,
}

/// A sink that hashes and counts what passes through to `inner`.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a backup item by item to any byte sink (a file, or the control socket's frames).
///
/// Trees come first, each followed by its entries; files after. [`BackupWriter::finish`] writes
/// the end item and the trailer; a writer dropped without it leaves a file readers refuse.
pub struct BackupWriter<W: Write> {
    encoder: zstd::stream::write::Encoder<'static, Hashing<W>>,
    header_bytes: u64,
    counts: ItemCounts,
    progress: Progress,
    in_tree: bool,
}

impl<W: Write> BackupWriter<W> {
    /// Writes the header; `created_ns` is when the snapshot was started.
    pub fn new(inner: W, created_ns: i64) -> Result<BackupWriter<W>, FormatError> {
        let mut sink = Hashing {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        };
        let version = env!("CARGO_PKG_VERSION").as_bytes();
        let version = &version[..version.len().min(MAX_VERSION_BYTES)];
        sink.write_all(MAGIC)?;
        sink.write_all(&FORMAT_VERSION.to_be_bytes())?;
        sink.write_all(&created_ns.to_be_bytes())?;
        sink.write_all(&(version.len() as u16).to_be_bytes())?;
        sink.write_all(version)?;
        let header_bytes = sink.bytes;
        let encoder = zstd::stream::write::Encoder::new(sink, ZSTD_LEVEL)?;
        Ok(BackupWriter {
            encoder,
            header_bytes,
            counts: ItemCounts::default(),
            progress: Progress::default(),
            in_tree: false,
        })
    }

    /// Starts a tree; the entries that follow belong to it.
    pub fn begin_tree(&mut self, name: &[u8]) -> Result<(), FormatError> {
        if name.is_empty() || name.len() > MAX_NAME_BYTES {
            return Err(malformed(format!("tree name of {} bytes", name.len())));
        }
        self.encoder.write_all(&[TAG_TREE])?;
        self.encoder.write_all(&(name.len() as u16).to_be_bytes())?;
        self.encoder.write_all(name)?;
        self.counts.trees += 1;
        self.in_tree = true;
        Ok(())
    }

    /// One key/value of the current tree.
    pub fn entry(&mut self, key: &[u8], value: &[u8]) -> Result<(), FormatError> {
        if !self.in_tree {
            return Err(malformed("an entry before any tree"));
        }
        if key.len() as u64 > MAX_KEY_BYTES || value.len() as u64 > MAX_VALUE_BYTES {
            return Err(malformed(format!(
                "an entry of {} + {} bytes is over the format's bounds",
                key.len(),
                value.len()
            )));
        }
        self.encoder.write_all(&[TAG_ENTRY])?;
        self.encoder.write_all(&(key.len() as u32).to_be_bytes())?;
        self.encoder.write_all(key)?;
        self.encoder
            .write_all(&(value.len() as u32).to_be_bytes())?;
        self.encoder.write_all(value)?;
        self.counts.entries += 1;
        self.progress.records += 1;
        self.progress.bytes_in += (key.len() + value.len()) as u64;
        Ok(())
    }

    /// A file of `len` bytes read from `content`, stored under the relative `path` (`/`
    /// separated, no `..`); it must deliver exactly `len` bytes.
    pub fn file(&mut self, path: &str, len: u64, content: impl Read) -> Result<(), FormatError> {
        check_relative_path(path)?;
        if len > MAX_FILE_BYTES {
            return Err(malformed(format!("file {path} of {len} bytes")));
        }
        self.encoder.write_all(&[TAG_FILE])?;
        self.encoder.write_all(&(path.len() as u16).to_be_bytes())?;
        self.encoder.write_all(path.as_bytes())?;
        self.encoder.write_all(&len.to_be_bytes())?;
        let copied = io::copy(&mut content.take(len), &mut self.encoder)?;
        if copied != len {
            return Err(malformed(format!(
                "file {path} shrank while it was copied ({copied} of {len} bytes)"
            )));
        }
        self.counts.files += 1;
        self.progress.records += 1;
        self.progress.bytes_in += len;
        self.in_tree = false;
        Ok(())
    }

    /// What has been written so far.
    pub fn progress(&self) -> Progress {
        Progress {
            bytes_out: self.encoder.get_ref().bytes,
            ..self.progress
        }
    }

    /// Writes the end item and the trailer; returns the sink and what the backup holds.
    pub fn finish(mut self) -> Result<(W, ItemCounts), FormatError> {
        let c = self.counts;
        self.encoder.write_all(&[TAG_END])?;
        for n in [c.trees, c.entries, c.files] {
            self.encoder.write_all(&n.to_be_bytes())?;
        }
        let mut sink = self.encoder.finish()?;
        let body_bytes = sink.bytes - self.header_bytes;
        let digest = sink.hasher.finalize_reset();
        sink.inner.write_all(TRAILER_MAGIC)?;
        sink.inner.write_all(&body_bytes.to_be_bytes())?;
        sink.inner.write_all(&digest)?;
        sink.inner.flush()?;
        Ok((sink.inner, c))
    }
}

/// Paths inside a backup are relative to the data directory and may not climb out of it.
fn check_relative_path(path: &str) -> Result<(), FormatError> {
    let ok = !path.is_empty()
        && path.len() <= MAX_NAME_BYTES
        && !path.contains('\\')
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(())
    } else {
        Err(malformed(format!(
            "file path {path:?} is not a plain relative path"
        )))
    }
}

/// Checks a backup file as a whole — header, end marker, length and SHA-256 — without
/// decompressing it. Cheap enough to run before every restore and after every backup.
pub fn verify(file: &mut (impl Read + Seek)) -> Result<(BackupInfo, ItemLayout), FormatError> {
    let total = file.seek(SeekFrom::End(0))?;
    file.seek(SeekFrom::Start(0))?;
    let mut hasher = Sha256::new();
    let mut reader = HashingReader {
        inner: &mut *file,
        hasher: &mut hasher,
    };
    let info = read_header(&mut reader, total)?;
    let header_bytes = header_len(&info);
    let Some(body_bytes) = total.checked_sub(header_bytes + TRAILER_BYTES) else {
        return Err(FormatError::Truncated(format!(
            "{total} bytes, shorter than a header and trailer"
        )));
    };
    let copied = io::copy(&mut (&mut reader).take(body_bytes), &mut io::sink())?;
    if copied != body_bytes {
        return Err(FormatError::Truncated("the file shrank while read".into()));
    }
    let mut trailer = [0u8; TRAILER_BYTES as usize];
    file.read_exact(&mut trailer)?;
    if &trailer[..8] != TRAILER_MAGIC {
        return Err(FormatError::Truncated("no end marker".into()));
    }
    let stored_len = u64::from_be_bytes(trailer[8..16].try_into().expect("8 bytes"));
    if stored_len != body_bytes {
        return Err(FormatError::Truncated(format!(
            "the body has {body_bytes} bytes, the trailer says {stored_len}"
        )));
    }
    let computed = hasher.finalize();
    if computed[..] != trailer[16..] {
        return Err(FormatError::ChecksumMismatch {
            stored: hex(&trailer[16..]),
            computed: hex(&computed),
        });
    }
    Ok((
        info,
        ItemLayout {
            body_start: header_bytes,
            body_bytes,
        },
    ))
}

/// Where a verified backup's body is (from [`verify`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemLayout {
    body_start: u64,
    body_bytes: u64,
}

struct HashingReader<'a, R> {
    inner: &'a mut R,
    hasher: &'a mut Sha256,
}

impl<R: Read> Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header_len(info: &BackupInfo) -> u64 {
    (MAGIC.len() + 4 + 8 + 2 + info.trapline_version.len()) as u64
}

fn read_header(r: &mut impl Read, total: u64) -> Result<BackupInfo, FormatError> {
    let short = |e: io::Error| match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            FormatError::Truncated(format!("{total} bytes, shorter than a header"))
        }
        _ => FormatError::Io(e),
    };
    let mut magic = [0u8; 16];
    let got = read_up_to(r, &mut magic)?;
    if magic[..got] != MAGIC[..got] {
        return Err(FormatError::NotABackup);
    }
    if got < magic.len() {
        return Err(FormatError::Truncated(format!(
            "{total} bytes, shorter than a header"
        )));
    }
    let mut fixed = [0u8; 14];
    r.read_exact(&mut fixed).map_err(short)?;
    let format_version = u32::from_be_bytes(fixed[..4].try_into().expect("4 bytes"));
    if format_version != FORMAT_VERSION {
        return Err(FormatError::UnsupportedVersion {
            found: format_version,
        });
    }
    let created_ns = i64::from_be_bytes(fixed[4..12].try_into().expect("8 bytes"));
    let len = u16::from_be_bytes(fixed[12..14].try_into().expect("2 bytes")) as usize;
    if len > MAX_VERSION_BYTES {
        return Err(malformed(format!("version string of {len} bytes")));
    }
    let mut version = vec![0u8; len];
    r.read_exact(&mut version).map_err(short)?;
    let trapline_version =
        String::from_utf8(version).map_err(|_| malformed("version string is not UTF-8"))?;
    Ok(BackupInfo {
        format_version,
        created_ns,
        trapline_version,
    })
}

/// Fills as much of `buf` as the reader has; returns how much.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// One item of a backup's body.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// The entries that follow belong to this tree.
    Tree(Vec<u8>),
    Entry {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// A file follows: read it with [`BackupReader::copy_file`] before the next item.
    File {
        path: String,
        len: u64,
    },
}

/// Reads the items of a backup file that [`verify`] accepted (it runs it itself).
pub struct BackupReader<R: Read> {
    decoder: zstd::stream::read::Decoder<'static, BufReader<io::Take<R>>>,
    info: BackupInfo,
    seen: ItemCounts,
    in_tree: bool,
    pending_file: u64,
    done: bool,
}

impl<R: Read + Seek> BackupReader<R> {
    /// Verifies the whole file, then positions at its first item.
    pub fn open(mut file: R) -> Result<BackupReader<R>, FormatError> {
        let (info, layout) = verify(&mut file)?;
        file.seek(SeekFrom::Start(layout.body_start))?;
        let decoder =
            zstd::stream::read::Decoder::new(file.take(layout.body_bytes))?.single_frame();
        Ok(BackupReader {
            decoder,
            info,
            seen: ItemCounts::default(),
            in_tree: false,
            pending_file: 0,
            done: false,
        })
    }
}

impl<R: Read> BackupReader<R> {
    /// The header of the backup.
    pub fn info(&self) -> &BackupInfo {
        &self.info
    }

    /// The next item, or `None` after the end item (whose counts have then been checked).
    pub fn next_item(&mut self) -> Result<Option<Item>, FormatError> {
        if self.done {
            return Ok(None);
        }
        if self.pending_file > 0 {
            // The caller skipped a file's content.
            let skipped = io::copy(
                &mut (&mut self.decoder).take(self.pending_file),
                &mut io::sink(),
            )?;
            if skipped != self.pending_file {
                return Err(malformed("a file's content is cut short"));
            }
            self.pending_file = 0;
        }
        let tag = self.read_array::<1>()?[0];
        match tag {
            TAG_TREE => {
                let name = self.read_short(MAX_NAME_BYTES as u64)?;
                if name.is_empty() {
                    return Err(malformed("an empty tree name"));
                }
                self.seen.trees += 1;
                self.in_tree = true;
                Ok(Some(Item::Tree(name)))
            }
            TAG_ENTRY => {
                if !self.in_tree {
                    return Err(malformed("an entry outside a tree"));
                }
                let key = self.read_long(MAX_KEY_BYTES)?;
                let value = self.read_long(MAX_VALUE_BYTES)?;
                self.seen.entries += 1;
                Ok(Some(Item::Entry { key, value }))
            }
            TAG_FILE => {
                let path = self.read_short(MAX_NAME_BYTES as u64)?;
                let path =
                    String::from_utf8(path).map_err(|_| malformed("a file path is not UTF-8"))?;
                check_relative_path(&path)?;
                let len = u64::from_be_bytes(self.read_array()?);
                if len > MAX_FILE_BYTES {
                    return Err(malformed(format!("file {path} of {len} bytes")));
                }
                self.seen.files += 1;
                self.in_tree = false;
                self.pending_file = len;
                Ok(Some(Item::File { path, len }))
            }
            TAG_END => {
                let mut counts = [0u64; 3];
                for n in &mut counts {
                    *n = u64::from_be_bytes(self.read_array()?);
                }
                let stated = ItemCounts {
                    trees: counts[0],
                    entries: counts[1],
                    files: counts[2],
                };
                if stated != self.seen {
                    return Err(malformed(format!(
                        "the end item counts {stated:?}, the body holds {:?}",
                        self.seen
                    )));
                }
                let mut extra = [0u8; 1];
                if read_up_to(&mut self.decoder, &mut extra)? != 0 {
                    return Err(malformed("bytes after the end item"));
                }
                self.done = true;
                Ok(None)
            }
            other => Err(malformed(format!("unknown item tag 0x{other:02x}"))),
        }
    }

    /// Copies the content of the file item just returned into `out`.
    pub fn copy_file(&mut self, out: &mut impl Write) -> Result<u64, FormatError> {
        let len = std::mem::take(&mut self.pending_file);
        let copied = io::copy(&mut (&mut self.decoder).take(len), out)?;
        if copied != len {
            return Err(malformed("a file's content is cut short"));
        }
        Ok(copied)
    }

    /// What the body held (complete once `next_item` has returned `None`).
    pub fn counts(&self) -> ItemCounts {
        self.seen
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut buf = [0u8; N];
        self.decoder.read_exact(&mut buf).map_err(cut_short)?;
        Ok(buf)
    }

    /// A u16 length and that many bytes.
    fn read_short(&mut self, max: u64) -> Result<Vec<u8>, FormatError> {
        let len = u16::from_be_bytes(self.read_array()?);
        self.read_bytes(len as u64, max)
    }

    /// A u32 length and that many bytes.
    fn read_long(&mut self, max: u64) -> Result<Vec<u8>, FormatError> {
        let len = u32::from_be_bytes(self.read_array()?);
        self.read_bytes(len as u64, max)
    }

    /// `len` bytes, refusing lengths over `max`; memory grows only with bytes actually read.
    fn read_bytes(&mut self, len: u64, max: u64) -> Result<Vec<u8>, FormatError> {
        if len > max {
            return Err(malformed(format!(
                "a length of {len} bytes (at most {max})"
            )));
        }
        let mut buf = Vec::with_capacity(len.min(64 << 10) as usize);
        (&mut self.decoder).take(len).read_to_end(&mut buf)?;
        if buf.len() as u64 != len {
            return Err(malformed("the body ends inside an item"));
        }
        Ok(buf)
    }
}

fn cut_short(e: io::Error) -> FormatError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => malformed("the body ends inside an item"),
        _ => FormatError::Io(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A small backup: two trees (one empty), a file; returns its bytes.
    fn sample() -> Vec<u8> {
        let mut w = BackupWriter::new(Vec::new(), 1_700_000_000_000_000_000).unwrap();
        w.begin_tree(b"rec/users").unwrap();
        w.entry(b"alice", b"{\"role\":\"admin\"}").unwrap();
        w.entry(b"bob", &[0u8; 3000]).unwrap();
        w.begin_tree(b"empty").unwrap();
        w.begin_tree(b"blocks").unwrap();
        w.entry(
            &7u64.to_be_bytes(),
            &(0..=255u8).cycle().take(70_000).collect::<Vec<_>>(),
        )
        .unwrap();
        w.file("archive/incidents-2026.jsonl", 11, &b"{\"id\":1}\n\n\n"[..])
            .unwrap();
        assert_eq!(w.progress().records, 4);
        let (bytes, counts) = w.finish().unwrap();
        assert_eq!(
            counts,
            ItemCounts {
                trees: 3,
                entries: 3,
                files: 1
            }
        );
        bytes
    }

    /// The header, every item, and the contents of the files, in order.
    type Contents = (BackupInfo, Vec<Item>, Vec<Vec<u8>>);

    fn read_all(bytes: Vec<u8>) -> Result<Contents, FormatError> {
        let mut reader = BackupReader::open(Cursor::new(bytes))?;
        let (mut items, mut files) = (Vec::new(), Vec::new());
        while let Some(item) = reader.next_item()? {
            if let Item::File { .. } = item {
                let mut content = Vec::new();
                reader.copy_file(&mut content)?;
                files.push(content);
            }
            items.push(item);
        }
        Ok((reader.info().clone(), items, files))
    }

    #[test]
    fn round_trip_gives_back_every_item_in_order() {
        let (info, items, files) = read_all(sample()).unwrap();
        assert_eq!(info.format_version, FORMAT_VERSION);
        assert_eq!(info.created_ns, 1_700_000_000_000_000_000);
        assert_eq!(info.trapline_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            items,
            vec![
                Item::Tree(b"rec/users".to_vec()),
                Item::Entry {
                    key: b"alice".to_vec(),
                    value: b"{\"role\":\"admin\"}".to_vec()
                },
                Item::Entry {
                    key: b"bob".to_vec(),
                    value: vec![0u8; 3000]
                },
                Item::Tree(b"empty".to_vec()),
                Item::Tree(b"blocks".to_vec()),
                Item::Entry {
                    key: 7u64.to_be_bytes().to_vec(),
                    value: (0..=255u8).cycle().take(70_000).collect()
                },
                Item::File {
                    path: "archive/incidents-2026.jsonl".into(),
                    len: 11
                },
            ]
        );
        assert_eq!(files, vec![b"{\"id\":1}\n\n\n".to_vec()]);
    }

    #[test]
    fn every_truncation_is_refused_as_incomplete() {
        let bytes = sample();
        // Every cut inside the trailer and body, and a few inside the header.
        for cut in (0..bytes.len())
            .rev()
            .step_by(7)
            .chain([0, 1, 15, 16, 20, 31])
        {
            let err = read_all(bytes[..cut].to_vec()).err().unwrap();
            assert!(
                matches!(err, FormatError::Truncated(_)),
                "cut at {cut} of {}: {err}",
                bytes.len()
            );
            assert!(err.to_string().contains("incomplete"), "{err}");
        }
    }

    #[test]
    fn any_changed_byte_is_refused() {
        let bytes = sample();
        for at in (0..bytes.len()).step_by(13).chain([bytes.len() - 1]) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            let err = read_all(damaged)
                .err()
                .unwrap_or_else(|| panic!("byte {at} accepted"));
            // Which error depends on the part hit; every one refuses before any item is read.
            assert!(
                matches!(
                    err,
                    FormatError::ChecksumMismatch { .. }
                        | FormatError::Truncated(_)
                        | FormatError::NotABackup
                        | FormatError::UnsupportedVersion { .. }
                        | FormatError::Malformed(_)
                ),
                "byte {at}: {err}"
            );
        }
        // A byte in the middle of the body is a checksum mismatch, said plainly.
        let mut damaged = bytes.clone();
        damaged[bytes.len() / 2] ^= 1;
        let err = read_all(damaged).err().unwrap();
        assert!(matches!(err, FormatError::ChecksumMismatch { .. }), "{err}");
        assert!(err.to_string().contains("damaged"), "{err}");
    }

    #[test]
    fn wrong_magic_and_newer_versions_are_refused() {
        let mut bytes = sample();
        bytes[0] = b'X';
        assert!(matches!(
            read_all(bytes).err().unwrap(),
            FormatError::NotABackup
        ));
        assert!(matches!(
            read_all(b"hello world, not a backup at all, really".to_vec())
                .err()
                .unwrap(),
            FormatError::NotABackup
        ));
        assert!(matches!(
            read_all(Vec::new()).err().unwrap(),
            FormatError::Truncated(_)
        ));
        let mut bytes = sample();
        bytes[16..20].copy_from_slice(&2u32.to_be_bytes());
        let err = read_all(bytes).err().unwrap();
        assert!(
            matches!(err, FormatError::UnsupportedVersion { found: 2 }),
            "{err}"
        );
        assert!(err.to_string().contains("version 2"), "{err}");
    }

    /// A body with a valid checksum but a lying end item (a bug of ours, or a crafted file)
    /// is refused by the reader's own counts.
    #[test]
    fn end_counts_must_match_the_body() {
        let mut w = BackupWriter::new(Vec::new(), 0).unwrap();
        w.begin_tree(b"t").unwrap();
        w.entry(b"k", b"v").unwrap();
        w.counts.entries = 5;
        let (bytes, _) = w.finish().unwrap();
        let err = read_all(bytes).err().unwrap();
        assert!(matches!(err, FormatError::Malformed(_)), "{err}");
    }

    #[test]
    fn paths_that_leave_the_data_directory_are_refused() {
        for path in [
            "../etc/passwd",
            "/etc/passwd",
            "a/../../b",
            "",
            "a\\b",
            "./a",
        ] {
            let mut w = BackupWriter::new(Vec::new(), 0).unwrap();
            assert!(w.file(path, 0, io::empty()).is_err(), "{path:?}");
        }
        let mut w = BackupWriter::new(Vec::new(), 0).unwrap();
        assert!(w.entry(b"k", b"v").is_err(), "an entry needs a tree");
    }
}
