//! Test support shared by every crate's integration tests and the benchmark.
//!
//! `mongodb_uri()` is the database the tests use: `MONGODB_URI` when set (a real MongoDB replica
//! set, or the server `scripts/test.sh` started), otherwise a `tenantry-devdb` (embedded
//! SecantusDB) started once for this test process, on 127.0.0.1, stopped when the process exits.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The connection string of the test database (starts the embedded one on first use).
pub fn mongodb_uri() -> String {
    if let Ok(uri) = std::env::var("MONGODB_URI")
        && !uri.trim().is_empty()
    {
        return uri;
    }
    static DEVDB: OnceLock<(Child, String)> = OnceLock::new();
    DEVDB.get_or_init(start_devdb).1.clone()
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

fn start_devdb() -> (Child, String) {
    spawn_devdb(&[])
}

/// Starts an embedded database of its own (a process the caller may pause or kill), with extra
/// `tenantry-devdb` flags; `None` when the binary is not built (e.g. tests run against a real
/// MongoDB given as `MONGODB_URI`). It stops when the returned child's stdin closes (drop it).
pub fn private_devdb(flags: &[&str]) -> Option<(Child, String)> {
    devdb_binary().exists().then(|| spawn_devdb(flags))
}

fn spawn_devdb(flags: &[&str]) -> (Child, String) {
    let binary = devdb_binary();
    assert!(
        binary.exists(),
        "no MONGODB_URI and no {} — run `bash scripts/test.sh` (it builds the embedded test database), \
         or set MONGODB_URI to a MongoDB replica set",
        binary.display()
    );
    let mut child = Command::new(&binary)
        .arg("--stop-on-stdin-eof")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    if let Some(stderr) = child.stderr.take() {
        // Forward the server's diagnostics without handing it our own stderr.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[devdb] {line}");
            }
        });
    }
    let stdout = child.stdout.take().expect("devdb stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("devdb prints its address");
    let uri = line
        .trim()
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("devdb said: {line}"))
        .to_string();
    // The child keeps running while its stdin (held in the static) is open: it stops when this
    // process exits, however it exits.
    (child, uri)
}
