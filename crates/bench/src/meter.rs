//! Measurements around one run: the CPU split (`procfs::CpuMeter`) and the database's counters
//! (`dbstat`), turned into a `Side` of a result with the run's statistics.

use std::time::Duration;

use anyhow::Result;
use mongodb::Client;

use crate::dbstat;
use crate::load::Stats;
use crate::procfs::{self, CpuMeter};
use crate::report::Side;
use crate::server::Server;

/// How long the server must have been idle before a run starts.
const SERVER_QUIET: Duration = Duration::from_millis(500);
/// Longest wait for the server to go idle.
const SERVER_WAIT: Duration = Duration::from_secs(60);

/// Waits for the server to finish background work (e.g. the projector after a priming pass).
pub async fn server_quiet(server: &Server) -> Result<()> {
    server.wait_quiescent(SERVER_QUIET, SERVER_WAIT).await?;
    Ok(())
}

/// Before a run: waits for the server to finish background work (the projector after writes),
/// then, at most `machine_wait`, for other processes on the machine to go quiet.
pub async fn settle(
    server: &Server,
    db_pid: Option<u32>,
    ticks: u64,
    machine_wait: Duration,
) -> Result<()> {
    server_quiet(server).await?;
    let known: Vec<u32> = std::iter::once(server.pid).chain(db_pid).collect();
    procfs::wait_machine_quiet(&known, ticks, machine_wait).await;
    Ok(())
}

/// CPU and database counters, started before a run.
pub struct Meters {
    cpu: CpuMeter,
    db: Option<dbstat::Snapshot>,
}

impl Meters {
    pub async fn start(status_db: &Client, server: u32, db_pid: Option<u32>, ticks: u64) -> Meters {
        let db = dbstat::snapshot(status_db).await;
        Meters {
            cpu: CpuMeter::start(Some(server), db_pid, ticks),
            db,
        }
    }

    /// Stops the meters and combines them with the run's statistics.
    pub async fn finish(self, status_db: &Client, stats: Stats) -> Side {
        let cpu = self.cpu.finish();
        let after = dbstat::snapshot(status_db).await;
        let db = match (self.db, after) {
            (Some(before), Some(after)) => before.per_request(&after, stats.completed_total),
            _ => None,
        };
        Side { stats, cpu, db }
    }
}
