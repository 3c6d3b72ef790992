//! The gate's verdict in the forms its readers use: a table on the terminal (`terminal.rs`),
//! JUnit XML for CI test tabs and Markdown for the GitHub job summary (`ci.rs`), JSON for
//! tools (here, with the files they are written to).

mod ci;
mod terminal;

pub(crate) use terminal::fit_line;

use crate::arch::Arch;
use crate::checks::{CheckId, CheckResult, Status};
use crate::image::ImageFacts;
use crate::runtime::RieOrigin;
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
/// (new fields may appear without a change). 2: a check whose cause failed is `not_judged`
/// with its `cause`, where 1 said `not_run`.
pub(crate) const JSON_SCHEMA_VERSION: u32 = 2;

/// The JSON report: its schema version and verdict first, then the report.
#[derive(serde::Serialize)]
struct JsonReport<'a> {
    schema_version: u32,
    /// `passed` or `failed`.
    verdict: &'static str,
    /// The first failed check, when the verdict is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    first_cause: Option<CheckId>,
    /// The gate that wrote it.
    gate: GateBuild,
    #[serde(flatten)]
    report: &'a Report,
}

/// Which gate wrote a report: its version and the commit it was built from (`-dirty` when
/// the gate's sources had uncommitted changes, `unknown` outside a git checkout).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub(crate) struct GateBuild {
    /// `CARGO_PKG_VERSION`.
    pub(crate) version: &'static str,
    /// The commit, as `harness/build.rs` found it.
    pub(crate) commit: &'static str,
}

impl GateBuild {
    /// This gate.
    pub(crate) const THIS: GateBuild = GateBuild {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("LAMBDA_GATE_COMMIT"),
    };
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
    #[error("cannot serialise the JUnit report")]
    Junit(#[source] quick_junit::SerializeError),
}

impl Report {
    /// Whether every check passed: the image may be pushed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckResult::passed)
    }

    /// The check `name`, if it is in the report.
    pub fn check(&self, name: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The first failed check, in check order: the cause the verdict names. The checks after
    /// it fail for causes of their own or are not judged because of it.
    pub fn first_cause(&self) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.status == Status::Failed)
    }

    /// What follows the verdict when it failed: its first cause, then the names of the other
    /// failed checks and of those not judged (empty when it passed).
    pub(crate) fn causes(&self) -> Vec<String> {
        let Some(first) = self.first_cause() else {
            return Vec::new();
        };
        let named = |status: Status| -> Vec<&str> {
            self.checks
                .iter()
                .filter(|c| c.status == status && c.name != first.name)
                .map(|c| c.name.name())
                .collect()
        };
        let mut lines = vec![format!("first cause: {}: {}", first.name, first.summary)];
        let (failed, not_judged) = (named(Status::Failed), named(Status::NotJudged));
        if !failed.is_empty() {
            lines.push(format!("also failed: {}", failed.join(", ")));
        }
        if !not_judged.is_empty() {
            lines.push(format!(
                "not judged (an earlier check failed): {}",
                not_judged.join(", ")
            ));
        }
        lines
    }

    pub(crate) fn verdict(&self) -> &'static str {
        // A report without image facts is `replay`'s, of a deployed function: no image to push.
        match (self.passed(), self.image_facts.is_some()) {
            (true, true) => "PASSED: the image may be pushed",
            (false, true) => "FAILED: do not push this image",
            (true, false) => "PASSED: the deployed function answers as its goldens say",
            (false, false) => "FAILED: the deployed function does not answer as its goldens say",
        }
    }

    /// Writes `gate-<arch>.json`, `gate-<arch>.junit.xml` and `gate-<arch>.md` into `dir`.
    pub fn write_files(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let write = |name: String, contents: &[u8]| write_file(dir, name, contents);
        let json = serde_json::to_vec_pretty(&JsonReport {
            schema_version: JSON_SCHEMA_VERSION,
            verdict: if self.passed() { "passed" } else { "failed" },
            first_cause: self.first_cause().map(|c| c.name),
            gate: GateBuild::THIS,
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

#[cfg(test)]
mod tests {
    use super::Report;
    use crate::checks::{CheckId, CheckResult, Status};

    /// A stale-goldens report: provenance and golden replay fail, the malformed checks are not
    /// judged because no golden case matched.
    fn stale() -> Report {
        let mut checks = vec![CheckResult::new(CheckId::Architecture)];
        for (id, summary) in [
            (
                CheckId::Provenance,
                "the model in the image is not the model the goldens came from",
            ),
            (
                CheckId::GoldenReplay,
                "224 of 224 cases differ from the training-time model",
            ),
        ] {
            let mut check = CheckResult::new(id);
            check.problem("a detail");
            check.summary = summary.to_owned();
            checks.push(check);
        }
        checks.push(CheckResult::not_judged(
            CheckId::MalformedCorpus,
            CheckId::GoldenReplay,
            "no golden case matched",
        ));
        Report {
            arch: crate::arch::Arch::X86_64,
            function: "f".to_owned(),
            image: "f:1".to_owned(),
            rie: None,
            model_version: None,
            checks,
            image_facts: None,
            duration: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn the_verdict_names_the_first_cause_and_not_judged_checks_are_no_failures() {
        let report = stale();
        assert!(!report.passed());
        assert_eq!(
            report.first_cause().map(|c| c.name),
            Some(CheckId::Provenance)
        );
        let text = report.render(80, false);
        let tail: Vec<&str> = text.lines().rev().take(4).collect();
        assert_eq!(
            tail,
            [
                "  not judged (an earlier check failed): malformed-corpus",
                "  also failed: golden-replay",
                "    came from",
                "  first cause: provenance: the model in the image is not the model the goldens",
            ],
            "{text}"
        );
        assert!(text.contains("┆ NOT JUDGED ┆"), "{text}");
        assert!(
            !text.contains("\nNOT JUDGED malformed-corpus"),
            "no block of its own without evidence: {text}"
        );
        let markdown = report.markdown();
        assert!(
            markdown.contains("First cause: `provenance`: the model in the image"),
            "{markdown}"
        );
        assert!(
            markdown.contains("| malformed-corpus | ⏭️ NOT JUDGED |"),
            "{markdown}"
        );
        let junit = report.junit_xml().unwrap();
        assert!(
            junit.contains("<skipped message=\"not judged: no golden case matched\"/>"),
            "{junit}"
        );
        assert_eq!(junit.matches("<failure").count(), 2, "{junit}");
        assert_eq!(
            report.workflow_errors(),
            "::error title=lambda-gate provenance (first cause)::the model in the image is not the model the goldens came from\n\
             ::error title=lambda-gate golden-replay::224 of 224 cases differ from the training-time model\n"
        );
    }

    #[test]
    fn the_cases_column_shows_a_dash_for_checks_that_judge_no_cases() {
        let mut report = stale();
        report.checks[2].cases = Some(224);
        let table = report.table();
        let cases = |name: &str| -> String {
            let row = table
                .lines()
                .find(|l| l.starts_with(&format!("│ {name} ")))
                .unwrap_or_else(|| panic!("no {name} row in\n{table}"));
            row.split('┆').nth(2).unwrap_or_default().trim().to_owned()
        };
        assert_eq!(cases("architecture"), "-");
        assert_eq!(cases("golden-replay"), "224");
        assert_eq!(cases("malformed-corpus"), "-");
        assert!(report.markdown().contains("| architecture | ✅ PASS | - |"));
    }

    #[test]
    fn the_json_report_says_not_judged_with_its_cause_and_the_first_cause() {
        let dir = tempfile::tempdir().unwrap();
        let written = stale().write_files(dir.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&written[0]).unwrap()).unwrap();
        assert_eq!(json["schema_version"], 2);
        assert_eq!(json["first_cause"], "provenance");
        let malformed = &json["checks"][3];
        assert_eq!(malformed["status"], "not_judged");
        assert_eq!(malformed["cause"], "golden-replay");
        assert!(json["checks"][1].get("cause").is_none());
        assert!(
            json["checks"][0]["cases"].is_null(),
            "a static check judges no cases"
        );
        assert_eq!(Status::NotJudged.label(), "NOT JUDGED");
    }
}
