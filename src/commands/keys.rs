//! Generic key commands: existence, type, rename, TTLs, enumeration, flushing.
//!
//! Every EXPIRE-family command is logged as `PEXPIREAT key <abs ms>` when it takes effect, or
//! as `DEL key` when the time is already past, so replicas never depend on their own clocks.

use bytes::Bytes;

use super::coll::copy_value;
use super::ctx::{View, WriteCtx};
use super::errors::{self, ExecResult};
use super::{eq_ignore_case, glob, int_arg};
use crate::protocol::Reply;
use crate::storage::{Entry, ValueType, DATABASES};
use crate::try_reply;

pub fn del(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let mut n = 0;
    let mut deleted = vec![Bytes::from_static(b"DEL")];
    for k in &args[1..] {
        if ctx.lookup(k)?.is_some() {
            ctx.remove(k)?;
            deleted.push(k.clone());
            n += 1;
        }
    }
    if n > 0 {
        ctx.log(deleted);
    }
    Ok(Reply::Int(n))
}

pub fn exists(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    ctx.isolated(&mut || {
        let mut n = 0;
        for k in &args[1..] {
            if ctx.get(k)?.is_some() {
                n += 1;
            }
        }
        Ok(Reply::Int(n))
    })
}

pub fn type_(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(Reply::Simple(match ctx.get(&args[1])? {
        Some(e) => e.kind.name().to_string(),
        None => "none".to_string(),
    }))
}

fn rename_generic(ctx: &mut WriteCtx, args: &[Bytes], nx: bool) -> ExecResult<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    let Some(e) = ctx.lookup(src)? else {
        return Ok(Reply::err(errors::NO_SUCH_KEY));
    };
    if src == dst {
        return Ok(if nx { Reply::Int(0) } else { Reply::Ok });
    }
    if nx && ctx.lookup(dst)?.is_some() {
        return Ok(Reply::Int(0));
    }
    ctx.lookup(dst)?;
    let moved = copy_value(ctx, src, &e, ctx.db, dst)?;
    ctx.remove(src)?;
    ctx.put(dst, moved)?;
    ctx.log(vec![
        Bytes::from_static(b"RENAME"),
        src.clone(),
        dst.clone(),
    ]);
    Ok(if nx { Reply::Int(1) } else { Reply::Ok })
}

/// COPY source destination [DB n] [REPLACE]
pub fn copy(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let (src, dst) = (&args[1], &args[2]);
    let mut dst_db = ctx.db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq_ignore_case(&args[i], "REPLACE") {
            replace = true;
            i += 1;
        } else if eq_ignore_case(&args[i], "DB") && i + 1 < args.len() {
            dst_db = try_reply!(super::db_index(&args[i + 1]));
            i += 2;
        } else {
            return Ok(Reply::err(errors::SYNTAX));
        }
    }
    if src == dst && dst_db == ctx.db {
        return Ok(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    let Some(e) = ctx.lookup(src)? else {
        return Ok(Reply::Int(0));
    };
    let copied = copy_value(ctx, src, &e, dst_db, dst)?;
    let src_db = ctx.db;
    ctx.db = dst_db;
    let result = (|| {
        if ctx.lookup(dst)?.is_some() {
            if !replace {
                return Ok(false);
            }
            ctx.remove(dst)?;
        }
        ctx.put(dst, copied)?;
        Ok(true)
    })();
    ctx.db = src_db;
    if !result? {
        return Ok(Reply::Int(0));
    }
    ctx.log_verbatim(args);
    Ok(Reply::Int(1))
}

/// MOVE key db: moves the key (with its TTL) unless the target database has it already.
pub fn move_(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    let dst_db = try_reply!(super::db_index(&args[2]));
    if dst_db == ctx.db {
        return Ok(Reply::err(
            "ERR source and destination objects are the same",
        ));
    }
    let key = &args[1];
    let Some(e) = ctx.lookup(key)? else {
        return Ok(Reply::Int(0));
    };
    let src_db = ctx.db;
    ctx.db = dst_db;
    let taken = ctx.lookup(key);
    ctx.db = src_db;
    if taken?.is_some() {
        return Ok(Reply::Int(0));
    }
    let moved = copy_value(ctx, key, &e, dst_db, key)?;
    ctx.remove(key)?;
    ctx.db = dst_db;
    let put = ctx.put(key, moved);
    ctx.db = src_db;
    put?;
    ctx.log_verbatim(args);
    Ok(Reply::Int(1))
}

/// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP. Encodings are stable names by type (durakv
/// has one representation per type, on disk).
pub fn object(v: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    if sub == "help" {
        return Ok(Reply::Array(
            [
                "OBJECT <subcommand>",
                "ENCODING <key>",
                "REFCOUNT <key>",
                "IDLETIME <key>",
                "FREQ <key>",
            ]
            .iter()
            .map(|s| Reply::Simple((*s).into()))
            .collect(),
        ));
    }
    if !matches!(sub.as_str(), "encoding" | "refcount" | "idletime" | "freq") || args.len() != 3 {
        return Ok(Reply::err(errors::unknown_subcommand(&args[1], "OBJECT")));
    }
    let Some(e) = v.get(&args[2])? else {
        return Ok(Reply::Nil);
    };
    Ok(match sub.as_str() {
        "encoding" => Reply::bulk(encoding_name(&e)),
        "refcount" => Reply::Int(1),
        _ => Reply::Int(0),
    })
}

fn encoding_name(e: &Entry) -> &'static str {
    match e.kind {
        ValueType::String if super::parse_i64(&e.value).is_some() => "int",
        ValueType::String if e.value.len() <= 44 => "embstr",
        ValueType::String => "raw",
        ValueType::Hash => "hashtable",
        ValueType::List => "quicklist",
        ValueType::Set => "hashtable",
        ValueType::ZSet => "skiplist",
    }
}

pub fn rename(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    rename_generic(ctx, args, false)
}

pub fn renamenx(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    rename_generic(ctx, args, true)
}

#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(args: &[Bytes]) -> Result<ExpireFlags, Reply> {
    let mut f = ExpireFlags::default();
    for a in args {
        if eq_ignore_case(a, "NX") {
            f.nx = true;
        } else if eq_ignore_case(a, "XX") {
            f.xx = true;
        } else if eq_ignore_case(a, "GT") {
            f.gt = true;
        } else if eq_ignore_case(a, "LT") {
            f.lt = true;
        } else {
            return Err(Reply::err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

fn expire_generic(
    ctx: &mut WriteCtx,
    args: &[Bytes],
    unit_ms: i64,
    absolute: bool,
    cmd: &str,
) -> ExecResult<Reply> {
    let n = try_reply!(int_arg(&args[2]));
    let flags = try_reply!(parse_expire_flags(&args[3..]));
    let invalid = || Reply::err(errors::invalid_expire(cmd));
    let Some(ms) = n.checked_mul(unit_ms) else {
        return Ok(invalid());
    };
    let at = if absolute {
        ms
    } else {
        match ms.checked_add(ctx.clock() as i64) {
            Some(v) => v,
            None => return Ok(invalid()),
        }
    };
    let key = &args[1];
    let Some(e) = ctx.lookup(key)? else {
        return Ok(Reply::Int(0));
    };
    let cur = e.expire_at;
    // A key without TTL counts as an infinite TTL for GT and LT.
    let allowed = if flags.nx {
        cur == 0
    } else if flags.xx {
        cur != 0 && (!flags.gt || at > cur as i64) && (!flags.lt || at < cur as i64)
    } else if flags.gt {
        cur != 0 && at > cur as i64
    } else if flags.lt {
        cur == 0 || at < cur as i64
    } else {
        true
    };
    if !allowed {
        return Ok(Reply::Int(0));
    }
    if at <= 0 || ctx.already_expired(at as u64) {
        ctx.remove(key)?;
        ctx.log(vec![Bytes::from_static(b"DEL"), key.clone()]);
        return Ok(Reply::Int(1));
    }
    let at = at as u64;
    ctx.put(key, Entry { expire_at: at, ..e })?;
    ctx.log(vec![
        Bytes::from_static(b"PEXPIREAT"),
        key.clone(),
        Bytes::from(at.to_string()),
    ]);
    Ok(Reply::Int(1))
}

pub fn expire(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    expire_generic(ctx, args, 1000, false, "expire")
}

pub fn pexpire(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    expire_generic(ctx, args, 1, false, "pexpire")
}

pub fn expireat(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    expire_generic(ctx, args, 1000, true, "expireat")
}

pub fn pexpireat(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    expire_generic(ctx, args, 1, true, "pexpireat")
}

pub fn persist(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    match ctx.lookup(&args[1])? {
        Some(e) if e.expire_at != 0 => {
            ctx.put(&args[1], Entry { expire_at: 0, ..e })?;
            ctx.log_verbatim(args);
            Ok(Reply::Int(1))
        }
        _ => Ok(Reply::Int(0)),
    }
}

fn ttl_generic(ctx: &dyn View, key: &[u8], f: impl Fn(u64) -> i64) -> ExecResult<Reply> {
    Ok(Reply::Int(match ctx.get(key)? {
        None => -2,
        Some(e) if e.expire_at == 0 => -1,
        Some(e) => f(e.expire_at),
    }))
}

pub fn ttl(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let now = ctx.now();
    ttl_generic(ctx, &args[1], |at| {
        ((at.saturating_sub(now) + 500) / 1000) as i64
    })
}

pub fn pttl(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let now = ctx.now();
    ttl_generic(ctx, &args[1], |at| at.saturating_sub(now) as i64)
}

pub fn expiretime(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    ttl_generic(ctx, &args[1], |at| (at / 1000) as i64)
}

pub fn pexpiretime(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    ttl_generic(ctx, &args[1], |at| at as i64)
}

pub fn keys(ctx: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    let pat = &args[1];
    let all = pat.as_ref() == b"*";
    let mut out = Vec::new();
    let now = ctx.now();
    ctx.scan_keys(b"", &mut |k, e| {
        if !e.is_expired(now) && (all || glob::matches(pat, k, false)) {
            out.push(Reply::Bulk(Bytes::copy_from_slice(k)));
        }
        true
    })?;
    Ok(Reply::Array(out))
}

/// One SCAN step: up to `count` keys visited from `from`, filtered. Returns the matching keys
/// and the key to continue from (None when the database is exhausted).
pub fn scan_step(
    ctx: &dyn View,
    from: &[u8],
    count: usize,
    pattern: Option<&[u8]>,
    type_filter: Option<&[u8]>,
) -> ExecResult<(Vec<Reply>, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut visited = 0;
    let mut next = None;
    let now = ctx.now();
    ctx.scan_keys(from, &mut |k, e| {
        if visited >= count {
            next = Some(k.to_vec());
            return false;
        }
        visited += 1;
        let live = !e.is_expired(now);
        let pat_ok = pattern.map(|p| glob::matches(p, k, false)).unwrap_or(true);
        let type_ok = type_filter
            .map(|t| t.eq_ignore_ascii_case(e.kind.name().as_bytes()))
            .unwrap_or(true);
        if live && pat_ok && type_ok {
            out.push(Reply::Bulk(Bytes::copy_from_slice(k)));
        }
        true
    })?;
    Ok((out, next))
}

pub fn randomkey(ctx: &dyn View, _args: &[Bytes]) -> ExecResult<Reply> {
    // Start at a random byte and wrap once: cheap, and good enough for a sample.
    let start = [(crate::types::now_ms() as u32)
        .wrapping_mul(2654435761)
        .to_be_bytes()[0]];
    for from in [&start[..], b""] {
        let mut found = None;
        let now = ctx.now();
        ctx.scan_keys(from, &mut |k, e| {
            if e.is_expired(now) {
                return true;
            }
            found = Some(Bytes::copy_from_slice(k));
            false
        })?;
        if let Some(k) = found {
            return Ok(Reply::Bulk(k));
        }
    }
    Ok(Reply::Nil)
}

pub fn dbsize(ctx: &dyn View, _args: &[Bytes]) -> ExecResult<Reply> {
    Ok(Reply::Int(ctx.db_keys() as i64))
}

fn flush_mode_ok(args: &[Bytes]) -> bool {
    match args.len() {
        1 => true,
        2 => eq_ignore_case(&args[1], "ASYNC") || eq_ignore_case(&args[1], "SYNC"),
        _ => false,
    }
}

pub fn flushdb(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    if !flush_mode_ok(args) {
        return Ok(Reply::err(errors::SYNTAX));
    }
    let db = ctx.db;
    ctx.clear_db(db);
    ctx.log(vec![Bytes::from_static(b"FLUSHDB")]);
    Ok(Reply::Ok)
}

pub fn flushall(ctx: &mut WriteCtx, args: &[Bytes]) -> ExecResult<Reply> {
    if !flush_mode_ok(args) {
        return Ok(Reply::err(errors::SYNTAX));
    }
    for db in 0..DATABASES {
        ctx.clear_db(db as u8);
    }
    ctx.log(vec![Bytes::from_static(b"FLUSHALL")]);
    Ok(Reply::Ok)
}
