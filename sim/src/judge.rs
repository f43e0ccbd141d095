//! `retry-sim judge`: a record taken from the wire (`retry-sim serve`),
//! judged by the simulator's own oracles against a claim.
//!
//! The claim is a built-in one by name ([`sdks::NAMES`]) or a JSON file
//! (what `retry-sim judge --print-claim NAME` writes, edited). The verdict
//! table has the rows of `retry-sim conform`'s, one column per record.

use crate::check::{self, Claim, Context, ORACLES, Violation, WIRE_TOLERANCE_NS, sdks};
use crate::trace::Trace;
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

/// The record at `path`: the JSON lines `retry-sim serve --record` wrote.
///
/// # Errors
///
/// An unreadable file, or a line that is not a record (its path and line).
pub fn record(path: &Path) -> Result<Trace, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Trace::from_json_lines(&text)
        .map_err(|(line, e)| format!("{}:{line}: not a trace record: {e}", path.display()))
}

/// Judge `trace` against `claim`, allowing `tolerance_ns` of real-time
/// noise (the wire's default: [`WIRE_TOLERANCE_NS`]).
pub fn verdicts(trace: &Trace, claim: &Claim, tolerance_ns: u64) -> Vec<Violation> {
    let context = Context {
        tolerance_ns,
        ..Context::default()
    };
    check::check(trace, claim, &context)
}

/// `retry-sim judge`: print the verdict table of `records` against the
/// claim `spec`; `Ok(true)` if every oracle held on every record. With
/// `print_claim`, print the claim as JSON instead.
///
/// # Errors
///
/// A claim or record that cannot be read (exit code 2).
pub fn command(
    records: &[std::path::PathBuf],
    spec: &str,
    tolerance_ms: u64,
    print_claim: bool,
) -> Result<bool, String> {
    let claim = claim(spec)?;
    if print_claim {
        let json = serde_json::to_string_pretty(&claim).map_err(|e| e.to_string())?;
        // A reader that stops early (`| head`) is no error.
        let _ = writeln!(std::io::stdout(), "{json}");
        return Ok(true);
    }
    let tolerance_ns = tolerance_ms.saturating_mul(1_000_000);
    let mut columns = Vec::new();
    for path in records {
        let trace = record(path)?;
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        columns.push((name, verdicts(&trace, &claim, tolerance_ns)));
    }
    let _ = write!(std::io::stdout(), "{}", table(&columns));
    Ok(columns.iter().all(|(_, v)| v.is_empty()))
}

/// The default tolerance, in whole milliseconds, for the command line.
pub const DEFAULT_TOLERANCE_MS: u64 = WIRE_TOLERANCE_NS / 1_000_000;

/// The verdict table: one row per oracle, one column per `(name, verdicts)`:
/// `held`, or the first violation (and how many more).
pub fn table(columns: &[(String, Vec<Violation>)]) -> String {
    let mut out = String::from("| oracle |");
    for (name, _) in columns {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(columns.len()));
    out.push('\n');
    for oracle in ORACLES {
        let _ = write!(out, "| {oracle} |");
        for (_, violations) in columns {
            let mut found = violations.iter().filter(|v| v.oracle == *oracle);
            let first = found.next();
            let more = found.count();
            match first {
                None => out.push_str(" held |"),
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
    fn the_table_names_the_first_violation_and_counts_the_rest() {
        let v = |call| Violation {
            oracle: "attempts_bounded",
            client: 0,
            call,
            detail: "4 attempts | at most 3".into(),
        };
        let t = table(&[("a".into(), vec![v(1), v(2)]), ("b".into(), vec![])]);
        assert!(
            t.contains(
                "| attempts_bounded | violated: c0#1: 4 attempts / at most 3 (and 1 more) | held |"
            ),
            "{t}"
        );
        assert!(t.contains("| calls_end | held | held |"), "{t}");
    }
}
