//! Connection and server commands: PING ECHO QUIT RESET SELECT AUTH HELLO INFO CONFIG CLIENT
//! COMMAND TIME SHUTDOWN LASTSAVE ROLE SCAN, and the script/function stubs that answer a
//! client preamble harmlessly and refuse real use with a clear error.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::connection::{read_ctx, ConnState};
use super::info;
use crate::commands::errors;
use crate::commands::{self, coll, eq_ignore_case, glob, keys, parse_i64, two_way};
use crate::protocol::Reply;
use crate::storage::ValueType;
use crate::types::now_ms;

/// PING [message], also what MULTI queues.
pub fn ping(args: &[Bytes]) -> Reply {
    match args.len() {
        1 => Reply::Simple("PONG".into()),
        2 => Reply::Bulk(args[1].clone()),
        _ => Reply::err(errors::wrong_arity("ping")),
    }
}

pub async fn exec(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    match name.as_str() {
        "ping" => ping(args),
        "echo" => Reply::Bulk(args[1].clone()),
        "quit" => {
            st.close = true;
            Reply::Ok
        }
        "reset" => {
            st.db = 0;
            st.resp3 = false;
            st.client.db.store(0, Ordering::Relaxed);
            st.client.resp.store(2, Ordering::Relaxed);
            if let Ok(mut n) = st.client.name.lock() {
                n.clear();
            }
            st.authed = st.sh.config.runtime.requirepass().is_none();
            st.multi = None;
            st.watch = None;
            st.replies = super::connection::ReplyMode::On;
            Reply::Simple("RESET".into())
        }
        "multi" | "exec" | "discard" | "watch" | "unwatch" => {
            super::multi::exec(st, name.as_str(), args).await
        }
        "debug" => debug(st, args),
        "select" => select(st, &args[1]),
        "auth" => auth(st, &args[1..]),
        "hello" => hello(st, &args[1..]),
        "info" => Reply::Verbatim(info::render(st, &args[1..])),
        "config" => config(st, args),
        "client" => client(st, args),
        "command" => command(st, args),
        "time" => {
            let us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros())
                .unwrap_or(0);
            Reply::Array(vec![
                Reply::bulk((us / 1_000_000).to_string()),
                Reply::bulk((us % 1_000_000).to_string()),
            ])
        }
        "shutdown" => {
            if args.len() > 1 && args[1..].iter().any(|a| eq_ignore_case(a, "ABORT")) {
                return Reply::err("ERR No shutdown in progress.");
            }
            tracing::info!(client = st.client.id, "SHUTDOWN requested by a client");
            st.close = true;
            st.sh.shutdown.notify_one();
            Reply::Ok
        }
        "bgsave" => bgsave(st),
        "lastsave" => Reply::Int((st.sh.last_save_ms.load(Ordering::Relaxed) / 1000) as i64),
        "role" => crate::replication::role(&st.sh),
        "replconf" => crate::replication::master::replconf(st, args),
        "psync" => crate::replication::master::psync(st, args).await,
        "replicaof" | "slaveof" => crate::replication::replicaof(&st.sh, &args[1], &args[2]).await,
        "wait" => crate::replication::master::wait(st, args).await,
        "scan" | "hscan" | "sscan" | "zscan" => scan(st, args),
        "function" => {
            if eq_ignore_case(&args[1], "FLUSH") {
                Reply::Ok
            } else if eq_ignore_case(&args[1], "LIST") {
                Reply::Array(vec![])
            } else {
                Reply::err(errors::NO_SCRIPTS)
            }
        }
        "script" => {
            if eq_ignore_case(&args[1], "FLUSH") {
                Reply::Ok
            } else if eq_ignore_case(&args[1], "EXISTS") {
                Reply::Array(args[2..].iter().map(|_| Reply::Int(0)).collect())
            } else {
                Reply::err(errors::NO_SCRIPTS)
            }
        }
        "eval" | "evalsha" => Reply::err(errors::NO_SCRIPTS),
        "checkpoint" => checkpoint(st, args).await,
        _ => Reply::err(errors::unknown_command(&args[0], &args[1..])),
    }
}

fn select(st: &mut ConnState, arg: &[u8]) -> Reply {
    match commands::db_index(arg) {
        Ok(n) => {
            st.db = n;
            st.client.db.store(n, Ordering::Relaxed);
            Reply::Ok
        }
        Err(r) => r,
    }
}

fn check_password(st: &ConnState, user: Option<&[u8]>, pass: &[u8]) -> Result<(), Reply> {
    match st.sh.config.runtime.requirepass() {
        None => {
            if user.is_none() {
                return Err(Reply::err(errors::AUTH_NOT_CONFIGURED));
            }
            // "default" user with any password succeeds when no password is configured.
            if user.map(|u| u == b"default").unwrap_or(false) {
                return Ok(());
            }
            Err(Reply::err(errors::WRONGPASS))
        }
        Some(pw) => {
            let user_ok = user.map(|u| u == b"default").unwrap_or(true);
            if user_ok && pass == pw.as_bytes() {
                Ok(())
            } else {
                Err(Reply::err(errors::WRONGPASS))
            }
        }
    }
}

fn auth(st: &mut ConnState, a: &[Bytes]) -> Reply {
    let r = match a.len() {
        1 => check_password(st, None, &a[0]),
        2 => check_password(st, Some(&a[0]), &a[1]),
        _ => return Reply::err(errors::SYNTAX),
    };
    match r {
        Ok(()) => {
            st.authed = true;
            Reply::Ok
        }
        Err(e) => e,
    }
}

fn hello(st: &mut ConnState, a: &[Bytes]) -> Reply {
    let mut proto = if st.resp3 { 3 } else { 2 };
    let mut i = 0;
    if let Some(v) = a.first() {
        match parse_i64(v) {
            Some(p @ (2 | 3)) => proto = p,
            Some(_) => return Reply::err("NOPROTO unsupported protocol version"),
            None => return Reply::err("ERR Protocol version is not an integer or out of range"),
        }
        i = 1;
    }
    // In order, as Redis 7.0 does: AUTH takes effect where it stands (a bad option after it
    // leaves the client authenticated), a bad SETNAME stops there.
    let mut setname = None;
    while i < a.len() {
        if eq_ignore_case(&a[i], "AUTH") && i + 2 < a.len() {
            if let Err(e) = check_password(st, Some(&a[i + 1]), &a[i + 2]) {
                return e;
            }
            st.authed = true;
            i += 3;
        } else if eq_ignore_case(&a[i], "SETNAME") && i + 1 < a.len() {
            if let Err(e) = valid_name(&a[i + 1]) {
                return e;
            }
            setname = Some(a[i + 1].clone());
            i += 2;
        } else {
            return Reply::err(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&a[i])
            ));
        }
    }
    if !super::connection::is_authed(st) {
        return Reply::err(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO AUTH <user> <pass> option can be used to authenticate the client and select \
             the RESP protocol version at the same time",
        );
    }
    if let Some(n) = setname {
        if let Err(e) = set_name(st, &n) {
            return e;
        }
    }
    st.resp3 = proto == 3;
    st.client.resp.store(proto as u8, Ordering::Relaxed);
    Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(info::REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Int(proto)),
        (Reply::bulk("id"), Reply::Int(st.client.id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (
            Reply::bulk("role"),
            Reply::bulk(if st.sh.repl.master().is_some() {
                "replica"
            } else {
                "master"
            }),
        ),
        (Reply::bulk("modules"), Reply::Array(vec![])),
    ])
}

fn valid_name(n: &[u8]) -> Result<(), Reply> {
    if n.iter().any(|&c| c <= b' ' || c > b'~') {
        return Err(Reply::err(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn set_name(st: &ConnState, n: &[u8]) -> Result<(), Reply> {
    valid_name(n)?;
    if let Ok(mut g) = st.client.name.lock() {
        *g = String::from_utf8_lossy(n).into_owned();
    }
    Ok(())
}

fn config(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let cfg = &st.sh.config;
    match sub.as_str() {
        "get" if args.len() >= 3 => {
            let all = cfg.all_values();
            let mut pairs = Vec::new();
            for (k, v) in &all {
                if args[2..]
                    .iter()
                    .any(|p| glob::matches(&p.to_ascii_lowercase(), k.as_bytes(), true))
                {
                    pairs.push((Reply::bulk(k.clone()), Reply::bulk(v.clone())));
                }
            }
            Reply::Map(pairs)
        }
        "set" if args.len() >= 4 && args.len().is_multiple_of(2) => {
            let pairs: Vec<(String, String)> = args[2..]
                .chunks(2)
                .map(|p| {
                    (
                        String::from_utf8_lossy(&p[0]).to_ascii_lowercase(),
                        String::from_utf8_lossy(&p[1]).into_owned(),
                    )
                })
                .collect();
            if let Err(e) = cfg.set_all(&pairs) {
                return Reply::err(e);
            }
            for (k, v) in &pairs {
                let shown = if k == "requirepass" || k == "masterauth" {
                    "<hidden>"
                } else {
                    v
                };
                tracing::info!(key = %k, value = %shown, "CONFIG SET");
            }
            Reply::Ok
        }
        "resetstat" if args.len() == 2 => {
            let s = &st.sh.stats;
            for c in [
                &st.sh.writer.state.expired_keys,
                &s.commands,
                &s.connections,
                &s.rejected,
                &s.hits,
                &s.misses,
                &s.net_in,
                &s.net_out,
            ] {
                c.store(0, Ordering::Relaxed);
            }
            Reply::Ok
        }
        "rewrite" => Reply::err(
            "ERR CONFIG REWRITE is not supported: edit the config file (see config/durakv.toml)",
        ),
        "help" => Reply::Array(
            [
                "CONFIG GET <pattern>",
                "CONFIG SET <name> <value>",
                "CONFIG RESETSTAT",
            ]
            .iter()
            .map(|s| Reply::Simple(s.to_string()))
            .collect(),
        ),
        "get" | "set" | "resetstat" => Reply::err(format!(
            "ERR wrong number of arguments for 'config|{sub}' command"
        )),
        _ => Reply::err(errors::unknown_subcommand(&args[1], "CONFIG")),
    }
}

fn client_line(c: &super::ClientHandle, now: u64) -> String {
    let name = c.name.lock().map(|n| n.clone()).unwrap_or_default();
    let cmd = match c.last_cmd.load(Ordering::Relaxed) {
        0 => "NULL",
        i => commands::all().get(i - 1).map(|s| s.name).unwrap_or("NULL"),
    };
    format!(
        "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd={} user=default redir=-1 resp={}",
        c.id,
        c.addr,
        c.laddr,
        name,
        now.saturating_sub(c.created_ms) / 1000,
        now.saturating_sub(c.last_active_ms.load(Ordering::Relaxed)) / 1000,
        c.db.load(Ordering::Relaxed),
        cmd,
        c.resp.load(Ordering::Relaxed),
    )
}

/// Arguments each CLIENT subcommand takes, counting CLIENT and the subcommand (Redis'
/// arities: negative means at least).
fn client_arity(sub: &str) -> Option<i64> {
    Some(match sub {
        "id" | "getname" | "info" | "help" => 2,
        "setname" | "reply" | "no-evict" | "no-touch" => 3,
        "setinfo" => 4,
        "list" => -2,
        "kill" => -3,
        _ => return None,
    })
}

fn client(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let now = now_ms();
    let Some(arity) = client_arity(&sub) else {
        return Reply::err(errors::unknown_subcommand(&args[1], "CLIENT"));
    };
    let n = args.len() as i64;
    if (arity >= 0 && n != arity) || (arity < 0 && n < -arity) {
        return Reply::err(format!(
            "ERR wrong number of arguments for 'client|{sub}' command"
        ));
    }
    match sub.as_str() {
        "id" => Reply::Int(st.client.id as i64),
        "setname" => match set_name(st, &args[2]) {
            Ok(()) => Reply::Ok,
            Err(e) => e,
        },
        "getname" => {
            let n = st.client.name.lock().map(|n| n.clone()).unwrap_or_default();
            if n.is_empty() {
                Reply::Nil
            } else {
                Reply::bulk(n)
            }
        }
        "list" => client_list(st, &args[2..], now),
        "info" => Reply::Verbatim(format!("{}\n", client_line(&st.client, now))),
        "kill" => client_kill(st, &args[2..]),
        "no-evict" | "no-touch" => match two_way(&args[2], "on", "off") {
            Some(_) => Reply::Ok,
            None => Reply::err(errors::SYNTAX),
        },
        "setinfo" => Reply::Ok,
        "reply" => {
            use super::connection::ReplyMode;
            let m = &args[2];
            if m.eq_ignore_ascii_case(b"on") {
                st.replies = ReplyMode::On;
            } else if m.eq_ignore_ascii_case(b"off") {
                st.replies = ReplyMode::Off;
            } else if m.eq_ignore_ascii_case(b"skip") {
                // This reply and the next; nothing changes while OFF (as in Redis).
                if st.replies != ReplyMode::Off {
                    st.replies = ReplyMode::Skip(2);
                }
            } else {
                return Reply::err(errors::SYNTAX);
            }
            Reply::Ok
        }
        "help" => Reply::Array(
            [
                "CLIENT ID",
                "CLIENT SETNAME <name>",
                "CLIENT GETNAME",
                "CLIENT INFO",
                "CLIENT LIST [TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID <id> [<id> ...]]",
                "CLIENT KILL <ip:port> | [ID <id>] [TYPE <type>] [ADDR <ip:port>] [LADDR <ip:port>] [USER <user>] [SKIPME (YES|NO)]",
                "CLIENT REPLY (ON|OFF|SKIP)",
            ]
            .iter()
            .map(|s| Reply::Simple(s.to_string()))
            .collect(),
        ),
        _ => Reply::err(errors::unknown_subcommand(&args[1], "CLIENT")),
    }
}

/// CLIENT LIST / KILL `TYPE`: a replica's connection is `replica` (or `slave`), every other
/// one `normal`; none here is `master` or `pubsub`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    /// `master` or `pubsub`: matches no connection here.
    Nothing,
}

impl ClientType {
    fn parse(ty: &[u8]) -> Result<ClientType, Reply> {
        match ty.to_ascii_lowercase().as_slice() {
            b"normal" => Ok(ClientType::Normal),
            b"replica" | b"slave" => Ok(ClientType::Replica),
            b"master" | b"pubsub" => Ok(ClientType::Nothing),
            _ => Err(Reply::err(format!(
                "ERR Unknown client type '{}'",
                String::from_utf8_lossy(ty)
            ))),
        }
    }

    /// Whether client `id` is of this type; `replicas` lists the replicas' client ids.
    fn matches(self, id: u64, replicas: &[u64]) -> bool {
        match self {
            ClientType::Normal => !replicas.contains(&id),
            ClientType::Replica => replicas.contains(&id),
            ClientType::Nothing => false,
        }
    }
}

/// Client ids of the replicas connected to this node, taken once per command.
fn replica_ids(st: &ConnState) -> Vec<u64> {
    st.sh
        .repl
        .replicas
        .lock()
        .map(|r| r.keys().copied().collect())
        .unwrap_or_default()
}

fn all_clients(st: &ConnState) -> Vec<Arc<super::ClientHandle>> {
    let mut clients: Vec<_> = st
        .sh
        .clients
        .lock()
        .map(|c| c.values().cloned().collect())
        .unwrap_or_default();
    clients.sort_by_key(|c| c.id);
    clients
}

/// CLIENT LIST [TYPE t] [ID id ...].
fn client_list(st: &ConnState, a: &[Bytes], now: u64) -> Reply {
    let mut ty: Option<ClientType> = None;
    let mut ids: Option<Vec<i64>> = None;
    match a {
        [] => {}
        [k, t] if eq_ignore_case(k, "TYPE") => match ClientType::parse(t) {
            Ok(t) => ty = Some(t),
            Err(e) => return e,
        },
        [k, rest @ ..] if eq_ignore_case(k, "ID") && !rest.is_empty() => {
            // Any integer: one that names no client lists nothing.
            let parsed: Option<Vec<i64>> = rest.iter().map(|v| parse_i64(v)).collect();
            match parsed {
                Some(p) => ids = Some(p),
                None => return Reply::err("ERR Invalid client ID"),
            }
        }
        _ => return Reply::err(errors::SYNTAX),
    }
    let clients = all_clients(st);
    // In the order asked, as Redis lists them (a repeated ID twice).
    let listed: Vec<&Arc<super::ClientHandle>> = match &ids {
        Some(ids) => ids
            .iter()
            .filter_map(|&i| clients.iter().find(|c| c.id as i64 == i))
            .collect(),
        None => clients.iter().collect(),
    };
    let replicas = replica_ids(st);
    let mut out = String::new();
    for c in listed {
        if ty.is_some_and(|t| !t.matches(c.id, &replicas)) {
            continue;
        }
        out.push_str(&client_line(c, now));
        out.push('\n');
    }
    Reply::Verbatim(out)
}

fn client_kill(st: &ConnState, a: &[Bytes]) -> Reply {
    let clients = all_clients(st);
    let kill = |c: &super::ClientHandle| {
        c.killed.store(true, Ordering::Relaxed);
        c.kill.notify_one();
    };
    if a.len() == 1 {
        // Old form: CLIENT KILL ip:port
        let addr = String::from_utf8_lossy(&a[0]);
        for c in &clients {
            if c.addr.to_string() == addr {
                kill(c);
                return Reply::Ok;
            }
        }
        return Reply::err("ERR No such client");
    }
    if !a.len().is_multiple_of(2) {
        return Reply::err(errors::SYNTAX);
    }
    // Every filter is checked before any client is killed, as Redis does.
    let mut skipme = true;
    let mut ty: Option<ClientType> = None;
    let mut filters: Vec<(String, &Bytes)> = Vec::new();
    for p in a.chunks(2) {
        let k = String::from_utf8_lossy(&p[0]).to_ascii_lowercase();
        let v = &p[1];
        match k.as_str() {
            "skipme" => match two_way(v, "yes", "no") {
                Some(b) => skipme = b,
                None => return Reply::err(errors::SYNTAX),
            },
            "id" if parse_i64(v).is_none_or(|i| i <= 0) => {
                return Reply::err("ERR client-id should be greater than 0")
            }
            "type" => match ClientType::parse(v) {
                Ok(t) => ty = Some(t),
                Err(e) => return e,
            },
            "user" if v.as_ref() != b"default" => {
                return Reply::err(format!("ERR No such user '{}'", String::from_utf8_lossy(v)))
            }
            "id" | "addr" | "laddr" | "user" => filters.push((k, v)),
            _ => return Reply::err(errors::SYNTAX),
        }
    }
    let replicas = replica_ids(st);
    let mut n = 0;
    for c in &clients {
        if skipme && c.id == st.client.id {
            continue;
        }
        let all = ty.is_none_or(|t| t.matches(c.id, &replicas))
            && filters.iter().all(|(k, v)| match k.as_str() {
                "id" => parse_i64(v) == Some(c.id as i64),
                "addr" => c.addr.to_string().as_bytes() == v.as_ref(),
                "laddr" => c.laddr.to_string().as_bytes() == v.as_ref(),
                _ => true,
            });
        if all {
            kill(c);
            n += 1;
        }
    }
    Reply::Int(n)
}

fn command_info(c: &commands::CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(c.name),
        Reply::Int(c.arity as i64),
        Reply::Set(
            c.flags
                .iter()
                .map(|f| Reply::Simple(f.to_string()))
                .collect(),
        ),
        Reply::Int(c.first_key as i64),
        Reply::Int(c.last_key as i64),
        Reply::Int(c.step as i64),
        Reply::Set(vec![]),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

fn command(_st: &mut ConnState, args: &[Bytes]) -> Reply {
    if args.len() == 1 {
        return Reply::Array(commands::all().iter().map(command_info).collect());
    }
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match sub.as_str() {
        "count" => Reply::Int(commands::all().len() as i64),
        "info" => {
            if args.len() == 2 {
                return Reply::Array(commands::all().iter().map(command_info).collect());
            }
            Reply::Array(
                args[2..]
                    .iter()
                    .map(|n| commands::lookup(n).map(command_info).unwrap_or(Reply::Nil))
                    .collect(),
            )
        }
        "docs" => {
            let wanted: Vec<&commands::CommandSpec> = if args.len() == 2 {
                commands::all().iter().collect()
            } else {
                args[2..]
                    .iter()
                    .filter_map(|n| commands::lookup(n))
                    .collect()
            };
            Reply::Map(
                wanted
                    .into_iter()
                    .map(|c| {
                        (
                            Reply::bulk(c.name),
                            Reply::Map(vec![
                                (
                                    Reply::bulk("summary"),
                                    Reply::bulk(format!(
                                        "{} (durakv)",
                                        c.name.to_ascii_uppercase()
                                    )),
                                ),
                                (Reply::bulk("since"), Reply::bulk("1.0.0")),
                                (Reply::bulk("group"), Reply::bulk("generic")),
                            ]),
                        )
                    })
                    .collect(),
            )
        }
        "list" => Reply::Array(
            commands::all()
                .iter()
                .map(|c| Reply::bulk(c.name))
                .collect(),
        ),
        "getkeys" if args.len() >= 3 => {
            let Some(c) = commands::lookup(&args[2]) else {
                return Reply::err("ERR Invalid command specified");
            };
            let cmd = &args[2..];
            if c.first_key <= 0 {
                return Reply::err("ERR The command has no key arguments");
            }
            let last = if c.last_key < 0 {
                cmd.len() as i32 + c.last_key
            } else {
                c.last_key
            };
            let mut out = Vec::new();
            let mut i = c.first_key;
            while i <= last && (i as usize) < cmd.len() {
                out.push(Reply::Bulk(cmd[i as usize].clone()));
                i += c.step.max(1);
            }
            Reply::Array(out)
        }
        _ => Reply::err(errors::unknown_subcommand(&args[1], "COMMAND")),
    }
}

/// SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]
fn scan(st: &mut ConnState, args: &[Bytes]) -> Reply {
    // SCAN cursor ... | HSCAN/SSCAN/ZSCAN key cursor ...
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let elem_kind = match name.as_str() {
        "hscan" => Some(ValueType::Hash),
        "sscan" => Some(ValueType::Set),
        "zscan" => Some(ValueType::ZSet),
        _ => None,
    };
    let first_opt = if elem_kind.is_some() { 3 } else { 2 };
    let Some(cursor) = std::str::from_utf8(&args[first_opt - 1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Reply::err(errors::INVALID_CURSOR);
    };
    let mut count = 10usize;
    let mut pattern = None;
    let mut type_filter = None;
    let mut novalues = false;
    let mut i = first_opt;
    while i < args.len() {
        if name == "hscan" && eq_ignore_case(&args[i], "NOVALUES") {
            novalues = true;
            i += 1;
            continue;
        }
        if i + 1 >= args.len() {
            return Reply::err(errors::SYNTAX);
        }
        if eq_ignore_case(&args[i], "COUNT") {
            match parse_i64(&args[i + 1]) {
                Some(n) if n >= 1 => count = n.min(1 << 20) as usize,
                Some(_) => return Reply::err(errors::SYNTAX),
                None => return Reply::err(errors::NOT_INTEGER),
            }
        } else if eq_ignore_case(&args[i], "MATCH") {
            pattern = Some(args[i + 1].clone());
        } else if eq_ignore_case(&args[i], "TYPE") && elem_kind.is_none() {
            type_filter = Some(args[i + 1].clone());
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 2;
    }
    let from = if cursor == 0 {
        Vec::new()
    } else {
        match st
            .sh
            .cursors
            .lock()
            .ok()
            .and_then(|c| c.get(cursor).cloned())
        {
            Some((db, k)) if db == st.db => k,
            // A cursor this server never gave out (or forgot): the scan is over.
            _ => return Reply::Array(vec![Reply::bulk("0"), Reply::Array(vec![])]),
        }
    };
    let storage = st.sh.writer.state.storage();
    let ctx = read_ctx(st, &storage);
    let res = match elem_kind {
        None => keys::scan_step(
            &ctx,
            &from,
            count,
            pattern.as_deref(),
            type_filter.as_deref(),
        )
        .map(Ok),
        Some(kind) => coll::scan_elements(
            &ctx,
            &args[1],
            kind,
            &from,
            count,
            pattern.as_deref(),
            novalues,
        ),
    };
    match res {
        Ok(Ok((items, next))) => {
            let next_id = match next {
                Some(k) => st
                    .sh
                    .cursors
                    .lock()
                    .map(|mut c| c.put(st.db, k))
                    .unwrap_or(0),
                None => 0,
            };
            Reply::Array(vec![Reply::bulk(next_id.to_string()), Reply::Array(items)])
        }
        Ok(Err(r)) => r,
        Err(e) => Reply::err(format!("ERR storage: {e}")),
    }
}

/// DEBUG DIGEST | DIGEST-VALUE key... | SLEEP secs (the subcommands tools and tests use).
fn debug(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let storage = st.sh.writer.state.storage();
    let mut ctx = read_ctx(st, &storage);
    let r = match sub.as_str() {
        "digest" if args.len() == 2 => commands::digest::keyspace_digest(&mut ctx).map(Reply::bulk),
        "digest-value" => args[2..]
            .iter()
            .map(|k| commands::digest::value_digest(&ctx, k).map(Reply::bulk))
            .collect::<Result<Vec<_>, _>>()
            .map(Reply::Array),
        "sleep" if args.len() == 3 => {
            let secs = commands::parse_f64(&args[2])
                .unwrap_or(0.0)
                .clamp(0.0, 3600.0);
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            Ok(Reply::Ok)
        }
        _ => return Reply::err(errors::unknown_subcommand(&args[1], "DEBUG")),
    };
    r.unwrap_or_else(|e| Reply::err(format!("ERR storage: {e}")))
}

/// CHECKPOINT EXPORT <dir>: replies with the checkpoint's log offset. Runs on the blocking
/// pool so the connection's I/O thread keeps serving others.
async fn checkpoint(st: &mut ConnState, args: &[Bytes]) -> Reply {
    if !eq_ignore_case(&args[1], "EXPORT") {
        return Reply::err(errors::unknown_subcommand(&args[1], "CHECKPOINT"));
    }
    let dir = std::path::PathBuf::from(String::from_utf8_lossy(&args[2]).into_owned());
    let storage = st.sh.writer.state.storage();
    match tokio::task::spawn_blocking(move || crate::checkpoint::export(&storage, &dir)).await {
        Ok(Ok(m)) => {
            st.sh.last_save_ms.store(now_ms(), Ordering::Relaxed);
            Reply::Int(m.offset as i64)
        }
        Ok(Err(e)) => Reply::err(format!("ERR {e}")),
        Err(e) => Reply::err(format!("ERR checkpoint task failed: {e}")),
    }
}

/// BGSAVE [SCHEDULE]: a checkpoint into a new `backup-<ms>` directory under `backup-dir`, in
/// the background, keeping the newest `backup-keep`. Like Redis, it answers at once.
fn bgsave(st: &mut ConnState) -> Reply {
    let sh = st.sh.clone();
    if sh.bgsave_in_progress.swap(true, Ordering::SeqCst) {
        return Reply::err("ERR Background save already in progress");
    }
    tokio::task::spawn_blocking(move || {
        let root = sh.config.fixed.backup_dir.clone();
        let target = root.join(format!("backup-{:020}", now_ms()));
        let ok = match crate::checkpoint::export(&sh.writer.state.storage(), &target) {
            Ok(m) => {
                tracing::info!(dir = %target.display(), offset = m.offset, "BGSAVE done");
                prune_backups(&root, sh.config.fixed.backup_keep);
                sh.last_save_ms.store(now_ms(), Ordering::Relaxed);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "BGSAVE failed");
                false
            }
        };
        sh.last_bgsave_ok.store(ok, Ordering::Relaxed);
        sh.bgsave_in_progress.store(false, Ordering::SeqCst);
    });
    Reply::Simple("Background saving started".into())
}

/// Deletes all but the newest `keep` `backup-*` directories (names sort by time).
fn prune_backups(root: &std::path::Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let mut dirs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .map(|n| n.starts_with("backup-"))
                .unwrap_or(false)
        })
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep);
    for d in &dirs[..excess] {
        match std::fs::remove_dir_all(d) {
            Ok(()) => tracing::info!(dir = %d.display(), "old backup deleted (backup-keep)"),
            Err(e) => tracing::warn!(dir = %d.display(), error = %e, "could not delete old backup"),
        }
    }
}
