//! Test support shared by every crate's integration tests and the benchmark.
//!
//! `mongodb_uri()` is the database the tests use: `MONGODB_URI` when set (a real MongoDB replica
//! set, or the server `scripts/test.sh` started), otherwise a `tenantry-devdb` (embedded
//! SecantusDB) started once for this test process, on 127.0.0.1, stopped when the process exits.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The connection string of the test database (starts the embedded one on first use). A test
/// has no other way to fail than to panic: this panics with the reason when the database cannot
/// start (see `try_mongodb_uri`).
pub fn mongodb_uri() -> String {
    try_mongodb_uri().unwrap_or_else(|e| panic!("{e}"))
}

/// `mongodb_uri`, or why the embedded database could not start (for the benchmark).
pub fn try_mongodb_uri() -> Result<String, String> {
    if let Ok(uri) = std::env::var("MONGODB_URI")
        && !uri.trim().is_empty()
    {
        return Ok(uri);
    }
    static DEVDB: OnceLock<Result<(Child, String), String>> = OnceLock::new();
    DEVDB
        .get_or_init(|| spawn_devdb(&[]))
        .as_ref()
        .map(|(_, uri)| uri.clone())
        .map_err(Clone::clone)
}

/// A name no other test (or test run) uses: `<prefix>-<12 hex>`, a valid tenant id for short
/// prefixes.
pub fn unique_name(prefix: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &uuid[..12])
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the devdb binary is: `TENANTRY_DEVDB_BIN`, or the workspace's release build.
pub fn devdb_binary() -> PathBuf {
    std::env::var_os("TENANTRY_DEVDB_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/tenantry-devdb"))
}

/// Starts an embedded database of its own (a process the caller may pause or kill), with extra
/// `tenantry-devdb` flags; `None` when the binary is not built (e.g. tests run against a real
/// MongoDB given as `MONGODB_URI`). It stops when the returned child's stdin closes (drop it).
pub fn private_devdb(flags: &[&str]) -> Option<(Child, String)> {
    devdb_binary()
        .exists()
        .then(|| spawn_devdb(flags).unwrap_or_else(|e| panic!("{e}")))
}

fn spawn_devdb(flags: &[&str]) -> Result<(Child, String), String> {
    let binary = devdb_binary();
    if !binary.exists() {
        return Err(format!(
            "no MONGODB_URI and no {} — run `bash scripts/test.sh` (it builds the embedded test \
             database), or set MONGODB_URI to a MongoDB replica set",
            binary.display()
        ));
    }
    let mut child = Command::new(&binary)
        .arg("--stop-on-stdin-eof")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    if let Some(stderr) = child.stderr.take() {
        // Forward the server's diagnostics without handing it our own stderr.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[devdb] {line}");
            }
        });
    }
    // On any failure below the child is dropped with its stdin, which stops it.
    let stdout = child.stdout.take().ok_or("devdb has no stdout pipe")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("reading devdb's address: {e}"))?;
    let uri = line
        .trim()
        .strip_prefix("ready ")
        .ok_or_else(|| format!("devdb did not start; it said: {line}"))?
        .to_string();
    // The child keeps running while its stdin (held in the static) is open: it stops when this
    // process exits, however it exits.
    Ok((child, uri))
}
