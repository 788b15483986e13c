//! Set commands through the `redis` crate: every command's replies and error lines, WRONGTYPE
//! against strings and hashes, the key vanishing with its last member, the algebra commands
//! and their STORE forms, SSCAN iteration, SRANDMEMBER on a large set, expiry, and SPOP being
//! logged by its effect (popped members stay gone after kill -9).

use std::collections::BTreeSet;
use std::time::Duration;

use redis::{Connection, Value};

use crate::common::*;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn strs(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|x| x.to_string()).collect()
}

fn members(con: &mut Connection, key: &str) -> Vec<String> {
    run_sorted(con, &["SMEMBERS", key])
}

/// SADD `key` with members `prefix0..prefix{n-1}`, in commands of 1000.
fn fill(con: &mut Connection, key: &str, prefix: &str, n: usize) {
    let mut i = 0;
    while i < n {
        let mut c = redis::cmd("SADD");
        c.arg(key);
        for j in i..(i + 1000).min(n) {
            c.arg(format!("{prefix}{j}"));
        }
        c.query::<i64>(con).expect("SADD batch");
        i += 1000;
    }
}

#[test]
fn sadd_srem_smembers_sismember_smismember_scard() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(
        run(&mut con, &["SADD", "s", "a", "b", "a", "c"]),
        Value::Int(3)
    );
    assert_eq!(run(&mut con, &["SADD", "s", "c", "d"]), Value::Int(1));
    assert_eq!(run(&mut con, &["SADD", "s", "a"]), Value::Int(0));
    assert_eq!(members(&mut con, "s"), strs(&["a", "b", "c", "d"]));
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(4));
    assert_eq!(run(&mut con, &["SCARD", "nokey"]), Value::Int(0));
    assert_eq!(run(&mut con, &["SISMEMBER", "s", "b"]), Value::Int(1));
    assert_eq!(run(&mut con, &["SISMEMBER", "s", "z"]), Value::Int(0));
    assert_eq!(run(&mut con, &["SISMEMBER", "nokey", "z"]), Value::Int(0));
    assert_eq!(
        run(&mut con, &["SMISMEMBER", "s", "a", "z", "d", "a"]),
        Value::Array(vec![
            Value::Int(1),
            Value::Int(0),
            Value::Int(1),
            Value::Int(1)
        ])
    );
    assert_eq!(
        run(&mut con, &["SMISMEMBER", "nokey", "a", "b"]),
        Value::Array(vec![Value::Int(0), Value::Int(0)])
    );
    assert_eq!(run(&mut con, &["SMEMBERS", "nokey"]), Value::Array(vec![]));
    assert_eq!(
        run(&mut con, &["TYPE", "s"]),
        Value::SimpleString("set".into())
    );

    // Binary and empty members.
    redis::cmd("SADD")
        .arg("bin")
        .arg(&b"\x00\xff\r\n"[..])
        .arg("")
        .query::<i64>(&mut con)
        .expect("binary SADD");
    let got: i64 = redis::cmd("SISMEMBER")
        .arg("bin")
        .arg(&b"\x00\xff\r\n"[..])
        .query(&mut con)
        .expect("binary SISMEMBER");
    assert_eq!(got, 1);
    assert_eq!(run(&mut con, &["SISMEMBER", "bin", ""]), Value::Int(1));
    assert_eq!(run(&mut con, &["SCARD", "bin"]), Value::Int(2));

    assert_eq!(run(&mut con, &["SREM", "s", "a", "z", "a"]), Value::Int(1));
    assert_eq!(run(&mut con, &["SREM", "nokey", "a"]), Value::Int(0));
    assert_eq!(members(&mut con, "s"), strs(&["b", "c", "d"]));
    assert_eq!(run(&mut con, &["SREM", "s", "b", "c", "d"]), Value::Int(3));
    assert_eq!(
        run(&mut con, &["EXISTS", "s"]),
        Value::Int(0),
        "empty set is removed"
    );
    assert_eq!(
        run(&mut con, &["TYPE", "s"]),
        Value::SimpleString("none".into())
    );
    assert_eq!(run(&mut con, &["SADD", "s", "new"]), Value::Int(1));
    assert_eq!(
        members(&mut con, "s"),
        strs(&["new"]),
        "recreated set starts empty"
    );

    for (args, name) in [
        (vec!["SADD", "s"], "sadd"),
        (vec!["SREM", "s"], "srem"),
        (vec!["SMEMBERS"], "smembers"),
        (vec!["SISMEMBER", "s"], "sismember"),
        (vec!["SMISMEMBER", "s"], "smismember"),
        (vec!["SCARD"], "scard"),
        (vec!["SMOVE", "a", "b"], "smove"),
        (vec!["SINTER"], "sinter"),
        (vec!["SINTERSTORE", "d"], "sinterstore"),
        (vec!["SINTERCARD", "1"], "sintercard"),
    ] {
        assert_err(
            &mut con,
            &args,
            &format!("ERR wrong number of arguments for '{name}' command"),
        );
    }
}

#[test]
fn spop_and_srandmember() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let all: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let mut args = vec!["SADD", "s"];
    args.extend(all.iter().map(|s| s.as_str()));
    run(&mut con, &args);

    // SRANDMEMBER does not remove.
    let one = value_text(&run(&mut con, &["SRANDMEMBER", "s"]));
    assert!(all.contains(&one));
    let got = run_sorted(&mut con, &["SRANDMEMBER", "s", "4"]);
    assert_eq!(got.len(), 4);
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>().len(),
        4,
        "distinct {got:?}"
    );
    assert!(got.iter().all(|m| all.contains(m)));
    assert_eq!(
        run_sorted(&mut con, &["SRANDMEMBER", "s", "50"]),
        all,
        "count >= size"
    );
    let got = run_sorted(&mut con, &["SRANDMEMBER", "s", "-25"]);
    assert_eq!(got.len(), 25, "negative count may repeat");
    assert!(got.iter().all(|m| all.contains(m)));
    assert_eq!(
        run(&mut con, &["SRANDMEMBER", "s", "0"]),
        Value::Array(vec![])
    );
    assert_eq!(run(&mut con, &["SRANDMEMBER", "nokey"]), Value::Nil);
    assert_eq!(
        run(&mut con, &["SRANDMEMBER", "nokey", "3"]),
        Value::Array(vec![])
    );
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(10));
    assert_err(
        &mut con,
        &["SRANDMEMBER", "s", "x"],
        "ERR value is not an integer or out of range",
    );

    // SPOP removes exactly what it returns.
    let popped = value_text(&run(&mut con, &["SPOP", "s"]));
    assert!(all.contains(&popped));
    assert_eq!(run(&mut con, &["SISMEMBER", "s", &popped]), Value::Int(0));
    let more = run_sorted(&mut con, &["SPOP", "s", "3"]);
    assert_eq!(more.len(), 3);
    assert!(!more.contains(&popped));
    let left = members(&mut con, "s");
    assert_eq!(left.len(), 6);
    let mut union: Vec<String> = left.iter().chain(more.iter()).cloned().collect();
    union.push(popped);
    union.sort();
    assert_eq!(union, all, "popped + left = everything, no overlap");
    assert_eq!(run(&mut con, &["SPOP", "s", "0"]), Value::Array(vec![]));
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(6));
    assert_err(
        &mut con,
        &["SPOP", "s", "-1"],
        "ERR value is out of range, must be positive",
    );
    assert_eq!(
        run_sorted(&mut con, &["SPOP", "s", "100"]),
        left,
        "pop more than all"
    );
    assert_eq!(run(&mut con, &["EXISTS", "s"]), Value::Int(0));
    assert_eq!(run(&mut con, &["SPOP", "s"]), Value::Nil);
    assert_eq!(run(&mut con, &["SPOP", "s", "2"]), Value::Array(vec![]));
}

fn members_b(con: &mut Connection, args: &[&str]) -> Vec<Vec<u8>> {
    cmd(args)
        .query::<Vec<Vec<u8>>>(con)
        .unwrap_or_else(|e| panic!("{args:?}: {}", err_text(&e)))
}

/// Checks SRANDMEMBER and SPOP with counts on a large set whose members are `names`.
fn check_large_set_sampling(con: &mut Connection, names: &[Vec<u8>]) {
    let all: BTreeSet<&[u8]> = names.iter().map(|m| m.as_slice()).collect();
    assert_eq!(all.len(), names.len(), "test members are distinct");
    for chunk in names.chunks(1000) {
        let mut c = redis::cmd("SADD");
        c.arg("big");
        for m in chunk {
            c.arg(m.as_slice());
        }
        c.query::<i64>(con).expect("SADD batch");
    }
    let size = names.len() as i64;
    assert_eq!(run(con, &["SCARD", "big"]), Value::Int(size));

    for n in [1usize, 100, 5000] {
        let got = members_b(con, &["SRANDMEMBER", "big", &n.to_string()]);
        let distinct: BTreeSet<&[u8]> = got.iter().map(|m| m.as_slice()).collect();
        assert_eq!(
            (got.len(), distinct.len()),
            (n, n),
            "SRANDMEMBER big {n}: (members returned, distinct ones)"
        );
        assert!(
            distinct.is_subset(&all),
            "SRANDMEMBER big {n} returned a non-member"
        );
    }
    // Single draws spread over the set: 300 draws from 50k members hit far more than 100.
    let mut singles: BTreeSet<Vec<u8>> = BTreeSet::new();
    for _ in 0..300 {
        let m: Vec<u8> = cmd(&["SRANDMEMBER", "big"])
            .query(con)
            .expect("SRANDMEMBER");
        assert!(all.contains(m.as_slice()), "SRANDMEMBER returned {m:?}");
        singles.insert(m);
    }
    assert!(
        singles.len() > 100,
        "300 single SRANDMEMBER draws from {size} members gave only {} distinct, e.g. {:?}",
        singles.len(),
        singles
            .iter()
            .take(12)
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect::<Vec<_>>()
    );
    let got = members_b(con, &["SRANDMEMBER", "big", "-3000"]);
    assert_eq!(got.len(), 3000);
    assert!(got.iter().all(|m| all.contains(m.as_slice())));
    assert_eq!(
        run(con, &["SCARD", "big"]),
        Value::Int(size),
        "sampling changed nothing"
    );

    // SPOP with a count pops exactly that many distinct members, and only those.
    let popped = members_b(con, &["SPOP", "big", "200"]);
    let distinct: BTreeSet<&[u8]> = popped.iter().map(|m| m.as_slice()).collect();
    assert_eq!((popped.len(), distinct.len()), (200, 200), "SPOP big 200");
    assert!(distinct.is_subset(&all));
    assert_eq!(run(con, &["SCARD", "big"]), Value::Int(size - 200));
}

/// Members that share their first 7 bytes (`member:N`), as real-world names usually do.
/// durakv returns 10 members for `SRANDMEMBER big 100` (its sampler seeks to random 8-byte
/// prefixes between the first and last member, so only ~10 landing points exist).
#[test]
fn srandmember_on_a_50k_set_returns_distinct_existing_members() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let names: Vec<Vec<u8>> = (0..50_000)
        .map(|i| format!("member:{i}").into_bytes())
        .collect();
    check_large_set_sampling(&mut con, &names);
}

/// Printable members with spread-out first bytes (hex of a multiplicative hash): durakv returns
/// about 40 of 100, the gaps between '9' and 'a' funnel seeks onto a few members.
#[test]
fn srandmember_on_a_50k_set_of_hex_members() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let names: Vec<Vec<u8>> = (0..50_000u64)
        .map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes())
        .collect();
    check_large_set_sampling(&mut con, &names);
}

/// Members of 8 uniformly spread binary bytes: the case the sampler handles.
#[test]
fn srandmember_on_a_50k_set_of_uniform_binary_members() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let names: Vec<Vec<u8>> = (0..50_000u64)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes().to_vec())
        .collect();
    check_large_set_sampling(&mut con, &names);
}

#[test]
fn smove_between_sets() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SADD", "src", "a", "b"]);
    run(&mut con, &["SADD", "dst", "b", "z"]);

    assert_eq!(run(&mut con, &["SMOVE", "src", "dst", "a"]), Value::Int(1));
    assert_eq!(members(&mut con, "src"), strs(&["b"]));
    assert_eq!(members(&mut con, "dst"), strs(&["a", "b", "z"]));
    assert_eq!(
        run(&mut con, &["SMOVE", "src", "dst", "nosuch"]),
        Value::Int(0)
    );
    assert_eq!(
        run(&mut con, &["SMOVE", "src", "dst", "b"]),
        Value::Int(1),
        "member already in the destination"
    );
    assert_eq!(
        run(&mut con, &["EXISTS", "src"]),
        Value::Int(0),
        "source emptied"
    );
    assert_eq!(members(&mut con, "dst"), strs(&["a", "b", "z"]));
    assert_eq!(
        run(&mut con, &["SMOVE", "nokey", "dst", "a"]),
        Value::Int(0)
    );
    assert_eq!(
        run(&mut con, &["SMOVE", "dst", "fresh", "z"]),
        Value::Int(1)
    );
    assert_eq!(members(&mut con, "fresh"), strs(&["z"]));
    assert_eq!(run(&mut con, &["SMOVE", "dst", "dst", "a"]), Value::Int(1));
    assert_eq!(members(&mut con, "dst"), strs(&["a", "b"]));

    run(&mut con, &["SET", "str", "v"]);
    assert_err(&mut con, &["SMOVE", "dst", "str", "a"], WRONGTYPE);
    assert_err(&mut con, &["SMOVE", "str", "dst", "a"], WRONGTYPE);
    assert_eq!(
        members(&mut con, "dst"),
        strs(&["a", "b"]),
        "refused SMOVE moved nothing"
    );
}

/// Redis 7.0 answers 0 for a missing source before it looks at the destination's type
/// (t_set.c smoveCommand: `if (srcset == NULL) { addReply(c,shared.czero); return; }`).
#[test]
fn smove_from_a_missing_source_to_a_string_answers_zero() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "str", "v"]);
    assert_eq!(
        run(&mut con, &["SMOVE", "nokey", "str", "a"]),
        Value::Int(0)
    );
    assert_eq!(get_s(&mut con, "str").as_deref(), Some("v"));
}

#[test]
fn sinter_sunion_sdiff_and_sintercard() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SADD", "a", "1", "2", "3", "4", "5"]);
    run(&mut con, &["SADD", "b", "4", "5", "6"]);
    run(&mut con, &["SADD", "c", "5", "6", "7", "4"]);

    assert_eq!(
        run_sorted(&mut con, &["SINTER", "a", "b", "c"]),
        strs(&["4", "5"])
    );
    assert_eq!(
        run_sorted(&mut con, &["SINTER", "a"]),
        strs(&["1", "2", "3", "4", "5"])
    );
    assert_eq!(
        run_sorted(&mut con, &["SINTER", "a", "nokey"]),
        Vec::<String>::new()
    );
    assert_eq!(
        run_sorted(&mut con, &["SUNION", "a", "b", "nokey"]),
        strs(&["1", "2", "3", "4", "5", "6"])
    );
    assert_eq!(
        run_sorted(&mut con, &["SUNION", "nokey"]),
        Vec::<String>::new()
    );
    assert_eq!(
        run_sorted(&mut con, &["SDIFF", "a", "b"]),
        strs(&["1", "2", "3"])
    );
    assert_eq!(
        run_sorted(&mut con, &["SDIFF", "a", "b", "c", "nokey"]),
        strs(&["1", "2", "3"])
    );
    assert_eq!(
        run_sorted(&mut con, &["SDIFF", "c", "a"]),
        strs(&["6", "7"])
    );
    assert_eq!(
        run_sorted(&mut con, &["SDIFF", "nokey", "a"]),
        Vec::<String>::new()
    );
    assert_eq!(
        run_sorted(&mut con, &["SDIFF", "a", "a"]),
        Vec::<String>::new()
    );

    assert_eq!(run(&mut con, &["SINTERCARD", "2", "a", "c"]), Value::Int(2));
    assert_eq!(run(&mut con, &["SINTERCARD", "1", "a"]), Value::Int(5));
    assert_eq!(
        run(&mut con, &["SINTERCARD", "1", "a", "LIMIT", "3"]),
        Value::Int(3)
    );
    assert_eq!(
        run(&mut con, &["SINTERCARD", "1", "a", "LIMIT", "0"]),
        Value::Int(5),
        "0 = no limit"
    );
    assert_eq!(
        run(&mut con, &["SINTERCARD", "2", "a", "c", "limit", "10"]),
        Value::Int(2)
    );
    assert_eq!(
        run(&mut con, &["SINTERCARD", "2", "a", "nokey"]),
        Value::Int(0)
    );
    assert_err(
        &mut con,
        &["SINTERCARD", "0", "a"],
        "ERR numkeys should be greater than 0",
    );
    assert_err(
        &mut con,
        &["SINTERCARD", "x", "a"],
        "ERR numkeys should be greater than 0",
    );
    assert_err(
        &mut con,
        &["SINTERCARD", "3", "a", "b"],
        "ERR Number of keys can't be greater than number of args",
    );
    assert_err(
        &mut con,
        &["SINTERCARD", "1", "a", "LIMIT", "-1"],
        "ERR LIMIT can't be negative",
    );
    assert_err(
        &mut con,
        &["SINTERCARD", "1", "a", "FOO", "1"],
        "ERR syntax error",
    );

    run(&mut con, &["SET", "str", "v"]);
    run(&mut con, &["HSET", "h", "f", "v"]);
    for k in ["str", "h"] {
        assert_err(&mut con, &["SINTER", "a", k], WRONGTYPE);
        assert_err(&mut con, &["SINTER", "nokey", k], WRONGTYPE);
        assert_err(&mut con, &["SUNION", k, "a"], WRONGTYPE);
        assert_err(&mut con, &["SDIFF", "a", k], WRONGTYPE);
        assert_err(&mut con, &["SINTERCARD", "2", "a", k], WRONGTYPE);
    }
}

#[test]
fn store_variants_overwrite_or_delete_the_destination() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SADD", "a", "1", "2", "3"]);
    run(&mut con, &["SADD", "b", "2", "3", "4"]);

    assert_eq!(
        run(&mut con, &["SINTERSTORE", "d", "a", "b"]),
        Value::Int(2)
    );
    assert_eq!(members(&mut con, "d"), strs(&["2", "3"]));
    assert_eq!(
        run(&mut con, &["SUNIONSTORE", "d", "a", "b"]),
        Value::Int(4)
    );
    assert_eq!(members(&mut con, "d"), strs(&["1", "2", "3", "4"]));
    assert_eq!(run(&mut con, &["SDIFFSTORE", "d", "a", "b"]), Value::Int(1));
    assert_eq!(members(&mut con, "d"), strs(&["1"]), "old members are gone");

    // The destination may be one of the sources.
    assert_eq!(
        run(&mut con, &["SUNIONSTORE", "a", "a", "b"]),
        Value::Int(4)
    );
    assert_eq!(members(&mut con, "a"), strs(&["1", "2", "3", "4"]));
    assert_eq!(run(&mut con, &["SDIFFSTORE", "a", "a", "d"]), Value::Int(3));
    assert_eq!(members(&mut con, "a"), strs(&["2", "3", "4"]));

    // An empty result deletes the destination, whatever its type.
    run(&mut con, &["EXPIRE", "d", "1000"]);
    assert_eq!(
        run(&mut con, &["SINTERSTORE", "d", "a", "nokey"]),
        Value::Int(0)
    );
    assert_eq!(run(&mut con, &["EXISTS", "d"]), Value::Int(0));
    run(&mut con, &["SET", "str", "v"]);
    assert_eq!(
        run(&mut con, &["SDIFFSTORE", "str", "a", "a"]),
        Value::Int(0)
    );
    assert_eq!(run(&mut con, &["EXISTS", "str"]), Value::Int(0));

    // A non-set destination is overwritten, and the TTL is dropped.
    run(&mut con, &["SET", "str", "v", "EX", "1000"]);
    assert_eq!(run(&mut con, &["SUNIONSTORE", "str", "b"]), Value::Int(3));
    assert_eq!(
        run(&mut con, &["TYPE", "str"]),
        Value::SimpleString("set".into())
    );
    assert_eq!(members(&mut con, "str"), strs(&["2", "3", "4"]));
    assert_eq!(run(&mut con, &["TTL", "str"]), Value::Int(-1));
    run(&mut con, &["HSET", "h", "f", "v"]);
    assert_eq!(
        run(&mut con, &["SINTERSTORE", "h", "a", "b"]),
        Value::Int(3)
    );
    assert_eq!(members(&mut con, "h"), strs(&["2", "3", "4"]));

    // A non-set source is WRONGTYPE and the destination is left alone.
    run(&mut con, &["SET", "s2", "v"]);
    assert_err(&mut con, &["SUNIONSTORE", "h", "a", "s2"], WRONGTYPE);
    assert_err(&mut con, &["SINTERSTORE", "h", "s2"], WRONGTYPE);
    assert_err(&mut con, &["SDIFFSTORE", "h", "a", "s2"], WRONGTYPE);
    assert_eq!(members(&mut con, "h"), strs(&["2", "3", "4"]));
}

#[test]
fn sscan_visits_every_member_exactly_once() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    fill(&mut con, "s", "m", 1500);

    for count in ["1", "7", "100", "10000"] {
        let items = scan_all(&mut con, "SSCAN", Some("s"), &["COUNT", count], 5000);
        let set: BTreeSet<&String> = items.iter().collect();
        assert_eq!(items.len(), 1500, "SSCAN COUNT {count}");
        assert_eq!(set.len(), 1500, "SSCAN COUNT {count}: a member came twice");
    }
    let items = scan_all(
        &mut con,
        "SSCAN",
        Some("s"),
        &["MATCH", "m1?", "COUNT", "20"],
        5000,
    );
    let mut items_sorted = items.clone();
    items_sorted.sort();
    let want: Vec<String> = {
        let mut w: Vec<String> = (10..20).map(|i| format!("m{i}")).collect();
        w.sort();
        w
    };
    assert_eq!(items_sorted, want);
    assert_eq!(
        scan_all(&mut con, "SSCAN", Some("nokey"), &[], 10),
        Vec::<String>::new()
    );
    run(&mut con, &["HSET", "h", "f", "v"]);
    assert_err(&mut con, &["SSCAN", "h", "0"], WRONGTYPE);
    assert_err(
        &mut con,
        &["SSCAN", "s", "0", "NOVALUES"],
        "ERR syntax error",
    );
}

#[test]
fn set_commands_against_strings_and_hashes_are_wrongtype() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "str", "v"]);
    run(&mut con, &["HSET", "h", "f", "v"]);
    for k in ["str", "h"] {
        let cases: Vec<Vec<&str>> = vec![
            vec!["SADD", k, "m"],
            vec!["SREM", k, "m"],
            vec!["SMEMBERS", k],
            vec!["SISMEMBER", k, "m"],
            vec!["SMISMEMBER", k, "m"],
            vec!["SCARD", k],
            vec!["SPOP", k],
            vec!["SPOP", k, "2"],
            vec!["SRANDMEMBER", k],
            vec!["SRANDMEMBER", k, "-2"],
            vec!["SSCAN", k, "0"],
        ];
        for c in cases {
            assert_err(&mut con, &c, WRONGTYPE);
        }
    }
    assert_eq!(get_s(&mut con, "str").as_deref(), Some("v"));
    assert_eq!(run(&mut con, &["HGET", "h", "f"]), bulk("v"));
    run(&mut con, &["SADD", "s", "m"]);
    assert_err(&mut con, &["GET", "s"], WRONGTYPE);
    assert_err(&mut con, &["HGET", "s", "m"], WRONGTYPE);
    assert_err(&mut con, &["INCRBY", "s", "1"], WRONGTYPE);
}

#[test]
fn expire_on_a_set_removes_it() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SADD", "s", "a", "b"]);
    assert_eq!(run(&mut con, &["PEXPIRE", "s", "300"]), Value::Int(1));
    wait_until(Duration::from_secs(5), "the set to expire", || {
        run(&mut con, &["EXISTS", "s"]) == Value::Int(0)
    });
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(0));
    assert_eq!(run(&mut con, &["SISMEMBER", "s", "a"]), Value::Int(0));
    assert_eq!(run(&mut con, &["SADD", "s", "c"]), Value::Int(1));
    assert_eq!(
        members(&mut con, "s"),
        strs(&["c"]),
        "no member of the expired set"
    );
}

#[test]
fn spop_is_durable_by_effect_across_kill9() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let all: BTreeSet<String> = (0..500).map(|i| format!("m{i}")).collect();
    let (popped, left) = {
        let mut con = srv.client();
        fill(&mut con, "s", "m", 500);
        let mut popped: BTreeSet<String> = BTreeSet::new();
        popped.insert(value_text(&run(&mut con, &["SPOP", "s"])));
        for _ in 0..5 {
            popped.extend(run_sorted(&mut con, &["SPOP", "s", "20"]));
        }
        assert_eq!(popped.len(), 101, "SPOP returned a member twice");
        let left: BTreeSet<String> = members(&mut con, "s").into_iter().collect();
        assert_eq!(left.len(), 399);
        assert!(popped.is_disjoint(&left));
        (popped, left)
    };
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    let after: BTreeSet<String> = members(&mut con, "s").into_iter().collect();
    assert_eq!(
        after, left,
        "after restart the set is what it was before the kill"
    );
    for m in &popped {
        assert!(all.contains(m));
        assert_eq!(
            run(&mut con, &["SISMEMBER", "s", m]),
            Value::Int(0),
            "{m} came back"
        );
    }
    assert_eq!(run(&mut con, &["SCARD", "s"]), Value::Int(399));
    // A second round on the restarted server, then another kill.
    let more: BTreeSet<String> = run_sorted(&mut con, &["SPOP", "s", "50"])
        .into_iter()
        .collect();
    drop(con);
    srv.kill9();
    srv.restart();
    let mut con = srv.client();
    let after2: BTreeSet<String> = members(&mut con, "s").into_iter().collect();
    assert_eq!(
        after2,
        left.difference(&more).cloned().collect::<BTreeSet<_>>()
    );
}

/// SRANDMEMBER with a negative count draws every element independently (as Redis), so on a
/// large set 100 draws are almost all distinct; the counts and errors are Redis 7.0.15's.
#[test]
fn srandmember_negative_counts_draw_from_the_whole_set() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let mut sadd = redis::cmd("SADD");
    sadd.arg("big");
    for i in 0..3000 {
        sadd.arg(format!("m{i}"));
    }
    sadd.query::<i64>(&mut con).expect("SADD");
    for _ in 0..10 {
        let got: Vec<String> = run_as(&mut con, &["SRANDMEMBER", "big", "-100"]);
        assert_eq!(got.len(), 100);
        let distinct: std::collections::HashSet<_> = got.iter().collect();
        // 100 independent draws out of 3000 repeat about 1.6 times on average.
        assert!(distinct.len() >= 85, "only {} distinct", distinct.len());
    }
    run(&mut con, &["SADD", "s", "a", "b", "c"]);
    let all: Vec<String> = run_as(&mut con, &["SRANDMEMBER", "s", "9223372036854775807"]);
    assert_eq!(all.len(), 3);
    assert_err(
        &mut con,
        &["SRANDMEMBER", "s", "-9223372036854775808"],
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
    );
    assert_err(
        &mut con,
        &["SRANDMEMBER", "s", "x", "y"],
        "ERR syntax error",
    );
    run(&mut con, &["SADD", "t", "b", "c", "d"]);
    assert_eq!(
        run(
            &mut con,
            &["SINTERCARD", "2", "s", "t", "LIMIT", "1", "LIMIT", "2"]
        ),
        Value::Int(2),
        "the last LIMIT wins"
    );
}

/// A negative count too large for any reply built in memory is refused (Redis would try to
/// stream it); the server goes on.
#[test]
fn a_huge_negative_random_count_is_refused_not_allocated() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SADD", "s", "a"]);
    run(&mut con, &["HSET", "h", "f", "v"]);
    for cmd in [
        &["SRANDMEMBER", "s", "-1000000000000"][..],
        &["HRANDFIELD", "h", "-1000000000000"],
    ] {
        assert_err(&mut con, cmd, "ERR value is out of range");
    }
    let three: Vec<String> = run_as(&mut con, &["SRANDMEMBER", "s", "-3"]);
    assert_eq!(three, vec!["a", "a", "a"]);
}
