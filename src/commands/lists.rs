//! List commands.
//!
//! A list is a window of positions `head..tail` (u64) in its collection's element space: the
//! element at index `i` lives under the sub-key `(head + i)` in big-endian, so RocksDB's key
//! order is list order and a range is one bounded scan. A new list starts in the middle of the
//! u64 range (`LIST_MIDDLE`), so it can grow 2^63 elements either way.
//!
//! Why this layout: the common list operations work at the ends, and here they cost one
//! RocksDB operation per element whatever the list's length:
//! - LPUSH/RPUSH/LPOP/RPOP/LMOVE: O(1) per element (move `head` or `tail`, one put or delete).
//! - LINDEX/LSET: one point read or write at `head + i`.
//! - LRANGE and LPOS: one bounded scan of the elements they look at.
//! - LTRIM: one delete per trimmed element (a range delete when the list disappears).
//! - LINSERT and LREM read the whole list (O(N)) and rewrite the positions on the shorter side
//!   of the change: the elements after it (head stays put) or before it (tail stays put).
//!
//! Logged by effect: pushes as LPUSH/RPUSH (the X forms only when they pushed), pops as
//! `LPOP|RPOP key [count]` with the count actually popped, moves as `LMOVE src dst from to`,
//! blocking commands as the non-blocking command they performed. LSET, LINSERT, LREM and LTRIM
//! are logged as received: given the same list they do the same thing.
//!
//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) look at their keys with
//! side-effect-free reads first; when nothing can be served and the client may block they ask
//! the writer to park them (`ctx.block`) and change nothing, so the writer can retry them.

use bytes::Bytes;

use super::coll::{clamp_range, positive_count, Coll};
use super::ctx::{parse_timeout, Block, View, WriteCtx};
use super::errors::{self, ExecResult};
use super::{
    eq_ignore_case, int_arg, parse_i64, CommandSpec, Exec, R, RF, W, WD, WF, W_POP_MOVABLE,
};
use crate::cmd;
use crate::protocol::Reply;
use crate::storage::{Space, ValueType};
use crate::try_reply;

const LIST: ValueType = ValueType::List;

const WO: &[&str] = &["write"];
const BLK: &[&str] = &["write", "noscript", "blocking"];
const BLKD: &[&str] = &["write", "denyoom", "noscript", "blocking"];
const BLKM: &[&str] = &["write", "blocking", "movablekeys"];

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("lpush", -3, WF, 1, 1, 1, Exec::Write(lpush)),
    cmd!("rpush", -3, WF, 1, 1, 1, Exec::Write(rpush)),
    cmd!("lpushx", -3, WF, 1, 1, 1, Exec::Write(lpushx)),
    cmd!("rpushx", -3, WF, 1, 1, 1, Exec::Write(rpushx)),
    cmd!("lpop", -2, WD, 1, 1, 1, Exec::Write(lpop)),
    cmd!("rpop", -2, WD, 1, 1, 1, Exec::Write(rpop)),
    cmd!("llen", 2, RF, 1, 1, 1, Exec::Read(llen)),
    cmd!("lrange", 4, R, 1, 1, 1, Exec::Read(lrange)),
    cmd!("lindex", 3, R, 1, 1, 1, Exec::Read(lindex)),
    cmd!("lset", 4, W, 1, 1, 1, Exec::Write(lset)),
    cmd!("lrem", 4, WO, 1, 1, 1, Exec::Write(lrem)),
    cmd!("ltrim", 4, WO, 1, 1, 1, Exec::Write(ltrim)),
    cmd!("linsert", 5, W, 1, 1, 1, Exec::Write(linsert)),
    cmd!("lpos", -3, R, 1, 1, 1, Exec::Read(lpos)),
    cmd!("lmove", 5, W, 1, 2, 1, Exec::Write(lmove)),
    cmd!("rpoplpush", 3, W, 1, 2, 1, Exec::Write(rpoplpush)),
    cmd!("lmpop", -4, W_POP_MOVABLE, 0, 0, 0, Exec::Write(lmpop)),
    cmd!("blpop", -3, BLK, 1, -2, 1, Exec::Write(blpop)),
    cmd!("brpop", -3, BLK, 1, -2, 1, Exec::Write(brpop)),
    cmd!("blmove", 6, BLKD, 1, 2, 1, Exec::Write(blmove)),
    cmd!("brpoplpush", 4, BLKD, 1, 2, 1, Exec::Write(brpoplpush)),
    cmd!("blmpop", -5, BLKM, 0, 0, 0, Exec::Write(blmpop)),
];

/// Which end of a list a command works at.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    Left,
    Right,
}

impl End {
    /// LEFT|RIGHT as LMOVE and LMPOP take them; anything else is a syntax error.
    fn parse(b: &[u8]) -> Result<End, Reply> {
        if eq_ignore_case(b, "left") {
            Ok(End::Left)
        } else if eq_ignore_case(b, "right") {
            Ok(End::Right)
        } else {
            Err(Reply::err(errors::SYNTAX))
        }
    }

    fn name(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"LEFT",
            End::Right => b"RIGHT",
        })
    }

    fn pop_command(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"LPOP",
            End::Right => b"RPOP",
        })
    }

    fn push_command(self) -> Bytes {
        Bytes::from_static(match self {
            End::Left => b"LPUSH",
            End::Right => b"RPUSH",
        })
    }
}

// ------------------------------------------------------------------------------------------
// positions and the primitive operations
// ------------------------------------------------------------------------------------------

/// The sub-key of list position `pos`.
fn slot(pos: u64) -> [u8; 8] {
    pos.to_be_bytes()
}

/// Redis' index rule: negative counts from the end; `None` when outside the list.
fn index(i: i64, len: u64) -> Option<u64> {
    let len = len as i64;
    let i = if i < 0 { len + i } else { i };
    (0..len).contains(&i).then_some(i as u64)
}

fn push(ctx: &mut WriteCtx, c: &mut Coll, end: End, val: Bytes) {
    match end {
        End::Left => {
            c.meta.head -= 1;
            c.put(ctx, &slot(c.meta.head), val);
        }
        End::Right => {
            c.put(ctx, &slot(c.meta.tail), val);
            c.meta.tail += 1;
        }
    }
    c.meta.size += 1;
}

/// Removes and returns up to `n` elements from `end`, nearest the end first.
fn pop_n(ctx: &mut WriteCtx, c: &mut Coll, end: End, n: u64) -> ExecResult<Vec<Bytes>> {
    let n = n.min(c.meta.size);
    let vals = match end {
        End::Left => read_span(ctx, c, 0, n, false)?,
        End::Right => read_span(ctx, c, c.meta.size - n, n, true)?,
    };
    for _ in 0..n {
        let pos = match end {
            End::Left => {
                c.meta.head += 1;
                c.meta.head - 1
            }
            End::Right => {
                c.meta.tail -= 1;
                c.meta.tail
            }
        };
        c.del(ctx, &slot(pos));
    }
    c.meta.size -= n;
    Ok(vals)
}

/// Pops one element; the caller knows the list is not empty (an empty list is never stored).
fn pop_one(ctx: &mut WriteCtx, c: &mut Coll, end: End) -> ExecResult<Bytes> {
    // A missing element would mean a damaged store; the list's shape stays consistent anyway.
    Ok(pop_n(ctx, c, end, 1)?.pop().unwrap_or_default())
}

/// The `n` elements from index `from` on, in list order or reversed.
fn read_span(v: &dyn View, c: &Coll, from: u64, n: u64, reverse: bool) -> ExecResult<Vec<Bytes>> {
    let mut out = Vec::with_capacity(n.min(1 << 16) as usize);
    let lo = c.sub(&slot(c.meta.head + from));
    let hi = c.sub(&slot(c.meta.head + from + n));
    v.elem_scan(Space::Elements, &lo, &hi, reverse, &mut |_, val| {
        out.push(Bytes::copy_from_slice(val));
        true
    })?;
    Ok(out)
}

/// Walks the elements from the head (or from the tail if `reverse`) until `f` returns false.
fn walk(v: &dyn View, c: &Coll, reverse: bool, f: &mut dyn FnMut(&[u8]) -> bool) -> ExecResult<()> {
    let lo = c.sub(&slot(c.meta.head));
    let hi = c.sub(&slot(c.meta.tail));
    v.elem_scan(Space::Elements, &lo, &hi, reverse, &mut |_, val| f(val))
}

/// Replaces the list's contents by `new`. The old and new contents agree on their first
/// `same_head` and last `same_tail` elements, so only one side of the change is rewritten: the
/// positions after the shared head (head stays) or before the shared tail (tail stays),
/// whichever is shorter. Positions no longer used are deleted.
fn rewrite(ctx: &mut WriteCtx, c: &mut Coll, new: &[Bytes], same_head: u64, same_tail: u64) {
    let new_len = new.len() as u64;
    c.meta.size = new_len;
    if new_len == 0 {
        // `save` drops the whole collection with one range delete.
        return;
    }
    let (head, tail) = (c.meta.head, c.meta.tail);
    if same_head >= same_tail {
        for (k, val) in new.iter().enumerate().skip(same_head as usize) {
            c.put(ctx, &slot(head + k as u64), val.clone());
        }
        for pos in head + new_len..tail {
            c.del(ctx, &slot(pos));
        }
        c.meta.tail = head + new_len;
    } else {
        let new_head = tail - new_len;
        let changed = new_len - same_tail.min(new_len);
        for (k, val) in new.iter().enumerate().take(changed as usize) {
            c.put(ctx, &slot(new_head + k as u64), val.clone());
        }
        for pos in head..new_head {
            c.del(ctx, &slot(pos));
        }
        c.meta.head = new_head;
    }
}

fn array(vals: Vec<Bytes>) -> Reply {
    Reply::Array(vals.into_iter().map(Reply::Bulk).collect())
}

// ------------------------------------------------------------------------------------------
// pushes and pops
// ------------------------------------------------------------------------------------------

fn push_command(
    ctx: &mut WriteCtx,
    args: &[Bytes],
    end: End,
    only_existing: bool,
) -> ExecResult<Reply> {
    let mut c = if only_existing {
        match try_reply!(Coll::open(ctx, &args[1], LIST)?) {
            Some(c) => c,
            None => return Ok(Reply::Int(0)),
        }
    } else {
        try_reply!(Coll::open_or_create(ctx, &args[1], LIST)?)
    };
    for val in &args[2..] {
        push(ctx, &mut c, end, val.clone());
    }
    c.save(ctx)?;
    let mut logged = args.to_vec();
    logged[0] = end.push_command();
    ctx.log(logged);
    Ok(Reply::Int(c.meta.size as i64))
}

pub fn lpush(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    push_command(ctx, args, End::Left, false)
}

pub fn rpush(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    push_command(ctx, args, End::Right, false)
}

pub fn lpushx(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    push_command(ctx, args, End::Left, true)
}

pub fn rpushx(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    push_command(ctx, args, End::Right, true)
}

/// Pops up to `n` elements from `c` (already open), saves it and logs `LPOP|RPOP key n`.
fn pop_logged(ctx: &mut WriteCtx, mut c: Coll, end: End, n: u64) -> ExecResult<Vec<Bytes>> {
    let vals = pop_n(ctx, &mut c, end, n)?;
    c.save(ctx)?;
    ctx.log(vec![
        end.pop_command(),
        c.key.clone(),
        Bytes::from(vals.len().to_string()),
    ]);
    Ok(vals)
}

/// Pops one element from `c` (already open, not empty) and logs `LPOP|RPOP key`.
fn pop_one_logged(ctx: &mut WriteCtx, mut c: Coll, end: End) -> ExecResult<Bytes> {
    let val = pop_one(ctx, &mut c, end)?;
    c.save(ctx)?;
    ctx.log(vec![end.pop_command(), c.key.clone()]);
    Ok(val)
}

fn pop_command(ctx: &mut WriteCtx, args: &[Bytes], end: End) -> ExecResult<Reply> {
    if args.len() > 3 {
        return Ok(Reply::err(errors::wrong_arity(&String::from_utf8_lossy(
            &args[0],
        ))));
    }
    let count = match args.get(2) {
        Some(b) => Some(try_reply!(positive_count(b))),
        None => None,
    };
    let Some(c) = try_reply!(Coll::open(ctx, &args[1], LIST)?) else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    Ok(match count {
        None => Reply::Bulk(pop_one_logged(ctx, c, end)?),
        Some(0) => Reply::Array(Vec::new()),
        Some(n) => array(pop_logged(ctx, c, end, n)?),
    })
}

pub fn lpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    pop_command(ctx, args, End::Left)
}

pub fn rpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    pop_command(ctx, args, End::Right)
}

// ------------------------------------------------------------------------------------------
// reads
// ------------------------------------------------------------------------------------------

pub fn llen(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(Coll::read(v, &args[1], LIST)?);
    Ok(Reply::Int(c.map(|c| c.meta.size as i64).unwrap_or(0)))
}

pub fn lrange(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let start = try_reply!(int_arg(&args[2]));
    let stop = try_reply!(int_arg(&args[3]));
    let Some(c) = try_reply!(Coll::read(v, &args[1], LIST)?) else {
        return Ok(Reply::Array(Vec::new()));
    };
    let Some((s, e)) = clamp_range(start, stop, c.meta.size) else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(array(read_span(v, &c, s, e - s + 1, false)?))
}

pub fn lindex(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(Coll::read(v, &args[1], LIST)?) else {
        return Ok(Reply::Nil);
    };
    let i = try_reply!(int_arg(&args[2]));
    let Some(i) = index(i, c.meta.size) else {
        return Ok(Reply::Nil);
    };
    Ok(c.get(v, &slot(c.meta.head + i))?
        .map(Reply::Bulk)
        .unwrap_or(Reply::Nil))
}

/// LPOS's options: 1-based rank (negative: from the tail), COUNT (None: not given, 0: all),
/// MAXLEN (0: no limit).
struct LposOpts {
    rank: i64,
    count: Option<u64>,
    maxlen: u64,
}

fn lpos_opts(args: &[Bytes]) -> Result<LposOpts, Reply> {
    let mut o = LposOpts {
        rank: 1,
        count: None,
        maxlen: 0,
    };
    let mut j = 3;
    while j < args.len() {
        let has_value = j + 1 < args.len();
        let opt = &args[j];
        if eq_ignore_case(opt, "rank") && has_value {
            o.rank = int_arg(&args[j + 1])?;
            if o.rank == 0 {
                return Err(Reply::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                ));
            }
        } else if eq_ignore_case(opt, "count") && has_value {
            o.count = Some(non_negative(&args[j + 1], "ERR COUNT can't be negative")?);
        } else if eq_ignore_case(opt, "maxlen") && has_value {
            o.maxlen = non_negative(&args[j + 1], "ERR MAXLEN can't be negative")?;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        j += 2;
    }
    Ok(o)
}

/// An integer >= 0; `msg` for anything else (Redis uses it for a non-integer too).
fn non_negative(b: &[u8], msg: &str) -> Result<u64, Reply> {
    match parse_i64(b) {
        Some(n) if n >= 0 => Ok(n as u64),
        _ => Err(Reply::err(msg)),
    }
}

pub fn lpos(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let o = try_reply!(lpos_opts(args));
    let Some(c) = try_reply!(Coll::read(v, &args[1], LIST)?) else {
        return Ok(match o.count {
            Some(_) => Reply::Array(Vec::new()),
            None => Reply::Nil,
        });
    };
    let reverse = o.rank < 0;
    let skip = o.rank.unsigned_abs() - 1;
    let want = match o.count {
        None => 1,
        Some(0) => u64::MAX,
        Some(n) => n,
    };
    let len = c.meta.size;
    let (mut seen, mut matches, mut found) = (0u64, 0u64, Vec::new());
    walk(v, &c, reverse, &mut |val| {
        if o.maxlen != 0 && seen >= o.maxlen {
            return false;
        }
        if val == args[2].as_ref() {
            matches += 1;
            if matches > skip {
                let i = if reverse { len - seen - 1 } else { seen };
                found.push(Reply::Int(i as i64));
            }
        }
        seen += 1;
        (found.len() as u64) < want
    })?;
    Ok(match o.count {
        Some(_) => Reply::Array(found),
        None => found.pop().unwrap_or(Reply::Nil),
    })
}

// ------------------------------------------------------------------------------------------
// changes in place
// ------------------------------------------------------------------------------------------

pub fn lset(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(Coll::open(ctx, &args[1], LIST)?) else {
        return Ok(Reply::err(errors::NO_SUCH_KEY));
    };
    let i = try_reply!(int_arg(&args[2]));
    let Some(i) = index(i, c.meta.size) else {
        return Ok(Reply::err("ERR index out of range"));
    };
    c.put(ctx, &slot(c.meta.head + i), args[3].clone());
    // Rewriting the metadata marks the key as written (WATCH).
    c.save(ctx)?;
    ctx.log_verbatim(args);
    Ok(Reply::Ok)
}

pub fn lrem(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let count = try_reply!(int_arg(&args[2]));
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], LIST)?) else {
        return Ok(Reply::Int(0));
    };
    let old = read_span(ctx, &c, 0, c.meta.size, false)?;
    let mut hits = matching(&old, &args[3], count);
    hits.sort_unstable();
    let (Some(&first), Some(&last)) = (hits.first(), hits.last()) else {
        return Ok(Reply::Int(0));
    };
    let mut drop = hits.iter().copied().peekable();
    let new: Vec<Bytes> = old
        .iter()
        .enumerate()
        .filter(|(i, _)| drop.next_if_eq(i).is_none())
        .map(|(_, v)| v.clone())
        .collect();
    let same_tail = old.len() - 1 - last;
    rewrite(ctx, &mut c, &new, first as u64, same_tail as u64);
    c.save(ctx)?;
    ctx.log_verbatim(args);
    Ok(Reply::Int(hits.len() as i64))
}

/// Indices of the elements LREM removes: the first `count` matches from the head (count > 0),
/// from the tail (count < 0), or all of them (0).
fn matching(list: &[Bytes], elem: &[u8], count: i64) -> Vec<usize> {
    let limit = if count == 0 {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let is_match = |(_, v): &(usize, &Bytes)| v.as_ref() == elem;
    let it = list.iter().enumerate();
    if count < 0 {
        it.rev()
            .filter(is_match)
            .take(limit)
            .map(|(i, _)| i)
            .collect()
    } else {
        it.filter(is_match).take(limit).map(|(i, _)| i).collect()
    }
}

pub fn ltrim(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let start = try_reply!(int_arg(&args[2]));
    let stop = try_reply!(int_arg(&args[3]));
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], LIST)?) else {
        return Ok(Reply::Ok);
    };
    let len = c.meta.size;
    match clamp_range(start, stop, len) {
        // Nothing left: `save` drops the whole collection.
        None => c.meta.size = 0,
        Some((0, e)) if e + 1 == len => {
            // Nothing trimmed; Redis still counts it as a write to the key (WATCH breaks).
            ctx.touch(&args[1]);
            return Ok(Reply::Ok);
        }
        Some((s, e)) => {
            let (head, tail) = (c.meta.head, c.meta.tail);
            for pos in (head..head + s).chain(head + e + 1..tail) {
                c.del(ctx, &slot(pos));
            }
            c.meta.head = head + s;
            c.meta.tail = head + e + 1;
            c.meta.size = e - s + 1;
        }
    }
    c.save(ctx)?;
    ctx.log_verbatim(args);
    Ok(Reply::Ok)
}

pub fn linsert(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let after = if eq_ignore_case(&args[2], "after") {
        true
    } else if eq_ignore_case(&args[2], "before") {
        false
    } else {
        return Ok(Reply::err(errors::SYNTAX));
    };
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], LIST)?) else {
        return Ok(Reply::Int(0));
    };
    let old = read_span(ctx, &c, 0, c.meta.size, false)?;
    let Some(pivot) = old.iter().position(|v| v == &args[3]) else {
        return Ok(Reply::Int(-1));
    };
    let at = pivot + after as usize;
    let mut new = Vec::with_capacity(old.len() + 1);
    new.extend_from_slice(&old[..at]);
    new.push(args[4].clone());
    new.extend_from_slice(&old[at..]);
    rewrite(ctx, &mut c, &new, at as u64, (old.len() - at) as u64);
    c.save(ctx)?;
    ctx.log_verbatim(args);
    Ok(Reply::Int(c.meta.size as i64))
}

// ------------------------------------------------------------------------------------------
// moves
// ------------------------------------------------------------------------------------------

/// LMOVE's effect: `None` when the source is missing. Type-checks the destination before
/// popping, as Redis does; with source == destination the list rotates.
fn move_one(
    ctx: &mut WriteCtx,
    src: &Bytes,
    dst: &Bytes,
    from: End,
    to: End,
) -> ExecResult<Result<Option<Bytes>, Reply>> {
    let mut s = match Coll::open(ctx, src, LIST)? {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(Ok(None)),
        Err(r) => return Ok(Err(r)),
    };
    let val = if src == dst {
        let val = pop_one(ctx, &mut s, from)?;
        push(ctx, &mut s, to, val.clone());
        s.save(ctx)?;
        val
    } else {
        let mut d = match Coll::open_or_create(ctx, dst, LIST)? {
            Ok(d) => d,
            Err(r) => return Ok(Err(r)),
        };
        let val = pop_one(ctx, &mut s, from)?;
        push(ctx, &mut d, to, val.clone());
        s.save(ctx)?;
        d.save(ctx)?;
        val
    };
    ctx.log(vec![
        Bytes::from_static(b"LMOVE"),
        src.clone(),
        dst.clone(),
        from.name(),
        to.name(),
    ]);
    Ok(Ok(Some(val)))
}

fn move_reply(r: Result<Option<Bytes>, Reply>) -> Reply {
    match r {
        Ok(Some(v)) => Reply::Bulk(v),
        Ok(None) => Reply::Nil,
        Err(r) => r,
    }
}

pub fn lmove(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let from = try_reply!(End::parse(&args[3]));
    let to = try_reply!(End::parse(&args[4]));
    Ok(move_reply(move_one(ctx, &args[1], &args[2], from, to)?))
}

pub fn rpoplpush(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(move_reply(move_one(
        ctx,
        &args[1],
        &args[2],
        End::Right,
        End::Left,
    )?))
}

// ------------------------------------------------------------------------------------------
// multi-key pops
// ------------------------------------------------------------------------------------------

/// `numkeys key [key ...] LEFT|RIGHT [COUNT n]` of LMPOP and BLMPOP, starting at `at`.
struct MpopArgs<'a> {
    keys: &'a [Bytes],
    end: End,
    count: u64,
}

fn mpop_args(args: &[Bytes], at: usize) -> Result<MpopArgs<'_>, Reply> {
    let numkeys = match parse_i64(&args[at]) {
        Some(n) if n > 0 => n as u64,
        _ => return Err(Reply::err("ERR numkeys should be greater than 0")),
    };
    let where_at = match usize::try_from(numkeys)
        .ok()
        .and_then(|n| n.checked_add(at + 1))
    {
        Some(w) if w < args.len() => w,
        _ => return Err(Reply::err(errors::SYNTAX)),
    };
    let end = End::parse(&args[where_at])?;
    let mut count = None;
    let mut j = where_at + 1;
    while j < args.len() {
        if count.is_none() && eq_ignore_case(&args[j], "count") && j + 1 < args.len() {
            count = Some(match parse_i64(&args[j + 1]) {
                Some(n) if n > 0 => n as u64,
                _ => return Err(Reply::err("ERR count should be greater than 0")),
            });
            j += 2;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    Ok(MpopArgs {
        keys: &args[at + 1..where_at],
        end,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty list among `keys`: `[key, [elements]]`, or NilArray.
fn mpop(ctx: &mut WriteCtx, m: &MpopArgs) -> ExecResult<Reply> {
    for key in m.keys {
        if let Some(c) = try_reply!(Coll::open(ctx, key, LIST)?) {
            let vals = pop_logged(ctx, c, m.end, m.count)?;
            return Ok(Reply::Array(vec![Reply::Bulk(key.clone()), array(vals)]));
        }
    }
    Ok(Reply::NilArray)
}

pub fn lmpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let m = try_reply!(mpop_args(args, 1));
    mpop(ctx, &m)
}

// ------------------------------------------------------------------------------------------
// blocking commands
// ------------------------------------------------------------------------------------------

/// True if any of `keys` holds a live value (of any type: a wrong type is reported by the
/// non-blocking path). Reads only, so a command that then blocks has changed nothing.
fn any_live(ctx: &WriteCtx, keys: &[Bytes]) -> ExecResult<bool> {
    for k in keys {
        if View::get(ctx, k)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Nothing to serve: park the client on `keys` if it may block, else answer `now` (what the
/// command answers inside MULTI). A parked client that times out gets a null array, BLMOVE and
/// BRPOPLPUSH included: Redis 7 answers every timed-out list pop with `*-1`.
fn wait_for(ctx: &mut WriteCtx, keys: &[Bytes], timeout_ms: u64, now: Reply) -> Reply {
    if !ctx.may_block {
        return now;
    }
    let mut keys = keys.to_vec();
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
    ctx.block = Some(Block { keys, timeout_ms });
    Reply::NilArray
}

fn bpop(ctx: &mut WriteCtx, args: &[Bytes], end: End) -> ExecResult<Reply> {
    let timeout = try_reply!(parse_timeout(&args[args.len() - 1]));
    let keys = &args[1..args.len() - 1];
    if !any_live(ctx, keys)? {
        return Ok(wait_for(ctx, keys, timeout, Reply::NilArray));
    }
    for key in keys {
        if let Some(c) = try_reply!(Coll::open(ctx, key, LIST)?) {
            let val = pop_one_logged(ctx, c, end)?;
            return Ok(Reply::Array(vec![
                Reply::Bulk(key.clone()),
                Reply::Bulk(val),
            ]));
        }
    }
    // The live key expired between the two looks (only possible across a clock tick).
    Ok(wait_for(ctx, keys, timeout, Reply::NilArray))
}

pub fn blpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    bpop(ctx, args, End::Left)
}

pub fn brpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    bpop(ctx, args, End::Right)
}

fn bmove(
    ctx: &mut WriteCtx,
    args: &[Bytes],
    from: End,
    to: End,
    timeout: u64,
) -> ExecResult<Reply> {
    let keys = &args[1..2];
    if !any_live(ctx, keys)? {
        return Ok(wait_for(ctx, keys, timeout, Reply::Nil));
    }
    Ok(match move_one(ctx, &args[1], &args[2], from, to)? {
        Ok(None) => wait_for(ctx, keys, timeout, Reply::Nil),
        other => move_reply(other),
    })
}

pub fn blmove(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let from = try_reply!(End::parse(&args[3]));
    let to = try_reply!(End::parse(&args[4]));
    let timeout = try_reply!(parse_timeout(&args[5]));
    bmove(ctx, args, from, to, timeout)
}

pub fn brpoplpush(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let timeout = try_reply!(parse_timeout(&args[3]));
    bmove(ctx, args, End::Right, End::Left, timeout)
}

pub fn blmpop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let m = try_reply!(mpop_args(args, 2));
    let timeout = try_reply!(parse_timeout(&args[1]));
    if !any_live(ctx, m.keys)? {
        return Ok(wait_for(ctx, m.keys, timeout, Reply::NilArray));
    }
    Ok(match mpop(ctx, &m)? {
        Reply::NilArray => wait_for(ctx, m.keys, timeout, Reply::NilArray),
        r => r,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_count_from_either_end() {
        assert_eq!(index(0, 3), Some(0));
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(-3, 3), Some(0));
        assert_eq!(index(-4, 3), None);
        assert_eq!(index(3, 3), None);
        assert_eq!(index(i64::MIN, 3), None);
        assert_eq!(index(0, 0), None);
    }

    #[test]
    fn lrem_picks_matches_from_the_right_end() {
        let l: Vec<Bytes> = ["a", "b", "a", "c", "a"]
            .iter()
            .map(|s| Bytes::from_static(s.as_bytes()))
            .collect();
        assert_eq!(matching(&l, b"a", 0), vec![0, 2, 4]);
        assert_eq!(matching(&l, b"a", 2), vec![0, 2]);
        assert_eq!(matching(&l, b"a", -2), vec![4, 2]);
        assert_eq!(matching(&l, b"z", 0), Vec::<usize>::new());
        assert_eq!(matching(&l, b"a", i64::MIN), vec![4, 2, 0]);
    }
}
