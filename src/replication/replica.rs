//! The replica task: follows the master named in [`super::ReplShared::target`].
//!
//! Handshake as Redis does it (`PING`, `AUTH` with masterauth, `REPLCONF listening-port`,
//! `REPLCONF capa psync2`, `PSYNC <replid> <log end>`; a fresh replica with an empty log sends
//! `PSYNC ? -1` and adopts the master's replid). On `+CONTINUE` every record is checked
//! (header CRC, payload CRC, offset == the expected one) before the writer appends it byte for
//! byte and applies it with its offset in the same batch, so a kill -9 at any point resumes
//! exactly where the log and the data agree. `REPLCONF ACK <applied>` goes out every second.
//! A dropped link is retried with backoff (100 ms doubling to 2 s).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use super::MasterAddr;
use crate::config::RuntimeConfig;
use crate::log::format::{decode_heartbeat, RecordHeader, RECORD_HEADER_LEN};
use crate::protocol::encode_command;
use crate::server::Shared;
use crate::types::{now_ms, LogOffset, ReplId};
use crate::writer::WriterMsg;

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const ACK_EVERY: Duration = Duration::from_secs(1);
/// Most record bytes handed to the writer in one message (one log append, one batch).
const BATCH_BYTES: usize = 4 << 20;

/// Runs for the life of the server, following whichever master the target names.
pub async fn run(sh: Arc<Shared>) {
    let mut target_rx = sh.repl.target.subscribe();
    let mut backoff = BACKOFF_MIN;
    loop {
        let target = target_rx.borrow_and_update().clone();
        let Some(master) = target else {
            sh.repl.link_up.store(false, Ordering::Relaxed);
            if target_rx.changed().await.is_err() {
                return;
            }
            continue;
        };
        let mut streamed = false;
        let result = tokio::select! {
            r = session(&sh, &master, &mut streamed) => Some(r),
            _ = target_rx.changed() => None,
        };
        sh.repl.link_up.store(false, Ordering::Relaxed);
        let Some(result) = result else {
            // REPLICAOF changed the master: start over at once.
            backoff = BACKOFF_MIN;
            continue;
        };
        if streamed {
            backoff = BACKOFF_MIN;
        }
        match result {
            Ok(()) => {
                tracing::warn!(master = %format!("{}:{}", master.host, master.port), "master closed the replication link")
            }
            Err(e) => {
                tracing::warn!(master = %format!("{}:{}", master.host, master.port), error = %format!("{e:#}"), retry_in_ms = backoff.as_millis() as u64, "replication link down")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = target_rx.changed() => { backoff = BACKOFF_MIN; continue; }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// Reads one reply line (`+...` or `-...`) during the handshake.
pub(crate) async fn read_line(sock: &mut TcpStream, buf: &mut BytesMut) -> anyhow::Result<String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.advance(i + 2);
            return Ok(line);
        }
        if buf.len() > 64 * 1024 {
            bail!("handshake reply line too long");
        }
        let n = tokio::time::timeout(HANDSHAKE_TIMEOUT, sock.read_buf(buf))
            .await
            .map_err(|_| anyhow!("master did not answer within {HANDSHAKE_TIMEOUT:?}"))?
            .context("reading from master")?;
        if n == 0 {
            bail!("master closed the connection during the handshake");
        }
    }
}

pub(crate) async fn command(
    sock: &mut TcpStream,
    buf: &mut BytesMut,
    args: &[&[u8]],
) -> anyhow::Result<String> {
    let mut out = Vec::new();
    let owned: Vec<bytes::Bytes> = args
        .iter()
        .map(|a| bytes::Bytes::copy_from_slice(a))
        .collect();
    encode_command(&mut out, &owned);
    sock.write_all(&out).await.context("writing to master")?;
    read_line(sock, buf).await
}

pub(crate) fn expect_ok(what: &str, line: String) -> anyhow::Result<()> {
    if line.starts_with('+') {
        Ok(())
    } else {
        bail!("{what}: master replied {line}")
    }
}

/// One connection to the master: handshake, then apply the stream until it ends.
async fn session(sh: &Arc<Shared>, m: &MasterAddr, streamed: &mut bool) -> anyhow::Result<()> {
    let mut sock = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        TcpStream::connect((m.host.as_str(), m.port)),
    )
    .await
    .map_err(|_| anyhow!("connecting to {}:{} timed out", m.host, m.port))?
    .with_context(|| format!("connecting to {}:{}", m.host, m.port))?;
    let _ = sock.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(64 * 1024);
    let pong = command(&mut sock, &mut buf, &[b"PING"]).await?;
    if !pong.starts_with('+') && !pong.starts_with("-NOAUTH") {
        bail!("PING: master replied {pong}");
    }
    if let Some(pw) = sh.config.runtime.masterauth() {
        let r = command(&mut sock, &mut buf, &[b"AUTH", pw.as_bytes()]).await?;
        expect_ok("AUTH", r)?;
    }
    let port = sh.port.to_string();
    let r = command(
        &mut sock,
        &mut buf,
        &[b"REPLCONF", b"listening-port", port.as_bytes()],
    )
    .await?;
    expect_ok("REPLCONF listening-port", r)?;
    let r = command(
        &mut sock,
        &mut buf,
        &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"],
    )
    .await?;
    expect_ok("REPLCONF capa", r)?;
    let w = &sh.writer.state;
    let end = LogOffset(w.end.load(Ordering::Acquire));
    let my_id = w.replid();
    let fresh = end == LogOffset::ZERO;
    let (id_arg, off_arg) = if fresh {
        ("?".to_string(), "-1".to_string())
    } else {
        (my_id.to_string(), end.to_string())
    };
    if !fresh {
        // Our last record, so the master continues only if its own record at that offset
        // is the same one (see `master::psync`).
        let dir = sh.config.fixed.dir.join("log");
        let before = tokio::task::spawn_blocking(move || {
            crate::log::reader::LogReader::open(&dir, end)
                .ok()
                .and_then(|r| r.record_before())
        })
        .await
        .ok()
        .flatten();
        if let Some(f) = before {
            let v = super::master::fingerprint_arg(f);
            let r = command(
                &mut sock,
                &mut buf,
                &[b"REPLCONF", b"last-record", v.as_bytes()],
            )
            .await?;
            expect_ok("REPLCONF last-record", r)?;
        }
    }
    let r = command(
        &mut sock,
        &mut buf,
        &[b"PSYNC", id_arg.as_bytes(), off_arg.as_bytes()],
    )
    .await?;
    let (r, from) = if let Some(rest) = r.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let (Some(id), Some(off)) = (
            it.next().and_then(|s| ReplId::parse(s.as_bytes())),
            it.next().and_then(|s| s.parse::<u64>().ok()),
        ) else {
            bail!("bad +FULLRESYNC line: {r}");
        };
        let off = LogOffset(off);
        tracing::info!(master = %format!("{}:{}", m.host, m.port), replid = %id, offset = %off, "full sync: +FULLRESYNC");
        sh.repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
        super::fullsync::run(sh, &mut sock, &mut buf, id, off).await?;
        // Sub-replicas followed data that is gone.
        sh.repl.drop_replicas(&sh.clients);
        let id_s = id.to_string();
        let off_s = off.to_string();
        let again = command(
            &mut sock,
            &mut buf,
            &[b"PSYNC", id_s.as_bytes(), off_s.as_bytes()],
        )
        .await?;
        (again, off)
    } else {
        (r, end)
    };
    let Some(rest) = r.strip_prefix("+CONTINUE") else {
        bail!("PSYNC {id_arg} {off_arg}: master replied {r}");
    };
    let my_id = sh.writer.state.replid();
    let master_id = match rest.trim() {
        "" => my_id,
        s => ReplId::parse(s.as_bytes()).ok_or_else(|| anyhow!("bad replid in {r}"))?,
    };
    if master_id != my_id {
        // A fresh log adopts the master's history; otherwise the master was promoted (or
        // follows a promoted one) and our history continues under its replid from here.
        let (tx, rx) = oneshot::channel();
        if !sh.writer.send(WriterMsg::SetReplid {
            replid: master_id,
            promote: false,
            reply: tx,
        }) {
            bail!("writer stopped");
        }
        rx.await
            .map_err(|_| anyhow!("writer stopped"))?
            .map_err(|e| anyhow!("taking the master's replid: {e}"))?;
        if !fresh {
            sh.repl.drop_replicas(&sh.clients);
        }
    }
    tracing::info!(master = %format!("{}:{}", m.host, m.port), offset = %from, replid = %master_id, "replication link up: +CONTINUE");
    *streamed = true;
    sh.repl.link_up.store(true, Ordering::Relaxed);
    sh.repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
    apply_stream(sh, &mut sock, buf, from).await
}

/// Checks records as they arrive and hands them to the writer in batches; ACKs every second.
async fn apply_stream(
    sh: &Arc<Shared>,
    sock: &mut TcpStream,
    mut buf: BytesMut,
    mut expected: LogOffset,
) -> anyhow::Result<()> {
    let mut tick = tokio::time::interval(ACK_EVERY);
    let mut batch: Vec<u8> = Vec::new();
    let mut acked = LogOffset(u64::MAX);
    let mut last_data = tokio::time::Instant::now();
    loop {
        // Take every complete, valid record already received.
        while buf.len() >= RECORD_HEADER_LEN && batch.len() < BATCH_BYTES {
            let mut h = [0u8; RECORD_HEADER_LEN];
            h.copy_from_slice(&buf[..RECORD_HEADER_LEN]);
            if let Some(at) = decode_heartbeat(&h) {
                if at != expected {
                    bail!("master heartbeat at offset {at} where {expected} was expected");
                }
                buf.advance(RECORD_HEADER_LEN);
                continue;
            }
            let header = RecordHeader::decode(&h)
                .map_err(|e| anyhow!("bad record header from master at offset {expected}: {e}"))?;
            if header.offset != expected {
                bail!(
                    "master sent a record at offset {} where {expected} was expected",
                    header.offset
                );
            }
            let len = header.record_len() as usize;
            if buf.len() < len {
                buf.reserve(len - buf.len());
                break;
            }
            header
                .check_payload(&buf[RECORD_HEADER_LEN..len])
                .map_err(|e| anyhow!("bad record payload from master at offset {expected}: {e}"))?;
            batch.extend_from_slice(&buf[..len]);
            buf.advance(len);
            expected = header.end();
        }
        if !batch.is_empty() {
            let (tx, rx) = oneshot::channel();
            let bytes = std::mem::take(&mut batch);
            if !sh.writer.send(WriterMsg::Replicated { bytes, reply: tx }) {
                bail!("writer stopped");
            }
            let applied = rx
                .await
                .map_err(|_| anyhow!("writer stopped"))?
                .map_err(|e| anyhow!("applying replicated records: {e}"))?;
            if applied != expected {
                bail!("writer applied up to {applied}, expected {expected}");
            }
            continue;
        }
        // Caught up with what arrived: acknowledge at once, so WAIT on the master returns as
        // soon as the write is applied here.
        if acked != expected {
            send_ack(sock, expected).await?;
            acked = expected;
        }
        // The deadline counts from the last bytes received, not from this pass of the loop
        // (the ACK tick starts a new pass every second).
        let timeout = RuntimeConfig::secs(&sh.config.runtime.repl_timeout);
        tokio::select! {
            r = tokio::time::timeout_at(last_data + timeout, sock.read_buf(&mut buf)) => {
                let r = r.map_err(|_| anyhow!("no data from master for {timeout:?} (repl-timeout)"))?;
                if r.context("reading from master")? == 0 {
                    return Ok(());
                }
                last_data = tokio::time::Instant::now();
                sh.repl.last_io_ms.store(now_ms(), Ordering::Relaxed);
            }
            _ = tick.tick() => {
                send_ack(sock, expected).await?;
                acked = expected;
            }
        }
    }
}

async fn send_ack(sock: &mut TcpStream, applied: LogOffset) -> anyhow::Result<()> {
    let mut out = Vec::new();
    encode_command(
        &mut out,
        &[
            bytes::Bytes::from_static(b"REPLCONF"),
            bytes::Bytes::from_static(b"ACK"),
            bytes::Bytes::from(applied.to_string()),
        ],
    );
    sock.write_all(&out).await.context("sending ACK to master")
}
