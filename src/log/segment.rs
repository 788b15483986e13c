//! Reading one segment file record by record, and telling a torn tail from corruption.
//!
//! The active segment is preallocated: zero bytes follow its last record (see [`super::Log`]),
//! so "the end of the written data" is either the end of the file or the start of an all-zero
//! suffix. The classification rules (invariant 6: nothing silently lost):
//! - nothing left, or only zero bytes from a record boundary on: `End`;
//! - fewer than a header's bytes left, or a valid header whose payload runs past the end of the
//!   file: `Incomplete` (a write in progress, or torn by a crash);
//! - an invalid header with only zero bytes after it (its own last bytes never written):
//!   `Incomplete`;
//! - a valid header whose payload checksum fails, with nothing but zero bytes after the record:
//!   `Incomplete` (the last write was torn);
//! - anything else that fails to validate is `Corrupt`, with the offset of the damaged record.
//!   That includes an all-zero header with data after it: a zeroed hole before written data
//!   cannot be told from damage, so start-up stops rather than guess.
//!
//! Only the owner of the log decides what an `Incomplete` means: recovery truncates it in the
//! last segment, a live reader waits for more bytes, and anywhere else it is corruption.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::format::{
    FormatError, RecordHeader, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN,
};
use super::LogError;
use crate::types::LogOffset;

/// One record as stored: the framed bytes (header + payload) and the decoded header.
#[derive(Clone, Debug)]
pub struct Record {
    pub header: RecordHeader,
    pub bytes: Vec<u8>,
}

impl Record {
    pub fn payload(&self) -> &[u8] {
        &self.bytes[RECORD_HEADER_LEN..]
    }

    pub fn offset(&self) -> LogOffset {
        self.header.offset
    }

    pub fn end(&self) -> LogOffset {
        self.header.end()
    }
}

/// What reading the next record found.
#[derive(Debug)]
pub enum ReadOutcome {
    Record(Record),
    /// The file ends exactly at a record boundary.
    End,
    /// The bytes from this offset on do not (yet) form a whole record.
    Incomplete {
        offset: LogOffset,
        reason: String,
    },
    /// A record that cannot be trusted, with more data after it.
    Corrupt {
        offset: LogOffset,
        error: FormatError,
    },
}

/// Sequential reader over one segment file.
pub struct SegmentReader {
    path: PathBuf,
    file: BufReader<File>,
    header: SegmentHeader,
    /// File position of the next record.
    pos: u64,
    /// Offset of the next record.
    next: LogOffset,
    file_len: u64,
    /// The last record [`SegmentReader::seek_to`] skipped (the one ending where it stopped).
    passed: Option<RecordFingerprint>,
}

/// What identifies a record beyond its offset: its payload checksum and its timestamp. Two
/// logs whose records at the same offset differ in these have different histories.
pub type RecordFingerprint = (u32, u64);

impl SegmentReader {
    /// Opens a segment and validates its header against the base offset in its name.
    pub fn open(path: &Path, expected_base: LogOffset) -> Result<SegmentReader, LogError> {
        let file = File::open(path).map_err(|e| LogError::io("open segment", path, e))?;
        let file_len = file
            .metadata()
            .map_err(|e| LogError::io("stat segment", path, e))?
            .len();
        let mut file = BufReader::with_capacity(256 * 1024, file);
        if file_len < SEGMENT_HEADER_LEN as u64 {
            return Err(LogError::BadSegmentHeader {
                path: path.to_path_buf(),
                error: format!("file is {file_len} bytes, shorter than a segment header"),
            });
        }
        let mut hb = [0u8; SEGMENT_HEADER_LEN];
        file.read_exact(&mut hb)
            .map_err(|e| LogError::io("read segment header", path, e))?;
        let header = SegmentHeader::decode(&hb).map_err(|e| LogError::BadSegmentHeader {
            path: path.to_path_buf(),
            error: e.to_string(),
        })?;
        if header.base != expected_base {
            return Err(LogError::BadSegmentHeader {
                path: path.to_path_buf(),
                error: FormatError::BaseMismatch {
                    claimed: header.base.0,
                    expected: expected_base.0,
                }
                .to_string(),
            });
        }
        Ok(SegmentReader {
            path: path.to_path_buf(),
            file,
            next: header.base,
            header,
            pos: SEGMENT_HEADER_LEN as u64,
            file_len,
            passed: None,
        })
    }

    /// The record ending where [`SegmentReader::seek_to`] stopped, if it skipped any.
    pub fn passed(&self) -> Option<RecordFingerprint> {
        self.passed
    }

    pub fn header(&self) -> &SegmentHeader {
        &self.header
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Offset of the next record this reader would return.
    pub fn next_offset(&self) -> LogOffset {
        self.next
    }

    /// File position of the next record.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Re-reads the file length and drops buffered bytes past the current record, so a reader
    /// of the active segment sees records written since: in preallocated space the buffer may
    /// hold the zeros those records have since replaced.
    pub fn refresh(&mut self) -> Result<(), LogError> {
        self.file_len = self
            .file
            .get_ref()
            .metadata()
            .map_err(|e| LogError::io("stat segment", &self.path, e))?
            .len();
        self.file
            .seek(SeekFrom::Start(self.pos))
            .map_err(|e| LogError::io("seek segment", &self.path, e))?;
        Ok(())
    }

    /// Skips forward to the record starting at `target`, validating every record on the way.
    pub fn seek_to(&mut self, target: LogOffset) -> Result<(), LogError> {
        while self.next < target {
            match self.read_next()? {
                ReadOutcome::Record(r) if r.end() <= target => {
                    self.passed = Some((r.header.payload_crc, r.header.timestamp_ms));
                }
                ReadOutcome::Record(r) => {
                    return Err(LogError::NotARecordBoundary {
                        offset: target,
                        record: r.offset(),
                    })
                }
                ReadOutcome::End | ReadOutcome::Incomplete { .. } => {
                    return Err(LogError::OffsetNotInLog { offset: target })
                }
                ReadOutcome::Corrupt { offset, error } => {
                    return Err(LogError::Corrupt {
                        path: self.path.clone(),
                        offset,
                        error,
                    })
                }
            }
        }
        Ok(())
    }

    /// Reads the next record and classifies whatever stops it.
    pub fn read_next(&mut self) -> Result<ReadOutcome, LogError> {
        let remaining = self.file_len.saturating_sub(self.pos);
        if remaining == 0 {
            return Ok(ReadOutcome::End);
        }
        let at = self.next;
        if remaining < RECORD_HEADER_LEN as u64 {
            if self.rest_is_zero(remaining)? {
                // Preallocated zeros up to the segment's size, fewer than a header.
                return Ok(ReadOutcome::End);
            }
            return Ok(ReadOutcome::Incomplete {
                offset: at,
                reason: format!("{remaining} bytes left, less than a record header"),
            });
        }
        let mut hb = [0u8; RECORD_HEADER_LEN];
        self.file
            .read_exact(&mut hb)
            .map_err(|e| LogError::io("read record header", &self.path, e))?;
        let header = match RecordHeader::decode(&hb) {
            Ok(h) => h,
            Err(error) => {
                let rest_zero = self.rest_is_zero(remaining - hb.len() as u64)?;
                self.rewind(hb.len() as u64)?;
                if rest_zero && hb.iter().all(|&b| b == 0) {
                    // Preallocated space the writer has not reached.
                    return Ok(ReadOutcome::End);
                }
                // Only a header that fails its checksum can be one cut short by a crash; one
                // whose checksum holds was written whole, so an unknown kind or an oversized
                // length in it is damage (or a newer format), never a torn tail to cut off.
                if rest_zero && matches!(error, FormatError::HeaderChecksum) {
                    return Ok(ReadOutcome::Incomplete {
                        offset: at,
                        reason: "a record header whose last bytes were never written".to_string(),
                    });
                }
                return Ok(ReadOutcome::Corrupt { offset: at, error });
            }
        };
        if header.offset != at {
            self.rewind(hb.len() as u64)?;
            return Ok(ReadOutcome::Corrupt {
                offset: at,
                error: FormatError::OffsetMismatch {
                    claimed: header.offset.0,
                    expected: at.0,
                },
            });
        }
        if header.record_len() > remaining {
            self.rewind(hb.len() as u64)?;
            return Ok(ReadOutcome::Incomplete {
                offset: at,
                reason: format!(
                    "record of {} bytes but only {remaining} bytes left",
                    header.record_len()
                ),
            });
        }
        let mut bytes = Vec::with_capacity(header.record_len() as usize);
        bytes.extend_from_slice(&hb);
        bytes.resize(header.record_len() as usize, 0);
        self.file
            .read_exact(&mut bytes[RECORD_HEADER_LEN..])
            .map_err(|e| LogError::io("read record payload", &self.path, e))?;
        if let Err(error) = header.check_payload(&bytes[RECORD_HEADER_LEN..]) {
            let is_last = self.rest_is_zero(remaining - header.record_len())?;
            self.rewind(bytes.len() as u64)?;
            if is_last {
                return Ok(ReadOutcome::Incomplete {
                    offset: at,
                    reason: "the last record's payload checksum does not match".to_string(),
                });
            }
            return Ok(ReadOutcome::Corrupt { offset: at, error });
        }
        self.pos += header.record_len();
        self.next = header.end();
        Ok(ReadOutcome::Record(Record { header, bytes }))
    }

    fn rest_is_zero(&mut self, mut left: u64) -> Result<bool, LogError> {
        let mut buf = [0u8; 8192];
        let mut consumed = 0u64;
        let mut zero = true;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            self.file
                .read_exact(&mut buf[..n])
                .map_err(|e| LogError::io("read segment tail", &self.path, e))?;
            consumed += n as u64;
            left -= n as u64;
            if buf[..n].iter().any(|&b| b != 0) {
                zero = false;
                break;
            }
        }
        self.rewind(consumed)?;
        Ok(zero)
    }

    fn rewind(&mut self, by: u64) -> Result<(), LogError> {
        self.file
            .seek_relative(-(by as i64))
            .map_err(|e| LogError::io("seek segment", &self.path, e))
    }
}
