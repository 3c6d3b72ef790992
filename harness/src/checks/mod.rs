//! The checks the gate runs, each reported by name with a verdict and the detail that explains
//! it.

mod function;
mod image;
mod invoker;

pub(crate) use function::{
    FunctionChecks, INIT_REPORT_WAIT, LAMBDA_INIT_LIMIT, memory_problem, quantile_ms,
};
pub(crate) use image::{Compiled, architecture, image_size, provenance};
pub(crate) use invoker::{Budgets, Invoker, Stop};

use std::collections::BTreeMap;
use std::time::Duration;

/// How a check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Everything it looked at was right.
    Passed,
    /// It found a problem.
    Failed,
    /// It could not run because an earlier step failed (counts as a failure).
    NotRun,
}

impl Status {
    /// The word used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::NotRun => "NOT RUN",
        }
    }
}

/// The outcome of one check.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CheckResult {
    /// Stable name (`architecture`, `golden-replay`, ...).
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// One line: what was checked and what was found.
    pub summary: String,
    /// The evidence for a failure (case id, field, expected, actual, ...), and informational
    /// lines for a pass (per-layer sizes).
    pub details: Vec<String>,
    /// How many cases it exercised (0 for static checks).
    pub cases: usize,
    /// Wall time.
    #[serde(serialize_with = "seconds")]
    pub duration: Duration,
    /// Numbers worth keeping (sizes, durations, latencies).
    pub metrics: BTreeMap<&'static str, serde_json::Value>,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl CheckResult {
    pub(crate) fn new(name: &'static str) -> Self {
        CheckResult {
            name,
            status: Status::Passed,
            summary: String::new(),
            details: Vec::new(),
            cases: 0,
            duration: Duration::ZERO,
            metrics: BTreeMap::new(),
        }
    }

    /// A check that could not run, and why.
    pub(crate) fn not_run(name: &'static str, why: impl Into<String>) -> Self {
        CheckResult {
            status: Status::NotRun,
            summary: why.into(),
            ..CheckResult::new(name)
        }
    }

    /// Records a problem; the check fails.
    pub(crate) fn problem(&mut self, detail: impl Into<String>) {
        self.status = Status::Failed;
        self.details.push(detail.into());
    }

    pub(crate) fn metric(&mut self, key: &'static str, value: impl Into<serde_json::Value>) {
        self.metrics.insert(key, value.into());
    }

    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == Status::Passed
    }
}

/// Formats a byte count for people (binary units, as `docker images` does not).
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
