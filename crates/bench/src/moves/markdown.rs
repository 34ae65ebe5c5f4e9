//! The move phase in the report: its tables, and its verdict on the target (writers' p99
//! during the move under 1 s).

use std::fmt::Write as _;

use crate::load::Stats;
use crate::report::Target;

use super::MoveRun;
use super::timeline::Window;

/// The target of the issue that asked for this phase.
const TARGET: &str = "Move under load: writers' p99 during the move < 1 s";
const MAX_WRITE_P99_MS: f64 = 1_000.0;

/// The verdict on the move's target (`None`: not measured in this run).
pub fn target(run: Option<&MoveRun>) -> Target {
    let Some(m) = run else {
        return Target {
            target: TARGET.into(),
            measured: "not measured in this run".into(),
            met: None,
        };
    };
    let w = &m.during.writes;
    Target {
        target: TARGET.into(),
        measured: format!(
            "p99 {:.0} ms, max {:.0} ms over {} writes; {} over 1 s; server-side pause {} ms; \
             {} failed requests; move {}",
            w.p99_ms,
            w.max_ms,
            w.requests,
            m.during.slow_writes,
            opt(m.write_pause_ms),
            m.errors,
            m.state
        ),
        met: Some(w.p99_ms < MAX_WRITE_P99_MS && m.failures() == 0),
    }
}

/// Appends the phase's section.
pub fn section(md: &mut String, m: &MoveRun) {
    let s = &m.seeding;
    let _ = writeln!(
        md,
        "### Moving a tenant under load (to cluster `{}`: {}; 90/10 point reads and orders on \
         the tenant at concurrency {})\n\n\
         Seeded through the API: {} products and {} orders ({} at a time) in {:.1} s \
         ({:.0} orders/s), {} documents.\n",
        m.to_cluster,
        m.target_database,
        m.concurrency,
        s.products,
        s.orders,
        s.concurrency,
        s.seconds,
        s.orders_per_second,
        s.documents
    );
    md.push_str(
        "| State | Documents copied | Move s | Documents/s (whole move) | First copy s | Copy documents/s \
         | Catch-up + verification s (rounds, keys) | Write pause ms (server) | Held → switched ms (log) |\n\
         |---|---:|---:|---:|---:|---:|---|---:|---:|\n",
    );
    let _ = writeln!(
        md,
        "| {}{} | {} | {:.2} | {:.0} | {} | {} | {} ({}, {}) | {} | {} |\n",
        m.state,
        m.error
            .as_deref()
            .map(|e| format!(": {}", e.replace('|', "/")))
            .unwrap_or_default(),
        m.documents_copied,
        m.move_seconds,
        m.documents_per_second,
        secs(m.copy_seconds),
        m.copy_documents_per_second
            .map_or("–".to_string(), |v| format!("{v:.0}")),
        secs(m.catch_up_seconds),
        m.catch_up_rounds,
        m.catch_up_keys,
        opt(m.write_pause_ms),
        opt(m.hold_logged_ms)
    );
    if let Some(h) = &m.log.hold_steps {
        let _ = writeln!(
            md,
            "The hold, step by step (server log): the source's fence flip {} ms, the change \
             stream up to the cut-over's marker {} ms, copying the last round's {} keys {} ms, \
             verification of {} keys and the counts {} ms; cut-overs tried: {}.\n",
            h.fence_ms,
            h.stream_ms,
            h.last_round_keys,
            h.copy_ms,
            h.compared_keys,
            h.verify_ms,
            h.cut_overs
        );
    }
    md.push_str(
        "| Window (by request start) | Seconds | req/s | reads p50 / p99 / max ms \
         | writes | writes p50 / p99 / max ms | writes > 1 s | errors |\n\
         |---|---:|---:|---|---:|---|---:|---:|\n",
    );
    for (name, w) in [
        ("before the move", &m.before),
        ("during the move", &m.during),
        ("after the move", &m.after),
    ] {
        window_row(md, name, w);
    }
    if let Some(h) = &m.held_writes {
        let _ = writeln!(
            md,
            "| writes in flight during the hold | – | – | – | {} | {} | {} | {} |",
            h.writes.requests,
            latencies(&h.writes),
            h.slow_writes,
            h.writes.errors
        );
    }
    let _ = writeln!(
        md,
        "\nThroughput during the move: {:.0} req/s against {:.0} before ({}); the lowest whole \
         second of the move: {}. CPU during the load, % of a core: bench {:.0}, server {}, \
         source database {}, target database {}, other {:.0}. Failed requests in the whole \
         load: **{}**.\n",
        m.during.rps,
        m.before.rps,
        if m.dip_pct >= 0.0 {
            format!("{:.1} % lower", m.dip_pct)
        } else {
            format!("{:.1} % higher", -m.dip_pct)
        },
        m.lowest_rps_during
            .map_or("– (shorter than a second)".to_string(), |v| format!(
                "{v:.0} req/s"
            )),
        m.cpu.bench_pct,
        pct(m.cpu.server_pct),
        pct(m.cpu.database_pct),
        pct(m.target_database_pct),
        m.cpu.other_pct,
        m.errors
    );
    if !m.error_samples.is_empty() {
        md.push_str("First failures:\n\n");
        for e in &m.error_samples {
            let _ = writeln!(md, "- `{}`", e.replace('`', "'"));
        }
        md.push('\n');
    }
    if !m.log.problems.is_empty() {
        md.push_str("Server warnings and errors while the load ran:\n\n");
        for p in &m.log.problems {
            let _ = writeln!(md, "- `{}` × {}", p.text.replace('`', "'"), p.count);
        }
        md.push('\n');
    }
    if m.log.later_problems > 0 {
        let _ = writeln!(
            md,
            "{} server warning(s) after the load, while the server shut down (in its log).\n",
            m.log.later_problems
        );
    }
}

fn window_row(md: &mut String, name: &str, w: &Window) {
    let r = &w.reads;
    let _ = writeln!(
        md,
        "| {name} ({:.1}–{:.1} s) | {:.1} | {:.0} | {:.2} / {:.2} / {:.1} | {} | {} | {} | {} |",
        w.from_s,
        w.to_s,
        w.to_s - w.from_s,
        w.rps,
        r.p50_ms,
        r.p99_ms,
        r.max_ms,
        w.writes.requests,
        latencies(&w.writes),
        w.slow_writes,
        w.errors
    );
}

fn latencies(s: &Stats) -> String {
    format!("{:.1} / {:.1} / {:.1}", s.p50_ms, s.p99_ms, s.max_ms)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.0}"))
}

fn secs(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.2}"))
}

fn opt(v: Option<i64>) -> String {
    v.map_or("–".to_string(), |v| v.to_string())
}
