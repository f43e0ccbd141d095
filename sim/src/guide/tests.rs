//! The guide holds together: the README fits on a screen, every chapter is
//! doctested, every relative link lands, and the README's headline table
//! says what the conformance chapter's full table says.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The README's length limit: one screen and a little, so that the guide,
/// not the README, is where detail grows.
const README_MAX_LINES: usize = 160;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    let file = root().join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Every chapter's file name, `docs/*.md`, sorted.
fn chapters() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    names.sort();
    names
}

#[test]
fn the_readme_fits_on_a_screen() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, at most {README_MAX_LINES} allowed: move detail into a chapter of docs/"
    );
}

/// A chapter not included into rustdoc would have examples nobody runs.
#[test]
fn every_chapter_is_included_into_rustdoc() {
    let sim = read("sim/src/guide.rs");
    let wrapper = read("src/guide.rs");
    let names = chapters();
    assert!(names.len() >= 11, "the guide's chapters: {names:?}");
    for name in &names {
        let in_sim = sim.contains(&format!("include_str!(\"../../docs/{name}\")"));
        let in_wrapper = wrapper.contains(&format!("include_str!(\"../docs/{name}\")"));
        assert!(
            in_sim || in_wrapper,
            "docs/{name} is included into neither crate's rustdoc: add it to sim/src/guide.rs"
        );
    }
    assert!(sim.contains("include_str!(\"../../README.md\")"));
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
/// as hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut code = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.starts_with("```") {
            code = !code;
        } else if !code && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// Every `](target)` of a Markdown text whose target is a relative path.
fn relative_links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            rest.find(')').map(|end| rest[..end].to_string())
        })
        .filter(|target| !target.contains("://") && !target.starts_with("mailto:"))
        .collect()
}

#[test]
fn every_relative_link_lands() {
    let mut files: Vec<String> = chapters().iter().map(|n| format!("docs/{n}")).collect();
    files.push("README.md".into());
    for file in &files {
        let dir = Path::new(file).parent().unwrap_or(Path::new(""));
        for link in relative_links(&read(file)) {
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() {
                file.clone()
            } else {
                dir.join(path).to_string_lossy().into_owned()
            };
            assert!(
                root().join(&target).exists(),
                "{file}: the link to {link} names no file"
            );
            if !fragment.is_empty() {
                assert!(
                    anchors(&read(&target)).contains(fragment),
                    "{file}: {target} has no heading for #{fragment}"
                );
            }
        }
    }
}

/// The first Markdown table under a line starting with `head`: its rows,
/// each split into cells.
fn table(text: &str, head: &str) -> Vec<Vec<String>> {
    text.lines()
        .skip_while(|line| !line.starts_with(head))
        .take_while(|line| line.starts_with('|'))
        .filter(|line| !line.starts_with("|---"))
        .map(|line| {
            line.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().to_string())
                .collect()
        })
        .collect()
}

/// A verdict that showed in every run of its case: "violated: ..." from a
/// seedable subject, "violated (5/5 runs): ..." from another. One that
/// showed in only some runs may read otherwise next time.
fn certainly_violated(cell: &str) -> bool {
    let Some(rest) = cell.strip_prefix("violated") else {
        return false;
    };
    match rest.strip_prefix(" (").and_then(|r| r.split_once(" runs)")) {
        Some((ratio, _)) => ratio.split_once('/').is_some_and(|(k, n)| k == n),
        None => true,
    }
}

/// The oracles each subject of the conformance chapter's table broke in
/// every run, by column.
fn broken_by_subject() -> Vec<(String, BTreeSet<String>)> {
    let rows = table(&read("docs/conformance.md"), "| oracle | family |");
    let (head, rows) = rows.split_first().expect("the conformance table");
    head.iter()
        .enumerate()
        .skip(2)
        .map(|(column, subject)| {
            let broken = rows
                .iter()
                .filter(|row| row.get(column).is_some_and(|c| certainly_violated(c)))
                .map(|row| row[0].clone())
                .collect();
            (subject.clone(), broken)
        })
        .collect()
}

/// The README's headline row for a conformance column: its subject cell,
/// without a parenthesis, is the column's name or the name before a comma
/// ("provider-retry" stands for "provider-retry, full jitter" too).
fn covers(headline: &str, column: &str) -> bool {
    let name = headline.split(" (").next().unwrap_or(headline);
    column == name || column.starts_with(&format!("{name},"))
}

#[test]
fn the_readme_headline_says_what_the_conformance_table_says() {
    let headline = table(&read("README.md"), "| subject | oracles it breaks |");
    let (_, headline) = headline.split_first().expect("the README's headline table");
    let oracles = |cell: &str| -> BTreeSet<String> {
        cell.split(", ")
            .filter(|o| *o != "none")
            .map(|o| o.trim_matches('`').to_string())
            .collect()
    };
    for (column, broken) in broken_by_subject() {
        let rows: Vec<&Vec<String>> = headline.iter().filter(|r| covers(&r[0], &column)).collect();
        assert_eq!(
            rows.len(),
            1,
            "the README's headline table needs exactly one row for {column}"
        );
        assert_eq!(
            oracles(&rows[0][1]),
            broken,
            "README headline row {:?} against the conformance table's column {column}",
            rows[0][0]
        );
    }
}

#[test]
fn certain_verdicts_are_those_of_every_run() {
    assert!(certainly_violated("violated: generated seed 0"));
    assert!(certainly_violated("violated (5/5 runs): success seed 0"));
    assert!(!certainly_violated("violated (1/5 runs): success seed 0"));
    assert!(!certainly_violated("held (3 calls, 4 attempts)"));
    assert!(!certainly_violated("not judged"));
}

#[test]
fn anchors_are_githubs() {
    assert_eq!(
        anchor(" One wrapper, many callers"),
        "one-wrapper-many-callers"
    );
    assert_eq!(
        anchor(" The wrapper: `Retrying<P>`"),
        "the-wrapper-retryingp"
    );
    assert_eq!(anchor(" `cargo test`"), "cargo-test");
}

/// The ecosystem table in the README and in the wire chapter is the one
/// the ecosystem test compares its runs with (`BLESS=1` rewrites that one
/// file; copy it here after).
#[test]
fn the_ecosystem_table_shown_is_the_one_the_runs_are_compared_with() {
    let expected = read("sim/tests/suite/ecosystem.md");
    let expected = expected.trim();
    assert!(expected.lines().count() >= 3, "{expected}");
    for shown in ["README.md", "docs/wire.md"] {
        assert!(
            read(shown).contains(expected),
            "{shown} does not show sim/tests/suite/ecosystem.md as it is"
        );
    }
}
