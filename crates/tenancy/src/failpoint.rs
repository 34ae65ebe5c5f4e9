//! Crash points for crash tests: `TENANTRY_FAILPOINTS=deletion.after_drop,...` makes the process
//! abort (like `kill -9`: no destructors, no clean-up) the first time it reaches a named point.
//! Unset, a failpoint costs one load of a once-initialised set. Never set it in production.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The environment variable naming the points to crash at.
pub const FAILPOINTS_ENV: &str = "TENANTRY_FAILPOINTS";

fn armed() -> &'static HashSet<String> {
    static ARMED: OnceLock<HashSet<String>> = OnceLock::new();
    ARMED.get_or_init(|| {
        std::env::var(FAILPOINTS_ENV)
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// Aborts the process here if the point `name` is armed.
pub fn hit(name: &str) {
    if armed().contains(name) {
        eprintln!("tenantry: failpoint {name} reached: aborting");
        std::process::abort();
    }
}
