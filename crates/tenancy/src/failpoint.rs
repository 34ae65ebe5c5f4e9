//! Failure points for crash tests: `TENANTRY_FAILPOINTS=deletion.after_drop,...` makes the
//! process abort (like `kill -9`: no destructors, no clean-up) the first time it reaches a named
//! point; `name=panic` makes that point panic instead (every time), as a bug would;
//! `name=stop` makes the process stop itself (SIGSTOP) the first time, as a long pause would (a
//! test resumes it with SIGCONT); `name=fail` makes `fails(name)` true the first time, where the
//! code simulates a failure of its own (a late change stream, say); `name=delay` makes
//! `delay(name)` wait a second the first time, while the rest of the process runs on (a slow
//! step that others may write in the middle of).
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
    Fail,
    Delay,
}

/// `a,b=panic` → {a: Abort, b: Panic}; unknown actions abort (a typo must not pass silently).
fn parse(spec: &str) -> HashMap<String, Action> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|point| match point.split_once('=') {
            Some((name, "panic")) => (name.to_string(), Action::Panic),
            Some((name, "stop")) => (name.to_string(), Action::Stop),
            Some((name, "fail")) => (name.to_string(), Action::Fail),
            Some((name, "delay")) => (name.to_string(), Action::Delay),
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
        Some(Action::Fail | Action::Delay) | None => {}
    }
}

/// True the first time the point `name` is reached if it is armed with `fail`: the caller then
/// fails as it would on its own.
pub fn fails(name: &str) -> bool {
    let armed = armed();
    if armed.get(name) != Some(&Action::Fail) || !first_time(name) {
        return false;
    }
    eprintln!("tenantry: failpoint {name} reached: failing");
    true
}

/// Waits a second the first time the point `name` is reached if it is armed with `delay`.
pub async fn delay(name: &str) {
    if armed().get(name) != Some(&Action::Delay) || !first_time(name) {
        return;
    }
    eprintln!("tenantry: failpoint {name} reached: waiting a second");
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
}

/// Whether `name` comes here for the first time.
fn first_time(name: &str) -> bool {
    static REACHED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let mut reached = REACHED.lock().unwrap_or_else(PoisonError::into_inner);
    if reached.iter().any(|s| s == name) {
        return false;
    }
    reached.push(name.to_string());
    true
}

fn stop_once(name: &str) {
    if !first_time(name) {
        return;
    }
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
        let armed = parse(" a , b=panic,c=explode,,d=stop,e=fail,f=delay");
        assert_eq!(armed.len(), 6);
        assert_eq!(armed["f"], Action::Delay);
        assert_eq!(armed["e"], Action::Fail);
        assert_eq!(armed["d"], Action::Stop);
        assert_eq!(armed["a"], Action::Abort);
        assert_eq!(armed["b"], Action::Panic);
        assert_eq!(armed["c"], Action::Abort);
        assert!(parse("").is_empty());
    }
}
