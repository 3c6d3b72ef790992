//! The checks the gate runs, each reported by its [`CheckId`] with a verdict and the detail that
//! explains it: the static ones read the image (`image.rs`), the function checks invoke it
//! (`function/`) through one [`Invoker`] that keeps the run's time limits.

mod function;
mod image;
mod invoker;
mod snapstart;

pub(crate) use function::{FunctionChecks, InitVerdict, in_flight, nothing_to_compare};
pub(crate) use image::{Compiled, architecture, image_size, provenance};
pub(crate) use invoker::{Budgets, Invoker, Stop};
pub(crate) use snapstart::{InitEcho, snapstart};

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
    /// A function on Lambda Managed Instances: the goldens with several requests in flight in
    /// one environment get the answers they get one at a time.
    Concurrency,
    /// A function published with SnapStart: the image opts in, its settings are within
    /// SnapStart's rules, and what init computes is the same in two environments.
    SnapStart,
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
            CheckId::Concurrency => "concurrency",
            CheckId::SnapStart => "snapstart",
            CheckId::VerifiedImage => "verified-image",
            CheckId::PushedManifest => "pushed-manifest",
            CheckId::PushedConfig => "pushed-config",
            CheckId::PushedTag => "pushed-tag",
        }
    }

    /// The check whose failure leaves this one without a basis, so that it is not judged
    /// instead of failing as a knock-on: `init` needs an image that can run as the function's
    /// architecture at all, the checks that invoke the function need it initialised. The
    /// malformed checks also judge the function's recovery by a golden case that golden
    /// replay found right; when none was, that part is not judged (`FunctionChecks::recovery`).
    pub fn depends_on(self) -> Option<CheckId> {
        match self {
            CheckId::Init => Some(CheckId::Architecture),
            CheckId::GoldenReplay
            | CheckId::MalformedCorpus
            | CheckId::MalformedGenerated
            | CheckId::LambdaLimits
            | CheckId::Concurrency => Some(CheckId::Init),
            CheckId::PushedConfig => Some(CheckId::PushedManifest),
            _ => None,
        }
    }

    /// Whether the check invokes the function after `init` (so it cannot run when the
    /// function did not start or initialise).
    pub fn needs_running_function(self) -> bool {
        self.depends_on() == Some(CheckId::Init)
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
    /// Not judged: a check it depends on failed, so its own result would be a knock-on of
    /// that cause, not news (the verdict still fails: the cause did).
    NotJudged,
}

impl Status {
    /// The word used in tables.
    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "PASS",
            Status::Failed => "FAIL",
            Status::NotJudged => "NOT JUDGED",
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
    /// How many cases it judged: golden cases, payloads, invocations (`None` for the static
    /// checks, which read the image, and for a check not judged before it ran).
    pub cases: Option<usize>,
    /// For a check not judged: the failed check that is the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CheckId>,
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
            cases: None,
            cause: None,
            duration: Duration::ZERO,
            metrics: BTreeMap::new(),
        }
    }

    /// A check not judged because `cause` failed, and what that means for it.
    pub(crate) fn not_judged(name: CheckId, cause: CheckId, why: impl Into<String>) -> Self {
        let mut check = CheckResult::new(name);
        check.set_not_judged(cause, why);
        check
    }

    /// Marks the check not judged because `cause` failed (`why` says what that left unknown).
    pub(crate) fn set_not_judged(&mut self, cause: CheckId, why: impl Into<String>) {
        self.status = Status::NotJudged;
        self.cause = Some(cause);
        self.summary = format!("not judged: {}", why.into());
    }

    /// Records a problem; the check fails.
    pub(crate) fn problem(&mut self, detail: impl Into<String>) {
        self.status = Status::Failed;
        self.cause = None;
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
