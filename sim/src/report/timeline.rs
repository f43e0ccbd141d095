//! The call timeline `--svg` draws.

use crate::trace::{Kind, Trace};
use std::fmt::Write as _;

/// An SVG timeline: one row per call, attempts as bars coloured by outcome,
/// backoffs as thin lines, on the virtual time axis.
pub fn svg(trace: &Trace, max_rows: usize) -> String {
    let calls: Vec<_> = trace.calls().into_iter().take(max_rows).collect();
    let end = trace.records.iter().map(|r| r.t).max().unwrap_or(1).max(1) as f64;
    let (width, row, left) = (1000.0, 14.0, 80.0);
    let x = |t: u64| left + t as f64 / end * (width - left - 10.0);
    let height = calls.len() as f64 * row + 40.0;
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="monospace" font-size="10">"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="{}">0 ms</text><text x="{}" y="{}" text-anchor="end">{:.1} ms</text>"#,
        height - 5.0,
        width - 10.0,
        height - 5.0,
        end / 1e6
    );
    for (i, ((client, call), records)) in calls.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let _ = writeln!(
            out,
            r#"<text x="2" y="{}">c{client}#{call}</text>"#,
            y + 9.0
        );
        let mut started = 0;
        for r in records {
            match &r.kind {
                Kind::AttemptStarted { .. } => started = r.t,
                Kind::AttemptEnded { outcome, .. } => {
                    let colour = match outcome {
                        crate::trace::AttemptOutcome::Ok => "#2a9d4b",
                        crate::trace::AttemptOutcome::Dropped => "#e09f1f",
                        crate::trace::AttemptOutcome::Failed(_) => "#d1495b",
                    };
                    let w = (x(r.t) - x(started)).max(1.5);
                    let _ = writeln!(
                        out,
                        r#"<rect x="{:.1}" y="{y}" width="{w:.1}" height="10" fill="{colour}"/>"#,
                        x(started)
                    );
                }
                Kind::Reported {
                    event: crate::trace::Reported::Delay { delay_ns, .. },
                } => {
                    let (a, b) = (x(r.t), x(r.t.saturating_add(*delay_ns)));
                    let _ = writeln!(
                        out,
                        r#"<line x1="{a:.1}" y1="{}" x2="{b:.1}" y2="{}" stroke="gray" stroke-dasharray="2,2"/>"#,
                        y + 5.0,
                        y + 5.0
                    );
                }
                Kind::CallEnded { outcome } => {
                    let mark = if outcome.is_ok() { "#2a9d4b" } else { "#000" };
                    let _ = writeln!(
                        out,
                        r#"<circle cx="{:.1}" cy="{}" r="3" fill="{mark}"/>"#,
                        x(r.t),
                        y + 5.0
                    );
                }
                _ => {}
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::tests::call;

    #[test]
    fn svg_has_a_row_per_call() {
        let mut records = call(0, 0, 5, true);
        records.extend(call(1, 1, 9, false));
        let svg = svg(&Trace::new(records), 10);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
