//! The wire protocol over raw TCP: inline commands, pipelines in one write, frames arriving in
//! pieces, protocol errors (reply, then close, other clients unaffected), the bulk length limit,
//! RESP3 via HELLO, AUTH with --requirepass, and maxclients.

use std::thread;
use std::time::{Duration, Instant};

use redis::Value;

use crate::common::*;

const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[track_caller]
fn assert_raw(frame: &Frame, expected: &[u8]) {
    assert_eq!(
        frame.raw_str(),
        String::from_utf8_lossy(expected),
        "raw reply bytes"
    );
}

#[test]
fn inline_commands_work() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    assert_raw(&c.request(b"PING\r\n"), b"+PONG\r\n");
    assert_raw(&c.request(b"SET a b\r\n"), b"+OK\r\n");
    assert_raw(&c.request(b"GET a\r\n"), b"$1\r\nb\r\n");
    assert_raw(&c.request(b"PING hello\r\n"), b"$5\r\nhello\r\n");
    assert_raw(&c.request(b"EXISTS a nosuch\r\n"), b":1\r\n");
    assert_raw(&c.request(b"GET nosuch\r\n"), b"$-1\r\n");

    // Several inline commands in one write, and inline mixed with RESP.
    c.send(b"INCR n\r\nINCR n\r\n*2\r\n$4\r\nINCR\r\n$1\r\nn\r\nINCR n\r\n");
    for expected in [&b":1\r\n"[..], b":2\r\n", b":3\r\n", b":4\r\n"] {
        assert_raw(&c.read_frame(), expected);
    }

    // What was written inline is what the redis crate reads.
    let mut con = srv.client();
    assert_eq!(get_s(&mut con, "a").as_deref(), Some("b"));
    assert_eq!(get_s(&mut con, "n").as_deref(), Some("4"));
}

#[test]
fn pipeline_of_1000_commands_in_one_write() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();

    let mut batch = Vec::new();
    for _ in 0..1000 {
        batch.extend_from_slice(&encode_str_command(&["INCR", "ctr"]));
    }
    c.send(&batch);
    for i in 1..=1000i64 {
        let f = c.read_frame();
        assert_eq!(f.value, Resp::Int(i), "reply {i} of the INCR pipeline");
    }

    // SET and GET interleaved: every GET sees the SET just before it.
    let mut batch = Vec::new();
    for i in 0..500 {
        let k = format!("key:{i}");
        let v = format!("value:{i}");
        batch.extend_from_slice(&encode_str_command(&["SET", &k, &v]));
        batch.extend_from_slice(&encode_str_command(&["GET", &k]));
    }
    c.send(&batch);
    for i in 0..500 {
        assert_eq!(
            c.read_frame().value,
            Resp::Simple("OK".into()),
            "SET reply {i}"
        );
        assert_eq!(
            c.read_frame().value,
            Resp::Bulk(format!("value:{i}").into_bytes()),
            "GET reply {i}"
        );
    }
    assert!(c.buffered().is_empty(), "no stray bytes after the pipeline");
    assert_raw(&c.command_str(&["DBSIZE"]), b":501\r\n");
}

#[test]
fn command_arriving_byte_by_byte_is_answered_once_whole() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let cmd = encode_str_command(&["SET", "key", "split\r\nvalue"]);
    for b in &cmd {
        c.send(std::slice::from_ref(b));
        thread::sleep(Duration::from_millis(2));
    }
    assert_raw(&c.read_frame(), b"+OK\r\n");
    assert_raw(
        &c.command_str(&["GET", "key"]),
        b"$12\r\nsplit\r\nvalue\r\n",
    );
}

#[test]
fn malformed_resp_gets_a_protocol_error_and_the_server_keeps_serving() {
    let srv = Server::start(&[]);

    let cases: [&[u8]; 3] = [
        b"*abc\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$x\r\n",
        b"*2\r\n:1\r\n:2\r\n",
    ];
    for bad in cases {
        let mut c = srv.raw();
        let mut bystander = srv.raw();
        assert_raw(
            &bystander.command_str(&["SET", "bystander", "here"]),
            b"+OK\r\n",
        );

        c.send(bad);
        let f = c.read_frame();
        assert!(
            f.raw_str().starts_with("-ERR Protocol error"),
            "reply to {:?}: {:?}",
            String::from_utf8_lossy(bad),
            f.raw_str()
        );
        assert!(
            c.wait_closed(CLOSE_TIMEOUT),
            "connection not closed after a protocol error"
        );

        // Another client, already connected, is unaffected; a new one is served.
        assert_raw(
            &bystander.command_str(&["GET", "bystander"]),
            b"$4\r\nhere\r\n",
        );
        assert_raw(&srv.raw().request(b"PING\r\n"), b"+PONG\r\n");
    }
    let mut con = srv.client();
    assert_eq!(run(&mut con, &["SET", "k", "v"]), Value::Okay);
    assert_eq!(
        get_s(&mut con, "k").as_deref(),
        Some("v"),
        "no half-parsed command was applied"
    );
}

#[test]
fn bulk_length_over_proto_max_bulk_len_is_refused_before_the_body() {
    // Redis' smallest limit, 1 MiB.
    let srv = Server::start(&["--proto-max-bulk-len", "1048576"]);

    for len in [2_000_000u64, 1_048_577, 1 << 40] {
        let mut c = srv.raw();
        // Only the header: the reply must come without the body ever being sent.
        c.send(format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${len}\r\n").as_bytes());
        let f = c.read_frame();
        assert_raw(&f, b"-ERR Protocol error: invalid bulk length\r\n");
        assert!(
            c.wait_closed(CLOSE_TIMEOUT),
            "connection not closed after declaring {len} bytes"
        );
    }

    let mut con = srv.client();
    let exactly = vec![b'x'; 1_048_576];
    let reply: Value = redis::cmd("SET")
        .arg("ok")
        .arg(exactly.as_slice())
        .query(&mut con)
        .unwrap();
    assert_eq!(
        reply,
        Value::Okay,
        "a bulk of exactly the limit is accepted"
    );
    assert_eq!(run(&mut con, &["STRLEN", "ok"]), Value::Int(1_048_576));
    assert_eq!(run(&mut con, &["EXISTS", "big"]), Value::Int(0));
}

#[test]
fn unknown_command_and_wrong_arity_keep_the_connection_open() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();

    assert_raw(
        &c.command_str(&["foobar", "a", "b"]),
        b"-ERR unknown command 'foobar', with args beginning with: 'a' 'b' \r\n",
    );
    assert_raw(&c.command_str(&["PING"]), b"+PONG\r\n");
    assert_raw(
        &c.command_str(&["foobar"]),
        b"-ERR unknown command 'foobar', with args beginning with: \r\n",
    );
    assert_raw(
        &c.command_str(&["GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    assert_raw(&c.command_str(&["PING"]), b"+PONG\r\n");
    assert_raw(
        &c.command_str(&["SET", "k"]),
        b"-ERR wrong number of arguments for 'set' command\r\n",
    );
    assert_raw(&c.command_str(&["set", "k", "v"]), b"+OK\r\n");
    assert_raw(&c.command_str(&["gEt", "k"]), b"$1\r\nv\r\n");
    // Errors inside a pipeline do not disturb the replies around them.
    c.send(b"*1\r\n$3\r\nGET\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nnope\r\n*1\r\n$4\r\nPING\r\n");
    assert!(c
        .read_frame()
        .raw_str()
        .starts_with("-ERR wrong number of arguments"));
    assert_raw(&c.read_frame(), b"$1\r\nv\r\n");
    assert!(c
        .read_frame()
        .raw_str()
        .starts_with("-ERR unknown command 'nope'"));
    assert_raw(&c.read_frame(), b"+PONG\r\n");
}

/// The value under `key` in a HELLO reply (RESP3 map or RESP2 flat array).
fn hello_field(reply: &Resp, key: &str) -> Option<Resp> {
    reply
        .pairs()?
        .into_iter()
        .find(|(k, _)| k.text().as_deref() == Some(key))
        .map(|(_, v)| v)
}

#[test]
fn hello_3_switches_to_resp3_and_hello_2_back() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();

    let f = c.command_str(&["HELLO", "3"]);
    assert_eq!(
        f.raw.first(),
        Some(&b'%'),
        "HELLO 3 replies with a RESP3 map: {:?}",
        f.raw_str()
    );
    assert_eq!(
        hello_field(&f.value, "proto"),
        Some(Resp::Int(3)),
        "{:?}",
        f.value
    );
    assert_eq!(
        hello_field(&f.value, "role")
            .and_then(|v| v.text())
            .as_deref(),
        Some("master")
    );
    assert_raw(&c.command_str(&["GET", "nosuch"]), b"_\r\n");
    assert_raw(&c.command_str(&["SET", "k", "v"]), b"+OK\r\n");
    assert_raw(&c.command_str(&["GET", "k"]), b"$1\r\nv\r\n");
    assert_raw(
        &c.command_str(&["MGET", "k", "nosuch"]),
        b"*2\r\n$1\r\nv\r\n_\r\n",
    );
    assert_raw(&c.command_str(&["EXISTS", "k"]), b":1\r\n");

    let f = c.command_str(&["HELLO", "2"]);
    assert_eq!(
        f.raw.first(),
        Some(&b'*'),
        "HELLO 2 replies with a flat array: {:?}",
        f.raw_str()
    );
    assert_eq!(hello_field(&f.value, "proto"), Some(Resp::Int(2)));
    assert_raw(&c.command_str(&["GET", "nosuch"]), b"$-1\r\n");
    assert_raw(
        &c.command_str(&["MGET", "k", "nosuch"]),
        b"*2\r\n$1\r\nv\r\n$-1\r\n",
    );

    let f = c.command_str(&["HELLO", "4"]);
    assert!(
        f.raw_str().starts_with("-NOPROTO"),
        "HELLO 4: {:?}",
        f.raw_str()
    );
    assert_raw(&c.command_str(&["GET", "nosuch"]), b"$-1\r\n");

    // RESP3 is per connection.
    let mut other = srv.raw();
    assert_raw(&other.command_str(&["GET", "nosuch"]), b"$-1\r\n");
}

#[test]
fn requirepass_demands_auth() {
    let pw = "s3cret";
    let srv = Server::start(&["--requirepass", pw]);
    let noauth = b"-NOAUTH Authentication required.\r\n";
    let wrongpass = b"-WRONGPASS invalid username-password pair or user is disabled.\r\n";

    let mut c = srv.raw();
    assert_raw(&c.command_str(&["PING"]), noauth);
    assert_raw(&c.command_str(&["GET", "k"]), noauth);
    assert_raw(&c.command_str(&["SET", "k", "v"]), noauth);
    assert_raw(&c.command_str(&["AUTH", "wrong"]), wrongpass);
    assert_raw(&c.command_str(&["AUTH", "default", "wrong"]), wrongpass);
    assert_raw(&c.command_str(&["PING"]), noauth);
    assert_raw(&c.command_str(&["AUTH", pw]), b"+OK\r\n");
    assert_raw(&c.command_str(&["PING"]), b"+PONG\r\n");
    assert_raw(&c.command_str(&["SET", "k", "v"]), b"+OK\r\n");

    let mut c2 = srv.raw();
    assert_raw(&c2.command_str(&["AUTH", "default", pw]), b"+OK\r\n");
    assert_raw(&c2.command_str(&["GET", "k"]), b"$1\r\nv\r\n");

    let mut c3 = srv.raw();
    let f = c3.command_str(&["HELLO", "3", "AUTH", "default", pw]);
    assert_eq!(
        f.raw.first(),
        Some(&b'%'),
        "HELLO 3 AUTH: {:?}",
        f.raw_str()
    );
    assert_raw(&c3.command_str(&["GET", "k"]), b"$1\r\nv\r\n");

    let mut c4 = srv.raw();
    let f = c4.command_str(&["HELLO", "3", "AUTH", "default", "wrong"]);
    assert!(
        f.raw_str().starts_with("-WRONGPASS"),
        "HELLO AUTH with a wrong password: {:?}",
        f.raw_str()
    );
    assert_raw(&c4.command_str(&["GET", "k"]), noauth);

    let mut con = srv.client_with_password(pw);
    assert_eq!(
        get_s(&mut con, "k").as_deref(),
        Some("v"),
        "the redis crate with a password URL"
    );
    let mut anon = srv.client();
    assert_eq!(
        run_err(&mut anon, &["GET", "k"]),
        "NOAUTH Authentication required."
    );
}

#[test]
fn auth_without_a_configured_password_is_an_error() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    assert_raw(
        &c.command_str(&["AUTH", "foo"]),
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    assert_raw(&c.command_str(&["PING"]), b"+PONG\r\n");
}

/// Opens a raw connection that answers PING, retrying (for up to 5 s) while the server still
/// counts a connection that was just closed.
fn admitted_conn(srv: &Server) -> RawConn {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = srv.raw();
        c.send(b"PING\r\n");
        match c.try_read_frame(RAW_REPLY_TIMEOUT) {
            Ok(f) if f.raw == b"+PONG\r\n" => return c,
            other => {
                assert!(
                    Instant::now() < deadline,
                    "no connection admitted within 5 s; last reply {other:?}"
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn maxclients_refuses_the_connection_beyond_the_limit() {
    let srv = Server::start(&["--maxclients", "3"]);
    let mut admitted: Vec<RawConn> = (0..3).map(|_| admitted_conn(&srv)).collect();

    let mut extra = srv.raw();
    // Redis writes the error as soon as it accepts; ask with a PING if nothing comes first.
    let f = match extra.try_read_frame(Duration::from_secs(2)) {
        Ok(f) => f,
        Err(ReadEnd::TimedOut) => {
            let _ = extra.try_send(b"PING\r\n");
            extra.read_frame()
        }
        Err(other) => panic!("connection beyond maxclients: {other:?} before any reply"),
    };
    assert_raw(&f, b"-ERR max number of clients reached\r\n");
    assert!(
        extra.wait_closed(CLOSE_TIMEOUT),
        "the refused connection is closed"
    );

    for c in admitted.iter_mut() {
        assert_raw(&c.request(b"PING\r\n"), b"+PONG\r\n");
    }
    // Closing one admitted connection makes room for a new one.
    drop(admitted.pop());
    let mut again = admitted_conn(&srv);
    assert_raw(&again.request(b"PING\r\n"), b"+PONG\r\n");
}

#[test]
fn quit_replies_ok_and_closes() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    assert_raw(&c.command_str(&["QUIT"]), b"+OK\r\n");
    assert!(c.wait_closed(CLOSE_TIMEOUT), "QUIT closes the connection");
    assert_raw(&srv.raw().request(b"PING\r\n"), b"+PONG\r\n");
}
