//! Differential test: seeded random sequences of string and keyspace commands over a small key
//! space, sent to durakv and to a stock redis-server, replies compared exactly.
//!
//! Errors count as equal when the whole error line is equal (same first word, same message).
//! Replies that depend on the clock are compared by class only: TTL, PTTL, EXPIRETIME and
//! PEXPIRETIME as -2 / -1 / non-negative; KEYS after sorting. Relative expiries are drawn from
//! 100..1000 s and absolute ones from now+3000..now+6000 s (or the past), so GT/LT comparisons
//! and expirations never depend on which server ran a command a millisecond later; GT/LT are
//! used only with absolute times. Non-deterministic commands (RANDOMKEY, TIME, INFO, SCAN) are
//! not sent.
//!
//! `DURAKV_DIFF_SEED` replays a run; `DURAKV_DIFF_SEQUENCES` changes how many sequences run.

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::{Connection, ConnectionLike, Value};

use crate::common::*;

const SEQUENCES: usize = 60;
const COMMANDS_PER_SEQUENCE: usize = 200;
const HISTORY: usize = 25;

const KEYS: [&[u8]; 8] = [
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"num",
    b"flt",
    b"bin\x00\xff",
];
const TEXT_KEYS: [&str; 4] = ["k0", "k1", "num", "flt"];

const VALUES: &[&[u8]] = &[
    b"0",
    b"1",
    b"-7",
    b"42",
    b"100",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"007",
    b"1.5",
    b"-0.25",
    b"10.5",
    b"3.0",
    b"hello",
    b"",
    b"a b",
    b"\x00\x01\xff\r\n",
    b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

const INT_ARGS: &[&str] = &[
    "1",
    "-1",
    "5",
    "-100",
    "1000",
    "0",
    "9223372036854775807",
    "-9223372036854775808",
    "abc",
    "1.5",
    "",
];

/// Increments whose sums with small multiples of 0.25 stay exact in binary floating point, so
/// Redis' long double and an f64 format them identically.
const FLOAT_ARGS: &[&str] = &["0.5", "-1.25", "3", "10.75", "-0.25", "0", "abc", ""];

/// Option lists SET must refuse (syntax, bad or non-positive expire times).
const BAD_SET_OPTIONS: &[&[&str]] = &[
    &["EX", "0"],
    &["EX", "-5"],
    &["PX", "abc"],
    &["NX", "XX"],
    &["EX"],
    &["FOO"],
];

const PATTERNS: &[&str] = &[
    "*", "k*", "k[0-3]", "k?", "*u*", "bin*", "nomatch*", "k[^1]", "?l?",
];

/// How a reply is compared.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Norm {
    Exact,
    /// -2 and -1 exactly, any non-negative value as one class.
    TtlClass,
    /// An array compared as a set (KEYS).
    Sorted,
}

/// Clock-dependent bases shared by both servers for the whole run.
struct Clock {
    now_s: u64,
}

fn pick<'a, T: ?Sized>(rng: &mut StdRng, items: &[&'a T]) -> &'a T {
    items[rng.random_range(0..items.len())]
}

fn key(rng: &mut StdRng) -> Vec<u8> {
    KEYS[rng.random_range(0..KEYS.len())].to_vec()
}

fn val(rng: &mut StdRng) -> Vec<u8> {
    pick(rng, VALUES).to_vec()
}

fn s(x: &str) -> Vec<u8> {
    x.as_bytes().to_vec()
}

/// Relative seconds: 100..=1000.
fn rel_s(rng: &mut StdRng) -> Vec<u8> {
    s(&rng.random_range(100..=1000u64).to_string())
}

/// Relative milliseconds: 100 000..=1 000 000.
fn rel_ms(rng: &mut StdRng) -> Vec<u8> {
    s(&rng.random_range(100_000..=1_000_000u64).to_string())
}

/// Absolute unix seconds in the future, 3000..=6000 s from the run's start.
fn abs_s(rng: &mut StdRng, c: &Clock) -> u64 {
    c.now_s + rng.random_range(3000..=6000u64)
}

/// Absolute unix milliseconds in the future.
fn abs_ms(rng: &mut StdRng, c: &Clock) -> u64 {
    abs_s(rng, c) * 1000 + rng.random_range(0..1000u64)
}

/// Whether INCRBYFLOAT on `current` is safe to compare: the value must be absent, not a number
/// (both servers refuse it), or a small multiple of 0.25 (exact in f64 and long double alike).
/// Values with a NUL byte are skipped: Redis parses floats up to the NUL, a quirk not worth
/// copying.
fn float_safe(current: &Option<Vec<u8>>) -> bool {
    let Some(b) = current else { return true };
    if b.contains(&0) {
        return false;
    }
    match std::str::from_utf8(b)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
    {
        None => true,
        Some(v) => v.is_finite() && v.abs() < 1e9 && (v * 4.0).fract() == 0.0,
    }
}

/// One random command and how to compare its reply. `reference` is consulted (uncompared) only
/// to keep INCRBYFLOAT away from values whose float formatting legitimately differs.
fn gen_command(
    rng: &mut StdRng,
    clock: &Clock,
    reference: &mut Connection,
) -> (Vec<Vec<u8>>, Norm) {
    use Norm::*;
    let roll = rng.random_range(0..100u32);
    match roll {
        0..=9 => (vec![s("GET"), key(rng)], Exact),
        10..=19 => {
            let mut v = vec![s("SET"), key(rng), val(rng)];
            match rng.random_range(0..6) {
                0 => v.push(s("NX")),
                1 => v.push(s("XX")),
                _ => {}
            }
            if rng.random_bool(0.15) {
                v.push(s("GET"));
            }
            match rng.random_range(0..12) {
                0 => v.extend([s("EX"), rel_s(rng)]),
                1 => v.extend([s("PX"), rel_ms(rng)]),
                2 => v.extend([s("EXAT"), s(&abs_s(rng, clock).to_string())]),
                3 => v.extend([s("PXAT"), s(&abs_ms(rng, clock).to_string())]),
                4 => v.push(s("KEEPTTL")),
                5 => {
                    let bad = pick(rng, BAD_SET_OPTIONS);
                    v.extend(bad.iter().map(|x| s(x)));
                }
                _ => {}
            }
            (v, Exact)
        }
        20..=22 => (vec![s("SETNX"), key(rng), val(rng)], Exact),
        23..=24 => {
            let secs = if rng.random_bool(0.85) {
                rel_s(rng)
            } else {
                s(pick(rng, &["0", "-1", "abc"]))
            };
            (vec![s("SETEX"), key(rng), secs, val(rng)], Exact)
        }
        25 => {
            let ms = if rng.random_bool(0.85) {
                rel_ms(rng)
            } else {
                s(pick(rng, &["0", "-5"]))
            };
            (vec![s("PSETEX"), key(rng), ms, val(rng)], Exact)
        }
        26..=27 => (vec![s("GETSET"), key(rng), val(rng)], Exact),
        28..=29 => (vec![s("GETDEL"), key(rng)], Exact),
        30..=32 => {
            let mut v = vec![s("GETEX"), key(rng)];
            match rng.random_range(0..8) {
                0 => v.extend([s("EX"), rel_s(rng)]),
                1 => v.extend([s("PX"), rel_ms(rng)]),
                2 => v.extend([s("EXAT"), s(&abs_s(rng, clock).to_string())]),
                3 => v.extend([s("PXAT"), s(&abs_ms(rng, clock).to_string())]),
                4 => v.push(s("PERSIST")),
                5 => v.extend([s("EX"), s("0")]),
                _ => {}
            }
            (v, Exact)
        }
        33..=35 => {
            let n = rng.random_range(1..=4);
            let mut v = vec![s("MGET")];
            for _ in 0..n {
                v.push(key(rng));
            }
            (v, Exact)
        }
        36..=37 => {
            let n = rng.random_range(1..=3);
            let mut v = vec![s("MSET")];
            for _ in 0..n {
                v.push(key(rng));
                v.push(val(rng));
            }
            if rng.random_bool(0.05) {
                v.push(key(rng)); // odd number of arguments
            }
            (v, Exact)
        }
        38 => {
            let n = rng.random_range(1..=3);
            let mut v = vec![s("MSETNX")];
            for _ in 0..n {
                v.push(key(rng));
                v.push(val(rng));
            }
            (v, Exact)
        }
        39..=42 => (vec![s("APPEND"), key(rng), val(rng)], Exact),
        43..=44 => (vec![s("STRLEN"), key(rng)], Exact),
        45..=48 => {
            let c = if rng.random_bool(0.6) { "INCR" } else { "DECR" };
            (vec![s(c), key(rng)], Exact)
        }
        49..=52 => {
            let c = if rng.random_bool(0.6) {
                "INCRBY"
            } else {
                "DECRBY"
            };
            (vec![s(c), key(rng), s(pick(rng, INT_ARGS))], Exact)
        }
        53..=55 => {
            let k = key(rng);
            let current: Option<Vec<u8>> = redis::cmd("GET")
                .arg(k.as_slice())
                .query(reference)
                .expect("GET on the reference server");
            if float_safe(&current) {
                (vec![s("INCRBYFLOAT"), k, s(pick(rng, FLOAT_ARGS))], Exact)
            } else {
                (vec![s("GET"), k], Exact)
            }
        }
        56..=58 => {
            let start = rng.random_range(-12..=12i64).to_string();
            let end = rng.random_range(-12..=12i64).to_string();
            let start = if rng.random_bool(0.03) {
                "abc".to_string()
            } else {
                start
            };
            (vec![s("GETRANGE"), key(rng), s(&start), s(&end)], Exact)
        }
        59..=61 => {
            let off = if rng.random_bool(0.05) {
                "-1".to_string()
            } else {
                rng.random_range(0..=16u32).to_string()
            };
            (vec![s("SETRANGE"), key(rng), s(&off), val(rng)], Exact)
        }
        62..=64 => {
            let c = if rng.random_bool(0.5) {
                "DEL"
            } else {
                "UNLINK"
            };
            let n = rng.random_range(1..=3);
            let mut v = vec![s(c)];
            for _ in 0..n {
                v.push(key(rng));
            }
            (v, Exact)
        }
        65..=67 => {
            let n = rng.random_range(1..=4);
            let mut v = vec![s("EXISTS")];
            for _ in 0..n {
                v.push(key(rng));
            }
            (v, Exact)
        }
        68..=69 => (vec![s("TYPE"), key(rng)], Exact),
        70..=71 => (vec![s("RENAME"), key(rng), key(rng)], Exact),
        72 => (vec![s("RENAMENX"), key(rng), key(rng)], Exact),
        73..=75 => {
            let (c, amount) = if rng.random_bool(0.5) {
                ("EXPIRE", rel_s(rng))
            } else {
                ("PEXPIRE", rel_ms(rng))
            };
            let amount = if rng.random_bool(0.1) {
                s(pick(rng, &["0", "-1"]))
            } else {
                amount
            };
            let mut v = vec![s(c), key(rng), amount];
            match rng.random_range(0..5) {
                0 => v.push(s("NX")),
                1 => v.push(s("XX")),
                _ => {}
            }
            (v, Exact)
        }
        76..=78 => {
            let ms = rng.random_bool(0.5);
            let at = if rng.random_bool(0.15) {
                clock.now_s - rng.random_range(100..=10_000u64)
            } else {
                abs_s(rng, clock)
            };
            let (c, at) = if ms {
                ("PEXPIREAT", at * 1000 + rng.random_range(0..1000u64))
            } else {
                ("EXPIREAT", at)
            };
            let mut v = vec![s(c), key(rng), s(&at.to_string())];
            match rng.random_range(0..7) {
                0 => v.push(s("NX")),
                1 => v.push(s("XX")),
                2 => v.push(s("GT")),
                3 => v.push(s("LT")),
                4 => v.extend([s("GT"), s("LT")]),
                _ => {}
            }
            (v, Exact)
        }
        79..=81 => {
            let c = if rng.random_bool(0.5) { "TTL" } else { "PTTL" };
            (vec![s(c), key(rng)], TtlClass)
        }
        82 => {
            let c = if rng.random_bool(0.5) {
                "EXPIRETIME"
            } else {
                "PEXPIRETIME"
            };
            (vec![s(c), key(rng)], TtlClass)
        }
        83..=84 => (vec![s("PERSIST"), key(rng)], Exact),
        85..=86 => (vec![s("KEYS"), s(pick(rng, PATTERNS))], Sorted),
        87 => (vec![s("DBSIZE")], Exact),
        88 => {
            let db = if rng.random_bool(0.7) { "0" } else { "1" };
            (vec![s("SELECT"), s(db)], Exact)
        }
        89 => {
            if rng.random_bool(0.2) {
                (vec![s("FLUSHDB")], Exact)
            } else {
                (vec![s("PING")], Exact)
            }
        }
        90..=91 => {
            if rng.random_bool(0.5) {
                (vec![s("ECHO"), val(rng)], Exact)
            } else {
                (vec![s("PING"), val(rng)], Exact)
            }
        }
        _ => {
            // Error paths: unknown commands and wrong arity. Arguments of unknown commands are
            // plain text: Redis prints them with %s, which stops at a NUL byte.
            let v = match rng.random_range(0..6) {
                0 => vec![s("foobar"), s(pick(rng, &TEXT_KEYS))],
                1 => vec![s("GET")],
                2 => vec![s("SET"), key(rng)],
                3 => vec![s("INCRBY"), key(rng)],
                4 => vec![s("GETRANGE"), key(rng), s("0")],
                _ => vec![s("EXPIRE"), key(rng)],
            };
            (v, Exact)
        }
    }
}

fn build_cmd(args: &[Vec<u8>]) -> redis::Cmd {
    let name = String::from_utf8(args[0].clone()).expect("command names are text");
    let mut c = redis::cmd(&name);
    for a in &args[1..] {
        c.arg(a.as_slice());
    }
    c
}

fn show_args(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| match std::str::from_utf8(a) {
            Ok(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic()) => t.to_string(),
            _ => format!("{:?}", String::from_utf8_lossy(a)),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_sort_key(v: &Value) -> Vec<u8> {
    match v {
        Value::BulkString(b) => b.clone(),
        Value::SimpleString(t) => t.as_bytes().to_vec(),
        other => format!("{other:?}").into_bytes(),
    }
}

fn normalize(v: Value, norm: Norm) -> Value {
    match (norm, v) {
        (Norm::TtlClass, Value::Int(n)) if n >= 0 => {
            Value::SimpleString("<non-negative>".to_string())
        }
        (Norm::Sorted, Value::Array(mut items)) => {
            items.sort_by_key(value_sort_key);
            Value::Array(items)
        }
        (_, v) => v,
    }
}

fn send(con: &mut Connection, args: &[Vec<u8>], who: &str) -> Value {
    con.req_command(&build_cmd(args)).unwrap_or_else(|e| {
        panic!(
            "{who}: `{}` failed at the connection level: {e}",
            show_args(args)
        )
    })
}

/// Compares every key's value and TTL class in databases 0 and 1, plus DBSIZE.
fn compare_state(dk: &mut Connection, rf: &mut Connection) -> Result<usize, String> {
    let mut compared = 0;
    for db in ["1", "0"] {
        for con in [&mut *dk, &mut *rf] {
            let _ = send(con, &[s("SELECT"), s(db)], "state check");
        }
        let mut probes: Vec<(Vec<Vec<u8>>, Norm)> = vec![(vec![s("DBSIZE")], Norm::Exact)];
        for k in KEYS {
            probes.push((vec![s("GET"), k.to_vec()], Norm::Exact));
            probes.push((vec![s("TTL"), k.to_vec()], Norm::TtlClass));
        }
        probes.push((vec![s("KEYS"), s("*")], Norm::Sorted));
        for (args, norm) in probes {
            let d = normalize(send(dk, &args, "durakv"), norm);
            let r = normalize(send(rf, &args, "redis"), norm);
            compared += 1;
            if d != r {
                return Err(format!(
                    "state differs in db{db}: `{}`\n  durakv: {d:?}\n  redis:  {r:?}",
                    show_args(&args)
                ));
            }
        }
    }
    Ok(compared)
}

#[test]
fn random_command_sequences_match_stock_redis() {
    let base_seed = seed_from_env("DURAKV_DIFF_SEED", "differential");
    let sequences = std::env::var("DURAKV_DIFF_SEQUENCES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(SEQUENCES);

    let reference = RedisRef::start();
    let srv = Server::start(&["--appendfsync", "no"]);
    let mut rf = reference.client();
    let mut dk = srv.client();
    let mut probe = reference.client();
    let clock = Clock { now_s: now_secs() };

    let mut compared = 0usize;
    for seq in 0..sequences {
        let seq_seed = base_seed ^ (seq as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut rng = StdRng::seed_from_u64(seq_seed);
        for con in [&mut dk, &mut rf] {
            assert_eq!(send(con, &[s("SELECT"), s("0")], "setup"), Value::Okay);
            assert_eq!(send(con, &[s("FLUSHALL")], "setup"), Value::Okay);
        }
        let _ = send(&mut probe, &[s("SELECT"), s("0")], "probe");
        let mut history: VecDeque<String> = VecDeque::with_capacity(HISTORY);

        for i in 0..COMMANDS_PER_SEQUENCE {
            let (args, norm) = gen_command(&mut rng, &clock, &mut probe);
            if args[0] == b"SELECT" {
                // Keep the probe connection (used for INCRBYFLOAT safety) in the same database.
                let _ = send(&mut probe, &args, "probe");
            }
            let d = normalize(send(&mut dk, &args, "durakv"), norm);
            let r = normalize(send(&mut rf, &args, "redis"), norm);
            compared += 1;
            if d != r {
                panic!(
                    "durakv and redis differ (seed {base_seed}, sequence {seq}, command {i}):\n  `{}`\n  durakv: {d:?}\n  redis:  {r:?}\n\
                     replay with DURAKV_DIFF_SEED={base_seed}; the commands before it:\n{}",
                    show_args(&args),
                    history.iter().cloned().collect::<Vec<_>>().join("\n")
                );
            }
            if history.len() == HISTORY {
                history.pop_front();
            }
            history.push_back(format!("    [{i}] `{}` -> {r:?}", show_args(&args)));
        }
        match compare_state(&mut dk, &mut rf) {
            Ok(n) => compared += n,
            Err(e) => panic!(
                "(seed {base_seed}, sequence {seq}) after {COMMANDS_PER_SEQUENCE} commands: {e}\n\
                 replay with DURAKV_DIFF_SEED={base_seed}; the last commands:\n{}",
                history.iter().cloned().collect::<Vec<_>>().join("\n")
            ),
        }
    }
    eprintln!(
        "differential: {compared} replies compared over {sequences} sequences of {COMMANDS_PER_SEQUENCE} commands (seed {base_seed})"
    );
    assert!(compared >= sequences * COMMANDS_PER_SEQUENCE);
}
