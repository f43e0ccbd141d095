//! The look every picture shares: colours, fonts, markers, number labels,
//! and drawing into an SVG string.
//!
//! Text goes out as SVG `<text>` elements in a generic sans-serif font:
//! plotters is built without `ttf`, so it needs no font files and no system
//! library, and the viewer's own font draws the words.

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::element::ComposedElement;
use plotters::prelude::*;

/// What drawing with plotters into a string can fail with.
pub type Drawn<T> = Result<T, DrawingAreaErrorKind<std::io::Error>>;

/// Colour-blind-safe line colours (Okabe and Ito), in series order.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
];

/// Series `i`'s colour.
pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A successful attempt, a failed one, an abandoned one, and a wait.
pub const OK: RGBColor = RGBColor(0, 158, 115);
/// A failed attempt.
pub const FAILED: RGBColor = RGBColor(213, 94, 0);
/// An attempt the wrapper abandoned (a timeout, or a dropped call).
pub const DROPPED: RGBColor = RGBColor(230, 159, 0);
/// A wait between attempts.
pub const WAIT: RGBColor = RGBColor(120, 120, 120);
/// Axes and frames.
pub const AXIS: RGBColor = RGBColor(60, 60, 60);
/// The light grid behind the data.
pub const GRID: RGBColor = RGBColor(232, 232, 232);
/// Shaded windows of the x axis.
pub const SPAN: RGBColor = RGBColor(243, 236, 216);

const FONT: &str = "sans-serif";

/// The chart title's font.
pub fn title() -> TextStyle<'static> {
    (FONT, 21).into_font().color(&BLACK)
}

/// The font of a note under the title.
pub fn note() -> TextStyle<'static> {
    (FONT, 15).into_font().color(&AXIS)
}

/// The font of tick labels, axis descriptions and legends.
pub fn label() -> TextStyle<'static> {
    (FONT, 16).into_font().color(&AXIS)
}

/// A tick label: integers as such, thousands separated, fractions to 2 significant digits.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if a >= 1.0 && (v - v.round()).abs() < 1e-6 || a >= 100.0 {
        let n = v.round() as i64;
        return n.to_string();
    }
    if a == 0.0 {
        return "0".into();
    }
    let digits = (2 - a.log10().floor() as i32 - 1).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

/// The mesh every chart draws: its axes described, tick labels as
/// [`number`] writes them, a light grid, the label font. The caller adds
/// what is its own (tick counts) and draws it.
pub fn mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    x_desc: &str,
    y_desc: &str,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
    DB: DrawingBackend,
{
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .bold_line_style(GRID)
        .light_line_style(WHITE)
        .label_style(label())
        .axis_desc_style(label())
}

fn tick(v: &f64) -> String {
    number(*v)
}

/// Draw into an SVG string of `size` pixels on white. Drawing into a
/// string cannot fail short of a bug; if plotters reports one anyway the
/// picture says so in words rather than panicking.
pub fn render(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn<()>,
) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present())
    };
    match result {
        Ok(()) => out,
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"40\"><text x=\"8\" y=\"24\">cannot draw: {}</text></svg>\n",
            size.0,
            super::html::escape(&e.to_string())
        ),
    }
}

/// A marker shape, so curves differ by more than colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled circle.
    Circle,
    /// A filled square.
    Square,
    /// A triangle pointing up.
    Triangle,
    /// A diamond.
    Diamond,
    /// A triangle pointing down.
    Down,
}

impl Marker {
    const ALL: [Marker; 5] = [
        Marker::Circle,
        Marker::Square,
        Marker::Triangle,
        Marker::Diamond,
        Marker::Down,
    ];

    /// Series `i`'s marker.
    pub fn of(i: usize) -> Marker {
        Self::ALL[i % Self::ALL.len()]
    }

    /// The outline around (0, 0), in pixels.
    fn outline(self) -> Vec<(i32, i32)> {
        match self {
            Marker::Circle => vec![
                (-2, -4),
                (2, -4),
                (4, -2),
                (4, 2),
                (2, 4),
                (-2, 4),
                (-4, 2),
                (-4, -2),
            ],
            Marker::Square => vec![(-3, -3), (3, -3), (3, 3), (-3, 3)],
            Marker::Triangle => vec![(0, -5), (4, 3), (-4, 3)],
            Marker::Diamond => vec![(0, -5), (4, 0), (0, 5), (-4, 0)],
            Marker::Down => vec![(0, 5), (4, -3), (-4, -3)],
        }
    }

    /// The marker at `p`, filled in `colour` with a white rim, so it
    /// stands out where lines cross.
    pub fn at<C, DB: DrawingBackend>(
        self,
        p: C,
        colour: RGBColor,
    ) -> ComposedElement<C, DB, Polygon<(i32, i32)>, Segment> {
        let mut rim = self.outline();
        rim.push(rim[0]);
        EmptyElement::at(p)
            + Polygon::new(self.outline(), colour.filled())
            + PathElement::new(rim, WHITE.stroke_width(1))
    }
}

type Segment = PathElement<(i32, i32)>;

/// A series' legend glyph: two line segments and a marker.
type LegendLine<DB> = ComposedElement<
    (i32, i32),
    DB,
    Segment,
    ComposedElement<(i32, i32), DB, Segment, Polygon<(i32, i32)>>,
>;

/// What a legend entry shows before its words.
#[derive(Debug, Clone, Copy)]
pub enum Glyph {
    /// A series: its colour, dashed or solid, through its marker.
    Line(RGBColor, bool, Marker),
    /// A bar of a colour (an attempt's outcome).
    Bar(RGBColor),
    /// A thin grey line (a wait).
    Wait,
    /// A short upright stroke in a colour (a call's end).
    Tick(RGBColor),
}

/// Draw `entries` in one row from `(x, y)`, each glyph then its words;
/// wrap to a new row past `width`. Returns the height used.
pub fn legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (x0, y0): (i32, i32),
    width: i32,
    entries: &[(String, Glyph)],
) -> Drawn<i32> {
    let (mut x, mut y) = (x0, y0);
    for (text, glyph) in entries {
        // Labels come out at about 13 px: a character advances up to 8 px
        // in common sans-serif fonts, and the viewer picks the font.
        let w = 24 + 8 * text.chars().count() as i32 + 12;
        if x > x0 && x + w > width {
            (x, y) = (x0, y + 20);
        }
        draw_glyph(area, (x, y + 7), *glyph)?;
        area.draw_text(text, &label(), (x + 24, y))?;
        x += w;
    }
    Ok(y - y0 + 20)
}

fn draw_glyph(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    (x, y): (i32, i32),
    glyph: Glyph,
) -> Drawn<()> {
    match glyph {
        Glyph::Line(colour, dashed, marker) => {
            area.draw(&legend_entry((x, y), colour, dashed, marker))
        }
        Glyph::Bar(colour) => area.draw(&Rectangle::new(
            [(x, y - 5), (x + 18, y + 5)],
            colour.filled(),
        )),
        Glyph::Wait => area.draw(&PathElement::new(
            vec![(x, y), (x + 18, y)],
            WAIT.stroke_width(2),
        )),
        Glyph::Tick(colour) => area.draw(&PathElement::new(
            vec![(x + 9, y - 7), (x + 9, y + 7)],
            colour.stroke_width(3),
        )),
    }
}

/// A series' legend glyph: a short line (dashed or not) through its marker.
fn legend_entry<DB: DrawingBackend>(
    at: (i32, i32),
    colour: RGBColor,
    dashed: bool,
    marker: Marker,
) -> LegendLine<DB> {
    let (a, b) = if dashed { (6, 14) } else { (10, 10) };
    let line = colour.stroke_width(2);
    EmptyElement::at(at)
        + PathElement::new(vec![(0, 0), (a, 0)], line)
        + PathElement::new(vec![(b, 0), (20, 0)], line)
        + Polygon::new(
            marker
                .outline()
                .into_iter()
                .map(|(x, y)| (x + 10, y))
                .collect::<Vec<_>>(),
            colour.filled(),
        )
}

/// Whether `svg` has a text element reading exactly `text` (plotters
/// puts the words on a line of their own).
#[cfg(test)]
pub(crate) fn has_text(svg: &str, text: &str) -> bool {
    svg.contains(&format!(">\n{text}\n</text>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_person_wrote_them() {
        let cases = [
            (0.0, "0"),
            (5.0, "5"),
            (2500.0, "2500"),
            (0.25, "0.25"),
            (0.05, "0.050"),
            (12.4, "12"),
            (1.5, "1.5"),
        ];
        for (v, text) in cases {
            assert_eq!(number(v), text, "{v}");
        }
    }
}
