//! inspect-log: read-only inspection of a durakv replication log directory (`<data dir>/log`).
//!
//! Owns nothing on disk: every function here opens the segment files read-only and decodes them
//! only through `durakv::log` ([`SegmentReader`] classifies each record as whole, torn or
//! corrupt; this crate never parses the format itself). The CLI in `main.rs` is a thin layer
//! over [`segments`], [`dump`], [`verify`] and [`stat`].
//!
//! Invariants kept:
//! - Read-only: no file is created, truncated or written.
//! - A live log is fine: the set of segments and each file's length are taken when the file is
//!   opened, and an incomplete record at the very end of the last segment is the end of what is
//!   readable (a write in progress, or the torn tail the server would cut at start-up). Damage
//!   anywhere else is reported as corruption, with its offset.
//! - A walk never goes past the first problem: what was returned before it is exactly the valid
//!   prefix of the log.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use durakv::log::format::{SegmentHeader, FORMAT_VERSION, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use durakv::log::segment::{ReadOutcome, Record, SegmentReader};
use durakv::log::{list_segments, segment_path, LogError};
use durakv::protocol::{decode_commands, encode_command};
use durakv::types::{LogOffset, ReplId};

/// Errors that stop a command before or while it reads (damage found in the log is not an
/// error: it is a [`Problem`] in the result).
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("{0}: no such directory")]
    NoDir(PathBuf),
    #[error("{0} is not a directory: pass the log directory (<data dir>/log)")]
    NotADir(PathBuf),
    #[error("no log segments (<20-digit offset>.seg files) in {dir}{hint}")]
    NoSegments { dir: PathBuf, hint: String },
    #[error("offset {from} is before the start of the log ({start}): older segments were deleted by retention or never existed")]
    BeforeStart { from: LogOffset, start: LogOffset },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("write output: {0}")]
    Output(#[source] io::Error),
}

impl InspectError {
    /// The reader of our output went away (`inspect-log dump | head`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, InspectError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

/// What a visitor wants after seeing a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// The two kinds of damage the server tells apart (docs/LOG-FORMAT.md, "Damage rules").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    /// An incomplete record at the end of the last segment: never acknowledged, cut off by the
    /// server at start-up (or, on a running server, a write in progress).
    TornTail,
    /// Anything else that fails to validate: the server refuses to start.
    Corrupt,
}

/// The first place where the log stops validating.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub damage: Damage,
    /// Offset of the first record that is not valid (for a bad segment header, its base).
    pub offset: LogOffset,
    pub path: PathBuf,
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.damage {
            Damage::TornTail => "torn tail",
            Damage::Corrupt => "corrupt",
        };
        write!(
            f,
            "{kind} at offset {} in {}: {}",
            self.offset,
            self.path.display(),
            self.what
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Progress

/// A line on stderr about every second during a long run. Checks the clock only every 1024
/// records so it costs nothing per record.
pub struct Progress {
    label: &'static str,
    enabled: bool,
    start: Instant,
    last: Instant,
    total_bytes: u64,
    ticks: u32,
    printed: bool,
}

impl Progress {
    pub const INTERVAL: Duration = Duration::from_secs(1);

    pub fn new(label: &'static str, enabled: bool) -> Progress {
        let now = Instant::now();
        Progress {
            label,
            enabled,
            start: now,
            last: now,
            total_bytes: 0,
            ticks: 0,
            printed: false,
        }
    }

    pub fn disabled() -> Progress {
        Progress::new("", false)
    }

    fn set_total(&mut self, bytes: u64) {
        self.total_bytes = bytes;
    }

    #[inline]
    fn tick(&mut self, done_bytes: u64) {
        if !self.enabled {
            return;
        }
        self.ticks = self.ticks.wrapping_add(1);
        if !self.ticks.is_multiple_of(1024) {
            return;
        }
        let now = Instant::now();
        if now.duration_since(self.last) < Self::INTERVAL {
            return;
        }
        self.last = now;
        self.printed = true;
        let secs = now.duration_since(self.start).as_secs_f64();
        let pct = if self.total_bytes > 0 {
            100.0 * done_bytes as f64 / self.total_bytes as f64
        } else {
            0.0
        };
        eprintln!(
            "inspect-log {}: {} of {} ({pct:.0}%), {}/s",
            self.label,
            human_bytes(done_bytes),
            human_bytes(self.total_bytes),
            human_bytes((done_bytes as f64 / secs.max(1e-9)) as u64),
        );
    }

    fn finish(&mut self, done_bytes: u64) {
        if self.printed {
            let secs = self.start.elapsed().as_secs_f64();
            eprintln!(
                "inspect-log {}: done, {} in {secs:.1} s",
                self.label,
                human_bytes(done_bytes)
            );
        }
    }
}

pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

// ---------------------------------------------------------------------------------------------
// Walking the log

/// The segment base offsets in `dir`, ascending, or a clear error when `dir` is not a log dir.
pub fn open_log_dir(dir: &Path) -> Result<Vec<LogOffset>, InspectError> {
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(InspectError::NoDir(dir.to_path_buf()))
        }
        Err(e) => return Err(LogError::io("stat", dir, e).into()),
    };
    if !meta.is_dir() {
        return Err(InspectError::NotADir(dir.to_path_buf()));
    }
    let segs = list_segments(dir)?;
    if segs.is_empty() {
        let sub = dir.join("log");
        let hint = match list_segments(&sub) {
            Ok(s) if !s.is_empty() => format!(" (did you mean {}?)", sub.display()),
            _ => String::new(),
        };
        return Err(InspectError::NoSegments {
            dir: dir.to_path_buf(),
            hint,
        });
    }
    Ok(segs)
}

/// What one pass over one segment found.
struct SegmentScan {
    header: Option<SegmentHeader>,
    /// Offset after the last valid record read.
    end: LogOffset,
    records: u64,
    first_ts_ms: Option<u64>,
    last_ts_ms: Option<u64>,
    problem: Option<Problem>,
    stopped: bool,
}

fn header_problem(error: &str) -> String {
    if error.starts_with("unknown format version") {
        format!("bad segment header: {error} (this inspect-log reads version {FORMAT_VERSION})")
    } else {
        format!("bad segment header: {error}")
    }
}

/// Reads one segment from its start (or from the record at `from`), calling `f` on each valid
/// record, and classifies what stops it. `is_last` decides whether an incomplete record is a
/// torn tail (last segment) or corruption (a closed segment).
fn scan_segment<F>(
    path: &Path,
    base: LogOffset,
    is_last: bool,
    from: Option<LogOffset>,
    f: &mut F,
) -> Result<SegmentScan, InspectError>
where
    F: FnMut(&Record) -> Result<Flow, InspectError>,
{
    let mut scan = SegmentScan {
        header: None,
        end: base,
        records: 0,
        first_ts_ms: None,
        last_ts_ms: None,
        problem: None,
        stopped: false,
    };
    let mut reader = match SegmentReader::open(path, base) {
        Ok(r) => r,
        Err(LogError::BadSegmentHeader { error, .. }) => {
            scan.problem = Some(Problem {
                damage: Damage::Corrupt,
                offset: base,
                path: path.to_path_buf(),
                what: header_problem(&error),
            });
            return Ok(scan);
        }
        Err(e) => return Err(e.into()),
    };
    scan.header = Some(reader.header().clone());
    if let Some(from) = from {
        match reader.seek_to(from) {
            Ok(()) => {}
            Err(LogError::Corrupt { offset, error, .. }) => {
                scan.end = offset;
                scan.problem = Some(Problem {
                    damage: Damage::Corrupt,
                    offset,
                    path: path.to_path_buf(),
                    what: error.to_string(),
                });
                return Ok(scan);
            }
            Err(e) => return Err(e.into()),
        }
    }
    // On a live log the record at the end may be being written: look at the file length once
    // more before calling it torn.
    let mut refreshed = false;
    loop {
        match reader.read_next()? {
            ReadOutcome::Record(r) => {
                scan.records += 1;
                let ts = r.header.timestamp_ms;
                scan.first_ts_ms.get_or_insert(ts);
                scan.last_ts_ms = Some(ts);
                if f(&r)? == Flow::Stop {
                    scan.stopped = true;
                    break;
                }
            }
            ReadOutcome::End => break,
            ReadOutcome::Incomplete { offset, reason } => {
                if is_last && !refreshed {
                    refreshed = true;
                    reader.refresh()?;
                    continue;
                }
                let (damage, what) = if is_last {
                    (Damage::TornTail, reason)
                } else {
                    (
                        Damage::Corrupt,
                        format!("incomplete record in a closed segment: {reason}"),
                    )
                };
                scan.problem = Some(Problem {
                    damage,
                    offset,
                    path: path.to_path_buf(),
                    what,
                });
                break;
            }
            ReadOutcome::Corrupt { offset, error } => {
                scan.problem = Some(Problem {
                    damage: Damage::Corrupt,
                    offset,
                    path: path.to_path_buf(),
                    what: error.to_string(),
                });
                break;
            }
        }
    }
    scan.end = reader.next_offset();
    Ok(scan)
}

/// What a walk over the whole log (or from an offset to where it stopped) saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalkSummary {
    /// Where the walk started (the first segment's base, or `from`).
    pub start: LogOffset,
    /// Offset after the last valid record read: the end of the log when nothing stopped it.
    pub end: LogOffset,
    pub records: u64,
    /// Segments opened.
    pub segments: usize,
    /// Segments in the directory.
    pub segments_total: usize,
    /// The first damage found; the walk does not go past it.
    pub problem: Option<Problem>,
    /// The visitor asked to stop before the end.
    pub stopped_early: bool,
}

/// Walks the log in offset order from its start (or the record at `from`), calling `f` on every
/// valid record, checking segment headers and that each segment starts where the previous one
/// ended. Stops at the first problem or when `f` says so.
pub fn walk<F>(
    dir: &Path,
    from: Option<LogOffset>,
    progress: &mut Progress,
    mut f: F,
) -> Result<WalkSummary, InspectError>
where
    F: FnMut(&Record) -> Result<Flow, InspectError>,
{
    let segs = open_log_dir(dir)?;
    let idx = match from {
        None => 0,
        Some(from) => match segs.iter().rposition(|&b| b <= from) {
            Some(i) => i,
            None => {
                return Err(InspectError::BeforeStart {
                    from,
                    start: segs[0],
                })
            }
        },
    };
    let start = from.unwrap_or(segs[idx]);
    let mut total = 0u64;
    for &b in &segs[idx..] {
        if let Ok(m) = std::fs::metadata(segment_path(dir, b)) {
            total += m.len().saturating_sub(SEGMENT_HEADER_LEN as u64);
        }
    }
    progress.set_total(total.saturating_sub(start.0 - segs[idx].0));
    let mut sum = WalkSummary {
        start,
        end: start,
        records: 0,
        segments: 0,
        segments_total: segs.len(),
        problem: None,
        stopped_early: false,
    };
    for (i, &base) in segs.iter().enumerate().skip(idx) {
        let path = segment_path(dir, base);
        if i > idx && base != sum.end {
            sum.problem = Some(Problem {
                damage: Damage::Corrupt,
                offset: sum.end,
                path,
                what: format!(
                    "segments are not contiguous: this segment starts at {base} but the previous one ends at {}",
                    sum.end
                ),
            });
            break;
        }
        let is_last = i + 1 == segs.len();
        let seg_from = if i == idx { from } else { None };
        let mut visit = |r: &Record| {
            progress.tick(r.end().0 - start.0);
            f(r)
        };
        let scan = scan_segment(&path, base, is_last, seg_from, &mut visit)?;
        sum.segments += 1;
        sum.records += scan.records;
        sum.end = scan.end;
        if scan.stopped {
            sum.stopped_early = true;
            break;
        }
        if scan.problem.is_some() {
            sum.problem = scan.problem;
            break;
        }
    }
    progress.finish(sum.end.0 - start.0);
    Ok(sum)
}

// ---------------------------------------------------------------------------------------------
// segments

/// One row of `inspect-log segments`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentInfo {
    /// Offset of its first record (from the file name).
    pub base: LogOffset,
    /// Offset after its last valid record.
    pub end: LogOffset,
    pub path: PathBuf,
    /// Header plus records up to `end` (the active segment's preallocated zeros are not
    /// counted; neither is anything after damage).
    pub size_bytes: u64,
    pub records: u64,
    pub first_ts_ms: Option<u64>,
    pub last_ts_ms: Option<u64>,
    /// `None` when the header does not validate.
    pub replid: Option<ReplId>,
    pub created_ms: Option<u64>,
    /// Damage inside this segment, or a gap before it.
    pub problem: Option<Problem>,
}

/// Reads every segment (each on its own, so damage in one does not hide the others).
pub fn segments(dir: &Path, progress: &mut Progress) -> Result<Vec<SegmentInfo>, InspectError> {
    let segs = open_log_dir(dir)?;
    let mut total = 0;
    let mut sizes = Vec::with_capacity(segs.len());
    for &b in &segs {
        let p = segment_path(dir, b);
        let len = std::fs::metadata(&p)
            .map_err(|e| LogError::io("stat", &p, e))?
            .len();
        total += len;
        sizes.push(len);
    }
    progress.set_total(total);
    let mut done = 0u64;
    let mut rows = Vec::with_capacity(segs.len());
    let mut prev_end: Option<LogOffset> = None;
    for (i, &base) in segs.iter().enumerate() {
        let path = segment_path(dir, base);
        let is_last = i + 1 == segs.len();
        let mut visit = |r: &Record| {
            progress.tick(done + (r.end().0 - base.0));
            Ok(Flow::Continue)
        };
        let scan = scan_segment(&path, base, is_last, None, &mut visit)?;
        done += sizes[i];
        // The chain check needs the previous segment's true end: skipped after damage there.
        let gap = match prev_end {
            Some(prev) if prev != base => Some(Problem {
                damage: Damage::Corrupt,
                offset: prev,
                path: path.clone(),
                what: format!(
                    "segments are not contiguous: this segment starts at {base} but the previous one ends at {prev}"
                ),
            }),
            _ => None,
        };
        prev_end = scan.problem.is_none().then_some(scan.end);
        let problem = gap.or(scan.problem);
        rows.push(SegmentInfo {
            base,
            end: scan.end,
            path,
            // Up to the last record: the active segment's preallocated zeros are not content.
            size_bytes: sizes[i].min(SEGMENT_HEADER_LEN as u64 + (scan.end.0 - base.0)),
            records: scan.records,
            first_ts_ms: scan.first_ts_ms,
            last_ts_ms: scan.last_ts_ms,
            replid: scan.header.as_ref().map(|h| h.replid),
            created_ms: scan.header.as_ref().map(|h| h.created_ms),
            problem,
        });
    }
    progress.finish(done);
    Ok(rows)
}

/// Prints the rows as an aligned table with a header line.
pub fn write_segments<W: Write>(out: &mut W, rows: &[SegmentInfo]) -> io::Result<()> {
    writeln!(
        out,
        "{:>20} {:>20} {:>12} {:>10} {:<24} {:<24} {:<40} status",
        "base", "end", "size_bytes", "records", "first_ts", "last_ts", "replid"
    )?;
    for r in rows {
        let ts = |t: Option<u64>| t.map(format_ms).unwrap_or_else(|| "-".to_string());
        let status = match &r.problem {
            None => "ok".to_string(),
            Some(p) => p.to_string(),
        };
        writeln!(
            out,
            "{:>20} {:>20} {:>12} {:>10} {:<24} {:<24} {:<40} {status}",
            r.base.0,
            r.end.0,
            r.size_bytes,
            r.records,
            ts(r.first_ts_ms),
            ts(r.last_ts_ms),
            r.replid
                .map(|id| id.to_string())
                .unwrap_or_else(|| "-".into()),
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// verify

/// Checks every record's checksums and offset, every segment header, and that the segments
/// chain without gaps. The result's `problem` is the first damage, if any.
pub fn verify(dir: &Path, progress: &mut Progress) -> Result<WalkSummary, InspectError> {
    walk(dir, None, progress, |_| Ok(Flow::Continue))
}

/// The human report of [`verify`]: `OK ...`, or the damage and what the server would do.
pub fn write_verify<W: Write>(out: &mut W, s: &WalkSummary) -> io::Result<()> {
    match &s.problem {
        None => writeln!(
            out,
            "OK: {} records in {} segments, offsets {}..{}, end offset {}",
            s.records, s.segments, s.start, s.end, s.end
        ),
        Some(p) => {
            writeln!(out, "{p}")?;
            match p.damage {
                Damage::TornTail => writeln!(
                    out,
                    "torn tail in the last segment: an incomplete record that was never acknowledged; \
                     durakv truncates it at start-up (on a running server it may be a write in progress)"
                )?,
                Damage::Corrupt => writeln!(
                    out,
                    "corruption in the middle of the log (not a torn tail): durakv refuses to start until it is repaired"
                )?,
            }
            writeln!(
                out,
                "valid before it: {} records, offsets {}..{}",
                s.records, s.start, s.end
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// dump

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpFormat {
    /// One line per record: offset, time, db, then each command quoted as redis-cli shows it.
    #[default]
    Text,
    /// JSON lines: offset, end, timestamp_ms, db, commands.
    Json,
    /// Raw RESP for `redis-cli --pipe`, with SELECT where the db changes.
    Resp,
}

/// Which records `dump` writes: offsets in `[from, to)`, timestamps in `[since_ms, until_ms)`,
/// at most `limit` of them.
#[derive(Clone, Debug, Default)]
pub struct DumpOptions {
    /// Must be a record boundary the log holds.
    pub from: Option<LogOffset>,
    pub to: Option<LogOffset>,
    pub since_ms: Option<u64>,
    pub until_ms: Option<u64>,
    pub limit: Option<u64>,
    pub format: DumpFormat,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpSummary {
    pub walk: WalkSummary,
    /// Records written.
    pub written: u64,
}

/// Writes the selected records to `out` in `opts.format`. Flushes `out` before returning.
pub fn dump<W: Write>(
    dir: &Path,
    opts: &DumpOptions,
    out: &mut W,
    progress: &mut Progress,
) -> Result<DumpSummary, InspectError> {
    let mut written = 0u64;
    // A connection starts in db 0, so SELECT is needed only once the db is something else.
    let mut resp_db = 0u8;
    let mut scratch = Vec::new();
    let limit = opts.limit.unwrap_or(u64::MAX);
    let walk = if limit == 0 {
        WalkSummary {
            start: opts.from.unwrap_or(LogOffset::ZERO),
            end: opts.from.unwrap_or(LogOffset::ZERO),
            records: 0,
            segments: 0,
            segments_total: open_log_dir(dir)?.len(),
            problem: None,
            stopped_early: true,
        }
    } else {
        walk(dir, opts.from, progress, |r| {
            if opts.to.is_some_and(|to| r.offset() >= to) {
                return Ok(Flow::Stop);
            }
            let ts = r.header.timestamp_ms;
            if opts.since_ms.is_some_and(|s| ts < s) || opts.until_ms.is_some_and(|u| ts >= u) {
                return Ok(Flow::Continue);
            }
            match opts.format {
                DumpFormat::Text => write_text_record(out, r),
                DumpFormat::Json => write_json_record(out, r),
                DumpFormat::Resp => write_resp_record(out, r, &mut resp_db, &mut scratch),
            }
            .map_err(InspectError::Output)?;
            written += 1;
            Ok(if written >= limit {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })?
    };
    out.flush().map_err(InspectError::Output)?;
    Ok(DumpSummary { walk, written })
}

/// The record's payload as is (it is RESP already), after `SELECT <db>` when the record's db
/// differs from `cur_db`, the db the receiving connection is in.
pub fn write_resp_record<W: Write>(
    out: &mut W,
    r: &Record,
    cur_db: &mut u8,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    if r.header.db != *cur_db {
        *cur_db = r.header.db;
        scratch.clear();
        let db = cur_db.to_string();
        encode_command(scratch, &[b"SELECT".as_slice(), db.as_bytes()]);
        out.write_all(scratch)?;
    }
    out.write_all(r.payload())
}

/// `<offset> <time> db=<db> "SET" "k" "v" ; "DEL" "x"`: the commands of one record, each
/// argument quoted as redis-cli prints it.
pub fn write_text_record<W: Write>(out: &mut W, r: &Record) -> io::Result<()> {
    write!(
        out,
        "{} {} db={}",
        r.offset(),
        format_ms(r.header.timestamp_ms),
        r.header.db
    )?;
    match decode_commands(r.payload()) {
        Some(cmds) => {
            let mut q = Vec::new();
            for (i, cmd) in cmds.iter().enumerate() {
                q.clear();
                q.extend_from_slice(if i == 0 { b" " } else { b" ; " });
                for (j, arg) in cmd.iter().enumerate() {
                    if j > 0 {
                        q.push(b' ');
                    }
                    quote_arg(&mut q, arg);
                }
                out.write_all(&q)?;
            }
        }
        None => write!(
            out,
            " <payload of {} bytes is not RESP commands>",
            r.payload().len()
        )?,
    }
    out.write_all(b"\n")
}

/// Appends `arg` quoted the way redis-cli shows a bulk string: `"..."` with `\\`, `\"`, `\n`,
/// `\r`, `\t`, `\a`, `\b` escapes, printable ASCII as is, any other byte as `\xhh`.
pub fn quote_arg(out: &mut Vec<u8>, arg: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[(c >> 4) as usize],
                HEX[(c & 15) as usize],
            ]),
        }
    }
    out.push(b'"');
}

#[derive(serde::Serialize)]
struct JsonRecord<'a> {
    offset: u64,
    end: u64,
    timestamp_ms: u64,
    db: u8,
    /// Each argument as a JSON string; bytes that are not UTF-8 become U+FFFD (then `lossy`).
    commands: Option<Vec<Vec<Cow<'a, str>>>>,
    #[serde(skip_serializing_if = "is_false")]
    lossy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One JSON object per line: `{"offset":..,"end":..,"timestamp_ms":..,"db":..,
/// "commands":[["SET","k","v"]]}`, plus `"lossy":true` when an argument was not UTF-8.
pub fn write_json_record<W: Write>(out: &mut W, r: &Record) -> io::Result<()> {
    let decoded = decode_commands(r.payload());
    let mut lossy = false;
    let commands = decoded.as_ref().map(|cmds| {
        cmds.iter()
            .map(|cmd| {
                cmd.iter()
                    .map(|a| {
                        let s = String::from_utf8_lossy(a);
                        lossy |= matches!(s, Cow::Owned(_));
                        s
                    })
                    .collect()
            })
            .collect()
    });
    let rec = JsonRecord {
        offset: r.offset().0,
        end: r.end().0,
        timestamp_ms: r.header.timestamp_ms,
        db: r.header.db,
        error: commands
            .is_none()
            .then_some("payload is not RESP arrays of bulk strings"),
        commands,
        lossy,
    };
    serde_json::to_writer(&mut *out, &rec).map_err(io::Error::other)?;
    out.write_all(b"\n")
}

// ---------------------------------------------------------------------------------------------
// stat

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandStat {
    /// Upper-cased command name.
    pub name: String,
    pub count: u64,
    /// RESP bytes of these commands (the part of the payloads they take).
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub walk: WalkSummary,
    pub records: u64,
    /// Framed bytes: record headers plus payloads.
    pub record_bytes: u64,
    pub payload_bytes: u64,
    pub min_ts_ms: Option<u64>,
    pub max_ts_ms: Option<u64>,
    /// By count, most frequent first.
    pub commands: Vec<CommandStat>,
    /// Records whose payload is not RESP commands.
    pub undecodable: u64,
}

impl Stats {
    pub fn span_ms(&self) -> Option<u64> {
        Some(self.max_ts_ms? - self.min_ts_ms?)
    }

    /// Records per second between the oldest and newest timestamp; `None` with no records or
    /// when they all carry the same millisecond.
    pub fn records_per_sec(&self) -> Option<f64> {
        let span = self.span_ms()?;
        (span > 0).then(|| self.records as f64 * 1000.0 / span as f64)
    }
}

/// Totals over the whole log, by command name.
pub fn stat(dir: &Path, progress: &mut Progress) -> Result<Stats, InspectError> {
    let mut by_name: HashMap<Vec<u8>, (u64, u64)> = HashMap::new();
    let mut name = Vec::new();
    let mut payload_bytes = 0u64;
    let mut record_bytes = 0u64;
    let mut min_ts = u64::MAX;
    let mut max_ts = 0u64;
    let mut undecodable = 0u64;
    let walk = walk(dir, None, progress, |r| {
        record_bytes += r.bytes.len() as u64;
        payload_bytes += r.payload().len() as u64;
        min_ts = min_ts.min(r.header.timestamp_ms);
        max_ts = max_ts.max(r.header.timestamp_ms);
        match decode_commands(r.payload()) {
            Some(cmds) => {
                for cmd in &cmds {
                    name.clear();
                    name.extend(cmd[0].iter().map(|c| c.to_ascii_uppercase()));
                    let len = resp_len(cmd);
                    match by_name.get_mut(name.as_slice()) {
                        Some(e) => {
                            e.0 += 1;
                            e.1 += len;
                        }
                        None => {
                            by_name.insert(name.clone(), (1, len));
                        }
                    }
                }
            }
            None => undecodable += 1,
        }
        Ok(Flow::Continue)
    })?;
    let mut commands: Vec<CommandStat> = by_name
        .into_iter()
        .map(|(n, (count, bytes))| CommandStat {
            name: String::from_utf8_lossy(&n).into_owned(),
            count,
            bytes,
        })
        .collect();
    commands.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
    let records = walk.records;
    Ok(Stats {
        walk,
        records,
        record_bytes,
        payload_bytes,
        min_ts_ms: (records > 0).then_some(min_ts),
        max_ts_ms: (records > 0).then_some(max_ts),
        commands,
        undecodable,
    })
}

/// Bytes of `args` encoded as a RESP array of bulk strings.
fn resp_len<A: AsRef<[u8]>>(args: &[A]) -> u64 {
    fn digits(mut n: usize) -> u64 {
        let mut d = 1;
        while n >= 10 {
            n /= 10;
            d += 1;
        }
        d
    }
    let mut n = 1 + digits(args.len()) + 2;
    for a in args {
        let len = a.as_ref().len();
        n += 1 + digits(len) + 2 + len as u64 + 2;
    }
    n
}

pub fn write_stats<W: Write>(out: &mut W, s: &Stats) -> io::Result<()> {
    writeln!(out, "records        {}", s.records)?;
    writeln!(
        out,
        "record bytes   {} (headers {}, payloads {})",
        s.record_bytes,
        s.records * RECORD_HEADER_LEN as u64,
        s.payload_bytes
    )?;
    writeln!(out, "offsets        {}..{}", s.walk.start, s.walk.end)?;
    match (s.min_ts_ms, s.max_ts_ms) {
        (Some(a), Some(b)) => writeln!(
            out,
            "time span      {} .. {} ({:.3} s)",
            format_ms(a),
            format_ms(b),
            (b - a) as f64 / 1000.0
        )?,
        _ => writeln!(out, "time span      -")?,
    }
    match s.records_per_sec() {
        Some(r) => writeln!(out, "records/s      {r:.1}")?,
        None => writeln!(out, "records/s      - (no time span)")?,
    }
    if s.undecodable > 0 {
        writeln!(out, "undecodable    {} records", s.undecodable)?;
    }
    writeln!(out, "{:<20} {:>12} {:>16}", "command", "count", "bytes")?;
    for c in &s.commands {
        writeln!(out, "{:<20} {:>12} {:>16}", c.name, c.count, c.bytes)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Time

/// `2023-11-14T22:13:20.000Z`: ms since the epoch as RFC 3339 UTC with milliseconds.
pub fn format_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms % 1000
    )
}

/// Parses a TIME argument: ms since the epoch (`1700000000000`), seconds since the epoch with
/// an `s` suffix (`1700000000s`), or RFC 3339 UTC as `dump` prints it
/// (`2023-11-14T22:13:20Z`, `2023-11-14T22:13:20.5Z`).
pub fn parse_time(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("bad time {s:?}: expected ms since the epoch (1700000000000), seconds with an s suffix (1700000000s) or UTC like 2023-11-14T22:13:20.000Z")
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit());
    if all_digits(s) {
        return s.parse().map_err(|_| bad());
    }
    if let Some(secs) = s.strip_suffix('s') {
        if all_digits(secs) {
            return secs
                .parse::<u64>()
                .ok()
                .and_then(|v| v.checked_mul(1000))
                .ok_or_else(bad);
        }
    }
    parse_rfc3339(s).ok_or_else(bad)
}

fn parse_rfc3339(s: &str) -> Option<u64> {
    let s = s.strip_suffix('Z').or_else(|| s.strip_suffix('z'))?;
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let num = |t: &str, len: usize| -> Option<u64> {
        (t.len() == len && t.bytes().all(|c| c.is_ascii_digit())).then(|| t.parse().ok())?
    };
    let mut dp = date.split('-');
    let y = num(dp.next()?, 4)?;
    let mo = num(dp.next()?, 2)?;
    let d = num(dp.next()?, 2)?;
    if dp.next().is_some() || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let mut tp = hms.split(':');
    let h = num(tp.next()?, 2)?;
    let mi = num(tp.next()?, 2)?;
    let sec = num(tp.next()?, 2)?;
    if tp.next().is_some() || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let ms = match frac {
        None => 0,
        Some(f) if (1..=3).contains(&f.len()) && f.bytes().all(|c| c.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10u64.pow(3 - f.len() as u32)
        }
        Some(_) => return None,
    };
    let days = days_from_civil(y as i64, mo as u32, d as u32);
    if days < 0 {
        return None;
    }
    Some((days as u64 * 86_400 + h * 3600 + mi * 60 + sec) * 1000 + ms)
}

fn days_in_month(y: u64, m: u64) -> u64 {
    match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days <-> civil date algorithms (proleptic Gregorian, day 0 = 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_round_trips() {
        assert_eq!(format_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        for ms in [0, 1, 951_782_400_000, 1_700_000_000_123, 4_102_444_800_999] {
            assert_eq!(parse_time(&format_ms(ms)), Ok(ms));
        }
        assert_eq!(parse_time("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000s"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T22:13:20.5Z"), Ok(1_700_000_000_500));
        for bad in [
            "",
            "s",
            "12x",
            "-5",
            "2023-02-29T00:00:00Z",
            "2023-11-14T24:00:00Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn quoting_matches_redis_cli() {
        let mut q = Vec::new();
        quote_arg(&mut q, b"a\"b\\c\n\r\t\x07\x08\x00\xff ~");
        assert_eq!(q, b"\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x00\\xff ~\"");
    }

    #[test]
    fn resp_len_matches_encoding() {
        let args: Vec<&[u8]> = vec![b"SET", b"key", &[b'v'; 1234]];
        let mut enc = Vec::new();
        encode_command(&mut enc, &args);
        assert_eq!(resp_len(&args), enc.len() as u64);
    }
}
