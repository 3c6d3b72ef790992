//! The gate's verdict in the forms its readers use: a table on the terminal, JUnit XML for CI
//! test tabs, JSON for tools, Markdown for the GitHub job summary.

use crate::arch::Arch;
use crate::checks::{CheckResult, Status};
use crate::image::ImageFacts;
use crate::rie::RieOrigin;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Everything one gate run found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    /// The architecture verified.
    pub arch: Arch,
    /// The function's name (from its spec).
    pub function: String,
    /// The image verified.
    pub image: String,
    /// Which emulator ran it.
    pub rie: Option<RieOrigin>,
    /// `model_version` the goldens belong to, if their manifest records one.
    pub model_version: Option<String>,
    /// The checks, in the order they ran.
    pub checks: Vec<CheckResult>,
    /// What the image holds.
    pub image_facts: Option<ImageFacts>,
    /// Wall time of the whole run (build included).
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// Version of the JSON report's layout: raised when a field changes meaning or goes away
/// (new fields may appear without a change).
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// The JSON report: its schema version and verdict first, then the report.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    /// `passed` or `failed`.
    verdict: &'static str,
    #[serde(flatten)]
    report: &'a Report,
}

/// Why a report file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Writing a file failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// JSON serialisation failed.
    #[error("cannot serialise the JSON report")]
    Json(#[source] serde_json::Error),
    /// JUnit serialisation failed.
    #[error("cannot serialise the JUnit report: {0}")]
    Junit(String),
}

impl Report {
    /// Whether every check passed: the image may be pushed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckResult::passed)
    }

    /// The named check, if it ran.
    pub fn check(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }

    fn verdict(&self) -> &'static str {
        // A report without image facts is `replay`'s, of a deployed function: no image to push.
        match (self.passed(), self.image_facts.is_some()) {
            (true, true) => "PASSED: the image may be pushed",
            (false, true) => "FAILED: do not push this image",
            (true, false) => "PASSED: the deployed function answers as its goldens say",
            (false, false) => "FAILED: the deployed function does not answer as its goldens say",
        }
    }

    /// The summary table, 120 columns wide and without colour, followed by the details of
    /// every failure.
    pub fn table(&self) -> String {
        self.render(120, false)
    }

    /// The summary table at `width` columns (the terminal's), verdicts in colour when
    /// `color`, followed by the details of every failure. Below 100 columns the `cases` column
    /// is left out so the details keep room.
    pub fn render(&self, width: u16, color: bool) -> String {
        use comfy_table::{Cell, Color};
        let narrow = width < 100;
        let paint = |text: String, status: Status| {
            let cell = Cell::new(text);
            if !color {
                return cell;
            }
            match status {
                Status::Passed => cell.fg(Color::Green),
                Status::Failed => cell.fg(Color::Red),
                Status::NotRun => cell.fg(Color::Yellow),
            }
        };
        let mut table = comfy_table::Table::new();
        table
            .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(width);
        if color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        if narrow {
            table.set_header(["check", "result", "time", "detail"]);
        } else {
            table.set_header(["check", "result", "cases", "time", "detail"]);
        }
        for check in &self.checks {
            let mut row = vec![
                Cell::new(check.name),
                paint(check.status.label().to_owned(), check.status),
            ];
            if !narrow {
                row.push(Cell::new(check.cases));
            }
            row.push(Cell::new(format!("{:.1}s", check.duration.as_secs_f64())));
            row.push(Cell::new(&check.summary));
            table.add_row(row);
        }
        let mut out = fit_line(
            &format!(
                "Lambda gate: {} ({}), image {}",
                self.function, self.arch, self.image
            ),
            width,
        );
        if let Some(rie) = &self.rie {
            out.push_str(&fit_line(&format!("emulator: {}", rie.describe()), width));
        }
        let _ = writeln!(out, "{table}");
        for check in self.checks.iter().filter(|c| !c.passed()) {
            let label = paint_text(check.status.label(), check.status, color);
            let _ = writeln!(out, "\n{label} {}: {}", check.name, check.summary);
            for detail in check.details.iter().take(20) {
                let _ = writeln!(out, "  - {}", detail.replace('\n', "\n    "));
            }
            if check.details.len() > 20 {
                let _ = writeln!(
                    out,
                    "  ... and {} more (see the JSON report)",
                    check.details.len() - 20
                );
            }
        }
        let status = if self.passed() {
            Status::Passed
        } else {
            Status::Failed
        };
        let _ = writeln!(
            out,
            "\n{} ({:.0}s)",
            paint_text(self.verdict(), status, color),
            self.duration.as_secs_f64()
        );
        out
    }

    /// GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY`.
    pub fn markdown(&self) -> String {
        let icon = |s: Status| match s {
            Status::Passed => "✅",
            Status::Failed => "❌",
            Status::NotRun => "⏭️",
        };
        let mut md = format!(
            "### Lambda gate: {} ({}) `{}`\n\n**{}** in {:.0}s{}\n\n{}| check | result | cases | time | detail |\n|---|---|---:|---:|---|\n",
            self.function,
            self.arch,
            self.image,
            self.verdict(),
            self.duration.as_secs_f64(),
            self.model_version
                .as_ref()
                .map_or(String::new(), |v| format!(", model_version `{v}`")),
            self.rie
                .as_ref()
                .map_or(String::new(), |r| format!("Emulator: {}\n\n", r.describe()))
        );
        for c in &self.checks {
            let _ = writeln!(
                md,
                "| {} | {} {} | {} | {:.1}s | {} |",
                c.name,
                icon(c.status),
                c.status.label(),
                c.cases,
                c.duration.as_secs_f64(),
                c.summary.replace('|', "\\|")
            );
        }
        for c in self.checks.iter().filter(|c| !c.passed()) {
            let _ = writeln!(
                md,
                "\n<details><summary>{} details</summary>\n\n```",
                c.name
            );
            for d in c.details.iter().take(50) {
                let _ = writeln!(md, "{d}");
            }
            let _ = writeln!(md, "```\n</details>");
        }
        md
    }

    /// JUnit XML: one test case per check.
    pub fn junit_xml(&self) -> Result<String, ReportError> {
        use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
        let mut report = quick_junit::Report::new("lambda-gate");
        let mut suite = TestSuite::new(format!("lambda-gate.{}", self.arch));
        for c in &self.checks {
            let status = match c.status {
                Status::Passed => TestCaseStatus::success(),
                Status::Failed => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(c.summary.clone())
                        .set_description(c.details.join("\n"));
                    s
                }
                Status::NotRun => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
                    s.set_message(c.summary.clone());
                    s
                }
            };
            let mut case = TestCase::new(c.name, status);
            case.set_classname(format!("lambda-gate.{}", self.arch))
                .set_time(c.duration);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        report
            .to_string()
            .map_err(|e| ReportError::Junit(e.to_string()))
    }

    /// Writes `gate-<arch>.json`, `gate-<arch>.junit.xml` and `gate-<arch>.md` into `dir`.
    pub fn write_files(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let write = |name: String, contents: &[u8]| write_file(dir, name, contents);
        let json = serde_json::to_vec_pretty(&JsonReport {
            schema_version: JSON_SCHEMA_VERSION,
            verdict: if self.passed() { "passed" } else { "failed" },
            report: self,
        })
        .map_err(ReportError::Json)?;
        Ok(vec![
            write(format!("gate-{}.json", self.arch), &json)?,
            write(
                format!("gate-{}.junit.xml", self.arch),
                self.junit_xml()?.as_bytes(),
            )?,
            write(format!("gate-{}.md", self.arch), self.markdown().as_bytes())?,
        ])
    }

    /// Appends the Markdown summary to the file `$GITHUB_STEP_SUMMARY` names, when it is set.
    pub fn append_step_summary(&self) -> Result<Option<PathBuf>, ReportError> {
        append_to_env_file("GITHUB_STEP_SUMMARY", &self.markdown())
    }

    /// Appends the run's results as step outputs (`verdict`, `image`, `image-id`) to the file
    /// `$GITHUB_OUTPUT` names, when it is set, so a workflow can act on exactly the image
    /// that was verified.
    pub fn append_step_outputs(&self) -> Result<Option<PathBuf>, ReportError> {
        let id = self.image_facts.as_ref().map_or("", |f| f.id.as_str());
        let outputs = format!(
            "verdict={}\nimage={}\nimage-id={id}\narch={}\n",
            if self.passed() { "passed" } else { "failed" },
            self.image,
            self.arch
        );
        append_to_env_file("GITHUB_OUTPUT", &outputs)
    }
}

/// Appends `text` to the file the environment variable `name` names, if it is set.
fn append_to_env_file(name: &str, text: &str) -> Result<Option<PathBuf>, ReportError> {
    let Some(path) = std::env::var_os(name).map(PathBuf::from) else {
        return Ok(None);
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })?;
    Ok(Some(path))
}

/// Writes `contents` to `dir/name`, creating `dir`; the path written.
pub(crate) fn write_file(
    dir: &Path,
    name: String,
    contents: &[u8],
) -> Result<PathBuf, ReportError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, contents))
        .map_err(|source| ReportError::Write {
            path: path.clone(),
            source,
        })
        .map(|()| path)
}

/// `line` and a newline, broken after its commas into indented lines where it is wider than
/// `width` columns, so a header never wraps mid-word (an image reference cut in two reads as
/// two names).
pub(crate) fn fit_line(line: &str, width: u16) -> String {
    let width = usize::from(width);
    let mut out = String::new();
    let mut current = String::new();
    for piece in line.split_inclusive(", ") {
        let wide = current.chars().count() + piece.trim_end().chars().count() > width;
        if !current.trim().is_empty() && wide {
            out.push_str(current.trim_end());
            out.push('\n');
            current = "  ".to_owned();
        }
        current.push_str(piece);
    }
    out.push_str(current.trim_end());
    out.push('\n');
    out
}

/// `text` in the colour of `status` (bold), or plain.
fn paint_text(text: &str, status: Status, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let style = console::Style::new().bold().force_styling(true);
    let style = match status {
        Status::Passed => style.green(),
        Status::Failed => style.red(),
        Status::NotRun => style.yellow(),
    };
    style.apply_to(text).to_string()
}

#[cfg(test)]
mod fit_tests {
    use super::fit_line;

    #[test]
    fn a_header_wider_than_the_terminal_breaks_after_its_commas() {
        let line =
            "Lambda gate: loan-grade (x86_64), image loan-grade-service:x86_64-b2c28dcfcf6d20ab";
        assert_eq!(
            fit_line(line, 80),
            "Lambda gate: loan-grade (x86_64),\n  image loan-grade-service:x86_64-b2c28dcfcf6d20ab\n"
        );
        assert_eq!(fit_line(line, 120), format!("{line}\n"));
        // A piece wider than the terminal on its own stays whole.
        assert_eq!(fit_line("a, bbbbbbbbbb", 4), "a,\n  bbbbbbbbbb\n");
    }

    #[test]
    fn the_report_fits_an_80_column_terminal() {
        let report = super::Report {
            arch: crate::arch::Arch::X86_64,
            function: "loan-grade".to_owned(),
            image: "loan-grade-service:x86_64-b2c28dcfcf6d20ab".to_owned(),
            rie: Some(crate::rie::RieOrigin::Pinned {
                sam_cli_version: "1.170.0",
                sha256: "6b1e686e62ab2baf6b1e686e62ab2baf6b1e686e62ab2baf6b1e686e62ab2baf",
            }),
            model_version: None,
            checks: Vec::new(),
            image_facts: None,
            duration: std::time::Duration::ZERO,
        };
        let text = report.render(80, false);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "wider than 80 columns: {line:?}"
            );
        }
        assert!(text.contains("image loan-grade-service:x86_64-b2c28dcfcf6d20ab\n"));
    }
}
