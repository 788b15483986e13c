//! Server commands: CONFIG (the Redis tuning keys client preambles touch, appendfsync),
//! scripting stubs, CLIENT, INFO, DBSIZE, TIME, COMMAND, ECHO, PING, LASTSAVE.

use std::time::Duration;

use redis::Value;

use crate::common::*;

/// Keys that client libraries and tools read or set at connect time.
const COMPAT_KEYS: [&str; 7] = [
    "save",
    "appendonly",
    "maxmemory",
    "list-max-ziplist-size",
    "hash-max-ziplist-entries",
    "set-max-intset-entries",
    "databases",
];

#[test]
fn config_get_of_redis_tuning_keys_returns_a_pair() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    for k in COMPAT_KEYS {
        let pair: Vec<String> = run_as(&mut con, &["CONFIG", "GET", k]);
        assert_eq!(pair.len(), 2, "CONFIG GET {k} -> {pair:?}");
        assert_eq!(pair[0], k, "CONFIG GET {k} names the key");
    }
    let dbs: Vec<String> = run_as(&mut con, &["CONFIG", "GET", "databases"]);
    assert_eq!(dbs[1], "16");
    let none: Vec<String> = run_as(&mut con, &["CONFIG", "GET", "no-such-parameter"]);
    assert!(
        none.is_empty(),
        "unknown parameter -> empty array, got {none:?}"
    );
}

#[test]
fn config_set_of_redis_tuning_keys_is_reported_back() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    for (k, v) in [
        ("maxmemory", "1048576"),
        ("save", "3600 1"),
        ("hash-max-ziplist-entries", "256"),
        ("set-max-intset-entries", "1024"),
        ("list-max-ziplist-size", "-3"),
    ] {
        assert_eq!(
            run(&mut con, &["CONFIG", "SET", k, v]),
            Value::Okay,
            "CONFIG SET {k} {v}"
        );
        let pair: Vec<String> = run_as(&mut con, &["CONFIG", "GET", k]);
        assert_eq!(
            pair,
            vec![k.to_string(), v.to_string()],
            "CONFIG GET {k} after SET"
        );
    }
    assert_eq!(run(&mut con, &["CONFIG", "SET", "save", ""]), Value::Okay);
    let pair: Vec<String> = run_as(&mut con, &["CONFIG", "GET", "save"]);
    assert_eq!(pair, vec!["save".to_string(), String::new()]);
    assert_eq!(run(&mut con, &["CONFIG", "RESETSTAT"]), Value::Okay);
    // Writes still work: the compatibility keys change nothing here.
    assert_eq!(run(&mut con, &["SET", "k", "v"]), Value::Okay);
}

#[test]
fn config_set_appendfsync_changes_the_policy() {
    let srv = Server::start(&["--appendfsync", "always"]);
    let mut con = srv.client();
    let get = |con: &mut redis::Connection| -> Vec<String> {
        run_as(con, &["CONFIG", "GET", "appendfsync"])
    };
    assert_eq!(
        get(&mut con),
        vec!["appendfsync".to_string(), "always".to_string()]
    );
    for policy in ["everysec", "no", "always"] {
        assert_eq!(
            run(&mut con, &["CONFIG", "SET", "appendfsync", policy]),
            Value::Okay
        );
        assert_eq!(
            get(&mut con),
            vec!["appendfsync".to_string(), policy.to_string()]
        );
        assert_eq!(
            run(&mut con, &["SET", &format!("under:{policy}"), "v"]),
            Value::Okay,
            "writes under {policy}"
        );
    }
    let e = run_err(&mut con, &["CONFIG", "SET", "appendfsync", "bogus"]);
    assert!(e.starts_with("ERR"), "CONFIG SET appendfsync bogus: {e}");
    assert_eq!(
        get(&mut con),
        vec!["appendfsync".to_string(), "always".to_string()],
        "a refused SET changes nothing"
    );
}

/// Several pairs are applied all or none, ranges are Redis' (texts from redis-server 7.0.15).
#[test]
fn config_set_checks_every_pair_before_applying_any() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let get = |con: &mut redis::Connection, k: &str| -> String {
        let pair: Vec<String> = run_as(con, &["CONFIG", "GET", k]);
        pair.get(1).cloned().unwrap_or_default()
    };
    let failed = |k: &str, why: &str| {
        format!("ERR CONFIG SET failed (possibly related to argument '{k}') - {why}")
    };
    for (args, expected) in [
        (
            vec!["maxclients", "10", "bogus", "1"],
            "ERR Unknown option or number of arguments for CONFIG SET - 'bogus'".to_string(),
        ),
        (
            vec!["maxclients", "10", "maxclients", "20"],
            failed("maxclients", "duplicate parameter"),
        ),
        (
            vec!["maxclients", "10", "proto-max-bulk-len", "5"],
            failed(
                "proto-max-bulk-len",
                "argument must be between 1048576 and 9223372036854775807 inclusive",
            ),
        ),
        (
            vec!["maxclients", "0"],
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive",
            ),
        ),
        (
            vec!["maxclients", "10", "repl-timeout", "0"],
            failed(
                "repl-timeout",
                "argument must be between 1 and 2147483647 inclusive",
            ),
        ),
        (
            vec!["maxclients", "10", "repl-backlog-ttl", "-1"],
            failed(
                "repl-backlog-ttl",
                "argument must be between 0 and 9223372036854775807 inclusive",
            ),
        ),
        (
            vec!["maxclients", "abc"],
            failed("maxclients", "argument couldn't be parsed into an integer"),
        ),
        (
            vec!["maxclients", "10", "appendfsync", "sometimes"],
            failed(
                "appendfsync",
                "argument(s) must be one of the following: everysec, always, no",
            ),
        ),
        (
            vec!["maxclients", "10", "port", "7000"],
            failed("port", "can't set immutable config"),
        ),
    ] {
        let mut cmd = vec!["CONFIG", "SET"];
        cmd.extend(&args);
        assert_eq!(run_err(&mut con, &cmd), expected, "CONFIG SET {args:?}");
        assert_eq!(get(&mut con, "maxclients"), "10000", "after {args:?}");
    }
    assert_eq!(
        run(
            &mut con,
            &[
                "CONFIG",
                "SET",
                "maxclients",
                "50",
                "proto-max-bulk-len",
                "2mb",
                "save",
                ""
            ]
        ),
        Value::Okay
    );
    assert_eq!(get(&mut con, "maxclients"), "50");
    assert_eq!(get(&mut con, "proto-max-bulk-len"), "2097152");
}

/// A flag out of the range CONFIG SET takes stops start-up with the key's name.
#[test]
fn a_flag_out_of_range_stops_start_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (status, text) = Server::start_in_expect_failure(
        dir.path(),
        &["--maxclients", "0"],
        Duration::from_secs(30),
    );
    assert!(!status.success());
    assert!(
        text.contains("maxclients must be between 1 and 4294967295 inclusive, got 0"),
        "{text}"
    );
}

#[test]
fn function_flush_answers_ok_and_eval_is_an_error() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    assert_eq!(run(&mut con, &["FUNCTION", "FLUSH"]), Value::Okay);
    let e = run_err(&mut con, &["EVAL", "return 1", "0"]);
    assert!(e.starts_with("ERR"), "EVAL: {e}");
    assert_eq!(
        run(&mut con, &["PING"]),
        Value::SimpleString("PONG".into()),
        "the connection survives"
    );
}

#[test]
fn client_id_setname_getname_list_and_kill() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let mut victim = srv.client();

    let id: i64 = run_as(&mut con, &["CLIENT", "ID"]);
    let victim_id: i64 = run_as(&mut victim, &["CLIENT", "ID"]);
    assert!(id > 0 && victim_id > 0, "ids {id} {victim_id}");
    assert_ne!(id, victim_id, "every connection has its own id");
    assert_eq!(
        run_as::<i64>(&mut con, &["CLIENT", "ID"]),
        id,
        "the id is stable"
    );

    assert_eq!(
        run(&mut con, &["CLIENT", "GETNAME"]),
        Value::Nil,
        "no name yet"
    );
    assert_eq!(run(&mut con, &["CLIENT", "SETNAME", "tester"]), Value::Okay);
    assert_eq!(run(&mut con, &["CLIENT", "GETNAME"]), bulk("tester"));
    assert!(run_err(&mut con, &["CLIENT", "SETNAME", "has space"]).starts_with("ERR"));
    assert_eq!(run(&mut con, &["CLIENT", "GETNAME"]), bulk("tester"));

    let list: String = run_as(&mut con, &["CLIENT", "LIST"]);
    let mine = list
        .lines()
        .find(|l| l.split(' ').any(|f| f == format!("id={id}")))
        .unwrap_or_else(|| panic!("CLIENT LIST has no line for id={id}:\n{list}"));
    assert!(
        mine.split(' ').any(|f| f == "name=tester"),
        "my CLIENT LIST line: {mine}"
    );
    assert!(
        list.lines()
            .any(|l| l.split(' ').any(|f| f == format!("id={victim_id}"))),
        "CLIENT LIST lists the other connection:\n{list}"
    );

    assert_eq!(
        run(&mut con, &["CLIENT", "KILL", "ID", &victim_id.to_string()]),
        Value::Int(1)
    );
    let mut killed = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if redis::cmd("PING").query::<Value>(&mut victim).is_err() {
            killed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(killed, "the killed connection still answers");
    assert_eq!(
        run(&mut con, &["CLIENT", "KILL", "ID", "999999"]),
        Value::Int(0),
        "no such client"
    );
    let list: String = run_as(&mut con, &["CLIENT", "LIST"]);
    assert!(
        !list
            .lines()
            .any(|l| l.split(' ').any(|f| f == format!("id={victim_id}"))),
        "the killed client is gone from CLIENT LIST:\n{list}"
    );
}

#[test]
fn info_has_the_sections_role_and_keyspace() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    run(&mut con, &["SET", "a", "1"]);
    run(&mut con, &["SET", "b", "2", "EX", "100"]);

    let info: String = run_as(&mut con, &["INFO"]);
    for header in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Cluster",
        "# Keyspace",
    ] {
        assert!(
            info.lines().any(|l| l.trim_end() == header),
            "INFO lacks {header:?}:\n{info}"
        );
    }
    // What monitoring tools read: CPU seconds grow with work; the run id is 40 hex digits.
    let cpu = |con: &mut redis::Connection| -> f64 {
        let sys: f64 = info_field(con, "cpu", "used_cpu_sys")
            .and_then(|v| v.parse().ok())
            .expect("used_cpu_sys");
        let user: f64 = info_field(con, "cpu", "used_cpu_user")
            .and_then(|v| v.parse().ok())
            .expect("used_cpu_user");
        sys + user
    };
    let before = cpu(&mut con);
    for _ in 0..3000 {
        run(&mut con, &["GET", "a"]);
    }
    assert!(
        cpu(&mut con) > before,
        "INFO cpu did not grow over 3000 GETs"
    );
    let run_id = info_field(&mut con, "server", "run_id").expect("run_id");
    assert!(
        run_id.len() == 40 && run_id.bytes().all(|c| c.is_ascii_hexdigit()),
        "{run_id}"
    );
    assert_eq!(
        info_field(&mut con, "cluster", "cluster_enabled").as_deref(),
        Some("0")
    );
    assert!(
        info.lines().any(|l| l.trim_end() == "role:master"),
        "INFO lacks role:master"
    );

    let repl = info_section(&mut con, "replication");
    let field = |k: &str| repl.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    assert_eq!(field("role").as_deref(), Some("master"));
    let replid = field("master_replid").expect("master_replid");
    assert!(
        replid.len() == 40 && replid.bytes().all(|b| b.is_ascii_hexdigit()),
        "master_replid is 40 hex characters: {replid:?}"
    );
    let off = field("master_repl_offset").expect("master_repl_offset");
    assert!(
        off.parse::<u64>().is_ok(),
        "master_repl_offset is a number: {off:?}"
    );

    let db0 = info_field(&mut con, "keyspace", "db0").expect("INFO keyspace has db0");
    assert!(db0.starts_with("keys=2,expires=1,avg_ttl="), "db0:{db0}");
    assert!(
        info_field(&mut con, "keyspace", "db1").is_none(),
        "empty databases are not listed"
    );
}

#[test]
fn info_persistence_reports_how_long_fsyncs_take() {
    let srv = Server::start(&["--appendfsync", "always"]);
    let mut con = srv.client();
    // One INFO persistence read: (fsyncs, total us, average us).
    let read = |con: &mut redis::Connection| -> (u64, u64, u64) {
        let section = info_section(con, "persistence");
        let num = |f: &str| -> u64 {
            let v = section
                .iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v.clone())
                .unwrap_or_else(|| panic!("INFO persistence has {f}"));
            v.parse()
                .unwrap_or_else(|e| panic!("{f}:{v:?} is not a count: {e}"))
        };
        (
            num("log_fsyncs"),
            num("log_fsync_total_us"),
            num("log_fsync_avg_us"),
        )
    };
    let (fsyncs_before, total_before, _) = read(&mut con);
    for i in 0..20 {
        run(&mut con, &["SET", &format!("k{i}"), "v"]);
    }
    // Under `always` each acknowledged SET was covered by an fsync, one at a time here.
    let (fsyncs, total, avg) = read(&mut con);
    assert!(
        fsyncs >= fsyncs_before + 20,
        "20 SETs one after another, each answered after its fsync: {fsyncs_before} -> {fsyncs}"
    );
    assert!(
        total > total_before,
        "the time spent in those fsyncs is counted: {total_before} -> {total}"
    );
    assert_eq!(
        avg,
        total / fsyncs,
        "the average is the total over the count"
    );
}

#[test]
fn master_repl_offset_grows_with_writes_only() {
    let srv = Server::start(&[]);
    let mut con = srv.client();
    let o0 = repl_offset(&mut con);
    run(&mut con, &["SET", "k", "v"]);
    let o1 = repl_offset(&mut con);
    assert!(o1 > o0, "SET advanced the offset: {o0} -> {o1}");
    run(&mut con, &["GET", "k"]);
    run(&mut con, &["EXISTS", "k"]);
    assert_eq!(repl_offset(&mut con), o1, "reads write nothing");
    assert_eq!(run(&mut con, &["SET", "k", "v2", "NX"]), Value::Nil);
    assert_eq!(run(&mut con, &["DEL", "nosuch"]), Value::Int(0));
    assert_eq!(
        repl_offset(&mut con),
        o1,
        "writes that change nothing write nothing"
    );
    run(&mut con, &["DEL", "k"]);
    let o2 = repl_offset(&mut con);
    assert!(o2 > o1, "DEL advanced the offset: {o1} -> {o2}");
}

#[test]
fn dbsize_time_command_echo_ping_lastsave() {
    let srv = Server::start(&[]);
    let mut con = srv.client();

    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(0));
    run(&mut con, &["MSET", "a", "1", "b", "2"]);
    assert_eq!(run(&mut con, &["DBSIZE"]), Value::Int(2));

    let (secs, usecs): (String, String) = run_as(&mut con, &["TIME"]);
    let secs: u64 = secs.parse().expect("TIME seconds");
    let usecs: u64 = usecs.parse().expect("TIME microseconds");
    assert!(
        secs.abs_diff(now_secs()) <= 5,
        "TIME {secs} vs the clock {}",
        now_secs()
    );
    assert!(usecs < 1_000_000, "TIME microseconds {usecs}");

    let count: i64 = run_as(&mut con, &["COMMAND", "COUNT"]);
    assert!(count > 50, "COMMAND COUNT {count}");
    match run(&mut con, &["COMMAND", "INFO", "get"]) {
        Value::Array(entries) => {
            assert_eq!(entries.len(), 1);
            match &entries[0] {
                Value::Array(info) => {
                    assert_eq!(info.first(), Some(&bulk("get")), "COMMAND INFO name");
                    assert_eq!(info.get(1), Some(&Value::Int(2)), "GET's arity");
                }
                other => panic!("COMMAND INFO get entry: {other:?}"),
            }
        }
        other => panic!("COMMAND INFO get: {other:?}"),
    }
    assert_eq!(
        run(&mut con, &["COMMAND", "INFO", "nosuchcommand"]),
        Value::Array(vec![Value::Nil])
    );
    match run(&mut con, &["COMMAND", "DOCS", "get"]) {
        Value::Array(items) => assert_eq!(
            items.first(),
            Some(&bulk("get")),
            "COMMAND DOCS get: {items:?}"
        ),
        Value::Map(pairs) => assert_eq!(pairs.first().map(|p| &p.0), Some(&bulk("get"))),
        other => panic!("COMMAND DOCS get: {other:?}"),
    }

    assert_eq!(run(&mut con, &["ECHO", "hello"]), bulk("hello"));
    assert_err(
        &mut con,
        &["ECHO"],
        "ERR wrong number of arguments for 'echo' command",
    );
    assert_eq!(run(&mut con, &["PING"]), Value::SimpleString("PONG".into()));
    assert_eq!(run(&mut con, &["PING", "hi"]), bulk("hi"));
    match run(&mut con, &["LASTSAVE"]) {
        Value::Int(t) => assert!(t >= 0, "LASTSAVE {t}"),
        other => panic!("LASTSAVE: {other:?}"),
    }
}

#[test]
fn shutdown_command_stops_with_exit_code_0() {
    let mut srv = Server::start(&[]);
    {
        let mut con = srv.client();
        run(&mut con, &["SET", "k", "v"]);
    }
    let status = srv.shutdown_command();
    assert!(status.success(), "SHUTDOWN exit status {status}");
    srv.restart();
    let mut con = srv.client();
    assert_eq!(get_s(&mut con, "k").as_deref(), Some("v"));
}

/// Admin and transaction commands give redis-server 7.0.15's replies byte for byte: each
/// request goes to a fresh connection of both servers (the stock one started by the test).
#[test]
fn client_command_exec_and_unknown_command_errors_match_redis() {
    let srv = Server::start(&[]);
    let reference = RedisRef::start();
    let long = |c: char, n: usize| c.to_string().repeat(n);
    let numbers: Vec<String> = (0..30).map(|i| i.to_string()).collect();
    let mut nosuch_numbers = vec!["NOSUCH".to_string()];
    nosuch_numbers.extend(numbers);
    let requests: Vec<Vec<String>> = [
        vec!["CLIENT", "SETNAME"],
        vec!["CLIENT", "SETNAME", "a", "b"],
        vec!["CLIENT", "GETNAME", "x"],
        vec!["CLIENT", "ID", "x"],
        vec!["CLIENT", "NO-EVICT", "maybe"],
        vec!["CLIENT", "NO-EVICT", "on"],
        vec!["CLIENT", "LIST", "TYPE", "bogus"],
        vec!["CLIENT", "LIST", "TYPE", "pubsub"],
        vec!["CLIENT", "LIST", "ID", "x"],
        vec!["CLIENT", "LIST", "x"],
        vec!["CLIENT", "KILL"],
        vec!["CLIENT", "KILL", "ID", "abc"],
        vec!["CLIENT", "KILL", "ID", "0"],
        vec!["CLIENT", "KILL", "TYPE", "bogus"],
        vec!["CLIENT", "KILL", "USER", "bob"],
        vec!["CLIENT", "KILL", "SKIPME", "maybe"],
        vec!["CLIENT", "KILL", "ID", "999999"],
        vec!["COMMAND", "INFO", "nosuch"],
        vec!["EXEC", "x"],
        vec!["CLIENT", "LIST", "ID", "0"],
        vec!["CLIENT", "KILL", "USER", "DEFAULT"],
        vec!["CONFIG", "SET", "maxclients", "10k"],
        vec!["CONFIG", "SET", "maxclients", "+5"],
        vec!["CONFIG", "SET", "repl-timeout", "1k"],
    ]
    .iter()
    .map(|r| r.iter().map(|s| s.to_string()).collect())
    .chain([
        vec!["NOSUCH".to_string(), long('x', 100), long('y', 100)],
        vec![
            "NOSUCH".to_string(),
            long('x', 60),
            long('y', 60),
            long('z', 60),
        ],
        nosuch_numbers,
        vec!["NOSUCH".to_string(), "a\0b".to_string()],
    ])
    .collect();
    for req in &requests {
        let args: Vec<&str> = req.iter().map(String::as_str).collect();
        let ours = srv.raw().command_str(&args).raw_str();
        let theirs = reference.raw().command_str(&args).raw_str();
        assert_eq!(ours, theirs, "{args:?}");
    }
    // Pipelines, read back whole: RESET turns CLIENT REPLY back on; a refused EXEC is
    // answered after the write before it.
    for pipeline in [
        &[&["CLIENT", "REPLY", "OFF"][..], &["RESET"], &["PING"]][..],
        &[&["SET", "a", "1"][..], &["EXEC", "x"], &["GET", "a"]],
    ] {
        let bytes: Vec<u8> = pipeline
            .iter()
            .flat_map(|c| encode_str_command(c))
            .collect();
        let answers = |mut c: RawConn| {
            c.send(&bytes);
            let mut out = String::new();
            for _ in 0..pipeline.len() - usize::from(pipeline[0][0] == "CLIENT") {
                out.push_str(&c.read_frame().raw_str());
            }
            out
        };
        assert_eq!(answers(srv.raw()), answers(reference.raw()), "{pipeline:?}");
    }
}

/// UNWATCH inside MULTI is queued, as in Redis: a WATCH broken before EXEC still aborts it.
#[test]
fn unwatch_inside_multi_does_not_save_a_broken_watch() {
    let srv = Server::start(&[]);
    let mut a = srv.raw();
    let mut b = srv.client();
    assert_eq!(a.command_str(&["SET", "w", "1"]).raw_str(), "+OK\r\n");
    assert_eq!(a.command_str(&["WATCH", "w"]).raw_str(), "+OK\r\n");
    assert_eq!(a.command_str(&["MULTI"]).raw_str(), "+OK\r\n");
    assert_eq!(a.command_str(&["UNWATCH"]).raw_str(), "+QUEUED\r\n");
    run(&mut b, &["SET", "w", "2"]);
    assert_eq!(a.command_str(&["SET", "x", "1"]).raw_str(), "+QUEUED\r\n");
    assert_eq!(a.command_str(&["EXEC"]).raw_str(), "*-1\r\n");
    assert_eq!(get_s(&mut b, "x"), None);
    // Unbroken, the queued UNWATCH answers OK in EXEC's reply.
    assert_eq!(a.command_str(&["MULTI"]).raw_str(), "+OK\r\n");
    assert_eq!(a.command_str(&["UNWATCH"]).raw_str(), "+QUEUED\r\n");
    assert_eq!(a.command_str(&["EXEC"]).raw_str(), "*1\r\n+OK\r\n");
}

/// CONFIG SET of Redis tuning keys checks values as redis-server 7.0.15 does (same replies
/// byte for byte, and the same value reported back), though they change nothing here.
#[test]
fn config_set_of_redis_tuning_keys_checks_values_as_redis() {
    let srv = Server::start(&[]);
    let reference = RedisRef::start();
    let (mut ours, mut theirs) = (srv.raw(), reference.raw());
    let keys = [
        "save",
        "appendonly",
        "databases",
        "maxmemory",
        "maxmemory-policy",
        "timeout",
        "tcp-keepalive",
        "lazyfree-lazy-expire",
        "list-max-listpack-size",
        "list-compress-depth",
        "hash-max-listpack-entries",
        "hash-max-listpack-value",
        "set-max-intset-entries",
        "zset-max-listpack-value",
        "activerehashing",
        "notify-keyspace-events",
        "slowlog-log-slower-than",
        "slowlog-max-len",
        "stop-writes-on-bgsave-error",
        "dbfilename",
        "appendfilename",
        "auto-aof-rewrite-min-size",
        "client-output-buffer-limit",
        "repl-backlog-size",
        "replica-read-only",
        "loglevel",
    ];
    let values = [
        "abc", "-1", "1.5", "1gb", "yes", "100", "3600 1", "warning", "Ex",
    ];
    for k in keys {
        for v in values {
            let set = ["CONFIG", "SET", k, v];
            let reply = ours.command_str(&set).raw_str();
            assert_eq!(reply, theirs.command_str(&set).raw_str(), "{set:?}");
            let normalised_differently = ["notify-keyspace-events", "client-output-buffer-limit"];
            if reply == "+OK\r\n" && !normalised_differently.contains(&k) {
                let get = ["CONFIG", "GET", k];
                assert_eq!(
                    ours.command_str(&get).raw_str(),
                    theirs.command_str(&get).raw_str(),
                    "after {set:?}"
                );
            }
        }
    }
}
