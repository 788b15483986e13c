//! MULTI/EXEC/DISCARD/WATCH/UNWATCH over raw RESP connections, so replies are seen exactly as
//! sent (QUEUED, the EXEC array, the null array of an aborted WATCH, RESP3 shapes): reads inside
//! a transaction see its earlier writes, queue-time errors abort (EXECABORT), runtime errors do
//! not, watches are broken by other clients' writes and FLUSHDB, and a transaction is atomic
//! across kill -9.

use std::time::Duration;

use crate::common::*;

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn ok() -> Resp {
    Resp::Simple("OK".into())
}

fn queued() -> Resp {
    Resp::Simple("QUEUED".into())
}

fn b(s: &str) -> Resp {
    Resp::Bulk(s.as_bytes().to_vec())
}

fn err(s: &str) -> Resp {
    Resp::Error(s.to_string())
}

#[track_caller]
fn expect(c: &mut RawConn, args: &[&str], want: Resp) {
    let got = c.command_str(args).value;
    assert_eq!(got, want, "reply to {args:?}");
}

#[track_caller]
fn expect_err_prefix(c: &mut RawConn, args: &[&str], prefix: &str) -> String {
    match c.command_str(args).value {
        Resp::Error(e) if e.starts_with(prefix) => e,
        other => panic!("{args:?}: expected an error starting {prefix:?}, got {other:?}"),
    }
}

#[test]
fn exec_runs_the_queue_and_reads_see_earlier_writes() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();

    expect(&mut c, &["MULTI"], ok());
    for args in [
        &["SET", "a", "1"][..],
        &["INCR", "a"],
        &["GET", "a"],
        &["HSET", "h", "f", "v", "g", "w"],
        &["HGET", "h", "f"],
        &["HLEN", "h"],
        &["SADD", "s", "x", "y"],
        &["SCARD", "s"],
        &["SREM", "s", "x"],
        &["SMEMBERS", "s"],
        &["DEL", "h"],
        &["EXISTS", "h"],
    ] {
        expect(&mut c, args, queued());
    }
    // Nothing is applied before EXEC.
    expect(&mut other, &["EXISTS", "a", "h", "s"], Resp::Int(0));
    expect(
        &mut c,
        &["EXEC"],
        Resp::Array(vec![
            ok(),
            Resp::Int(2),
            b("2"),
            Resp::Int(2),
            b("v"),
            Resp::Int(2),
            Resp::Int(2),
            Resp::Int(2),
            Resp::Int(1),
            Resp::Array(vec![b("y")]),
            Resp::Int(1),
            Resp::Int(0),
        ]),
    );
    expect(&mut other, &["GET", "a"], b("2"));
    expect(&mut other, &["EXISTS", "h"], Resp::Int(0));
    expect(&mut other, &["SMEMBERS", "s"], Resp::Array(vec![b("y")]));

    // An empty transaction answers an empty array, and the connection is back to normal.
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["EXEC"], Resp::Array(vec![]));
    expect(&mut c, &["GET", "a"], b("2"));
}

#[test]
fn queue_time_errors_abort_with_execabort() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();

    // Unknown command.
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "a", "1"], queued());
    expect_err_prefix(&mut c, &["FOOBAR", "x"], "ERR unknown command 'FOOBAR'");
    expect(&mut c, &["SADD", "s", "m"], queued());
    expect(&mut c, &["EXEC"], err(EXECABORT));
    expect(&mut c, &["EXISTS", "a", "s"], Resp::Int(0));

    // Wrong arity.
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "a", "1"], queued());
    expect(
        &mut c,
        &["HSET", "h", "f"],
        err("ERR wrong number of arguments for 'hset' command"),
    );
    expect(
        &mut c,
        &["GET"],
        err("ERR wrong number of arguments for 'get' command"),
    );
    expect(&mut c, &["EXEC"], err(EXECABORT));
    expect(&mut c, &["EXISTS", "a", "h"], Resp::Int(0));
    // After EXECABORT the connection is out of MULTI.
    expect(&mut c, &["SET", "a", "2"], ok());
    expect(&mut c, &["EXEC"], err("ERR EXEC without MULTI"));
}

#[test]
fn runtime_errors_inside_exec_do_not_abort_the_others() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    expect(&mut c, &["SET", "str", "v"], ok());
    expect(&mut c, &["SADD", "set", "m"], Resp::Int(1));

    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["INCR", "n"], queued());
    expect(&mut c, &["HSET", "str", "f", "v"], queued());
    expect(&mut c, &["INCR", "n"], queued());
    expect(&mut c, &["SADD", "str", "x"], queued());
    expect(&mut c, &["INCR", "str"], queued());
    expect(&mut c, &["HGET", "set", "f"], queued());
    expect(&mut c, &["HINCRBY", "h", "f", "notanumber"], queued());
    expect(&mut c, &["SADD", "set", "m2"], queued());
    expect(
        &mut c,
        &["EXEC"],
        Resp::Array(vec![
            Resp::Int(1),
            err(WRONGTYPE),
            Resp::Int(2),
            err(WRONGTYPE),
            err("ERR value is not an integer or out of range"),
            err(WRONGTYPE),
            err("ERR value is not an integer or out of range"),
            Resp::Int(1),
        ]),
    );
    expect(&mut c, &["GET", "n"], b("2"));
    expect(&mut c, &["GET", "str"], b("v"));
    expect(&mut c, &["SCARD", "set"], Resp::Int(2));
    expect(&mut c, &["EXISTS", "h"], Resp::Int(0));
}

#[test]
fn discard_and_misplaced_control_commands() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();

    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "a", "1"], queued());
    expect(&mut c, &["HSET", "h", "f", "v"], queued());
    expect(&mut c, &["DISCARD"], ok());
    expect(&mut c, &["EXISTS", "a", "h"], Resp::Int(0));
    // Out of MULTI again: commands run at once.
    expect(&mut c, &["SET", "a", "1"], ok());
    expect(&mut c, &["GET", "a"], b("1"));

    expect(&mut c, &["EXEC"], err("ERR EXEC without MULTI"));
    expect(&mut c, &["DISCARD"], err("ERR DISCARD without MULTI"));

    // Nested MULTI is refused but, as in Redis, does not abort the transaction.
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["INCR", "a"], queued());
    expect(&mut c, &["MULTI"], err("ERR MULTI calls can not be nested"));
    expect(&mut c, &["INCR", "a"], queued());
    expect(
        &mut c,
        &["EXEC"],
        Resp::Array(vec![Resp::Int(2), Resp::Int(3)]),
    );

    // WATCH inside MULTI is refused, likewise without aborting.
    expect(&mut c, &["MULTI"], ok());
    expect(
        &mut c,
        &["WATCH", "a"],
        err("ERR WATCH inside MULTI is not allowed"),
    );
    expect(&mut c, &["INCR", "a"], queued());
    expect(&mut c, &["EXEC"], Resp::Array(vec![Resp::Int(4)]));

    // DISCARD after a queue-time error also leaves MULTI.
    expect(&mut c, &["MULTI"], ok());
    expect_err_prefix(&mut c, &["NOSUCHCMD"], "ERR unknown command");
    expect(&mut c, &["DISCARD"], ok());
    expect(&mut c, &["GET", "a"], b("4"));
}

#[test]
fn watch_broken_by_another_client_makes_exec_return_null() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();

    for (setup, interfere) in [
        (&["SET", "k", "1"][..], &["SET", "k", "2"][..]),
        (&["SET", "k", "1"], &["INCR", "k"]),
        (&["HSET", "k", "f", "1"], &["HSET", "k", "g", "2"]),
        (&["SADD", "k", "m"], &["SREM", "k", "m"]),
        (&["SADD", "k", "m"], &["DEL", "k"]),
        (&["SADD", "k", "m"], &["EXPIRE", "k", "100"]),
        (&["DEL", "k"], &["SET", "k", "new"]),
        (&["SET", "k", "1"], &["RENAME", "k", "k2"]),
    ] {
        expect(&mut other, &["FLUSHDB"], ok());
        other.command_str(setup);
        expect(&mut c, &["WATCH", "k"], ok());
        other.command_str(interfere);
        expect(&mut c, &["MULTI"], ok());
        expect(&mut c, &["SET", "applied", "yes"], queued());
        expect(&mut c, &["SADD", "k2set", "x"], queued());
        let got = c.command_str(&["EXEC"]);
        assert_eq!(
            got.value,
            Resp::NullArray,
            "setup {setup:?}, other client {interfere:?}: EXEC must answer *-1, got {}",
            got.raw_str()
        );
        assert_eq!(got.raw, b"*-1\r\n");
        expect(&mut other, &["EXISTS", "applied", "k2set"], Resp::Int(0));
    }

    // Watching several keys: a write to any one breaks it.
    expect(&mut c, &["WATCH", "x", "y"], ok());
    expect(&mut c, &["WATCH", "z"], ok());
    expect(&mut other, &["HSET", "z", "f", "v"], Resp::Int(1));
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "yes"], queued());
    expect(&mut c, &["EXEC"], Resp::NullArray);
    expect(&mut other, &["EXISTS", "applied"], Resp::Int(0));

    // The watch ends with EXEC: the next transaction applies.
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "yes"], queued());
    expect(&mut c, &["EXEC"], Resp::Array(vec![ok()]));
    expect(&mut other, &["GET", "applied"], b("yes"));
}

#[test]
fn watch_without_interference_applies() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();
    expect(&mut c, &["SET", "k", "10"], ok());
    expect(&mut c, &["WATCH", "k", "nokey"], ok());
    // Reads by anyone, and writes to other keys, do not break the watch.
    expect(&mut other, &["GET", "k"], b("10"));
    expect(&mut other, &["SET", "unrelated", "1"], ok());
    expect(&mut other, &["SADD", "unrelated-set", "m"], Resp::Int(1));
    expect(&mut c, &["GET", "k"], b("10"));
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["INCRBY", "k", "5"], queued());
    expect(&mut c, &["SADD", "nokey", "m"], queued());
    expect(
        &mut c,
        &["EXEC"],
        Resp::Array(vec![Resp::Int(15), Resp::Int(1)]),
    );
    expect(&mut other, &["GET", "k"], b("15"));
    expect(&mut other, &["SCARD", "nokey"], Resp::Int(1));

    // The client's own writes between WATCH and MULTI break its watch too (as in Redis).
    expect(&mut c, &["WATCH", "k"], ok());
    expect(&mut c, &["SET", "k", "own"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "k", "tx"], queued());
    expect(&mut c, &["EXEC"], Resp::NullArray);
    expect(&mut c, &["GET", "k"], b("own"));
}

#[test]
fn watch_then_flushdb_by_another_client_aborts() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();
    expect(&mut c, &["HSET", "k", "f", "v"], Resp::Int(1));
    expect(&mut c, &["WATCH", "k"], ok());
    expect(&mut other, &["FLUSHDB"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "yes"], queued());
    expect(&mut c, &["EXEC"], Resp::NullArray);
    expect(&mut other, &["DBSIZE"], Resp::Int(0));

    expect(&mut c, &["SADD", "k", "m"], Resp::Int(1));
    expect(&mut c, &["WATCH", "k"], ok());
    expect(&mut other, &["FLUSHALL"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "yes"], queued());
    expect(&mut c, &["EXEC"], Resp::NullArray);
    expect(&mut other, &["DBSIZE"], Resp::Int(0));
}

#[test]
fn unwatch_and_discard_forget_the_watch() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();
    expect(&mut c, &["SET", "k", "1"], ok());

    expect(&mut c, &["WATCH", "k"], ok());
    expect(&mut other, &["SET", "k", "2"], ok());
    expect(&mut c, &["UNWATCH"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "1"], queued());
    expect(&mut c, &["EXEC"], Resp::Array(vec![ok()]));
    expect(&mut other, &["GET", "applied"], b("1"));

    expect(&mut c, &["UNWATCH"], ok());

    expect(&mut c, &["WATCH", "k"], ok());
    expect(&mut other, &["SET", "k", "3"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["DISCARD"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "2"], queued());
    expect(&mut c, &["EXEC"], Resp::Array(vec![ok()]));
    expect(&mut other, &["GET", "applied"], b("2"));
}

/// A transaction of 1000 INCRs is one record: after kill -9 the counter is all or nothing, and
/// exactly 1000 more when EXEC had replied.
#[test]
fn transaction_of_1000_incrs_is_atomic_across_kill9() {
    let mut srv = Server::start(&["--appendfsync", "always"]);
    let mut expected = 0i64;
    for round in 0..4 {
        let mut c = srv.raw();
        let mut tx = encode_str_command(&["MULTI"]);
        for _ in 0..1000 {
            tx.extend(encode_str_command(&["INCR", "ctr"]));
        }
        tx.extend(encode_str_command(&[
            "HSET",
            "h",
            "round",
            &round.to_string(),
        ]));
        tx.extend(encode_str_command(&["EXEC"]));
        c.send(&tx);
        let wait_for_reply = round % 2 == 0;
        if wait_for_reply {
            assert_eq!(c.read_frame().value, ok());
            for _ in 0..1001 {
                assert_eq!(c.read_frame().value, queued());
            }
            let exec = c.read_frame().value;
            let Resp::Array(items) = exec else {
                panic!("EXEC: {exec:?}")
            };
            assert_eq!(items.len(), 1001);
            assert_eq!(items[999], Resp::Int(expected + 1000));
        }
        srv.kill9();
        srv.restart();
        let mut con = srv.client();
        let got: i64 = redis::cmd("GET")
            .arg("ctr")
            .query::<Option<i64>>(&mut con)
            .expect("GET ctr")
            .unwrap_or(0);
        let round_field: Option<String> = run_as(&mut con, &["HGET", "h", "round"]);
        if wait_for_reply {
            assert_eq!(
                got,
                expected + 1000,
                "round {round}: EXEC replied, so all 1000 INCRs stay"
            );
        } else {
            assert!(
                got == expected || got == expected + 1000,
                "round {round}: counter {got}, expected {expected} or {}",
                expected + 1000
            );
        }
        if got == expected + 1000 {
            assert_eq!(
                round_field,
                Some(round.to_string()),
                "round {round}: the HSET in the same EXEC"
            );
        } else {
            assert_ne!(
                round_field,
                Some(round.to_string()),
                "round {round}: HSET without the INCRs"
            );
        }
        eprintln!(
            "round {round}: {} after restart ({})",
            got,
            if wait_for_reply {
                "EXEC replied before the kill"
            } else {
                "killed right after sending"
            }
        );
        expected = got;
    }
}

#[test]
fn resp3_exec_reply_shapes() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();
    let hello = c.command_str(&["HELLO", "3"]);
    assert!(
        matches!(hello.value, Resp::Map(_)),
        "HELLO 3: {}",
        hello.raw_str()
    );

    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["HSET", "h", "f", "v"], queued());
    expect(&mut c, &["HGETALL", "h"], queued());
    expect(&mut c, &["SADD", "s", "m"], queued());
    expect(&mut c, &["SMEMBERS", "s"], queued());
    expect(&mut c, &["GET", "nokey"], queued());
    expect(&mut c, &["INCR", "h"], queued());
    let exec = c.command_str(&["EXEC"]);
    assert_eq!(
        exec.value,
        Resp::Array(vec![
            Resp::Int(1),
            Resp::Map(vec![(b("f"), b("v"))]),
            Resp::Int(1),
            Resp::Set(vec![b("m")]),
            Resp::Null,
            err(WRONGTYPE),
        ]),
        "raw: {}",
        exec.raw_str()
    );

    // An aborted WATCH answers the RESP3 null.
    expect(&mut c, &["WATCH", "h"], ok());
    expect(&mut other, &["HSET", "h", "g", "w"], Resp::Int(1));
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["GET", "x"], queued());
    let exec = c.command_str(&["EXEC"]);
    assert_eq!(
        exec.raw,
        b"_\r\n",
        "aborted EXEC in RESP3: {}",
        exec.raw_str()
    );
}

/// Redis queues connection-level commands such as PING, ECHO and SELECT inside MULTI and runs
/// them at EXEC; clients (e.g. pipelines that SELECT a database) rely on it.
#[test]
fn ping_echo_select_inside_multi_are_queued_like_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["PING"], queued());
    expect(&mut c, &["ECHO", "hi"], queued());
    expect(&mut c, &["SELECT", "1"], queued());
    expect(&mut c, &["SET", "w", "1"], queued());
    expect(
        &mut c,
        &["EXEC"],
        Resp::Array(vec![Resp::Simple("PONG".into()), b("hi"), ok(), ok()]),
    );
    expect(&mut c, &["GET", "w"], b("1"));
    expect(&mut c, &["SELECT", "0"], ok());
    expect(&mut c, &["GET", "w"], Resp::NullBulk);
}

#[test]
fn exec_of_2000_queued_sadds_replies_in_full() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut tx = encode_str_command(&["MULTI"]);
    for i in 0..2000 {
        tx.extend(encode_str_command(&["SADD", "big", &format!("m{i}")]));
    }
    tx.extend(encode_str_command(&["EXEC"]));
    c.send(&tx);
    for _ in 0..2001 {
        c.read_frame();
    }
    match c.try_read_frame(Duration::from_secs(20)) {
        Ok(f) => match f.value {
            Resp::Array(items) => assert_eq!(items.len(), 2000),
            other => panic!("EXEC: {other:?}"),
        },
        Err(e) => panic!("EXEC reply: {e:?}"),
    }
    let mut other = srv.raw();
    expect(&mut other, &["SCARD", "big"], Resp::Int(2000));
}

/// Redis 7.0 breaks watches on FLUSHDB/FLUSHALL only for watched keys that existed
/// (db.c touchAllWatchedKeysInDb checks `dictFind(emptied->dict, key)`), so a watch on a
/// missing key survives a flush.
#[test]
fn watch_of_a_missing_key_survives_flushdb_like_redis() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();
    expect(&mut other, &["SET", "unrelated", "1"], ok());
    expect(&mut c, &["WATCH", "nokey"], ok());
    expect(&mut other, &["FLUSHDB"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "yes"], queued());
    expect(&mut c, &["EXEC"], Resp::Array(vec![ok()]));
    expect(&mut other, &["GET", "applied"], b("yes"));
}

/// Redis' LTRIM signals the key even when it trims nothing (t_list.c ltrimCommand calls
/// signalModifiedKey unconditionally), so it breaks a WATCH. Found by the differential test.
#[test]
fn ltrim_that_trims_nothing_still_breaks_a_watch() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut other = srv.raw();
    expect(&mut other, &["RPUSH", "l", "a", "b"], Resp::Int(2));
    expect(&mut c, &["WATCH", "l"], ok());
    expect(&mut other, &["LTRIM", "l", "-10", "-1"], ok());
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["SET", "applied", "yes"], queued());
    expect(&mut c, &["EXEC"], Resp::NullArray);
    expect(&mut other, &["EXISTS", "applied"], Resp::Int(0));
}

/// PING inside MULTI answers as PING outside it: two arguments are an arity error, inside
/// EXEC's reply.
#[test]
fn ping_inside_multi_answers_like_ping() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    expect(&mut c, &["MULTI"], ok());
    expect(&mut c, &["PING"], queued());
    expect(&mut c, &["PING", "a", "b"], queued());
    expect(
        &mut c,
        &["EXEC"],
        Resp::Array(vec![
            Resp::Simple("PONG".into()),
            Resp::Error("ERR wrong number of arguments for 'ping' command".into()),
        ]),
    );
}

/// Server commands inside MULTI are queued and answer in EXEC's reply at their places, as
/// redis-server 7.0.15 answers them (compared byte for byte with a stock one); SHUTDOWN is not
/// allowed in a transaction.
#[test]
fn server_commands_inside_multi_answer_in_exec_like_redis() {
    let srv = Server::start(&[]);
    let reference = RedisRef::start();
    let transcript = |mut c: RawConn| -> String {
        let mut out = String::new();
        for cmd in [
            &["MULTI"][..],
            &["SET", "a", "1"],
            &["CLIENT", "SETNAME", "tx"],
            &["CONFIG", "GET", "maxclients"],
            &["INCR", "c"],
            &["ECHO", "x"],
            &["CLIENT", "GETNAME"],
            &["EXEC"],
            &["CLIENT", "GETNAME"],
            &["MULTI"],
            &["SHUTDOWN"],
            &["EXEC"],
        ] {
            out.push_str(&c.command_str(cmd).raw_str());
        }
        out
    };
    assert_eq!(transcript(srv.raw()), transcript(reference.raw()));
}
