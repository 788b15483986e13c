//! MULTI/EXEC/DISCARD/WATCH/UNWATCH on the connection side.
//!
//! The connection queues commands after MULTI (checking names and arities as Redis does at
//! queue time, which is what makes EXEC answer EXECABORT), and EXEC hands the whole queue to
//! the writer as one job: one log record, one RocksDB batch, with reads inside the transaction
//! seeing its earlier writes. WATCH registers with the writer, which breaks the watch on any
//! later write to the key (see writer::waiters).

use std::sync::Arc;

use bytes::Bytes;

use super::connection::ConnState;
use crate::commands::ctx::View;
use crate::commands::errors::ExecResult;
use crate::commands::{errors, CommandSpec, Exec};
use crate::protocol::Reply;
use crate::writer::waiters::WatchFlag;
use crate::writer::{JobKind, WriteCommand};

#[derive(Default)]
pub struct MultiState {
    pub queued: Vec<WriteCommand>,
    /// A command failed to queue: EXEC answers EXECABORT.
    pub failed: bool,
}

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Server commands a transaction may not hold (Redis' `no-multi` ones, and the replication
/// handshake).
const NOT_IN_MULTI: &[&str] = &[
    "shutdown",
    "replicaof",
    "slaveof",
    "psync",
    "sync",
    "replconf",
    "syncfile",
];

fn is_select(args: &[Bytes]) -> bool {
    args.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"select"))
}

/// An EXEC refused before it ran (wrong arity, NOAUTH, ...): the transaction ends as DISCARD
/// ends it, and the reply is Redis 7.0's EXECABORT naming the refusal.
pub fn abort_exec(st: &mut ConnState, refusal: &Reply) -> Reply {
    discard(st);
    // Outside MULTI too, as Redis' execCommandAbort unwatches.
    st.watch = None;
    let why = match refusal {
        Reply::Error(e) => e.strip_prefix("ERR ").unwrap_or(e).to_string(),
        _ => String::new(),
    };
    Reply::err(format!("EXECABORT Transaction discarded because of: {why}"))
}

/// Ends the transaction, and with it the WATCH; whether there was one.
fn discard(st: &mut ConnState) -> bool {
    let was = st.multi.take().is_some();
    if was {
        st.watch = None;
    }
    was
}

/// Commands that act on the transaction itself rather than being queued. UNWATCH is not one:
/// Redis queues it, so a WATCH broken before EXEC still aborts the transaction.
pub fn is_control(name: &str) -> bool {
    matches!(
        name,
        "multi" | "exec" | "discard" | "watch" | "quit" | "reset"
    )
}

/// Queues a command inside MULTI (or records why it could not be queued).
pub fn queue(
    st: &mut ConnState,
    spec: Option<&'static CommandSpec>,
    early: Option<Reply>,
    args: Vec<Bytes>,
) -> Reply {
    let Some(m) = st.multi.as_mut() else {
        return Reply::err("ERR internal: not in MULTI");
    };
    if let Some(r) = early {
        m.failed = true;
        return r;
    }
    let Some(spec) = spec else {
        m.failed = true;
        return Reply::err("ERR internal: no command");
    };
    let exec = match (spec.exec, spec.name) {
        (Exec::Conn, "ping") => Exec::Read(ping),
        (Exec::Conn, "echo") => Exec::Read(echo),
        // Runs after EXEC checked the WATCH, which EXEC then drops anyway.
        (Exec::Conn, "unwatch") => Exec::Read(unwatch_queued),
        (e, _) => e,
    };
    match exec {
        Exec::Read(_) | Exec::Write(_) => {
            m.queued.push((exec, args));
            Reply::Simple("QUEUED".into())
        }
        // SELECT runs at EXEC time on the writer, which switches the database for the
        // commands after it and logs the switch in the transaction's record.
        Exec::Conn if spec.name == "select" => {
            m.queued.push((exec, args));
            Reply::Simple("QUEUED".into())
        }
        Exec::Conn if NOT_IN_MULTI.contains(&spec.name) => {
            m.failed = true;
            Reply::err("ERR Command not allowed inside a transaction")
        }
        // Server commands (INFO, TIME, CONFIG, CLIENT, ...) run at EXEC, after the writer's
        // part, their replies in their places (see `exec`).
        Exec::Conn => {
            m.queued.push((exec, args));
            Reply::Simple("QUEUED".into())
        }
    }
}

pub async fn exec(st: &mut ConnState, name: &str, args: &[Bytes]) -> Reply {
    match name {
        "multi" => {
            if st.multi.is_some() {
                return Reply::err("ERR MULTI calls can not be nested");
            }
            st.multi = Some(MultiState::default());
            Reply::Ok
        }
        "discard" => {
            if !discard(st) {
                return Reply::err("ERR DISCARD without MULTI");
            }
            Reply::Ok
        }
        "exec" => {
            let Some(m) = st.multi.take() else {
                return Reply::err("ERR EXEC without MULTI");
            };
            let watch = st.watch.take();
            if m.failed {
                return Reply::err(EXECABORT);
            }
            let final_db = m
                .queued
                .iter()
                .rev()
                .filter(|(_, a)| is_select(a))
                .find_map(|(_, a)| crate::commands::db_index(a.get(1)?).ok());
            // SELECT runs on the writer (it switches the database of the commands after it);
            // other server commands run here afterwards, at their places in the reply.
            let mut on_connection = Vec::new();
            let mut on_writer = Vec::with_capacity(m.queued.len());
            for (i, (e, a)) in m.queued.into_iter().enumerate() {
                if matches!(e, Exec::Conn) && !is_select(&a) {
                    on_connection.push((i, a));
                } else {
                    on_writer.push((e, a));
                }
            }
            let kind = JobKind::Exec { watch };
            let rx = st.sh.writer.submit_kind(st.db, on_writer, kind);
            let reply = match rx.await {
                Ok(mut r) => {
                    super::connection::note_write(st);
                    r.pop().unwrap_or(Reply::NilArray)
                }
                Err(_) => return Reply::err("ERR durakv writer is not running"),
            };
            let Reply::Array(mut replies) = reply else {
                // Aborted by a broken WATCH: nothing ran.
                return reply;
            };
            if let Some(db) = final_db {
                st.db = db;
                st.client.db.store(db, std::sync::atomic::Ordering::Relaxed);
            }
            for (i, a) in on_connection {
                let r = Box::pin(super::admin::exec(st, &a)).await;
                replies.insert(i.min(replies.len()), r);
            }
            Reply::Array(replies)
        }
        "watch" => {
            if st.multi.is_some() {
                return Reply::err("ERR WATCH inside MULTI is not allowed");
            }
            let flag = st
                .watch
                .get_or_insert_with(|| Arc::new(WatchFlag::default()))
                .clone();
            let kind = JobKind::Watch {
                keys: args[1..].to_vec(),
                flag,
            };
            match st.sh.writer.submit_kind(st.db, Vec::new(), kind).await {
                Ok(mut r) => r.pop().unwrap_or(Reply::Ok),
                Err(_) => Reply::err("ERR durakv writer is not running"),
            }
        }
        "unwatch" => {
            st.watch = None;
            Reply::Ok
        }
        _ => Reply::err(errors::unknown_command(name.as_bytes(), &[])),
    }
}

fn ping(_: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(super::admin::ping(args))
}

fn unwatch_queued(_: &dyn View, _: &[Bytes]) -> ExecResult<Reply> {
    Ok(Reply::Ok)
}

fn echo(_: &dyn View, args: &[Bytes]) -> ExecResult<Reply> {
    Ok(Reply::Bulk(args[1].clone()))
}
