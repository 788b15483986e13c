//! The value stored per key in the `data` column family.
//!
//! ```text
//!  0      1                  9
//!  +------+------------------+----------------+
//!  | type | expire-at ms u64 | payload ...    |
//!  | u8   | LE, 0 = no TTL   |                |
//!  +------+------------------+----------------+
//! ```
//!
//! Strings keep their value inline as the payload. Collection types (a later issue) keep a
//! version and element count here and their elements in their own column family.

use bytes::Bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueType {
    String = 0,
}

impl ValueType {
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
        }
    }

    fn from_u8(v: u8) -> Option<ValueType> {
        match v {
            0 => Some(ValueType::String),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub kind: ValueType,
    /// Absolute expire time in ms since the epoch; 0 means no TTL.
    pub expire_at: u64,
    pub value: Bytes,
}

impl Entry {
    pub fn string(value: Bytes, expire_at: u64) -> Entry {
        Entry {
            kind: ValueType::String,
            expire_at,
            value,
        }
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(9 + self.value.len());
        v.push(self.kind as u8);
        v.extend_from_slice(&self.expire_at.to_le_bytes());
        v.extend_from_slice(&self.value);
        v
    }

    pub fn decode(b: &[u8]) -> Option<Entry> {
        if b.len() < 9 {
            return None;
        }
        let kind = ValueType::from_u8(b[0])?;
        let mut at = [0u8; 8];
        at.copy_from_slice(&b[1..9]);
        Some(Entry {
            kind,
            expire_at: u64::from_le_bytes(at),
            value: Bytes::copy_from_slice(&b[9..]),
        })
    }
}
