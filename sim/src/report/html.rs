//! HTML pieces: escaping, the page skeleton with its inline style sheet, tables.

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The inline style sheet: the report needs no file but its own.
const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:.2em}h3{margin-top:1.4em}\
table{border-collapse:collapse;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}\
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}\
.held{color:#0a7d4f}.violated{color:#b3261e;font-weight:600}.muted{color:#777}\
pre,code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}pre{background:#f7f7f7;padding:.7em;white-space:pre-wrap;overflow-wrap:anywhere;border:1px solid #eee}\
img{max-width:100%;height:auto;border:1px solid #eee;margin:.4em 0}\
nav a{margin-right:.8em}.badge{display:inline-block;white-space:nowrap;padding:0 .5em;border-radius:.6em;font-size:.85em}\
.badge.held{background:#e3f5ec}.badge.violated{background:#fbe4e2}.badge.muted{background:#eee}";

/// A whole page: `title`, then `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// A table: `head` cells as text, `rows` cells already HTML.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::from("<table>\n<tr>");
    for h in head {
        out.push_str(&format!("<th>{}</th>", escape(h)));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&format!("<td>{cell}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    out
}

/// A verdict badge: held (green) or violated (red), with `text`.
pub fn badge(held: bool, text: &str) -> String {
    let class = if held { "held" } else { "violated" };
    format!("<span class=\"badge {class}\">{}</span>", escape(text))
}

/// A grey badge for an oracle that judged nothing: neither held nor violated.
pub fn not_judged(text: &str) -> String {
    format!("<span class=\"badge muted\">{}</span>", escape(text))
}

/// An image file in the report's directory, by its relative name.
pub fn image(file: &str, alt: &str) -> String {
    format!(
        "<p><img src=\"{}\" alt=\"{}\"></p>\n",
        escape(file),
        escape(alt)
    )
}

/// A file name made of `parts`: letters, digits and `-` only, so any
/// scenario name (a path, even) gives a name that needs no escaping.
pub fn slug(parts: &[&str]) -> String {
    let joined = parts.join("-");
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        match c.is_ascii_alphanumeric() {
            true => out.push(c.to_ascii_lowercase()),
            false if !out.ends_with('-') => out.push('-'),
            false => {}
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_open_a_tag_or_leave_an_attribute() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn slugs_are_plain_file_names() {
        assert_eq!(
            slug(&["../My Scenarios/a.toml", "timeline"]),
            "my-scenarios-a-toml-timeline"
        );
    }

    #[test]
    fn a_page_has_no_external_reference() {
        let html = page("t", &table(&["a"], &[vec![badge(true, "held")]]));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.starts_with("<!DOCTYPE html>"));
    }
}
