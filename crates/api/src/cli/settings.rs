//! `tenantry config`: the effective configuration (every setting, its value and its source:
//! default, file or environment), secrets masked; exit 2 if a setting is invalid.

use super::error::CliCode;
use std::path::Path;

use tenantry_api::config;

use super::CliError;
use super::output::{Output, table};

pub fn run(file: Option<&Path>, out: Output) -> Result<(), CliError> {
    let settings = config::effective(file, |name| std::env::var(name).ok())
        .map_err(|e| CliError::invalid(CliCode::InvalidConfiguration, e))?;
    if out.json {
        return out.json(&settings);
    }
    let rows: Vec<Vec<String>> = settings
        .iter()
        .map(|s| {
            let source = serde_json::to_value(s.source).unwrap_or_default();
            vec![
                s.name.to_string(),
                s.value.clone(),
                source.as_str().unwrap_or_default().to_string(),
            ]
        })
        .collect();
    out.line(table(&["SETTING", "VALUE", "SOURCE"], &rows).trim_end())
}
