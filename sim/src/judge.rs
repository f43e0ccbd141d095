//! `retry-sim judge`: a record taken from the wire (`retry-sim serve`),
//! judged by the simulator's own oracles against a claim.
//!
//! The claim is a built-in one by name ([`sdks::NAMES`]) or a JSON file
//! (what `retry-sim judge --print-claim NAME` writes, edited). The verdict
//! table has the rows of `retry-sim conform`'s, one column per record; an
//! oracle that had nothing to judge in a record says `not exercised`, one
//! that held says over how many calls and attempts. A record that is
//! empty, holds no call, lacks its end line or is cut mid-line is refused
//! (see [`record`]), never judged as if it held.

use crate::check::{self, Claim, Context, Judgement, ORACLES, WIRE_TOLERANCE_NS, sdks};
use crate::trace::{Record, Trace};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

/// The claim `spec` names: a built-in's name, or a JSON claim file.
///
/// # Errors
///
/// Neither a name nor a readable file; or a file that is not a claim,
/// naming its line and column.
pub fn claim(spec: &str) -> Result<Claim, String> {
    if let Some(claim) = sdks::named(spec) {
        return Ok(claim);
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(format!(
            "{spec}: neither a built-in claim ({}) nor a file",
            sdks::NAMES.join(", ")
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{spec}: {e}"))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{spec}:{}:{}: not a claim: {e}", e.line(), e.column()))
}

/// The record at `path`: the JSON lines `retry-sim serve --record` wrote,
/// whole.
///
/// A record is whole when its last line is the end line `{"end_ns":N}`
/// that `serve` writes when it stops (at the horizon, when a client is
/// done, or on SIGINT or SIGTERM). One without it is refused, not judged
/// in part: a call open when the server died would read as one that never
/// ended, a conviction of the client for the server's death.
///
/// # Errors
///
/// An unreadable file; an empty one; a line that is not a record (its
/// path and line); a last line cut mid-way (a truncated record); no end
/// line, or records after it; or no call at all (no request arrived).
pub fn record(path: &Path) -> Result<Trace, String> {
    let file = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
    let lines: Vec<(usize, &str)> = (1..)
        .zip(text.lines())
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let Some(&(last, last_line)) = lines.last() else {
        return Err(format!(
            "{file}: an empty record, with no calls to judge (did `serve` write it, and did any request reach it?)"
        ));
    };
    let trace = Trace::from_json_lines(&text).map_err(|(line, e)| {
        match line == last && !text.ends_with('\n') {
            true => format!(
                "{file}:{line}: a truncated record: its last line is cut mid-way ({e}); \
                 `serve` stopped before it finished writing"
            ),
            false => format!("{file}:{line}: not a trace record: {e}"),
        }
    })?;
    // Every line read as a record or an end line: the end line is the one
    // that is not a record, and it must be the last.
    let is_record = |line: &str| serde_json::from_str::<Record>(line).is_ok();
    if is_record(last_line) {
        return Err(format!(
            "{file}: a partial record: no end line ({{\"end_ns\":N}}) after line {last}; \
             `serve` did not finish it (killed, or still running), so it is not judged"
        ));
    }
    if let Some((line, _)) = lines[..lines.len() - 1].iter().find(|(_, l)| !is_record(l)) {
        return Err(format!(
            "{file}:{line}: an end line before the record's last line {last}"
        ));
    }
    if trace.records.is_empty() {
        return Err(format!(
            "{file}: a record with no calls: no request reached `serve` before it stopped"
        ));
    }
    Ok(trace)
}

/// Judge `trace` against `claim`, allowing `tolerance_ns` of real-time
/// noise (the wire's default: [`WIRE_TOLERANCE_NS`]): the violations, and
/// how much each oracle judged.
pub fn judgement(trace: &Trace, claim: &Claim, tolerance_ns: u64) -> Judgement {
    let context = Context {
        tolerance_ns,
        ..Context::default()
    };
    check::judgement(trace, claim, &context)
}

/// `retry-sim judge`: print the verdict table of `records` against the
/// claim `spec`; `Ok(true)` if no oracle was violated on any record. With
/// `print_claim`, print the claim as JSON instead. Each of `sets`,
/// `KNOB=VALUE`, adjusts the claim first ([`check::adjust`]).
///
/// # Errors
///
/// A claim or record that cannot be read, or a record that is empty,
/// partial, truncated or holds no call (exit code 2).
pub fn command(
    records: &[std::path::PathBuf],
    spec: &str,
    sets: &[String],
    tolerance: std::time::Duration,
    print_claim: bool,
) -> Result<bool, String> {
    let mut claim = claim(spec)?;
    for assignment in sets {
        check::adjust::set(&mut claim, assignment).map_err(|e| format!("--set {e}"))?;
    }
    if print_claim {
        let json = serde_json::to_string_pretty(&claim).map_err(|e| e.to_string())?;
        // A reader that stops early (`| head`) is no error.
        let _ = writeln!(std::io::stdout(), "{json}");
        return Ok(true);
    }
    let tolerance_ns = u64::try_from(tolerance.as_nanos()).unwrap_or(u64::MAX);
    let mut columns = Vec::new();
    for path in records {
        let trace = record(path)?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        columns.push((name, judgement(&trace, &claim, tolerance_ns)));
    }
    let _ = write!(std::io::stdout(), "{}", table(&columns));
    Ok(columns.iter().all(|(_, j)| j.violations.is_empty()))
}

/// The command line's default tolerance: the wire's, [`WIRE_TOLERANCE_NS`].
pub const DEFAULT_TOLERANCE: std::time::Duration =
    std::time::Duration::from_nanos(WIRE_TOLERANCE_NS);

/// The verdict table: one row per oracle, one column per `(name,
/// judgement)`: the first violation (and how many more), `held` with the
/// calls and attempts judged, or `not exercised`.
pub fn table(columns: &[(String, Judgement)]) -> String {
    let mut out = String::from("| oracle |");
    for (name, _) in columns {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for oracle in ORACLES {
        let _ = write!(out, "| {oracle} |");
        for (_, judgement) in columns {
            let mut found = judgement.of(oracle);
            let first = found.next();
            let more = found.count();
            match first {
                None => {
                    let _ = write!(out, " {} |", judgement.unviolated(oracle));
                }
                Some(v) => {
                    // A table cell holds no pipe.
                    let detail = v.detail.replace('|', "/");
                    let _ = write!(out, " violated: c{}#{}: {detail}", v.client, v.call);
                    if more > 0 {
                        let _ = write!(out, " (and {more} more)");
                    }
                    out.push_str(" |");
                }
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::{Tally, Violation};

    #[test]
    fn a_malformed_claim_file_is_named_with_its_line_and_column() {
        let dir = std::env::temp_dir().join(format!("retry-sim-claim-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("claim.json");
        std::fs::write(&file, "{\n  \"max_attempts\": \"three\"\n}").unwrap();
        let e = claim(file.to_str().unwrap()).unwrap_err();
        assert!(e.contains("claim.json:2:"), "{e}");
        assert!(
            claim("no-such-claim")
                .unwrap_err()
                .contains("openai-python")
        );
        assert!(claim("openai-python").is_ok());
    }

    #[test]
    fn a_record_is_judged_with_the_tolerance_it_is_given() {
        use crate::check::fixture::*;
        use crate::method::Method;
        use crate::trace::CallOutcome;
        // A Retry-After of 1 s waited 50 ms long: real-time noise on the
        // wire, a late retry in the simulator's one-tick tolerance.
        let t = trace(vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(10, failed(0, 503, Some(1_000))),
            rec(1_060, attempt(1)),
            rec(1_070, ok(1)),
            rec(1_070, received(1)),
            rec(1_070, ended(CallOutcome::Ok)),
        ]);
        let oracles = |tolerance_ns| {
            let j = judgement(&t, &claim(), tolerance_ns);
            j.violations.iter().map(|v| v.oracle).collect::<Vec<_>>()
        };
        assert_eq!(oracles(WIRE_TOLERANCE_NS), Vec::<&str>::new());
        assert!(!oracles(1_000_000).is_empty());
    }

    #[test]
    fn a_bad_line_is_named_as_such_and_only_a_cut_last_line_as_truncated() {
        use crate::check::fixture::*;
        use crate::method::Method;
        let dir = std::env::temp_dir().join(format!("retry-sim-record-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let refused = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            record(&path).unwrap_err()
        };
        let good = trace(vec![rec(0, started(Method::Chat)), rec(0, attempt(0))]).to_json_lines();
        let (first, second) = good.split_once('\n').unwrap();
        // A bad line mid-way, in a record whose last line has no newline.
        let e = refused(
            "mid.jsonl",
            format!("{first}\nnot json\n{second}{{\"end_ns\":5}}"),
        );
        assert!(e.contains("mid.jsonl:2: not a trace record"), "{e}");
        // A bad last line, whole (ended by its newline).
        let e = refused("last.jsonl", format!("{good}{{\"end\":5}}\n"));
        assert!(e.contains("last.jsonl:3: not a trace record"), "{e}");
        // The last line cut mid-way.
        let e = refused("cut.jsonl", format!("{good}{{\"end_ns\":"));
        assert!(e.contains("cut.jsonl:3: a truncated record"), "{e}");
    }

    #[test]
    fn the_table_names_the_first_violation_and_counts_the_rest() {
        let v = |call| Violation {
            oracle: "attempts_bounded",
            client: 0,
            call,
            detail: "4 attempts | at most 3".into(),
        };
        let mut a = Judgement {
            violations: vec![v(1), v(2)],
            ..Judgement::default()
        };
        let two = Tally {
            calls: 2,
            attempts: 5,
            ..Tally::default()
        };
        a.count("attempts_bounded", two);
        a.count("calls_end", two);
        let mut b = Judgement::default();
        b.count("attempts_bounded", two);
        let one = Judgement {
            violations: vec![v(1)],
            ..Judgement::default()
        };
        let t = table(&[("a".into(), a), ("b".into(), b)]);
        let alone = table(&[("one".into(), one)]);
        assert!(
            alone.contains("| attempts_bounded | violated: c0#1: 4 attempts / at most 3 |"),
            "{alone}"
        );
        assert!(
            t.contains(
                "| attempts_bounded | violated: c0#1: 4 attempts / at most 3 (and 1 more) | held (2 calls, 5 attempts) |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| calls_end | held (2 calls, 5 attempts) | not exercised |"),
            "{t}"
        );
    }
}
