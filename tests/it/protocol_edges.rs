//! Protocol edges a review found: a NUL byte in an inline command, what a client that has not
//! authenticated may declare, a refused command inside MULTI, a password cleared while
//! clients wait to authenticate, CLIENT REPLY, and HELLO's options in order. The replies are
//! redis-server 7.0.15's, taken from it with a raw socket, except where a test says why not.

use std::time::Duration;

use crate::common::*;

const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn an_inline_command_ends_at_a_nul_byte() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    // Not Redis' behaviour: its inline reader looks for the newline with strchr, which stops
    // at the NUL, so it waits for more bytes (up to the 64 KiB inline limit) and answers
    // nothing. Here the line ends at the NUL, as sdssplitargs reads it: "PING\0junk" is PING.
    assert_eq!(c.request(b"PING\0junk\r\n").raw_str(), "+PONG\r\n");
    assert_eq!(c.request(b"ECHO a\0b\r\n").raw_str(), "$1\r\na\r\n");
    // A line that is only a NUL is empty, so ignored; the connection goes on.
    c.send(b"\0\r\n");
    assert_eq!(c.request(b"PING\r\n").raw_str(), "+PONG\r\n");
}

#[test]
fn a_client_that_must_authenticate_cannot_declare_large_requests() {
    let srv = Server::start(&["--requirepass", "pw"]);
    let cases: [(&[u8], &str); 2] = [
        (
            b"*11\r\n",
            "-ERR Protocol error: unauthenticated multibulk length\r\n",
        ),
        (
            b"*2\r\n$4\r\nECHO\r\n$536870912\r\n",
            "-ERR Protocol error: unauthenticated bulk length\r\n",
        ),
    ];
    for (bad, expected) in cases {
        let mut c = srv.raw();
        c.send(bad);
        assert_eq!(c.read_frame().raw_str(), expected);
        assert!(c.wait_closed(CLOSE_TIMEOUT), "closed after {expected}");
    }
    // AUTH lifts the limits, also for a request sent in the same write behind it.
    let mut c = srv.raw();
    let big = "x".repeat(20_000);
    let mut req = b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n".to_vec();
    req.extend_from_slice(format!("*2\r\n$4\r\nECHO\r\n${}\r\n{big}\r\n", big.len()).as_bytes());
    c.send(&req);
    assert_eq!(c.read_frame().raw_str(), "+OK\r\n");
    assert_eq!(
        c.read_frame().raw_str(),
        format!("${}\r\n{big}\r\n", big.len())
    );
    // A server without a password has no such limit.
    let open = Server::start(&[]);
    let mut c = open.raw();
    let args: Vec<String> = (0..20).map(|i| format!("k{i}")).collect();
    let mut cmd = vec!["EXISTS"];
    cmd.extend(args.iter().map(String::as_str));
    assert_eq!(c.command_str(&cmd).raw_str(), ":0\r\n");
}

#[test]
fn a_refused_exec_or_watch_inside_multi_aborts_the_transaction() {
    // Redis 7.0: a refused EXEC ends the transaction at once; a refused WATCH marks it.
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    assert_eq!(c.command_str(&["MULTI"]).raw_str(), "+OK\r\n");
    assert_eq!(c.command_str(&["SET", "a", "1"]).raw_str(), "+QUEUED\r\n");
    assert_eq!(
        c.command_str(&["EXEC", "x"]).raw_str(),
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' \
         command\r\n"
    );
    assert_eq!(
        c.command_str(&["EXEC"]).raw_str(),
        "-ERR EXEC without MULTI\r\n"
    );
    assert_eq!(c.command_str(&["MULTI"]).raw_str(), "+OK\r\n");
    assert_eq!(
        c.command_str(&["WATCH"]).raw_str(),
        "-ERR wrong number of arguments for 'watch' command\r\n"
    );
    assert_eq!(
        c.command_str(&["EXEC"]).raw_str(),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(c.command_str(&["GET", "a"]).raw_str(), "$-1\r\n");
}

#[test]
fn clearing_the_password_lets_waiting_clients_in() {
    let srv = Server::start(&["--requirepass", "pw"]);
    let mut waiting = srv.raw();
    assert_eq!(
        waiting.command_str(&["PING"]).raw_str(),
        "-NOAUTH Authentication required.\r\n"
    );
    let mut admin = srv.raw();
    assert_eq!(admin.command_str(&["AUTH", "pw"]).raw_str(), "+OK\r\n");
    assert_eq!(
        admin
            .command_str(&["CONFIG", "SET", "requirepass", ""])
            .raw_str(),
        "+OK\r\n"
    );
    assert_eq!(waiting.command_str(&["PING"]).raw_str(), "+PONG\r\n");
}

/// CLIENT REPLY as redis-server 7.0.15 answers it (transcripts taken with a raw socket):
/// each pipeline is sent at once, followed by a PING, and everything read up to its PONG is
/// what the client got.
#[test]
fn client_reply_off_and_skip_drop_exactly_the_replies_redis_drops() {
    let srv = Server::start(&[]);
    let mut c = srv.raw();
    let mut answers = |cmds: &[&[&str]]| -> String {
        let mut req = Vec::new();
        for cmd in cmds.iter().chain([&["PING"][..]].iter()) {
            req.extend(encode_str_command(cmd));
        }
        c.send(&req);
        let mut got = String::new();
        loop {
            let f = c.read_frame().raw_str();
            if f == "+PONG\r\n" {
                return got;
            }
            got.push_str(&f);
        }
    };
    // SKIP drops its own reply and the next, a write's included.
    assert_eq!(
        answers(&[
            &["CLIENT", "REPLY", "SKIP"],
            &["SET", "a", "1"],
            &["GET", "a"]
        ]),
        "$1\r\n1\r\n"
    );
    // OFF drops everything (errors too, and SKIP changes nothing) until ON, which answers.
    assert_eq!(
        answers(&[
            &["CLIENT", "REPLY", "OFF"],
            &["SET", "a", "2"],
            &["GET", "a"],
            &["FOO"],
            &["CLIENT", "REPLY", "SKIP"],
            &["GET", "a"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "a"],
        ]),
        "+OK\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        answers(&[
            &["CLIENT", "REPLY", "SKIP"],
            &["CLIENT", "REPLY", "ON"],
            &["GET", "a"]
        ]),
        "+OK\r\n$1\r\n2\r\n"
    );
    // In a run of pipelined writes, only the first one's reply is skipped.
    assert_eq!(
        answers(&[
            &["CLIENT", "REPLY", "SKIP"],
            &["SET", "b", "1"],
            &["SET", "b", "2"],
            &["INCR", "n"],
            &["GET", "b"],
        ]),
        "+OK\r\n:1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        answers(&[&["CLIENT", "REPLY"], &["CLIENT", "REPLY", "foo"]]),
        "-ERR wrong number of arguments for 'client|reply' command\r\n-ERR syntax error\r\n"
    );
}

/// Replies of redis-server 7.0.15 (Debian) with `--requirepass pw`, taken with a raw socket.
#[test]
fn hello_with_auth_and_setname_behaves_as_redis_7_0() {
    let srv = Server::start(&["--requirepass", "pw"]);
    let cases: [(&[u8], &str); 4] = [
        (
            b"HELLO 3\r\nPING\r\n",
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time\r\n-NOAUTH Authentication required.\r\n",
        ),
        (
            // AUTH takes effect where it stands: a bad option after it leaves the client in.
            b"HELLO 3 AUTH default pw BADOPT\r\nPING\r\n",
            "-ERR Syntax error in HELLO option 'BADOPT'\r\n+PONG\r\n",
        ),
        (
            b"HELLO 3 SETNAME a\x01b AUTH default pw\r\nPING\r\n",
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n\
             -NOAUTH Authentication required.\r\n",
        ),
        (
            b"HELLO 3 AUTH default wrong SETNAME a\x01b\r\nPING\r\n",
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n\
             -NOAUTH Authentication required.\r\n",
        ),
    ];
    for (req, expected) in cases {
        let mut c = srv.raw();
        c.send(req);
        let got = format!("{}{}", c.read_frame().raw_str(), c.read_frame().raw_str());
        assert_eq!(got, expected, "{}", String::from_utf8_lossy(req));
    }
}
