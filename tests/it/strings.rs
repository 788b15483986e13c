//! String commands through the `redis` crate: replies, reply types, error lines word for word,
//! and the expiry options, as Redis 7 gives them.

use std::thread;
use std::time::Duration;

use redis::Value;

use crate::common::*;

/// Asserts TTL-like reply `v` is an integer in `lo..=hi`.
#[track_caller]
fn assert_int_in(v: Value, lo: i64, hi: i64, what: &str) {
    match v {
        Value::Int(n) => assert!((lo..=hi).contains(&n), "{what}: {n} not in {lo}..={hi}"),
        other => panic!("{what}: expected an integer, got {other:?}"),
    }
}

#[test]
fn set_and_get_round_trip_text_binary_empty_and_large_values() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["SET", "greeting", "hello"]), Value::Okay);
    assert_eq!(run(&mut con, &["GET", "greeting"]), bulk("hello"));
    assert_eq!(run(&mut con, &["SET", "greeting", "bye"]), Value::Okay);
    assert_eq!(get_s(&mut con, "greeting").as_deref(), Some("bye"));

    let binary: &[u8] = b"\x00\xff\r\n\x01 binary\r\n";
    let reply: Value = cmd_b(&[b"SET", b"bin\x00key", binary])
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, Value::Okay);
    let got: Option<Vec<u8>> = cmd_b(&[b"GET", b"bin\x00key"]).query(&mut con).unwrap();
    assert_eq!(
        got.as_deref(),
        Some(binary),
        "binary key and value round trip"
    );

    assert_eq!(run(&mut con, &["SET", "empty", ""]), Value::Okay);
    assert_eq!(
        run(&mut con, &["GET", "empty"]),
        bulk(""),
        "an empty value is not a missing key"
    );
    assert_eq!(run(&mut con, &["EXISTS", "empty"]), Value::Int(1));
    assert_eq!(run(&mut con, &["GET", "missing"]), Value::Nil);

    let big: Vec<u8> = (0..(1usize << 20)).map(|i| (i % 251) as u8).collect();
    let reply: Value = redis::cmd("SET")
        .arg("big")
        .arg(big.as_slice())
        .query(&mut con)
        .unwrap();
    assert_eq!(reply, Value::Okay);
    assert_eq!(
        get_b(&mut con, "big").as_deref(),
        Some(big.as_slice()),
        "1 MiB value round trip"
    );
    assert_eq!(run(&mut con, &["STRLEN", "big"]), Value::Int(1 << 20));
}

#[test]
fn set_nx_xx_and_get_options() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["SET", "k", "v1", "NX"]), Value::Okay);
    assert_eq!(
        run(&mut con, &["SET", "k", "v2", "NX"]),
        Value::Nil,
        "NX on an existing key"
    );
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v1"));

    assert_eq!(run(&mut con, &["SET", "k", "v3", "XX"]), Value::Okay);
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v3"));
    assert_eq!(
        run(&mut con, &["SET", "missing", "v", "XX"]),
        Value::Nil,
        "XX on a missing key"
    );
    assert_eq!(run(&mut con, &["EXISTS", "missing"]), Value::Int(0));

    assert_eq!(
        run(&mut con, &["SET", "k", "v4", "GET"]),
        bulk("v3"),
        "GET returns the old value"
    );
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v4"));
    assert_eq!(run(&mut con, &["SET", "fresh", "v", "GET"]), Value::Nil);
    assert_eq!(get_s(&mut con, "fresh").as_deref(), Some("v"));
    // Redis 7 allows NX with GET: the old value comes back and nothing is written.
    assert_eq!(run(&mut con, &["SET", "k", "v5", "NX", "GET"]), bulk("v4"));
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v4"));

    assert_err(&mut con, &["SET", "k", "v", "NX", "XX"], "ERR syntax error");
    assert_err(&mut con, &["SET", "k", "v", "FOO"], "ERR syntax error");
    assert_eq!(
        get_s(&mut con, "k").as_deref(),
        Some("v4"),
        "a refused SET changes nothing"
    );
}

#[test]
fn set_expiry_options_and_their_errors() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["SET", "k", "v", "EX", "100"]), Value::Okay);
    assert_int_in(run(&mut con, &["TTL", "k"]), 1, 100, "TTL after EX 100");
    assert_int_in(
        run(&mut con, &["PTTL", "k"]),
        1,
        100_000,
        "PTTL after EX 100",
    );

    assert_eq!(
        run(&mut con, &["SET", "k", "v", "PX", "50000"]),
        Value::Okay
    );
    assert_int_in(
        run(&mut con, &["PTTL", "k"]),
        1,
        50_000,
        "PTTL after PX 50000",
    );
    assert_int_in(run(&mut con, &["TTL", "k"]), 1, 50, "TTL after PX 50000");

    let at = now_secs() + 200;
    assert_eq!(
        run(&mut con, &["SET", "k", "v", "EXAT", &at.to_string()]),
        Value::Okay
    );
    assert_eq!(run(&mut con, &["EXPIRETIME", "k"]), Value::Int(at as i64));
    assert_int_in(
        run(&mut con, &["TTL", "k"]),
        150,
        200,
        "TTL after EXAT now+200",
    );

    let pat = now_ms() + 300_000;
    assert_eq!(
        run(&mut con, &["SET", "k", "v", "PXAT", &pat.to_string()]),
        Value::Okay
    );
    assert_eq!(run(&mut con, &["PEXPIRETIME", "k"]), Value::Int(pat as i64));

    assert_eq!(run(&mut con, &["SET", "k", "v2", "KEEPTTL"]), Value::Okay);
    assert_eq!(
        run(&mut con, &["PEXPIRETIME", "k"]),
        Value::Int(pat as i64),
        "KEEPTTL keeps the expiry"
    );
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v2"));

    assert_eq!(run(&mut con, &["SET", "k", "v3"]), Value::Okay);
    assert_eq!(
        run(&mut con, &["TTL", "k"]),
        Value::Int(-1),
        "a plain SET clears the TTL"
    );

    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "0"],
        "ERR invalid expire time in 'set' command",
    );
    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "-5"],
        "ERR invalid expire time in 'set' command",
    );
    assert_err(
        &mut con,
        &["SET", "k", "v", "PX", "0"],
        "ERR invalid expire time in 'set' command",
    );
    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "abc"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "10", "PX", "100"],
        "ERR syntax error",
    );
    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        "ERR syntax error",
    );
    assert_err(&mut con, &["SET", "k", "v", "EX"], "ERR syntax error");
    assert_eq!(
        run(&mut con, &["TTL", "k"]),
        Value::Int(-1),
        "refused SETs leave the key alone"
    );
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v3"));
}

#[test]
fn key_set_with_px_100_is_gone_after_a_sleep() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["SET", "short", "v", "PX", "100"]),
        Value::Okay
    );
    assert_eq!(
        run(&mut con, &["SET", "long", "v", "PX", "100000"]),
        Value::Okay
    );
    thread::sleep(Duration::from_millis(300));

    assert_eq!(run(&mut con, &["GET", "short"]), Value::Nil);
    assert_eq!(run(&mut con, &["EXISTS", "short"]), Value::Int(0));
    assert_eq!(run(&mut con, &["TTL", "short"]), Value::Int(-2));
    assert_eq!(run(&mut con, &["STRLEN", "short"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["MGET", "short", "long"]),
        Value::Array(vec![Value::Nil, bulk("v")])
    );
    assert_eq!(get_s(&mut con, "long").as_deref(), Some("v"));
    // An expired key is absent for writes too: SET NX succeeds and the new key has no TTL.
    assert_eq!(run(&mut con, &["SET", "short", "again", "NX"]), Value::Okay);
    assert_eq!(run(&mut con, &["TTL", "short"]), Value::Int(-1));
}

#[test]
fn setnx_setex_psetex_getset() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["SETNX", "k", "a"]), Value::Int(1));
    assert_eq!(run(&mut con, &["SETNX", "k", "b"]), Value::Int(0));
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("a"));

    assert_eq!(run(&mut con, &["SETEX", "s", "100", "v"]), Value::Okay);
    assert_int_in(run(&mut con, &["TTL", "s"]), 1, 100, "TTL after SETEX 100");
    assert_eq!(get_s(&mut con, "s").as_deref(), Some("v"));
    assert_err(
        &mut con,
        &["SETEX", "s", "0", "v"],
        "ERR invalid expire time in 'setex' command",
    );
    assert_err(
        &mut con,
        &["SETEX", "s", "-1", "v"],
        "ERR invalid expire time in 'setex' command",
    );
    assert_err(
        &mut con,
        &["SETEX", "s", "abc", "v"],
        "ERR value is not an integer or out of range",
    );

    assert_eq!(run(&mut con, &["PSETEX", "p", "100000", "v"]), Value::Okay);
    assert_int_in(
        run(&mut con, &["PTTL", "p"]),
        1,
        100_000,
        "PTTL after PSETEX 100000",
    );
    assert_err(
        &mut con,
        &["PSETEX", "p", "0", "v"],
        "ERR invalid expire time in 'psetex' command",
    );

    assert_eq!(run(&mut con, &["GETSET", "s", "new"]), bulk("v"));
    assert_eq!(
        run(&mut con, &["TTL", "s"]),
        Value::Int(-1),
        "GETSET clears the TTL"
    );
    assert_eq!(run(&mut con, &["GETSET", "nokey", "x"]), Value::Nil);
    assert_eq!(get_s(&mut con, "nokey").as_deref(), Some("x"));
}

#[test]
fn getdel_and_getex() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["SET", "k", "v"]);
    assert_eq!(run(&mut con, &["GETDEL", "k"]), bulk("v"));
    assert_eq!(run(&mut con, &["EXISTS", "k"]), Value::Int(0));
    assert_eq!(run(&mut con, &["GETDEL", "k"]), Value::Nil);

    run(&mut con, &["SET", "g", "v"]);
    assert_eq!(run(&mut con, &["GETEX", "g"]), bulk("v"));
    assert_eq!(
        run(&mut con, &["TTL", "g"]),
        Value::Int(-1),
        "GETEX without options keeps no TTL"
    );
    assert_eq!(run(&mut con, &["GETEX", "g", "EX", "100"]), bulk("v"));
    assert_int_in(
        run(&mut con, &["TTL", "g"]),
        1,
        100,
        "TTL after GETEX EX 100",
    );
    assert_eq!(run(&mut con, &["GETEX", "g", "PX", "50000"]), bulk("v"));
    assert_int_in(
        run(&mut con, &["PTTL", "g"]),
        1,
        50_000,
        "PTTL after GETEX PX 50000",
    );
    let at = now_secs() + 500;
    assert_eq!(
        run(&mut con, &["GETEX", "g", "EXAT", &at.to_string()]),
        bulk("v")
    );
    assert_eq!(run(&mut con, &["EXPIRETIME", "g"]), Value::Int(at as i64));
    let pat = now_ms() + 600_000;
    assert_eq!(
        run(&mut con, &["GETEX", "g", "PXAT", &pat.to_string()]),
        bulk("v")
    );
    assert_eq!(run(&mut con, &["PEXPIRETIME", "g"]), Value::Int(pat as i64));
    assert_eq!(run(&mut con, &["GETEX", "g", "PERSIST"]), bulk("v"));
    assert_eq!(run(&mut con, &["TTL", "g"]), Value::Int(-1));

    assert_eq!(run(&mut con, &["GETEX", "missing", "EX", "10"]), Value::Nil);
    assert_eq!(run(&mut con, &["TTL", "missing"]), Value::Int(-2));
    assert_err(
        &mut con,
        &["GETEX", "g", "EX", "0"],
        "ERR invalid expire time in 'getex' command",
    );
    assert_err(&mut con, &["GETEX", "g", "FOO"], "ERR syntax error");
    assert_err(
        &mut con,
        &["GETEX", "g", "EX", "10", "PX", "100"],
        "ERR syntax error",
    );
    assert_eq!(
        run(&mut con, &["TTL", "g"]),
        Value::Int(-1),
        "refused GETEX leaves the TTL alone"
    );
}

#[test]
fn mget_mset_msetnx() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["MSET", "a", "1", "b", "2", "c", "3"]),
        Value::Okay
    );
    assert_eq!(
        run(&mut con, &["MGET", "a", "b", "nosuch", "c"]),
        Value::Array(vec![bulk("1"), bulk("2"), Value::Nil, bulk("3")])
    );
    assert_eq!(run(&mut con, &["MSET", "d", "1", "d", "2"]), Value::Okay);
    assert_eq!(
        get_s(&mut con, "d").as_deref(),
        Some("2"),
        "the last pair for a key wins"
    );

    assert_eq!(
        run(&mut con, &["MSETNX", "a", "9", "new", "9"]),
        Value::Int(0)
    );
    assert_eq!(
        run(&mut con, &["EXISTS", "new"]),
        Value::Int(0),
        "MSETNX is all or nothing"
    );
    assert_eq!(get_s(&mut con, "a").as_deref(), Some("1"));
    assert_eq!(
        run(&mut con, &["MSETNX", "x", "1", "y", "2"]),
        Value::Int(1)
    );
    assert_eq!(
        run(&mut con, &["MGET", "x", "y"]),
        Value::Array(vec![bulk("1"), bulk("2")])
    );

    assert_err(
        &mut con,
        &["MSET", "a"],
        "ERR wrong number of arguments for 'mset' command",
    );
    assert_err(
        &mut con,
        &["MSET", "a", "1", "b"],
        "ERR wrong number of arguments for 'mset' command",
    );
    assert_err(
        &mut con,
        &["MSETNX", "a"],
        "ERR wrong number of arguments for 'msetnx' command",
    );
    assert_err(
        &mut con,
        &["MGET"],
        "ERR wrong number of arguments for 'mget' command",
    );
}

#[test]
fn append_and_strlen() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["APPEND", "s", "Hello"]),
        Value::Int(5),
        "APPEND creates a missing key"
    );
    assert_eq!(run(&mut con, &["APPEND", "s", " World"]), Value::Int(11));
    assert_eq!(get_s(&mut con, "s").as_deref(), Some("Hello World"));
    assert_eq!(run(&mut con, &["STRLEN", "s"]), Value::Int(11));
    assert_eq!(run(&mut con, &["STRLEN", "missing"]), Value::Int(0));
    assert_eq!(run(&mut con, &["APPEND", "s", ""]), Value::Int(11));

    run(&mut con, &["SET", "t", "v", "EX", "100"]);
    assert_eq!(run(&mut con, &["APPEND", "t", "x"]), Value::Int(2));
    assert_int_in(run(&mut con, &["TTL", "t"]), 1, 100, "APPEND keeps the TTL");
}

#[test]
fn incr_decr_family_and_their_errors() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["INCR", "c"]),
        Value::Int(1),
        "INCR of a missing key starts at 0"
    );
    assert_eq!(run(&mut con, &["INCRBY", "c", "10"]), Value::Int(11));
    assert_eq!(run(&mut con, &["DECR", "c"]), Value::Int(10));
    assert_eq!(run(&mut con, &["DECRBY", "c", "3"]), Value::Int(7));
    assert_eq!(run(&mut con, &["INCRBY", "c", "-7"]), Value::Int(0));
    assert_eq!(run(&mut con, &["DECRBY", "c", "-5"]), Value::Int(5));
    assert_eq!(
        run(&mut con, &["GET", "c"]),
        bulk("5"),
        "counters are stored as decimal strings"
    );
    run(&mut con, &["SET", "neg", "-5"]);
    assert_eq!(run(&mut con, &["INCR", "neg"]), Value::Int(-4));

    let not_int = "ERR value is not an integer or out of range";
    for bad in ["abc", "1.5", " 1", "12abc", "", "007"] {
        run(&mut con, &["SET", "s", bad]);
        assert_err(&mut con, &["INCR", "s"], not_int);
        assert_eq!(
            get_s(&mut con, "s").as_deref(),
            Some(bad),
            "a refused INCR leaves {bad:?}"
        );
    }
    assert_err(&mut con, &["INCRBY", "c", "abc"], not_int);
    assert_err(&mut con, &["INCRBY", "c", "1.5"], not_int);
    assert_err(&mut con, &["DECRBY", "c", ""], not_int);

    run(&mut con, &["SET", "max", "9223372036854775807"]);
    assert_err(
        &mut con,
        &["INCR", "max"],
        "ERR increment or decrement would overflow",
    );
    assert_err(
        &mut con,
        &["INCRBY", "max", "1"],
        "ERR increment or decrement would overflow",
    );
    assert_eq!(
        get_s(&mut con, "max").as_deref(),
        Some("9223372036854775807")
    );
    run(&mut con, &["SET", "min", "-9223372036854775808"]);
    assert_err(
        &mut con,
        &["DECR", "min"],
        "ERR increment or decrement would overflow",
    );
    assert_err(
        &mut con,
        &["DECRBY", "c", "-9223372036854775808"],
        "ERR decrement would overflow",
    );
    assert_eq!(
        run(&mut con, &["INCRBY", "min", "9223372036854775807"]),
        Value::Int(-1)
    );

    run(&mut con, &["SET", "t", "1", "EX", "100"]);
    assert_eq!(run(&mut con, &["INCR", "t"]), Value::Int(2));
    assert_int_in(run(&mut con, &["TTL", "t"]), 1, 100, "INCR keeps the TTL");
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    // The examples of the Redis documentation.
    run(&mut con, &["SET", "f", "10.50"]);
    assert_eq!(run(&mut con, &["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(run(&mut con, &["INCRBYFLOAT", "f", "-5"]), bulk("5.6"));
    run(&mut con, &["SET", "f", "5.0e3"]);
    assert_eq!(run(&mut con, &["INCRBYFLOAT", "f", "2.0e2"]), bulk("5200"));
    assert_eq!(get_s(&mut con, "f").as_deref(), Some("5200"));

    assert_eq!(
        run(&mut con, &["INCRBYFLOAT", "nf", "1.5"]),
        bulk("1.5"),
        "missing key starts at 0"
    );
    assert_eq!(
        run(&mut con, &["INCRBYFLOAT", "nf", "1.5"]),
        bulk("3"),
        "integral results have no point"
    );
    assert_eq!(
        run(&mut con, &["INCR", "nf"]),
        Value::Int(4),
        "and INCR accepts them"
    );

    run(&mut con, &["SET", "s", "abc"]);
    assert_err(
        &mut con,
        &["INCRBYFLOAT", "s", "1"],
        "ERR value is not a valid float",
    );
    assert_err(
        &mut con,
        &["INCRBYFLOAT", "nf", "abc"],
        "ERR value is not a valid float",
    );
    assert_err(
        &mut con,
        &["INCRBYFLOAT", "nf", "inf"],
        "ERR increment would produce NaN or Infinity",
    );
    assert_eq!(get_s(&mut con, "nf").as_deref(), Some("4"));

    run(&mut con, &["SET", "t", "1.5", "EX", "100"]);
    assert_eq!(run(&mut con, &["INCRBYFLOAT", "t", "1"]), bulk("2.5"));
    assert_int_in(
        run(&mut con, &["TTL", "t"]),
        1,
        100,
        "INCRBYFLOAT keeps the TTL",
    );
}

#[test]
fn getrange_with_negative_indexes_and_setrange_padding() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    run(&mut con, &["SET", "k", "Hello World"]);
    assert_eq!(run(&mut con, &["GETRANGE", "k", "0", "4"]), bulk("Hello"));
    assert_eq!(run(&mut con, &["GETRANGE", "k", "-5", "-1"]), bulk("World"));
    assert_eq!(
        run(&mut con, &["GETRANGE", "k", "0", "-1"]),
        bulk("Hello World")
    );
    assert_eq!(
        run(&mut con, &["GETRANGE", "k", "5", "3"]),
        bulk(""),
        "start after end"
    );
    assert_eq!(
        run(&mut con, &["GETRANGE", "k", "-100", "-1"]),
        bulk("Hello World"),
        "start clamped to 0"
    );
    assert_eq!(
        run(&mut con, &["GETRANGE", "k", "0", "100"]),
        bulk("Hello World"),
        "end clamped to the length"
    );
    assert_eq!(run(&mut con, &["GETRANGE", "missing", "0", "-1"]), bulk(""));
    assert_err(
        &mut con,
        &["GETRANGE", "k", "abc", "1"],
        "ERR value is not an integer or out of range",
    );

    assert_eq!(
        run(&mut con, &["SETRANGE", "k", "6", "Redis"]),
        Value::Int(11)
    );
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("Hello Redis"));

    assert_eq!(
        run(&mut con, &["SETRANGE", "pad", "5", "ab"]),
        Value::Int(7)
    );
    assert_eq!(
        get_b(&mut con, "pad").as_deref(),
        Some(&b"\0\0\0\0\0ab"[..]),
        "zero padding"
    );

    assert_eq!(run(&mut con, &["SETRANGE", "k", "20", "!"]), Value::Int(21));
    let mut expected = b"Hello Redis".to_vec();
    expected.extend_from_slice(&[0u8; 9]);
    expected.push(b'!');
    assert_eq!(get_b(&mut con, "k"), Some(expected));

    assert_eq!(
        run(&mut con, &["SETRANGE", "k", "0", ""]),
        Value::Int(21),
        "empty value changes nothing"
    );
    assert_eq!(
        run(&mut con, &["SETRANGE", "nothing", "0", ""]),
        Value::Int(0)
    );
    assert_eq!(
        run(&mut con, &["EXISTS", "nothing"]),
        Value::Int(0),
        "empty SETRANGE creates no key"
    );

    assert_err(
        &mut con,
        &["SETRANGE", "k", "-1", "x"],
        "ERR offset is out of range",
    );
    assert_err(
        &mut con,
        &["SETRANGE", "k", "abc", "x"],
        "ERR value is not an integer or out of range",
    );
    assert_err(
        &mut con,
        &["SETRANGE", "k", "536870912", "x"],
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
    );
}

#[test]
fn arity_and_unknown_command_errors_keep_the_connection() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_err(
        &mut con,
        &["GET"],
        "ERR wrong number of arguments for 'get' command",
    );
    assert_err(
        &mut con,
        &["SET", "k"],
        "ERR wrong number of arguments for 'set' command",
    );
    assert_err(
        &mut con,
        &["GETRANGE", "k", "0"],
        "ERR wrong number of arguments for 'getrange' command",
    );
    assert_err(
        &mut con,
        &["INCRBY", "k"],
        "ERR wrong number of arguments for 'incrby' command",
    );
    assert_err(
        &mut con,
        &["STRLEN", "a", "b"],
        "ERR wrong number of arguments for 'strlen' command",
    );
    assert_err(
        &mut con,
        &["FOOBAR", "a", "b"],
        "ERR unknown command 'FOOBAR', with args beginning with: 'a' 'b' ",
    );
    assert_eq!(run(&mut con, &["PING"]), Value::SimpleString("PONG".into()));
    assert_eq!(run(&mut con, &["SET", "k", "v"]), Value::Okay);
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v"));
}

/// A plain SET over a string the writer wrote recently skips reading the old entry; what it
/// would have read must still be honoured: the old TTL, a key deleted or retyped since, an
/// emptied database, an expired old value, the count of keys.
#[test]
fn set_over_recently_written_keys_keeps_ttls_types_and_counts_exact() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let dbsize = |con: &mut redis::Connection| -> i64 { redis::cmd("DBSIZE").query(con).unwrap() };

    // A TTL set after the first SET is dropped by the next plain SET, and its expiry entry with
    // it: the key outlives the old deadline.
    run(&mut con, &["SET", "k", "v1"]);
    run(&mut con, &["PEXPIRE", "k", "300"]);
    run(&mut con, &["SET", "k", "v2"]);
    assert_eq!(run(&mut con, &["TTL", "k"]), Value::Int(-1));
    thread::sleep(Duration::from_millis(700));
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v2"));
    assert_eq!(dbsize(&mut con), 1);

    // A SET with a TTL over a known string, then a plain SET: the TTL goes.
    run(&mut con, &["SET", "k", "v3", "PX", "300"]);
    assert_int_in(run(&mut con, &["PTTL", "k"]), 1, 300, "PTTL after SET PX");
    run(&mut con, &["SET", "k", "v4"]);
    thread::sleep(Duration::from_millis(700));
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v4"));

    // Deleted, then set again: counted once.
    run(&mut con, &["DEL", "k"]);
    assert_eq!(dbsize(&mut con), 0);
    run(&mut con, &["SET", "k", "v5"]);
    run(&mut con, &["SET", "k", "v6"]);
    assert_eq!(dbsize(&mut con), 1);

    // Retyped to a hash: a SET over it drops the fields, and a new hash starts empty.
    run(&mut con, &["DEL", "k"]);
    run(&mut con, &["HSET", "k", "f1", "a", "f2", "b"]);
    run(&mut con, &["SET", "k", "s"]);
    assert_eq!(
        run(&mut con, &["TYPE", "k"]),
        Value::SimpleString("string".into())
    );
    run(&mut con, &["DEL", "k"]);
    run(&mut con, &["HSET", "k", "f3", "c"]);
    assert_eq!(run(&mut con, &["HLEN", "k"]), Value::Int(1));
    run(&mut con, &["SET", "k", "s2"]);
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("s2"));

    // An emptied database: the SETs after it count every key again, per database.
    for i in 0..50 {
        run(&mut con, &["SET", &format!("n{i}"), "x"]);
    }
    assert_eq!(dbsize(&mut con), 51);
    run(&mut con, &["FLUSHDB"]);
    for i in 0..50 {
        run(&mut con, &["SET", &format!("n{i}"), "y"]);
    }
    assert_eq!(dbsize(&mut con), 50);
    run(&mut con, &["SELECT", "1"]);
    run(&mut con, &["SET", "n0", "other db"]);
    assert_eq!(dbsize(&mut con), 1);
    run(&mut con, &["SELECT", "0"]);
    assert_eq!(get_s(&mut con, "n0").as_deref(), Some("y"));

    // An old value that expired before the SET: counted as gone, then as the new key.
    run(&mut con, &["SET", "e", "old", "PX", "50"]);
    thread::sleep(Duration::from_millis(120));
    run(&mut con, &["SET", "e", "new"]);
    assert_eq!(get_s(&mut con, "e").as_deref(), Some("new"));
    assert_eq!(run(&mut con, &["TTL", "e"]), Value::Int(-1));
    assert_eq!(dbsize(&mut con), 51);
    let info = info_field(&mut con, "keyspace", "db0").unwrap_or_default();
    assert!(
        info.starts_with("keys=51,expires=0"),
        "INFO keyspace db0: {info}"
    );

    // And all of it as it was after a restart, which starts with nothing known.
    drop(con);
    let mut srv = srv;
    srv.shutdown();
    srv.restart();
    let mut con = srv.client();
    assert_eq!(dbsize(&mut con), 51);
    assert_eq!(get_s(&mut con, "n0").as_deref(), Some("y"));
    run(&mut con, &["SET", "n0", "after restart"]);
    run(&mut con, &["SET", "n0", "again"]);
    assert_eq!(dbsize(&mut con), 51);
}

/// MGET sees an MSET whole or not at all, as in Redis, also when the MSET is committed by
/// another I/O thread while the MGET runs.
#[test]
fn mget_never_sees_half_of_an_mset_committed_on_another_thread() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let srv = Server::start(&["--io-threads", "2"]);
    let port = srv.port();
    let keys: Vec<String> = (0..8).map(|i| format!("iso:{i}")).collect();
    let writer_keys = keys.clone();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer_stop = stop.clone();
    // MSETs until the reader has done its MGETs (bounded in case it never does).
    let writer = std::thread::spawn(move || {
        let mut c = connect_client(port, None);
        let mut round = 0u64;
        while !writer_stop.load(Ordering::Relaxed) && round < 200_000 {
            let mut pipe = redis::pipe();
            for j in 0..25 {
                let v = (round * 25 + j).to_string();
                let mut mset = redis::cmd("MSET");
                for k in &writer_keys {
                    mset.arg(k).arg(&v);
                }
                pipe.add_command(mset).ignore();
            }
            pipe.query::<()>(&mut c).expect("MSET pipeline");
            round += 1;
        }
        round
    });
    let mut r = srv.client();
    let mut torn = Vec::new();
    for _ in 0..3000 {
        let mut mget = redis::cmd("MGET");
        for k in &keys {
            mget.arg(k);
        }
        let vals: Vec<Option<String>> = mget.query(&mut r).expect("MGET");
        if vals.windows(2).any(|w| w[0] != w[1]) && torn.len() < 5 {
            torn.push(vals);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = writer.join().expect("writer thread");
    assert!(rounds > 0, "no MSET ran during the MGETs");
    assert!(torn.is_empty(), "MGET saw part of an MSET: {torn:?}");
}

/// INCRBYFLOAT and HINCRBYFLOAT compute in Redis' long double: no digit lost past 2^53, no
/// `inf` stored near f64's limit, Redis' long double rounding shown (replies of redis-server
/// 7.0.15).
#[test]
fn incrbyfloat_replies_and_stores_what_redis_long_double_gives() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let incr = |con: &mut redis::Connection, start: &str, by: &str| -> String {
        run(con, &["SET", "f", start]);
        run_as::<String>(con, &["INCRBYFLOAT", "f", by])
    };
    assert_eq!(incr(&mut con, "1234567890123456", "1"), "1234567890123457");
    assert_eq!(incr(&mut con, "10.6", "5000"), "5010.60000000000000009");
    assert_eq!(incr(&mut con, "0.1", "0.2"), "0.3");
    assert_eq!(incr(&mut con, "1", "0x10"), "17");
    assert_eq!(
        incr(&mut con, "12345678901234567890123", "0"),
        "12345678901234567889920"
    );
    let big = incr(&mut con, "1.7976931348623157e308", "0");
    assert_eq!(big.len(), 309, "{big}");
    // Redis' reply starts so: the long double nearest 1.7976931348623157e308, printed whole.
    assert!(
        big.starts_with("179769313486231569995921046774104434048386446944329178485314"),
        "{big}"
    );
    assert_eq!(get_s(&mut con, "f"), Some(big));
    assert_err(
        &mut con,
        &["INCRBYFLOAT", "f", "inf"],
        "ERR increment would produce NaN or Infinity",
    );
    assert_err(
        &mut con,
        &["INCRBYFLOAT", "f", "1e5000"],
        "ERR value is not a valid float",
    );

    run(&mut con, &["HSET", "h", "n", "-9223372036854775808"]);
    assert_eq!(
        run_as::<String>(&mut con, &["HINCRBYFLOAT", "h", "n", "1"]),
        "-9223372036854775807"
    );
    assert_err(
        &mut con,
        &["HINCRBYFLOAT", "h", "n", "inf"],
        "ERR value is NaN or Infinity",
    );
}

/// SET and GETEX take the same time option twice (the last counts), as Redis 7.0.15 does;
/// two different ones stay a syntax error. ZADD refuses a score beyond a double's range.
#[test]
fn repeated_options_and_out_of_range_scores_as_redis() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    assert_eq!(
        run(&mut con, &["SET", "k", "v", "EX", "10", "EX", "20"]),
        Value::Okay
    );
    assert_eq!(run_as::<i64>(&mut con, &["TTL", "k"]), 20);
    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "10", "PX", "20000"],
        "ERR syntax error",
    );
    assert_err(
        &mut con,
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        "ERR syntax error",
    );
    assert_eq!(
        run(&mut con, &["SET", "k", "v", "KEEPTTL", "KEEPTTL"]),
        Value::Okay
    );
    assert_eq!(
        run(&mut con, &["GETEX", "k", "PERSIST", "PERSIST"]),
        bulk("v")
    );
    assert_eq!(run_as::<i64>(&mut con, &["TTL", "k"]), -1);
    assert_eq!(
        run(&mut con, &["GETEX", "k", "EX", "10", "EX", "30"]),
        bulk("v")
    );
    assert_eq!(run_as::<i64>(&mut con, &["TTL", "k"]), 30);
    assert_err(
        &mut con,
        &["GETEX", "k", "EX", "10", "PERSIST"],
        "ERR syntax error",
    );
    assert_err(
        &mut con,
        &["GETEX", "k", "PERSIST", "EX", "10"],
        "ERR syntax error",
    );

    for score in ["1e400", "-1e400", "1e-400"] {
        assert_err(
            &mut con,
            &["ZADD", "z", score, "x"],
            "ERR value is not a valid float",
        );
    }
    assert_eq!(run(&mut con, &["ZADD", "z", "inf", "x"]), Value::Int(1));
    assert_err(
        &mut con,
        &["ZUNIONSTORE", "o", "1", "z", "WEIGHTS", "1e400"],
        "ERR weight value is not a float",
    );
}
