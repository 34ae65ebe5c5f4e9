//! Rendering command results on stdout: aligned tables and `key: value` lines for people, JSON
//! with `--json` (tenants in the admin API's `TenantView` shape). Notes meant for the operator
//! go to stdout in human mode and to stderr in JSON mode, so that stdout stays one JSON document.

use super::error::CliCode;
use std::io::Write;
use tenantry_api::http::ProblemCode;

use serde::Serialize;
use tenancy::{Isolation, Tenant};
pub use tenantry_api::views::TenantView;

use super::CliError;

/// RFC 3339 (UTC, `Z`), as the admin API writes timestamps.
pub fn rfc3339(at: mongodb::bson::DateTime) -> String {
    tenancy::time::rfc3339(at)
}

/// How results are written: for people, or as JSON (`--json`).
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// One tenant: `key: value` lines, or its `TenantView`.
    pub fn tenant(&self, tenant: &Tenant) -> Result<(), CliError> {
        if self.json {
            self.json(&TenantView::from(tenant))
        } else {
            stdout(&tenant_details(tenant))
        }
    }

    /// Tenants: a table, or a JSON array of `TenantView`s.
    pub fn tenants(&self, tenants: &[Tenant]) -> Result<(), CliError> {
        if self.json {
            let views: Vec<TenantView> = tenants.iter().map(TenantView::from).collect();
            self.json(&views)
        } else if tenants.is_empty() {
            stdout("no tenants\n")
        } else {
            stdout(&tenant_table(tenants))
        }
    }

    /// A JSON document on stdout.
    pub fn json(&self, value: &impl Serialize) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(value).map_err(|e| {
            CliError::failed(ProblemCode::Internal, e).context("cannot encode the output")
        })?;
        stdout(&format!("{text}\n"))
    }

    /// A line of human-mode output on stdout.
    pub fn line(&self, text: &str) -> Result<(), CliError> {
        stdout(&format!("{text}\n"))
    }

    /// A note for the operator: stdout in human mode, stderr in JSON mode.
    pub fn note(&self, text: &str) -> Result<(), CliError> {
        if self.json {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
            Ok(())
        } else {
            self.line(text)
        }
    }
}

/// Writes to stdout; a closed pipe (`tenantry tenants list | head`) is not an error.
fn stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::failed(CliCode::Io, e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// The `tenants list` table: ID, NAME, STATUS, PLAN, CLUSTER, DATABASE, SCHEMA.
pub fn tenant_table(tenants: &[Tenant]) -> String {
    let rows: Vec<Vec<String>> = tenants
        .iter()
        .map(|t| {
            vec![
                t.id.to_string(),
                t.name.clone(),
                t.status.as_str().to_string(),
                t.plan.clone(),
                t.cluster.clone(),
                t.database.clone(),
                t.schema_version.to_string(),
            ]
        })
        .collect();
    table(
        &[
            "ID", "NAME", "STATUS", "PLAN", "CLUSTER", "DATABASE", "SCHEMA",
        ],
        &rows,
    )
}

/// The `tenants show` lines: every field of the tenant, values aligned.
pub fn tenant_details(t: &Tenant) -> String {
    let domains = if t.domains.is_empty() {
        "-".to_string()
    } else {
        t.domains.join(", ")
    };
    let budget = t
        .limits
        .max_concurrent_requests
        .map_or_else(|| "default".to_string(), |n| n.to_string());
    let isolation = match t.isolation {
        Isolation::Shared => "shared",
        Isolation::Dedicated => "dedicated",
    };
    let fields = [
        ("id", t.id.to_string()),
        ("incarnation", t.incarnation.to_string()),
        ("name", t.name.clone()),
        ("status", t.status.as_str().to_string()),
        ("plan", t.plan.clone()),
        ("cluster", t.cluster.clone()),
        ("database", t.database.clone()),
        ("isolation", isolation.to_string()),
        ("domains", domains),
        ("max_concurrent_requests", budget),
        ("schema_version", t.schema_version.to_string()),
        ("created_at", rfc3339(t.created_at)),
        ("updated_at", rfc3339(t.updated_at)),
    ];
    aligned(&fields)
}

/// `key: value` lines with the values aligned.
pub fn aligned<K: AsRef<str>>(fields: &[(K, String)]) -> String {
    let width = fields
        .iter()
        .map(|(k, _)| k.as_ref().len())
        .max()
        .unwrap_or(0)
        + 1;
    fields
        .iter()
        .map(|(key, value)| format!("{:<width$} {value}\n", format!("{}:", key.as_ref())))
        .collect()
}

/// Left-aligned columns separated by two spaces; no trailing spaces.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let mut line = String::new();
            for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = width.saturating_sub(cell.chars().count());
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            line.push('\n');
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use mongodb::bson::DateTime;

    use super::*;

    fn tenant(id: &str, name: &str) -> Tenant {
        let at = DateTime::from_millis(1_700_000_000_000);
        Tenant {
            name: name.to_string(),
            database: format!("t_{id}"),
            schema_version: 1,
            created_at: at,
            updated_at: at,
            ..Tenant::sample(id)
        }
    }

    #[test]
    fn table_columns_are_aligned() {
        let text = tenant_table(&[tenant("acme", "Acme Inc."), tenant("globex-eu", "Globex")]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "ID         NAME       STATUS  PLAN  CLUSTER  DATABASE     SCHEMA",
                "acme       Acme Inc.  active  free  default  t_acme       1",
                "globex-eu  Globex     active  free  default  t_globex-eu  1",
            ]
        );
    }

    #[test]
    fn details_are_key_value_lines() {
        let text = tenant_details(&tenant("acme", "Acme"));
        assert!(
            text.starts_with("id:                      acme\n"),
            "{text}"
        );
        assert!(text.contains("\ndomains:                 -\n"), "{text}");
        assert!(
            text.contains("\ncreated_at:              2023-11-14T22:13:20.000Z\n"),
            "{text}"
        );
    }

    #[test]
    fn views_have_the_admin_api_shape() {
        let view = serde_json::to_value(TenantView::from(&tenant("acme", "Acme"))).unwrap();
        let mut keys: Vec<&str> = view
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort();
        let mut expected = [
            "id",
            "incarnation",
            "name",
            "status",
            "plan",
            "cluster",
            "database",
            "isolation",
            "domains",
            "limits",
            "schema_version",
            "created_at",
            "updated_at",
        ];
        expected.sort();
        assert_eq!(keys, expected);
        assert_eq!(view["status"], "active");
        assert_eq!(view["updated_at"], "2023-11-14T22:13:20.000Z");
    }
}
