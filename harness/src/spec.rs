//! `lambda-gate.toml`: everything the gate knows about one function.
//!
//! The gate has no contract of its own. A team describes its function once, in a spec file at
//! the root of its project: how the image is built (or which image to take), how a golden event
//! becomes a request, where each prediction sits in the answer and how it is compared with the
//! training-time one, which `errorType`s are the function's own, where the model sits in the
//! image, and where the goldens are. The file is parsed strictly (an unknown key is an error
//! naming the key and the keys allowed there) and then validated into typed settings before any
//! work starts, so a mistake costs seconds, not a build.
//!
//! Relative paths in the file are relative to the directory that holds it.

use crate::arch::Arch;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name the gate looks for, from the current directory upwards.
pub const SPEC_FILE: &str = "lambda-gate.toml";

/// Environment variables Lambda sets itself; a function may not define them.
const RESERVED_ENV: [&str; 18] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// Lambda's limit on the total size of a function's environment variables.
const LAMBDA_ENV_LIMIT: usize = 4 * 1024;

/// Why a spec cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// No spec file at or above the directory.
    #[error(
        "no {SPEC_FILE} found in {dir} or any directory above it: write one (see the README's \"The spec file\") or pass --config PATH"
    )]
    NotFound {
        /// Where the search started.
        dir: PathBuf,
    },
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown, missing or of the wrong type. The
    /// parser's message names the line, the key and what is allowed there.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the offending line.
        message: String,
    },
    /// A key has a value the gate cannot use.
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`contract.request`).
        key: String,
        /// What is wrong and what is allowed.
        message: String,
    },
}

// ---- The file as written ---------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    function: RawFunction,
    image: RawImage,
    contract: RawContract,
    errors: RawErrors,
    provenance: RawProvenance,
    goldens: RawGoldens,
    #[serde(default)]
    malformed: RawMalformed,
    #[serde(default)]
    generated: RawGenerated,
    #[serde(default)]
    tune: RawTune,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    name: String,
    architecture: Arch,
    #[serde(default = "default_memory")]
    memory_mb: u32,
    #[serde(default = "default_timeout")]
    timeout_s: u32,
    #[serde(default)]
    environment: BTreeMap<String, String>,
}

fn default_memory() -> u32 {
    1024
}

fn default_timeout() -> u32 {
    30
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    reference: Option<String>,
    dockerfile: Option<String>,
    context: Option<String>,
    before: Option<String>,
    repository: Option<String>,
    max_size: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    #[serde(default = "default_request")]
    request: String,
    prediction: Option<String>,
    batch_request: Option<String>,
    batch_predictions: Option<String>,
    max_batch: Option<usize>,
    #[serde(default)]
    field: Vec<RawField>,
    id: Option<RawId>,
    echo_model_sha256: Option<String>,
}

fn default_request() -> String {
    format!("\"{EVENT}\"")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    expected: String,
    actual: Option<String>,
    abs: Option<f64>,
    rel: Option<f64>,
    ulps: Option<u64>,
    #[serde(default)]
    ignore: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawId {
    event: String,
    prediction: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawErrors {
    function: Vec<String>,
    #[serde(default)]
    runtime: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProvenance {
    model: String,
    source: Option<String>,
    compile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGoldens {
    dir: String,
    regen: Option<String>,
    #[serde(default)]
    sources: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMalformed {
    cases: Option<String>,
    #[serde(default)]
    skip_generic: Vec<String>,
    #[serde(default)]
    skip: Vec<String>,
    #[serde(default)]
    expect_instead: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerated {
    cases: Option<u32>,
    seed: Option<u64>,
    regressions: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTune {
    latency_p99_ms: Option<f64>,
    sizes: Option<Vec<u32>>,
    invocations: Option<u32>,
}

// ---- The validated spec ----------------------------------------------------------------------

/// The placeholder a request template holds for one golden event.
pub(crate) const EVENT: &str = "$event";
/// The placeholder a batch template holds for the array of events.
pub(crate) const EVENTS: &str = "$events";

/// A validated `lambda-gate.toml`.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The spec file.
    pub path: PathBuf,
    /// Its directory: relative paths and commands start here.
    pub root: PathBuf,
    /// `[function]`.
    pub function: FunctionSpec,
    /// `[image]`.
    pub image: ImageSpec,
    /// `[contract]`.
    pub contract: Contract,
    /// `[errors]`.
    pub errors: ErrorContract,
    /// `[provenance]`.
    pub provenance: Provenance,
    /// `[goldens]`.
    pub goldens: GoldenSpec,
    /// `[malformed]`.
    pub malformed: MalformedSpec,
    /// `[generated]`.
    pub generated: GeneratedSpec,
    /// `[tune]`.
    pub tune: TuneSpec,
}

/// How Lambda runs the function.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// The architecture it is deployed with.
    pub arch: Arch,
    /// Memory size in MB (also the container's memory limit).
    pub memory_mb: u32,
    /// Function timeout.
    pub timeout: Duration,
    /// The function's own environment variables.
    pub environment: BTreeMap<String, String>,
}

/// Which image to verify and how big it may be.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    /// Build it, or take an existing one.
    pub source: ImageSource,
    /// Budget for the uncompressed size, in bytes.
    pub max_size: u64,
}

/// Which image to verify.
#[derive(Clone, Debug)]
pub enum ImageSource {
    /// Build it from a Dockerfile.
    Build(BuildSpec),
    /// An existing local image.
    Reference(String),
}

/// How to build the image.
#[derive(Clone, Debug)]
pub struct BuildSpec {
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// The build context directory.
    pub context: PathBuf,
    /// A shell command run first, in the spec's directory (e.g. cross-compiling a binary).
    pub before: Option<String>,
    /// Repository of the tag; the tag itself is `<arch>-<content hash>`.
    pub repository: String,
}

/// Numeric tolerance of one compared field; a number passes when any given bound holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tolerance {
    /// `|actual - expected| <= abs`.
    pub abs: Option<f64>,
    /// `|actual - expected| <= rel * max(|actual|, |expected|)`.
    pub rel: Option<f64>,
    /// At most this many representable doubles apart.
    pub ulps: Option<u64>,
}

impl Tolerance {
    /// Whether any bound is set (otherwise numbers must be equal).
    pub fn is_exact(&self) -> bool {
        self.abs.is_none() && self.rel.is_none() && self.ulps.is_none()
    }
}

/// How one part of the expected prediction is compared.
#[derive(Clone, Debug)]
pub struct FieldRule {
    /// JSON pointer into the golden's expected prediction.
    pub expected: String,
    /// JSON pointer into the function's prediction; `None`: the same place as `expected`.
    pub actual: Option<String>,
    /// Numeric tolerance for the numbers at and below it.
    pub tolerance: Tolerance,
    /// Not compared at all.
    pub ignore: bool,
}

/// A request template: JSON text with one placeholder string.
#[derive(Clone, Debug)]
pub struct Template {
    prefix: String,
    suffix: String,
}

impl Template {
    fn parse(text: &str, placeholder: &str) -> Result<Self, String> {
        let token = format!("\"{placeholder}\"");
        let mut parts = text.split(&token);
        let (Some(prefix), Some(suffix), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "must hold the placeholder {token} exactly once, e.g. '{{\"records\": [{token}]}}' or '{token}'"
            ));
        };
        let probe = format!("{prefix}null{suffix}");
        serde_json::from_str::<serde_json::Value>(&probe)
            .map_err(|e| format!("is not JSON once {token} is filled in: {e}"))?;
        Ok(Template {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The request with `value` (JSON text) in place of the placeholder.
    pub fn render(&self, value: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.prefix.len() + value.len() + self.suffix.len());
        body.extend_from_slice(self.prefix.as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(self.suffix.as_bytes());
        body
    }
}

/// Several events in one request.
#[derive(Clone, Debug)]
pub struct BatchContract {
    /// The request template; its placeholder becomes a JSON array of events.
    pub request: Template,
    /// JSON pointer to the array of predictions in the answer.
    pub predictions: String,
    /// Most events one request may carry.
    pub max: usize,
}

/// Where an event's id is and where the answer echoes it.
#[derive(Clone, Debug)]
pub struct IdEcho {
    /// JSON pointer into the event.
    pub event: String,
    /// JSON pointer into the prediction.
    pub prediction: String,
}

/// The function's request/response contract.
#[derive(Clone, Debug)]
pub struct Contract {
    /// One event as a request.
    pub request: Template,
    /// JSON pointer to the prediction in the answer to one event.
    pub prediction: String,
    /// Several events as one request; `None` when the function takes one event at a time.
    pub batch: Option<BatchContract>,
    /// Comparison rules, by place in the expected prediction; everything else is compared
    /// exactly.
    pub fields: Vec<FieldRule>,
    /// The id echo rule.
    pub id: Option<IdEcho>,
    /// JSON pointer into each prediction that must hold the goldens' model sha256.
    pub echo_model_sha256: Option<String>,
}

/// The `errorType`s that are part of the contract.
#[derive(Clone, Debug)]
pub struct ErrorContract {
    /// The function's own structured errors.
    pub function: Vec<String>,
    /// Lambda runtime errors the team accepts as answers (e.g. `Runtime.UnmarshalError`).
    pub runtime: Vec<String>,
}

impl ErrorContract {
    /// Whether `error_type` is an answer the contract allows.
    pub fn allows(&self, error_type: &str) -> bool {
        self.function
            .iter()
            .chain(&self.runtime)
            .any(|t| t == error_type)
    }
}

/// Where the model sits in the image and how to prove it is the goldens' model.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// Path of the model file in the image; `$NAME` expands from the image's environment.
    pub model: String,
    /// For a model compiled at build time: the source on the host and the command.
    pub compile: Option<Compile>,
}

/// A model file made from the goldens' model by a command.
#[derive(Clone, Debug)]
pub struct Compile {
    /// The model on the host whose sha256 must be the goldens' `model_sha256`.
    pub source: PathBuf,
    /// Shell command with `{source}` and `{output}`; the image's file must equal its output.
    pub command: String,
}

/// Where the goldens are and how they are kept current.
#[derive(Clone, Debug)]
pub struct GoldenSpec {
    /// Directory with `inputs.jsonl`, `expected.jsonl`, `manifest.json`.
    pub dir: PathBuf,
    /// Shell command of the training side with `{inputs}` and `{out}`: writes
    /// `expected.jsonl` and `manifest.json` into `{out}`.
    pub regen: Option<String>,
    /// Manifest key -> file whose sha256 it records (checked by `golden check`).
    pub sources: BTreeMap<String, PathBuf>,
}

/// The malformed corpus.
#[derive(Clone, Debug)]
pub struct MalformedSpec {
    /// The function's own cases (`cases.json`), if any.
    pub cases: Option<PathBuf>,
    /// Generic cases that are valid requests for this function.
    pub skip_generic: Vec<String>,
    /// Cases of the own corpus this function does not take (a corpus shared by two
    /// implementations of one contract, one of which cannot see a case, say).
    pub skip: Vec<String>,
    /// Own-corpus case -> the `errorType` this function answers instead (for example the
    /// runtime's `Runtime.UnmarshalError` where the body never reaches the handler).
    pub expect_instead: BTreeMap<String, String>,
}

/// The generated payloads.
#[derive(Clone, Debug)]
pub struct GeneratedSpec {
    /// How many.
    pub cases: u32,
    /// The seed.
    pub seed: u64,
    /// Where failing seeds are kept (outside the source tree by default).
    pub regressions: PathBuf,
}

/// How `lambda-gate tune` sizes the function.
#[derive(Clone, Debug)]
pub struct TuneSpec {
    /// The p99 latency a size must meet to be recommended; without it `tune` measures and
    /// prices every size but recommends none.
    pub latency_p99: Option<Duration>,
    /// Memory sizes to try, in MB, ascending and distinct (128-10240).
    pub sizes: Vec<u32>,
    /// Measured invocations per size (after the cold start and the warm-up).
    pub invocations: u32,
}

/// Default memory sizes `tune` tries: Lambda's smallest, the powers of two up to 1 GB, one
/// vCPU (1769 MB) and the console's old maximum (3008 MB, about 1.7 vCPUs).
pub const DEFAULT_TUNE_SIZES: [u32; 6] = [128, 256, 512, 1024, 1769, 3008];
/// Default measured invocations per size: enough for a p99 that is not just the maximum of a
/// handful, few enough that a slow size still ends in a minute.
pub const DEFAULT_TUNE_INVOCATIONS: u32 = 100;
/// Most measured invocations per size (a bound on a run's length).
pub const MAX_TUNE_INVOCATIONS: u32 = 10_000;

/// Default number of generated payloads.
pub const DEFAULT_GENERATED_CASES: u32 = 1000;
/// Default seed of the generated payloads.
pub const DEFAULT_SEED: u64 = 20_261_126;
/// Default image budget: generous for a model function, far below Lambda's 10 GB.
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 256 * 1024 * 1024;

impl Spec {
    /// The spec in `dir` or the nearest directory above it.
    pub fn find(dir: &Path) -> Result<PathBuf, SpecError> {
        dir.ancestors()
            .map(|d| d.join(SPEC_FILE))
            .find(|p| p.is_file())
            .ok_or_else(|| SpecError::NotFound {
                dir: dir.to_path_buf(),
            })
    }

    /// Reads and validates the spec file at `path`.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let root = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        Self::parse(&text, path, &root)
    }

    /// Validates spec text as if it were the file `path` in the directory `root`.
    pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Self, SpecError> {
        let raw: RawSpec = toml::from_str(text).map_err(|e| SpecError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        Validator { path, root }.spec(raw)
    }
}

struct Validator<'a> {
    path: &'a Path,
    root: &'a Path,
}

impl Validator<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            message: message.into(),
        }
    }

    fn file(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    fn pointer(&self, key: &str, value: String) -> Result<String, SpecError> {
        if value.is_empty() || value.starts_with('/') {
            Ok(value)
        } else {
            Err(self.invalid(
                key,
                format!(
                    "{value:?} is not a JSON pointer: use \"\" for the whole value or start with '/', e.g. \"/predictions/0\""
                ),
            ))
        }
    }

    fn spec(&self, raw: RawSpec) -> Result<Spec, SpecError> {
        let function = self.function(raw.function)?;
        let goldens = self.goldens(raw.goldens);
        let generated = GeneratedSpec {
            cases: raw.generated.cases.unwrap_or(DEFAULT_GENERATED_CASES),
            seed: raw.generated.seed.unwrap_or(DEFAULT_SEED),
            regressions: match raw.generated.regressions {
                Some(path) => self.file(&path),
                None => default_regressions(self.root, &function.name),
            },
        };
        Ok(Spec {
            path: self.path.to_path_buf(),
            root: self.root.to_path_buf(),
            image: self.image(raw.image)?,
            contract: self.contract(raw.contract)?,
            errors: self.errors(raw.errors)?,
            provenance: self.provenance(raw.provenance)?,
            goldens,
            malformed: self.malformed(raw.malformed)?,
            generated,
            tune: self.tune(raw.tune)?,
            function,
        })
    }

    fn function(&self, raw: RawFunction) -> Result<FunctionSpec, SpecError> {
        if raw.name.is_empty()
            || raw.name.len() > 64
            || !raw
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(self.invalid(
                "function.name",
                format!(
                    "{:?}: Lambda function names are 1-64 letters, digits, '-' or '_'",
                    raw.name
                ),
            ));
        }
        if !(128..=10_240).contains(&raw.memory_mb) {
            return Err(self.invalid(
                "function.memory_mb",
                format!("{} MB: Lambda allows 128 to 10240", raw.memory_mb),
            ));
        }
        if !(1..=900).contains(&raw.timeout_s) {
            return Err(self.invalid(
                "function.timeout_s",
                format!("{} s: Lambda allows 1 to 900", raw.timeout_s),
            ));
        }
        let mut size = 0;
        for (name, value) in &raw.environment {
            if RESERVED_ENV.contains(&name.as_str()) {
                return Err(self.invalid(
                    &format!("function.environment.{name}"),
                    "Lambda sets this variable itself; a function cannot define it",
                ));
            }
            size += name.len() + value.len();
        }
        if size > LAMBDA_ENV_LIMIT {
            return Err(self.invalid(
                "function.environment",
                format!("{size} bytes of names and values: Lambda allows 4 KB in all"),
            ));
        }
        Ok(FunctionSpec {
            name: raw.name,
            arch: raw.architecture,
            memory_mb: raw.memory_mb,
            timeout: Duration::from_secs(raw.timeout_s.into()),
            environment: raw.environment,
        })
    }

    fn image(&self, raw: RawImage) -> Result<ImageSpec, SpecError> {
        let max_size = match raw.max_size {
            None => DEFAULT_MAX_IMAGE_SIZE,
            Some(text) => parse_size(&text).map_err(|m| self.invalid("image.max_size", m))?,
        };
        let source = match (raw.reference, raw.dockerfile) {
            (Some(_), Some(_)) => {
                return Err(self.invalid(
                    "image.reference",
                    "give either `reference` (an existing image) or `dockerfile` (build it), not both",
                ));
            }
            (None, None) => {
                return Err(self.invalid(
                    "image",
                    "needs `dockerfile` (and optionally `context`, `before`, `repository`) to build the image, or `reference` to take an existing one",
                ));
            }
            (Some(reference), None) => {
                for key in [
                    ("context", raw.context.is_some()),
                    ("before", raw.before.is_some()),
                    ("repository", raw.repository.is_some()),
                ] {
                    if key.1 {
                        return Err(self.invalid(
                            &format!("image.{}", key.0),
                            "only applies when the image is built (`dockerfile`)",
                        ));
                    }
                }
                ImageSource::Reference(reference)
            }
            (None, Some(dockerfile)) => {
                let repository = raw.repository.unwrap_or_else(|| "lambda-gate".to_owned());
                if repository.is_empty()
                    || !repository.chars().all(|c| {
                        c.is_ascii_lowercase()
                            || c.is_ascii_digit()
                            || matches!(c, '.' | '_' | '-' | '/')
                    })
                {
                    return Err(self.invalid(
                        "image.repository",
                        format!(
                            "{repository:?}: a Docker repository name is lowercase letters, digits, '.', '_', '-' and '/'"
                        ),
                    ));
                }
                ImageSource::Build(BuildSpec {
                    dockerfile: self.file(&dockerfile),
                    context: self.file(raw.context.as_deref().unwrap_or(".")),
                    before: raw.before,
                    repository,
                })
            }
        };
        Ok(ImageSpec { source, max_size })
    }

    fn contract(&self, raw: RawContract) -> Result<Contract, SpecError> {
        let request = Template::parse(&raw.request, EVENT)
            .map_err(|m| self.invalid("contract.request", m))?;
        let prediction = self.pointer("contract.prediction", raw.prediction.unwrap_or_default())?;
        let batch = match (raw.batch_request, raw.batch_predictions) {
            (None, None) => {
                if raw.max_batch.is_some() {
                    return Err(
                        self.invalid("contract.max_batch", "only applies with `batch_request`")
                    );
                }
                None
            }
            (Some(request), Some(predictions)) => {
                let max = raw.max_batch.ok_or_else(|| {
                    self.invalid(
                        "contract.max_batch",
                        "is required with `batch_request`: the most events one request may carry",
                    )
                })?;
                if max < 2 {
                    return Err(self.invalid(
                        "contract.max_batch",
                        "must be at least 2; leave out `batch_request` for a function that takes one event at a time",
                    ));
                }
                Some(BatchContract {
                    request: Template::parse(&request, EVENTS)
                        .map_err(|m| self.invalid("contract.batch_request", m))?,
                    predictions: self.pointer("contract.batch_predictions", predictions)?,
                    max,
                })
            }
            (Some(_), None) => {
                return Err(self.invalid(
                    "contract.batch_predictions",
                    "is required with `batch_request`: the JSON pointer to the array of predictions, e.g. \"/predictions\"",
                ));
            }
            (None, Some(_)) => {
                return Err(self.invalid(
                    "contract.batch_request",
                    "is required with `batch_predictions`: the request template, e.g. '{\"records\": \"$events\"}'",
                ));
            }
        };
        let mut fields = Vec::with_capacity(raw.field.len());
        for (i, field) in raw.field.into_iter().enumerate() {
            let key = format!("contract.field[{i}]");
            let expected = self.pointer(&format!("{key}.expected"), field.expected)?;
            if fields.iter().any(|f: &FieldRule| f.expected == expected) {
                return Err(self.invalid(
                    &format!("{key}.expected"),
                    format!("{expected:?} has a rule already"),
                ));
            }
            let actual = field
                .actual
                .map(|a| self.pointer(&format!("{key}.actual"), a))
                .transpose()?;
            for (name, value) in [("abs", field.abs), ("rel", field.rel)] {
                if let Some(v) = value
                    && !(v.is_finite() && v >= 0.0)
                {
                    return Err(self.invalid(
                        &format!("{key}.{name}"),
                        format!("{v}: a tolerance is a finite number >= 0"),
                    ));
                }
            }
            let tolerance = Tolerance {
                abs: field.abs,
                rel: field.rel,
                ulps: field.ulps,
            };
            if field.ignore && (!tolerance.is_exact() || actual.is_some()) {
                return Err(self.invalid(
                    &format!("{key}.ignore"),
                    "an ignored field takes no `actual`, `abs`, `rel` or `ulps`",
                ));
            }
            fields.push(FieldRule {
                expected,
                actual,
                tolerance,
                ignore: field.ignore,
            });
        }
        let id = raw
            .id
            .map(|id| {
                Ok::<_, SpecError>(IdEcho {
                    event: self.pointer("contract.id.event", id.event)?,
                    prediction: self.pointer("contract.id.prediction", id.prediction)?,
                })
            })
            .transpose()?;
        let echo_model_sha256 = raw
            .echo_model_sha256
            .map(|p| self.pointer("contract.echo_model_sha256", p))
            .transpose()?;
        Ok(Contract {
            request,
            prediction,
            batch,
            fields,
            id,
            echo_model_sha256,
        })
    }

    fn errors(&self, raw: RawErrors) -> Result<ErrorContract, SpecError> {
        if raw.function.is_empty() {
            return Err(self.invalid(
                "errors.function",
                "list the errorTypes the function answers bad input with, e.g. [\"InvalidPayload\"]",
            ));
        }
        for name in &raw.function {
            if name.is_empty() || name.starts_with("Runtime.") {
                return Err(self.invalid(
                    "errors.function",
                    format!(
                        "{name:?}: the function's own errorTypes are non-empty and not Runtime.*; list accepted runtime errors under `errors.runtime`"
                    ),
                ));
            }
        }
        for name in &raw.runtime {
            if !name.starts_with("Runtime.") {
                return Err(self.invalid(
                    "errors.runtime",
                    format!("{name:?}: only Lambda's Runtime.* errors belong here"),
                ));
            }
            if matches!(
                name.as_str(),
                "Runtime.ExitError" | "Runtime.InvalidEntrypoint" | "Runtime.OutOfMemory"
            ) {
                return Err(self.invalid(
                    "errors.runtime",
                    format!(
                        "{name:?} means the function crashed; crashes, exits and timeouts always fail"
                    ),
                ));
            }
        }
        Ok(ErrorContract {
            function: raw.function,
            runtime: raw.runtime,
        })
    }

    fn provenance(&self, raw: RawProvenance) -> Result<Provenance, SpecError> {
        if !raw.model.starts_with('/') && !raw.model.starts_with('$') {
            return Err(self.invalid(
                "provenance.model",
                format!(
                    "{:?}: an absolute path in the image, e.g. \"/var/task/model.json\" or \"$MODEL_DIR/model.json\"",
                    raw.model
                ),
            ));
        }
        let compile = match (raw.source, raw.compile) {
            (None, None) => None,
            (Some(source), Some(command)) => {
                for placeholder in ["{source}", "{output}"] {
                    if !command.contains(placeholder) {
                        return Err(
                            self.invalid("provenance.compile", format!("must use {placeholder}"))
                        );
                    }
                }
                Some(Compile {
                    source: self.file(&source),
                    command,
                })
            }
            (Some(_), None) => {
                return Err(self.invalid(
                    "provenance.compile",
                    "is required with `source`: the command that makes the image's model file from it",
                ));
            }
            (None, Some(_)) => {
                return Err(self.invalid(
                    "provenance.source",
                    "is required with `compile`: the model file on this machine the command reads",
                ));
            }
        };
        Ok(Provenance {
            model: raw.model,
            compile,
        })
    }

    fn goldens(&self, raw: RawGoldens) -> GoldenSpec {
        GoldenSpec {
            dir: self.file(&raw.dir),
            regen: raw.regen,
            sources: raw
                .sources
                .into_iter()
                .map(|(k, v)| (k, self.file(&v)))
                .collect(),
        }
    }

    fn malformed(&self, raw: RawMalformed) -> Result<MalformedSpec, SpecError> {
        let known = crate::malformed::generic_names();
        for name in &raw.skip_generic {
            if !known.contains(&name.as_str()) {
                return Err(self.invalid(
                    "malformed.skip_generic",
                    format!(
                        "{name:?} is not a generic case; they are: {}",
                        known.join(", ")
                    ),
                ));
            }
        }
        if raw.cases.is_none() && (!raw.skip.is_empty() || !raw.expect_instead.is_empty()) {
            return Err(self.invalid(
                "malformed.cases",
                "is required with `skip` and `expect_instead`, which name its cases",
            ));
        }
        Ok(MalformedSpec {
            cases: raw.cases.map(|c| self.file(&c)),
            skip_generic: raw.skip_generic,
            skip: raw.skip,
            expect_instead: raw.expect_instead,
        })
    }
}

impl Validator<'_> {
    fn tune(&self, raw: RawTune) -> Result<TuneSpec, SpecError> {
        let latency_p99 = match raw.latency_p99_ms {
            None => None,
            Some(ms) if ms.is_finite() && ms > 0.0 && ms <= 900_000.0 => {
                Some(Duration::from_secs_f64(ms / 1000.0))
            }
            Some(ms) => {
                return Err(self.invalid(
                    "tune.latency_p99_ms",
                    format!("{ms}: a latency target in milliseconds, above 0 and at most 900000 (Lambda's 900 s timeout)"),
                ));
            }
        };
        let sizes = match raw.sizes {
            None => DEFAULT_TUNE_SIZES.to_vec(),
            Some(sizes) => check_tune_sizes(&sizes).map_err(|m| self.invalid("tune.sizes", m))?,
        };
        let invocations = raw.invocations.unwrap_or(DEFAULT_TUNE_INVOCATIONS);
        if !(1..=MAX_TUNE_INVOCATIONS).contains(&invocations) {
            return Err(self.invalid(
                "tune.invocations",
                format!(
                    "{invocations}: measured invocations per size, 1 to {MAX_TUNE_INVOCATIONS}"
                ),
            ));
        }
        Ok(TuneSpec {
            latency_p99,
            sizes,
            invocations,
        })
    }
}

/// `sizes` as `tune` runs them (ascending), or why they cannot be: empty, a size Lambda does
/// not offer, or one given twice. Shared by the spec's `tune.sizes` and `tune --sizes`.
pub fn check_tune_sizes(sizes: &[u32]) -> Result<Vec<u32>, String> {
    if sizes.is_empty() {
        return Err("give at least one memory size in MB, e.g. [256, 512, 1024]".to_owned());
    }
    if let Some(size) = sizes.iter().find(|s| !(128..=10_240).contains(*s)) {
        return Err(format!("{size} MB: Lambda allows 128 to 10240"));
    }
    let mut sorted = sizes.to_vec();
    sorted.sort_unstable();
    if let Some(pair) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("{} MB is given twice", pair[0]));
    }
    Ok(sorted)
}

/// Where a function's proptest regressions go by default: the user's cache directory, never
/// the project (a run must not write into the source tree).
fn default_regressions(root: &Path, name: &str) -> PathBuf {
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    let key = crate::digest::sha256_hex(absolute.display().to_string().as_bytes());
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("lambda-gate")
        .join("regressions")
        .join(format!("{name}-{}.txt", &key[..12]))
}

/// A size like `256MiB`, `1GB` or `1048576`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    text.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("{text:?} is not a size ({e}): use e.g. 256MiB, 1GB or 1048576"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[function]
name = "f"
architecture = "x86_64"

[image]
reference = "f:latest"

[contract]

[errors]
function = ["BadInput"]

[provenance]
model = "/var/task/model.json"

[goldens]
dir = "golden"
"#;

    fn parse(text: &str) -> Result<Spec, SpecError> {
        Spec::parse(text, Path::new("lambda-gate.toml"), Path::new("/p"))
    }

    #[test]
    fn a_minimal_spec_gets_the_defaults() {
        let spec = parse(MINIMAL).unwrap();
        assert_eq!(spec.function.memory_mb, 1024);
        assert_eq!(spec.contract.request.render(b"[1]"), b"[1]");
        assert_eq!(spec.contract.prediction, "");
        assert!(spec.contract.batch.is_none());
        assert_eq!(spec.goldens.dir, Path::new("/p/golden"));
        assert!(
            !spec.generated.regressions.starts_with("/p"),
            "regressions stay out of the project: {}",
            spec.generated.regressions.display()
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_the_keys_allowed() {
        let text = MINIMAL.replace("name = \"f\"", "name = \"f\"\nmemory = 512");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("unknown field `memory`"), "{err}");
        assert!(err.contains("`memory_mb`"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn an_unknown_architecture_lists_the_allowed_ones() {
        let text = MINIMAL.replace("x86_64", "ppc64le");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("ppc64le") && err.contains("arm64"), "{err}");
    }

    #[test]
    fn templates_need_their_placeholder_once() {
        let text = MINIMAL.replace(
            "[contract]",
            "[contract]\nrequest = '{\"records\": [\"$event\"]}'",
        );
        let spec = parse(&text).unwrap();
        assert_eq!(
            spec.contract.request.render(br#"{"a":1}"#),
            br#"{"records": [{"a":1}]}"#
        );
        let text = MINIMAL.replace("[contract]", "[contract]\nrequest = '{\"records\": []}'");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("`contract.request`") && err.contains("exactly once"),
            "{err}"
        );
        let text = MINIMAL.replace(
            "[contract]",
            "[contract]\nrequest = '{\"records\": [\"$event\"]'",
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("not JSON"), "{err}");
    }

    #[test]
    fn semantic_mistakes_name_the_key() {
        let cases = [
            ("name = \"f\"", "name = \"f g\"", "function.name"),
            (
                "architecture = \"x86_64\"",
                "architecture = \"x86_64\"\nmemory_mb = 64",
                "function.memory_mb",
            ),
            (
                "architecture = \"x86_64\"",
                "architecture = \"x86_64\"\nenvironment = { AWS_REGION = \"x\" }",
                "function.environment.AWS_REGION",
            ),
            (
                "function = [\"BadInput\"]",
                "function = [\"BadInput\"]\nruntime = [\"Runtime.ExitError\"]",
                "errors.runtime",
            ),
            (
                "[contract]",
                "[contract]\nprediction = \"predictions/0\"",
                "contract.prediction",
            ),
            (
                "[contract]",
                "[contract]\nbatch_request = '\"$events\"'",
                "contract.batch_predictions",
            ),
            (
                "model = \"/var/task/model.json\"",
                "model = \"model.json\"",
                "provenance.model",
            ),
            (
                "reference = \"f:latest\"",
                "reference = \"f:latest\"\ndockerfile = \"Dockerfile\"",
                "image.reference",
            ),
        ];
        for (from, to, key) in cases {
            let err = parse(&MINIMAL.replace(from, to)).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
        }
    }

    #[test]
    fn field_rules_are_read() {
        let text = MINIMAL.replace(
            "[errors]",
            "[[contract.field]]\nexpected = \"/probability\"\nabs = 1e-9\n\n[[contract.field]]\nexpected = \"/raw\"\nignore = true\n\n[errors]",
        );
        let spec = parse(&text).unwrap();
        assert_eq!(spec.contract.fields.len(), 2);
        assert_eq!(spec.contract.fields[0].tolerance.abs, Some(1e-9));
        assert!(spec.contract.fields[1].ignore);
    }

    #[test]
    fn tune_defaults_to_the_usual_sizes_and_no_target() {
        let spec = parse(MINIMAL).unwrap();
        assert_eq!(spec.tune.sizes, DEFAULT_TUNE_SIZES);
        assert_eq!(spec.tune.latency_p99, None);
        assert_eq!(spec.tune.invocations, DEFAULT_TUNE_INVOCATIONS);
    }

    #[test]
    fn tune_is_read_with_its_sizes_in_order() {
        let text = format!(
            "{MINIMAL}\n[tune]\nlatency_p99_ms = 12.5\nsizes = [1024, 128, 10240]\ninvocations = 20\n"
        );
        let spec = parse(&text).unwrap();
        assert_eq!(spec.tune.latency_p99, Some(Duration::from_micros(12_500)));
        assert_eq!(spec.tune.sizes, [128, 1024, 10_240]);
        assert_eq!(spec.tune.invocations, 20);
    }

    #[test]
    fn tune_mistakes_name_the_key_and_what_is_allowed() {
        let with = |body: &str| {
            parse(&format!("{MINIMAL}\n[tune]\n{body}\n"))
                .unwrap_err()
                .to_string()
        };
        let err = with("latency_ms = 10");
        assert!(
            err.contains("unknown field `latency_ms`") && err.contains("`latency_p99_ms`"),
            "{err}"
        );
        let cases = [
            (
                "sizes = [64, 256]",
                "tune.sizes",
                "64 MB: Lambda allows 128 to 10240",
            ),
            ("sizes = [256, 10241]", "tune.sizes", "10241 MB"),
            ("sizes = []", "tune.sizes", "at least one"),
            (
                "sizes = [512, 256, 512]",
                "tune.sizes",
                "512 MB is given twice",
            ),
            ("latency_p99_ms = 0", "tune.latency_p99_ms", "above 0"),
            ("latency_p99_ms = -5.0", "tune.latency_p99_ms", "above 0"),
            ("latency_p99_ms = nan", "tune.latency_p99_ms", "above 0"),
            ("invocations = 0", "tune.invocations", "1 to 10000"),
        ];
        for (body, key, what) in cases {
            let err = with(body);
            assert!(
                err.contains(&format!("`{key}`")) && err.contains(what),
                "{body}: {err}"
            );
        }
    }
}
