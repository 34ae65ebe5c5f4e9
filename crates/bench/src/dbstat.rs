//! What the database server did during a run, from `serverStatus` before and after: requests
//! received (`network.numRequests`, every command and reply on the wire) and the `opcounters`,
//! divided by the requests the run completed. This shows what one API request costs in database
//! round trips, next to the driver baseline's one.

use mongodb::Client;
use mongodb::bson::{Bson, Document, doc};
use serde::Serialize;

/// Database work per completed request of a run.
#[derive(Debug, Clone, Serialize)]
pub struct DbWork {
    /// Wire requests (commands) the database received, per completed request.
    pub round_trips: f64,
    /// `opcounters` deltas per completed request (query, getmore, command, insert, update,
    /// delete), zero ones left out.
    pub ops: Vec<(String, f64)>,
}

/// A `serverStatus` snapshot: `network.numRequests` and `opcounters`.
pub struct Snapshot {
    requests: i64,
    counters: Vec<(String, i64)>,
}

fn int(b: Option<&Bson>) -> i64 {
    match b {
        Some(Bson::Int32(n)) => i64::from(*n),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(n)) => *n as i64,
        _ => 0,
    }
}

/// Reads the snapshot; `None` when the server does not report it.
pub async fn snapshot(db: &Client) -> Option<Snapshot> {
    let status: Document = db
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await
        .ok()?;
    let requests = int(status.get_document("network").ok()?.get("numRequests"));
    let counters = status
        .get_document("opcounters")
        .ok()?
        .iter()
        .map(|(k, v)| (k.clone(), int(Some(v))))
        .collect();
    Some(Snapshot { requests, counters })
}

impl Snapshot {
    /// Work between `self` and `after`, per request of `requests` completed. The two
    /// `serverStatus` calls themselves are subtracted.
    pub fn per_request(&self, after: &Snapshot, requests: u64) -> Option<DbWork> {
        if requests == 0 {
            return None;
        }
        let n = requests as f64;
        let own_calls = 1;
        let ops = after
            .counters
            .iter()
            .filter_map(|(k, v)| {
                let before = self
                    .counters
                    .iter()
                    .find(|(name, _)| name == k)
                    .map_or(0, |(_, b)| *b);
                let mut delta = v - before;
                if k == "command" {
                    delta -= own_calls;
                }
                (delta > 0).then(|| (k.clone(), delta as f64 / n))
            })
            .collect();
        Some(DbWork {
            round_trips: (after.requests - self.requests - own_calls).max(0) as f64 / n,
            ops,
        })
    }
}
