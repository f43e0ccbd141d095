//! The HTML report (`--report DIR`): every scenario in it, every picture
//! and link it refers to present, nothing fetched from outside, the same
//! bytes from the same run; and the guide's timeline is what `replay` draws.

use provider_retry_sim::builtin;
use provider_retry_sim::report;
use provider_retry_sim::run::evaluate;
use provider_retry_sim::subject::Ours;
use std::path::{Path, PathBuf};
use std::process::Command;

fn retry_sim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_retry-sim"))
        .args(args)
        .output()
        .expect("retry-sim runs")
}

/// A fresh directory for one test.
fn fresh(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("retry-sim-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Every value of `attribute="..."` in `html`.
fn attributes<'a>(html: &'a str, attribute: &str) -> Vec<&'a str> {
    let pattern = format!("{attribute}=\"");
    html.match_indices(&pattern)
        .filter_map(|(at, _)| {
            let rest = &html[at + pattern.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Every `src` and `href` of `page` (in `dir`) stays inside `dir` and exists;
/// every `#anchor` names an id on the page. Returns the files referred to.
fn references_resolve(dir: &Path, page: &str) -> Vec<String> {
    let html = std::fs::read_to_string(dir.join(page)).unwrap();
    let ids = attributes(&html, "id");
    let mut files = Vec::new();
    for reference in attributes(&html, "src")
        .into_iter()
        .chain(attributes(&html, "href"))
    {
        assert!(
            !reference.contains("://") && !reference.starts_with("//"),
            "{page}: external reference {reference}"
        );
        if let Some(anchor) = reference.strip_prefix('#') {
            assert!(ids.contains(&anchor), "{page}: no id {anchor}");
            continue;
        }
        assert!(
            !reference.starts_with('/') && !reference.contains(".."),
            "{page}: {reference}"
        );
        assert!(dir.join(reference).is_file(), "{page}: {reference} missing");
        files.push(reference.to_string());
    }
    files
}

#[test]
fn run_report_has_every_scenario_and_everything_it_refers_to() {
    let dir = fresh("run");
    let out = retry_sim(&["run", "--report", dir.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    let ids = attributes(&html, "id");
    for (name, _) in builtin::BUILTIN {
        assert!(ids.contains(name), "no section for {name}");
        assert!(
            html.contains(&format!("href=\"#{name}\"")),
            "{name} not in the contents"
        );
    }
    let files = references_resolve(&dir, "index.html");
    // A timeline and a latency chart per scenario, delays where there were waits.
    assert!(files.len() >= 2 * builtin::BUILTIN.len(), "{files:?}");
    for file in files.iter().filter(|f| f.ends_with(".svg")) {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert!(
            svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
            "{file}"
        );
    }
    assert!(
        files.iter().any(|f| f == "flapping-delays.svg"),
        "flapping retries: its delays are drawn"
    );
}

#[test]
fn the_same_run_writes_the_same_bytes() {
    let (a, b) = (fresh("same-a"), fresh("same-b"));
    for dir in [&a, &b] {
        let out = retry_sim(&[
            "run",
            "flapping",
            "brownout",
            "--seed",
            "3",
            "--report",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0));
    }
    let mut names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    assert!(names.len() > 4, "{names:?}");
    for name in names {
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name:?}"
        );
    }
}

#[test]
fn sweep_and_conform_reports_link_their_pages() {
    let dir = fresh("sweep");
    let out = retry_sim(&[
        "sweep",
        "flapping",
        "--seeds",
        "0..3",
        "--report",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    references_resolve(&dir, "index.html");
    let dir = fresh("conform");
    let args = [
        "conform",
        "bare",
        "--seeds",
        "1",
        "--net-seeds",
        "0",
        "--cases",
        "2",
    ];
    let out = retry_sim(&[&args[..], &["--report", dir.to_str().unwrap()]].concat());
    // The bare provider never retries: findings, each with its page.
    let pages: Vec<String> = references_resolve(&dir, "index.html")
        .into_iter()
        .filter(|f| f.ends_with(".html"))
        .collect();
    assert!(
        !pages.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    for page in &pages {
        let html = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(
            html.contains("cargo run --release -p provider-retry-sim -- replay"),
            "{page}: no replay command"
        );
        assert!(
            references_resolve(&dir, page)
                .iter()
                .any(|f| f.ends_with("-timeline.svg")),
            "{page}"
        );
    }
}

#[test]
fn a_report_into_a_file_is_bad_input_and_runs_nothing() {
    let file = fresh("file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = retry_sim(&["run", "success", "--report", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a directory"), "{err}");
    std::fs::remove_file(&file).unwrap();
}

fn repo_file(path: &str) -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap()
}

/// `retry-sim replay brownout --seed 4 --svg sim/plots/timeline-brownout.svg`
/// draws the guide's timeline (`docs/simulator.md`).
#[test]
fn the_guide_timeline_is_what_replay_draws() {
    let scenario = builtin::get("brownout").expect("built in").expect("parses");
    let e = evaluate(&Ours, &scenario, 4, false).expect("world");
    let drawn = report::svg(&e.trace, report::timeline::SVG_ROWS);
    assert_eq!(
        drawn,
        repo_file("sim/plots/timeline-brownout.svg"),
        "regenerate with the command above"
    );
    assert!(repo_file("docs/simulator.md").contains("sim/plots/timeline-brownout.svg"));
}
