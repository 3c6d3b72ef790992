//! From the file as written to the typed spec: every value checked, each mistake reported
//! with its key (and the flag that set it, for an override).

use super::raw::{
    RawContract, RawDrift, RawErrors, RawFunction, RawGoldens, RawImage, RawMalformed,
    RawProvenance, RawSpec, RawTune,
};
use super::{
    Compile, DEFAULT_GENERATED_CASES, DEFAULT_MAX_IMAGE_SIZE, DEFAULT_SEED,
    DEFAULT_TUNE_INVOCATIONS, DEFAULT_TUNE_SIZES, FunctionSpec, ImageSpec, MAX_TUNE_INVOCATIONS,
    Provenance, SnapStartSpec, Spec, SpecError, TuneSpec,
};
use crate::contract::drift::{DriftSpec, FeatureEcho, Outputs};
use crate::contract::{
    BatchContract, Contract, EVENT, EVENTS, ErrorContract, FieldRule, IdEcho, Template, Tolerance,
};
use crate::corpus::GeneratedSpec;
use crate::corpus::MalformedSpec;
use crate::golden::GoldenSpec;
use crate::image::{BuildSpec, ImageSource};
use crate::lambda;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
    pub(super) root: &'a Path,
    /// Keys a command-line flag set, and the flag.
    pub(super) flags: Vec<(String, &'static str)>,
}

impl Validator<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> SpecError {
        let related = |set: &str| {
            set == key || set.starts_with(&format!("{key}.")) || key.starts_with(&format!("{set}."))
        };
        SpecError::Invalid {
            path: self.path.to_path_buf(),
            key: key.to_owned(),
            flag: self
                .flags
                .iter()
                .find(|(set, _)| related(set))
                .map(|(_, flag)| *flag),
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

    pub(super) fn spec(&self, raw: RawSpec) -> Result<Spec, SpecError> {
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
        for name in &raw.commands.pass_env {
            if let Some(problem) = crate::shell::name_problem(name) {
                return Err(self.invalid("commands.pass_env", problem));
            }
        }
        Ok(Spec {
            path: self.path.to_path_buf(),
            root: self.root.to_path_buf(),
            shell: crate::shell::Shell {
                root: self.root.to_path_buf(),
                pass_env: raw.commands.pass_env,
            },
            image: self.image(raw.image)?,
            contract: self.contract(raw.contract)?,
            errors: self.errors(raw.errors)?,
            provenance: self.provenance(raw.provenance)?,
            goldens,
            malformed: self.malformed(raw.malformed)?,
            generated,
            tune: self.tune(raw.tune)?,
            snapstart: raw
                .snapstart
                .map(|s| {
                    Ok::<_, SpecError>(SnapStartSpec {
                        init_echo: s
                            .init_echo
                            .map(|p| self.pointer("snapstart.init_echo", p))
                            .transpose()?,
                    })
                })
                .transpose()?,
            drift: raw.drift.map(|d| self.drift(d)).transpose()?,
            function,
        })
    }

    fn function(&self, raw: RawFunction) -> Result<FunctionSpec, SpecError> {
        if let Some(problem) = lambda::function_name_problem(&raw.name) {
            return Err(self.invalid("function.name", problem));
        }
        if !lambda::MEMORY_MB.contains(&raw.memory_mb) {
            return Err(self.invalid(
                "function.memory_mb",
                format!("{} MB: Lambda allows 128 to 10240", raw.memory_mb),
            ));
        }
        if !lambda::TIMEOUT_S.contains(&raw.timeout_s) {
            return Err(self.invalid(
                "function.timeout_s",
                format!("{} s: Lambda allows 1 to 900", raw.timeout_s),
            ));
        }
        if !lambda::EPHEMERAL_STORAGE_MB.contains(&raw.ephemeral_storage_mb) {
            return Err(self.invalid(
                "function.ephemeral_storage_mb",
                format!(
                    "{} MB: Lambda allows 512 to 10240",
                    raw.ephemeral_storage_mb
                ),
            ));
        }
        if !lambda::MAX_CONCURRENCY.contains(&raw.max_concurrency) {
            return Err(self.invalid(
                "function.max_concurrency",
                format!(
                    "{}: Lambda Managed Instances allow 1 to 1600 requests at once per environment (1: one at a time, as classic Lambda)",
                    raw.max_concurrency
                ),
            ));
        }
        let mut size = 0;
        for (name, value) in &raw.environment {
            if lambda::RESERVED_ENV.contains(&name.as_str()) {
                return Err(self.invalid(
                    &format!("function.environment.{name}"),
                    "Lambda sets this variable itself; a function cannot define it",
                ));
            }
            size += name.len() + value.len();
        }
        if size > lambda::ENV_LIMIT {
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
            ephemeral_storage_mb: raw.ephemeral_storage_mb,
            max_concurrency: raw.max_concurrency,
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
                    ("build_args", !raw.build_args.is_empty()),
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
                for name in raw.build_args.keys() {
                    self.build_arg(name)?;
                }
                ImageSource::Build(BuildSpec {
                    dockerfile: self.file(&dockerfile),
                    context: self.file(raw.context.as_deref().unwrap_or(".")),
                    before: raw.before,
                    repository,
                    build_args: raw.build_args,
                })
            }
        };
        Ok(ImageSpec { source, max_size })
    }

    /// A build argument's name: an `ARG` name, and not one the gate sets itself.
    fn build_arg(&self, name: &str) -> Result<(), SpecError> {
        let key = format!("image.build_args.{name}");
        if crate::image::PLATFORM_ARGS.contains(&name) {
            return Err(self.invalid(
                &key,
                "the gate sets it from the architecture being built, as BuildKit does: declare `ARG` for it in the Dockerfile and use it",
            ));
        }
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(())
        } else {
            Err(self.invalid(
                &key,
                "a build argument's name is letters, digits and '_', not starting with a digit",
            ))
        }
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
                // Every event takes a byte and a comma: more cannot fit in one request.
                let most = lambda::PAYLOAD_LIMIT / 2;
                if max > most {
                    return Err(self.invalid(
                        "contract.max_batch",
                        format!(
                            "{max} events cannot fit in one request: Lambda's payload limit ({} bytes) holds at most {most}",
                            lambda::PAYLOAD_LIMIT
                        ),
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
            let tolerance = self.tolerance(&key, field.abs, field.rel, field.ulps)?;
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

    /// The tolerance of the rule at `key`: each bound finite and >= 0.
    fn tolerance(
        &self,
        key: &str,
        abs: Option<f64>,
        rel: Option<f64>,
        ulps: Option<u64>,
    ) -> Result<Tolerance, SpecError> {
        for (name, value) in [("abs", abs), ("rel", rel)] {
            if let Some(v) = value
                && !(v.is_finite() && v >= 0.0)
            {
                return Err(self.invalid(
                    &format!("{key}.{name}"),
                    format!("{v}: a tolerance is a finite number >= 0"),
                ));
            }
        }
        Ok(Tolerance { abs, rel, ulps })
    }

    /// `[drift]`: a CatBoost model with its outputs' places, a feature echo, or both.
    fn drift(&self, raw: RawDrift) -> Result<DriftSpec, SpecError> {
        let pointer = |key: &str, p: Option<String>| {
            p.map(|p| self.pointer(&format!("drift.output.{key}"), p))
                .transpose()
        };
        let o = raw.output;
        let output = Outputs {
            raw: pointer("raw", o.raw)?,
            probability: pointer("probability", o.probability)?,
            class: pointer("class", o.class)?,
            value: pointer("value", o.value)?,
        };
        let any_output = [
            &output.raw,
            &output.probability,
            &output.class,
            &output.value,
        ]
        .iter()
        .any(|p| p.is_some());
        match (&raw.model, any_output) {
            (Some(_), false) => {
                return Err(self.invalid(
                    "drift.output",
                    "is required with `model`: where the model's outputs sit in a golden prediction, e.g. probability = \"/probability\"",
                ));
            }
            (None, true) => {
                return Err(self.invalid(
                    "drift.model",
                    "is required with `output`: the CatBoost JSON export of the goldens' model",
                ));
            }
            _ => {}
        }
        let echo = raw
            .echo
            .map(|e| {
                Ok::<_, SpecError>(FeatureEcho {
                    request: Template::parse(&e.request, EVENT)
                        .map_err(|m| self.invalid("drift.echo.request", m))?,
                    features: self.pointer("drift.echo.features", e.features)?,
                    tolerance: self.tolerance("drift.echo", e.abs, e.rel, e.ulps)?,
                })
            })
            .transpose()?;
        if raw.model.is_some() && echo.is_some() {
            return Err(self.invalid(
                "drift.echo",
                "give `model` or `[drift.echo]`, not both: the echo is for functions whose model the gate cannot evaluate",
            ));
        }
        if raw.model.is_none() && echo.is_none() {
            return Err(self.invalid(
                "drift",
                "needs `model` (the CatBoost JSON export, with `[drift.output]`) or `[drift.echo]` (the function echoes its features)",
            ));
        }
        Ok(DriftSpec {
            model: raw.model.map(|m| self.file(&m)),
            output,
            echo,
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
            if lambda::CRASH_ERRORS.contains(&name.as_str()) {
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
        let known = crate::corpus::generic_names();
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
fn check_tune_sizes(sizes: &[u32]) -> Result<Vec<u32>, String> {
    if sizes.is_empty() {
        return Err("give at least one memory size in MB, e.g. [256, 512, 1024]".to_owned());
    }
    if let Some(size) = sizes.iter().find(|s| !lambda::MEMORY_MB.contains(*s)) {
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
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let bytes = text
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("{text:?} is not a size ({e}): use e.g. 256MiB, 1GB or 1048576"))?;
    // The parser saturates a number too large for 64 bits instead of refusing it.
    if bytes == u64::MAX {
        return Err(format!(
            "{text:?} is more bytes than the gate can count: use e.g. 256MiB, 1GB or 1048576"
        ));
    }
    Ok(bytes)
}
