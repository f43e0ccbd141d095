//! The report's directory: `index.html` and the image files its pages
//! refer to by relative names, so the directory opens from disk anywhere
//! and needs nothing from outside.

use super::html::{self, escape};
use super::page::Section;
use std::path::{Path, PathBuf};

/// Where a report goes, checked before anything runs.
#[derive(Debug, Clone)]
pub struct Site {
    dir: PathBuf,
}

impl Site {
    /// Make `dir` ready, creating it (and its parents) if needed.
    ///
    /// # Errors
    ///
    /// `dir` exists and is not a directory, or cannot be created.
    pub fn prepare(dir: &Path) -> Result<Site, String> {
        if dir.exists() && !dir.is_dir() {
            return Err(format!(
                "--report {}: exists and is not a directory",
                dir.display()
            ));
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("--report {}: {e}", dir.display()))?;
        Ok(Site {
            dir: dir.to_path_buf(),
        })
    }

    /// The directory, as given.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Write `contents` to `name` inside the directory.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub fn write(&self, name: &str, contents: &str) -> Result<(), String> {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Write every file of `sections`.
    ///
    /// # Errors
    ///
    /// A file cannot be written.
    pub fn write_files(&self, sections: &[Section]) -> Result<(), String> {
        for s in sections {
            for (name, contents) in &s.files {
                self.write(name, contents)?;
            }
        }
        Ok(())
    }

    /// Write the report of runs against the subject called `subject`
    /// (`--subject key`), `intro` saying which seeds, `text` (a table
    /// printed on the terminal, shown as is), and say where it is.
    ///
    /// # Errors
    ///
    /// A file cannot be written.
    pub fn write_runs(
        &self,
        subject: &str,
        key: &str,
        intro: &str,
        text: Option<&str>,
        sections: &[Section],
    ) -> Result<(), String> {
        let mut html = format!(
            "<p>{} (<code>--subject {}</code>), {}.</p>\n",
            escape(subject),
            escape(key),
            escape(intro)
        );
        if let Some(text) = text {
            html.push_str(&format!("<pre>{}</pre>\n", escape(text)));
        }
        self.write_index("provider-retry simulation report", &html, sections)?;
        eprintln!("report: {}", self.dir.join("index.html").display());
        Ok(())
    }

    /// Write `index.html`: `title`, `intro` (HTML), a contents table linking
    /// each section with its verdict, then the sections; and their files.
    ///
    /// # Errors
    ///
    /// A file cannot be written.
    pub fn write_index(
        &self,
        title: &str,
        intro: &str,
        sections: &[Section],
    ) -> Result<(), String> {
        self.write_files(sections)?;
        let rows: Vec<Vec<String>> = sections
            .iter()
            .map(|s| {
                let verdict = match s.passed {
                    true => html::badge(true, "passed"),
                    false => html::badge(false, "FAILED"),
                };
                let mut row = vec![
                    format!("<a href=\"#{}\">{}</a>", s.id, escape(&s.heading)),
                    verdict,
                ];
                row.extend(
                    s.row
                        .iter()
                        .map(|c| format!("<span class=\"num\">{}</span>", escape(c))),
                );
                row
            })
            .collect();
        let mut body = format!("<h1>{}</h1>\n{intro}", escape(title));
        let head = [
            "scenario",
            "verdict",
            "calls",
            "success rate",
            "attempts per call",
            "p99 latency",
        ];
        body.push_str(&html::table(&head, &rows));
        for s in sections {
            body.push_str(&s.html);
        }
        self.write("index.html", &html::page(title, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_bad_input() {
        let file = std::env::temp_dir().join(format!("retry-sim-site-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let err = Site::prepare(&file).unwrap_err();
        assert!(err.contains("not a directory"), "{err}");
        std::fs::remove_file(&file).unwrap();
    }
}
