//! Hash commands. One field is one element (`field -> value`), so HSET and HGET cost one
//! RocksDB operation per field however large the hash is.
//!
//! Logged by effect: HINCRBY and HINCRBYFLOAT become `HSET key field <result>`, HMSET becomes
//! HSET, HSETNX becomes HSET when it sets, HDEL names only the fields it removed.

use bytes::Bytes;

use super::coll::{pick_random, rand_args, Coll};
use super::ctx::{View, WriteCtx};
use super::errors::{self, ExecResult};
use super::long_double::{self, LongDouble, Operand};
use super::{parse_i64, CommandSpec, Exec, R, RF, WF};
use crate::cmd;
use crate::protocol::Reply;
use crate::storage::ValueType;
use crate::try_reply;

const HASH: ValueType = ValueType::Hash;

pub static COMMANDS: &[CommandSpec] = &[
    cmd!("hset", -4, WF, 1, 1, 1, Exec::Write(hset)),
    cmd!("hmset", -4, WF, 1, 1, 1, Exec::Write(hmset)),
    cmd!("hsetnx", 4, WF, 1, 1, 1, Exec::Write(hsetnx)),
    cmd!("hget", 3, RF, 1, 1, 1, Exec::Read(hget)),
    cmd!("hmget", -3, RF, 1, 1, 1, Exec::Read(hmget)),
    cmd!("hdel", -3, WF, 1, 1, 1, Exec::Write(hdel)),
    cmd!("hlen", 2, RF, 1, 1, 1, Exec::Read(hlen)),
    cmd!("hexists", 3, RF, 1, 1, 1, Exec::Read(hexists)),
    cmd!("hgetall", 2, R, 1, 1, 1, Exec::Read(hgetall)),
    cmd!("hkeys", 2, R, 1, 1, 1, Exec::Read(hkeys)),
    cmd!("hvals", 2, R, 1, 1, 1, Exec::Read(hvals)),
    cmd!("hincrby", 4, WF, 1, 1, 1, Exec::Write(hincrby)),
    cmd!("hincrbyfloat", 4, WF, 1, 1, 1, Exec::Write(hincrbyfloat)),
    cmd!("hstrlen", 3, RF, 1, 1, 1, Exec::Read(hstrlen)),
    cmd!("hrandfield", -2, R, 1, 1, 1, Exec::Read(hrandfield)),
    cmd!("hscan", -3, R, 1, 1, 1, Exec::Conn),
];

fn set_fields(ctx: &mut WriteCtx, args: &[Bytes], name: &str) -> ExecResult<Result<i64, Reply>> {
    if !args.len().is_multiple_of(2) {
        return Ok(Err(Reply::err(errors::wrong_arity(name))));
    }
    let mut c = match Coll::open_or_create(ctx, &args[1], HASH)? {
        Ok(c) => c,
        Err(r) => return Ok(Err(r)),
    };
    let mut added = 0;
    for pair in args[2..].chunks(2) {
        if c.get(ctx, &pair[0])?.is_none() {
            added += 1;
            c.meta.size += 1;
        }
        c.put(ctx, &pair[0], pair[1].clone());
    }
    c.save(ctx)?;
    let mut logged = args.to_vec();
    logged[0] = Bytes::from_static(b"HSET");
    ctx.log(logged);
    Ok(Ok(added))
}

pub fn hset(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(match set_fields(ctx, args, "hset")? {
        Ok(n) => Reply::Int(n),
        Err(r) => r,
    })
}

pub fn hmset(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(match set_fields(ctx, args, "hmset")? {
        Ok(_) => Reply::Ok,
        Err(r) => r,
    })
}

pub fn hsetnx(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let mut c = try_reply!(Coll::open_or_create(ctx, &args[1], HASH)?);
    if c.get(ctx, &args[2])?.is_some() {
        return Ok(Reply::Int(0));
    }
    c.meta.size += 1;
    c.put(ctx, &args[2], args[3].clone());
    c.save(ctx)?;
    ctx.log(vec![
        Bytes::from_static(b"HSET"),
        args[1].clone(),
        args[2].clone(),
        args[3].clone(),
    ]);
    Ok(Reply::Int(1))
}

pub fn hget(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(Coll::read(v, &args[1], HASH)?) else {
        return Ok(Reply::Nil);
    };
    Ok(c.get(v, &args[2])?.map(Reply::Bulk).unwrap_or(Reply::Nil))
}

pub fn hmget(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(Coll::read(v, &args[1], HASH)?);
    let mut out = Vec::with_capacity(args.len() - 2);
    for f in &args[2..] {
        let val = match &c {
            Some(c) => c.get(v, f)?,
            None => None,
        };
        out.push(val.map(Reply::Bulk).unwrap_or(Reply::Nil));
    }
    Ok(Reply::Array(out))
}

pub fn hdel(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(mut c) = try_reply!(Coll::open(ctx, &args[1], HASH)?) else {
        return Ok(Reply::Int(0));
    };
    let mut logged = vec![args[0].clone(), args[1].clone()];
    for f in &args[2..] {
        if c.get(ctx, f)?.is_some() {
            c.del(ctx, f);
            c.meta.size -= 1;
            logged.push(f.clone());
        }
    }
    let n = logged.len() as i64 - 2;
    if n > 0 {
        c.save(ctx)?;
        ctx.log(logged);
    }
    Ok(Reply::Int(n))
}

pub fn hlen(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let c = try_reply!(Coll::read(v, &args[1], HASH)?);
    Ok(Reply::Int(c.map(|c| c.meta.size as i64).unwrap_or(0)))
}

pub fn hexists(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(Coll::read(v, &args[1], HASH)?) else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::Int(c.get(v, &args[2])?.is_some() as i64))
}

fn all_fields(v: &dyn View, key: &[u8]) -> ExecResult<Result<Vec<(Bytes, Bytes)>, Reply>> {
    Ok(match Coll::read(v, key, HASH)? {
        Ok(Some(c)) => Ok(c.all(v)?),
        Ok(None) => Ok(Vec::new()),
        Err(r) => Err(r),
    })
}

pub fn hgetall(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let all = try_reply!(all_fields(v, &args[1])?);
    Ok(Reply::Map(
        all.into_iter()
            .map(|(f, val)| (Reply::Bulk(f), Reply::Bulk(val)))
            .collect(),
    ))
}

pub fn hkeys(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let all = try_reply!(all_fields(v, &args[1])?);
    Ok(Reply::Array(
        all.into_iter().map(|(f, _)| Reply::Bulk(f)).collect(),
    ))
}

pub fn hvals(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let all = try_reply!(all_fields(v, &args[1])?);
    Ok(Reply::Array(
        all.into_iter().map(|(_, val)| Reply::Bulk(val)).collect(),
    ))
}

pub fn hstrlen(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(c) = try_reply!(Coll::read(v, &args[1], HASH)?) else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::Int(
        c.get(v, &args[2])?.map(|x| x.len() as i64).unwrap_or(0),
    ))
}

/// Stores `value` in `field` and logs it as HSET; shared by the two increments.
fn store_number(
    ctx: &mut WriteCtx,
    mut c: Coll,
    field: &Bytes,
    value: Bytes,
    is_new: bool,
) -> ExecResult<()> {
    if is_new {
        c.meta.size += 1;
    }
    c.put(ctx, field, value.clone());
    c.save(ctx)?;
    ctx.log(vec![
        Bytes::from_static(b"HSET"),
        c.key.clone(),
        field.clone(),
        value,
    ]);
    Ok(())
}

pub fn hincrby(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let Some(by) = parse_i64(&args[3]) else {
        return Ok(Reply::err(errors::NOT_INTEGER));
    };
    let c = try_reply!(Coll::open_or_create(ctx, &args[1], HASH)?);
    let cur = c.get(ctx, &args[2])?;
    let n = match &cur {
        None => 0,
        Some(x) => match parse_i64(x) {
            Some(n) => n,
            None => return Ok(Reply::err("ERR hash value is not an integer")),
        },
    };
    let Some(new) = n.checked_add(by) else {
        return Ok(Reply::err(errors::OVERFLOW));
    };
    store_number(
        ctx,
        c,
        &args[2],
        Bytes::from(new.to_string()),
        cur.is_none(),
    )?;
    Ok(Reply::Int(new))
}

pub fn hincrbyfloat(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let by = match long_double::parse(&args[3]) {
        Some(Operand::Finite(by)) => by,
        Some(Operand::Infinite) => return Ok(Reply::err("ERR value is NaN or Infinity")),
        None => return Ok(Reply::err(errors::NOT_FLOAT)),
    };
    let c = try_reply!(Coll::open_or_create(ctx, &args[1], HASH)?);
    let cur = c.get(ctx, &args[2])?;
    let n = match &cur {
        None => Some(Operand::Finite(LongDouble::default())),
        Some(x) => long_double::parse(x),
    };
    let new = match n {
        Some(Operand::Finite(n)) => n.add(&by),
        Some(Operand::Infinite) => None,
        None => return Ok(Reply::err("ERR hash value is not a float")),
    };
    let Some(new) = new else {
        return Ok(Reply::err(errors::NAN_OR_INF));
    };
    let s = Bytes::from(new.to_redis_string());
    store_number(ctx, c, &args[2], s.clone(), cur.is_none())?;
    Ok(Reply::Bulk(s))
}

pub fn hrandfield(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let (count, withvalues) = try_reply!(rand_args(args, "WITHVALUES"));
    let all = try_reply!(all_fields(v, &args[1])?);
    let Some(count) = count else {
        return Ok(pick_random(all, 1)
            .pop()
            .map(|(f, _)| Reply::Bulk(f))
            .unwrap_or(Reply::Nil));
    };
    let picked = pick_random(all, count);
    Ok(if withvalues {
        Reply::Pairs(
            picked
                .into_iter()
                .map(|(f, val)| (Reply::Bulk(f), Reply::Bulk(val)))
                .collect(),
        )
    } else {
        Reply::Array(picked.into_iter().map(|(f, _)| Reply::Bulk(f)).collect())
    })
}
