//! The `durakv` server binary: parse flags and config, open storage, recover the log, serve.

use std::sync::Arc;

use clap::Parser;

use durakv::config::{Config, Flags};
use durakv::storage::Storage;

/// mimalloc for the server's own allocations (requests, replies, batches, cache slots):
/// profiled under `redis-benchmark -t set`, glibc's malloc and free (with its periodic
/// consolidation) took about 8% of the I/O thread.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `durakv restore ...`: point-in-time restore from a checkpoint plus the log.
#[derive(Parser, Debug)]
#[command(name = "durakv restore")]
struct RestoreArgs {
    /// A directory written by CHECKPOINT EXPORT
    #[arg(long)]
    checkpoint: std::path::PathBuf,
    /// The log directory to replay from (e.g. <data dir>/log of the source server)
    #[arg(long)]
    log: std::path::PathBuf,
    /// Stop at this offset (must be the end of a record)
    #[arg(long, conflicts_with = "until_time")]
    until_offset: Option<u64>,
    /// Apply every record stamped at or before this time, ms since the epoch
    #[arg(long)]
    until_time: Option<u64>,
    /// New data directory (new or empty)
    #[arg(long)]
    dir: std::path::PathBuf,
}

fn restore_main(args: Vec<String>) -> ! {
    let a = RestoreArgs::parse_from(args);
    let until = match (a.until_offset, a.until_time) {
        (Some(o), None) => durakv::restore::Until::Offset(durakv::types::LogOffset(o)),
        (None, Some(t)) => durakv::restore::Until::TimeMs(t),
        _ => {
            eprintln!("durakv restore: give exactly one of --until-offset or --until-time");
            std::process::exit(2);
        }
    };
    match durakv::restore::restore(&a.checkpoint, &a.log, until, &a.dir) {
        Ok(r) => {
            println!(
                "restored {} records: checkpoint offset {}, data now at offset {}; start it with: durakv --dir {}",
                r.records,
                r.checkpoint_offset,
                r.reached,
                a.dir.display()
            );
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("durakv restore: {e:#}");
            std::process::exit(1);
        }
    }
}

/// `durakv backup ...`: a backup of a running server over the network (a full sync).
#[derive(Parser, Debug)]
#[command(name = "durakv backup")]
struct BackupArgs {
    /// The server to back up, host:port
    #[arg(long)]
    from: String,
    /// Its password (requirepass), if any
    #[arg(long)]
    password: Option<String>,
    /// Directory to write the backup to (new or empty, or an interrupted backup to resume)
    #[arg(long, alias = "dir")]
    to: std::path::PathBuf,
}

fn backup_main(args: Vec<String>) -> ! {
    let a = BackupArgs::parse_from(args);
    init_tracing("info");
    let Some((host, port)) = a
        .from
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
    else {
        eprintln!("durakv backup: --from must be host:port, got {:?}", a.from);
        std::process::exit(2);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("durakv backup: starting the runtime: {e}");
            std::process::exit(1);
        }
    };
    let r = rt.block_on(durakv::backup::backup_from(
        &host,
        port,
        a.password.as_deref(),
        &a.to,
    ));
    match r {
        Ok(r) => {
            println!(
                "backup of {} at offset {}: {} files, {} bytes in {}; start it with: durakv --dir {}",
                a.from,
                r.offset,
                r.files,
                r.bytes,
                a.to.display(),
                a.to.display()
            );
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("durakv backup: {e:#}");
            std::process::exit(1);
        }
    }
}

fn init_tracing(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(|s| s == "restore").unwrap_or(false) {
        restore_main(args[1..].to_vec());
    }
    if args.get(1).map(|s| s == "backup").unwrap_or(false) {
        backup_main(args[1..].to_vec());
    }
    let flags = Flags::parse();
    let config = match Config::load(flags) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("durakv: {e:#}");
            std::process::exit(2);
        }
    };
    init_tracing(&config.fixed.loglevel);
    if let Err(e) = run(config) {
        tracing::error!("{e:#}");
        eprintln!("durakv: fatal: {e:#}");
        std::process::exit(1);
    }
}

/// A file size limit (`ulimit -f`) must fail the write that crosses it, which the log turns
/// into refused writes (sticky, reads go on), not kill the server with SIGXFSZ's default
/// action, as PostgreSQL does for the same reason.
fn ignore_file_size_signal() {
    // SAFETY: sets a signal disposition to SIG_IGN before any other thread exists; no
    // handler runs, so nothing needs to be async-signal-safe.
    let previous = unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    if previous == libc::SIG_ERR {
        tracing::warn!("could not ignore SIGXFSZ: a file size limit would stop the server");
    }
}

fn run(config: Arc<Config>) -> anyhow::Result<()> {
    ignore_file_size_signal();
    let dir = &config.fixed.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("creating data dir {}: {e}", dir.display()))?;
    tracing::info!(dir = %dir.display(), appendfsync = config.runtime.appendfsync().as_str(), "durakv starting");
    let seg_bytes = config
        .runtime
        .log_segment_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    let db_dir = durakv::datadir::open_current(dir, seg_bytes)?;
    let storage = Arc::new(Storage::open(
        &db_dir,
        config.fixed.block_cache_bytes as usize,
        config.fixed.entry_cache_bytes as usize,
    )?);
    let (writer, thread) = durakv::writer::start(storage.clone(), config.clone())?;
    // The accept loop and signals; connections run on the I/O threads (server::serve).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the tokio runtime: {e}"))?;
    drop(storage);
    rt.block_on(durakv::server::serve(config, writer))?;
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    let _ = thread.join();
    tracing::info!("durakv stopped");
    Ok(())
}
