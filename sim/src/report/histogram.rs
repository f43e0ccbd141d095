//! Histograms drawn with plotters: counts per bin on labelled axes, with
//! shaded stretches (a claimed envelope), vertical marks (percentiles) and
//! an expected count per bin (a uniform law) to hold the bars against.

use super::charts::{Span, titled};
use super::style::{self, Drawn, Glyph};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// One histogram.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// The chart's heading.
    pub title: String,
    /// The x axis's caption, with its unit.
    pub x_label: String,
    /// The values counted.
    pub values: Vec<f64>,
    /// The x range the bins cover; values outside it fall in the end bins.
    pub range: (f64, f64),
    /// How many bins the range is cut into.
    pub bins: usize,
    /// Shaded stretches of the x axis (a claimed envelope, say).
    pub spans: Vec<Span>,
    /// Vertical lines at x, with a label (a percentile).
    pub marks: Vec<(f64, String)>,
    /// The count each bin holds on average if the values follow the claim.
    pub expected: Option<f64>,
    /// Bins of equal ratio on a log axis: for values spanning orders of
    /// magnitude (latencies: a first-attempt success and a call that
    /// waited out three backoffs). The range must then be positive.
    pub log_x: bool,
}

/// Panels side by side: one row of up to three, as many rows as needed.
const PANEL: (u32, u32) = (380, 280);
const PER_ROW: usize = 3;

/// The bins' edges: `bins + 1` values from the range's start to its end,
/// equally spaced, or in equal ratios for a log axis.
pub fn edges(h: &Histogram) -> Vec<f64> {
    let bins = h.bins.max(1);
    let (lo, hi) = h.range;
    (0..=bins)
        .map(|i| {
            let f = i as f64 / bins as f64;
            match h.log_x {
                true => lo * (hi / lo).powf(f),
                false => lo + (hi - lo) * f,
            }
        })
        .collect()
}

/// The counts per bin of `h`; values outside the range fall in the end bins.
pub fn counts(h: &Histogram) -> Vec<u64> {
    let edges = edges(h);
    let mut out = vec![0; edges.len() - 1];
    for v in &h.values {
        let i = edges[1..edges.len() - 1].partition_point(|e| e <= v);
        out[i] += 1;
    }
    out
}

/// Draw `panels` as one SVG under `title`, with one legend for them all.
pub fn draw(title: &str, note: Option<&str>, panels: &[Histogram]) -> String {
    let rows = panels.len().div_ceil(PER_ROW).max(1);
    let columns = panels.len().clamp(1, PER_ROW);
    // A lone panel gets the width of two: a page's latency chart.
    let width = if panels.len() == 1 {
        2 * PANEL.0
    } else {
        PANEL.0
    };
    let size = (width * columns as u32, 80 + PANEL.1 * rows as u32);
    style::render(size, |root| {
        let area = titled(root, title, note, &legend(panels))?;
        let cells = area.split_evenly((rows, columns));
        for (cell, h) in cells.iter().zip(panels) {
            panel(cell, h)?;
        }
        Ok(())
    })
}

fn legend(panels: &[Histogram]) -> Vec<(String, Glyph)> {
    let mut out = vec![("count per bin".to_string(), Glyph::Bar(style::colour(0)))];
    if panels.iter().any(|h| !h.spans.is_empty()) {
        out.push(("claimed envelope".into(), Glyph::Bar(style::SPAN)));
    }
    if panels.iter().any(|h| h.expected.is_some()) {
        out.push((
            "expected if uniform".into(),
            Glyph::Line(style::FAILED, true, style::Marker::Circle),
        ));
    }
    if panels.iter().any(|h| !h.marks.is_empty()) {
        out.push(("percentile".into(), Glyph::Tick(style::AXIS)));
    }
    out
}

fn panel(area: &DrawingArea<SVGBackend<'_>, Shift>, h: &Histogram) -> Drawn<()> {
    let (lo, hi) = h.range;
    match h.log_x {
        true => panel_on(area, h, (lo..hi).log_scale()),
        false => panel_on(area, h, lo..hi),
    }
}

fn panel_on<X>(area: &DrawingArea<SVGBackend<'_>, Shift>, h: &Histogram, x: X) -> Drawn<()>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let counts = counts(h);
    let top = counts.iter().copied().max().unwrap_or(0) as f64;
    // At least 4, so small counts get whole-number ticks.
    let top = top.max(h.expected.unwrap_or(0.0)).max(4.0) * 1.15;
    let (lo, hi) = h.range;
    let mut c = ChartBuilder::on(area)
        .caption(&h.title, style::label())
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(48)
        .build_cartesian_2d(x, 0.0..top)?;
    style::mesh(&mut c.configure_mesh(), &h.x_label, "count")
        .x_labels(5)
        .y_labels(5)
        .draw()?;
    for s in &h.spans {
        c.draw_series(std::iter::once(Rectangle::new(
            [(s.from, 0.0), (s.to, top)],
            style::SPAN.filled(),
        )))?;
    }
    let edges = edges(h);
    c.draw_series(
        counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, &n)| {
                let bar = [(edges[i], 0.0), (edges[i + 1], n as f64)];
                Rectangle::new(bar, style::colour(0).mix(0.85).filled())
            }),
    )?;
    if let Some(e) = h.expected {
        c.draw_series(DashedLineSeries::new(
            vec![(lo, e), (hi, e)],
            6,
            4,
            style::FAILED.stroke_width(2),
        ))?;
    }
    for (x, label) in &h.marks {
        c.draw_series(std::iter::once(PathElement::new(
            vec![(*x, 0.0), (*x, top)],
            style::AXIS.stroke_width(1),
        )))?;
        c.draw_series(std::iter::once(Text::new(
            format!(" {label}"),
            (*x, top * 0.97),
            style::note(),
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(values: &[f64]) -> Histogram {
        Histogram {
            title: "retry 1".into(),
            x_label: "ms".into(),
            values: values.to_vec(),
            range: (0.0, 10.0),
            bins: 5,
            ..Histogram::default()
        }
    }

    use crate::report::style::has_text;

    #[test]
    fn values_fall_in_their_bins_and_strays_in_the_end_ones() {
        assert_eq!(
            counts(&h(&[0.0, 1.9, 2.0, 9.99, 10.0, 42.0, -3.0])),
            vec![3, 1, 0, 0, 3]
        );
        let log = Histogram {
            range: (1.0, 1000.0),
            bins: 3,
            log_x: true,
            values: vec![1.0, 9.0, 10.0, 500.0],
            ..h(&[])
        };
        assert_eq!(
            counts(&log),
            vec![2, 1, 1],
            "decades: [1, 10), [10, 100), [100, 1000]"
        );
    }

    #[test]
    fn panels_are_titled_and_the_legend_names_what_is_drawn() {
        let mut with_envelope = h(&[1.0, 2.0]);
        with_envelope.spans = vec![Span {
            from: 1.0,
            to: 4.0,
            label: String::new(),
        }];
        let svg = draw("Delays", Some("note"), &[with_envelope, h(&[3.0])]);
        for text in ["Delays", "retry 1", "claimed envelope", "count per bin"] {
            assert!(has_text(&svg, text), "{text} missing");
        }
        assert!(
            !svg.contains("expected if uniform"),
            "no expectation drawn, none named"
        );
    }
}
