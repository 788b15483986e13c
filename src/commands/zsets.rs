//! Sorted-set commands.
//!
//! A sorted set is a [`Coll`] of kind `ZSet` whose elements live in two spaces:
//!
//! ```text
//!  elements: prefix ++ member                     -> score (f64 bits, u64 BE)
//!  scores:   prefix ++ score_key(score) ++ member -> empty
//! ```
//!
//! The `elements` map answers ZSCORE, ZMSCORE and the "is it there, with which score" question
//! of ZADD/ZREM with one point read. The `scores` index is ordered as Redis orders a sorted set
//! (score, then member bytes) because [`score_key`] is an order-preserving encoding of the
//! double, so every range command is a bounded RocksDB scan. Every score change deletes the old
//! index key, puts the new one and rewrites the member's score; `meta.size` is kept exact, and
//! the key disappears when the last member goes (`Coll::save`).
//!
//! Costs (n = size, k = elements returned or removed):
//! - ZADD, ZINCRBY, ZREM, ZSCORE, ZMSCORE: O(1) RocksDB operations per member.
//! - ZRANK/ZREVRANK: one point read of the score, then the rank blocks (the `ranks` space, see
//!   [`blocks`]): the counts of the blocks before the member's block are summed and the walk
//!   inside its block is at most 1024 steps: O(n / 1024 + 1024) iterator steps.
//! - ZRANGE by rank and ZREMRANGEBYRANK: the rank blocks find the start, O(n / 1024 + 1024 + k).
//! - ZADD of a new member and ZREM: one more seek and write for the member's block count; a
//!   block that reaches 1025 keys is split at its middle (a walk of 512 keys).
//! - BYSCORE ranges: a seek to `score_key(min)` (or, reversed, to the end of `max`'s scores);
//!   exclusive bounds skip the equal scores; O(offset + k). ZCOUNT walks its range: O(count).
//! - BYLEX ranges (meaningful only when all scores are equal, as in Redis): a seek to
//!   `score_key(first score) ++ min`, then a walk comparing members; ZLEXCOUNT is O(count).
//! - ZUNION/ZINTER/ZDIFF and their STORE forms read their sources whole (ZINTER walks the
//!   smallest source and point-reads the others). Sources may be sets: a member scores 1.
//!
//! Logged by effect: ZADD (any options, INCR included) and ZINCRBY log `ZADD key score member
//! ...` with the absolute resulting scores of the members they changed; removals and pops
//! (ZREM, ZREMRANGEBY*, ZPOPMIN/MAX, BZPOP*, ZMPOP, BZMPOP) log `ZREM key member ...`; the
//! STORE commands log `DEL dest` (when dest existed) followed by `ZADD dest score member ...`
//! in chunks, which replays to the same members and scores and no TTL, as Redis leaves it.
//! Scores in the log use the shortest form that reads back to the same double.

use std::collections::HashMap;

use bytes::Bytes;

use super::coll::{clamp_range, pick_random, positive_count, rand_args, Coll};
use super::ctx::{parse_timeout, Block, View, WriteCtx};
use super::errors::{self, ExecResult};

use super::{
    eq_ignore_case, float_arg, int_arg, parse_i64, CommandSpec, Exec, R, RF, WD, WF, W_POP_MOVABLE,
};
use crate::cmd;
use crate::protocol::format_double;
use crate::protocol::Reply;
use crate::storage::{prefix_end, Space, ValueType};
use crate::try_reply;

const ZSET: ValueType = ValueType::ZSet;

const ERR_NX_XX: &str = "ERR XX and NX options at the same time are not compatible";
const ERR_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const ERR_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";
const ERR_SCORE_RANGE: &str = "ERR min or max is not a float";
const ERR_LEX_RANGE: &str = "ERR min or max not valid string range item";
const ERR_LIMIT_RANK: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const ERR_WITHSCORES_LEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
const ERR_WEIGHT: &str = "ERR weight value is not a float";
const ERR_INTERCARD_LIMIT: &str = "ERR LIMIT can't be negative";
const ERR_NUMKEYS: &str = "ERR numkeys should be greater than 0";
const ERR_COUNT: &str = "ERR count should be greater than 0";

/// Pairs per logged ZADD of a STORE command's result.
const LOG_CHUNK_PAIRS: usize = 512;

const WRITE: &[&str] = &["write"];
const W_MOVABLE: &[&str] = &["write", "denyoom", "movablekeys"];
const R_MOVABLE: &[&str] = &["readonly", "movablekeys"];
const W_BLOCKING: &[&str] = &["write", "noscript", "blocking", "fast"];
const W_BLOCKING_MOVABLE: &[&str] = &["write", "blocking", "movablekeys"];

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("zadd", -4, WF, 1, 1, 1, Exec::Write(zadd)),
    cmd!("zincrby", 4, WF, 1, 1, 1, Exec::Write(zincrby)),
    cmd!("zrem", -3, WD, 1, 1, 1, Exec::Write(zrem)),
    cmd!("zscore", 3, RF, 1, 1, 1, Exec::Read(zscore)),
    cmd!("zmscore", -3, RF, 1, 1, 1, Exec::Read(zmscore)),
    cmd!("zcard", 2, RF, 1, 1, 1, Exec::Read(zcard)),
    cmd!("zcount", 4, RF, 1, 1, 1, Exec::Read(zcount)),
    cmd!("zlexcount", 4, RF, 1, 1, 1, Exec::Read(zlexcount)),
    cmd!("zrange", -4, R, 1, 1, 1, Exec::Read(zrange)),
    cmd!("zrangebyscore", -4, R, 1, 1, 1, Exec::Read(zrangebyscore)),
    cmd!(
        "zrevrangebyscore",
        -4,
        R,
        1,
        1,
        1,
        Exec::Read(zrevrangebyscore)
    ),
    cmd!("zrangebylex", -4, R, 1, 1, 1, Exec::Read(zrangebylex)),
    cmd!("zrevrangebylex", -4, R, 1, 1, 1, Exec::Read(zrevrangebylex)),
    cmd!("zrevrange", -4, R, 1, 1, 1, Exec::Read(zrevrange)),
    cmd!("zrank", -3, RF, 1, 1, 1, Exec::Read(zrank)),
    cmd!("zrevrank", -3, RF, 1, 1, 1, Exec::Read(zrevrank)),
    cmd!(
        "zremrangebyrank",
        4,
        WRITE,
        1,
        1,
        1,
        Exec::Write(zremrangebyrank)
    ),
    cmd!(
        "zremrangebyscore",
        4,
        WRITE,
        1,
        1,
        1,
        Exec::Write(zremrangebyscore)
    ),
    cmd!(
        "zremrangebylex",
        4,
        WRITE,
        1,
        1,
        1,
        Exec::Write(zremrangebylex)
    ),
    cmd!("zpopmin", -2, WD, 1, 1, 1, Exec::Write(zpopmin)),
    cmd!("zpopmax", -2, WD, 1, 1, 1, Exec::Write(zpopmax)),
    cmd!("bzpopmin", -3, W_BLOCKING, 1, -2, 1, Exec::Write(bzpopmin)),
    cmd!("bzpopmax", -3, W_BLOCKING, 1, -2, 1, Exec::Write(bzpopmax)),
    cmd!("zrandmember", -2, R, 1, 1, 1, Exec::Read(zrandmember)),
    cmd!(
        "zunionstore",
        -4,
        W_MOVABLE,
        1,
        1,
        1,
        Exec::Write(zunionstore)
    ),
    cmd!(
        "zinterstore",
        -4,
        W_MOVABLE,
        1,
        1,
        1,
        Exec::Write(zinterstore)
    ),
    cmd!(
        "zdiffstore",
        -4,
        W_MOVABLE,
        1,
        1,
        1,
        Exec::Write(zdiffstore)
    ),
    cmd!("zunion", -3, R_MOVABLE, 0, 0, 0, Exec::Read(zunion)),
    cmd!("zinter", -3, R_MOVABLE, 0, 0, 0, Exec::Read(zinter)),
    cmd!("zdiff", -3, R_MOVABLE, 0, 0, 0, Exec::Read(zdiff)),
    cmd!(
        "zrangestore",
        -5,
        &["write", "denyoom"],
        1,
        2,
        1,
        Exec::Write(zrangestore)
    ),
    cmd!("zintercard", -3, R_MOVABLE, 0, 0, 0, Exec::Read(zintercard)),
    cmd!("zmpop", -4, W_POP_MOVABLE, 0, 0, 0, Exec::Write(zmpop)),
    cmd!(
        "bzmpop",
        -5,
        W_BLOCKING_MOVABLE,
        0,
        0,
        0,
        Exec::Write(bzmpop)
    ),
    cmd!("zscan", -3, R, 1, 1, 1, Exec::Conn),
];

// ---------------------------------------------------------------------------------------------
// encoding
// ---------------------------------------------------------------------------------------------

/// -0.0 and 0.0 are the same score (as in Redis, which compares them equal).
fn norm(s: f64) -> f64 {
    if s == 0.0 {
        0.0
    } else {
        s
    }
}

/// Order-preserving 8-byte encoding of a score: byte order of the keys = numeric order of the
/// scores. Negative scores flip every bit, positive ones set the sign bit. NaN is never stored.
pub fn score_key(s: f64) -> [u8; 8] {
    let bits = norm(s).to_bits();
    let k = if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    };
    k.to_be_bytes()
}

/// Inverse of [`score_key`].
fn score_from_key(k: [u8; 8]) -> f64 {
    let u = u64::from_be_bytes(k);
    let bits = if u >> 63 == 1 { u & !(1 << 63) } else { !u };
    f64::from_bits(bits)
}

fn encode_score(s: f64) -> Bytes {
    Bytes::copy_from_slice(&norm(s).to_bits().to_be_bytes())
}

fn decode_score(b: &[u8]) -> f64 {
    <[u8; 8]>::try_from(b)
        .map(|a| f64::from_bits(u64::from_be_bytes(a)))
        .unwrap_or(0.0)
}

/// The score index key of `member` with `score`.
fn idx_key(c: &Coll, score: f64, member: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(c.prefix.len() + 8 + member.len());
    k.extend_from_slice(&c.prefix);
    k.extend_from_slice(&score_key(score));
    k.extend_from_slice(member);
    k
}

/// A score as it is logged: the shortest form that parses back to the same double.
fn score_arg(s: f64) -> Bytes {
    Bytes::from(format_double(s))
}

// ---------------------------------------------------------------------------------------------
// element access
// ---------------------------------------------------------------------------------------------

type Item = (Bytes, f64);

/// The key a multi-key pop served and what it popped.
type Popped = (Bytes, Vec<Item>);

fn score_of(v: &dyn View, c: &Coll, member: &[u8]) -> ExecResult<Option<f64>> {
    Ok(c.get(v, member)?.map(|b| decode_score(&b)))
}

/// Gives `member` the score `new` (`old` is its current score, None if absent).
fn set_score(
    ctx: &mut WriteCtx,
    c: &mut Coll,
    member: &[u8],
    old: Option<f64>,
    new: f64,
) -> ExecResult<()> {
    match old {
        Some(o) if norm(o) == norm(new) => return Ok(()),
        Some(o) => {
            let k = idx_key(c, o, member);
            blocks::remove(ctx, c, &k)?;
            ctx.elem_del(Space::Scores, k);
        }
        None => c.meta.size += 1,
    }
    let k = idx_key(c, new, member);
    ctx.elem_put(Space::Scores, k.clone(), Bytes::new());
    blocks::insert(ctx, c, &k)?;
    c.put(ctx, member, encode_score(new));
    Ok(())
}

fn remove_member(ctx: &mut WriteCtx, c: &mut Coll, member: &[u8], score: f64) -> ExecResult<()> {
    let k = idx_key(c, score, member);
    blocks::remove(ctx, c, &k)?;
    ctx.elem_del(Space::Scores, k);
    c.del(ctx, member);
    c.meta.size -= 1;
    Ok(())
}

/// Rank blocks: the score index cut into runs of at most [`blocks::MAX`] keys, each stored in
/// the `ranks` space under the key of its LAST index key (`prefix ++ last suffix -> count u64
/// BE ++ exclusive start`), the final run under a sentinel above every score. Keying runs by
/// their end means the run holding a key is found with a forward seek, which stays cheap when
/// a run's count has been rewritten many times (RocksDB walks every version of a key going
/// backwards). A rank is the sum of the counts of the runs before the member's run plus a walk
/// inside it: O(size / MAX + MAX) steps instead of O(rank). Inserting or removing costs one
/// more seek and write; a full run is split at its middle.
mod blocks {
    use bytes::Bytes;

    use super::{walk, Coll, View, WriteCtx};
    use crate::commands::errors::ExecResult;
    use crate::storage::Space;

    pub const MAX: u64 = 1024;

    struct Block {
        key: Vec<u8>,
        n: u64,
        /// Exclusive lower bound (the previous run's last key); empty for the first run.
        start: Vec<u8>,
    }

    fn sentinel(c: &Coll) -> Vec<u8> {
        let mut k = c.prefix.clone();
        k.extend_from_slice(&[0xff; 9]);
        k
    }

    fn decode(key: &[u8], v: &[u8]) -> Block {
        let n = v
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        Block {
            key: key.to_vec(),
            n,
            start: v.get(8..).unwrap_or_default().to_vec(),
        }
    }

    fn put(ctx: &mut WriteCtx, b: &Block) {
        let mut v = Vec::with_capacity(8 + b.start.len());
        v.extend_from_slice(&b.n.to_be_bytes());
        v.extend_from_slice(&b.start);
        ctx.elem_put(Space::Ranks, b.key.clone(), Bytes::from(v));
    }

    /// The first index key a run covers.
    fn lower(c: &Coll, start: &[u8]) -> Vec<u8> {
        if start.is_empty() {
            return c.prefix.clone();
        }
        let mut k = start.to_vec();
        k.push(0);
        k
    }

    /// The run holding index key `k`: the first run ending at or after it.
    fn containing(v: &dyn View, c: &Coll, k: &[u8]) -> ExecResult<Option<Block>> {
        let mut out = None;
        v.elem_scan(Space::Ranks, k, &c.end(), false, &mut |bk, val| {
            out = Some(decode(bk, val));
            false
        })?;
        Ok(out)
    }

    /// Counts the new index key `k` (already written) in its run.
    pub fn insert(ctx: &mut WriteCtx, c: &Coll, k: &[u8]) -> ExecResult<()> {
        let mut b = match containing(ctx, c, k)? {
            Some(b) => b,
            None => Block {
                key: sentinel(c),
                n: 0,
                start: Vec::new(),
            },
        };
        b.n += 1;
        if b.n <= MAX {
            put(ctx, &b);
            return Ok(());
        }
        // Split: the first half ends at the run's (n/2)th key.
        let half = b.n / 2;
        let mut seen = 0u64;
        let mut mid = None;
        walk(
            ctx,
            c,
            &lower(c, &b.start),
            &c.end(),
            false,
            &mut |score, member| {
                seen += 1;
                if seen == half {
                    mid = Some(super::idx_key(c, score, member));
                    return false;
                }
                true
            },
        )?;
        match mid {
            Some(m) if m < b.key => {
                put(
                    ctx,
                    &Block {
                        key: m.clone(),
                        n: half,
                        start: b.start.clone(),
                    },
                );
                put(
                    ctx,
                    &Block {
                        key: b.key,
                        n: b.n - half,
                        start: m,
                    },
                );
            }
            _ => put(ctx, &b),
        }
        Ok(())
    }

    /// Uncounts index key `k` (about to be deleted).
    pub fn remove(ctx: &mut WriteCtx, c: &Coll, k: &[u8]) -> ExecResult<()> {
        let Some(mut b) = containing(ctx, c, k)? else {
            return Ok(());
        };
        b.n = b.n.saturating_sub(1);
        if b.n > 0 || b.key == sentinel(c) {
            put(ctx, &b);
            return Ok(());
        }
        // An empty run goes; the next run now starts where it started.
        ctx.elem_del(Space::Ranks, b.key.clone());
        let mut after = b.key.clone();
        after.push(0);
        if let Some(mut next) = containing(ctx, c, &after)? {
            next.start = b.start;
            put(ctx, &next);
        }
        Ok(())
    }

    /// Ascending rank of index key `k`.
    pub fn rank(v: &dyn View, c: &Coll, k: &[u8]) -> ExecResult<u64> {
        let mut before = 0u64;
        let mut start = None;
        v.elem_scan(Space::Ranks, &c.prefix, &c.end(), false, &mut |bk, val| {
            let b = decode(bk, val);
            if b.key.as_slice() < k {
                before += b.n;
                return true;
            }
            start = Some(b.start);
            false
        })?;
        let lo = lower(c, &start.unwrap_or_default());
        let mut inside = 0u64;
        walk(v, c, &lo, k, false, &mut |_, _| {
            inside += 1;
            true
        })?;
        Ok(before + inside)
    }

    /// Where ascending rank `r` starts: the first index key of its run and how many keys to
    /// skip from there.
    pub fn seek(v: &dyn View, c: &Coll, r: u64) -> ExecResult<(Vec<u8>, u64)> {
        let mut acc = 0u64;
        let mut at = (c.prefix.clone(), r);
        v.elem_scan(Space::Ranks, &c.prefix, &c.end(), false, &mut |bk, val| {
            let b = decode(bk, val);
            if acc + b.n > r {
                at = (lower(c, &b.start), r - acc);
                return false;
            }
            acc += b.n;
            true
        })?;
        Ok(at)
    }
}

/// Removes `items` (all present), saves the set and logs `ZREM key member ...`.
fn remove_items(ctx: &mut WriteCtx, c: &mut Coll, items: &[Item]) -> ExecResult<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut logged = Vec::with_capacity(items.len() + 2);
    logged.push(Bytes::from_static(b"ZREM"));
    logged.push(c.key.clone());
    for (m, s) in items {
        remove_member(ctx, c, m, *s)?;
        logged.push(m.clone());
    }
    c.save(ctx)?;
    ctx.log(logged);
    Ok(())
}

/// Walks the score index of `c` over the full keys `[lo, hi)`, ascending or descending, calling
/// `f(score, member)` until it returns false.
fn walk(
    v: &dyn View,
    c: &Coll,
    lo: &[u8],
    hi: &[u8],
    rev: bool,
    f: &mut dyn FnMut(f64, &[u8]) -> bool,
) -> ExecResult<()> {
    let plen = c.prefix.len();
    v.elem_scan(Space::Scores, lo, hi, rev, &mut |k, _| {
        let rest = &k[plen.min(k.len())..];
        match <[u8; 8]>::try_from(&rest[..8.min(rest.len())]) {
            Ok(sk) => f(score_from_key(sk), &rest[8..]),
            Err(_) => true,
        }
    })
}

/// The lowest (or, `rev`, highest) element.
fn edge(v: &dyn View, c: &Coll, rev: bool) -> ExecResult<Option<Item>> {
    let mut out = None;
    walk(v, c, &c.prefix, &c.end(), rev, &mut |s, m| {
        out = Some((Bytes::copy_from_slice(m), s));
        false
    })?;
    Ok(out)
}

/// Ascending rank of `member` (with `score`), from the rank blocks: O(size / 1024 + 1024).
fn rank_of(v: &dyn View, c: &Coll, member: &[u8], score: f64) -> ExecResult<u64> {
    blocks::rank(v, c, &idx_key(c, score, member))
}

/// Elements of ascending ranks `a..=b` (valid), found through the rank blocks.
fn rank_items(v: &dyn View, c: &Coll, a: u64, b: u64) -> ExecResult<Vec<Item>> {
    let want = b - a + 1;
    let (from, mut skip) = blocks::seek(v, c, a)?;
    let mut out = Vec::with_capacity(want.min(1 << 16) as usize);
    walk(v, c, &from, &c.end(), false, &mut |s, m| {
        if skip > 0 {
            skip -= 1;
            return true;
        }
        out.push((Bytes::copy_from_slice(m), s));
        (out.len() as u64) < want
    })?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// ranges
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    match b.first() {
        Some(b'(') => super::parse_f64(&b[1..]).map(|v| (v, true)),
        _ => super::parse_f64(b).map(|v| (v, false)),
    }
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
        match (parse_score_bound(min), parse_score_bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                minex,
                max,
                maxex,
            }),
            _ => Err(Reply::err(ERR_SCORE_RANGE)),
        }
    }

    fn is_empty(&self) -> bool {
        self.min > self.max || (self.min == self.max && (self.minex || self.maxex))
    }

    fn above_min(&self, s: f64) -> bool {
        if self.minex {
            s > self.min
        } else {
            s >= self.min
        }
    }

    fn below_max(&self, s: f64) -> bool {
        if self.maxex {
            s < self.max
        } else {
            s <= self.max
        }
    }
}

/// Elements whose score is in `r`, seeking straight to the bound the walk starts from.
fn score_walk(
    v: &dyn View,
    c: &Coll,
    r: &ScoreRange,
    rev: bool,
    f: &mut dyn FnMut(f64, &[u8]) -> bool,
) -> ExecResult<()> {
    if r.is_empty() {
        return Ok(());
    }
    if rev {
        let hi = prefix_end(&c.sub(&score_key(r.max)));
        walk(v, c, &c.prefix, &hi, true, &mut |s, m| {
            if !r.below_max(s) {
                return true;
            }
            r.above_min(s) && f(s, m)
        })
    } else {
        let lo = c.sub(&score_key(r.min));
        walk(v, c, &lo, &c.end(), false, &mut |s, m| {
            if !r.above_min(s) {
                return true;
            }
            r.below_max(s) && f(s, m)
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum LexBound {
    NegInf,
    PosInf,
    Incl(Bytes),
    Excl(Bytes),
}

impl LexBound {
    fn parse(b: &Bytes) -> Option<LexBound> {
        match b.first() {
            Some(b'-') if b.len() == 1 => Some(LexBound::NegInf),
            Some(b'+') if b.len() == 1 => Some(LexBound::PosInf),
            Some(b'[') => Some(LexBound::Incl(b.slice(1..))),
            Some(b'(') => Some(LexBound::Excl(b.slice(1..))),
            _ => None,
        }
    }

    fn value(&self) -> Option<(&Bytes, bool)> {
        match self {
            LexBound::Incl(m) => Some((m, false)),
            LexBound::Excl(m) => Some((m, true)),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, Reply> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Reply::err(ERR_LEX_RANGE)),
        }
    }

    fn is_empty(&self) -> bool {
        match (&self.min, &self.max) {
            (LexBound::PosInf, _) | (_, LexBound::NegInf) => true,
            (LexBound::NegInf, _) | (_, LexBound::PosInf) => false,
            (a, b) => match (a.value(), b.value()) {
                (Some((a, aex)), Some((b, bex))) => a > b || (a == b && (aex || bex)),
                _ => true,
            },
        }
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Incl(x) => m >= x.as_ref(),
            LexBound::Excl(x) => m > x.as_ref(),
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::PosInf => true,
            LexBound::NegInf => false,
            LexBound::Incl(x) => m <= x.as_ref(),
            LexBound::Excl(x) => m < x.as_ref(),
        }
    }
}

/// Elements whose member is in `r`. Assumes equal scores, as Redis does: seeks to
/// `score_key(edge score) ++ bound` and compares members from there.
fn lex_walk(
    v: &dyn View,
    c: &Coll,
    r: &LexRange,
    rev: bool,
    f: &mut dyn FnMut(f64, &[u8]) -> bool,
) -> ExecResult<()> {
    if r.is_empty() {
        return Ok(());
    }
    let Some((_, edge_score)) = edge(v, c, rev)? else {
        return Ok(());
    };
    if rev {
        let hi = match &r.max {
            LexBound::Incl(m) => {
                let mut k = idx_key(c, edge_score, m);
                k.push(0);
                k
            }
            LexBound::Excl(m) => idx_key(c, edge_score, m),
            _ => c.end(),
        };
        walk(v, c, &c.prefix, &hi, true, &mut |s, m| {
            if !r.lte_max(m) {
                return true;
            }
            r.gte_min(m) && f(s, m)
        })
    } else {
        let lo = match &r.min {
            LexBound::Incl(m) | LexBound::Excl(m) => idx_key(c, edge_score, m),
            _ => c.prefix.clone(),
        };
        walk(v, c, &lo, &c.end(), false, &mut |s, m| {
            if !r.gte_min(m) {
                return true;
            }
            r.lte_max(m) && f(s, m)
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Range {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Runs a by-score or by-lex walk with Redis' LIMIT offset count (count < 0 = no limit).
fn limited(
    limit: (i64, i64),
    run: impl FnOnce(&mut dyn FnMut(f64, &[u8]) -> bool) -> ExecResult<()>,
) -> ExecResult<Vec<Item>> {
    let (offset, count) = limit;
    let mut out = Vec::new();
    if offset < 0 || count == 0 {
        return Ok(out);
    }
    let mut skip = offset as u64;
    let take = if count < 0 { u64::MAX } else { count as u64 };
    run(&mut |s, m| {
        if skip > 0 {
            skip -= 1;
            return true;
        }
        out.push((Bytes::copy_from_slice(m), s));
        (out.len() as u64) < take
    })?;
    Ok(out)
}

/// The elements `range` selects, in reply order.
fn select(
    v: &dyn View,
    c: &Coll,
    range: &Range,
    rev: bool,
    limit: (i64, i64),
) -> ExecResult<Vec<Item>> {
    match range {
        Range::Rank(start, stop) => {
            let size = c.meta.size;
            let Some((s, e)) = clamp_range(*start, *stop, size) else {
                return Ok(Vec::new());
            };
            if !rev {
                return rank_items(v, c, s, e);
            }
            let mut items = rank_items(v, c, size - 1 - e, size - 1 - s)?;
            items.reverse();
            Ok(items)
        }
        Range::Score(r) => limited(limit, |f| score_walk(v, c, r, rev, f)),
        Range::Lex(r) => limited(limit, |f| lex_walk(v, c, r, rev, f)),
    }
}

fn items_reply(items: Vec<Item>, withscores: bool) -> Reply {
    if withscores {
        Reply::Pairs(
            items
                .into_iter()
                .map(|(m, s)| (Reply::Bulk(m), Reply::Double(s)))
                .collect(),
        )
    } else {
        Reply::Array(items.into_iter().map(|(m, _)| Reply::Bulk(m)).collect())
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum By {
    Rank,
    Score,
    Lex,
}

/// A parsed ZRANGE-family request.
struct RangeReq {
    range: Range,
    rev: bool,
    limit: (i64, i64),
    withscores: bool,
}

/// Parses `key min max [options]` starting at `key_idx`, as Redis' zrangeGenericCommand does:
/// `by`/`rev` preset by the command (ZRANGEBYSCORE, ZREVRANGE...) or left to the options
/// (ZRANGE, ZRANGESTORE). The key is looked up only after this succeeds.
fn parse_range_req(
    args: &[Bytes],
    key_idx: usize,
    store: bool,
    by: Option<By>,
    rev: Option<bool>,
) -> Result<RangeReq, Reply> {
    let (mut by, mut rev) = (by, rev);
    let mut withscores = false;
    let mut limit = (0i64, -1i64);
    let mut j = key_idx + 3;
    while j < args.len() {
        let a = &args[j];
        let left = args.len() - j - 1;
        if !store && eq_ignore_case(a, "WITHSCORES") {
            withscores = true;
        } else if eq_ignore_case(a, "LIMIT") && left >= 2 {
            limit = (int_arg(&args[j + 1])?, int_arg(&args[j + 2])?);
            j += 2;
        } else if rev.is_none() && eq_ignore_case(a, "REV") {
            rev = Some(true);
        } else if by.is_none() && eq_ignore_case(a, "BYLEX") {
            by = Some(By::Lex);
        } else if by.is_none() && eq_ignore_case(a, "BYSCORE") {
            by = Some(By::Score);
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 1;
    }
    let by = by.unwrap_or(By::Rank);
    let rev = rev.unwrap_or(false);
    if limit.1 != -1 && by == By::Rank {
        return Err(Reply::err(ERR_LIMIT_RANK));
    }
    if withscores && by == By::Lex {
        return Err(Reply::err(ERR_WITHSCORES_LEX));
    }
    let (mut lo, mut hi) = (&args[key_idx + 1], &args[key_idx + 2]);
    if rev && by != By::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let range = match by {
        By::Rank => Range::Rank(int_arg(lo)?, int_arg(hi)?),
        By::Score => Range::Score(ScoreRange::parse(lo, hi)?),
        By::Lex => Range::Lex(LexRange::parse(lo, hi)?),
    };
    Ok(RangeReq {
        range,
        rev,
        limit,
        withscores,
    })
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct AddOpts {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

/// Parses ZADD's flags and pairs; the scores are all checked before anything changes.
fn parse_zadd(args: &[Bytes]) -> Result<(AddOpts, Vec<(f64, Bytes)>), Reply> {
    let mut o = AddOpts::default();
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        let flag = match () {
            _ if eq_ignore_case(a, "NX") => &mut o.nx,
            _ if eq_ignore_case(a, "XX") => &mut o.xx,
            _ if eq_ignore_case(a, "GT") => &mut o.gt,
            _ if eq_ignore_case(a, "LT") => &mut o.lt,
            _ if eq_ignore_case(a, "CH") => &mut o.ch,
            _ if eq_ignore_case(a, "INCR") => &mut o.incr,
            _ => break,
        };
        *flag = true;
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(Reply::err(errors::SYNTAX));
    }
    if o.nx && o.xx {
        return Err(Reply::err(ERR_NX_XX));
    }
    if (o.nx && (o.gt || o.lt)) || (o.gt && o.lt) {
        return Err(Reply::err(ERR_GT_LT_NX));
    }
    if o.incr && rest.len() > 2 {
        return Err(Reply::err(ERR_INCR_PAIR));
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks(2) {
        pairs.push((float_arg(&p[0])?, p[1].clone()));
    }
    Ok((o, pairs))
}

/// The new score of an existing member under `o`, None when the options leave it alone.
fn updated_score(o: &AddOpts, cur: f64, by: f64) -> Result<Option<f64>, Reply> {
    if o.nx {
        return Ok(None);
    }
    let new = if o.incr { cur + by } else { by };
    if new.is_nan() {
        return Err(Reply::err(ERR_NAN));
    }
    if (o.lt && new >= cur) || (o.gt && new <= cur) {
        return Ok(None);
    }
    Ok(Some(new))
}

fn add_pairs(
    ctx: &mut WriteCtx,
    key: &Bytes,
    o: AddOpts,
    pairs: &[(f64, Bytes)],
) -> ExecResult<Reply> {
    let nothing = if o.incr { Reply::Nil } else { Reply::Int(0) };
    let mut c = match try_reply!(Coll::open(ctx, key, ZSET)?) {
        Some(c) => c,
        None if o.xx => return Ok(nothing),
        None => Coll::create(ctx, key, ZSET),
    };
    let (mut added, mut updated) = (0i64, 0i64);
    let mut last = None;
    let mut logged = vec![Bytes::from_static(b"ZADD"), key.clone()];
    for (score, m) in pairs {
        let cur = score_of(ctx, &c, m)?;
        let new = match cur {
            Some(cur) => match try_reply!(updated_score(&o, cur, *score)) {
                Some(new) => new,
                None => continue,
            },
            None if o.xx => continue,
            None => *score,
        };
        last = Some(new);
        if cur.map(norm) == Some(norm(new)) {
            continue;
        }
        set_score(ctx, &mut c, m, cur, new)?;
        if cur.is_some() {
            updated += 1;
        } else {
            added += 1;
        }
        logged.push(score_arg(new));
        logged.push(m.clone());
    }
    if added + updated > 0 {
        c.save(ctx)?;
        ctx.log(logged);
    }
    Ok(match (o.incr, last) {
        (true, Some(s)) => Reply::Double(s),
        (true, None) => nothing,
        (false, _) if o.ch => Reply::Int(added + updated),
        (false, _) => Reply::Int(added),
    })
}

pub fn zadd(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let (o, pairs) = try_reply!(parse_zadd(args));
    add_pairs(ctx, &args[1], o, &pairs)
}

pub fn zincrby(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let by = try_reply!(float_arg(&args[2]));
    let o = AddOpts {
        incr: true,
        ..AddOpts::default()
    };
    add_pairs(ctx, &args[1], o, &[(by, args[3].clone())])
}

pub fn zrem(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], ZSET)?) else {
        return Ok(Reply::Int(0));
    };
    let mut gone: Vec<Item> = Vec::new();
    for m in &args[2..] {
        if gone.iter().any(|(g, _)| g == m) {
            continue;
        }
        if let Some(s) = score_of(ctx, &c, m)? {
            gone.push((m.clone(), s));
        }
    }
    remove_items(ctx, &mut c, &gone)?;
    Ok(Reply::Int(gone.len() as i64))
}

// ---------------------------------------------------------------------------------------------
// point reads
// ---------------------------------------------------------------------------------------------

fn read_zset(v: &dyn View, key: &[u8]) -> ExecResult<Result<Option<Coll>, Reply>> {
    Coll::read(v, key, ZSET)
}

pub fn zscore(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(read_zset(v, &args[1])?) else {
        return Ok(Reply::Nil);
    };
    Ok(score_of(v, &c, &args[2])?
        .map(Reply::Double)
        .unwrap_or(Reply::Nil))
}

pub fn zmscore(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(read_zset(v, &args[1])?);
    let mut out = Vec::with_capacity(args.len() - 2);
    for m in &args[2..] {
        let s = match &c {
            Some(c) => score_of(v, c, m)?,
            None => None,
        };
        out.push(s.map(Reply::Double).unwrap_or(Reply::Nil));
    }
    Ok(Reply::Array(out))
}

pub fn zcard(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(read_zset(v, &args[1])?);
    Ok(Reply::Int(c.map(|c| c.meta.size as i64).unwrap_or(0)))
}

/// Walks the range and counts: O(count).
fn count_range(v: &dyn View, key: &[u8], range: &Range) -> ExecResult<Reply> {
    let Some(c) = try_reply!(read_zset(v, key)?) else {
        return Ok(Reply::Int(0));
    };
    let mut n = 0i64;
    let mut f = |_: f64, _: &[u8]| {
        n += 1;
        true
    };
    match range {
        Range::Score(r) => score_walk(v, &c, r, false, &mut f)?,
        Range::Lex(r) => lex_walk(v, &c, r, false, &mut f)?,
        Range::Rank(..) => {}
    }
    Ok(Reply::Int(n))
}

pub fn zcount(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let r = try_reply!(ScoreRange::parse(&args[2], &args[3]));
    count_range(v, &args[1], &Range::Score(r))
}

pub fn zlexcount(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let r = try_reply!(LexRange::parse(&args[2], &args[3]));
    count_range(v, &args[1], &Range::Lex(r))
}

fn rank_cmd(v: &dyn View, args: &[Bytes], rev: bool) -> ExecResult<Reply> {
    if args.len() > 4 {
        return Ok(Reply::err(errors::wrong_arity(if rev {
            "zrevrank"
        } else {
            "zrank"
        })));
    }
    let withscore = args.len() == 4;
    if withscore && !eq_ignore_case(&args[3], "WITHSCORE") {
        return Ok(Reply::err(errors::SYNTAX));
    }
    let none = if withscore {
        Reply::NilArray
    } else {
        Reply::Nil
    };
    let Some(c) = try_reply!(read_zset(v, &args[1])?) else {
        return Ok(none);
    };
    let Some(score) = score_of(v, &c, &args[2])? else {
        return Ok(none);
    };
    let mut rank = rank_of(v, &c, &args[2], score)?;
    if rev {
        rank = c.meta.size.saturating_sub(rank + 1);
    }
    Ok(if withscore {
        Reply::Array(vec![Reply::Int(rank as i64), Reply::Double(score)])
    } else {
        Reply::Int(rank as i64)
    })
}

pub fn zrank(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    rank_cmd(v, args, false)
}

pub fn zrevrank(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    rank_cmd(v, args, true)
}

// ---------------------------------------------------------------------------------------------
// range reads
// ---------------------------------------------------------------------------------------------

fn range_cmd(v: &dyn View, args: &[Bytes], by: Option<By>, rev: Option<bool>) -> ExecResult<Reply> {
    let req = try_reply!(parse_range_req(args, 1, false, by, rev));
    let Some(c) = try_reply!(read_zset(v, &args[1])?) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items = select(v, &c, &req.range, req.rev, req.limit)?;
    Ok(items_reply(items, req.withscores))
}

pub fn zrange(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    range_cmd(v, args, None, None)
}

pub fn zrevrange(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    range_cmd(v, args, Some(By::Rank), Some(true))
}

pub fn zrangebyscore(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    range_cmd(v, args, Some(By::Score), Some(false))
}

pub fn zrevrangebyscore(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    range_cmd(v, args, Some(By::Score), Some(true))
}

pub fn zrangebylex(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    range_cmd(v, args, Some(By::Lex), Some(false))
}

pub fn zrevrangebylex(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    range_cmd(v, args, Some(By::Lex), Some(true))
}

pub fn zrandmember(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let (count, withscores) = try_reply!(rand_args(args, "WITHSCORES"));
    let all: Vec<Item> = match try_reply!(read_zset(v, &args[1])?) {
        Some(c) => c
            .all(v)?
            .into_iter()
            .map(|(m, s)| (m, decode_score(&s)))
            .collect(),
        None => Vec::new(),
    };
    let Some(count) = count else {
        return Ok(pick_random(all, 1)
            .pop()
            .map(|(m, _)| Reply::Bulk(m))
            .unwrap_or(Reply::Nil));
    };
    Ok(items_reply(pick_random(all, count), withscores))
}

// ---------------------------------------------------------------------------------------------
// range removals and ZRANGESTORE
// ---------------------------------------------------------------------------------------------

fn remrange(ctx: &mut WriteCtx, key: &Bytes, range: Range) -> ExecResult<Reply> {
    let Some(mut c) = try_reply!(Coll::open(ctx, key, ZSET)?) else {
        return Ok(Reply::Int(0));
    };
    let items = select(ctx, &c, &range, false, (0, -1))?;
    remove_items(ctx, &mut c, &items)?;
    Ok(Reply::Int(items.len() as i64))
}

pub fn zremrangebyrank(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let start = try_reply!(int_arg(&args[2]));
    let stop = try_reply!(int_arg(&args[3]));
    remrange(ctx, &args[1], Range::Rank(start, stop))
}

pub fn zremrangebyscore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let r = try_reply!(ScoreRange::parse(&args[2], &args[3]));
    remrange(ctx, &args[1], Range::Score(r))
}

pub fn zremrangebylex(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let r = try_reply!(LexRange::parse(&args[2], &args[3]));
    remrange(ctx, &args[1], Range::Lex(r))
}

/// Replaces `dest` with a sorted set of `items` (distinct members); an empty result deletes
/// it. Logged as `DEL dest` (if it existed) and `ZADD dest score member ...` chunks.
fn store_items(ctx: &mut WriteCtx, dest: &Bytes, items: &[Item]) -> ExecResult<i64> {
    let existed = ctx.lookup(dest)?.is_some();
    if existed {
        ctx.remove(dest)?;
        ctx.log(vec![Bytes::from_static(b"DEL"), dest.clone()]);
    }
    if items.is_empty() {
        return Ok(0);
    }
    let mut c = Coll::create(ctx, dest, ZSET);
    for (m, s) in items {
        set_score(ctx, &mut c, m, None, *s)?;
    }
    c.save(ctx)?;
    for chunk in items.chunks(LOG_CHUNK_PAIRS) {
        let mut logged = Vec::with_capacity(chunk.len() * 2 + 2);
        logged.push(Bytes::from_static(b"ZADD"));
        logged.push(dest.clone());
        for (m, s) in chunk {
            logged.push(score_arg(*s));
            logged.push(m.clone());
        }
        ctx.log(logged);
    }
    Ok(items.len() as i64)
}

pub fn zrangestore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let req = try_reply!(parse_range_req(args, 2, true, None, None));
    let items = match try_reply!(Coll::open(ctx, &args[2], ZSET)?) {
        Some(c) => select(ctx, &c, &req.range, req.rev, req.limit)?,
        None => Vec::new(),
    };
    Ok(Reply::Int(store_items(ctx, &args[1], &items)?))
}

// ---------------------------------------------------------------------------------------------
// pops
// ---------------------------------------------------------------------------------------------

/// Pops up to `count` elements from the low (or, `max`, high) end of `c` and logs ZREM.
fn pop_from(ctx: &mut WriteCtx, c: &mut Coll, max: bool, count: u64) -> ExecResult<Vec<Item>> {
    let mut items = Vec::new();
    if count == 0 {
        return Ok(items);
    }
    walk(ctx, c, &c.prefix, &c.end(), max, &mut |s, m| {
        items.push((Bytes::copy_from_slice(m), s));
        (items.len() as u64) < count
    })?;
    remove_items(ctx, c, &items)?;
    Ok(items)
}

fn pop_cmd(ctx: &mut WriteCtx, args: &[Bytes], max: bool) -> ExecResult<Reply> {
    if args.len() > 3 {
        return Ok(Reply::err(errors::SYNTAX));
    }
    let count = match args.get(2) {
        Some(n) => Some(try_reply!(positive_count(n))),
        None => None,
    };
    let items = match try_reply!(Coll::open(ctx, &args[1], ZSET)?) {
        Some(mut c) => pop_from(ctx, &mut c, max, count.unwrap_or(1))?,
        None => Vec::new(),
    };
    if count.is_some() {
        return Ok(items_reply(items, true));
    }
    Ok(Reply::Array(
        items
            .into_iter()
            .flat_map(|(m, s)| [Reply::Bulk(m), Reply::Double(s)])
            .collect(),
    ))
}

pub fn zpopmin(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    pop_cmd(ctx, args, false)
}

pub fn zpopmax(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    pop_cmd(ctx, args, true)
}

/// The first of `keys` holding a sorted set, popped by up to `count`; WRONGTYPE stops the
/// search as in Redis.
fn pop_first_of(
    ctx: &mut WriteCtx,
    keys: &[Bytes],
    max: bool,
    count: u64,
) -> ExecResult<Result<Option<Popped>, Reply>> {
    for k in keys {
        match Coll::open(ctx, k, ZSET)? {
            Err(r) => return Ok(Err(r)),
            Ok(None) => continue,
            Ok(Some(mut c)) => {
                let items = pop_from(ctx, &mut c, max, count)?;
                return Ok(Ok(Some((k.clone(), items))));
            }
        }
    }
    Ok(Ok(None))
}

/// Parks the client on `keys` when it may block; the reply is what a timeout answers.
fn block_on(ctx: &mut WriteCtx, keys: &[Bytes], timeout_ms: u64) -> Reply {
    if ctx.may_block {
        ctx.block = Some(Block {
            keys: keys.to_vec(),
            timeout_ms,
        });
    }
    Reply::NilArray
}

fn bpop_cmd(ctx: &mut WriteCtx, args: &[Bytes], max: bool) -> ExecResult<Reply> {
    let timeout_ms = try_reply!(parse_timeout(&args[args.len() - 1]));
    let keys = &args[1..args.len() - 1];
    match try_reply!(pop_first_of(ctx, keys, max, 1)?) {
        Some((key, mut items)) => {
            let Some((m, s)) = items.pop() else {
                return Ok(Reply::NilArray);
            };
            Ok(Reply::Array(vec![
                Reply::Bulk(key),
                Reply::Bulk(m),
                Reply::Double(s),
            ]))
        }
        None => Ok(block_on(ctx, keys, timeout_ms)),
    }
}

pub fn bzpopmin(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    bpop_cmd(ctx, args, false)
}

pub fn bzpopmax(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    bpop_cmd(ctx, args, true)
}

/// `numkeys key ... MIN|MAX [COUNT count]` from `at`: (keys, max, count).
fn parse_mpop(args: &[Bytes], at: usize) -> Result<(Vec<Bytes>, bool, u64), Reply> {
    let numkeys = match parse_i64(&args[at]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(Reply::err(ERR_NUMKEYS)),
    };
    let first = at + 1;
    if numkeys >= args.len() - first {
        return Err(Reply::err(errors::SYNTAX));
    }
    let keys = args[first..first + numkeys].to_vec();
    let mut j = first + numkeys;
    let max = match &args[j] {
        w if eq_ignore_case(w, "MIN") => false,
        w if eq_ignore_case(w, "MAX") => true,
        _ => return Err(Reply::err(errors::SYNTAX)),
    };
    j += 1;
    let mut count = None;
    while j < args.len() {
        if count.is_none() && eq_ignore_case(&args[j], "COUNT") && j + 1 < args.len() {
            count = match parse_i64(&args[j + 1]) {
                Some(n) if n > 0 => Some(n as u64),
                _ => return Err(Reply::err(ERR_COUNT)),
            };
            j += 2;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    Ok((keys, max, count.unwrap_or(1)))
}

fn mpop_reply(key: Bytes, items: Vec<Item>) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(key),
        Reply::Array(
            items
                .into_iter()
                .map(|(m, s)| Reply::Array(vec![Reply::Bulk(m), Reply::Double(s)]))
                .collect(),
        ),
    ])
}

pub fn zmpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let (keys, max, count) = try_reply!(parse_mpop(args, 1));
    Ok(match try_reply!(pop_first_of(ctx, &keys, max, count)?) {
        Some((key, items)) => mpop_reply(key, items),
        None => Reply::NilArray,
    })
}

pub fn bzmpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    // Redis checks the timeout after the other arguments.
    let (keys, max, count) = try_reply!(parse_mpop(args, 2));
    let timeout_ms = try_reply!(parse_timeout(&args[1]));
    Ok(match try_reply!(pop_first_of(ctx, &keys, max, count)?) {
        Some((key, items)) => mpop_reply(key, items),
        None => block_on(ctx, &keys, timeout_ms),
    })
}

// ---------------------------------------------------------------------------------------------
// ZUNION, ZINTER, ZDIFF (+STORE), ZINTERCARD
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy)]
enum Agg {
    Sum,
    Min,
    Max,
}

/// One input of a set operation: a sorted set, a plain set (members score 1) or nothing.
enum Src {
    Missing,
    Z(Coll),
    S(Coll),
}

impl Src {
    fn open(v: &dyn View, key: &[u8]) -> ExecResult<Result<Src, Reply>> {
        Ok(match Coll::read(v, key, ZSET)? {
            Ok(Some(c)) => Ok(Src::Z(c)),
            Ok(None) => Ok(Src::Missing),
            Err(_) => match Coll::read(v, key, ValueType::Set)? {
                Ok(Some(c)) => Ok(Src::S(c)),
                Ok(None) => Ok(Src::Missing),
                Err(r) => Err(r),
            },
        })
    }

    fn len(&self) -> u64 {
        match self {
            Src::Missing => 0,
            Src::Z(c) | Src::S(c) => c.meta.size,
        }
    }

    fn all(&self, v: &dyn View) -> ExecResult<Vec<Item>> {
        Ok(match self {
            Src::Missing => Vec::new(),
            Src::Z(c) => c
                .all(v)?
                .into_iter()
                .map(|(m, s)| (m, decode_score(&s)))
                .collect(),
            Src::S(c) => c.all(v)?.into_iter().map(|(m, _)| (m, 1.0)).collect(),
        })
    }

    fn score(&self, v: &dyn View, m: &[u8]) -> ExecResult<Option<f64>> {
        Ok(match self {
            Src::Missing => None,
            Src::Z(c) => score_of(v, c, m)?,
            Src::S(c) => c.get(v, m)?.map(|_| 1.0),
        })
    }
}

struct SetOpReq {
    srcs: Vec<Src>,
    weights: Vec<f64>,
    agg: Agg,
    withscores: bool,
    limit: u64,
}

/// Parses `numkeys key ... [options]` from `at` as Redis' zunionInterDiffGenericCommand does:
/// numkeys, then the keys are opened (WRONGTYPE comes first), then the options.
fn parse_setop(
    v: &dyn View,
    args: &[Bytes],
    at: usize,
    op: SetOp,
    name: &str,
    store: bool,
    card: bool,
) -> ExecResult<Result<SetOpReq, Reply>> {
    let numkeys = match int_arg(&args[at]) {
        Ok(n) => n,
        Err(r) => return Ok(Err(r)),
    };
    if numkeys < 1 {
        return Ok(Err(Reply::err(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        ))));
    }
    let first = at + 1;
    if numkeys as u64 > (args.len() - first) as u64 {
        return Ok(Err(Reply::err(errors::SYNTAX)));
    }
    let n = numkeys as usize;
    let mut srcs = Vec::with_capacity(n);
    for k in &args[first..first + n] {
        match Src::open(v, k)? {
            Ok(src) => srcs.push(src),
            Err(r) => return Ok(Err(r)),
        }
    }
    let mut req = SetOpReq {
        srcs,
        weights: vec![1.0; n],
        agg: Agg::Sum,
        withscores: false,
        limit: 0,
    };
    if let Err(r) = parse_setop_options(&args[first + n..], op, store, card, &mut req) {
        return Ok(Err(r));
    }
    Ok(Ok(req))
}

fn parse_setop_options(
    opts: &[Bytes],
    op: SetOp,
    store: bool,
    card: bool,
    req: &mut SetOpReq,
) -> Result<(), Reply> {
    let n = req.weights.len();
    let mut j = 0;
    while j < opts.len() {
        let a = &opts[j];
        let left = opts.len() - j;
        let full = op != SetOp::Diff && !card;
        if full && left > n && eq_ignore_case(a, "WEIGHTS") {
            for i in 0..n {
                req.weights[i] = super::parse_f64_in_range(&opts[j + 1 + i])
                    .ok_or_else(|| Reply::err(ERR_WEIGHT))?;
            }
            j += 1 + n;
        } else if full && left >= 2 && eq_ignore_case(a, "AGGREGATE") {
            let w = &opts[j + 1];
            req.agg = match () {
                _ if eq_ignore_case(w, "SUM") => Agg::Sum,
                _ if eq_ignore_case(w, "MIN") => Agg::Min,
                _ if eq_ignore_case(w, "MAX") => Agg::Max,
                _ => return Err(Reply::err(errors::SYNTAX)),
            };
            j += 2;
        } else if !store && !card && eq_ignore_case(a, "WITHSCORES") {
            req.withscores = true;
            j += 1;
        } else if card && left >= 2 && eq_ignore_case(a, "LIMIT") {
            req.limit = match parse_i64(&opts[j + 1]) {
                Some(l) if l >= 0 => l as u64,
                _ => return Err(Reply::err(ERR_INTERCARD_LIMIT)),
            };
            j += 2;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    Ok(())
}

fn weighted(s: f64, w: f64) -> f64 {
    let x = s * w;
    if x.is_nan() {
        0.0
    } else {
        x
    }
}

fn aggregate(acc: f64, val: f64, agg: Agg) -> f64 {
    match agg {
        Agg::Sum => {
            let x = acc + val;
            if x.is_nan() {
                0.0
            } else {
                x
            }
        }
        Agg::Min => acc.min(val),
        Agg::Max => acc.max(val),
    }
}

/// The result of a set operation, sorted as a sorted set (score, then member). With
/// `limit` > 0 (ZINTERCARD) an intersection stops after that many members.
fn compute(v: &dyn View, op: SetOp, req: &SetOpReq) -> ExecResult<Vec<Item>> {
    let mut out: Vec<Item> = match op {
        SetOp::Union => {
            let mut acc: HashMap<Bytes, f64> = HashMap::new();
            for (src, w) in req.srcs.iter().zip(&req.weights) {
                for (m, s) in src.all(v)? {
                    let val = weighted(s, *w);
                    acc.entry(m)
                        .and_modify(|a| *a = aggregate(*a, val, req.agg))
                        .or_insert(val);
                }
            }
            acc.into_iter().collect()
        }
        SetOp::Inter => intersect(v, req)?,
        SetOp::Diff => {
            let mut out = Vec::new();
            let (first, rest) = req.srcs.split_at(1);
            'members: for (m, s) in first[0].all(v)? {
                for src in rest {
                    if src.score(v, &m)?.is_some() {
                        continue 'members;
                    }
                }
                out.push((m, s));
            }
            out
        }
    };
    // -0 sorts as 0 but is replied as Redis does ("-0"); stored, it becomes 0.
    out.sort_by(|a, b| norm(a.1).total_cmp(&norm(b.1)).then_with(|| a.0.cmp(&b.0)));
    Ok(out)
}

/// Walks the smallest source and point-reads the others.
fn intersect(v: &dyn View, req: &SetOpReq) -> ExecResult<Vec<Item>> {
    let mut out = Vec::new();
    if req.srcs.iter().any(|s| s.len() == 0) {
        return Ok(out);
    }
    let mut order: Vec<usize> = (0..req.srcs.len()).collect();
    order.sort_by_key(|&i| req.srcs[i].len());
    let (small, others) = order.split_at(1);
    'members: for (m, s) in req.srcs[small[0]].all(v)? {
        let mut score = weighted(s, req.weights[small[0]]);
        for &i in others {
            match req.srcs[i].score(v, &m)? {
                Some(o) => score = aggregate(score, weighted(o, req.weights[i]), req.agg),
                None => continue 'members,
            }
        }
        out.push((m, score));
        if req.limit > 0 && out.len() as u64 >= req.limit {
            break;
        }
    }
    Ok(out)
}

fn setop_read(v: &dyn View, args: &[Bytes], op: SetOp, name: &str) -> ExecResult<Reply> {
    let req = try_reply!(parse_setop(v, args, 1, op, name, false, false)?);
    let items = compute(v, op, &req)?;
    Ok(items_reply(items, req.withscores))
}

pub fn zunion(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    setop_read(v, args, SetOp::Union, "zunion")
}

pub fn zinter(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    setop_read(v, args, SetOp::Inter, "zinter")
}

pub fn zdiff(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    setop_read(v, args, SetOp::Diff, "zdiff")
}

pub fn zintercard(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let req = try_reply!(parse_setop(
        v,
        args,
        1,
        SetOp::Inter,
        "zintercard",
        false,
        true
    )?);
    Ok(Reply::Int(intersect(v, &req)?.len() as i64))
}

fn setop_store(ctx: &mut WriteCtx, args: &[Bytes], op: SetOp, name: &str) -> ExecResult<Reply> {
    // Expired sources are deleted (and logged) first, as Redis' lookupKeyRead does.
    if let Some(n) = parse_i64(&args[2]) {
        let end = (3 + n.max(0) as usize).min(args.len());
        for k in &args[3..end] {
            ctx.lookup(k)?;
        }
    }
    let req = try_reply!(parse_setop(ctx, args, 2, op, name, true, false)?);
    let items = compute(ctx, op, &req)?;
    Ok(Reply::Int(store_items(ctx, &args[1], &items)?))
}

pub fn zunionstore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    setop_store(ctx, args, SetOp::Union, "zunionstore")
}

pub fn zinterstore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    setop_store(ctx, args, SetOp::Inter, "zinterstore")
}

pub fn zdiffstore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    setop_store(ctx, args, SetOp::Diff, "zdiffstore")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_keys_sort_like_scores() {
        let scores = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -1.0,
            -f64::MIN_POSITIVE,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            2.5,
            1e300,
            f64::INFINITY,
        ];
        for w in scores.windows(2) {
            assert!(score_key(w[0]) < score_key(w[1]), "{} < {}", w[0], w[1]);
        }
        for s in scores {
            assert_eq!(score_from_key(score_key(s)), s);
        }
        assert_eq!(score_key(-0.0), score_key(0.0));
    }

    #[test]
    fn ranges_parse_like_redis() {
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.max == f64::INFINITY);
        assert!(ScoreRange::parse(b"(", b"1").is_err());
        assert!(ScoreRange::parse(b"nan", b"1").is_err());
        assert!(ScoreRange::parse(b"(1", b"1").unwrap().is_empty());
        let l = LexRange::parse(&Bytes::from("[a"), &Bytes::from("(c")).unwrap();
        assert!(l.gte_min(b"a") && l.lte_max(b"b") && !l.lte_max(b"c"));
        assert!(LexRange::parse(&Bytes::from("a"), &Bytes::from("+")).is_err());
        assert!(LexRange::parse(&Bytes::from("+"), &Bytes::from("-"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn logged_scores_read_back_exactly() {
        for s in [0.1, 1.0 / 3.0, 1e300, -1e-300, 12345678.875, f64::INFINITY] {
            assert_eq!(
                super::super::parse_f64(format_double(s).as_bytes()),
                Some(s)
            );
        }
    }
}
