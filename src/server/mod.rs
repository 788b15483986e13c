//! The network server: the listener, the shared state every connection sees, and start-up /
//! shutdown order (open storage, recover the log, then accept clients; on shutdown stop
//! accepting, then let the writer sync and flush).

pub mod admin;
pub mod connection;
pub mod info;
pub mod multi;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::config::Config;
use crate::types::now_ms;
use crate::writer::WriterHandle;

/// One connected client, as CLIENT LIST and CLIENT KILL see it.
pub struct ClientHandle {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created_ms: u64,
    pub name: Mutex<String>,
    pub db: AtomicU8,
    /// Index + 1 into the command table of the last command run (0: none yet).
    pub last_cmd: std::sync::atomic::AtomicUsize,
    pub last_active_ms: AtomicU64,
    pub resp: AtomicU8,
    pub killed: AtomicBool,
    pub kill: Notify,
}

#[derive(Default)]
pub struct Stats {
    pub commands: AtomicU64,
    pub connections: AtomicU64,
    pub rejected: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub net_in: AtomicU64,
    pub net_out: AtomicU64,
}

/// SCAN cursors: Redis cursors are integers, so the key to resume from is kept here under a
/// number. Bounded; the oldest cursors are forgotten first.
#[derive(Default)]
pub struct ScanCursors {
    next_id: u64,
    map: HashMap<u64, (u8, Vec<u8>)>,
    order: VecDeque<u64>,
}

const MAX_SCAN_CURSORS: usize = 65536;

impl ScanCursors {
    pub fn put(&mut self, db: u8, key: Vec<u8>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.map.insert(id, (db, key));
        self.order.push_back(id);
        while self.order.len() > MAX_SCAN_CURSORS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        id
    }

    pub fn get(&self, id: u64) -> Option<&(u8, Vec<u8>)> {
        self.map.get(&id)
    }
}

pub struct Shared {
    pub config: Arc<Config>,
    pub writer: WriterHandle,
    pub clients: Mutex<HashMap<u64, Arc<ClientHandle>>>,
    pub next_client_id: AtomicU64,
    pub stats: Stats,
    pub started: Instant,
    /// INFO's run_id: a random id for this process (Redis' meaning; not the replication id).
    pub run_id: crate::types::ReplId,
    pub cursors: Mutex<ScanCursors>,
    pub shutdown: Notify,
    pub shutting_down: AtomicBool,
    pub port: u16,
    /// Last successful BGSAVE / CHECKPOINT EXPORT, ms (server start until the first one).
    pub last_save_ms: AtomicU64,
    pub bgsave_in_progress: AtomicBool,
    pub last_bgsave_ok: AtomicBool,
    /// Replication: connected replicas, sync counters, and the master this node follows.
    pub repl: crate::replication::ReplShared,
}

impl Shared {
    pub fn client_count(&self) -> usize {
        self.clients.lock().map(|c| c.len()).unwrap_or(0)
    }
}

/// Binds the listener and serves until SHUTDOWN or a signal. Returns after the writer has
/// synced the log and flushed storage.
pub async fn serve(config: Arc<Config>, writer: WriterHandle) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.fixed.bind, config.fixed.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding {addr}: {e}"))?;
    let port = listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or(config.fixed.port);
    tracing::info!(%addr, "ready to accept connections");
    let repl = crate::replication::ReplShared::new(&config);
    let shared = Arc::new(Shared {
        config,
        writer,
        clients: Mutex::new(HashMap::new()),
        next_client_id: AtomicU64::new(1),
        stats: Stats::default(),
        started: Instant::now(),
        run_id: crate::types::ReplId::random(),
        cursors: Mutex::new(ScanCursors::default()),
        shutdown: Notify::new(),
        shutting_down: AtomicBool::new(false),
        port,
        last_save_ms: AtomicU64::new(now_ms()),
        bgsave_in_progress: AtomicBool::new(false),
        last_bgsave_ok: AtomicBool::new(true),
        repl,
    });
    shared.repl.persist_initial();
    crate::replication::sync_source::clean_leftovers(&shared.config.fixed.dir);
    // The replica task lives on this runtime; it idles while the node is a master.
    tokio::spawn(crate::replication::replica::run(shared.clone()));
    let workers = start_io_threads(&shared)?;
    let mut next_worker = 0usize;
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| anyhow::anyhow!("installing SIGTERM handler: {e}"))?;
    loop {
        tokio::select! {
            acc = listener.accept() => {
                match acc {
                    Ok((sock, peer)) => {
                        // Hand the socket to an I/O thread, round-robin.
                        match sock.into_std() {
                            Ok(std_sock) => {
                                let _ = workers[next_worker % workers.len()].send((std_sock, peer));
                                next_worker = next_worker.wrapping_add(1);
                            }
                            Err(e) => tracing::warn!(error = %e, "could not hand over a connection"),
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                }
            }
            _ = shared.shutdown.notified() => break,
            _ = sigterm.recv() => { tracing::info!("SIGTERM received"); break; }
            _ = tokio::signal::ctrl_c() => { tracing::info!("SIGINT received"); break; }
        }
    }
    shared.shutting_down.store(true, Ordering::SeqCst);
    drop(workers);
    tracing::info!("shutting down: syncing the log and flushing storage");
    let w = shared.writer.clone();
    tokio::task::spawn_blocking(move || w.shutdown())
        .await
        .map_err(|e| anyhow::anyhow!("writer shutdown: {e}"))?;
    Ok(())
}

type NewConn = (std::net::TcpStream, SocketAddr);

/// Starts `io-threads` OS threads, each running its own single-threaded tokio runtime, and
/// returns the channels that hand them accepted sockets. A connection lives on one thread for
/// its whole life: no work stealing, no cross-thread wake-ups on the read/reply path (the
/// shape Redis' own I/O threads and Kvrocks' workers have).
fn start_io_threads(
    shared: &Arc<Shared>,
) -> anyhow::Result<Vec<tokio::sync::mpsc::UnboundedSender<NewConn>>> {
    let n = shared.config.fixed.io_threads.max(1);
    let mut senders = Vec::with_capacity(n);
    for i in 0..n {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<NewConn>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| anyhow::anyhow!("starting I/O runtime {i}: {e}"))?;
        let sh = shared.clone();
        std::thread::Builder::new()
            .name(format!("durakv-io-{i}"))
            .spawn(move || {
                rt.block_on(async move {
                    sh.writer.install_handoff();
                    while let Some((sock, peer)) = rx.recv().await {
                        match tokio::net::TcpStream::from_std(sock) {
                            Ok(sock) => {
                                tokio::spawn(connection::run(sh.clone(), sock, peer));
                            }
                            Err(e) => tracing::warn!(error = %e, "could not register a connection"),
                        }
                    }
                });
            })
            .map_err(|e| anyhow::anyhow!("spawning I/O thread {i}: {e}"))?;
        senders.push(tx);
    }
    Ok(senders)
}
