//! On-disk format of the replication log: segment headers and record framing.
//!
//! Frozen format, version 1. Every integer is fixed-width little-endian. A length is trusted
//! only after a checksum covers it, and an all-zero header never validates (crc32c of zeros is
//! not zero).
//!
//! Segment file `<20-digit base offset>.seg`:
//!
//! ```text
//!  0        8        12       16               24                                64       72     76     80
//!  +--------+--------+--------+----------------+---------------------------------+--------+------+------+
//!  | magic  | version| flags  | base offset    | replid (40 ASCII hex)           |created | crc  | zero |
//!  | 8 B    | u32    | u32    | u64            |                                 |ms u64  | u32  | u32  |
//!  +--------+--------+--------+----------------+---------------------------------+--------+------+------+
//!  crc = crc32c(bytes 0..72)
//! ```
//!
//! Then records back to back. A record:
//!
//! ```text
//!  0            4                  12                 20   21   22     24            28           32
//!  +------------+------------------+------------------+----+----+------+-------------+------------+---------+
//!  | payload len| offset (own      | timestamp ms     | db |kind| zero | payload     | header     | payload |
//!  | u32        | start) u64       | u64              | u8 | u8 | u16  | crc32c u32  | crc32c u32 | ...     |
//!  +------------+------------------+------------------+----+----+------+-------------+------------+---------+
//!  header crc = crc32c(bytes 0..28)
//! ```
//!
//! Offsets count record bytes only: the first record of the log has offset 0 whatever segment
//! headers precede it, so the record stream is byte-identical on every node.
//!
//! Kinds: 1 = commands: the payload is one or more RESP arrays of bulk strings, the normalised
//! write (invariant 5), to be applied in database `db`. A MULTI/EXEC block is one record.
//!
//! Replication streams carry one more frame that never reaches a segment: a heartbeat, a
//! record header with kind 255, payload length 0 and the offset the stream stands at. The
//! master sends it on an idle stream so the replica can tell a quiet master from a dead link.
//!
//! Version changes: 1 (initial).

use crate::types::{LogOffset, ReplId};

pub const SEGMENT_MAGIC: [u8; 8] = *b"DURAKVLG";
pub const FORMAT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_LEN: usize = 80;
pub const RECORD_HEADER_LEN: usize = 32;
/// Largest payload a record may carry. Bounds what a reader allocates on a length it read.
pub const MAX_PAYLOAD_LEN: u32 = 1 << 30;

/// The kinds of record the log knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    Commands = 1,
}

impl RecordKind {
    pub fn from_u8(v: u8) -> Option<RecordKind> {
        match v {
            1 => Some(RecordKind::Commands),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub base: LogOffset,
    pub replid: ReplId,
    pub created_ms: u64,
}

/// Why bytes failed to decode. The caller adds the file and offset.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("bad magic (not a durakv log segment)")]
    BadMagic,
    #[error("unknown format version {0}")]
    UnknownVersion(u32),
    #[error("header checksum mismatch")]
    HeaderChecksum,
    #[error("payload checksum mismatch")]
    PayloadChecksum,
    #[error("record claims offset {claimed} but sits at offset {expected}")]
    OffsetMismatch { claimed: u64, expected: u64 },
    #[error("payload length {0} exceeds the maximum")]
    PayloadTooLarge(u32),
    #[error("unknown record kind {0}")]
    UnknownKind(u8),
    #[error("invalid replid in segment header")]
    BadReplId,
    #[error("segment header claims base {claimed} but file name says {expected}")]
    BaseMismatch { claimed: u64, expected: u64 },
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = [0u8; SEGMENT_HEADER_LEN];
        b[0..8].copy_from_slice(&SEGMENT_MAGIC);
        b[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        // 12..16 flags: zero in version 1
        b[16..24].copy_from_slice(&self.base.0.to_le_bytes());
        b[24..64].copy_from_slice(&self.replid.0);
        b[64..72].copy_from_slice(&self.created_ms.to_le_bytes());
        let crc = crc32c::crc32c(&b[0..72]);
        b[72..76].copy_from_slice(&crc.to_le_bytes());
        b
    }

    pub fn decode(b: &[u8; SEGMENT_HEADER_LEN]) -> Result<SegmentHeader, FormatError> {
        if b[0..8] != SEGMENT_MAGIC {
            return Err(FormatError::BadMagic);
        }
        let crc = u32::from_le_bytes(arr4(&b[72..76]));
        if crc != crc32c::crc32c(&b[0..72]) {
            return Err(FormatError::HeaderChecksum);
        }
        let version = u32::from_le_bytes(arr4(&b[8..12]));
        if version != FORMAT_VERSION {
            return Err(FormatError::UnknownVersion(version));
        }
        let replid = ReplId::parse(&b[24..64]).ok_or(FormatError::BadReplId)?;
        Ok(SegmentHeader {
            base: LogOffset(u64::from_le_bytes(arr8(&b[16..24]))),
            replid,
            created_ms: u64::from_le_bytes(arr8(&b[64..72])),
        })
    }
}

/// A validated record header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub payload_len: u32,
    pub offset: LogOffset,
    pub timestamp_ms: u64,
    pub db: u8,
    pub kind: RecordKind,
    pub payload_crc: u32,
}

impl RecordHeader {
    /// Total bytes of the framed record.
    pub fn record_len(&self) -> u64 {
        RECORD_HEADER_LEN as u64 + self.payload_len as u64
    }

    pub fn end(&self) -> LogOffset {
        self.offset.advance(self.record_len())
    }

    /// Decodes and validates a header. The length is used only after the header checksum
    /// matched.
    pub fn decode(b: &[u8; RECORD_HEADER_LEN]) -> Result<RecordHeader, FormatError> {
        let crc = u32::from_le_bytes(arr4(&b[28..32]));
        if crc != crc32c::crc32c(&b[0..28]) {
            return Err(FormatError::HeaderChecksum);
        }
        let payload_len = u32::from_le_bytes(arr4(&b[0..4]));
        if payload_len > MAX_PAYLOAD_LEN {
            return Err(FormatError::PayloadTooLarge(payload_len));
        }
        let kind = RecordKind::from_u8(b[21]).ok_or(FormatError::UnknownKind(b[21]))?;
        Ok(RecordHeader {
            payload_len,
            offset: LogOffset(u64::from_le_bytes(arr8(&b[4..12]))),
            timestamp_ms: u64::from_le_bytes(arr8(&b[12..20])),
            db: b[20],
            kind,
            payload_crc: u32::from_le_bytes(arr4(&b[24..28])),
        })
    }

    pub fn check_payload(&self, payload: &[u8]) -> Result<(), FormatError> {
        if crc32c::crc32c(payload) != self.payload_crc {
            return Err(FormatError::PayloadChecksum);
        }
        Ok(())
    }
}

/// Appends one framed record to `out`. Returns the record's length in bytes.
pub fn encode_record(
    out: &mut Vec<u8>,
    offset: LogOffset,
    timestamp_ms: u64,
    db: u8,
    kind: RecordKind,
    payload: &[u8],
) -> u64 {
    debug_assert!(payload.len() as u64 <= MAX_PAYLOAD_LEN as u64);
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    h[4..12].copy_from_slice(&offset.0.to_le_bytes());
    h[12..20].copy_from_slice(&timestamp_ms.to_le_bytes());
    h[20] = db;
    h[21] = kind as u8;
    h[24..28].copy_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    let hcrc = crc32c::crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&hcrc.to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    (RECORD_HEADER_LEN + payload.len()) as u64
}

/// Kind byte of a stream heartbeat (never a log record kind).
pub const HEARTBEAT_KIND: u8 = 0xFF;

/// A heartbeat frame for a stream standing at `offset`.
pub fn encode_heartbeat(offset: LogOffset, timestamp_ms: u64) -> [u8; RECORD_HEADER_LEN] {
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[4..12].copy_from_slice(&offset.0.to_le_bytes());
    h[12..20].copy_from_slice(&timestamp_ms.to_le_bytes());
    h[21] = HEARTBEAT_KIND;
    h[24..28].copy_from_slice(&crc32c::crc32c(&[]).to_le_bytes());
    let hcrc = crc32c::crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&hcrc.to_le_bytes());
    h
}

/// The offset a valid heartbeat frame names, or `None` when `h` is not one.
pub fn decode_heartbeat(h: &[u8; RECORD_HEADER_LEN]) -> Option<LogOffset> {
    let crc = u32::from_le_bytes(arr4(&h[28..32]));
    (h[21] == HEARTBEAT_KIND && h[0..4] == [0; 4] && crc == crc32c::crc32c(&h[0..28]))
        .then(|| LogOffset(u64::from_le_bytes(arr8(&h[4..12]))))
}

/// File name of the segment whose first record has offset `base`.
pub fn segment_file_name(base: LogOffset) -> String {
    format!("{:020}.seg", base.0)
}

/// Parses a segment file name back to its base offset.
pub fn parse_segment_file_name(name: &str) -> Option<LogOffset> {
    let stem = name.strip_suffix(".seg")?;
    if stem.len() != 20 || !stem.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().map(LogOffset)
}

fn arr4(s: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    a
}

fn arr8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        encode_record(
            &mut v,
            LogOffset(4096),
            1_700_000_000_000,
            3,
            RecordKind::Commands,
            b"*1\r\n$4\r\nPING\r\n",
        );
        v
    }

    fn decode_all(b: &[u8]) -> Result<RecordHeader, FormatError> {
        if b.len() < RECORD_HEADER_LEN {
            return Err(FormatError::HeaderChecksum);
        }
        let mut h = [0u8; RECORD_HEADER_LEN];
        h.copy_from_slice(&b[..RECORD_HEADER_LEN]);
        let hdr = RecordHeader::decode(&h)?;
        let end = RECORD_HEADER_LEN + hdr.payload_len as usize;
        if b.len() < end {
            return Err(FormatError::PayloadChecksum);
        }
        hdr.check_payload(&b[RECORD_HEADER_LEN..end])?;
        Ok(hdr)
    }

    #[test]
    fn heartbeats_are_recognised_and_never_decode_as_records() {
        let h = encode_heartbeat(LogOffset(77), 5);
        assert_eq!(decode_heartbeat(&h), Some(LogOffset(77)));
        assert!(RecordHeader::decode(&h).is_err());
        let mut rec = [0u8; RECORD_HEADER_LEN];
        rec.copy_from_slice(&sample()[..RECORD_HEADER_LEN]);
        assert_eq!(decode_heartbeat(&rec), None);
        for i in 0..RECORD_HEADER_LEN {
            let mut c = h;
            c[i] ^= 0x04;
            assert_ne!(
                decode_heartbeat(&c),
                Some(LogOffset(77)),
                "flip of byte {i}"
            );
        }
    }

    #[test]
    fn record_round_trips() {
        let v = sample();
        let h = decode_all(&v).expect("valid record");
        assert_eq!(h.offset, LogOffset(4096));
        assert_eq!(h.db, 3);
        assert_eq!(h.kind, RecordKind::Commands);
        assert_eq!(h.end(), LogOffset(4096 + v.len() as u64));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let v = sample();
        for i in 0..v.len() {
            for bit in [0x01u8, 0x80] {
                let mut c = v.clone();
                c[i] ^= bit;
                // Reserved bytes 22..24 are covered by the header checksum too.
                assert!(
                    decode_all(&c).is_err(),
                    "flip of byte {i} bit {bit:#x} undetected"
                );
            }
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let v = sample();
        for len in 0..v.len() {
            assert!(
                decode_all(&v[..len]).is_err(),
                "truncation to {len} undetected"
            );
        }
    }

    #[test]
    fn all_zero_header_never_validates() {
        let z = [0u8; RECORD_HEADER_LEN];
        assert_eq!(RecordHeader::decode(&z), Err(FormatError::HeaderChecksum));
        let zs = [0u8; SEGMENT_HEADER_LEN];
        assert!(SegmentHeader::decode(&zs).is_err());
    }

    #[test]
    fn segment_header_round_trips_and_detects_flips() {
        let h = SegmentHeader {
            base: LogOffset(123_456_789),
            replid: ReplId::random(),
            created_ms: 42,
        };
        let b = h.encode();
        assert_eq!(SegmentHeader::decode(&b), Ok(h));
        for i in 0..76 {
            let mut c = b;
            c[i] ^= 0x04;
            assert!(
                SegmentHeader::decode(&c).is_err(),
                "flip of byte {i} undetected"
            );
        }
    }

    #[test]
    fn segment_names_sort_by_offset() {
        assert_eq!(
            segment_file_name(LogOffset(123456789)),
            "00000000000123456789.seg"
        );
        assert_eq!(
            parse_segment_file_name("00000000000123456789.seg"),
            Some(LogOffset(123456789))
        );
        assert_eq!(parse_segment_file_name("123.seg"), None);
        assert_eq!(parse_segment_file_name("00000000000123456789.tmp"), None);
    }
}
