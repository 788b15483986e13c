//! The `durakv` server binary: parse flags and config, open storage, recover the log, serve.

use std::sync::Arc;

use clap::Parser;

use durakv::config::{Config, Flags};
use durakv::storage::Storage;

fn main() {
    let flags = Flags::parse();
    let config = match Config::load(flags) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("durakv: {e:#}");
            std::process::exit(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.fixed.loglevel));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    if let Err(e) = run(config) {
        tracing::error!("{e:#}");
        eprintln!("durakv: fatal: {e:#}");
        std::process::exit(1);
    }
}

fn run(config: Arc<Config>) -> anyhow::Result<()> {
    let dir = &config.fixed.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("creating data dir {}: {e}", dir.display()))?;
    tracing::info!(dir = %dir.display(), appendfsync = config.runtime.appendfsync().as_str(), "durakv starting");
    let storage = Arc::new(Storage::open(
        &dir.join("db"),
        config.fixed.block_cache_bytes as usize,
    )?);
    let (writer, thread) = durakv::writer::start(storage.clone(), config.clone())?;
    // The accept loop and signals; connections run on the I/O threads (server::serve).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("starting the tokio runtime: {e}"))?;
    rt.block_on(durakv::server::serve(config, storage, writer))?;
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    let _ = thread.join();
    tracing::info!("durakv stopped");
    Ok(())
}
