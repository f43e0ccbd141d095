//! Line charts drawn with plotters: labelled axes with ticks, a legend,
//! a log scale where the data spans orders of magnitude, confidence bands,
//! and distinct dashes and markers so that coinciding curves stay visible.

use super::style::{self, Glyph, Marker};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;

/// One named line, with an optional band around it.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// The legend's name for the line.
    pub name: String,
    /// The `(x, y)` points, in x order.
    pub points: Vec<(f64, f64)>,
    /// `(x, low, high)`: a confidence band, drawn shaded under the line.
    pub band: Vec<(f64, f64, f64)>,
}

/// How the y axis maps values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Evenly spaced values.
    Linear,
    /// Logarithmic: for data that spans orders of magnitude.
    Log,
}

/// A shaded stretch of the x axis with a label (a fault window, a trigger).
#[derive(Debug, Clone)]
pub struct Span {
    /// Where the span starts on the x axis.
    pub from: f64,
    /// Where it ends.
    pub to: f64,
    /// What the span marks, written over it.
    pub label: String,
}

/// Everything a line chart says.
#[derive(Debug, Clone)]
pub struct LineChart {
    /// The chart's heading.
    pub title: String,
    /// The x axis's caption, with its unit.
    pub x_label: String,
    /// The y axis's caption, with its unit.
    pub y_label: String,
    /// How the y axis maps values.
    pub y_scale: Scale,
    /// The lines drawn.
    pub series: Vec<Series>,
    /// Shaded stretches of the x axis.
    pub spans: Vec<Span>,
    /// A sentence under the title (what is averaged, what coincides).
    pub note: Option<String>,
}

/// The chart's size in pixels.
pub const SIZE: (u32, u32) = (720, 420);

/// Curves closer than this share of the y range at every x coincide.
const COINCIDE: f64 = 0.01;

/// For each series, the earlier series it coincides with, if any: drawn
/// dashed on top, and said so in its legend entry.
pub fn coinciding(series: &[Series]) -> Vec<Option<usize>> {
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::MAX, f64::MIN), |(l, h), y| (l.min(y), h.max(y)));
    let tolerance = (hi - lo).abs().max(1e-9) * COINCIDE;
    let same = |a: &Series, b: &Series| {
        a.points.len() == b.points.len()
            && a.points
                .iter()
                .zip(&b.points)
                .all(|(p, q)| (p.0 - q.0).abs() < 1e-9 && (p.1 - q.1).abs() <= tolerance)
    };
    (0..series.len())
        .map(|i| (0..i).find(|&j| same(&series[i], &series[j])))
        .collect()
}

/// The caption sentence naming the curves hidden under others, if any.
pub fn coincidence_note(series: &[Series]) -> Option<String> {
    let pairs: Vec<String> = coinciding(series)
        .iter()
        .enumerate()
        .filter_map(|(i, j)| {
            j.map(|j| {
                format!(
                    "\u{201c}{}\u{201d} lies on \u{201c}{}\u{201d} (dashed on top)",
                    series[i].name, series[j].name
                )
            })
        })
        .collect();
    (!pairs.is_empty()).then(|| pairs.join("; "))
}

/// Draw `chart` as an SVG document.
pub fn lines(chart: &LineChart) -> String {
    style::render(SIZE, |root| {
        let (x0, x1) = range(
            chart
                .series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0)),
        );
        let (y0, y1) = y_range(chart);
        // Say in words which curves hide under others.
        let note = match (&chart.note, coincidence_note(&chart.series)) {
            (Some(n), Some(c)) => Some(format!("{n} {c}.")),
            (None, Some(c)) => Some(format!("{c}.")),
            (n, None) => n.clone(),
        };
        let area = titled(root, &chart.title, note.as_deref(), &legend(chart))?;
        match chart.y_scale {
            Scale::Linear => plot(&area, chart, x0..x1, 0.0..y1 * 1.05),
            Scale::Log => plot(&area, chart, x0..x1, (y0 * 0.8..y1 * 1.25).log_scale()),
        }
    })
}

/// The y range of every point and band: for a log scale, positive values only.
fn y_range(chart: &LineChart) -> (f64, f64) {
    let points = chart
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1));
    let bands = chart
        .series
        .iter()
        .flat_map(|s| s.band.iter().flat_map(|b| [b.1, b.2]));
    let values = points.chain(bands);
    match chart.y_scale {
        Scale::Linear => range(values),
        Scale::Log => range(values.filter(|v| *v > 0.0)),
    }
}

/// The smallest and largest value, or `(0, 1)` for none.
fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(l, h), v| (l.min(v), h.max(v)));
    match lo <= hi {
        true if hi > lo => (lo, hi),
        true => (lo, lo + 1.0),
        false => (0.0, 1.0),
    }
}

/// Each series' legend entry: dashed, and said so, where it lies on an earlier one.
fn legend(chart: &LineChart) -> Vec<(String, Glyph)> {
    let hidden = coinciding(&chart.series);
    chart
        .series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = match hidden[i] {
                Some(j) => format!("{} (dashed: same as {})", s.name, chart.series[j].name),
                None => s.name.clone(),
            };
            (
                name,
                Glyph::Line(style::colour(i), hidden[i].is_some(), Marker::of(i)),
            )
        })
        .collect()
}

/// Title, note and legend on top; the rest is the plot's.
pub fn titled<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    title: &str,
    note: Option<&str>,
    legend: &[(String, Glyph)],
) -> style::Drawn<DrawingArea<SVGBackend<'a>, Shift>> {
    root.draw_text(title, &style::title(), (12, 8))?;
    let mut top = 32;
    if let Some(note) = note {
        root.draw_text(note, &style::note(), (12, top))?;
        top += 20;
    }
    if !legend.is_empty() {
        top += style::legend(root, (12, top), root.dim_in_pixel().0 as i32 - 12, legend)?;
    }
    Ok(root.split_vertically(top + 4).1)
}

fn plot<'a, Y>(
    area: &DrawingArea<SVGBackend<'a>, Shift>,
    chart: &LineChart,
    x: std::ops::Range<f64>,
    y: Y,
) -> style::Drawn<()>
where
    Y: AsRangedCoord<Value = f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut c = ChartBuilder::on(area)
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    style::mesh(&mut c.configure_mesh(), &chart.x_label, &chart.y_label).draw()?;
    spans(&mut c, &chart.spans)?;
    let hidden = coinciding(&chart.series);
    for (i, s) in chart.series.iter().enumerate() {
        series(&mut c, i, s, hidden[i].is_some())?;
    }
    Ok(())
}

type Chart<'a, Y> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>;

fn spans<Y: Ranged<ValueType = f64>>(c: &mut Chart<'_, Y>, spans: &[Span]) -> style::Drawn<()> {
    let (y0, y1) = (c.y_range().start, c.y_range().end);
    for span in spans {
        c.draw_series(std::iter::once(Rectangle::new(
            [(span.from, y0), (span.to, y1)],
            style::SPAN.filled(),
        )))?;
        c.draw_series(std::iter::once(Text::new(
            span.label.clone(),
            (span.from, y1),
            style::note().pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Left,
                plotters::style::text_anchor::VPos::Top,
            )),
        )))?;
    }
    Ok(())
}

fn series<Y: Ranged<ValueType = f64>>(
    c: &mut Chart<'_, Y>,
    i: usize,
    s: &Series,
    dashed: bool,
) -> style::Drawn<()> {
    let colour = style::colour(i);
    if !s.band.is_empty() {
        let mut outline: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.1)).collect();
        outline.extend(s.band.iter().rev().map(|b| (b.0, b.2)));
        c.draw_series(std::iter::once(Polygon::new(
            outline,
            colour.mix(0.15).filled(),
        )))?;
    }
    let line = colour.stroke_width(2);
    match dashed {
        true => c.draw_series(DashedLineSeries::new(s.points.clone(), 7, 5, line))?,
        false => c.draw_series(LineSeries::new(s.points.clone(), line))?,
    };
    let marker = Marker::of(i);
    let every = s.points.len().div_ceil(12).max(1);
    let marked = s.points.iter().skip(i % every).step_by(every);
    c.draw_series(marked.map(|&p| marker.at(p, colour)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, ys: &[f64]) -> Series {
        Series {
            name: name.into(),
            points: ys.iter().enumerate().map(|(x, &y)| (x as f64, y)).collect(),
            band: Vec::new(),
        }
    }

    fn chart(series: Vec<Series>, y_scale: Scale) -> LineChart {
        LineChart {
            title: "t".into(),
            x_label: "clients".into(),
            y_label: "calls".into(),
            y_scale,
            series,
            spans: Vec::new(),
            note: None,
        }
    }

    use crate::report::style::has_text;

    #[test]
    fn every_series_is_named_in_the_legend_and_the_axes_are_labelled() {
        let svg = lines(&chart(
            vec![s("a", &[1.0, 5.0]), s("b", &[2.0, 3.0])],
            Scale::Linear,
        ));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        for text in ["a", "b", "clients", "calls"] {
            assert!(has_text(&svg, text), "{text} missing");
        }
    }

    #[test]
    fn a_curve_lying_on_another_is_dashed_and_said_so() {
        let series = vec![
            s("a", &[1.0, 5.0, 9.0]),
            s("b", &[0.0, 0.0, 0.0]),
            s("c", &[1.0, 5.0, 9.02]),
        ];
        assert_eq!(coinciding(&series), vec![None, None, Some(0)]);
        let note = coincidence_note(&series).expect("c lies on a");
        assert!(note.contains("c") && note.contains("a"), "{note}");
        let svg = lines(&chart(series, Scale::Linear));
        assert!(has_text(&svg, "c (dashed: same as a)"), "legend says so");
    }

    #[test]
    fn a_log_scale_labels_its_decades() {
        let svg = lines(&chart(vec![s("a", &[10.0, 100.0, 10_000.0])], Scale::Log));
        for decade in ["100", "1000", "10000"] {
            assert!(has_text(&svg, decade), "{decade} missing");
        }
    }

    #[test]
    fn drawing_is_deterministic() {
        let c = chart(vec![s("a", &[1.0, 2.5, 7.0])], Scale::Log);
        assert_eq!(lines(&c), lines(&c));
    }
}
