//! Failure points for crash tests: `TENANTRY_FAILPOINTS=deletion.after_drop,...` makes the
//! process abort (like `kill -9`: no destructors, no clean-up) the first time it reaches a named
//! point; `name=panic` makes that point panic instead (every time), as a bug would;
//! `name=stop` makes the process stop itself (SIGSTOP) the first time, as a long pause would (a
//! test resumes it with SIGCONT).
//! Unset, a failpoint costs one load of a once-initialised map. Never set it in production.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// The environment variable naming the points to fail at.
pub const FAILPOINTS_ENV: &str = "TENANTRY_FAILPOINTS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Abort,
    Panic,
    Stop,
}

/// `a,b=panic` → {a: Abort, b: Panic}; unknown actions abort (a typo must not pass silently).
fn parse(spec: &str) -> HashMap<String, Action> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|point| match point.split_once('=') {
            Some((name, "panic")) => (name.to_string(), Action::Panic),
            Some((name, "stop")) => (name.to_string(), Action::Stop),
            Some((name, _)) => (name.to_string(), Action::Abort),
            None => (point.to_string(), Action::Abort),
        })
        .collect()
}

fn armed() -> &'static HashMap<String, Action> {
    static ARMED: OnceLock<HashMap<String, Action>> = OnceLock::new();
    ARMED.get_or_init(|| parse(&std::env::var(FAILPOINTS_ENV).unwrap_or_default()))
}

/// Aborts (or panics) here if the point `name` is armed.
pub fn hit(name: &str) {
    let armed = armed();
    if armed.is_empty() {
        return;
    }
    match armed.get(name) {
        Some(Action::Abort) => {
            eprintln!("tenantry: failpoint {name} reached: aborting");
            std::process::abort();
        }
        Some(Action::Panic) => panic!("failpoint {name} reached"),
        Some(Action::Stop) => stop_once(name),
        None => {}
    }
}

fn stop_once(name: &str) {
    static STOPPED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut stopped = STOPPED.lock().unwrap_or_else(PoisonError::into_inner);
    if stopped.iter().any(|s| s == name) {
        return;
    }
    stopped.push(name.to_string());
    eprintln!("tenantry: failpoint {name} reached: stopping");
    let pid = std::process::id().to_string();
    // Returns once the process is continued.
    let _ = std::process::Command::new("kill")
        .args(["-STOP", &pid])
        .status();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_abort_unless_they_say_panic() {
        let armed = parse(" a , b=panic,c=explode,,d=stop");
        assert_eq!(armed.len(), 4);
        assert_eq!(armed["d"], Action::Stop);
        assert_eq!(armed["a"], Action::Abort);
        assert_eq!(armed["b"], Action::Panic);
        assert_eq!(armed["c"], Action::Abort);
        assert!(parse("").is_empty());
    }
}
