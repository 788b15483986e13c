//! The command table: name, arity, flags and key positions as data (what COMMAND reports and
//! what the connection checks before running anything), and where each command runs.
//!
//! Reads run on the connection against RocksDB; writes run on the writer thread inside a group
//! commit; connection commands (AUTH, SELECT, CLIENT, INFO, ...) run in server::admin.

pub mod coll;
pub mod ctx;
pub mod digest;
pub mod errors;
pub mod glob;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod long_double;
pub mod sets;
pub mod strings;
pub mod zsets;

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::protocol::Reply;
use ctx::{View, WriteCtx};
use errors::ExecResult;

pub type ReadFn = fn(&dyn View, &[Bytes]) -> ExecResult<Reply>;
pub type WriteFn = fn(&mut WriteCtx, &[Bytes]) -> ExecResult<Reply>;

#[derive(Clone, Copy)]
pub enum Exec {
    Read(ReadFn),
    Write(WriteFn),
    /// Handled by the connection (server::admin).
    Conn,
}

#[derive(Clone, Copy)]
pub struct CommandSpec {
    pub name: &'static str,
    /// Redis convention: N = exactly N arguments including the name, -N = at least N.
    pub arity: i32,
    pub flags: &'static [&'static str],
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    pub exec: Exec,
}

impl CommandSpec {
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

pub const W: &[&str] = &["write", "denyoom"];
/// Pops whose keys are found by parsing (LMPOP, ZMPOP).
pub const W_POP_MOVABLE: &[&str] = &["write", "movablekeys"];
pub const WF: &[&str] = &["write", "denyoom", "fast"];
pub const WD: &[&str] = &["write", "fast"];
pub const R: &[&str] = &["readonly"];
pub const RF: &[&str] = &["readonly", "fast"];
const A: &[&str] = &["admin", "noscript", "loading", "stale"];
const C: &[&str] = &["noscript", "loading", "stale", "fast"];

#[macro_export]
macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $f:expr, $l:expr, $s:expr, $exec:expr) => {
        $crate::commands::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $f,
            last_key: $l,
            step: $s,
            exec: $exec,
        }
    };
}

static CORE_COMMANDS: &[CommandSpec] = &[
    // strings
    cmd!("get", 2, RF, 1, 1, 1, Exec::Read(strings::get)),
    cmd!("set", -3, W, 1, 1, 1, Exec::Write(strings::set)),
    cmd!("setnx", 3, WF, 1, 1, 1, Exec::Write(strings::setnx)),
    cmd!("setex", 4, W, 1, 1, 1, Exec::Write(strings::setex)),
    cmd!("psetex", 4, W, 1, 1, 1, Exec::Write(strings::psetex)),
    cmd!("getset", 3, WF, 1, 1, 1, Exec::Write(strings::getset)),
    cmd!("getdel", 2, WD, 1, 1, 1, Exec::Write(strings::getdel)),
    cmd!("getex", -2, WD, 1, 1, 1, Exec::Write(strings::getex)),
    cmd!("mget", -2, RF, 1, -1, 1, Exec::Read(strings::mget)),
    cmd!("mset", -3, W, 1, -1, 2, Exec::Write(strings::mset)),
    cmd!("msetnx", -3, W, 1, -1, 2, Exec::Write(strings::msetnx)),
    cmd!("append", 3, WF, 1, 1, 1, Exec::Write(strings::append)),
    cmd!("strlen", 2, RF, 1, 1, 1, Exec::Read(strings::strlen)),
    cmd!("incr", 2, WF, 1, 1, 1, Exec::Write(strings::incr)),
    cmd!("decr", 2, WF, 1, 1, 1, Exec::Write(strings::decr)),
    cmd!("incrby", 3, WF, 1, 1, 1, Exec::Write(strings::incrby)),
    cmd!("decrby", 3, WF, 1, 1, 1, Exec::Write(strings::decrby)),
    cmd!(
        "incrbyfloat",
        3,
        WF,
        1,
        1,
        1,
        Exec::Write(strings::incrbyfloat)
    ),
    cmd!("getrange", 4, R, 1, 1, 1, Exec::Read(strings::getrange)),
    cmd!("substr", 4, R, 1, 1, 1, Exec::Read(strings::getrange)),
    cmd!("setrange", 4, W, 1, 1, 1, Exec::Write(strings::setrange)),
    // keys
    cmd!("del", -2, &["write"], 1, -1, 1, Exec::Write(keys::del)),
    cmd!("unlink", -2, WD, 1, -1, 1, Exec::Write(keys::del)),
    cmd!("exists", -2, RF, 1, -1, 1, Exec::Read(keys::exists)),
    cmd!("type", 2, RF, 1, 1, 1, Exec::Read(keys::type_)),
    cmd!("rename", 3, &["write"], 1, 2, 1, Exec::Write(keys::rename)),
    cmd!("renamenx", 3, WD, 1, 2, 1, Exec::Write(keys::renamenx)),
    cmd!("copy", -3, W, 1, 2, 1, Exec::Write(keys::copy)),
    cmd!("move", 3, WF, 1, 1, 1, Exec::Write(keys::move_)),
    cmd!("object", -2, R, 2, 2, 1, Exec::Read(keys::object)),
    cmd!("expire", -3, WD, 1, 1, 1, Exec::Write(keys::expire)),
    cmd!("pexpire", -3, WD, 1, 1, 1, Exec::Write(keys::pexpire)),
    cmd!("expireat", -3, WD, 1, 1, 1, Exec::Write(keys::expireat)),
    cmd!("pexpireat", -3, WD, 1, 1, 1, Exec::Write(keys::pexpireat)),
    cmd!("ttl", 2, RF, 1, 1, 1, Exec::Read(keys::ttl)),
    cmd!("pttl", 2, RF, 1, 1, 1, Exec::Read(keys::pttl)),
    cmd!("expiretime", 2, RF, 1, 1, 1, Exec::Read(keys::expiretime)),
    cmd!("pexpiretime", 2, RF, 1, 1, 1, Exec::Read(keys::pexpiretime)),
    cmd!("persist", 2, WD, 1, 1, 1, Exec::Write(keys::persist)),
    cmd!("keys", 2, R, 0, 0, 0, Exec::Read(keys::keys)),
    cmd!("scan", -2, R, 0, 0, 0, Exec::Conn),
    cmd!("randomkey", 1, R, 0, 0, 0, Exec::Read(keys::randomkey)),
    cmd!("dbsize", 1, RF, 0, 0, 0, Exec::Read(keys::dbsize)),
    cmd!(
        "flushdb",
        -1,
        &["write"],
        0,
        0,
        0,
        Exec::Write(keys::flushdb)
    ),
    cmd!(
        "flushall",
        -1,
        &["write"],
        0,
        0,
        0,
        Exec::Write(keys::flushall)
    ),
    // connection and server
    cmd!("ping", -1, C, 0, 0, 0, Exec::Conn),
    cmd!("echo", 2, C, 0, 0, 0, Exec::Conn),
    cmd!("quit", -1, C, 0, 0, 0, Exec::Conn),
    cmd!("select", 2, C, 0, 0, 0, Exec::Conn),
    cmd!("auth", -2, C, 0, 0, 0, Exec::Conn),
    cmd!("hello", -1, C, 0, 0, 0, Exec::Conn),
    cmd!("info", -1, &["loading", "stale"], 0, 0, 0, Exec::Conn),
    cmd!("config", -2, A, 0, 0, 0, Exec::Conn),
    cmd!("client", -2, A, 0, 0, 0, Exec::Conn),
    cmd!("command", -1, &["loading", "stale"], 0, 0, 0, Exec::Conn),
    cmd!("time", 1, C, 0, 0, 0, Exec::Conn),
    cmd!("shutdown", -1, A, 0, 0, 0, Exec::Conn),
    cmd!("lastsave", 1, C, 0, 0, 0, Exec::Conn),
    cmd!("function", -2, &["noscript"], 0, 0, 0, Exec::Conn),
    cmd!("eval", -3, &["noscript"], 0, 0, 0, Exec::Conn),
    cmd!("evalsha", -3, &["noscript"], 0, 0, 0, Exec::Conn),
    cmd!("script", -2, &["noscript"], 0, 0, 0, Exec::Conn),
    cmd!("role", 1, C, 0, 0, 0, Exec::Conn),
    cmd!("replconf", -1, A, 0, 0, 0, Exec::Conn),
    cmd!("psync", -3, A, 0, 0, 0, Exec::Conn),
    cmd!("syncfile", 4, A, 0, 0, 0, Exec::Conn),
    cmd!("wait", 3, A, 0, 0, 0, Exec::Conn),
    cmd!("replicaof", 3, A, 0, 0, 0, Exec::Conn),
    cmd!("slaveof", 3, A, 0, 0, 0, Exec::Conn),
    cmd!("multi", 1, C, 0, 0, 0, Exec::Conn),
    cmd!(
        "exec",
        1,
        &["noscript", "loading", "stale"],
        0,
        0,
        0,
        Exec::Conn
    ),
    cmd!("discard", 1, C, 0, 0, 0, Exec::Conn),
    cmd!("watch", -2, C, 1, -1, 1, Exec::Conn),
    cmd!("unwatch", 1, C, 0, 0, 0, Exec::Conn),
    cmd!("reset", 1, C, 0, 0, 0, Exec::Conn),
    cmd!("checkpoint", 3, A, 0, 0, 0, Exec::Conn),
    cmd!("bgsave", -1, A, 0, 0, 0, Exec::Conn),
    cmd!("debug", -2, A, 0, 0, 0, Exec::Conn),
];

/// `Err(reply)` for a syntax error and friends; shared by the data type files.
pub type ArgResult<T> = Result<T, Reply>;

/// A score (ZADD, ZINCRBY) as Redis reads one: see [`parse_f64_in_range`].
pub fn float_arg(b: &[u8]) -> ArgResult<f64> {
    parse_f64_in_range(b).ok_or_else(|| Reply::err(errors::NOT_FLOAT))
}

/// [`parse_f64`] with `strtod`'s range check, as Redis reads scores and weights: an infinity
/// must be spelled as one (`1e400` is not a valid float), and a literal that underflows to zero
/// (`1e-400`) is not one either.
pub fn parse_f64_in_range(b: &[u8]) -> Option<f64> {
    let v = parse_f64(b)?;
    let mantissa = b.split(|c| matches!(c, b'e' | b'E')).next().unwrap_or(b);
    let overflow = v.is_infinite() && !mantissa.iter().any(|c| c.is_ascii_alphabetic());
    let underflow = v == 0.0 && mantissa.iter().any(|c| (b'1'..=b'9').contains(c));
    (!overflow && !underflow).then_some(v)
}

/// Every command: the core table plus each data type's own.
pub fn all() -> &'static [CommandSpec] {
    static ALL: OnceLock<Vec<CommandSpec>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            CORE_COMMANDS,
            hashes::COMMANDS,
            lists::COMMANDS,
            sets::COMMANDS,
            zsets::COMMANDS,
        ]
        .concat()
    })
}

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    let index = INDEX.get_or_init(|| all().iter().map(|c| (c.name, c)).collect());
    if name.len() > 32 {
        return None;
    }
    let mut lower = [0u8; 32];
    for (i, b) in name.iter().enumerate() {
        lower[i] = b.to_ascii_lowercase();
    }
    let s = std::str::from_utf8(&lower[..name.len()]).ok()?;
    index.get(s).copied()
}

/// Position of `spec` in [`all`] (for cheap bookkeeping such as CLIENT LIST's cmd=).
pub fn table_index(spec: &'static CommandSpec) -> usize {
    (spec as *const CommandSpec as usize - all().as_ptr() as usize)
        / std::mem::size_of::<CommandSpec>()
}

// Argument helpers shared by the command files.

/// Parses an integer the way Redis' string2ll does: no spaces, no '+', no leading zeros.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Parses a float as Redis does for INCRBYFLOAT and friends: no spaces, no NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.trim() != s {
        return None;
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => s.parse().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

/// A database index as SELECT, MOVE and COPY ... DB take it.
pub fn db_index(b: &[u8]) -> Result<u8, Reply> {
    let n = int_arg(b)?;
    if !(0..crate::storage::DATABASES as i64).contains(&n) {
        return Err(Reply::err(errors::DB_INDEX));
    }
    Ok(n as u8)
}

pub fn int_arg(b: &[u8]) -> Result<i64, Reply> {
    parse_i64(b).ok_or_else(|| Reply::err(errors::NOT_INTEGER))
}

pub fn eq_ignore_case(a: &[u8], b: &str) -> bool {
    a.eq_ignore_ascii_case(b.as_bytes())
}

/// A two-way option value in any case (`yes`/`no`, `on`/`off`): `Some(true)` for `yes`.
pub fn two_way(v: &[u8], yes: &str, no: &str) -> Option<bool> {
    if eq_ignore_case(v, yes) {
        Some(true)
    } else if eq_ignore_case(v, no) {
        Some(false)
    } else {
        None
    }
}

/// Turns `Result<Reply, Reply>` style early returns into a reply.
#[macro_export]
macro_rules! try_reply {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return Ok(r),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_like_redis() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"012"), None);
        assert_eq!(parse_i64(b"+1"), None);
        assert_eq!(parse_i64(b" 1"), None);
        assert_eq!(parse_i64(b"-0"), None);
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn table_names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nope").is_none());
    }
}
