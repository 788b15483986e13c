//! Newtypes shared by every layer: log offsets and replication ids.
//!
//! A bare `u64` in a public API is an off-by-one waiting to happen; these types say what the
//! number means. Offsets follow Redis: `master_repl_offset` is the end of the log, and a replica
//! asks for the next byte it wants.

use std::fmt;

/// A byte position in the record stream of the replication log. Segment headers are outside the
/// offset space, so the same offset names the same record on every node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogOffset(pub u64);

impl LogOffset {
    pub const ZERO: LogOffset = LogOffset(0);

    pub fn advance(self, bytes: u64) -> LogOffset {
        LogOffset(self.0 + bytes)
    }
}

impl fmt::Display for LogOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A replication id: 40 lowercase hex characters, as Redis uses.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReplId(pub [u8; 40]);

impl ReplId {
    pub const LEN: usize = 40;

    /// A fresh random id. Uses the OS random source through std's hasher seeds plus the clock,
    /// which is enough to make two ids taken on different nodes or restarts differ.
    pub fn random() -> ReplId {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        let mut out = [0u8; 40];
        let hex = b"0123456789abcdef";
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        for chunk in 0..3 {
            let mut h = RandomState::new().build_hasher();
            h.write_u64(nanos ^ chunk);
            h.write_u32(std::process::id());
            let mut v = h.finish();
            for i in 0..16 {
                let idx = chunk as usize * 16 + i;
                if idx < 40 {
                    out[idx] = hex[(v & 0xf) as usize];
                }
                v >>= 4;
            }
        }
        ReplId(out)
    }

    pub fn parse(s: &[u8]) -> Option<ReplId> {
        if s.len() != Self::LEN || !s.iter().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 40];
        out.copy_from_slice(s);
        out.make_ascii_lowercase();
        Some(ReplId(out))
    }

    pub fn as_str(&self) -> &str {
        // Constructed only from ASCII hex digits.
        std::str::from_utf8(&self.0).unwrap_or("<invalid>")
    }
}

impl fmt::Display for ReplId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ReplId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ReplId({})", self.as_str())
    }
}

/// Milliseconds since the Unix epoch, the unit of every expire-at and log timestamp.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_replids_are_hex_and_differ() {
        let a = ReplId::random();
        let b = ReplId::random();
        assert_ne!(a, b);
        assert!(ReplId::parse(&a.0).is_some());
        assert!(ReplId::parse(b"xyz").is_none());
    }
}
