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
//! Strings keep their value inline as the payload. Collections keep a [`CollMeta`] here
//! (version, element count, and for lists the head and tail positions) and their elements in
//! the `elements` and `scores` column families.

use bytes::Bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueType {
    String = 0,
    Hash = 1,
    List = 2,
    Set = 3,
    ZSet = 4,
}

impl ValueType {
    /// The name TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Hash => "hash",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
        }
    }

    fn from_u8(v: u8) -> Option<ValueType> {
        Some(match v {
            0 => ValueType::String,
            1 => ValueType::Hash,
            2 => ValueType::List,
            3 => ValueType::Set,
            4 => ValueType::ZSet,
            _ => return None,
        })
    }

    pub fn is_collection(self) -> bool {
        self != ValueType::String
    }
}

/// A collection's payload in its `data` entry.
///
/// ```text
///  0              8              16             24             32
///  +--------------+--------------+--------------+--------------+
///  | version u64  | size u64     | head u64     | tail u64     |   all LE; head/tail
///  +--------------+--------------+--------------+--------------+   only for lists
/// ```
///
/// List elements live at positions `head..tail`; pushes move head down or tail up, so both
/// ends are O(1). A new list starts in the middle of the u64 range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CollMeta {
    pub version: u64,
    pub size: u64,
    pub head: u64,
    pub tail: u64,
}

pub const LIST_MIDDLE: u64 = 1 << 63;

impl CollMeta {
    pub fn new(version: u64) -> CollMeta {
        CollMeta {
            version,
            size: 0,
            head: LIST_MIDDLE,
            tail: LIST_MIDDLE,
        }
    }

    pub fn encode(&self, kind: ValueType) -> Bytes {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(&self.version.to_le_bytes());
        v.extend_from_slice(&self.size.to_le_bytes());
        if kind == ValueType::List {
            v.extend_from_slice(&self.head.to_le_bytes());
            v.extend_from_slice(&self.tail.to_le_bytes());
        }
        Bytes::from(v)
    }

    pub fn decode(b: &[u8]) -> Option<CollMeta> {
        let word = |i: usize| -> Option<u64> {
            let s = b.get(i * 8..i * 8 + 8)?;
            Some(u64::from_le_bytes(s.try_into().ok()?))
        };
        Some(CollMeta {
            version: word(0)?,
            size: word(1)?,
            head: word(2).unwrap_or(LIST_MIDDLE),
            tail: word(3).unwrap_or(LIST_MIDDLE),
        })
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

    /// The collection metadata of a non-string entry.
    pub fn coll(&self) -> Option<CollMeta> {
        if self.kind.is_collection() {
            CollMeta::decode(&self.value)
        } else {
            None
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
