//! The test harness: real server processes, a raw RESP client, and a reader for the log format.
//!
//! Owns:
//! - [`Server`]: one durakv process on a free loopback port with its own data directory (a
//!   temporary one, or one the test passes in), stderr captured to a file per start in a
//!   separate temporary directory, start-up awaited by polling PING with a deadline, stopped by
//!   SIGKILL ([`Server::kill9`]) or SIGTERM ([`Server::shutdown`]), restarted on the same data
//!   directory and arguments ([`Server::restart`]);
//! - [`RedisRef`]: the stock redis-server the differential test compares against;
//! - [`RawConn`]: a RESP2/RESP3 client over a bare `TcpStream`, for what the `redis` crate hides
//!   (inline commands, pipelines in one write, malformed frames, RESP3 reply bytes);
//! - [`scan_segment`]: walks a log segment record by record (80-byte segment header, 32-byte
//!   record headers, crc32c), so corruption tests can find and damage a chosen record.
//!
//! Invariants: every wait has a deadline; a child process is killed when its handle drops; a
//! failure about a server carries that server's captured stderr.

#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redis::{Connection, RedisError, Value};
use tempfile::TempDir;

/// How long a server may take from spawn to answering PING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a clean stop (SIGTERM or SHUTDOWN) may take before the test kills and fails.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Read and write timeout on client connections, so a hung server fails a test, never hangs it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// Default deadline for one raw reply.
pub const RAW_REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts when the free port was taken by someone else between probe and bind.
const SPAWN_ATTEMPTS: u32 = 3;
/// Where the CI installs the stock Redis the differential test compares against.
pub const REDIS_SERVER_PATH: &str = "/usr/bin/redis-server";

/// The durakv binary Cargo built for this test run.
pub fn durakv_bin() -> &'static str {
    env!("CARGO_BIN_EXE_durakv")
}

/// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener
        .local_addr()
        .expect("local_addr of probe listener")
        .port()
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

pub fn now_secs() -> u64 {
    now_ms() / 1000
}

/// A seed from the named environment variable, or a fresh one from the clock. Printed either
/// way, so a failing run can be replayed.
pub fn seed_from_env(var: &str, what: &str) -> u64 {
    let seed = match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("{var}={s:?} is not a u64: {e}")),
        Err(_) => {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970");
            t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32)
        }
    };
    eprintln!("{what}: seed {seed} (replay with {var}={seed})");
    seed
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn keep_dirs() -> bool {
    std::env::var_os("DURAKV_KEEP_TEST_DIRS")
        .is_some_and(|v| !v.is_empty() && v.to_str() != Some("0"))
}

fn make_tempdir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temporary directory {prefix}*: {e}"))
}

/// Reads a log file lossily and removes ANSI colour sequences, so tests grep plain text.
fn read_log_text(path: &Path) -> String {
    match fs::read(path) {
        Ok(bytes) => strip_ansi(&String::from_utf8_lossy(&bytes)),
        Err(e) => format!("<could not read {}: {e}>", path.display()),
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters until a final byte in 0x40..=0x7e.
                for c2 in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c2) {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    lines[from..].join("\n")
}

fn port_in_use(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("address already in use") || s.contains("addrinuse") || s.contains("os error 98")
}

/// What a PING probe saw.
enum Probe {
    /// The server answered (+PONG, or -NOAUTH when a password is required).
    Ready,
    /// Nothing usable yet (refused, no reply, -LOADING, ...).
    NotYet,
}

fn probe_ping(port: u16) -> Probe {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(250)) else {
        return Probe::NotYet;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(250)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"*1\r\n$4\r\nPING\r\n").is_err() {
        return Probe::NotYet;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 256];
    while Instant::now() < deadline && !buf.windows(2).any(|w| w == b"\r\n") {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = s.shutdown(Shutdown::Both);
    if buf.starts_with(b"+PONG\r\n") || buf.starts_with(b"-NOAUTH") {
        Probe::Ready
    } else {
        Probe::NotYet
    }
}

/// Waits for `child` to exit, polling; `None` if it still runs after `timeout`.
fn wait_child(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(e) => panic!("waiting for child {}: {e}", child.id()),
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn send_sigterm(pid: u32) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap_or_else(|e| panic!("running `kill -TERM {pid}`: {e}"));
    assert!(status.success(), "`kill -TERM {pid}` failed: {status}");
}

/// A `redis` crate connection to 127.0.0.1:`port` with read and write timeouts set.
pub fn connect_client(port: u16, password: Option<&str>) -> Connection {
    let url = match password {
        Some(pw) => format!("redis://:{pw}@127.0.0.1:{port}/"),
        None => format!("redis://127.0.0.1:{port}/"),
    };
    let client =
        redis::Client::open(url.as_str()).unwrap_or_else(|e| panic!("client for {url}: {e}"));
    let con = client
        .get_connection_with_timeout(Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    con.set_read_timeout(Some(IO_TIMEOUT))
        .expect("set_read_timeout");
    con.set_write_timeout(Some(IO_TIMEOUT))
        .expect("set_write_timeout");
    con
}

// ---------------------------------------------------------------------------------------------
// durakv server process
// ---------------------------------------------------------------------------------------------

/// One durakv process, restartable on the same data directory.
pub struct Server {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    /// The data directory when this handle created it; `None` when the test owns it.
    data: Option<TempDir>,
    args: Vec<String>,
    /// Extra environment of the server process.
    env: Vec<(String, String)>,
    /// Captured stdout+stderr, one file per start, outside the data directory.
    logs: TempDir,
    stderr_path: PathBuf,
    starts: u32,
}

impl Server {
    /// Starts durakv in a fresh temporary data directory with `extra_args` after
    /// `--port --bind --dir`, and waits until it answers PING.
    pub fn start(extra_args: &[&str]) -> Server {
        Server::start_with_env(extra_args, &[])
    }

    /// [`Server::start`] with extra environment variables for the server process.
    pub fn start_with_env(extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let data = make_tempdir("durakv-it-data-");
        let dir = data.path().to_path_buf();
        let mut s = Server::new(dir, Some(data), extra_args);
        s.env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        s.launch();
        s
    }

    /// Starts durakv on an existing data directory (owned by the caller).
    pub fn start_in(dir: &Path, extra_args: &[&str]) -> Server {
        let mut s = Server::new(dir.to_path_buf(), None, extra_args);
        s.launch();
        s
    }

    /// Spawns durakv on an existing data directory where start-up is expected to fail, and
    /// waits for it to exit. Returns the exit status and the captured stderr.
    pub fn start_in_expect_failure(
        dir: &Path,
        extra_args: &[&str],
        timeout: Duration,
    ) -> (ExitStatus, String) {
        let mut s = Server::new(dir.to_path_buf(), None, extra_args);
        s.spawn_and_expect_exit(timeout)
    }

    fn new(dir: PathBuf, data: Option<TempDir>, extra_args: &[&str]) -> Server {
        let logs = make_tempdir("durakv-it-logs-");
        let stderr_path = logs.path().join("stderr-0.log");
        Server {
            child: None,
            port: 0,
            dir,
            data,
            args: extra_args.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            logs,
            stderr_path,
            starts: 0,
        }
    }

    fn spawn(&mut self) {
        assert!(
            self.child.is_none(),
            "spawn: a durakv process is already running on {}",
            self.dir.display()
        );
        self.port = free_port();
        self.stderr_path = self.logs.path().join(format!("stderr-{}.log", self.starts));
        self.starts += 1;
        let err = File::create(&self.stderr_path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", self.stderr_path.display()));
        let out = err
            .try_clone()
            .expect("clone stderr file handle for stdout");
        let filter = std::env::var("DURAKV_TEST_LOG").unwrap_or_else(|_| "info".to_string());
        let child = Command::new(durakv_bin())
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&self.dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .env("RUST_LOG", filter)
            .env("NO_COLOR", "1")
            .env("RUST_BACKTRACE", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", durakv_bin()));
        self.child = Some(child);
    }

    /// Spawns and waits for readiness, retrying on a fresh port if the port was stolen.
    fn launch(&mut self) {
        for attempt in 1..=SPAWN_ATTEMPTS {
            self.spawn();
            match self.poll_ready() {
                Ok(()) => return,
                Err(Some(status)) => {
                    self.child = None;
                    let text = self.stderr_text();
                    if attempt < SPAWN_ATTEMPTS && port_in_use(&text) {
                        eprintln!(
                            "durakv could not bind port {} (in use), retrying on another",
                            self.port
                        );
                        continue;
                    }
                    panic!(
                        "durakv exited during start-up ({status}); args {:?}, dir {}\n--- stderr ---\n{}",
                        self.args,
                        self.dir.display(),
                        tail_lines(&text, 80)
                    );
                }
                Err(None) => {
                    if let Some(mut child) = self.child.take() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    panic!(
                        "durakv did not answer PING on port {} within {READY_TIMEOUT:?}\n--- stderr ---\n{}",
                        self.port,
                        tail_lines(&self.stderr_text(), 80)
                    );
                }
            }
        }
        unreachable!("launch loop always returns or panics");
    }

    /// Ok when PING answers; Err(Some(status)) when the process exited; Err(None) on timeout.
    fn poll_ready(&mut self) -> Result<(), Option<ExitStatus>> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let child = self.child.as_mut().expect("poll_ready without a process");
            if let Some(status) = child.try_wait().expect("try_wait on durakv") {
                return Err(Some(status));
            }
            if let Probe::Ready = probe_ping(self.port) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(None);
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits (up to the ready deadline) until the running server answers PING.
    pub fn wait_ready(&mut self) {
        match self.poll_ready() {
            Ok(()) => {}
            Err(Some(status)) => {
                self.child = None;
                panic!(
                    "durakv exited ({status}) while waiting for it to be ready\n--- stderr ---\n{}",
                    tail_lines(&self.stderr_text(), 80)
                );
            }
            Err(None) => panic!(
                "durakv did not answer PING on port {} within {READY_TIMEOUT:?}\n--- stderr ---\n{}",
                self.port,
                tail_lines(&self.stderr_text(), 80)
            ),
        }
    }

    fn spawn_and_expect_exit(&mut self, timeout: Duration) -> (ExitStatus, String) {
        self.spawn();
        let mut child = self.child.take().expect("just spawned");
        match wait_child(&mut child, timeout) {
            Some(status) => (status, self.stderr_text()),
            None => {
                let answers = matches!(probe_ping(self.port), Probe::Ready);
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "durakv was expected to refuse to start but still ran after {timeout:?} (answers PING: {answers})\n--- stderr ---\n{}",
                    tail_lines(&self.stderr_text(), 80)
                );
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server not running").id()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The replication log directory, `<dir>/log`.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// Segment files in the log directory, oldest first (names sort by base offset).
    pub fn segments(&self) -> Vec<PathBuf> {
        list_segments(&self.log_dir())
    }

    /// The newest segment file. Panics when there is none.
    pub fn last_segment(&self) -> PathBuf {
        let segs = self.segments();
        segs.last()
            .cloned()
            .unwrap_or_else(|| panic!("no *.seg files in {}", self.log_dir().display()))
    }

    /// A `redis` crate connection (RESP2, database 0).
    pub fn client(&self) -> Connection {
        connect_client(self.port, None)
    }

    /// A `redis` crate connection that authenticates with `password` as it connects.
    pub fn client_with_password(&self, password: &str) -> Connection {
        connect_client(self.port, Some(password))
    }

    /// A raw TCP connection.
    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// SIGKILL, then reap. Panics if the server had already exited on its own.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("kill9: durakv is not running");
        if let Some(status) = child.try_wait().expect("try_wait before kill -9") {
            panic!(
                "kill9: durakv had already exited on its own ({status})\n--- stderr ---\n{}",
                tail_lines(&self.stderr_text(), 80)
            );
        }
        child.kill().expect("SIGKILL durakv");
        let _ = child.wait();
    }

    /// SIGTERM and wait for the exit; SIGKILL and panic if it takes over [`STOP_TIMEOUT`].
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("terminate: durakv is not running");
        send_sigterm(child.id());
        match wait_child(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "durakv did not stop within {STOP_TIMEOUT:?} of SIGTERM\n--- stderr ---\n{}",
                    tail_lines(&self.stderr_text(), 80)
                );
            }
        }
    }

    /// Clean stop by SIGTERM; asserts exit status 0.
    pub fn shutdown(&mut self) {
        let status = self.terminate();
        assert!(
            status.success(),
            "durakv exited with {status} after SIGTERM, expected 0\n--- stderr ---\n{}",
            tail_lines(&self.stderr_text(), 80)
        );
    }

    /// Clean stop by the SHUTDOWN command over a raw connection; returns the exit status.
    pub fn shutdown_command(&mut self) -> ExitStatus {
        let mut child = self
            .child
            .take()
            .expect("shutdown_command: durakv is not running");
        {
            let mut c = RawConn::connect(self.port);
            c.send(&encode_command(&[b"SHUTDOWN"]));
            // Redis closes the connection without a reply on success; an error reply would be a
            // refusal, and the wait below then times out and reports it.
            let _ = c.wait_closed(STOP_TIMEOUT);
        }
        match wait_child(&mut child, STOP_TIMEOUT) {
            Some(status) => status,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "durakv did not exit within {STOP_TIMEOUT:?} of SHUTDOWN\n--- stderr ---\n{}",
                    tail_lines(&self.stderr_text(), 80)
                );
            }
        }
    }

    /// Waits for the process to exit on its own (after SHUTDOWN sent by the test, say).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self
            .child
            .as_mut()
            .expect("wait_exit: durakv is not running");
        let status = wait_child(child, timeout);
        if status.is_some() {
            self.child = None;
        }
        status
    }

    /// Starts again on the same directory and arguments (on a new port) and waits for PING.
    /// The previous process must have been stopped (kill9, shutdown, ...).
    pub fn restart(&mut self) {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait().expect("try_wait").is_none() {
                panic!("restart: durakv is still running; call kill9() or shutdown() first");
            }
            self.child = None;
        }
        self.launch();
    }

    /// Starts again on the same directory where start-up must fail; waits up to `timeout` for
    /// the exit and returns its status and stderr. Panics if the server comes up instead.
    pub fn restart_expect_failure(&mut self, timeout: Duration) -> (ExitStatus, String) {
        if let Some(child) = self.child.as_mut() {
            if child.try_wait().expect("try_wait").is_none() {
                panic!("restart_expect_failure: durakv is still running; stop it first");
            }
            self.child = None;
        }
        self.spawn_and_expect_exit(timeout)
    }

    /// Captured stdout+stderr of the current (or last) start, ANSI colours removed.
    pub fn stderr_text(&self) -> String {
        read_log_text(&self.stderr_path)
    }

    /// Captured output of every start so far, oldest first.
    pub fn all_stderr_text(&self) -> String {
        let mut out = String::new();
        for i in 0..self.starts {
            let p = self.logs.path().join(format!("stderr-{i}.log"));
            out.push_str(&format!("=== start {i} ===\n"));
            out.push_str(&read_log_text(&p));
        }
        out
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "--- durakv output of start {} ({}), last 60 lines ---\n{}",
                self.starts.saturating_sub(1),
                self.stderr_path.display(),
                tail_lines(&self.stderr_text(), 60)
            );
            if keep_dirs() {
                self.logs.disable_cleanup(true);
                if let Some(d) = self.data.as_mut() {
                    d.disable_cleanup(true);
                }
                eprintln!(
                    "kept data dir {} and logs {}",
                    self.dir.display(),
                    self.logs.path().display()
                );
            }
        }
    }
}

/// Segment files (`<20 digits>.seg`) in `log_dir`, sorted by name, hence by base offset.
pub fn list_segments(log_dir: &Path) -> Vec<PathBuf> {
    let rd = match fs::read_dir(log_dir) {
        Ok(rd) => rd,
        Err(e) => panic!("listing {}: {e}", log_dir.display()),
    };
    let mut segs: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| segment_base_of_name(n).is_some())
        })
        .collect();
    segs.sort();
    segs
}

/// The base offset a segment file name encodes, if it is one.
pub fn segment_base_of_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".seg")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// stock redis-server for the differential test
// ---------------------------------------------------------------------------------------------

/// A stock redis-server with persistence off, in its own temporary directory.
pub struct RedisRef {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
    log_path: PathBuf,
}

impl RedisRef {
    /// Starts `/usr/bin/redis-server` (or `$DURAKV_REDIS_SERVER`) and waits for PING.
    pub fn start() -> RedisRef {
        let program =
            std::env::var("DURAKV_REDIS_SERVER").unwrap_or_else(|_| REDIS_SERVER_PATH.to_string());
        if !Path::new(&program).exists() {
            panic!(
                "stock redis-server not found at {program}: the differential test compares against Redis 7 \
                 (the CI installs the redis-server package; locally `apt-get install redis-server`, \
                 or point DURAKV_REDIS_SERVER at a binary)"
            );
        }
        let dir = make_tempdir("durakv-it-redis-");
        let log_path = dir.path().join("redis.log");
        for attempt in 1..=SPAWN_ATTEMPTS {
            let port = free_port();
            let log = File::create(&log_path)
                .unwrap_or_else(|e| panic!("creating {}: {e}", log_path.display()));
            let log2 = log.try_clone().expect("clone log handle");
            let mut child = Command::new(&program)
                .arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1")
                .arg("--save")
                .arg("")
                .arg("--appendonly")
                .arg("no")
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::from(log))
                .stderr(Stdio::from(log2))
                .spawn()
                .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
            let deadline = Instant::now() + READY_TIMEOUT;
            loop {
                if let Some(status) = child.try_wait().expect("try_wait on redis-server") {
                    let text = read_log_text(&log_path);
                    if attempt < SPAWN_ATTEMPTS && port_in_use(&text) {
                        break;
                    }
                    panic!(
                        "redis-server exited during start-up ({status})\n--- log ---\n{}",
                        tail_lines(&text, 60)
                    );
                }
                if let Probe::Ready = probe_ping(port) {
                    return RedisRef {
                        child: Some(child),
                        port,
                        dir,
                        log_path,
                    };
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "redis-server did not answer PING within {READY_TIMEOUT:?}\n--- log ---\n{}",
                        tail_lines(&read_log_text(&log_path), 60)
                    );
                }
                thread::sleep(Duration::from_millis(25));
            }
        }
        panic!("redis-server could not bind a free port in {SPAWN_ATTEMPTS} attempts");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn client(&self) -> Connection {
        connect_client(self.port, None)
    }

    pub fn raw(&self) -> RawConn {
        RawConn::connect(self.port)
    }

    pub fn log_text(&self) -> String {
        read_log_text(&self.log_path)
    }

    /// Kills the process by its PID and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisRef {
    fn drop(&mut self) {
        self.stop();
        if thread::panicking() {
            eprintln!(
                "--- redis-server log, last 30 lines ---\n{}",
                tail_lines(&self.log_text(), 30)
            );
            if keep_dirs() {
                self.dir.disable_cleanup(true);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// error and value helpers for the redis crate
// ---------------------------------------------------------------------------------------------

/// The error line as the server sent it, e.g. `ERR no such key` or `WRONGPASS invalid ...`.
pub fn err_text(e: &RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_string(),
        _ => e.to_string(),
    }
}

/// A command from string arguments.
pub fn cmd(args: &[&str]) -> redis::Cmd {
    let (name, rest) = args.split_first().expect("a command needs a name");
    let mut c = redis::cmd(name);
    for a in rest {
        c.arg(*a);
    }
    c
}

/// A command from binary arguments.
pub fn cmd_b(args: &[&[u8]]) -> redis::Cmd {
    let (name, rest) = args.split_first().expect("a command needs a name");
    let name = std::str::from_utf8(name).expect("command names are UTF-8");
    let mut c = redis::cmd(name);
    for a in rest {
        c.arg(*a);
    }
    c
}

/// Runs a command that must succeed and returns its reply.
pub fn run(con: &mut Connection, args: &[&str]) -> Value {
    cmd(args)
        .query::<Value>(con)
        .unwrap_or_else(|e| panic!("{args:?} failed: {}", err_text(&e)))
}

/// Runs a command that must succeed and converts its reply.
pub fn run_as<T: redis::FromRedisValue>(con: &mut Connection, args: &[&str]) -> T {
    cmd(args)
        .query::<T>(con)
        .unwrap_or_else(|e| panic!("{args:?} failed: {}", err_text(&e)))
}

/// Runs a command that must fail and returns the error line.
pub fn run_err(con: &mut Connection, args: &[&str]) -> String {
    match cmd(args).query::<Value>(con) {
        Ok(v) => panic!("{args:?} should have failed but replied {v:?}"),
        Err(e) => err_text(&e),
    }
}

/// Asserts `args` fails with exactly the error line `expected`.
#[track_caller]
pub fn assert_err(con: &mut Connection, args: &[&str], expected: &str) {
    let got = run_err(con, args);
    assert_eq!(got, expected, "error line of {args:?}");
}

pub fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

pub fn bulk_b(b: &[u8]) -> Value {
    Value::BulkString(b.to_vec())
}

/// GET as bytes; `None` for a missing key.
pub fn get_b(con: &mut Connection, key: &str) -> Option<Vec<u8>> {
    redis::cmd("GET")
        .arg(key)
        .query::<Option<Vec<u8>>>(con)
        .unwrap_or_else(|e| panic!("GET {key} failed: {}", err_text(&e)))
}

/// GET as a UTF-8 string; `None` for a missing key.
pub fn get_s(con: &mut Connection, key: &str) -> Option<String> {
    get_b(con, key).map(|b| String::from_utf8(b).expect("value is UTF-8"))
}

/// INFO `section` parsed into (field, value) pairs, in order.
pub fn info_section(con: &mut Connection, section: &str) -> Vec<(String, String)> {
    let text: String = run_as(con, &["INFO", section]);
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// One field of INFO `section`.
pub fn info_field(con: &mut Connection, section: &str, field: &str) -> Option<String> {
    info_section(con, section)
        .into_iter()
        .find(|(k, _)| k == field)
        .map(|(_, v)| v)
}

/// `master_repl_offset` from INFO replication.
pub fn repl_offset(con: &mut Connection) -> u64 {
    let v = info_field(con, "replication", "master_repl_offset")
        .expect("INFO replication has master_repl_offset");
    v.parse()
        .unwrap_or_else(|e| panic!("master_repl_offset {v:?}: {e}"))
}

/// Whether `text` mentions `offset N` (also accepting `offset=N` and `offset: N`), with N not
/// just the prefix of a longer number.
pub fn mentions_offset(text: &str, n: u64) -> bool {
    let num = n.to_string();
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("offset") {
        let mut j = from + i + "offset".len();
        let bytes = lower.as_bytes();
        let sep_start = j;
        while j < bytes.len() && matches!(bytes[j], b' ' | b'=' | b':') {
            j += 1;
        }
        if j > sep_start && lower[j..].starts_with(&num) {
            let after = j + num.len();
            if after >= bytes.len() || !bytes[after].is_ascii_digit() {
                return true;
            }
        }
        from = from + i + 1;
    }
    false
}

// ---------------------------------------------------------------------------------------------
// raw RESP over TCP
// ---------------------------------------------------------------------------------------------

/// A decoded RESP2 or RESP3 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// `$-1` (RESP2 null bulk).
    NullBulk,
    Array(Vec<Resp>),
    /// `*-1` (RESP2 null array).
    NullArray,
    /// `_` (RESP3 null).
    Null,
    Bool(bool),
    Double(String),
    BigNumber(String),
    Verbatim(Vec<u8>),
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Push(Vec<Resp>),
    Attribute(Vec<(Resp, Resp)>),
}

impl Resp {
    /// The pairs of a RESP3 map or of a RESP2 flat key/value array.
    pub fn pairs(&self) -> Option<Vec<(Resp, Resp)>> {
        match self {
            Resp::Map(p) => Some(p.clone()),
            Resp::Array(items) if items.len() % 2 == 0 => Some(
                items
                    .chunks(2)
                    .map(|c| (c[0].clone(), c[1].clone()))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// Text of a simple string, bulk string or verbatim string.
    pub fn text(&self) -> Option<String> {
        match self {
            Resp::Simple(s) => Some(s.clone()),
            Resp::Bulk(b) | Resp::Verbatim(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// One reply: its exact bytes and its decoded value.
#[derive(Clone, Debug)]
pub struct Frame {
    pub raw: Vec<u8>,
    pub value: Resp,
}

impl Frame {
    pub fn raw_str(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
}

/// Why a raw read ended without a frame.
#[derive(Debug)]
pub enum ReadEnd {
    /// The peer closed the connection (EOF or reset).
    Closed,
    TimedOut,
    /// The bytes received are not valid RESP.
    Garbage(String),
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode_command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Encodes a command from string arguments.
pub fn encode_str_command(args: &[&str]) -> Vec<u8> {
    let b: Vec<&[u8]> = args.iter().map(|s| s.as_bytes()).collect();
    encode_command(&b)
}

/// A bare TCP connection speaking RESP by hand.
pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawConn {
    pub fn connect(port: u16) -> RawConn {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("raw connect to {addr}: {e}"));
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .expect("set_write_timeout");
        stream.set_nodelay(true).expect("set_nodelay");
        RawConn {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("raw send of {} bytes: {e}", bytes.len()));
    }

    /// Reads one whole reply, waiting up to `timeout`.
    pub fn try_read_frame(&mut self, timeout: Duration) -> Result<Frame, ReadEnd> {
        let deadline = Instant::now() + timeout;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match parse_resp(&self.buf, 0) {
                Ok(Some((value, used))) => {
                    let raw: Vec<u8> = self.buf.drain(..used).collect();
                    return Ok(Frame { raw, value });
                }
                Ok(None) => {}
                Err(why) => {
                    return Err(ReadEnd::Garbage(format!(
                        "{why}; buffered {:?}",
                        String::from_utf8_lossy(&self.buf)
                    )))
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ReadEnd::TimedOut);
            }
            let slice = (deadline - now)
                .min(Duration::from_millis(200))
                .max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(slice))
                .expect("set_read_timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(ReadEnd::Closed),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset
                            | io::ErrorKind::ConnectionAborted
                            | io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Err(ReadEnd::Closed)
                }
                Err(e) => panic!("raw read: {e}"),
            }
        }
    }

    /// Reads one whole reply; panics if none arrives within [`RAW_REPLY_TIMEOUT`].
    pub fn read_frame(&mut self) -> Frame {
        match self.try_read_frame(RAW_REPLY_TIMEOUT) {
            Ok(f) => f,
            Err(end) => panic!(
                "expected a reply, got {end:?} (buffered: {:?})",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Sends `bytes` and reads one reply.
    pub fn request(&mut self, bytes: &[u8]) -> Frame {
        self.send(bytes);
        self.read_frame()
    }

    /// Sends a command (binary args) and reads its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> Frame {
        self.request(&encode_command(args))
    }

    /// Sends a command (string args) and reads its reply.
    pub fn command_str(&mut self, args: &[&str]) -> Frame {
        self.request(&encode_str_command(args))
    }

    /// Waits until the peer closes the connection; true if it did within `timeout`. Bytes that
    /// arrive meanwhile are kept in the buffer.
    pub fn wait_closed(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut chunk = [0u8; 4096];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let slice = (deadline - now)
                .min(Duration::from_millis(200))
                .max(Duration::from_millis(1));
            self.stream
                .set_read_timeout(Some(slice))
                .expect("set_read_timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return true,
            }
        }
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }
}

fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    if buf.len() < 2 || from > buf.len() - 2 {
        return None;
    }
    (from..buf.len() - 1).find(|&i| buf[i] == b'\r' && buf[i + 1] == b'\n')
}

fn parse_int(line: &[u8]) -> Result<i64, String> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| format!("bad integer {:?}", String::from_utf8_lossy(line)))
}

/// Parses one RESP value at the start of `buf`: `Ok(None)` when more bytes are needed,
/// otherwise the value and how many bytes it used.
pub fn parse_resp(buf: &[u8], depth: usize) -> Result<Option<(Resp, usize)>, String> {
    if depth > 32 {
        return Err("reply nested deeper than 32".to_string());
    }
    let Some(&tag) = buf.first() else {
        return Ok(None);
    };
    let Some(eol) = find_crlf(buf, 1) else {
        return Ok(None);
    };
    let line = &buf[1..eol];
    let after = eol + 2;
    let text = || String::from_utf8_lossy(line).into_owned();
    match tag {
        b'+' => Ok(Some((Resp::Simple(text()), after))),
        b'-' => Ok(Some((Resp::Error(text()), after))),
        b':' => Ok(Some((Resp::Int(parse_int(line)?), after))),
        b'_' => Ok(Some((Resp::Null, after))),
        b',' => Ok(Some((Resp::Double(text()), after))),
        b'(' => Ok(Some((Resp::BigNumber(text()), after))),
        b'#' => match line {
            b"t" => Ok(Some((Resp::Bool(true), after))),
            b"f" => Ok(Some((Resp::Bool(false), after))),
            _ => Err(format!("bad boolean {:?}", text())),
        },
        b'$' | b'=' | b'!' => {
            let n = parse_int(line)?;
            if n < 0 {
                return if tag == b'$' {
                    Ok(Some((Resp::NullBulk, after)))
                } else {
                    Err(format!("negative length {n}"))
                };
            }
            let n = n as usize;
            if buf.len() < after + n + 2 {
                return Ok(None);
            }
            if &buf[after + n..after + n + 2] != b"\r\n" {
                return Err("bulk string not followed by CRLF".to_string());
            }
            let body = buf[after..after + n].to_vec();
            let v = match tag {
                b'$' => Resp::Bulk(body),
                b'=' => Resp::Verbatim(body),
                _ => Resp::Error(String::from_utf8_lossy(&body).into_owned()),
            };
            Ok(Some((v, after + n + 2)))
        }
        b'*' | b'~' | b'>' => {
            let n = parse_int(line)?;
            if n < 0 {
                return if tag == b'*' {
                    Ok(Some((Resp::NullArray, after)))
                } else {
                    Err(format!("negative count {n}"))
                };
            }
            let mut pos = after;
            let mut items = Vec::with_capacity((n as usize).min(4096));
            for _ in 0..n {
                match parse_resp(&buf[pos..], depth + 1)? {
                    Some((v, used)) => {
                        items.push(v);
                        pos += used;
                    }
                    None => return Ok(None),
                }
            }
            let v = match tag {
                b'*' => Resp::Array(items),
                b'~' => Resp::Set(items),
                _ => Resp::Push(items),
            };
            Ok(Some((v, pos)))
        }
        b'%' | b'|' => {
            let n = parse_int(line)?;
            if n < 0 {
                return Err(format!("negative map size {n}"));
            }
            let mut pos = after;
            let mut pairs = Vec::with_capacity((n as usize).min(4096));
            for _ in 0..n {
                let Some((k, used)) = parse_resp(&buf[pos..], depth + 1)? else {
                    return Ok(None);
                };
                pos += used;
                let Some((v, used)) = parse_resp(&buf[pos..], depth + 1)? else {
                    return Ok(None);
                };
                pos += used;
                pairs.push((k, v));
            }
            let v = if tag == b'%' {
                Resp::Map(pairs)
            } else {
                Resp::Attribute(pairs)
            };
            Ok(Some((v, pos)))
        }
        other => Err(format!("unknown RESP type byte {:?}", other as char)),
    }
}

// ---------------------------------------------------------------------------------------------
// log segment format
// ---------------------------------------------------------------------------------------------

/// Bytes of the header at the start of every segment file (outside the offset space).
pub const SEGMENT_HEADER_BYTES: u64 = 80;
/// Bytes of a record header.
pub const RECORD_HEADER_BYTES: u64 = 32;

/// CRC-32C (Castagnoli), bitwise; the log's checksum.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc: u32 = !0;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().expect("4 bytes"))
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().expect("8 bytes"))
}

/// One valid record found in a segment file.
#[derive(Clone, Debug)]
pub struct RecordLoc {
    /// Position of the record header in the file.
    pub file_pos: u64,
    /// The record's own offset, from its header.
    pub offset: u64,
    pub payload_len: u32,
    pub timestamp_ms: u64,
    pub db: u8,
    pub kind: u8,
    pub payload: Vec<u8>,
}

impl RecordLoc {
    /// Header + payload bytes.
    pub fn record_len(&self) -> u64 {
        RECORD_HEADER_BYTES + self.payload_len as u64
    }

    /// File position just past the record.
    pub fn end_pos(&self) -> u64 {
        self.file_pos + self.record_len()
    }

    /// Offset just past the record.
    pub fn end_offset(&self) -> u64 {
        self.offset + self.record_len()
    }

    /// File position of the payload.
    pub fn payload_pos(&self) -> u64 {
        self.file_pos + RECORD_HEADER_BYTES
    }
}

/// What walking a segment file found.
#[derive(Clone, Debug)]
pub struct SegmentScan {
    pub path: PathBuf,
    pub file_len: u64,
    /// Valid records from position 80 on, in order.
    pub records: Vec<RecordLoc>,
    /// File position just past the last valid record (80 when there is none).
    pub valid_end_pos: u64,
    /// Why the walk stopped before the end of the file, if it did.
    pub stopped: Option<String>,
}

/// Walks a segment file from position 80, validating each header crc and payload crc, until
/// the end of the file or the first thing that does not validate (a torn tail, zero fill, or
/// damage).
pub fn scan_segment(path: &Path) -> SegmentScan {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let file_len = bytes.len() as u64;
    let mut records = Vec::new();
    let mut pos = SEGMENT_HEADER_BYTES as usize;
    let mut stopped = None;
    if bytes.len() < pos {
        return SegmentScan {
            path: path.to_path_buf(),
            file_len,
            records,
            valid_end_pos: file_len,
            stopped: Some(format!(
                "file shorter than the {SEGMENT_HEADER_BYTES}-byte segment header"
            )),
        };
    }
    let hdr = RECORD_HEADER_BYTES as usize;
    while pos < bytes.len() {
        if pos + hdr > bytes.len() {
            stopped = Some(format!("incomplete record header at file position {pos}"));
            break;
        }
        let h = &bytes[pos..pos + hdr];
        if crc32c(&h[..28]) != le_u32(&h[28..32]) {
            stopped = Some(format!(
                "record header checksum mismatch at file position {pos}"
            ));
            break;
        }
        let payload_len = le_u32(&h[0..4]);
        let end = pos + hdr + payload_len as usize;
        if end > bytes.len() {
            stopped = Some(format!("incomplete payload at file position {pos}"));
            break;
        }
        let payload = &bytes[pos + hdr..end];
        if crc32c(payload) != le_u32(&h[24..28]) {
            stopped = Some(format!("payload checksum mismatch at file position {pos}"));
            break;
        }
        records.push(RecordLoc {
            file_pos: pos as u64,
            offset: le_u64(&h[4..12]),
            payload_len,
            timestamp_ms: le_u64(&h[12..20]),
            db: h[20],
            kind: h[21],
            payload: payload.to_vec(),
        });
        pos = end;
    }
    SegmentScan {
        path: path.to_path_buf(),
        file_len,
        records,
        valid_end_pos: pos as u64,
        stopped,
    }
}

/// XORs the byte at `pos` of `path` with `mask` (use the same call again to undo).
pub fn flip_byte(path: &Path, pos: u64, mask: u8) {
    assert_ne!(mask, 0, "a zero mask flips nothing");
    let mut bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let i = pos as usize;
    assert!(
        i < bytes.len(),
        "flip at {pos} past the end of {} ({} bytes)",
        path.display(),
        bytes.len()
    );
    bytes[i] ^= mask;
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    f.seek(SeekFrom::Start(pos)).expect("seek");
    f.write_all(&bytes[i..i + 1]).expect("write flipped byte");
    f.sync_all().expect("fsync after flip");
}

/// Cuts `path` to `len` bytes.
pub fn truncate_file(path: &Path, len: u64) {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    f.set_len(len)
        .unwrap_or_else(|e| panic!("truncating {} to {len}: {e}", path.display()));
    f.sync_all().expect("fsync after truncate");
}

/// Appends `bytes` to `path`.
pub fn append_to_file(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {} for append: {e}", path.display()));
    f.write_all(bytes)
        .unwrap_or_else(|e| panic!("appending to {}: {e}", path.display()));
    f.sync_all().expect("fsync after append");
}

/// Whether `haystack` contains `needle`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------------------------
// collection helpers (hashes, sets, transactions tests)
// ---------------------------------------------------------------------------------------------

/// The text of a bulk or simple string reply; panics on anything else.
#[track_caller]
pub fn value_text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Okay => "OK".to_string(),
        other => panic!("expected a string reply, got {other:?}"),
    }
}

/// The items of an array (or RESP3 set) reply as strings, sorted.
#[track_caller]
pub fn sorted_texts(v: &Value) -> Vec<String> {
    let items = match v {
        Value::Array(items) | Value::Set(items) => items,
        other => panic!("expected an array reply, got {other:?}"),
    };
    let mut out: Vec<String> = items.iter().map(value_text).collect();
    out.sort();
    out
}

/// Runs a command whose reply is an array of strings and returns it sorted.
#[track_caller]
pub fn run_sorted(con: &mut Connection, args: &[&str]) -> Vec<String> {
    sorted_texts(&run(con, args))
}

/// Runs a command whose reply is a flat field/value array (HGETALL in RESP2) or a map, and
/// returns it as an ordered map; panics on a repeated field.
#[track_caller]
pub fn run_pairs(
    con: &mut Connection,
    args: &[&str],
) -> std::collections::BTreeMap<String, String> {
    let v = run(con, args);
    let pairs: Vec<(String, String)> = match &v {
        Value::Array(items) => {
            assert!(
                items.len() % 2 == 0,
                "{args:?}: odd-length pair array {v:?}"
            );
            items
                .chunks(2)
                .map(|c| (value_text(&c[0]), value_text(&c[1])))
                .collect()
        }
        Value::Map(p) => p
            .iter()
            .map(|(a, b)| (value_text(a), value_text(b)))
            .collect(),
        other => panic!("{args:?}: expected pairs, got {other:?}"),
    };
    let mut out = std::collections::BTreeMap::new();
    for (k, val) in pairs {
        assert!(
            out.insert(k.clone(), val).is_none(),
            "{args:?}: field {k:?} twice"
        );
    }
    out
}

/// Iterates HSCAN/SSCAN/ZSCAN `key` (or SCAN when `key` is None) from cursor 0 until the server
/// answers cursor 0, with `opts` appended to every call; returns every item returned, in order
/// (duplicates kept so the caller can check them). Panics after `max_calls` calls.
#[track_caller]
pub fn scan_all(
    con: &mut Connection,
    command: &str,
    key: Option<&str>,
    opts: &[&str],
    max_calls: usize,
) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut items = Vec::new();
    for _ in 0..max_calls {
        let mut args: Vec<&str> = vec![command];
        if let Some(k) = key {
            args.push(k);
        }
        args.push(&cursor);
        args.extend_from_slice(opts);
        let v = run(con, &args);
        let Value::Array(parts) = v else {
            panic!("{args:?}: expected [cursor, items], got {v:?}");
        };
        assert_eq!(parts.len(), 2, "{args:?}: reply {parts:?}");
        let next = value_text(&parts[0]);
        match &parts[1] {
            Value::Array(xs) => items.extend(xs.iter().map(value_text)),
            other => panic!("{args:?}: items are not an array: {other:?}"),
        }
        if next == "0" {
            return items;
        }
        cursor = next;
    }
    panic!("{command} did not return cursor 0 within {max_calls} calls");
}

// ---------------------------------------------------------------------------------------------
// TCP proxy (replication tests)
// ---------------------------------------------------------------------------------------------

/// A loopback TCP forwarder on a port of its own, for replication tests: a replica follows
/// the proxy, so the master can restart on another port (`set_target`), and the link can be
/// reset (`cut`) or stalled (`stall`) while records are streaming.
pub struct Proxy {
    port: u16,
    target: std::sync::Arc<std::sync::atomic::AtomicU16>,
    links: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
    stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards every connection to `target`.
    pub fn start(target: u16) -> Proxy {
        use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let p = Proxy {
            port,
            target: Arc::new(AtomicU16::new(target)),
            links: Arc::new(Mutex::new(Vec::new())),
            stalled: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(AtomicBool::new(false)),
            cuts: Arc::new(AtomicU64::new(0)),
        };
        let (target, links, stalled, stop, cuts) = (
            p.target.clone(),
            p.links.clone(),
            p.stalled.clone(),
            p.stop.clone(),
            p.cuts.clone(),
        );
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let to = target.load(Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue; // the client sees the connection close, as with a dead master
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let generation = cuts.load(Ordering::SeqCst);
                if let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) {
                    if let Ok(mut l) = links.lock() {
                        l.push(c2);
                        l.push(s2);
                    }
                }
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    let (stalled, cuts) = (stalled.clone(), cuts.clone());
                    thread::spawn(move || {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            hold_while_stalled(&stalled, &cuts, generation);
                            if cuts.load(Ordering::SeqCst) != generation
                                || to.write_all(&buf[..n]).is_err()
                            {
                                break;
                            }
                        }
                        // A hung link passes no close either: the far side must find out
                        // by its own timeout, not from a FIN this proxy forwards.
                        hold_while_stalled(&stalled, &cuts, generation);
                        let _ = from.shutdown(Shutdown::Both);
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        p
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where new connections go from now on (existing links are left alone).
    pub fn set_target(&self, port: u16) {
        self.target.store(port, std::sync::atomic::Ordering::SeqCst);
    }

    /// Resets every open link in both directions; new connections are still accepted.
    pub fn cut(&self) {
        self.cuts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut l) = self.links.lock() {
            for s in l.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// While stalled, bytes are read but not passed on, and neither is a close (a link that
    /// hangs).
    pub fn stall(&self, on: bool) {
        self.stalled.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Returns once the proxy is no longer stalled or its links were cut since `generation`.
fn hold_while_stalled(
    stalled: &std::sync::atomic::AtomicBool,
    cuts: &std::sync::atomic::AtomicU64,
    generation: u64,
) {
    use std::sync::atomic::Ordering;
    while stalled.load(Ordering::SeqCst) && cuts.load(Ordering::SeqCst) == generation {
        thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut();
        // Wake the accept loop so its thread ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harness_crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn harness_resp_parser_handles_partial_and_nested_frames() {
        let whole = b"*2\r\n$3\r\nfoo\r\n%1\r\n+a\r\n:5\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse_resp(&whole[..cut], 0).unwrap(), None, "cut at {cut}");
        }
        let (v, used) = parse_resp(whole, 0).unwrap().unwrap();
        assert_eq!(used, whole.len());
        assert_eq!(
            v,
            Resp::Array(vec![
                Resp::Bulk(b"foo".to_vec()),
                Resp::Map(vec![(Resp::Simple("a".into()), Resp::Int(5))]),
            ])
        );
        assert_eq!(parse_resp(b"_\r\n", 0).unwrap(), Some((Resp::Null, 3)));
        assert_eq!(
            parse_resp(b"$-1\r\n", 0).unwrap(),
            Some((Resp::NullBulk, 5))
        );
    }

    #[test]
    fn harness_mentions_offset_matches_whole_numbers_only() {
        assert!(mentions_offset("log corrupt at offset 1234 in x", 1234));
        assert!(mentions_offset("corrupt offset=77", 77));
        assert!(!mentions_offset("corrupt at offset 12345", 1234));
        assert!(!mentions_offset("offset is 5", 5));
    }

    #[test]
    fn harness_strip_ansi() {
        assert_eq!(strip_ansi("\u{1b}[2moffset\u{1b}[0m=5"), "offset=5");
    }
}
