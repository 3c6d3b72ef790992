//! The spec file as written, before validation, and the command-line overrides applied to it.
//!
//! The CLI's flags (`--arch`, `--image`, `--env`, ...) change these raw values, not the
//! validated spec, so an override passes the same rules as the file (reserved environment
//! names, the 4 KB limit, Lambda's memory sizes) and its mistakes name the flag that made them.

use crate::arch::Arch;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub(super) function: RawFunction,
    /// Optional only when `--image` gives the image (the required-keys pass says so).
    #[serde(default)]
    pub(super) image: RawImage,
    #[serde(default)]
    pub(super) contract: RawContract,
    pub(super) errors: RawErrors,
    pub(super) provenance: RawProvenance,
    pub(super) goldens: RawGoldens,
    #[serde(default)]
    pub(super) malformed: RawMalformed,
    #[serde(default)]
    pub(super) generated: RawGenerated,
    #[serde(default)]
    pub(super) tune: RawTune,
    #[serde(default)]
    pub(super) commands: RawCommands,
    pub(super) snapstart: Option<RawSnapStart>,
    pub(super) drift: Option<RawDrift>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDrift {
    pub(super) model: Option<String>,
    #[serde(default)]
    pub(super) output: RawDriftOutput,
    pub(super) echo: Option<RawDriftEcho>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDriftOutput {
    pub(super) raw: Option<String>,
    pub(super) probability: Option<String>,
    pub(super) class: Option<String>,
    pub(super) value: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDriftEcho {
    pub(super) request: String,
    pub(super) features: String,
    pub(super) abs: Option<f64>,
    pub(super) rel: Option<f64>,
    pub(super) ulps: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSnapStart {
    pub(super) init_echo: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommands {
    #[serde(default)]
    pub(super) pass_env: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFunction {
    pub(super) name: String,
    pub(super) architecture: Arch,
    #[serde(default = "default_memory")]
    pub(super) memory_mb: u32,
    #[serde(default = "default_timeout")]
    pub(super) timeout_s: u32,
    #[serde(default = "default_ephemeral_storage")]
    pub(super) ephemeral_storage_mb: u32,
    #[serde(default = "default_max_concurrency")]
    pub(super) max_concurrency: u32,
    #[serde(default)]
    pub(super) environment: BTreeMap<String, String>,
}

fn default_ephemeral_storage() -> u32 {
    512
}

fn default_max_concurrency() -> u32 {
    1
}

fn default_memory() -> u32 {
    1024
}

fn default_timeout() -> u32 {
    30
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawImage {
    pub(super) reference: Option<String>,
    pub(super) dockerfile: Option<String>,
    pub(super) context: Option<String>,
    pub(super) before: Option<String>,
    pub(super) repository: Option<String>,
    pub(super) max_size: Option<String>,
    #[serde(default)]
    pub(super) build_args: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContract {
    #[serde(default = "default_request")]
    pub(super) request: String,
    pub(super) prediction: Option<String>,
    pub(super) batch_request: Option<String>,
    pub(super) batch_predictions: Option<String>,
    pub(super) max_batch: Option<usize>,
    #[serde(default)]
    pub(super) field: Vec<RawField>,
    pub(super) id: Option<RawId>,
    pub(super) echo_model_sha256: Option<String>,
}

/// Every key of `[contract]` has a default, so the section may be left out.
impl Default for RawContract {
    fn default() -> Self {
        RawContract {
            request: default_request(),
            prediction: None,
            batch_request: None,
            batch_predictions: None,
            max_batch: None,
            field: Vec::new(),
            id: None,
            echo_model_sha256: None,
        }
    }
}

fn default_request() -> String {
    format!("\"{}\"", crate::contract::EVENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawField {
    pub(super) expected: String,
    pub(super) actual: Option<String>,
    pub(super) abs: Option<f64>,
    pub(super) rel: Option<f64>,
    pub(super) ulps: Option<u64>,
    #[serde(default)]
    pub(super) ignore: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawId {
    pub(super) event: String,
    pub(super) prediction: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawErrors {
    pub(super) function: Vec<String>,
    #[serde(default)]
    pub(super) runtime: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProvenance {
    pub(super) model: String,
    pub(super) source: Option<String>,
    pub(super) compile: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGoldens {
    pub(super) dir: String,
    pub(super) regen: Option<String>,
    #[serde(default)]
    pub(super) sources: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMalformed {
    pub(super) cases: Option<String>,
    #[serde(default)]
    pub(super) skip_generic: Vec<String>,
    #[serde(default)]
    pub(super) skip: Vec<String>,
    #[serde(default)]
    pub(super) expect_instead: BTreeMap<String, String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGenerated {
    pub(super) cases: Option<u32>,
    pub(super) seed: Option<u64>,
    pub(super) regressions: Option<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTune {
    pub(super) latency_p99_ms: Option<f64>,
    pub(super) sizes: Option<Vec<u32>>,
    pub(super) invocations: Option<u32>,
}

/// Settings given on the command line instead of the spec's. Each one replaces (or, for the
/// environment, adds to) a key of the file before the file is validated.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `function.architecture` (`--arch`).
    pub arch: Option<Arch>,
    /// Take this local image instead of building one (`--image`): `image.reference`, and the
    /// build keys dropped.
    pub image: Option<String>,
    /// `image.max_size` in bytes (`--max-image-size`).
    pub max_image_size: Option<u64>,
    /// Variables added to `function.environment` (`--env KEY=VALUE`).
    pub environment: Vec<(String, String)>,
    /// `generated.cases` (`--generated-cases`).
    pub generated_cases: Option<u32>,
    /// `generated.seed` (`--seed`).
    pub seed: Option<u64>,
    /// `generated.regressions`: where failing seeds are kept.
    pub regressions: Option<PathBuf>,
    /// `tune.sizes` (`--sizes`).
    pub tune_sizes: Option<Vec<u32>>,
    /// `tune.invocations` (`--invocations`).
    pub tune_invocations: Option<u32>,
    /// `tune.latency_p99_ms` (`--latency-p99-ms`).
    pub tune_latency_p99_ms: Option<f64>,
}

impl Overrides {
    /// Writes the overrides into `raw`; returns which keys a flag set, for error messages.
    pub(super) fn apply(&self, raw: &mut RawSpec) -> Vec<(String, &'static str)> {
        let mut flags = Vec::new();
        let mut set = |key: &str, flag: &'static str| flags.push((key.to_owned(), flag));
        if let Some(arch) = self.arch {
            raw.function.architecture = arch;
            set("function.architecture", "--arch");
        }
        if let Some(image) = &self.image {
            raw.image.reference = Some(image.clone());
            raw.image.dockerfile = None;
            raw.image.context = None;
            raw.image.before = None;
            raw.image.repository = None;
            raw.image.build_args.clear();
            set("image", "--image");
        }
        if let Some(bytes) = self.max_image_size {
            raw.image.max_size = Some(bytes.to_string());
            set("image.max_size", "--max-image-size");
        }
        for (key, value) in &self.environment {
            raw.function.environment.insert(key.clone(), value.clone());
            set(&format!("function.environment.{key}"), "--env");
        }
        if let Some(cases) = self.generated_cases {
            raw.generated.cases = Some(cases);
            set("generated.cases", "--generated-cases");
        }
        if let Some(seed) = self.seed {
            raw.generated.seed = Some(seed);
            set("generated.seed", "--seed");
        }
        if let Some(path) = &self.regressions {
            raw.generated.regressions = Some(path.display().to_string());
        }
        if let Some(sizes) = &self.tune_sizes {
            raw.tune.sizes = Some(sizes.clone());
            set("tune.sizes", "--sizes");
        }
        if let Some(n) = self.tune_invocations {
            raw.tune.invocations = Some(n);
            set("tune.invocations", "--invocations");
        }
        if let Some(ms) = self.tune_latency_p99_ms {
            raw.tune.latency_p99_ms = Some(ms);
            set("tune.latency_p99_ms", "--latency-p99-ms");
        }
        flags
    }
}
