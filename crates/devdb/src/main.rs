//! `tenantry-devdb`: an embedded MongoDB-compatible server (SecantusDB) for development and tests.
//!
//! It listens on 127.0.0.1 only, advertises a single-node replica set (so transactions and change
//! streams work) and prints one line, `ready <mongodb-uri>`, once it accepts connections.
//!
//! By default a commit is acknowledged before its journal record reaches the disk (fast, but a
//! `kill -9` of this process can lose the last milliseconds of acknowledged writes, whatever
//! `j: true` says). `--sync-commits` makes every commit wait for an fsync of the journal.
//! It stops on SIGINT/SIGTERM or when its standard input closes (`--stop-on-stdin-eof`), so a
//! test harness that dies never leaves a server behind.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: tenantry-devdb [--port N] [--data-dir PATH] [--sync-commits] [--stop-on-stdin-eof]
  --port N             port on 127.0.0.1 (default 0: any free port)
  --data-dir PATH      persistent store (default: a temporary store removed on exit)
  --sync-commits       fsync the journal before acknowledging a commit (durable across kill -9)
  --stop-on-stdin-eof  exit when standard input is closed (for test harnesses)";

struct Args {
    port: u16,
    data_dir: Option<PathBuf>,
    sync_commits: bool,
    stop_on_stdin_eof: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { port: 0, data_dir: None, sync_commits: false, stop_on_stdin_eof: false };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => {
                let value = it.next().ok_or("--port needs a value")?;
                args.port = value.parse().map_err(|_| format!("--port: not a port: {value}"))?;
            }
            "--data-dir" => {
                args.data_dir = Some(it.next().ok_or("--data-dir needs a value")?.into());
            }
            "--sync-commits" => args.sync_commits = true,
            "--stop-on-stdin-eof" => args.stop_on_stdin_eof = true,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    if args.sync_commits {
        // WiredTiger's own setting, appended to the store's configuration (the last key wins).
        // SAFETY: no other thread exists yet, so nothing reads the environment concurrently.
        unsafe {
            std::env::set_var(
                "SECANTUS_WT_CONFIG_EXTRA",
                "transaction_sync=(enabled=true,method=fsync)",
            );
        }
    }
    let mut builder = secantus_mdb::Server::builder()
        .host("127.0.0.1")
        .port(args.port)
        .replica_set(Some(secantus_mdb::DEFAULT_REPLICA_SET))
        .ttl_sweep(Some(Duration::from_secs(60)));
    if let Some(dir) = &args.data_dir {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("tenantry-devdb: cannot create {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        builder = builder.storage_path(dir);
    }
    let server = match builder.start() {
        Ok(server) => server,
        Err(e) => {
            eprintln!("tenantry-devdb: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready {}", server.uri());

    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let on_signal = stop_tx.clone();
    if let Err(e) = ctrlc_free::install(move || {
        let _ = on_signal.send(());
    }) {
        eprintln!("tenantry-devdb: cannot install signal handler: {e}");
    }
    if args.stop_on_stdin_eof {
        std::thread::spawn(move || {
            let mut sink = [0u8; 256];
            let mut stdin = std::io::stdin();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            let _ = stop_tx.send(());
        });
    }
    let _ = stop_rx.recv();
    drop(server);
    ExitCode::SUCCESS
}

/// SIGINT/SIGTERM without another dependency: a thread polls a flag set by a minimal handler.
mod ctrlc_free {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    static STOP: AtomicBool = AtomicBool::new(false);

    unsafe extern "C" {
        fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
    }

    extern "C" fn on_signal(_: i32) {
        STOP.store(true, Ordering::SeqCst);
    }

    pub fn install(f: impl FnOnce() + Send + 'static) -> Result<(), String> {
        const SIGINT: i32 = 2;
        const SIGTERM: i32 = 15;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            signal(SIGINT, on_signal);
            signal(SIGTERM, on_signal);
        }
        std::thread::Builder::new()
            .name("signal-watch".into())
            .spawn(move || {
                while !STOP.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                f();
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
