//! Failure points for crash tests: `TENANTRY_FAILPOINTS=deletion.after_drop,...` makes the
//! process abort (like `kill -9`: no destructors, no clean-up) the first time it reaches a named
//! point; `name=panic` makes that point panic instead (every time), as a bug would.
//! Unset, a failpoint costs one load of a once-initialised map. Never set it in production.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The environment variable naming the points to fail at.
pub const FAILPOINTS_ENV: &str = "TENANTRY_FAILPOINTS";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Abort,
    Panic,
}

/// `a,b=panic` → {a: Abort, b: Panic}; unknown actions abort (a typo must not pass silently).
fn parse(spec: &str) -> HashMap<String, Action> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|point| match point.split_once('=') {
            Some((name, "panic")) => (name.to_string(), Action::Panic),
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
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_abort_unless_they_say_panic() {
        let armed = parse(" a , b=panic,c=explode,,");
        assert_eq!(armed.len(), 3);
        assert_eq!(armed["a"], Action::Abort);
        assert_eq!(armed["b"], Action::Panic);
        assert_eq!(armed["c"], Action::Abort);
        assert!(parse("").is_empty());
    }
}
