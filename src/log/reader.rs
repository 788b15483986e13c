//! Reading records from any offset, across segments, for recovery, replication and
//! tools/inspect-log.
//!
//! A reader never returns a record that ends past the `limit` its caller gives (the end the
//! writer has published), so it is safe on a live log: the active segment may grow under it.

use std::path::{Path, PathBuf};

use super::segment::{ReadOutcome, Record, RecordFingerprint, SegmentReader};
use super::{list_segments, segment_path, LogError};
use crate::types::LogOffset;

pub struct LogReader {
    dir: PathBuf,
    segments: Vec<LogOffset>,
    idx: usize,
    cur: SegmentReader,
    /// The last call stopped at its limit: bytes buffered past it may be preallocated zeros
    /// the writer has overwritten since.
    at_limit: bool,
    before: Option<RecordFingerprint>,
}

impl LogReader {
    /// Opens a reader positioned at the record that starts at `from`. `from` must be a record
    /// boundary the log holds (or its current end).
    pub fn open(dir: &Path, from: LogOffset) -> Result<LogReader, LogError> {
        let segments = list_segments(dir)?;
        let idx = match segments.iter().rposition(|&b| b <= from) {
            Some(i) => i,
            None => return Err(LogError::OffsetNotInLog { offset: from }),
        };
        let mut cur = SegmentReader::open(&segment_path(dir, segments[idx]), segments[idx])?;
        cur.seek_to(from)?;
        Ok(LogReader {
            dir: dir.to_path_buf(),
            before: cur.passed(),
            segments,
            idx,
            cur,
            at_limit: false,
        })
    }

    /// The record that ends where this reader started, when it is in the same segment (a
    /// reader that starts at a segment's base does not know it).
    pub fn record_before(&self) -> Option<RecordFingerprint> {
        self.before
    }

    /// Offset of the next record.
    pub fn position(&self) -> LogOffset {
        self.cur.next_offset()
    }

    /// The next record if one ends at or before `limit`; `None` when the reader has reached
    /// `limit` (or, on a live log, the bytes past it are not yet written).
    pub fn next(&mut self, limit: LogOffset) -> Result<Option<Record>, LogError> {
        let mut refreshed = false;
        if self.at_limit && self.cur.next_offset() < limit {
            // Caught up last time: read the new records from the file, not from a buffer that
            // may hold the zeros they replaced (which would cost a scan of the zero suffix).
            self.cur.refresh()?;
            self.at_limit = false;
            refreshed = true;
        }
        loop {
            if self.cur.next_offset() >= limit {
                self.at_limit = true;
                return Ok(None);
            }
            match self.cur.read_next()? {
                ReadOutcome::Record(r) => return within(r, limit).map(Some),
                ReadOutcome::End | ReadOutcome::Incomplete { .. } if !refreshed => {
                    // Bytes buffered before the writer reached them (zeros of preallocated
                    // space): look at the file again before deciding anything.
                    refreshed = true;
                    self.cur.refresh()?;
                }
                ReadOutcome::End | ReadOutcome::Incomplete { .. } => {
                    // The current segment is exhausted below `limit`: either it was closed and
                    // the next one holds the rest, or the writer's bytes are not visible yet.
                    if self.idx + 1 >= self.segments.len() {
                        self.segments = list_segments(&self.dir)?;
                    }
                    if self.idx + 1 < self.segments.len() {
                        let next_base = self.segments[self.idx + 1];
                        if next_base != self.cur.next_offset() {
                            return Err(LogError::Gap {
                                path: segment_path(&self.dir, next_base),
                                base: next_base,
                                prev_end: self.cur.next_offset(),
                            });
                        }
                        self.idx += 1;
                        self.cur =
                            SegmentReader::open(&segment_path(&self.dir, next_base), next_base)?;
                        refreshed = false;
                        continue;
                    }
                    self.cur.refresh()?;
                    match self.cur.read_next()? {
                        ReadOutcome::Record(r) => return within(r, limit).map(Some),
                        ReadOutcome::Corrupt { offset, error } => {
                            return Err(LogError::Corrupt {
                                path: self.cur.path().to_path_buf(),
                                offset,
                                error,
                            })
                        }
                        _ => {
                            return Err(LogError::Hole {
                                path: self.cur.path().to_path_buf(),
                                offset: self.cur.next_offset(),
                                reason: format!("log ends before the published end {limit}"),
                            })
                        }
                    }
                }
                ReadOutcome::Corrupt { offset, error } => {
                    return Err(LogError::Corrupt {
                        path: self.cur.path().to_path_buf(),
                        offset,
                        error,
                    })
                }
            }
        }
    }
}

/// `r`, if it ends at or before `limit`. A record past it cannot happen for records the writer
/// published (the limit is a record boundary); be strict anyway.
fn within(r: Record, limit: LogOffset) -> Result<Record, LogError> {
    if r.end() > limit {
        return Err(LogError::NotARecordBoundary {
            offset: limit,
            record: r.offset(),
        });
    }
    Ok(r)
}
