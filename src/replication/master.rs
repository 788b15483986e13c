//! The master side of a replica connection: `REPLCONF`, `PSYNC`, then streaming.
//!
//! After `+CONTINUE` the connection only streams: records are read from the log on disk with
//! [`LogReader`] (at most [`CHUNK`] bytes at a time: read, write, repeat), and once the replica
//! has caught up the stream waits for the writer to publish a new end. Nothing is buffered per
//! replica beyond one chunk, so a slow replica costs nothing but reading older segments later.
//! Meanwhile `REPLCONF ACK <offset>` lines from the replica update the registry INFO reads.

use std::io;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::ReplicaInfo;
use crate::commands::{eq_ignore_case, parse_i64};
use crate::log::reader::LogReader;
use crate::protocol::{parse_request, Reply};
use crate::server::connection::ConnState;
use crate::server::Shared;
use crate::types::{now_ms, LogOffset, ReplId};

/// Most bytes read from the log and held for one replica at a time.
const CHUNK: usize = 1 << 20;

/// A connection's replication handshake state.
#[derive(Default)]
pub struct ConnRepl {
    pub listening_port: Option<u16>,
    /// Set by a successful PSYNC: the connection switches to streaming after its reply.
    pub stream: Option<(LogOffset, LogReader)>,
}

/// `REPLCONF listening-port <p> | capa <x> ... | ACK <offset> | GETACK *`.
pub fn replconf(st: &mut ConnState, args: &[Bytes]) -> Reply {
    if args.len() < 2 || args.len().is_multiple_of(2) {
        return Reply::err("ERR syntax error");
    }
    let mut i = 1;
    while i + 1 < args.len() {
        let (k, v) = (&args[i], &args[i + 1]);
        if eq_ignore_case(k, "listening-port") {
            match parse_i64(v).filter(|p| (0..=65535).contains(p)) {
                Some(p) => st.repl.listening_port = Some(p as u16),
                None => return Reply::err("ERR value is out of range"),
            }
        } else if !eq_ignore_case(k, "capa")
            && !eq_ignore_case(k, "ack")
            && !eq_ignore_case(k, "ip-address")
            && !eq_ignore_case(k, "getack")
        {
            return Reply::err(format!(
                "ERR Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(k)
            ));
        }
        i += 2;
    }
    Reply::Ok
}

/// `PSYNC <replid> <offset>`: `+CONTINUE <replid>` when this log holds `offset` under the same
/// history (or `? -1` while the log still starts at 0); otherwise an error, since full sync is
/// not implemented yet.
pub async fn psync(st: &mut ConnState, args: &[Bytes]) -> Reply {
    let sh = st.sh.clone();
    let w = &sh.writer.state;
    if w.replica_mode.load(Ordering::Relaxed) {
        return Reply::err("ERR chained replication is not implemented yet");
    }
    let my_id = w.replid();
    let start = LogOffset(w.log_start.load(Ordering::Relaxed));
    let end = LogOffset(w.end.load(Ordering::Acquire));
    let from = if &args[1][..] == b"?" && parse_i64(&args[2]) == Some(-1) {
        (start == LogOffset::ZERO).then_some(LogOffset::ZERO)
    } else {
        match (ReplId::parse(&args[1]), parse_i64(&args[2])) {
            (Some(id), Some(off)) if id == my_id && off >= 0 => {
                let off = LogOffset(off as u64);
                (start <= off && off <= end).then_some(off)
            }
            _ => None,
        }
    };
    let Some(from) = from else {
        sh.repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
        tracing::info!(client = st.client.id, replid = %String::from_utf8_lossy(&args[1]), offset = %String::from_utf8_lossy(&args[2]), log_start = %start, log_end = %end, "PSYNC cannot continue; full sync is not implemented yet");
        return Reply::err("ERR full sync is not implemented yet");
    };
    let dir = sh.config.fixed.dir.join("log");
    let opened = tokio::task::spawn_blocking(move || LogReader::open(&dir, from)).await;
    match opened {
        Ok(Ok(reader)) => {
            sh.repl.sync_partial_ok.fetch_add(1, Ordering::Relaxed);
            tracing::info!(client = st.client.id, addr = %st.client.addr, offset = %from, "replica PSYNC accepted: +CONTINUE");
            st.repl.stream = Some((from, reader));
            Reply::Simple(format!("CONTINUE {my_id}"))
        }
        Ok(Err(e)) => {
            sh.repl.sync_partial_err.fetch_add(1, Ordering::Relaxed);
            tracing::info!(offset = %from, error = %e, "PSYNC offset not readable from the log");
            Reply::err("ERR full sync is not implemented yet")
        }
        Err(e) => Reply::err(format!("ERR internal: {e}")),
    }
}

/// Removes a replica from the registry when its stream ends, however it ends.
struct Registered<'a> {
    sh: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut r) = self.sh.repl.replicas.lock() {
            r.remove(&self.id);
        }
    }
}

/// Streams records from `from` until the replica goes away, the client is killed, or the log
/// cannot be read (reported with its offset; the replica will reconnect and ask again).
pub async fn stream(
    st: &mut ConnState,
    sock: &mut TcpStream,
    mut rbuf: BytesMut,
    from: LogOffset,
    reader: LogReader,
) -> io::Result<()> {
    let sh = st.sh.clone();
    let id = st.client.id;
    let addr = st.client.addr;
    if let Ok(mut r) = sh.repl.replicas.lock() {
        r.insert(
            id,
            ReplicaInfo {
                addr,
                listening_port: st.repl.listening_port.unwrap_or(addr.port()),
                state: "online",
                ack_offset: from.0,
                last_ack_ms: now_ms(),
            },
        );
    }
    let _registered = Registered { sh: &sh, id };
    let (mut rd, mut wr) = sock.split();
    let acks = async {
        loop {
            while let Ok(Some(args)) = parse_request(&mut rbuf, 1 << 20) {
                if args.len() == 3
                    && eq_ignore_case(&args[0], "replconf")
                    && eq_ignore_case(&args[1], "ack")
                {
                    if let Some(off) = parse_i64(&args[2]) {
                        if let Ok(mut r) = sh.repl.replicas.lock() {
                            if let Some(info) = r.get_mut(&id) {
                                info.ack_offset = off.max(0) as u64;
                                info.last_ack_ms = now_ms();
                            }
                        }
                    }
                }
            }
            if rbuf.len() > 1 << 20 {
                return Err(io::Error::other("replica sent an oversized request"));
            }
            if rd.read_buf(&mut rbuf).await? == 0 {
                return Ok::<(), io::Error>(());
            }
        }
    };
    let send = async {
        let mut end_rx = sh.writer.state.end_watch.subscribe();
        let mut reader = Some(reader);
        let mut pos = from;
        loop {
            let end = LogOffset(*end_rx.borrow_and_update());
            if pos >= end {
                if end_rx.changed().await.is_err() {
                    return Ok(());
                }
                continue;
            }
            let Some(mut r) = reader.take() else {
                return Err(io::Error::other("log reader lost"));
            };
            let (r, chunk) = tokio::task::spawn_blocking(move || {
                let mut buf = Vec::new();
                let res = loop {
                    if buf.len() >= CHUNK {
                        break Ok(());
                    }
                    match r.next(end) {
                        Ok(Some(rec)) => buf.extend_from_slice(&rec.bytes),
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                (r, res.map(|_| buf))
            })
            .await
            .map_err(io::Error::other)?;
            reader = Some(r);
            let chunk = chunk.map_err(|e| {
                tracing::error!(error = %e, offset = %pos, "replication stream stopped: the log cannot be read");
                io::Error::other(e.to_string())
            })?;
            if chunk.is_empty() {
                return Err(io::Error::other(format!(
                    "no record readable at {pos} below the published end {end}"
                )));
            }
            wr.write_all(&chunk).await?;
            sh.stats
                .net_out
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            pos = pos.advance(chunk.len() as u64);
        }
    };
    let client = st.client.clone();
    let r = tokio::select! {
        r = acks => r,
        r = send => r,
        _ = client.kill.notified() => Ok(()),
    };
    tracing::info!(client = id, %addr, "replica stream ended");
    r
}
