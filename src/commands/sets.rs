//! Set commands. One member is one element (`member -> empty`), so SADD, SREM and SISMEMBER
//! cost one RocksDB operation per member however large the set is.
//!
//! SINTER walks the smallest set and probes the others (O(smallest x sets)); SUNION and SDIFF
//! read every set they name. Logged by effect where the command is not deterministic: SPOP
//! becomes `SREM key <popped members>`; everything else replays as sent.

use std::collections::BTreeSet;

use bytes::Bytes;

use super::coll::{rand_args, sample, sample_with_repeats, Coll};
use super::ctx::{View, WriteCtx};
use super::errors::{self, ExecResult};

use super::{eq_ignore_case, parse_i64, CommandSpec, Exec, R, RF, W, WF};
use crate::cmd;
use crate::protocol::Reply;
use crate::storage::ValueType;
use crate::try_reply;

const SET: ValueType = ValueType::Set;

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("sadd", -3, WF, 1, 1, 1, Exec::Write(sadd)),
    cmd!("srem", -3, WF, 1, 1, 1, Exec::Write(srem)),
    cmd!("smembers", 2, R, 1, 1, 1, Exec::Read(smembers)),
    cmd!("sismember", 3, RF, 1, 1, 1, Exec::Read(sismember)),
    cmd!("smismember", -3, RF, 1, 1, 1, Exec::Read(smismember)),
    cmd!("scard", 2, RF, 1, 1, 1, Exec::Read(scard)),
    cmd!("spop", -2, WF, 1, 1, 1, Exec::Write(spop)),
    cmd!("srandmember", -2, R, 1, 1, 1, Exec::Read(srandmember)),
    cmd!("smove", 4, WF, 1, 2, 1, Exec::Write(smove)),
    cmd!("sinter", -2, R, 1, -1, 1, Exec::Read(sinter)),
    cmd!("sintercard", -3, R, 0, 0, 0, Exec::Read(sintercard)),
    cmd!("sunion", -2, R, 1, -1, 1, Exec::Read(sunion)),
    cmd!("sdiff", -2, R, 1, -1, 1, Exec::Read(sdiff)),
    cmd!("sinterstore", -3, W, 1, -1, 1, Exec::Write(sinterstore)),
    cmd!("sunionstore", -3, W, 1, -1, 1, Exec::Write(sunionstore)),
    cmd!("sdiffstore", -3, W, 1, -1, 1, Exec::Write(sdiffstore)),
    cmd!("sscan", -3, R, 1, 1, 1, Exec::Conn),
];

pub fn sadd(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let mut c = try_reply!(Coll::open_or_create(ctx, &args[1], SET)?);
    let mut added = 0;
    for m in &args[2..] {
        if c.get(ctx, m)?.is_none() {
            c.put(ctx, m, Bytes::new());
            c.meta.size += 1;
            added += 1;
        }
    }
    if added > 0 {
        c.save(ctx)?;
        ctx.log_verbatim(args);
    }
    Ok(Reply::Int(added))
}

/// Removes `members` that are present; returns those removed (not yet saved or logged).
fn remove_members(ctx: &mut WriteCtx, c: &mut Coll, members: &[Bytes]) -> ExecResult<Vec<Bytes>> {
    let mut removed = Vec::new();
    for m in members {
        if c.get(ctx, m)?.is_some() {
            c.del(ctx, m);
            c.meta.size -= 1;
            removed.push(m.clone());
        }
    }
    Ok(removed)
}

fn log_srem(ctx: &mut WriteCtx, key: &Bytes, removed: &[Bytes]) {
    let mut logged = Vec::with_capacity(removed.len() + 2);
    logged.push(Bytes::from_static(b"SREM"));
    logged.push(key.clone());
    logged.extend_from_slice(removed);
    ctx.log(logged);
}

pub fn srem(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], SET)?) else {
        return Ok(Reply::Int(0));
    };
    let removed = remove_members(ctx, &mut c, &args[2..])?;
    if !removed.is_empty() {
        c.save(ctx)?;
        log_srem(ctx, &args[1], &removed);
    }
    Ok(Reply::Int(removed.len() as i64))
}

/// Every member of the set at `key` (empty when missing), or WRONGTYPE.
pub fn members(v: &dyn View, key: &[u8]) -> ExecResult<Result<Vec<Bytes>, Reply>> {
    Ok(match Coll::read(v, key, SET)? {
        Ok(Some(c)) => Ok(c.all(v)?.into_iter().map(|(m, _)| m).collect()),
        Ok(None) => Ok(Vec::new()),
        Err(r) => Err(r),
    })
}

fn set_reply(items: impl IntoIterator<Item = Bytes>) -> Reply {
    Reply::Set(items.into_iter().map(Reply::Bulk).collect())
}

pub fn smembers(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(set_reply(try_reply!(members(v, &args[1])?)))
}

pub fn sismember(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(Coll::read(v, &args[1], SET)?) else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::Int(c.get(v, &args[2])?.is_some() as i64))
}

pub fn smismember(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(Coll::read(v, &args[1], SET)?);
    let mut out = Vec::with_capacity(args.len() - 2);
    for m in &args[2..] {
        let found = match &c {
            Some(c) => c.get(v, m)?.is_some(),
            None => false,
        };
        out.push(Reply::Int(found as i64));
    }
    Ok(Reply::Array(out))
}

pub fn scard(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(Coll::read(v, &args[1], SET)?);
    Ok(Reply::Int(c.map(|c| c.meta.size as i64).unwrap_or(0)))
}

pub fn spop(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let count = match args.len() {
        2 => None,
        3 => match parse_i64(&args[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Ok(Reply::err("ERR value is out of range, must be positive")),
        },
        _ => return Ok(Reply::err(errors::SYNTAX)),
    };
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], SET)?) else {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Set(vec![]),
        });
    };
    let n = count.unwrap_or(1).min(c.meta.size);
    if n == 0 {
        return Ok(Reply::Set(vec![]));
    }
    let picked: Vec<Bytes> = sample(ctx, &c, n)?.into_iter().map(|(m, _)| m).collect();
    let removed = remove_members(ctx, &mut c, &picked)?;
    c.save(ctx)?;
    log_srem(ctx, &args[1], &removed);
    Ok(match count {
        None => removed
            .into_iter()
            .next()
            .map(Reply::Bulk)
            .unwrap_or(Reply::Nil),
        Some(_) => set_reply(removed),
    })
}

pub fn srandmember(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let (count, _) = try_reply!(rand_args(args, ""));
    let Some(c) = try_reply!(Coll::read(v, &args[1], SET)?) else {
        return Ok(match count {
            None => Reply::Nil,
            Some(_) => Reply::Array(vec![]),
        });
    };
    let Some(count) = count else {
        let one = sample(v, &c, 1)?;
        return Ok(one
            .into_iter()
            .next()
            .map(|(m, _)| Reply::Bulk(m))
            .unwrap_or(Reply::Nil));
    };
    let picked = if count >= 0 {
        sample(v, &c, count as u64)?
    } else {
        sample_with_repeats(v, &c, count.unsigned_abs())?
    };
    Ok(Reply::Array(
        picked.into_iter().map(|(m, _)| Reply::Bulk(m)).collect(),
    ))
}

pub fn smove(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let (src, dst, m) = (&args[1], &args[2], &args[3]);
    let Some(mut from) = try_reply!(Coll::open(ctx, src, SET)?) else {
        // As Redis: a missing source answers 0 before the destination's type is looked at.
        return Ok(Reply::Int(0));
    };
    try_reply!(Coll::open(ctx, dst, SET)?);
    if from.get(ctx, m)?.is_none() {
        return Ok(Reply::Int(0));
    }
    if src == dst {
        return Ok(Reply::Int(1));
    }
    from.del(ctx, m);
    from.meta.size -= 1;
    from.save(ctx)?;
    let mut to = try_reply!(Coll::open_or_create(ctx, dst, SET)?);
    if to.get(ctx, m)?.is_none() {
        to.put(ctx, m, Bytes::new());
        to.meta.size += 1;
        to.save(ctx)?;
    }
    ctx.log_verbatim(args);
    Ok(Reply::Int(1))
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// The result of SINTER/SUNION/SDIFF over `keys`, sorted, or WRONGTYPE.
fn combine(v: &dyn View, keys: &[Bytes], op: Op) -> ExecResult<Result<Vec<Bytes>, Reply>> {
    v.pin();
    let mut sets = Vec::with_capacity(keys.len());
    for k in keys {
        match Coll::read(v, k, SET)? {
            Ok(c) => sets.push(c),
            Err(r) => return Ok(Err(r)),
        }
    }
    let out: Vec<Bytes> = match op {
        Op::Inter => {
            if sets.iter().any(|c| c.is_none()) {
                return Ok(Ok(Vec::new()));
            }
            let mut sets: Vec<Coll> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|c| c.meta.size);
            let Some((smallest, rest)) = sets.split_first() else {
                return Ok(Ok(Vec::new()));
            };
            let mut out = Vec::new();
            'member: for (m, _) in smallest.all(v)? {
                for other in rest {
                    if other.get(v, &m)?.is_none() {
                        continue 'member;
                    }
                }
                out.push(m);
            }
            out
        }
        Op::Union => {
            let mut all = BTreeSet::new();
            for c in sets.iter().flatten() {
                all.extend(c.all(v)?.into_iter().map(|(m, _)| m));
            }
            all.into_iter().collect()
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Ok(Ok(Vec::new()));
            };
            let mut out = Vec::new();
            'm: for (m, _) in first.all(v)? {
                for other in sets[1..].iter().flatten() {
                    if other.get(v, &m)?.is_some() {
                        continue 'm;
                    }
                }
                out.push(m);
            }
            out
        }
    };
    Ok(Ok(out))
}

pub fn sinter(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(set_reply(try_reply!(combine(v, &args[1..], Op::Inter)?)))
}

pub fn sunion(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(set_reply(try_reply!(combine(v, &args[1..], Op::Union)?)))
}

pub fn sdiff(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(set_reply(try_reply!(combine(v, &args[1..], Op::Diff)?)))
}

pub fn sintercard(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let n = match parse_i64(&args[1]) {
        Some(n) if n > 0 => n as usize,
        Some(_) | None => {
            return Ok(Reply::err("ERR numkeys should be greater than 0"));
        }
    };
    if args.len() < 2 + n {
        return Ok(Reply::err(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0usize;
    // Options in any number, the last LIMIT winning, as Redis reads them.
    let mut rest = &args[2 + n..];
    while !rest.is_empty() {
        match rest {
            [opt, l, tail @ ..] if eq_ignore_case(opt, "LIMIT") => {
                match parse_i64(l) {
                    Some(l) if l >= 0 => limit = l as usize,
                    _ => return Ok(Reply::err("ERR LIMIT can't be negative")),
                }
                rest = tail;
            }
            _ => return Ok(Reply::err(errors::SYNTAX)),
        }
    }
    let out = try_reply!(combine(v, &args[2..2 + n], Op::Inter)?);
    let len = if limit > 0 {
        out.len().min(limit)
    } else {
        out.len()
    };
    Ok(Reply::Int(len as i64))
}

fn store(ctx: &mut WriteCtx, args: &[Bytes], op: Op) -> ExecResult<Reply> {
    // Expire the sources here (logging their DELs) so a replay, where nothing expires by the
    // clock, reads the same sources.
    for k in &args[2..] {
        ctx.lookup(k)?;
    }
    let result = try_reply!(combine(ctx, &args[2..], op)?);
    let dst = &args[1];
    ctx.lookup(dst)?;
    ctx.remove(dst)?;
    if !result.is_empty() {
        let mut c = Coll::create(ctx, dst, SET);
        for m in &result {
            c.put(ctx, m, Bytes::new());
        }
        c.meta.size = result.len() as u64;
        c.save(ctx)?;
    }
    ctx.log_verbatim(args);
    Ok(Reply::Int(result.len() as i64))
}

pub fn sinterstore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    store(ctx, args, Op::Inter)
}

pub fn sunionstore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    store(ctx, args, Op::Union)
}

pub fn sdiffstore(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    store(ctx, args, Op::Diff)
}
