//! The conformance report: a verdict table (oracle and family by subject)
//! whose every finding links to its own page: what broke, the smallest
//! scenario that breaks it, the command that replays it, and that run's
//! timeline and delays.

use super::html::{self, escape};
use super::page::{self, Judged, Section};
use super::site::Site;
use crate::check::ORACLES;
use crate::check::verdict::NOT_JUDGED;
use crate::run::conform::{Family, Finding, Options, Report};
use crate::run::{evaluate, replay_command};
use crate::subject::{Subject, SubjectName, Visit, visit};

/// The page of `report`'s finding for `oracle` in `family`.
pub fn finding_file(report: &Report, oracle: &str, family: Family) -> String {
    html::slug(&["finding", &report.key, oracle, &family.to_string()]) + ".html"
}

/// Writes a page per finding of one subject's report, re-running each
/// finding's scenario and seed to draw it.
pub struct FindingPages<'a> {
    /// The subject's verdicts, whose findings get pages.
    pub report: &'a Report,
    /// Where the pages are written, and how they link.
    pub site: &'a Site,
}

impl Visit for FindingPages<'_> {
    type Output = Result<(), String>;

    fn visit<S: Subject>(self, subject: &S) -> Self::Output {
        for (&(oracle, family), f) in &self.report.findings {
            let file = finding_file(self.report, oracle, family);
            let stem = file.trim_end_matches(".html");
            let target = match f.name.as_str() {
                "generated" => {
                    let toml_file = format!("{stem}.toml");
                    let text = toml::to_string(&f.scenario).map_err(|e| e.to_string())?;
                    self.site.write(&toml_file, &text)?;
                    self.site.dir().join(toml_file).display().to_string()
                }
                builtin => builtin.to_string(),
            };
            let replay = replay_command(&target, f.seed, &self.report.key);
            let e = evaluate(subject, &f.scenario, f.seed, false)
                .map_err(|e| format!("cannot start a world: {e}"))?;
            let claim = subject.claim(&f.scenario.policy);
            let judged = Judged {
                name: &target,
                scenario: &f.scenario,
                evaluation: &e,
                claim: &claim,
                replay,
            };
            let section = page::section(&judged, stem);
            self.site.write_files(std::slice::from_ref(&section))?;
            let body = finding_body(self.report, oracle, family, f, &section);
            self.site.write(
                &file,
                &html::page(&format!("{oracle}: {}", self.report.subject), &body),
            )?;
        }
        Ok(())
    }
}

fn finding_body(
    report: &Report,
    oracle: &str,
    family: Family,
    f: &Finding,
    section: &Section,
) -> String {
    let runs = match (f.pooled_seeds, f.runs) {
        (Some(n), _) => format!("judged over seeds 0..{n} pooled"),
        (None, 1) => format!("seed {}", f.seed),
        (None, runs) => format!("seed {}, violated in {} of {runs} runs", f.seed, f.violated),
    };
    let origin = match f.name.as_str() {
        "generated" => "the smallest failing generated scenario (shrunk)",
        _ => "a built-in scenario",
    };
    format!(
        "<nav><a href=\"index.html\">\u{2190} all verdicts</a></nav>\n<h1>{} violates <code>{oracle}</code> ({family})</h1>\n<p>In {origin}, {}:</p>\n<pre>{}</pre>\n<p>The run again, drawn; its replay command and scenario are at the end.</p>\n{}",
        escape(&report.subject),
        escape(&runs),
        escape(&f.violation.to_string()),
        section.html
    )
}

/// The verdict table: a row per oracle, a column per subject, and in
/// each cell a badge per family; each violation links to its finding's page.
pub fn table(reports: &[Report]) -> String {
    let mut head = vec!["oracle"];
    head.extend(reports.iter().map(|r| r.subject.as_str()));
    let mut rows: Vec<Vec<String>> = ORACLES
        .iter()
        .map(|oracle| {
            let mut row = vec![format!("<code>{oracle}</code>")];
            row.extend(reports.iter().map(|r| cell(r, oracle)));
            row
        })
        .collect();
    let mut row = vec!["deterministic".to_string()];
    row.extend(
        reports
            .iter()
            .map(|r| match (&r.nondeterministic, r.seedable) {
                (_, false) => {
                    "<span class=\"muted\">not seedable: repeated runs</span>".to_string()
                }
                (Some(first), true) => html::badge(false, &format!("no: {first}")),
                (None, true) => html::badge(true, "every run repeated"),
            }),
    );
    rows.push(row);
    html::table(&head, &rows)
}

fn cell(r: &Report, oracle: &str) -> String {
    let badges: Vec<String> = Family::ALL
        .iter()
        .map(|&family| match r.finding(oracle, family) {
            None => match r.tally(oracle, family) {
                t if t.judged() => html::badge(true, &format!("{family}: {t}")),
                _ => html::not_judged(&format!("{family}: {NOT_JUDGED}")),
            },
            Some(f) => format!(
                "<a href=\"{}\" title=\"{} seed {}\">{}</a>",
                finding_file(r, oracle, family),
                escape(&f.name),
                f.seed,
                html::badge(false, &format!("{family}: violated")),
            ),
        })
        .collect();
    badges.join(" ")
}

/// Write the conformance report of `reports` (one per subject of `names`,
/// in order): a page per finding, then the index.
///
/// # Errors
///
/// A world that cannot start again, or a file that cannot be written.
pub fn write(
    site: &Site,
    names: &[SubjectName],
    reports: &[Report],
    options: &Options,
) -> Result<(), String> {
    for (name, report) in names.iter().zip(reports) {
        visit(*name, FindingPages { report, site })?;
    }
    let intro = format!(
        "<p>Built-in scenarios x seeds 0..{} (network: 0..{}), {} generated scenarios per oracle (generator seed {}).</p>\n",
        options.seeds, options.net_seeds, options.cases, options.seed
    );
    write_index(site, &intro, reports)?;
    eprintln!("report: {}", site.dir().join("index.html").display());
    Ok(())
}

/// Write the conformance `index.html`: `intro` (HTML), then the table.
///
/// # Errors
///
/// The file cannot be written.
pub fn write_index(site: &Site, intro: &str, reports: &[Report]) -> Result<(), String> {
    let title = "provider-retry conformance";
    let key = "<p>Each cell: a badge per family of scenarios (built-in, network, generated), green where the oracle held (with the calls and attempts it judged, or the samples for the delay distribution), red where it was violated, linking to the finding, grey where it judged nothing.</p>\n";
    let body = format!("<h1>{title}</h1>\n{intro}{key}{}", table(reports));
    site.write("index.html", &html::page(title, &body))
}
