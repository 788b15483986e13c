//! The replication log: a segmented, append-only, checksummed record stream under
//! `<data dir>/log`. It is the write-ahead log of the node (RocksDB's own WAL is off) and the
//! stream replicas follow.
//!
//! Owns invariants 1 (durability, through `sync`), 2 (one order: the log order is the apply
//! order, since only the writer appends) and 6 (a torn tail is truncated and reported, damage
//! before the tail stops start-up).
//!
//! Only the writer thread holds a `Log`; readers open the files themselves through
//! [`reader::LogReader`], which never reads past the end the writer has published.
//!
//! The active segment is preallocated: the writer keeps zero bytes written ahead of its last
//! record ([`PREALLOC_CHUNK`] at a time, up to the segment size), so a record overwrites
//! blocks the file already has and the `fdatasync` that makes it durable has no file size or
//! block allocation to journal. Measured here: 119-139 µs per fsync overwriting zeros against
//! 203-221 µs appending, and SET at pipeline 1 with `always` 12-24% faster in four A/B rounds.
//! Readers take an all-zero suffix as the end of the written log; a segment is cut to its last
//! record when it is closed. The price: the fsync after each new chunk of zeros also writes
//! that chunk out and journals the size change, one slower fsync per 4 MiB of log.

pub mod format;
pub mod reader;
pub mod segment;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use format::{segment_file_name, FormatError, SegmentHeader};
use segment::{ReadOutcome, SegmentReader};

use crate::types::{now_ms, LogOffset, ReplId};

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad segment header in {path}: {error}")]
    BadSegmentHeader { path: PathBuf, error: String },
    #[error(
        "log corrupt at offset {offset} in {path}: {error}; run `inspect-log verify {dir}` for details",
        dir = path.parent().map(|p| p.display().to_string()).unwrap_or_default()
    )]
    Corrupt {
        path: PathBuf,
        offset: LogOffset,
        error: FormatError,
    },
    #[error("log corrupt at offset {offset} in {path}: {reason} (not at the tail); run `inspect-log verify {dir}`",
        dir = path.parent().map(|p| p.display().to_string()).unwrap_or_default())]
    Hole {
        path: PathBuf,
        offset: LogOffset,
        reason: String,
    },
    #[error("offset {offset} is not held by the log")]
    OffsetNotInLog { offset: LogOffset },
    #[error("offset {offset} falls inside the record at {record}")]
    NotARecordBoundary {
        offset: LogOffset,
        record: LogOffset,
    },
    #[error("segments are not contiguous: {path} starts at {base} but the previous one ends at {prev_end}")]
    Gap {
        path: PathBuf,
        base: LogOffset,
        prev_end: LogOffset,
    },
}

impl LogError {
    pub fn io(what: &'static str, path: &Path, source: std::io::Error) -> LogError {
        LogError::Io {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What opening the log found and did, for the start-up log lines and INFO.
#[derive(Debug, Clone)]
pub struct OpenReport {
    pub start: LogOffset,
    pub end: LogOffset,
    pub segments: usize,
    /// A torn tail that was cut off: its offset and why.
    pub truncated: Option<(LogOffset, String)>,
}

/// Lists the segment base offsets in `dir`, ascending.
pub fn list_segments(dir: &Path) -> Result<Vec<LogOffset>, LogError> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| LogError::io("list log dir", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LogError::io("list log dir", dir, e))?;
        if let Some(base) = entry
            .file_name()
            .to_str()
            .and_then(format::parse_segment_file_name)
        {
            out.push(base);
        }
    }
    out.sort();
    Ok(out)
}

pub fn segment_path(dir: &Path, base: LogOffset) -> PathBuf {
    dir.join(segment_file_name(base))
}

/// fsync a directory so a created, renamed or deleted entry survives a power cut.
pub fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LogError::io("fsync dir", dir, e))
}

/// Zero bytes written ahead of the active segment's last record at a time.
pub const PREALLOC_CHUNK: u64 = 4 << 20;
/// Preallocate again once fewer than this many zero bytes are left ahead.
const PREALLOC_LOW_WATER: u64 = 1 << 20;

/// The writer's handle on the log.
pub struct Log {
    dir: PathBuf,
    /// Base offset and history (replid) of every segment, oldest first.
    segments: Vec<(LogOffset, ReplId)>,
    /// Shared with the fsync thread of `appendfsync always` (writer::syncer).
    active: Arc<File>,
    active_base: LogOffset,
    /// Bytes of the active segment up to its last record.
    active_len: u64,
    /// Length of the active segment's file: `active_len..file_len` are zero bytes.
    file_len: u64,
    /// Preallocation failed for this segment (disk full?): appends just extend the file.
    prealloc_off: bool,
    end: LogOffset,
    synced_end: LogOffset,
    replid: ReplId,
    segment_bytes: u64,
}

impl Log {
    /// Opens (or creates) the log in `dir`. Scans the last segment completely: a torn tail is
    /// truncated, fsynced and reported; damage before the tail is an error naming the offset.
    /// `replid` is used for a segment created here.
    pub fn open(
        dir: &Path,
        segment_bytes: u64,
        replid: ReplId,
    ) -> Result<(Log, OpenReport), LogError> {
        fs::create_dir_all(dir).map_err(|e| LogError::io("create log dir", dir, e))?;
        let segments = list_segments(dir)?;
        let Some(&last) = segments.last() else {
            let log = Log::create_fresh(dir, segment_bytes, replid, LogOffset::ZERO)?;
            let report = OpenReport {
                start: LogOffset::ZERO,
                end: LogOffset::ZERO,
                segments: 1,
                truncated: None,
            };
            return Ok((log, report));
        };
        // Closed segments: validate headers (cheap); their records are checked when read.
        let mut history = Vec::with_capacity(segments.len());
        for &base in &segments[..segments.len() - 1] {
            let r = SegmentReader::open(&segment_path(dir, base), base)?;
            history.push((base, r.header().replid));
        }
        let path = segment_path(dir, last);
        let mut reader = SegmentReader::open(&path, last)?;
        let seg_replid = reader.header().replid;
        history.push((last, seg_replid));
        let mut truncated = None;
        loop {
            match reader.read_next()? {
                ReadOutcome::Record(_) => {}
                ReadOutcome::End => break,
                ReadOutcome::Incomplete { offset, reason } => {
                    truncated = Some((offset, reason));
                    break;
                }
                ReadOutcome::Corrupt { offset, error } => {
                    return Err(LogError::Corrupt {
                        path,
                        offset,
                        error,
                    });
                }
            }
        }
        let end = reader.next_offset();
        let valid_len = reader.position();
        drop(reader);
        let active = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| LogError::io("open active segment", &path, e))?;
        let file_len = if truncated.is_some() {
            active
                .set_len(valid_len)
                .and_then(|_| active.sync_all())
                .map_err(|e| LogError::io("truncate torn tail of", &path, e))?;
            valid_len
        } else {
            active
                .metadata()
                .map_err(|e| LogError::io("stat active segment", &path, e))?
                .len()
        };
        let mut active = active;
        use std::io::Seek;
        active
            .seek(std::io::SeekFrom::Start(valid_len))
            .map_err(|e| LogError::io("seek active segment", &path, e))?;
        let active = Arc::new(active);
        let report = OpenReport {
            start: segments[0],
            end,
            segments: segments.len(),
            truncated,
        };
        let mut log = Log {
            dir: dir.to_path_buf(),
            segments: history,
            active,
            active_base: last,
            active_len: valid_len,
            file_len,
            prealloc_off: false,
            end,
            synced_end: end,
            replid: seg_replid,
            segment_bytes,
        };
        log.preallocate();
        Ok((log, report))
    }

    /// Moves every existing segment aside into `log/orphaned-<ms>/` and starts a new log at
    /// `base` under `replid`. Used when the data is ahead of the log after a power cut, and when
    /// a data dir is restored from a checkpoint.
    pub fn reset_at(&mut self, base: LogOffset, replid: ReplId) -> Result<(), LogError> {
        let aside = self.dir.join(format!("orphaned-{}", now_ms()));
        fs::create_dir_all(&aside).map_err(|e| LogError::io("create dir", &aside, e))?;
        for &(b, _) in &self.segments {
            let from = segment_path(&self.dir, b);
            let to = aside.join(segment_file_name(b));
            fs::rename(&from, &to).map_err(|e| LogError::io("move aside segment", &from, e))?;
        }
        sync_dir(&self.dir)?;
        *self = Log::create_fresh(&self.dir, self.segment_bytes, replid, base)?;
        Ok(())
    }

    /// Deletes every segment in `dir` and starts a new log there at `base` under `replid`:
    /// a replica's full sync replaced the data, so its old log describes nothing it holds.
    pub fn discard_and_restart(
        dir: &Path,
        segment_bytes: u64,
        base: LogOffset,
        replid: ReplId,
    ) -> Result<Log, LogError> {
        fs::create_dir_all(dir).map_err(|e| LogError::io("create log dir", dir, e))?;
        for b in list_segments(dir)? {
            let p = segment_path(dir, b);
            fs::remove_file(&p).map_err(|e| LogError::io("delete segment", &p, e))?;
        }
        sync_dir(dir)?;
        Log::create_fresh(dir, segment_bytes, replid, base)
    }

    /// Starts a new history at the current end (a promotion, or a replica following a
    /// promoted master): the active segment is closed and a new one records `replid`, so a
    /// PSYNC can be checked against the history of the offset it names. An empty active
    /// segment is simply rewritten under the new replid.
    pub fn start_history(&mut self, replid: ReplId) -> Result<(), LogError> {
        if replid == self.replid {
            return Ok(());
        }
        self.sync()?;
        if self.end == self.active_base {
            let path = segment_path(&self.dir, self.active_base);
            fs::remove_file(&path).map_err(|e| LogError::io("delete empty segment", &path, e))?;
            self.segments.pop();
        }
        self.replid = replid;
        self.roll()
    }

    pub fn history_first(&self) -> Option<(LogOffset, ReplId)> {
        self.segments.first().copied()
    }

    pub fn history_last(&self) -> Option<(LogOffset, ReplId)> {
        self.segments.last().copied()
    }

    /// Every segment's base and replid, oldest first: the histories this log holds.
    pub fn history(&self) -> Vec<(LogOffset, ReplId)> {
        self.segments.clone()
    }

    /// Starts a new, empty log whose first record will have offset `base`.
    pub fn create_fresh(
        dir: &Path,
        segment_bytes: u64,
        replid: ReplId,
        base: LogOffset,
    ) -> Result<Log, LogError> {
        let (active, len) = create_segment(dir, base, replid)?;
        let active = Arc::new(active);
        let mut log = Log {
            dir: dir.to_path_buf(),
            segments: vec![(base, replid)],
            active,
            active_base: base,
            active_len: len,
            file_len: len,
            prealloc_off: false,
            end: base,
            synced_end: base,
            replid,
            segment_bytes,
        };
        log.preallocate();
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// End of the log: the offset the next record gets (Redis' master_repl_offset).
    pub fn end(&self) -> LogOffset {
        self.end
    }

    pub fn synced_end(&self) -> LogOffset {
        self.synced_end
    }

    pub fn start(&self) -> LogOffset {
        self.segments
            .first()
            .map(|s| s.0)
            .unwrap_or(self.active_base)
    }

    pub fn replid(&self) -> ReplId {
        self.replid
    }

    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    pub fn set_segment_bytes(&mut self, bytes: u64) {
        self.segment_bytes = bytes;
    }

    /// Appends framed records that start at `end()`. Rolls to a new segment first when the
    /// active one is full, so a group of records never straddles two files.
    pub fn append(&mut self, records: &[u8]) -> Result<(), LogError> {
        if self.active_len >= self.segment_bytes && self.end > self.active_base {
            self.roll()?;
        }
        let path = segment_path(&self.dir, self.active_base);
        (&*self.active)
            .write_all(records)
            .map_err(|e| LogError::io("append to", &path, e))?;
        self.active_len += records.len() as u64;
        self.file_len = self.file_len.max(self.active_len);
        self.end = self.end.advance(records.len() as u64);
        self.preallocate();
        Ok(())
    }

    /// Keeps zero bytes written ahead of the last record (see the module doc), up to the
    /// segment size. Best effort: on failure appends extend the file as without it.
    fn preallocate(&mut self) {
        let cap = self.segment_bytes;
        if self.prealloc_off
            || self.file_len >= cap
            || self.file_len - self.active_len >= PREALLOC_LOW_WATER
        {
            return;
        }
        let target = (self.file_len + PREALLOC_CHUNK).min(cap);
        let zeros = [0u8; 64 * 1024];
        while self.file_len < target {
            let n = (target - self.file_len).min(zeros.len() as u64) as usize;
            if let Err(e) = self.active.write_all_at(&zeros[..n], self.file_len) {
                tracing::warn!(
                    segment = %segment_path(&self.dir, self.active_base).display(),
                    error = %e,
                    "could not preallocate log space; appending without it"
                );
                self.prealloc_off = true;
                // What was written is zeros past the last record: harmless.
                if let Ok(m) = self.active.metadata() {
                    self.file_len = m.len().max(self.active_len);
                }
                return;
            }
            self.file_len += n as u64;
        }
    }

    /// The active segment's file, for fsyncing it off the writer thread.
    pub fn active_file(&self) -> Arc<File> {
        self.active.clone()
    }

    /// fdatasync of the active segment: everything appended so far survives a power cut.
    pub fn sync(&mut self) -> Result<(), LogError> {
        if self.synced_end == self.end {
            return Ok(());
        }
        self.active
            .sync_data()
            .map_err(|e| LogError::io("fsync", &segment_path(&self.dir, self.active_base), e))?;
        self.synced_end = self.end;
        Ok(())
    }

    /// Closes the active segment (cut to its last record, fsynced) and starts a new one at
    /// `end()`.
    pub fn roll(&mut self) -> Result<(), LogError> {
        self.sync()?;
        if self.file_len > self.active_len {
            let path = segment_path(&self.dir, self.active_base);
            self.active
                .set_len(self.active_len)
                .and_then(|_| self.active.sync_all())
                .map_err(|e| LogError::io("cut preallocated space of", &path, e))?;
        }
        let (file, len) = create_segment(&self.dir, self.end, self.replid)?;
        self.active = Arc::new(file);
        self.active_base = self.end;
        self.active_len = len;
        self.file_len = len;
        self.prealloc_off = false;
        self.segments.push((self.end, self.replid));
        self.preallocate();
        Ok(())
    }

    /// Best effort to cut the active segment back to `end` after a failed append, so a record
    /// whose client was told it failed is not replayed later.
    pub fn truncate_to(&mut self, end: LogOffset) -> Result<(), LogError> {
        let path = segment_path(&self.dir, self.active_base);
        if end < self.active_base || end > self.end {
            return Err(LogError::io(
                "truncate",
                &path,
                std::io::Error::other(format!(
                    "offset {end} is outside the active segment ({} to {})",
                    self.active_base, self.end
                )),
            ));
        }
        let cut = self.end.0 - end.0;
        let new_len = self.active_len - cut;
        self.active
            .set_len(new_len)
            .and_then(|_| self.active.sync_all())
            .map_err(|e| LogError::io("truncate", &path, e))?;
        use std::io::Seek;
        (&*self.active)
            .seek(std::io::SeekFrom::Start(new_len))
            .map_err(|e| LogError::io("seek", &path, e))?;
        self.active_len = new_len;
        self.file_len = new_len;
        self.end = end;
        self.synced_end = self.synced_end.min(end);
        Ok(())
    }

    /// Deletes closed segments, oldest first, while the log is over `retention_bytes` or the
    /// segment is older than `retention_ms`, never touching a segment that ends after
    /// `keep_from` (what crash recovery or a reader still needs). Returns how many went.
    pub fn apply_retention(
        &mut self,
        keep_from: LogOffset,
        retention_bytes: u64,
        retention_ms: u64,
    ) -> Result<usize, LogError> {
        let mut total = self.total_bytes()?;
        let mut removed = 0;
        while self.segments.len() > 1 {
            let base = self.segments[0].0;
            let seg_end = self.segments[1].0;
            if seg_end > keep_from {
                break;
            }
            let path = segment_path(&self.dir, base);
            let meta = fs::metadata(&path).map_err(|e| LogError::io("stat", &path, e))?;
            let age_ms = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let over_bytes = retention_bytes > 0 && total > retention_bytes;
            let too_old = retention_ms > 0 && age_ms > retention_ms;
            if !over_bytes && !too_old {
                break;
            }
            fs::remove_file(&path).map_err(|e| LogError::io("delete segment", &path, e))?;
            tracing::info!(segment = %path.display(), "retention deleted log segment");
            total -= meta.len();
            self.segments.remove(0);
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    /// Bytes of all segments up to their last record (preallocated space not counted).
    pub fn total_bytes(&self) -> Result<u64, LogError> {
        let mut total = 0;
        for &(b, _) in &self.segments {
            if b == self.active_base {
                total += self.active_len;
                continue;
            }
            let p = segment_path(&self.dir, b);
            total += fs::metadata(&p)
                .map_err(|e| LogError::io("stat", &p, e))?
                .len();
        }
        Ok(total)
    }
}

/// Creates a segment: its header goes to a temporary file, which is fsynced and then renamed
/// into place, so a crash or a full disk mid-creation never leaves a segment without a
/// whole header (which would stop the next start). A leftover temporary file is ignored by
/// [`list_segments`] and overwritten by the next attempt.
fn create_segment(dir: &Path, base: LogOffset, replid: ReplId) -> Result<(File, u64), LogError> {
    let path = segment_path(dir, base);
    let tmp = dir.join(format!("{}.tmp", segment_file_name(base)));
    if path.exists() {
        return Err(LogError::io(
            "create segment",
            &path,
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ));
    }
    let header = SegmentHeader {
        base,
        replid,
        created_ms: now_ms(),
    };
    let bytes = header.encode();
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&tmp)
        .map_err(|e| LogError::io("create segment", &tmp, e))?;
    f.write_all(&bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| LogError::io("write segment header", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| LogError::io("rename new segment into place", &path, e))?;
    sync_dir(dir)?;
    Ok((f, bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::format::{encode_record, RecordKind};
    use super::reader::LogReader;
    use super::*;

    /// Reads every record up to `end`; how many.
    fn read_up_to(r: &mut LogReader, end: LogOffset) -> usize {
        let mut n = 0;
        while r.next(end).expect("read").is_some() {
            n += 1;
        }
        n
    }

    fn append_n(log: &mut Log, n: usize) {
        for i in 0..n {
            let mut buf = Vec::new();
            let payload = format!(
                "*2\r\n$3\r\nDEL\r\n${}\r\nk{}\r\n",
                1 + i.to_string().len(),
                i
            );
            encode_record(
                &mut buf,
                log.end(),
                1,
                0,
                RecordKind::Commands,
                payload.as_bytes(),
            );
            log.append(&buf).expect("append");
        }
        log.sync().expect("sync");
    }

    #[test]
    fn a_half_created_segment_never_stops_a_start() {
        // A crash while creating a segment leaves at most a temporary file with part of a
        // header: the log opens, and the next roll to that base overwrites it.
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 200, ReplId::random()).expect("open");
        append_n(&mut log, 1);
        let next = log.end();
        let tmp = dir.path().join(format!("{}.tmp", segment_file_name(next)));
        fs::write(&tmp, b"dur").expect("leftover");
        drop(log);
        let (mut log, rep) = Log::open(dir.path(), 200, ReplId::random()).expect("reopen");
        assert_eq!(rep.end, next);
        append_n(&mut log, 20);
        assert!(log.segment_count() > 1, "rolled over the leftover's base");
        let end = log.end();
        drop(log);
        let (_, rep) = Log::open(dir.path(), 200, ReplId::random()).expect("reopen");
        assert_eq!(rep.end, end);
        // Creating the segment the leftover was for replaces it with a whole one.
        let base = LogOffset(end.0 + 1000);
        let tmp = dir.path().join(format!("{}.tmp", segment_file_name(base)));
        fs::write(&tmp, b"dur").expect("leftover");
        create_segment(dir.path(), base, ReplId::random()).expect("create over a leftover");
        assert!(!tmp.exists(), "renamed into place");
        let header = fs::read(segment_path(dir.path(), base)).expect("segment");
        assert_eq!(header.len(), format::SEGMENT_HEADER_LEN);
    }

    #[test]
    fn reopen_finds_the_end_and_reads_back_across_rolls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, rep) = Log::open(dir.path(), 200, ReplId::random()).expect("open");
        assert_eq!(rep.end, LogOffset::ZERO);
        append_n(&mut log, 40);
        let end = log.end();
        assert!(log.segment_count() > 3, "small segment size rolls");
        drop(log);
        let (log, rep) = Log::open(dir.path(), 200, ReplId::random()).expect("reopen");
        assert_eq!(rep.end, end);
        assert!(rep.truncated.is_none());
        let mut r = LogReader::open(dir.path(), LogOffset::ZERO).expect("reader");
        let mut n = 0;
        let mut at = LogOffset::ZERO;
        while let Some(rec) = r.next(log.end()).expect("read") {
            assert_eq!(rec.offset(), at);
            at = rec.end();
            n += 1;
        }
        assert_eq!(n, 40);
        assert_eq!(at, end);
    }

    #[test]
    fn a_whole_last_header_that_does_not_parse_stops_the_start_instead_of_being_cut() {
        // A last record whose header checksum holds but whose kind is unknown (a newer
        // format, or a bug) was written whole: cutting it as a torn tail would drop an
        // acknowledged write, so the start stops and names its offset.
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("open");
        append_n(&mut log, 2);
        let at = log.end();
        let mut rec = Vec::new();
        // No payload: only zeros (preallocated space) follow the header, as after a torn one.
        encode_record(&mut rec, at, 1, 0, RecordKind::Commands, b"");
        rec[21] = 0x7e;
        let hcrc = crc32c::crc32c(&rec[0..28]);
        rec[28..32].copy_from_slice(&hcrc.to_le_bytes());
        log.append(&rec).expect("append");
        log.sync().expect("sync");
        drop(log);
        match Log::open(dir.path(), 1 << 20, ReplId::random()) {
            Err(LogError::Corrupt { offset, .. }) => assert_eq!(offset, at),
            Err(e) => panic!("expected corruption at {at}, got {e}"),
            Ok((log, rep)) => panic!(
                "opened with end {} (truncated: {:?})",
                log.end(),
                rep.truncated
            ),
        }
    }

    #[test]
    fn torn_tail_is_truncated_at_every_length() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("open");
        append_n(&mut log, 3);
        let full_end = log.end();
        let path = segment_path(dir.path(), LogOffset::ZERO);
        let full = fs::read(&path).expect("read");
        drop(log);
        let last_rec_start = {
            let mut r = LogReader::open(dir.path(), LogOffset::ZERO).expect("reader");
            r.next(full_end).expect("r");
            let second = r.next(full_end).expect("r").expect("second");
            second.end()
        };
        // Cut the file at every length inside the last record: as an appended file leaves it,
        // and as preallocated space leaves it (zeros after the cut).
        let last_file_start = format::SEGMENT_HEADER_LEN as u64 + last_rec_start.0;
        let written = format::SEGMENT_HEADER_LEN + full_end.0 as usize;
        for zeros_after in [0usize, 4096] {
            for cut in last_file_start..written as u64 {
                let mut bytes = full[..cut as usize].to_vec();
                bytes.resize(cut as usize + zeros_after, 0);
                fs::write(&path, &bytes).expect("write");
                let (log, rep) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("reopen");
                assert_eq!(
                    log.end(),
                    last_rec_start,
                    "cut at {cut} + {zeros_after} zeros"
                );
                if cut > last_file_start {
                    assert_eq!(
                        rep.truncated.as_ref().map(|t| t.0),
                        Some(last_rec_start),
                        "cut at {cut} + {zeros_after} zeros"
                    );
                }
                let now = fs::read(&path).expect("read");
                assert_eq!(
                    &now[..last_file_start as usize],
                    &full[..last_file_start as usize]
                );
                assert!(
                    now[last_file_start as usize..].iter().all(|&b| b == 0),
                    "the torn bytes are gone (cut at {cut})"
                );
            }
        }
    }

    #[test]
    fn damage_before_the_tail_stops_open_with_the_offset() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("open");
        append_n(&mut log, 5);
        drop(log);
        let path = segment_path(dir.path(), LogOffset::ZERO);
        let full = fs::read(&path).expect("read");
        // Every byte of the first record, flipped, is reported as corruption at offset 0.
        let first_len = {
            let mut r = LogReader::open(dir.path(), LogOffset::ZERO).expect("reader");
            r.next(LogOffset(u64::MAX))
                .expect("r")
                .expect("first")
                .end()
                .0 as usize
        };
        for i in 0..first_len {
            let mut c = full.clone();
            c[format::SEGMENT_HEADER_LEN + i] ^= 0x10;
            fs::write(&path, &c).expect("write");
            match Log::open(dir.path(), 1 << 20, ReplId::random()) {
                Err(LogError::Corrupt { offset, .. }) => assert_eq!(offset, LogOffset::ZERO),
                Err(e) => panic!("byte {i}: unexpected error {e}"),
                Ok(_) => panic!("byte {i}: corruption not detected"),
            }
        }
    }

    #[test]
    fn zeros_after_the_last_record_are_the_end_not_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("open");
        append_n(&mut log, 5);
        let end = log.end();
        let path = segment_path(dir.path(), LogOffset::ZERO);
        let len = fs::metadata(&path).expect("stat").len();
        assert!(
            len > format::SEGMENT_HEADER_LEN as u64 + end.0,
            "the active segment is preallocated past its last record"
        );
        assert_eq!(
            log.total_bytes().expect("bytes"),
            format::SEGMENT_HEADER_LEN as u64 + end.0
        );
        drop(log);
        let (mut log, rep) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("reopen");
        assert_eq!(log.end(), end);
        assert!(rep.truncated.is_none(), "{:?}", rep.truncated);
        // Appending after a reopen overwrites the zeros, and everything reads back.
        append_n(&mut log, 5);
        let mut r = LogReader::open(dir.path(), LogOffset::ZERO).expect("reader");
        assert_eq!(read_up_to(&mut r, log.end()), 10);
    }

    #[test]
    fn a_closed_segment_is_cut_to_its_last_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 4096, ReplId::random()).expect("open");
        append_n(&mut log, 200);
        assert!(log.segment_count() > 2);
        let segs = list_segments(dir.path()).expect("list");
        for pair in segs.windows(2) {
            let len = fs::metadata(segment_path(dir.path(), pair[0]))
                .expect("stat")
                .len();
            assert_eq!(
                len,
                format::SEGMENT_HEADER_LEN as u64 + (pair[1].0 - pair[0].0),
                "segment {} holds exactly its records",
                pair[0]
            );
        }
    }

    #[test]
    fn a_live_reader_sees_records_written_over_zeros_it_already_buffered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 1 << 20, ReplId::random()).expect("open");
        append_n(&mut log, 3);
        let mut r = LogReader::open(dir.path(), LogOffset::ZERO).expect("reader");
        // Reading the first records fills the reader's buffer with the zeros after them.
        let mut n = read_up_to(&mut r, log.end());
        for _ in 0..5 {
            append_n(&mut log, 4);
            n += read_up_to(&mut r, log.end());
            assert_eq!(r.position(), log.end());
        }
        assert_eq!(n, 23);
    }

    #[test]
    fn retention_keeps_what_recovery_needs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut log, _) = Log::open(dir.path(), 200, ReplId::random()).expect("open");
        append_n(&mut log, 40);
        let segs = log.segment_count();
        // Nothing may go while recovery still needs everything.
        assert_eq!(log.apply_retention(LogOffset::ZERO, 1, 0).expect("ret"), 0);
        let keep = log.end();
        let removed = log.apply_retention(keep, 1, 0).expect("ret");
        assert_eq!(
            removed,
            segs - 1,
            "all closed segments go, the active one stays"
        );
        assert_eq!(list_segments(dir.path()).expect("list").len(), 1);
    }
}
