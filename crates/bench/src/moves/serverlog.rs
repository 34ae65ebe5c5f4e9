//! What the server's JSON log (`TENANTRY_LOG_FORMAT=json`, `tenancy::moves` at `info`) says
//! about a move: when it started, finished the first copy, caught up (round by round), held the
//! source's writes and switched. With the load's own clock on the same machine this places the
//! hold among the requests (`timeline::writes_across`), and it shows where a move's time goes.

use serde::Serialize;
use serde_json::Value;

/// Distinct warnings and errors kept from the log.
const MAX_PROBLEMS: usize = 10;

/// A warning or error of the server, and how often it was logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// `level message`.
    pub text: String,
    pub count: usize,
}

/// One catch-up round: keys copied again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    pub at_ms: i64,
    pub round: u64,
    pub keys: u64,
}

/// Where the hold's time went ("move: switched"), in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HoldSteps {
    /// The source's fence flip (its transaction waits for the commands past a fence).
    pub fence_ms: i64,
    /// Reading the change stream up to the cut-over's marker.
    pub stream_ms: i64,
    /// Keys of the last round, and copying them.
    pub last_round_keys: i64,
    pub copy_ms: i64,
    /// Comparing the keys not known equal (how many) and every collection's count.
    pub compared_keys: i64,
    pub verify_ms: i64,
    /// Cut-overs tried (more than one: a late round released the writes).
    pub cut_overs: i64,
}

impl HoldSteps {
    /// From the fields of a "move: switched" line (`None` from a server that logs none).
    fn of(event: &Value) -> Option<HoldSteps> {
        let number = |field: &str| event[field].as_i64();
        Some(HoldSteps {
            fence_ms: number("fence_ms")?,
            stream_ms: number("stream_ms")?,
            last_round_keys: number("last_round_keys")?,
            copy_ms: number("copy_ms")?,
            compared_keys: number("compared_keys")?,
            verify_ms: number("verify_ms")?,
            cut_overs: number("cut_overs")?,
        })
    }
}

/// The steps of the (one) move in a server log; times are milliseconds since 1970.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MoveLog {
    /// "move started" (the move was recorded; the copy begins).
    pub started_ms: Option<i64>,
    /// "move: copied": the first pass is over.
    pub copied_ms: Option<i64>,
    pub copied_documents: Option<i64>,
    /// The server's own rate of the first pass (documents/s, from its copy loop alone).
    pub copy_per_second: Option<f64>,
    pub rounds: Vec<Round>,
    /// "move: the source's writes are held": the cut-over's fence flip committed.
    pub held_ms: Option<i64>,
    /// "move: switched": the placement changed; held commands run again on the target.
    pub switched_ms: Option<i64>,
    pub hold_steps: Option<HoldSteps>,
    /// The server's warnings and errors up to the time `parse` was given (the first few
    /// distinct ones).
    pub problems: Vec<Problem>,
    /// Warnings and errors logged later (a server shutting down may warn about its clusters).
    pub later_problems: usize,
}

impl MoveLog {
    /// Reads the lines of a JSON log; lines that are not JSON are skipped. Warnings and errors
    /// logged after `problems_until` (ms since 1970) are only counted.
    pub fn parse(text: &str, problems_until: Option<i64>) -> MoveLog {
        let mut log = MoveLog::default();
        for line in text.lines() {
            let Ok(event) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            log.add(&event, problems_until);
        }
        log
    }

    fn add(&mut self, event: &Value, problems_until: Option<i64>) {
        let message = event["message"].as_str().unwrap_or_default();
        let level = event["level"].as_str().unwrap_or_default();
        let at = event["timestamp"].as_str().and_then(unix_ms);
        if matches!(level, "WARN" | "ERROR") {
            if at.zip(problems_until).is_some_and(|(at, until)| at > until) {
                self.later_problems += 1;
            } else {
                self.problem(format!("{level} {message}"));
            }
        }
        let Some(at) = at else {
            return;
        };
        let number = |field: &str| event[field].as_i64();
        match message {
            "move started" => self.started_ms = Some(at),
            "move: copied" => {
                self.copied_ms = Some(at);
                self.copied_documents = number("documents");
                self.copy_per_second = event["per_second"].as_f64();
            }
            "move: catching up" => self.rounds.push(Round {
                at_ms: at,
                round: event["round"].as_u64().unwrap_or(0),
                keys: event["keys"].as_u64().unwrap_or(0),
            }),
            "move: the source's writes are held" => self.held_ms = Some(at),
            "move: switched" => {
                self.switched_ms = Some(at);
                self.hold_steps = HoldSteps::of(event);
            }
            _ => {}
        }
    }

    /// Seconds of the first pass (start to "copied").
    pub fn copy_seconds(&self) -> Option<f64> {
        seconds(self.started_ms, self.copied_ms)
    }

    /// Seconds from "copied" to the hold: the catch-up rounds and the verification between.
    pub fn catch_up_seconds(&self) -> Option<f64> {
        seconds(self.copied_ms, self.held_ms)
    }

    fn problem(&mut self, text: String) {
        if let Some(known) = self.problems.iter_mut().find(|p| p.text == text) {
            known.count += 1;
        } else if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem { text, count: 1 });
        }
    }

    /// Milliseconds from the hold to the switch (the server's `write_pause_ms` less the
    /// catalog switch itself).
    pub fn hold_ms(&self) -> Option<i64> {
        Some(self.switched_ms? - self.held_ms?)
    }
}

fn seconds(from_ms: Option<i64>, to_ms: Option<i64>) -> Option<f64> {
    Some((to_ms? - from_ms?) as f64 / 1000.0)
}

/// Milliseconds since 1970 of an RFC 3339 time (`2026-12-07T10:00:00.123456Z`, any number of
/// fraction digits, `Z` or `±HH:MM`); `None` when it is not one.
pub fn unix_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |from, to| num_in(text, from, to);
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let first3: String = fraction[..digits]
            .chars()
            .chain("00".chars())
            .take(3)
            .collect();
        millis = first3.parse().ok()?;
        rest = &fraction[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (num_in(rest, 1, 3)? * 60 + num_in(rest, 4, 6)?)
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Some(seconds * 1000 + millis)
}

/// The decimal number at `text[from..to]` (digits only).
fn num_in(text: &str, from: usize, to: usize) -> Option<i64> {
    let digits = text.get(from..to)?;
    digits
        .bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| digits.parse().ok())?
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of `report::utc`'s).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse_to_unix_milliseconds() {
        assert_eq!(unix_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_ms("2023-11-14T22:13:20.450Z"), Some(1_700_000_000_450));
        assert_eq!(
            unix_ms("2023-11-14T22:13:20.4509Z"),
            Some(1_700_000_000_450)
        );
        assert_eq!(unix_ms("2023-11-14T22:13:20.4Z"), Some(1_700_000_000_400));
        assert_eq!(
            unix_ms("2023-11-14T23:13:20.000+01:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(unix_ms("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        for bad in [
            "",
            "2023-11-14",
            "2023-11-14T22:13:20",
            "2023-13-14T22:13:20Z",
            "2023-11-14T22:13:20.Z",
            "x023-11-14T22:13:20Z",
        ] {
            assert_eq!(unix_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn parsing_inverts_the_reports_utc() {
        for unix in [0u64, 951_782_400, 1_764_115_200 + 3_661, 4_102_444_800] {
            let text = crate::report::utc(unix);
            assert_eq!(unix_ms(&text), Some(unix as i64 * 1000), "{text}");
        }
    }

    #[test]
    fn a_log_gives_the_moves_steps() {
        let log = [
            r#"{"timestamp":"2026-12-07T10:00:00.000000Z","level":"INFO","message":"move started","target":"tenancy::moves"}"#,
            r#"{"timestamp":"2026-12-07T10:00:01.000000Z","level":"INFO","message":"move: copying","documents":1000}"#,
            "not json",
            r#"{"timestamp":"2026-12-07T10:00:04.500000Z","level":"INFO","message":"move: copied","documents":9000,"per_second":2000.0}"#,
            r#"{"timestamp":"2026-12-07T10:00:05.000000Z","level":"INFO","message":"move: catching up","round":1,"keys":850}"#,
            r#"{"timestamp":"2026-12-07T10:00:05.250000Z","level":"INFO","message":"move: catching up","round":2,"keys":40}"#,
            r#"{"timestamp":"2026-12-07T10:00:05.300000Z","level":"INFO","message":"move: the source's writes are held","fences":6}"#,
            r#"{"timestamp":"2026-12-07T10:00:05.420000Z","level":"WARN","message":"something slow"}"#,
            r#"{"timestamp":"2026-12-07T10:00:05.430000Z","level":"WARN","message":"something slow"}"#,
            r#"{"timestamp":"2026-12-07T10:00:05.700000Z","level":"INFO","message":"move: switched","write_pause_ms":410,"fence_ms":12,"stream_ms":300,"last_round_keys":35,"copy_ms":40,"compared_keys":60,"verify_ms":50,"cut_overs":1}"#,
        ]
        .join("\n");
        let parsed = MoveLog::parse(&log, None);
        let start = unix_ms("2026-12-07T10:00:00Z").expect("a time");
        assert_eq!(parsed.started_ms, Some(start));
        assert_eq!(parsed.copied_documents, Some(9000));
        assert_eq!(parsed.copy_per_second, Some(2000.0));
        assert_eq!(parsed.copy_seconds(), Some(4.5));
        assert_eq!(parsed.rounds.len(), 2);
        assert_eq!((parsed.rounds[1].round, parsed.rounds[1].keys), (2, 40));
        assert_eq!(parsed.catch_up_seconds(), Some(0.8));
        assert_eq!(parsed.hold_ms(), Some(400));
        let steps = parsed.hold_steps.as_ref().expect("the hold's steps");
        assert_eq!((steps.fence_ms, steps.stream_ms), (12, 300));
        assert_eq!((steps.last_round_keys, steps.copy_ms), (35, 40));
        assert_eq!((steps.compared_keys, steps.verify_ms), (60, 50));
        assert_eq!(steps.cut_overs, 1);
        assert_eq!(
            parsed.problems,
            [Problem {
                text: "WARN something slow".into(),
                count: 2
            }]
        );
        assert_eq!(parsed.later_problems, 0);
        let early = MoveLog::parse(&log, Some(start + 5_420));
        assert_eq!((early.problems[0].count, early.later_problems), (1, 1));
        assert_eq!(early.switched_ms, parsed.switched_ms);
    }

    #[test]
    fn a_log_without_a_move_has_no_steps() {
        let parsed = MoveLog::parse("{\"level\":\"INFO\",\"message\":\"listening\"}\n", None);
        assert_eq!(parsed, MoveLog::default());
        assert_eq!(parsed.copy_seconds(), None);
    }
}
