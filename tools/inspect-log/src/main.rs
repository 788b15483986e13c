//! `inspect-log`: the command line over the `inspect_log` library. Parses arguments, calls one
//! library function, prints its result and maps it to an exit status. Reads only.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use durakv::types::LogOffset;
use inspect_log::{Damage, DumpFormat, DumpOptions, InspectError, Progress};

const EXIT_DAMAGED: u8 = 1;
const EXIT_ERROR: u8 = 2;
const EXIT_HELP: &str = "Exit status: 0 ok; 1 the log is damaged (verify found a problem, or \
                         dump/stat stopped at corruption); 2 any other error (missing dir, no \
                         segments, I/O).";
const TIME_HELP: &str = "TIME is ms since the epoch (1700000000000), seconds with an s suffix \
                         (1700000000s), or UTC as dump prints it (2023-11-14T22:13:20.000Z).";

#[derive(Debug, Parser)]
#[command(
    name = "inspect-log",
    version,
    about = "Read-only inspection of a durakv replication log directory (<data dir>/log)",
    after_help = EXIT_HELP
)]
struct Cli {
    /// No progress lines on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// One row per segment: base and end offset, size, records, first/last timestamp, replid.
    Segments {
        /// The log directory (<data dir>/log).
        log_dir: PathBuf,
    },
    /// Print records, in offset order.
    #[command(after_help = TIME_HELP)]
    Dump {
        /// The log directory (<data dir>/log).
        log_dir: PathBuf,
        /// First record to print (a record boundary; default: the start of the log).
        #[arg(long, value_name = "OFFSET")]
        from: Option<u64>,
        /// Stop before the first record at or past this offset.
        #[arg(long, value_name = "OFFSET")]
        to: Option<u64>,
        /// Only records with a timestamp at or after TIME.
        #[arg(long, value_name = "TIME", value_parser = inspect_log::parse_time)]
        since: Option<u64>,
        /// Only records with a timestamp before TIME.
        #[arg(long, value_name = "TIME", value_parser = inspect_log::parse_time)]
        until: Option<u64>,
        /// Print at most N records.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// text: offset, time, db and redis-cli-quoted commands; json: JSON lines;
        /// resp: raw RESP for `redis-cli --pipe` (SELECT inserted where the db changes).
        #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
        format: DumpFormat,
    },
    /// Check every checksum, segment header and the offset chain; exit 1 on damage.
    Verify {
        /// The log directory (<data dir>/log).
        log_dir: PathBuf,
    },
    /// Totals by command name, total records and bytes, records per second.
    Stat {
        /// The log directory (<data dir>/log).
        log_dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if e.downcast_ref::<InspectError>()
                .is_some_and(InspectError::is_broken_pipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("inspect-log: {e:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let show = !cli.quiet;
    match cli.cmd {
        Cmd::Segments { log_dir } => {
            let rows = inspect_log::segments(&log_dir, &mut Progress::new("segments", show))?;
            inspect_log::write_segments(&mut out, &rows).map_err(InspectError::Output)?;
            out.flush().map_err(InspectError::Output)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Verify { log_dir } => {
            let s = inspect_log::verify(&log_dir, &mut Progress::new("verify", show))?;
            inspect_log::write_verify(&mut out, &s).map_err(InspectError::Output)?;
            out.flush().map_err(InspectError::Output)?;
            Ok(if s.problem.is_some() {
                ExitCode::from(EXIT_DAMAGED)
            } else {
                ExitCode::SUCCESS
            })
        }
        Cmd::Dump {
            log_dir,
            from,
            to,
            since,
            until,
            limit,
            format,
        } => {
            let opts = DumpOptions {
                from: from.map(LogOffset),
                to: to.map(LogOffset),
                since_ms: since,
                until_ms: until,
                limit,
                format,
            };
            let s = inspect_log::dump(&log_dir, &opts, &mut out, &mut Progress::new("dump", show))
                .with_context(|| format!("dump {}", log_dir.display()))?;
            Ok(stopped_at(s.walk.problem.as_ref(), &log_dir))
        }
        Cmd::Stat { log_dir } => {
            let s = inspect_log::stat(&log_dir, &mut Progress::new("stat", show))?;
            inspect_log::write_stats(&mut out, &s).map_err(InspectError::Output)?;
            out.flush().map_err(InspectError::Output)?;
            Ok(stopped_at(s.walk.problem.as_ref(), &log_dir))
        }
    }
}

/// After dump or stat: a torn tail is the end of what can be read (a note), corruption is an
/// exit 1 pointing at verify.
fn stopped_at(problem: Option<&inspect_log::Problem>, dir: &std::path::Path) -> ExitCode {
    match problem {
        None => ExitCode::SUCCESS,
        Some(p) if p.damage == Damage::TornTail => {
            eprintln!(
                "inspect-log: note: read up to the incomplete record at the end of the log ({p})"
            );
            ExitCode::SUCCESS
        }
        Some(p) => {
            eprintln!(
                "inspect-log: stopped: {p}; run `inspect-log verify {}`",
                dir.display()
            );
            ExitCode::from(EXIT_DAMAGED)
        }
    }
}
