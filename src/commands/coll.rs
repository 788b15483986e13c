//! What every collection command does first and last: find the key's entry, check its type,
//! and write back its metadata (or delete the key when the collection became empty, as Redis
//! does).
//!
//! A [`Coll`] is one collection version: its element keys are `prefix ++ sub-key` in the
//! `elements` space (and `prefix ++ score ++ member` in `scores` for sorted sets).

use bytes::Bytes;

use super::ctx::{View, WriteCtx};
use super::errors::{self, ExecResult};
use super::{eq_ignore_case, parse_i64};
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

/// The collection an entry already read holds (WRONGTYPE if it is another type).
pub fn from_entry(db: u8, key: &[u8], e: Entry, kind: ValueType) -> Result<Coll, Reply> {
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

/// Copies the value `e` of `src` (in the current database) to `dst` in database `dst_db`:
/// strings as they are, collections element by element under a fresh version (O(N); the
/// element keys carry the key name). Returns the entry to store at `dst`.
pub fn copy_value(
    ctx: &mut WriteCtx,
    src: &[u8],
    e: &Entry,
    dst_db: u8,
    dst: &[u8],
) -> ExecResult<Entry> {
    let Some(meta) = e.coll() else {
        return Ok(e.clone());
    };
    let from = coll_prefix(ctx.db, src, meta.version);
    let version = ctx.new_version();
    let to = coll_prefix(dst_db, dst, version);
    let end = prefix_end(&from);
    for &space in Space::used_by(e.kind) {
        let mut items = Vec::new();
        ctx.elem_scan(space, &from, &end, false, &mut |k, v| {
            items.push((k[from.len()..].to_vec(), Bytes::copy_from_slice(v)));
            true
        })?;
        for (sub, v) in items {
            let mut k = to.clone();
            k.extend_from_slice(&sub);
            ctx.elem_put(space, k, v);
        }
    }
    Ok(Entry {
        kind: e.kind,
        expire_at: e.expire_at,
        value: CollMeta { version, ..meta }.encode(e.kind),
    })
}

/// One HSCAN/SSCAN/ZSCAN step over the collection at `key` from the full element key `from`
/// (empty: the start): up to `count` elements visited, the matching ones as reply items, and
/// the element key to continue from. A cursor from an older version of the key ends the scan.
#[allow(clippy::type_complexity)]
pub fn scan_elements(
    v: &dyn View,
    key: &[u8],
    kind: ValueType,
    from: &[u8],
    count: usize,
    pattern: Option<&[u8]>,
    novalues: bool,
) -> Found<(Vec<Reply>, Option<Vec<u8>>)> {
    let c = match Coll::read(v, key, kind)? {
        Ok(Some(c)) => c,
        Ok(None) => return Ok(Ok((Vec::new(), None))),
        Err(r) => return Ok(Err(r)),
    };
    let start = if from.is_empty() {
        c.prefix.clone()
    } else if from.starts_with(&c.prefix) {
        from.to_vec()
    } else {
        return Ok(Ok((Vec::new(), None)));
    };
    let plen = c.prefix.len();
    let mut out = Vec::new();
    let mut visited = 0;
    let mut next = None;
    v.elem_scan(Space::Elements, &start, &c.end(), false, &mut |k, val| {
        if visited >= count {
            next = Some(k.to_vec());
            return false;
        }
        visited += 1;
        let sub = &k[plen..];
        if pattern.is_some_and(|p| !super::glob::matches(p, sub, false)) {
            return true;
        }
        out.push(Reply::Bulk(Bytes::copy_from_slice(sub)));
        match kind {
            ValueType::Hash if !novalues => out.push(Reply::Bulk(Bytes::copy_from_slice(val))),
            ValueType::ZSet => {
                let score = val
                    .try_into()
                    .map(|b: [u8; 8]| f64::from_bits(u64::from_be_bytes(b)))
                    .unwrap_or(0.0);
                out.push(Reply::bulk(crate::protocol::format_double(score)));
            }
            _ => {}
        }
        true
    })?;
    Ok(Ok((out, next)))
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

/// `n` distinct random elements of `c` (sub-key, value), or all of them when `n >= size`.
///
/// - up to 1024 elements, or when `n` is a quarter of the size or more: read whole, sampled
///   uniformly;
/// - up to [`STREAM_SAMPLE_MAX`] elements: `n` distinct random ranks, picked in one pass over
///   the collection (uniform; O(size) iterator steps but only `n` elements kept);
/// - larger: random seeks between the first and last sub-key (O(n) seeks; roughly uniform, as
///   Redis' own sampling of large sets is), topped up by a rank pass if the seeks found fewer
///   than `n` distinct elements.
pub fn sample(v: &dyn View, c: &Coll, n: u64) -> ExecResult<Vec<(Bytes, Bytes)>> {
    let n = n.min(c.meta.size);
    if n == 0 {
        return Ok(Vec::new());
    }
    if c.meta.size <= 1024 || n.saturating_mul(4) >= c.meta.size {
        let all = c.all(v)?;
        return Ok(pick_random(all, n as i64));
    }
    let mut picked = std::collections::BTreeMap::new();
    if c.meta.size > STREAM_SAMPLE_MAX {
        seek_sample(v, c, n, &mut picked)?;
    }
    if (picked.len() as u64) < n {
        rank_sample(v, c, n - picked.len() as u64, &mut picked)?;
    }
    Ok(picked.into_iter().collect())
}

/// `n` elements drawn independently and uniformly (SRANDMEMBER with a negative count): the
/// ranks hit are drawn first; given how many distinct ones there are, which elements they are
/// is a uniform sample of that size, so a large collection is not read whole.
pub fn sample_with_repeats(v: &dyn View, c: &Coll, n: u64) -> ExecResult<Vec<(Bytes, Bytes)>> {
    if n == 0 || c.meta.size == 0 {
        return Ok(Vec::new());
    }
    if c.meta.size <= 1024 || n.saturating_mul(4) >= c.meta.size {
        return Ok(pick_random(c.all(v)?, -(n.min(i64::MAX as u64) as i64)));
    }
    let mut hits: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for _ in 0..n {
        *hits.entry(random_u64() % c.meta.size).or_default() += 1;
    }
    let distinct = sample(v, c, hits.len() as u64)?;
    let mut out = Vec::with_capacity(n as usize);
    for (e, times) in distinct.into_iter().zip(hits.into_values()) {
        out.extend(std::iter::repeat_n(e, times as usize));
    }
    // Fisher-Yates: the repeats of one element are not next to each other.
    for i in (1..out.len()).rev() {
        out.swap(i, (random_u64() % (i as u64 + 1)) as usize);
    }
    Ok(out)
}

/// Collections larger than this are sampled by seeking instead of one pass.
const STREAM_SAMPLE_MAX: u64 = 1 << 18;

/// Adds `want` more distinct elements, chosen by uniformly drawn ranks, in one pass.
fn rank_sample(
    v: &dyn View,
    c: &Coll,
    want: u64,
    picked: &mut std::collections::BTreeMap<Bytes, Bytes>,
) -> ExecResult<()> {
    let size = c.meta.size;
    let mut ranks = std::collections::BTreeSet::new();
    while (ranks.len() as u64) < want.min(size) {
        ranks.insert(random_u64() % size);
    }
    let plen = c.prefix.len();
    let mut rank = 0u64;
    let mut owed = 0u64;
    let mut added = 0u64;
    v.elem_scan(
        Space::Elements,
        &c.prefix,
        &c.end(),
        false,
        &mut |k, val| {
            if ranks.remove(&rank) {
                owed += 1;
            }
            rank += 1;
            if owed > 0 {
                let sub = Bytes::copy_from_slice(&k[plen..]);
                if let std::collections::btree_map::Entry::Vacant(e) = picked.entry(sub) {
                    e.insert(Bytes::copy_from_slice(val));
                    owed -= 1;
                    added += 1;
                }
            }
            added < want
        },
    )?;
    Ok(())
}

/// Random seeks past the members' common prefix; may find fewer than `n`.
fn seek_sample(
    v: &dyn View,
    c: &Coll,
    n: u64,
    picked: &mut std::collections::BTreeMap<Bytes, Bytes>,
) -> ExecResult<()> {
    let end = c.end();
    let plen = c.prefix.len();
    let edge = |reverse: bool| -> ExecResult<Vec<u8>> {
        let mut at = Vec::new();
        v.elem_scan(Space::Elements, &c.prefix, &end, reverse, &mut |k, _| {
            at = k[plen..].to_vec();
            false
        })?;
        Ok(at)
    };
    let (first, last) = (edge(false)?, edge(true)?);
    // Members often share a long prefix ("user:000123"): draw the random point in the 8 bytes
    // after the part the first and last member have in common.
    let common = first.iter().zip(&last).take_while(|(a, b)| a == b).count();
    let (lo, hi) = (word(&first[common..]), word(&last[common..]));
    let mut tries = 0;
    while (picked.len() as u64) < n && tries < n * 4 + 16 {
        tries += 1;
        let r = lo + random_u64() % (hi - lo).saturating_add(1).max(1);
        let mut from = c.prefix.clone();
        from.extend_from_slice(&first[..common]);
        from.extend_from_slice(&r.to_be_bytes());
        let mut hit = None;
        for (a, b) in [(&from[..], &end[..]), (&c.prefix[..], &from[..])] {
            v.elem_scan(Space::Elements, a, b, false, &mut |k, val| {
                hit = Some((
                    Bytes::copy_from_slice(&k[plen..]),
                    Bytes::copy_from_slice(val),
                ));
                false
            })?;
            if hit.is_some() {
                break;
            }
        }
        if let Some((k, val)) = hit {
            picked.insert(k, val);
        }
    }
    Ok(())
}

/// The first 8 bytes of `b` as a big-endian number (zero-padded).
fn word(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

/// Picks `count` entries as Redis' HRANDFIELD/SRANDMEMBER/ZRANDMEMBER do: a positive count
/// gives distinct entries (all of them when count >= size), a negative one may repeat.
pub fn pick_random<T: Clone>(mut all: Vec<T>, count: i64) -> Vec<T> {
    if all.is_empty() {
        return all;
    }
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        return (0..n)
            .map(|_| all[(random_u64() % all.len() as u64) as usize].clone())
            .collect();
    }
    let n = count as usize;
    if n >= all.len() {
        return all;
    }
    // Partial Fisher-Yates: the first n slots become a uniform sample.
    for i in 0..n {
        let j = i + (random_u64() % (all.len() - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(n);
    all
}

/// Parses the optional `count [WITHVALUES|WITHSCORES]` tail of the RAND* commands.
/// Most elements a negative count of SRANDMEMBER, HRANDFIELD or ZRANDMEMBER returns.
const MAX_REPEATED_DRAWS: i64 = 1 << 24;

pub fn rand_args(args: &[Bytes], with: &str) -> Result<(Option<i64>, bool), Reply> {
    if args.len() == 2 {
        return Ok((None, false));
    }
    // SRANDMEMBER takes no option and looks at the argument count first; HRANDFIELD and
    // ZRANDMEMBER parse the count before the option (Redis 7.0's order of errors).
    if with.is_empty() && args.len() > 3 {
        return Err(Reply::err(errors::SYNTAX));
    }
    let n = parse_i64(&args[2]).ok_or_else(|| Reply::err(errors::NOT_INTEGER))?;
    if n == i64::MIN {
        return Err(Reply::err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_flag = match &args[3..] {
        [] => false,
        [flag] if eq_ignore_case(flag, with) => true,
        _ => return Err(Reply::err(errors::SYNTAX)),
    };
    // Only with the option: the reply has two items per element.
    if with_flag && n.unsigned_abs() > (i64::MAX as u64) / 2 {
        return Err(Reply::err("ERR value is out of range"));
    }
    // A negative count repeats elements as often as asked. Redis streams such a reply; here
    // it is built whole, so a count that could not fit in memory is refused instead of
    // aborting the server.
    if n < -MAX_REPEATED_DRAWS {
        return Err(Reply::err("ERR value is out of range"));
    }
    Ok((Some(n), with_flag))
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
