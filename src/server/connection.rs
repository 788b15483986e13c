//! One client connection: read, parse every complete request in the buffer, run them in order,
//! write all replies back at once.
//!
//! Consecutive write commands of a pipeline go to the writer as one job (one channel hop, and
//! they land in the same group commit); any other command first waits for the pending writes,
//! so replies stay in request order and a read sees the writes sent before it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{admin, multi, ClientHandle, Shared};
use crate::commands::ctx::{ExpireSink, ReadCtx};
use crate::commands::{self, errors, Exec};
use crate::protocol::{Limits, Reply, RequestParser};
use crate::storage::Storage;
use crate::types::now_ms;
use crate::writer::{Command, JobKind, WriteCommand};

/// Per-connection state the connection commands change.
pub struct ConnState {
    pub sh: Arc<Shared>,
    pub client: Arc<ClientHandle>,
    pub db: u8,
    pub resp3: bool,
    pub authed: bool,
    /// Set by QUIT (close after replying) and SHUTDOWN (close without a reply).
    pub close: bool,
    /// Inside MULTI: the queued commands.
    pub multi: Option<super::multi::MultiState>,
    /// This client's WATCH, if any.
    pub watch: Option<Arc<crate::writer::waiters::WatchFlag>>,
    /// REPLCONF / PSYNC state of a replica's connection.
    pub repl: crate::replication::master::ConnRepl,
    /// CLIENT REPLY: which replies go out.
    pub replies: ReplyMode,
}

/// CLIENT REPLY ON / OFF / SKIP. Replies are emitted in command order (a pipeline's writes
/// are answered before any later command runs), so counting them here skips the right ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReplyMode {
    #[default]
    On,
    Off,
    /// Drop the next `n` replies, then back to On (SKIP drops its own and the next one).
    Skip(u8),
}

/// Appends `r` to the client's output unless CLIENT REPLY says otherwise.
fn emit(st: &mut ConnState, r: &Reply, wbuf: &mut BytesMut) {
    match st.replies {
        ReplyMode::On => r.encode(st.resp3, wbuf),
        ReplyMode::Off => {}
        ReplyMode::Skip(n) => {
            st.replies = if n > 1 {
                ReplyMode::Skip(n - 1)
            } else {
                ReplyMode::On
            }
        }
    }
}

/// Largest reply buffer we accumulate before writing it out in the middle of a pipeline.
const WRITE_CHUNK: usize = 1 << 20;

pub async fn run(sh: Arc<Shared>, mut sock: TcpStream, peer: SocketAddr) {
    let _ = sock.set_nodelay(true);
    let max = sh.config.runtime.maxclients.load(Ordering::Relaxed);
    let id = sh.next_client_id.fetch_add(1, Ordering::Relaxed);
    let client = Arc::new(ClientHandle {
        id,
        addr: peer,
        laddr: sock.local_addr().unwrap_or(peer),
        created_ms: now_ms(),
        name: Default::default(),
        db: Default::default(),
        last_cmd: Default::default(),
        last_active_ms: now_ms().into(),
        resp: 2.into(),
        killed: false.into(),
        kill: Default::default(),
    });
    // Counted and listed under one lock: connections accepted at once on several I/O
    // threads cannot all pass the check.
    let admitted = {
        let mut c = sh.clients.lock().unwrap_or_else(|p| p.into_inner());
        let room = (c.len() as u64) < max;
        if room {
            c.insert(id, client.clone());
        }
        room
    };
    if !admitted {
        sh.stats.rejected.fetch_add(1, Ordering::Relaxed);
        let _ = sock
            .write_all(format!("-{}\r\n", errors::MAX_CLIENTS).as_bytes())
            .await;
        return;
    }
    // Leaves the client list however this task ends, a panic included (a leftover entry
    // would count against maxclients and show in CLIENT LIST for ever).
    let _listed = Listed { sh: sh.clone(), id };
    sh.stats.connections.fetch_add(1, Ordering::Relaxed);
    let authed = sh.config.runtime.requirepass().is_none();
    let mut st = ConnState {
        sh: sh.clone(),
        client: client.clone(),
        db: 0,
        resp3: false,
        authed,
        close: false,
        multi: None,
        watch: None,
        repl: Default::default(),
        replies: ReplyMode::On,
    };
    let ended = serve(&mut st, &mut sock).await;
    if let Err(e) = &ended {
        tracing::debug!(client = id, error = %e, "connection ended");
    }
    crate::replication::master::left_mid_sync(&mut st, peer, ended.err());
}

/// A connection's entry in the client list, removed when dropped.
struct Listed {
    sh: Arc<Shared>,
    id: u64,
}

impl Drop for Listed {
    fn drop(&mut self) {
        let mut c = self.sh.clients.lock().unwrap_or_else(|p| p.into_inner());
        c.remove(&self.id);
    }
}

async fn serve(st: &mut ConnState, sock: &mut TcpStream) -> std::io::Result<()> {
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut wbuf = BytesMut::with_capacity(16 * 1024);
    let client = st.client.clone();
    // A client that must still authenticate gets one request parsed at a time, so an AUTH
    // lifts the limits for the requests behind it in the same read: then the next round
    // parses what is buffered before reading again.
    let mut parse_buffered = false;
    let mut parser = RequestParser::default();
    loop {
        if client.killed.load(Ordering::Relaxed) {
            return Ok(());
        }
        if !std::mem::take(&mut parse_buffered) && !read_more(st, sock, &mut rbuf).await? {
            return Ok(());
        }
        let limits = Limits {
            max_bulk_len: st
                .sh
                .config
                .runtime
                .proto_max_bulk_len
                .load(Ordering::Relaxed),
            unauthenticated: !is_authed(st),
        };
        let mut batch: Vec<Command> = Vec::new();
        let mut proto_err = None;
        loop {
            match parser.parse(&mut rbuf, limits) {
                Ok(Some(args)) => {
                    if !args.is_empty() {
                        batch.push(args);
                    }
                    if limits.unauthenticated && !rbuf.is_empty() {
                        parse_buffered = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    proto_err = Some(e);
                    break;
                }
            }
        }
        if !batch.is_empty() {
            run_batch(st, batch, &mut wbuf, sock).await?;
        }
        if let Some(e) = proto_err {
            Reply::err(format!("ERR {}", e.0)).encode(st.resp3, &mut wbuf);
            sock.write_all(&wbuf).await?;
            return Ok(());
        }
        if !wbuf.is_empty() {
            st.sh
                .stats
                .net_out
                .fetch_add(wbuf.len() as u64, Ordering::Relaxed);
            sock.write_all(&wbuf).await?;
            wbuf.clear();
        }
        if let Some((from, reader)) = st.repl.stream.take() {
            // PSYNC answered +CONTINUE: from now on this connection only streams the log.
            let rest = std::mem::take(&mut rbuf);
            return crate::replication::master::stream(st, sock, rest, from, reader).await;
        }
        if st.close {
            return Ok(());
        }
    }
}

/// Whether the client may run commands: it authenticated, or no password is required (any
/// more: `CONFIG SET requirepass ""` lets in the clients already connected).
pub(super) fn is_authed(st: &ConnState) -> bool {
    st.authed || st.sh.config.runtime.requirepass().is_none()
}

/// Reads what the client sent next into `rbuf`; `Ok(false)` when it closed the connection
/// or was killed.
async fn read_more(
    st: &ConnState,
    sock: &mut TcpStream,
    rbuf: &mut BytesMut,
) -> std::io::Result<bool> {
    // A replica in the middle of a full sync that goes quiet for repl-timeout is dropped (and
    // its checkpoint released), as a streaming one is.
    let idle_limit = st
        .repl
        .checkpoint
        .as_ref()
        .map(|_| crate::config::RuntimeConfig::secs(&st.sh.config.runtime.repl_timeout));
    let client = &st.client;
    let read = async {
        match idle_limit {
            Some(t) => match tokio::time::timeout(t, sock.read_buf(rbuf)).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(
                        client = client.id,
                        timeout_s = t.as_secs(),
                        "replica idle during a full sync for repl-timeout: dropping it"
                    );
                    Err(std::io::Error::other("repl-timeout"))
                }
            },
            None => sock.read_buf(rbuf).await,
        }
    };
    let n = tokio::select! {
        r = read => r?,
        _ = client.kill.notified() => return Ok(false),
    };
    st.sh.stats.net_in.fetch_add(n as u64, Ordering::Relaxed);
    Ok(n > 0)
}

async fn run_batch(
    st: &mut ConnState,
    batch: Vec<Command>,
    wbuf: &mut BytesMut,
    sock: &mut TcpStream,
) -> std::io::Result<()> {
    let mut pending: Vec<WriteCommand> = Vec::new();
    for args in batch {
        if st.close || st.repl.stream.is_some() {
            break;
        }
        st.sh.stats.commands.fetch_add(1, Ordering::Relaxed);
        let spec = commands::lookup(&args[0]);
        if let Some(s) = spec {
            st.client
                .last_cmd
                .store(commands::table_index(s) + 1, Ordering::Relaxed);
        }
        let early = match spec {
            None => Some(Reply::err(errors::unknown_command(&args[0], &args[1..]))),
            Some(s) if !s.arity_ok(args.len()) => Some(Reply::err(errors::wrong_arity(s.name))),
            Some(s) if !matches!(s.name, "auth" | "hello" | "quit" | "reset") && !is_authed(st) => {
                Some(Reply::err(errors::NOAUTH))
            }
            Some(s)
                if matches!(s.exec, Exec::Write(_))
                    && st.sh.writer.state.replica_mode.load(Ordering::Relaxed) =>
            {
                Some(Reply::err(crate::writer::READONLY))
            }
            Some(s) if matches!(s.exec, Exec::Write(_)) && too_few_replicas(&st.sh) => {
                Some(Reply::err("NOREPLICAS Not enough good replicas to write."))
            }
            _ => None,
        };
        // A refused EXEC answers EXECABORT, in MULTI or not, as Redis does.
        if let (Some(r), true) = (&early, spec.is_some_and(|s| s.name == "exec")) {
            // Replies in request order: pipelined writes before it are answered first.
            flush_writes(st, &mut pending, wbuf).await;
            let r = multi::abort_exec(st, r);
            emit(st, &r, wbuf);
            continue;
        }
        if let (Some(m), Some(_)) = (st.multi.as_mut(), &early) {
            // Any other command refused inside MULTI (WATCH with the wrong arity too) makes
            // the EXEC fail with EXECABORT.
            m.failed = true;
        }
        if st.multi.is_some() && !spec.is_some_and(|s| multi::is_control(s.name)) {
            flush_writes(st, &mut pending, wbuf).await;
            let r = multi::queue(st, spec, early, args);
            emit(st, &r, wbuf);
            continue;
        }
        if let (Some(s), None) = (spec, &early) {
            if let Exec::Write(_) = s.exec {
                if s.flags.contains(&"blocking") {
                    flush_writes(st, &mut pending, wbuf).await;
                    // Whatever was answered so far goes out before the client may block.
                    sock.write_all(wbuf).await?;
                    wbuf.clear();
                    let r = run_blocking(st, s.exec, args, sock).await?;
                    emit(st, &r, wbuf);
                    continue;
                }
                pending.push((s.exec, args));
                continue;
            }
        }
        flush_writes(st, &mut pending, wbuf).await;
        if let (Some(s), None) = (spec, &early) {
            if s.name == "syncfile" {
                // A full sync's file transfer writes straight to the socket.
                sock.write_all(wbuf).await?;
                wbuf.clear();
                crate::replication::sync_source::send_file(st, &args, sock).await?;
                continue;
            }
        }
        let reply = match (early, spec) {
            (Some(r), _) => r,
            (None, Some(s)) => exec_other(st, s.exec, &args).await,
            (None, None) => Reply::err("ERR internal: no command"),
        };
        if !st.close || st.resp3 || !reply.is_error() {
            emit(st, &reply, wbuf);
        }
        if let Some(raw) = st.repl.raw_after.take() {
            wbuf.extend_from_slice(&raw);
        }
        if wbuf.len() >= WRITE_CHUNK {
            sock.write_all(wbuf).await?;
            wbuf.clear();
        }
    }
    flush_writes(st, &mut pending, wbuf).await;
    st.client.last_active_ms.store(now_ms(), Ordering::Relaxed);
    Ok(())
}

/// Sends the pending writes as one job and appends their replies in order.
async fn flush_writes(st: &mut ConnState, pending: &mut Vec<WriteCommand>, wbuf: &mut BytesMut) {
    if pending.is_empty() {
        return;
    }
    let n = pending.len();
    let cmds = std::mem::take(pending);
    let rx = st.sh.writer.submit(st.db, cmds);
    match rx.await {
        Ok(replies) => {
            note_write(st);
            for r in replies {
                emit(st, &r, wbuf);
            }
        }
        Err(_) => {
            let r = Reply::err("ERR durakv writer is not running");
            for _ in 0..n {
                emit(st, &r, wbuf);
            }
        }
    }
}

/// Sends a blocking command on its own and waits for its reply, which may come much later;
/// stops waiting if the client disconnects or is killed (the writer then drops its place).
async fn run_blocking(
    st: &mut ConnState,
    exec: Exec,
    args: Command,
    sock: &mut TcpStream,
) -> std::io::Result<Reply> {
    let mut rx = st
        .sh
        .writer
        .submit_kind(st.db, vec![(exec, args)], JobKind::Blocking);
    let client = st.client.clone();
    let mut watch_socket = true;
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            r = &mut rx => {
                note_write(st);
                return Ok(match r {
                    Ok(mut v) => v.pop().unwrap_or(Reply::NilArray),
                    Err(_) => Reply::err("ERR durakv writer is not running"),
                });
            }
            _ = client.kill.notified() => {
                return Err(std::io::Error::other("client killed while blocked"));
            }
            r = sock.peek(&mut probe), if watch_socket => {
                match r? {
                    0 => return Err(std::io::Error::other("client closed while blocked")),
                    // More requests are waiting: they run after this reply.
                    _ => watch_socket = false,
                }
            }
        }
    }
}

async fn exec_other(st: &mut ConnState, exec: Exec, args: &[Bytes]) -> Reply {
    match exec {
        Exec::Read(f) => {
            if let Some(r) = stale_refusal(st) {
                return r;
            }
            let storage = st.sh.writer.state.storage();
            let ctx = read_ctx(st, &storage);
            // Runs on this connection's I/O thread; KEYS over a large keyspace blocks the
            // other connections of this thread while it runs, as it blocks Redis.
            let result = f(&ctx, args);
            match result {
                Ok(r) => {
                    count_hit(st, &args[0], &r);
                    r
                }
                Err(e) => Reply::err(format!("ERR storage: {e}")),
            }
        }
        Exec::Conn => admin::exec(st, args).await,
        Exec::Write(_) => Reply::err("ERR internal: write outside the writer"),
    }
}

/// A read context on `storage` (from [`crate::writer::WriterState::storage`], held for the
/// one command).
pub fn read_ctx<'a>(st: &'a ConnState, storage: &'a Storage) -> ReadCtx<'a> {
    ReadCtx::new(
        storage,
        st.db,
        now_ms(),
        // A replica hides expired keys but never deletes them: its master's DELs will come.
        (!st.sh.writer.state.replica_mode.load(Ordering::Relaxed))
            .then_some(&st.sh.writer as &dyn ExpireSink),
        st.sh.writer.state.counts[st.db as usize * 2].load(Ordering::Relaxed),
    )
}

/// Remembers the log end after this client's write, for WAIT.
pub fn note_write(st: &mut ConnState) {
    st.repl.woff = st.sh.writer.state.end.load(Ordering::Acquire);
}

/// min-replicas-to-write: fewer replicas than required acked within min-replicas-max-lag.
fn too_few_replicas(sh: &Shared) -> bool {
    let rt = &sh.config.runtime;
    let need = rt.min_replicas_to_write.load(Ordering::Relaxed);
    need > 0
        && (sh
            .repl
            .good_replicas(rt.min_replicas_max_lag.load(Ordering::Relaxed)) as u64)
            < need
}

/// `-MASTERDOWN` for reads on a replica whose link is down when replica-serve-stale-data is no.
fn stale_refusal(st: &ConnState) -> Option<Reply> {
    let sh = &st.sh;
    if sh
        .config
        .runtime
        .replica_serve_stale_data
        .load(Ordering::Relaxed)
        || !sh.writer.state.replica_mode.load(Ordering::Relaxed)
        || sh.repl.link_up.load(Ordering::Relaxed)
    {
        return None;
    }
    Some(Reply::err(
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    ))
}

fn count_hit(st: &ConnState, name: &[u8], r: &Reply) {
    if !commands::eq_ignore_case(name, "get") {
        return;
    }
    let s = &st.sh.stats;
    match r {
        Reply::Bulk(_) => s.hits.fetch_add(1, Ordering::Relaxed),
        Reply::Nil => s.misses.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
}
