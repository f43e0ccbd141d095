//! A minimal SVG line chart, enough to show a few series over one x axis.

use std::fmt::Write as _;

/// One named line.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

const COLOURS: [&str; 6] = [
    "#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// Draw `series` in a `width` x 320 chart with axes from zero to the largest values.
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let (width, height, left, bottom, top) = (640.0, 320.0, 70.0, 40.0, 30.0);
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x_max = all().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let y_max = all().map(|p| p.1).fold(0.0, f64::max).max(1e-9);
    let px = |x: f64| left + x / x_max * (width - left - 130.0);
    let py = |y: f64| height - bottom - y / y_max * (height - bottom - top);
    let mut out = String::new();
    let _ = writeln!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{left}" y="18" font-size="13">{title}</text>"#
    );
    let (x0, y0, x1, y1) = (px(0.0), py(0.0), px(x_max), py(y_max));
    let _ = writeln!(
        out,
        r#"<path d="M{x0},{y1} V{y0} H{x1}" stroke="black" fill="none"/>"#
    );
    let _ = writeln!(
        out,
        r#"<text x="{x0}" y="{}">0</text><text x="{x1}" y="{}" text-anchor="end">{x_max:.0} {x_label}</text>"#,
        y0 + 14.0,
        y0 + 14.0
    );
    let _ = writeln!(
        out,
        r#"<text x="{}" y="{y1}" text-anchor="end">{y_max:.0}</text><text x="{}" y="{}" text-anchor="end">{y_label}</text>"#,
        x0 - 4.0,
        x0 - 4.0,
        y1 + 14.0
    );
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            out,
            r#"<polyline points="{}" stroke="{colour}" fill="none" stroke-width="1.5"/>"#,
            path.join(" ")
        );
        let ly = top + 14.0 * i as f64;
        let _ = writeln!(
            out,
            r#"<text x="{}" y="{ly}" fill="{colour}">{}</text>"#,
            width - 120.0,
            s.name
        );
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_drawn_and_named() {
        let s = |name: &str| Series {
            name: name.into(),
            points: vec![(0.0, 1.0), (10.0, 5.0)],
        };
        let svg = lines("t", "x", "y", &[s("a"), s("b")]);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains(">a</text>") && svg.contains(">b</text>"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
