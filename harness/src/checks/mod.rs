//! The checks the gate runs, each reported by its [`CheckId`] with a verdict and the detail that
//! explains it: the static ones read the image (`image.rs`), the function checks invoke it
//! (`function/`) through one [`Invoker`] that keeps the run's time limits.

mod function;
mod image;
mod invoker;

pub(crate) use function::{FunctionChecks, InitVerdict};
pub(crate) use image::{Compiled, architecture, image_size, provenance};
pub(crate) use invoker::{Budgets, Invoker, Stop};

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Every check the gate and `push` report, by its stable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CheckId {
    /// The image is for the function's architecture where it matters.
    Architecture,
    /// Uncompressed size within Lambda's limit and the team's budget.
    ImageSize,
    /// The image's model is the goldens' model.
    Provenance,
    /// The function starts and initialises within Lambda's limit.
    Init,
    /// Every golden case gets the training-time prediction.
    GoldenReplay,
    /// The generic and own malformed payloads get the answers they must.
    MalformedCorpus,
    /// Generated payloads get contract answers.
    MalformedGenerated,
    /// What Lambda enforces and the emulator does not: payload sizes, timeouts, memory.
    LambdaLimits,
    /// `push`: the local image is still the verified one.
    VerifiedImage,
    /// `push`: the registry holds a single image manifest of the verified image.
    PushedManifest,
    /// `push`: the pushed config is the function's platform.
    PushedConfig,
    /// `push`: the pushed tag names the pushed manifest.
    PushedTag,
}

impl CheckId {
    /// `verify`'s checks, in the order they run and are reported.
    pub const VERIFY: [CheckId; 8] = [
        CheckId::Architecture,
        CheckId::ImageSize,
        CheckId::Provenance,
        CheckId::Init,
        CheckId::GoldenReplay,
        CheckId::MalformedCorpus,
        CheckId::MalformedGenerated,
        CheckId::LambdaLimits,
    ];

    /// The stable name reports, JUnit and the JSON use.
    pub fn name(self) -> &'static str {
        match self {
            CheckId::Architecture => "architecture",
            CheckId::ImageSize => "image-size",
            CheckId::Provenance => "provenance",
            CheckId::Init => "init",
            CheckId::GoldenReplay => "golden-replay",
            CheckId::MalformedCorpus => "malformed-corpus",
            CheckId::MalformedGenerated => "malformed-generated",
            CheckId::LambdaLimits => "lambda-limits",
            CheckId::VerifiedImage => "verified-image",
            CheckId::PushedManifest => "pushed-manifest",
            CheckId::PushedConfig => "pushed-config",
            CheckId::PushedTag => "pushed-tag",
        }
    }

    /// Whether the check invokes the function after `init` (so it cannot run when the
    /// function did not start or initialise).
    pub fn needs_running_function(self) -> bool {
        matches!(
            self,
            CheckId::GoldenReplay
                | CheckId::MalformedCorpus
                | CheckId::MalformedGenerated
                | CheckId::LambdaLimits
        )
    }
}

impl fmt::Display for CheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

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
    /// Which check (serialised as its stable name, `golden-replay`).
    pub name: CheckId,
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
    pub(crate) fn new(name: CheckId) -> Self {
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
    pub(crate) fn not_run(name: CheckId, why: impl Into<String>) -> Self {
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
