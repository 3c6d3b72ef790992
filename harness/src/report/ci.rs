//! The report for CI: GitHub-flavoured Markdown for the job summary, JUnit XML for test tabs,
//! and the step outputs a workflow acts on.

use super::{Report, ReportError};
use crate::checks::Status;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

impl Report {
    /// GitHub-flavoured Markdown, for `$GITHUB_STEP_SUMMARY`.
    pub fn markdown(&self) -> String {
        let icon = |s: Status| match s {
            Status::Passed => "✅",
            Status::Failed => "❌",
            Status::NotJudged => "⏭️",
        };
        let mut md = format!(
            "### Lambda gate: {} ({}) `{}`\n\n**{}** in {:.0}s{}\n\n{}",
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
        if let Some(facts) = self.image_facts.as_ref().filter(|_| self.passed()) {
            let _ = writeln!(md, "Verified image id: `{}`\n", facts.id);
        }
        if let Some(first) = self.first_cause() {
            // Above the table: the one line a reader of the job summary needs first.
            let _ = writeln!(
                md,
                "First cause: `{}`: {}\n",
                first.name,
                first.summary.replace('|', "\\|")
            );
        }
        md.push_str("| check | result | cases | time | detail |\n|---|---|---:|---:|---|\n");
        for c in &self.checks {
            let _ = writeln!(
                md,
                "| {} | {} {} | {} | {:.1}s | {} |",
                c.name,
                icon(c.status),
                c.status.label(),
                c.cases.map_or("-".to_owned(), |n| n.to_string()),
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
                // Skipped: its cause fails as its own test case; this one is no second failure.
                Status::NotJudged => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(c.summary.clone());
                    s
                }
            };
            let mut case = TestCase::new(c.name.name(), status);
            case.set_classname(format!("lambda-gate.{}", self.arch))
                .set_time(c.duration);
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
        report.to_string().map_err(ReportError::Junit)
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
impl Report {
    /// GitHub Actions' `::error::` workflow command for each failed check (not for those not
    /// judged: their cause has its own), so each shows as an annotation of the run; the first
    /// cause says so.
    pub fn workflow_errors(&self) -> String {
        let first = self.first_cause().map(|c| c.name);
        let mut out = String::new();
        for check in self.checks.iter().filter(|c| c.status == Status::Failed) {
            let role = if Some(check.name) == first {
                " (first cause)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "::error title=lambda-gate {}{role}::{}",
                check.name,
                escape_workflow_data(&check.summary)
            );
        }
        out
    }
}

/// A workflow command's message as GitHub Actions reads it: `%`, CR and LF escaped.
fn escape_workflow_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
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
