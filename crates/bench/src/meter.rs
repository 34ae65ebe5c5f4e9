//! Measurements around one run: the CPU split (`procfs::CpuMeter`) and the database's counters
//! (`dbstat`), turned into a `Side` of a result with the run's statistics.

use mongodb::Client;

use crate::dbstat;
use crate::load::Stats;
use crate::procfs::CpuMeter;
use crate::report::Side;

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
