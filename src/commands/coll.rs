//! What every collection command does first and last: find the key's entry, check its type,
//! and write back its metadata (or delete the key when the collection became empty, as Redis
//! does).
//!
//! A [`Coll`] is one collection version: its element keys are `prefix ++ sub-key` in the
//! `elements` space (and `prefix ++ score ++ member` in `scores` for sorted sets).

use bytes::Bytes;

use super::ctx::{View, WriteCtx};
use super::errors::{self, ExecResult};
use crate::protocol::Reply;
use crate::storage::{coll_prefix, prefix_end, CollMeta, Entry, Space, ValueType};

pub struct Coll {
    pub key: Bytes,
    pub kind: ValueType,
    pub meta: CollMeta,
    pub expire_at: u64,
    pub prefix: Vec<u8>,
}

/// `Ok(Err(reply))` carries a WRONGTYPE (or other) reply for the client.
pub type Found<T> = ExecResult<Result<T, Reply>>;

fn from_entry(db: u8, key: &[u8], e: Entry, kind: ValueType) -> Result<Coll, Reply> {
    if e.kind != kind {
        return Err(Reply::err(errors::WRONGTYPE));
    }
    let meta = e
        .coll()
        .ok_or_else(|| Reply::err("ERR corrupt collection metadata"))?;
    Ok(Coll {
        key: Bytes::copy_from_slice(key),
        kind,
        meta,
        expire_at: e.expire_at,
        prefix: coll_prefix(db, key, meta.version),
    })
}

impl Coll {
    /// The collection at `key` for a read; pins the view first so the entry and the elements
    /// read after it are one point in time.
    pub fn read(v: &dyn View, key: &[u8], kind: ValueType) -> Found<Option<Coll>> {
        v.pin();
        Ok(match v.get(key)? {
            None => Ok(None),
            Some(e) => from_entry(v.db(), key, e, kind).map(Some),
        })
    }

    /// The collection at `key` for a write (an expired key is deleted and logged first).
    pub fn open(ctx: &mut WriteCtx, key: &[u8], kind: ValueType) -> Found<Option<Coll>> {
        Ok(match ctx.lookup(key)? {
            None => Ok(None),
            Some(e) => from_entry(ctx.db, key, e, kind).map(Some),
        })
    }

    /// The collection at `key`, or a new empty one with a fresh version (stored by `save`).
    pub fn open_or_create(ctx: &mut WriteCtx, key: &[u8], kind: ValueType) -> Found<Coll> {
        Ok(match Coll::open(ctx, key, kind)? {
            Ok(Some(c)) => Ok(c),
            Ok(None) => Ok(Coll::create(ctx, key, kind)),
            Err(r) => Err(r),
        })
    }

    /// A new empty collection with a fresh version; nothing is stored until `save`.
    pub fn create(ctx: &mut WriteCtx, key: &[u8], kind: ValueType) -> Coll {
        let version = ctx.new_version();
        Coll {
            key: Bytes::copy_from_slice(key),
            kind,
            meta: CollMeta::new(version),
            expire_at: 0,
            prefix: coll_prefix(ctx.db, key, version),
        }
    }

    /// Full element key for `sub`.
    pub fn sub(&self, sub: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + sub.len());
        k.extend_from_slice(&self.prefix);
        k.extend_from_slice(sub);
        k
    }

    /// The sub-key part of a full element key.
    pub fn strip<'k>(&self, full: &'k [u8]) -> &'k [u8] {
        &full[self.prefix.len().min(full.len())..]
    }

    /// Exclusive upper bound of this collection's element keys.
    pub fn end(&self) -> Vec<u8> {
        prefix_end(&self.prefix)
    }

    pub fn get(&self, v: &dyn View, sub: &[u8]) -> ExecResult<Option<Bytes>> {
        v.elem_get(Space::Elements, &self.sub(sub))
    }

    /// Every (sub-key, value) in order; for reads that return the whole collection.
    pub fn all(&self, v: &dyn View) -> ExecResult<Vec<(Bytes, Bytes)>> {
        let mut out = Vec::with_capacity(self.meta.size.min(1 << 16) as usize);
        let plen = self.prefix.len();
        v.elem_scan(
            Space::Elements,
            &self.prefix,
            &self.end(),
            false,
            &mut |k, val| {
                out.push((
                    Bytes::copy_from_slice(&k[plen..]),
                    Bytes::copy_from_slice(val),
                ));
                true
            },
        )?;
        Ok(out)
    }

    pub fn put(&self, ctx: &mut WriteCtx, sub: &[u8], val: Bytes) {
        ctx.elem_put(Space::Elements, self.sub(sub), val);
    }

    pub fn del(&self, ctx: &mut WriteCtx, sub: &[u8]) {
        ctx.elem_del(Space::Elements, self.sub(sub));
    }

    /// Writes the metadata back, or deletes the key when the collection is empty.
    pub fn save(&self, ctx: &mut WriteCtx) -> ExecResult<()> {
        if self.meta.size == 0 {
            ctx.remove(&self.key)?;
            return Ok(());
        }
        let e = Entry {
            kind: self.kind,
            expire_at: self.expire_at,
            value: self.meta.encode(self.kind),
        };
        ctx.put(&self.key, e)
    }
}

/// Redis' rule for a [start, stop] index pair over `len` elements: negative counts from the
/// end; returns the inclusive range clamped to the collection, or None when it is empty.
pub fn clamp_range(start: i64, stop: i64, len: u64) -> Option<(u64, u64)> {
    let len = len as i64;
    let mut s = if start < 0 { len + start } else { start };
    let mut e = if stop < 0 { len + stop } else { stop };
    if s < 0 {
        s = 0;
    }
    if s > e || s >= len {
        return None;
    }
    if e >= len {
        e = len - 1;
    }
    Some((s as u64, e as u64))
}

/// Parses `COUNT n` style positive counts shared by several commands.
pub fn positive_count(b: &[u8]) -> Result<u64, Reply> {
    match super::parse_i64(b) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(Reply::err("ERR value is out of range, must be positive")),
    }
}

/// Small, fast pseudo-random numbers for SRANDMEMBER, HRANDFIELD and friends; the results are
/// logged by effect, so this need not be reproducible.
pub fn random_u64() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(crate::types::now_ms() ^ 0x9e37_79b9_7f4a_7c15);
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(clamp_range(0, -1, 3), Some((0, 2)));
        assert_eq!(clamp_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(clamp_range(2, 1, 3), None);
        assert_eq!(clamp_range(3, 5, 3), None);
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(clamp_range(-2, -1, 3), Some((1, 2)));
    }
}
