//! The call timeline `--svg` draws: attempts as bars coloured by outcome,
//! waits between them as thin lines, and each call's end as a mark, on a
//! virtual-time axis with ticks, under a legend.
//!
//! Rows are calls grouped by client (clients shaded in turn); a run with
//! more calls than [`CALL_ROWS`] gets one row per client instead, all of
//! its calls on it, so thousands of calls still fit a page.

use super::style::{self, Drawn, Glyph};
use crate::trace::{AttemptOutcome, Kind, Record, Trace};
use plotters::coord::Shift;
use plotters::prelude::*;

/// Up to this many calls, one row each; past it, one row per client.
pub const CALL_ROWS: usize = 80;

/// Rows `--svg` draws at most: 400 clients, a 6,500-pixel-tall picture.
pub const SVG_ROWS: usize = 400;

const WIDTH: u32 = 1000;
const ROW_PX: u32 = 16;
const HEAD_PX: u32 = 64;
const AXIS_PX: u32 = 48;

/// One row: its label, the client it belongs to, and its records.
struct Row<'a> {
    label: String,
    client: u32,
    records: Vec<&'a Record>,
}

/// The timeline of `trace`, at most `max_rows` rows.
pub fn svg(trace: &Trace, max_rows: usize) -> String {
    let (rows, note) = rows(trace, max_rows.max(1));
    let end_ms = trace.records.iter().map(|r| r.t).max().unwrap_or(0) as f64 / 1e6;
    let height = HEAD_PX + AXIS_PX + ROW_PX * rows.len().max(1) as u32;
    style::render((WIDTH, height), |root| {
        let (head, body) = root.split_vertically(HEAD_PX);
        header(&head, &note)?;
        plot(&body, &rows, end_ms.max(1.0))
    })
}

/// The rows to draw and a sentence saying how they were chosen.
fn rows(trace: &Trace, max_rows: usize) -> (Vec<Row<'_>>, String) {
    let calls = trace.calls();
    let total = calls.len();
    if total <= CALL_ROWS.min(max_rows) {
        let rows = calls
            .into_iter()
            .map(|((client, call), records)| Row {
                label: format!("c{client} #{call}"),
                client,
                records,
            })
            .collect();
        return (
            rows,
            format!("{total} call(s), one row each, grouped by client"),
        );
    }
    let mut by_client: std::collections::BTreeMap<u32, (usize, Vec<&Record>)> = Default::default();
    for ((client, _), records) in calls {
        let entry = by_client.entry(client).or_default();
        entry.0 += 1;
        entry.1.extend(records);
    }
    let clients = by_client.len();
    let rows: Vec<Row<'_>> = by_client
        .into_iter()
        .take(max_rows)
        .map(|(client, (n, records))| Row {
            label: format!("client {client} ({n})"),
            client,
            records,
        })
        .collect();
    let shown = match rows.len() < clients {
        true => format!(", the first {} of {clients} clients", rows.len()),
        false => String::new(),
    };
    (
        rows,
        format!("{total} calls, one row per client (calls in brackets){shown}"),
    )
}

/// The legend strip: what each colour and mark means.
fn header(area: &DrawingArea<SVGBackend<'_>, Shift>, note: &str) -> Drawn<()> {
    area.draw_text("Calls over virtual time", &style::title(), (12, 8))?;
    area.draw_text(note, &style::note(), (12, 30))?;
    let keys = [
        ("attempt ok", Glyph::Bar(style::OK)),
        ("attempt failed", Glyph::Bar(style::FAILED)),
        ("attempt abandoned (timeout)", Glyph::Bar(style::DROPPED)),
        ("wait before a retry", Glyph::Wait),
        ("call succeeded", Glyph::Tick(CALL_OK)),
        ("call failed", Glyph::Tick(BLACK)),
    ];
    let keys: Vec<(String, Glyph)> = keys.into_iter().map(|(t, g)| (t.to_string(), g)).collect();
    style::legend(area, (12, 44), WIDTH as i32 - 12, &keys)?;
    Ok(())
}

/// A call's end: dark green if it succeeded, black if it failed.
const CALL_OK: RGBColor = RGBColor(0, 90, 60);

fn plot(area: &DrawingArea<SVGBackend<'_>, Shift>, rows: &[Row<'_>], end_ms: f64) -> Drawn<()> {
    let n = rows.len().max(1);
    let mut c = ChartBuilder::on(area)
        .margin_right(16)
        .x_label_area_size(AXIS_PX)
        .y_label_area_size(110)
        .build_cartesian_2d(0.0..end_ms * 1.01, -0.5..n as f64 - 0.5)?;
    let label = |v: &f64| {
        let i = v.round();
        match (v - i).abs() < 1e-6 && i >= 0.0 {
            true => rows
                .get(n - 1 - i as usize)
                .map_or(String::new(), |r| r.label.clone()),
            false => String::new(),
        }
    };
    c.configure_mesh()
        .disable_y_mesh()
        .x_desc("virtual time, ms")
        .x_label_formatter(&|v| style::number(*v))
        .y_labels(n + 1)
        .y_label_formatter(&label)
        .bold_line_style(style::GRID)
        .light_line_style(WHITE)
        .label_style(style::label())
        .axis_desc_style(style::label())
        .draw()?;
    for (i, row) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        if row.client % 2 == 1 {
            c.draw_series(std::iter::once(Rectangle::new(
                [(0.0, y - 0.5), (end_ms * 1.01, y + 0.5)],
                style::SPAN.mix(0.6).filled(),
            )))?;
        }
        draw_row(&mut c, row, y, end_ms)?;
    }
    Ok(())
}

type Chart<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Attempts, waits and ends of one row's records.
fn draw_row(c: &mut Chart<'_>, row: &Row<'_>, y: f64, end_ms: f64) -> Drawn<()> {
    let ms = |t: u64| t as f64 / 1e6;
    // A bar narrower than a pixel would vanish: widen it to about one.
    let min_width = end_ms / f64::from(WIDTH);
    let mut open: std::collections::BTreeMap<(u64, u32), u64> = Default::default();
    let mut last_end: std::collections::BTreeMap<u64, u64> = Default::default();
    for r in &row.records {
        match &r.kind {
            Kind::AttemptStarted { attempt, .. } => {
                if let Some(&ended) = last_end.get(&r.call) {
                    let wait = PathElement::new(
                        vec![(ms(ended), y), (ms(r.t), y)],
                        style::WAIT.stroke_width(2),
                    );
                    c.draw_series(std::iter::once(wait))?;
                }
                open.insert((r.call, *attempt), r.t);
            }
            Kind::AttemptEnded { attempt, outcome } => {
                let start = open.remove(&(r.call, *attempt)).unwrap_or(r.t);
                let (a, b) = (ms(start), ms(r.t).max(ms(start) + min_width));
                let bar = Rectangle::new([(a, y - 0.32), (b, y + 0.32)], colour(outcome).filled());
                c.draw_series(std::iter::once(bar))?;
                last_end.insert(r.call, r.t);
            }
            Kind::CallEnded { outcome } => {
                let colour = if outcome.is_ok() { CALL_OK } else { BLACK };
                let mark = PathElement::new(
                    vec![(ms(r.t), y - 0.45), (ms(r.t), y + 0.45)],
                    colour.stroke_width(3),
                );
                c.draw_series(std::iter::once(mark))?;
            }
            _ => {}
        }
    }
    Ok(())
}

fn colour(outcome: &AttemptOutcome) -> RGBColor {
    match outcome {
        AttemptOutcome::Ok => style::OK,
        AttemptOutcome::Dropped => style::DROPPED,
        AttemptOutcome::Failed(_) => style::FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::summary::tests::call;

    use crate::report::style::has_text;

    #[test]
    fn a_few_calls_get_a_row_each_with_a_legend_and_a_time_axis() {
        let mut records = call(0, 0, 5, true);
        records.extend(call(1, 1, 9, false));
        let svg = svg(&Trace::new(records), 10);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for text in [
            "c0 #0",
            "c1 #0",
            "virtual time, ms",
            "call failed",
            "attempt ok",
        ] {
            assert!(has_text(&svg, text), "{text} missing");
        }
        assert_eq!(
            svg.matches("<rect").count(),
            1 + 3 + 1,
            "white ground, three legend bars, client 1's shading (no attempt ended)"
        );
    }

    #[test]
    fn many_calls_get_one_row_per_client() {
        let records: Vec<Record> = (0..200)
            .flat_map(|i| {
                let mut c = call(i % 4, u64::from(i), u64::from(i) + 3, true);
                c.iter_mut().for_each(|r| r.call = u64::from(i / 4));
                c
            })
            .collect();
        let svg = svg(&Trace::new(records), 400);
        assert!(svg.contains("client 3 (50)"), "one row per client");
        assert!(!svg.contains("c0 #0"));
        let capped = super::svg(&Trace::new(Vec::new()), 2);
        assert!(capped.contains("0 call(s)"));
    }
}
