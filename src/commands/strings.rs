//! String commands. Each write logs its effect in a form that replays to the same state
//! anywhere: relative TTLs become `PXAT <abs ms>`, INCRBYFLOAT becomes a SET of the result with
//! KEEPTTL, a SET whose expire time is already past becomes a DEL.

use bytes::Bytes;

use super::ctx::{View, WriteCtx};
use super::errors::{self, ExecResult};
use super::long_double::{self, LongDouble, Operand};
use super::{eq_ignore_case, int_arg, parse_i64};
use crate::protocol::Reply;
use crate::storage::{Entry, ValueType};
use crate::try_reply;

fn wrongtype() -> Reply {
    Reply::err(errors::WRONGTYPE)
}

/// The string value of a live entry, or WRONGTYPE.
fn as_string(e: &Option<Entry>) -> Result<Option<Bytes>, Reply> {
    match e {
        None => Ok(None),
        Some(e) if e.kind == ValueType::String => Ok(Some(e.value.clone())),
        Some(_) => Err(wrongtype()),
    }
}

pub fn get(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let e = ctx.get(&args[1])?;
    Ok(match as_string(&e) {
        Ok(Some(v)) => Reply::Bulk(v),
        Ok(None) => Reply::Nil,
        Err(r) => r,
    })
}

pub fn mget(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    ctx.isolated(&mut || {
        let mut out = Vec::with_capacity(args.len() - 1);
        for k in &args[1..] {
            out.push(match ctx.get(k)? {
                Some(e) if e.kind == ValueType::String => Reply::Bulk(e.value),
                _ => Reply::Nil,
            });
        }
        Ok(Reply::Array(out))
    })
}

pub fn strlen(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let e = ctx.get(&args[1])?;
    Ok(match as_string(&e) {
        Ok(v) => Reply::Int(v.map(|v| v.len() as i64).unwrap_or(0)),
        Err(r) => r,
    })
}

pub fn getrange(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let start = try_reply!(int_arg(&args[2]));
    let end = try_reply!(int_arg(&args[3]));
    let e = ctx.get(&args[1])?;
    let v = try_reply!(as_string(&e)).unwrap_or_default();
    Ok(Reply::Bulk(substr(&v, start, end)))
}

fn substr(v: &Bytes, mut start: i64, mut end: i64) -> Bytes {
    let len = v.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Bytes::new();
    }
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Bytes::new();
    }
    v.slice(start as usize..=end as usize)
}

/// Expiry options shared by SET and GETEX.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ttl {
    None,
    /// Absolute ms.
    At(u64),
    Keep,
}

/// A time option of SET or GETEX (`unit_ms`, absolute) with its value argument.
type TimeOption<'a> = (&'a Bytes, i64, bool);

/// SET and GETEX take a time option again if it is the same one (`EX 10 EX 20`: the last
/// counts, as in Redis); a different one is a syntax error.
fn repeat_time_option<'a>(
    before: Option<TimeOption<'a>>,
    (unit, abs): (i64, bool),
    value: &'a Bytes,
) -> Result<TimeOption<'a>, Reply> {
    match before {
        Some((_, u, a)) if (u, a) != (unit, abs) => Err(Reply::err(errors::SYNTAX)),
        _ => Ok((value, unit, abs)),
    }
}

/// EX / PX / EXAT / PXAT: the unit in ms and whether the time is absolute.
fn time_option(a: &[u8]) -> Option<(i64, bool)> {
    match a.to_ascii_uppercase().as_slice() {
        b"EX" => Some((1000, false)),
        b"PX" => Some((1, false)),
        b"EXAT" => Some((1000, true)),
        b"PXAT" => Some((1, true)),
        _ => None,
    }
}

/// Converts a relative or absolute time argument into an absolute ms, or the invalid-expire
/// error for the named command.
fn expire_at_ms(
    ctx: &WriteCtx,
    v: &[u8],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> Result<u64, Reply> {
    let n = int_arg(v)?;
    if n <= 0 {
        return Err(Reply::err(errors::invalid_expire(cmd)));
    }
    let ms = n
        .checked_mul(unit_ms)
        .ok_or_else(|| Reply::err(errors::invalid_expire(cmd)))?;
    let at = if absolute {
        ms
    } else {
        ms.checked_add(ctx.clock() as i64)
            .ok_or_else(|| Reply::err(errors::invalid_expire(cmd)))?
    };
    Ok(at as u64)
}

/// Stores a string with the given absolute expire (0 = none), logging the normalised SET, or
/// deletes the key (logging DEL) when the expire time is already past.
fn store_string(ctx: &mut WriteCtx, key: &Bytes, value: Bytes, expire_at: u64) -> ExecResult<()> {
    if expire_at != 0 && ctx.already_expired(expire_at) {
        if ctx.remove(key)? {
            ctx.log(vec![Bytes::from_static(b"DEL"), key.clone()]);
        }
        return Ok(());
    }
    let mut eff = vec![Bytes::from_static(b"SET"), key.clone(), value.clone()];
    if expire_at != 0 {
        eff.push(Bytes::from_static(b"PXAT"));
        eff.push(Bytes::from(expire_at.to_string()));
    }
    ctx.put(key, Entry::string(value, expire_at))?;
    ctx.log(eff);
    Ok(())
}

pub fn set(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let (mut nx, mut xx, mut get, mut keep) = (false, false, false, false);
    let mut time = None;
    let mut i = 3;
    while i < args.len() {
        let a = &args[i];
        let has_next = i + 1 < args.len();
        if eq_ignore_case(a, "NX") && !xx {
            nx = true;
        } else if eq_ignore_case(a, "XX") && !nx {
            xx = true;
        } else if eq_ignore_case(a, "GET") {
            get = true;
        } else if eq_ignore_case(a, "KEEPTTL") && time.is_none() {
            keep = true;
        } else if let Some(t) = time_option(a).filter(|_| has_next && !keep) {
            time = Some(try_reply!(repeat_time_option(time, t, &args[i + 1])));
            i += 1;
        } else {
            return Ok(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    // Only the last of a repeated time option counts, so its value is read after the loop.
    let ttl = match (time, keep) {
        (Some((v, unit, abs)), _) => Ttl::At(try_reply!(expire_at_ms(ctx, v, unit, abs, "set"))),
        (None, true) => Ttl::Keep,
        (None, false) => Ttl::None,
    };
    let key = &args[1];
    let old = ctx.lookup(key)?;
    let old_val = if get {
        try_reply!(as_string(&old))
    } else {
        None
    };
    let exists = old.is_some();
    if (nx && exists) || (xx && !exists) {
        return Ok(if get {
            old_val.map(Reply::Bulk).unwrap_or(Reply::Nil)
        } else {
            Reply::Nil
        });
    }
    let expire_at = match ttl {
        Ttl::At(at) => at,
        Ttl::Keep => old.as_ref().map(|e| e.expire_at).unwrap_or(0),
        Ttl::None => 0,
    };
    store_string(ctx, key, args[2].clone(), expire_at)?;
    Ok(if get {
        old_val.map(Reply::Bulk).unwrap_or(Reply::Nil)
    } else {
        Reply::Ok
    })
}

pub fn setnx(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    if ctx.lookup(&args[1])?.is_some() {
        return Ok(Reply::Int(0));
    }
    store_string(ctx, &args[1], args[2].clone(), 0)?;
    Ok(Reply::Int(1))
}

fn setex_generic(ctx: &mut WriteCtx, args: &[Bytes], unit: i64, cmd: &str) -> ExecResult<Reply> {
    let at = try_reply!(expire_at_ms(ctx, &args[2], unit, false, cmd));
    ctx.lookup(&args[1])?;
    store_string(ctx, &args[1], args[3].clone(), at)?;
    Ok(Reply::Ok)
}

pub fn setex(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    setex_generic(ctx, args, 1000, "setex")
}

pub fn psetex(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    setex_generic(ctx, args, 1, "psetex")
}

pub fn getset(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let old = ctx.lookup(&args[1])?;
    let old = try_reply!(as_string(&old));
    store_string(ctx, &args[1], args[2].clone(), 0)?;
    Ok(old.map(Reply::Bulk).unwrap_or(Reply::Nil))
}

pub fn getdel(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let old = ctx.lookup(&args[1])?;
    let Some(v) = try_reply!(as_string(&old)) else {
        return Ok(Reply::Nil);
    };
    ctx.remove(&args[1])?;
    ctx.log(vec![Bytes::from_static(b"DEL"), args[1].clone()]);
    Ok(Reply::Bulk(v))
}

pub fn getex(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    // Option syntax is checked first; the time value only once the key is known to exist,
    // as Redis does.
    let mut persist = false;
    let mut time = None;
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        if eq_ignore_case(a, "PERSIST") && time.is_none() {
            persist = true;
        } else if let Some(t) = time_option(a).filter(|_| i + 1 < args.len() && !persist) {
            time = Some(try_reply!(repeat_time_option(time, t, &args[i + 1])));
            i += 1;
        } else {
            return Ok(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    let key = &args[1];
    let old = ctx.lookup(key)?;
    let Some(v) = try_reply!(as_string(&old)) else {
        return Ok(Reply::Nil);
    };
    let cur_at = old.as_ref().map(|e| e.expire_at).unwrap_or(0);
    if let Some((val, unit, abs)) = time {
        let at = try_reply!(expire_at_ms(ctx, val, unit, abs, "getex"));
        if ctx.already_expired(at) {
            ctx.remove(key)?;
            ctx.log(vec![Bytes::from_static(b"DEL"), key.clone()]);
        } else {
            ctx.put(key, Entry::string(v.clone(), at))?;
            ctx.log(vec![
                Bytes::from_static(b"PEXPIREAT"),
                key.clone(),
                Bytes::from(at.to_string()),
            ]);
        }
    } else if persist && cur_at != 0 {
        ctx.put(key, Entry::string(v.clone(), 0))?;
        ctx.log(vec![Bytes::from_static(b"PERSIST"), key.clone()]);
    }
    Ok(Reply::Bulk(v))
}

pub fn mset(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    if args.len().is_multiple_of(2) {
        return Ok(Reply::err(errors::wrong_arity("mset")));
    }
    for pair in args[1..].chunks(2) {
        ctx.put(&pair[0], Entry::string(pair[1].clone(), 0))?;
    }
    ctx.log_verbatim(args);
    Ok(Reply::Ok)
}

pub fn msetnx(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    if args.len().is_multiple_of(2) {
        return Ok(Reply::err(errors::wrong_arity("msetnx")));
    }
    for pair in args[1..].chunks(2) {
        if ctx.lookup(&pair[0])?.is_some() {
            return Ok(Reply::Int(0));
        }
    }
    for pair in args[1..].chunks(2) {
        ctx.put(&pair[0], Entry::string(pair[1].clone(), 0))?;
    }
    let mut eff = vec![Bytes::from_static(b"MSET")];
    eff.extend_from_slice(&args[1..]);
    ctx.log(eff);
    Ok(Reply::Int(1))
}

pub fn append(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let old = ctx.lookup(&args[1])?;
    let cur = try_reply!(as_string(&old));
    let at = old.as_ref().map(|e| e.expire_at).unwrap_or(0);
    let mut v = Vec::with_capacity(cur.as_ref().map(|c| c.len()).unwrap_or(0) + args[2].len());
    if let Some(c) = &cur {
        v.extend_from_slice(c);
    }
    v.extend_from_slice(&args[2]);
    if v.len() as u64 > ctx.max_bulk_len {
        return Ok(Reply::err(errors::STRING_TOO_LONG));
    }
    let len = v.len();
    ctx.put(&args[1], Entry::string(Bytes::from(v), at))?;
    ctx.log_verbatim(args);
    Ok(Reply::Int(len as i64))
}

fn incr_generic(ctx: &mut WriteCtx, key: &Bytes, by: i64) -> ExecResult<Reply> {
    let old = ctx.lookup(key)?;
    let cur = try_reply!(as_string(&old));
    let n = match &cur {
        None => 0,
        Some(v) => match parse_i64(v) {
            Some(n) => n,
            None => return Ok(Reply::err(errors::NOT_INTEGER)),
        },
    };
    let Some(new) = n.checked_add(by) else {
        return Ok(Reply::err(errors::OVERFLOW));
    };
    let at = old.as_ref().map(|e| e.expire_at).unwrap_or(0);
    ctx.put(key, Entry::string(Bytes::from(new.to_string()), at))?;
    // Deterministic given the state, which every node has at this offset.
    ctx.log(vec![
        Bytes::from_static(b"INCRBY"),
        key.clone(),
        Bytes::from(by.to_string()),
    ]);
    Ok(Reply::Int(new))
}

pub fn incr(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    incr_generic(ctx, &args[1], 1)
}

pub fn decr(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    incr_generic(ctx, &args[1], -1)
}

pub fn incrby(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let by = try_reply!(int_arg(&args[2]));
    incr_generic(ctx, &args[1], by)
}

pub fn decrby(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let by = try_reply!(int_arg(&args[2]));
    let Some(neg) = by.checked_neg() else {
        return Ok(Reply::err("ERR decrement would overflow"));
    };
    incr_generic(ctx, &args[1], neg)
}

pub fn incrbyfloat(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let key = &args[1];
    let old = ctx.lookup(key)?;
    // Redis checks the key's type before the increment.
    let cur = try_reply!(as_string(&old));
    let Some(by) = long_double::parse(&args[2]) else {
        return Ok(Reply::err(errors::NOT_FLOAT));
    };
    let n = match &cur {
        None => Some(Operand::Finite(LongDouble::default())),
        Some(v) => long_double::parse(v),
    };
    let Some(n) = n else {
        return Ok(Reply::err(errors::NOT_FLOAT));
    };
    let new = match (n, by) {
        (Operand::Finite(a), Operand::Finite(b)) => a.add(&b),
        _ => None,
    };
    let Some(new) = new else {
        return Ok(Reply::err(errors::NAN_OR_INF));
    };
    let s = Bytes::from(new.to_redis_string());
    let at = old.as_ref().map(|e| e.expire_at).unwrap_or(0);
    ctx.put(key, Entry::string(s.clone(), at))?;
    ctx.log(vec![
        Bytes::from_static(b"SET"),
        key.clone(),
        s.clone(),
        Bytes::from_static(b"KEEPTTL"),
    ]);
    Ok(Reply::Bulk(s))
}

pub fn setrange(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let offset = try_reply!(int_arg(&args[2]));
    if offset < 0 {
        return Ok(Reply::err(errors::OFFSET_RANGE));
    }
    let key = &args[1];
    let piece = &args[3];
    let old = ctx.lookup(key)?;
    let cur = try_reply!(as_string(&old));
    if piece.is_empty() {
        return Ok(Reply::Int(cur.map(|c| c.len() as i64).unwrap_or(0)));
    }
    let end = offset as u64 + piece.len() as u64;
    if end > ctx.max_bulk_len {
        return Ok(Reply::err(errors::STRING_TOO_LONG));
    }
    let mut v = cur.map(|c| c.to_vec()).unwrap_or_default();
    if v.len() < end as usize {
        v.resize(end as usize, 0);
    }
    v[offset as usize..end as usize].copy_from_slice(piece);
    let len = v.len();
    let at = old.as_ref().map(|e| e.expire_at).unwrap_or(0);
    ctx.put(key, Entry::string(Bytes::from(v), at))?;
    ctx.log_verbatim(args);
    Ok(Reply::Int(len as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getrange_matches_redis_edges() {
        let v = Bytes::from("This is a string");
        assert_eq!(substr(&v, 0, 3), "This");
        assert_eq!(substr(&v, -3, -1), "ing");
        assert_eq!(substr(&v, 0, -1), v);
        assert_eq!(substr(&v, 10, 100), "string");
        assert_eq!(substr(&v, -1, -5), "");
        assert_eq!(substr(&Bytes::new(), 0, -1), "");
    }
}
