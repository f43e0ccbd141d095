//! Horizontal bar charts: one row per category, one bar per group in each
//! row, its value written at its end. For comparing a few configurations
//! side by side at a few sizes, where a line over the sizes would suggest
//! values between them that nobody measured.

use super::charts::{Scale, titled};
use super::style::{self, Glyph};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One group's bars: a value per category, in the categories' order;
/// `None` where the group has none (drawn as the word `missing` says).
#[derive(Debug, Clone, Default)]
pub struct Group {
    /// The legend's name for the group's bars.
    pub name: String,
    /// One value per category.
    pub values: Vec<Option<f64>>,
}

/// Everything a bar chart says.
#[derive(Debug, Clone)]
pub struct BarChart {
    /// The chart's heading.
    pub title: String,
    /// A sentence under the title (what is averaged).
    pub note: Option<String>,
    /// The value axis's caption, with its unit.
    pub value_label: String,
    /// How the value axis maps values.
    pub scale: Scale,
    /// The rows, top to bottom.
    pub categories: Vec<String>,
    /// The bars of each row, top to bottom, each group its colour.
    pub groups: Vec<Group>,
    /// Written at a row's start in place of a bar that has no value.
    pub missing: String,
}

/// The chart's width in pixels; its height follows from its rows.
pub const WIDTH: u32 = 860;
/// Pixels a bar is tall.
const BAR: u32 = 13;
/// Pixels between rows.
const GAP: u32 = 10;
/// Pixels of the category column, left of the bars.
const LABELS: u32 = 360;
/// Where a bar's value is written, in pixels from the bar's end.
const BESIDE: (i32, i32) = (4, 0);

/// Draw `chart` as an SVG document.
pub fn bars(chart: &BarChart) -> String {
    let rows = chart.categories.len() as u32;
    let per_row = BAR * chart.groups.len().max(1) as u32 + GAP;
    let height = 150 + rows * per_row;
    style::render((WIDTH, height), |root| {
        let legend: Vec<(String, Glyph)> = chart
            .groups
            .iter()
            .enumerate()
            .map(|(g, group)| (group.name.clone(), Glyph::Bar(style::colour(g))))
            .collect();
        let area = titled(root, &chart.title, chart.note.as_deref(), &legend)?;
        let (lo, hi) = value_range(chart);
        match chart.scale {
            Scale::Linear => plot(&area, chart, 0.0..hi * 1.25),
            Scale::Log => plot(&area, chart, (lo * 0.5..hi * 4.0).log_scale()),
        }
    })
}

/// The smallest and largest value drawn: for a log scale, positive ones only.
fn value_range(chart: &BarChart) -> (f64, f64) {
    let values = chart.groups.iter().flat_map(|g| g.values.iter().flatten());
    let positive = |v: &&f64| chart.scale == Scale::Linear || **v > 0.0;
    let (lo, hi) = values
        .filter(positive)
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    match lo <= hi {
        true if hi > lo => (lo, hi),
        true if lo > 0.0 => (lo, lo * 2.0),
        _ => (1.0, 2.0),
    }
}

fn plot<X>(area: &DrawingArea<SVGBackend<'_>, Shift>, chart: &BarChart, x: X) -> style::Drawn<()>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let (labels, area) = area.split_horizontally(LABELS);
    let rows = chart.categories.len().max(1) as f64;
    let mut c = ChartBuilder::on(&area)
        .margin_top(4)
        .margin_right(28)
        .x_label_area_size(44)
        .build_cartesian_2d(x, 0.0..rows)?;
    c.configure_mesh()
        .x_desc(chart.value_label.as_str())
        .x_label_formatter(&|v| style::number(*v))
        .disable_y_mesh()
        .disable_y_axis()
        .bold_line_style(style::GRID)
        .light_line_style(WHITE)
        .label_style(style::label())
        .axis_desc_style(style::label())
        .draw()?;
    let floor = c.x_range().start;
    let band = 1.0 / (chart.groups.len().max(1) as f64 + GAP as f64 / BAR as f64);
    for (i, category) in chart.categories.iter().enumerate() {
        // Row i's top edge, counted down from the top of the plot.
        let top = rows - i as f64 - band * (GAP as f64 / BAR as f64) / 2.0;
        // The plot's pixels count from the picture's corner, the label
        // column's from its own.
        let centre = c.backend_coord(&(floor, top - band * chart.groups.len() as f64 / 2.0));
        labels.draw_text(
            category,
            &style::label().pos(Pos::new(HPos::Right, VPos::Center)),
            (LABELS as i32 - 8, centre.1 - labels.get_base_pixel().1),
        )?;
        for (g, group) in chart.groups.iter().enumerate() {
            let (y1, y0) = (top - band * g as f64, top - band * (g + 1) as f64);
            let middle = (y0 + y1) / 2.0;
            let left = Pos::new(HPos::Left, VPos::Center);
            let small = style::note().pos(left);
            match group.values.get(i).copied().flatten() {
                Some(v) => {
                    let end = v.max(floor);
                    c.draw_series(std::iter::once(Rectangle::new(
                        [(floor, y0), (end, y1)],
                        style::colour(g).filled(),
                    )))?;
                    let text = Text::new(style::number(v), BESIDE, small);
                    c.draw_series(std::iter::once(EmptyElement::at((end, middle)) + text))?;
                }
                None => {
                    let text = Text::new(chart.missing.clone(), BESIDE, small);
                    c.draw_series(std::iter::once(EmptyElement::at((floor, middle)) + text))?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::style::has_text;

    fn chart(scale: Scale) -> BarChart {
        BarChart {
            title: "rejected".into(),
            note: Some("two seeds".into()),
            value_label: "429s per success".into(),
            scale,
            categories: vec!["plain".into(), "throttled".into()],
            groups: vec![
                Group {
                    name: "10 callers".into(),
                    values: vec![Some(6.5), Some(0.05)],
                },
                Group {
                    name: "100 callers".into(),
                    values: vec![Some(70.0), None],
                },
            ],
            missing: "never".into(),
        }
    }

    #[test]
    fn every_row_group_and_value_is_written() {
        for scale in [Scale::Linear, Scale::Log] {
            let svg = bars(&chart(scale));
            assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
            for text in [
                "rejected",
                "two seeds",
                "429s per success",
                "plain",
                "throttled",
                "10 callers",
                "100 callers",
                "6.5",
                "0.050",
                "70",
                "never",
            ] {
                assert!(has_text(&svg, text), "{text} missing under {scale:?}");
            }
        }
    }

    #[test]
    fn the_height_grows_with_the_rows_and_drawing_is_deterministic() {
        let mut c = chart(Scale::Log);
        let two = bars(&c);
        c.categories.push("third".into());
        for g in &mut c.groups {
            g.values.push(Some(1.0));
        }
        let three = bars(&c);
        let height = |svg: &str| {
            let at = svg.find("height=\"").expect("a height") + 8;
            svg[at..].split('"').next().unwrap().parse::<u32>().unwrap()
        };
        assert_eq!(height(&three) - height(&two), 2 * BAR + GAP);
        assert_eq!(bars(&c), three);
    }

    #[test]
    fn a_range_of_one_value_or_none_is_still_a_range() {
        let mut c = chart(Scale::Log);
        c.groups = vec![Group {
            name: "g".into(),
            values: vec![Some(3.0), Some(0.0)],
        }];
        assert_eq!(value_range(&c), (3.0, 6.0));
        c.groups[0].values = vec![None, None];
        assert_eq!(value_range(&c), (1.0, 2.0));
        c.scale = Scale::Linear;
        c.groups[0].values = vec![Some(0.0), Some(4.0)];
        assert_eq!(value_range(&c), (0.0, 4.0));
    }
}
