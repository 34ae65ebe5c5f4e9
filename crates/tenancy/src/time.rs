//! Timestamps as the API shows them: RFC 3339, UTC, always with milliseconds
//! (`2026-12-01T22:55:22.123Z`), so they sort as strings and parse everywhere.

use mongodb::bson::DateTime;

pub fn rfc3339(at: DateTime) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(at.timestamp_millis())
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_are_always_shown() {
        assert_eq!(
            rfc3339(DateTime::from_millis(1_700_000_000_000)),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            rfc3339(DateTime::from_millis(1_700_000_000_450)),
            "2023-11-14T22:13:20.450Z"
        );
    }
}
