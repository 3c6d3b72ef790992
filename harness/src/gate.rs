//! One gate run: build or take the image, read it, run it under the RIE, check it, report.

use crate::arch::Arch;
use crate::checks::{self, CheckResult, FunctionChecks, InvocationStats};
use crate::container::{ContainerError, FunctionContainer, LambdaSettings};
use crate::docker::{DockerClient, DockerError};
use crate::golden::{GoldenError, GoldenSet};
use crate::image::ImageError;
use crate::image_build::{BuildError, BuildOptions, build_with};
use crate::malformed::{self, CorpusError};
use crate::progress::Progress;
use crate::report::Report;
use crate::rie::{self, RieError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Which image to verify.
#[derive(Clone, Debug)]
pub enum ImageSource {
    /// Build it first (what `harness verify` does without `--image`).
    Build(BuildOptions),
    /// Verify this existing local image.
    Existing(String),
}

/// Everything a gate run needs. [`GateConfig::new`] gives the shipped defaults.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// Architecture the function is deployed with.
    pub arch: Arch,
    /// The image to verify.
    pub image: ImageSource,
    /// Directory with `inputs.jsonl`, `expected.jsonl`, `manifest.json`.
    pub golden_dir: PathBuf,
    /// Directory with the malformed corpus `cases.json`.
    pub malformed_dir: PathBuf,
    /// Where proptest persists the seeds of failing generated payloads (replayed first on the
    /// next run). Tests of deliberately broken images point it elsewhere.
    pub regressions: PathBuf,
    /// Image size budget in bytes (uncompressed).
    pub max_image_size: u64,
    /// Absolute tolerance on probabilities.
    pub tolerance: f64,
    /// A local RIE binary instead of the pinned one.
    pub rie: Option<PathBuf>,
    /// Lambda settings for the container.
    pub lambda: LambdaSettings,
    /// Number of proptest-generated payloads.
    pub generated_cases: u32,
    /// Seed of the generated payloads.
    pub seed: u64,
    /// Most records per request the contract allows (probed by the limits check).
    pub max_records: usize,
    /// Where progress goes.
    pub progress: Progress,
}

/// Default image budget: generous for a model service, far below Lambda's 10 GB.
pub const DEFAULT_MAX_IMAGE_SIZE: u64 = 256 * 1024 * 1024;
/// Default number of generated payloads.
pub const DEFAULT_GENERATED_CASES: u32 = 1000;
/// Default seed of the generated payloads.
pub const DEFAULT_SEED: u64 = 20_261_126;

impl GateConfig {
    /// The shipped configuration for `arch`, from the workspace at `workspace`.
    pub fn new(arch: Arch, workspace: impl Into<PathBuf>) -> Self {
        let workspace = workspace.into();
        GateConfig {
            arch,
            image: ImageSource::Build(BuildOptions::new(arch, &workspace)),
            golden_dir: workspace.join("golden"),
            malformed_dir: workspace.join("golden").join("malformed"),
            regressions: workspace
                .join("golden")
                .join("malformed")
                .join("proptest-regressions.txt"),
            max_image_size: DEFAULT_MAX_IMAGE_SIZE,
            tolerance: 1e-9,
            rie: None,
            lambda: LambdaSettings::default(),
            generated_cases: DEFAULT_GENERATED_CASES,
            seed: DEFAULT_SEED,
            max_records: 1000,
            progress: Progress::stderr(),
        }
    }
}

/// A problem with the setup rather than with the image: the gate could not judge it.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Docker is missing or failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The image could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The image could not be read.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The RIE could not be provided.
    #[error(transparent)]
    Rie(#[from] RieError),
    /// The golden files are unusable.
    #[error(transparent)]
    Golden(#[from] GoldenError),
    /// The malformed corpus is unusable.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// The machine cannot run images of this architecture.
    #[error("{0}")]
    NoEmulation(String),
}

/// Runs every check against the image and returns the report. `Err` only for setup problems;
/// a failing image is an `Ok` report whose [`Report::passed`] is false.
pub fn verify(config: &GateConfig) -> Result<Report, GateError> {
    let started = Instant::now();
    let progress = config.progress;
    let docker = DockerClient::connect()?;
    let golden = GoldenSet::load(&config.golden_dir)?;
    let corpus = malformed::load(&config.malformed_dir)?;
    check_emulation(config.arch)?;
    let image = match &config.image {
        ImageSource::Build(options) => build_with(&docker, options, progress)?.reference,
        ImageSource::Existing(reference) => reference.clone(),
    };
    progress.step(format!("reading image {image}"));
    let facts = crate::image::inspect(&docker, &image)?;
    let mut report = Report {
        arch: config.arch,
        image: image.clone(),
        rie: None,
        model_version: golden.manifest.model_version.clone(),
        checks: vec![
            checks::architecture(&facts, config.arch),
            checks::image_size(&facts, config.max_image_size),
            checks::provenance(&facts, &golden),
        ],
        image_facts: Some(facts.clone()),
        duration: Duration::ZERO,
    };
    let rie = rie::provision(config.arch, config.rie.as_deref())?;
    report.rie = Some(rie.origin.clone());
    progress.step(format!(
        "starting {image} under the RIE ({})",
        config.arch.docker_platform()
    ));
    let entrypoint = facts.entrypoint.clone();
    match FunctionContainer::start(&image, config.arch, &rie, &entrypoint, &config.lambda) {
        Err(error) => {
            let mut init = CheckResult::new("init");
            init.problem(start_failure_hint(&error, config.arch));
            init.summary = "the function container did not start".to_owned();
            report.checks.push(init);
            for name in FUNCTION_CHECKS {
                report
                    .checks
                    .push(CheckResult::not_run(name, "the container did not start"));
            }
        }
        Ok(container) => {
            let mut function = FunctionChecks {
                container: &container,
                golden: &golden,
                tolerance: config.tolerance,
                progress,
                stats: InvocationStats::default(),
            };
            progress.step("init");
            let init = function.init();
            let initialised = init.passed();
            report.checks.push(init);
            if initialised {
                progress.step(format!("golden replay: {} cases", golden.cases.len()));
                report.checks.push(function.golden_replay());
                progress.step(format!("malformed corpus: {} payloads", corpus.len()));
                report.checks.push(function.malformed_corpus(&corpus));
                progress.step(format!(
                    "generated payloads: {} (seed {})",
                    config.generated_cases, config.seed
                ));
                let mut allowed: Vec<String> = corpus
                    .iter()
                    .filter_map(|c| c.expect.as_ref().map(|e| e.error_type.clone()))
                    .collect();
                allowed.sort();
                allowed.dedup();
                report.checks.push(function.generated(
                    config.generated_cases,
                    config.seed,
                    &config.regressions,
                    &allowed,
                ));
                progress.step("Lambda limits");
                report.checks.push(function.limits(config.max_records));
            } else {
                for name in FUNCTION_CHECKS {
                    report.checks.push(CheckResult::not_run(
                        name,
                        "the function did not initialise",
                    ));
                }
            }
        }
    }
    report.duration = started.elapsed();
    Ok(report)
}

/// The checks that need a running function, after `init`.
const FUNCTION_CHECKS: [&str; 4] = [
    "golden-replay",
    "malformed-corpus",
    "malformed-generated",
    "lambda-limits",
];

fn start_failure_hint(error: &ContainerError, arch: Arch) -> String {
    let text = error.to_string();
    if text.contains("exec format error") {
        format!(
            "{text}\nThe machine cannot execute {arch} binaries: enable emulation (Debian/Ubuntu: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64) or run on a native {arch} runner."
        )
    } else {
        text
    }
}

/// ELF magic + machine of aarch64 binaries as binfmt_misc registers it.
const AARCH64_BINFMT_MAGIC: &str = "7f454c460201010000000000000000000200b700";

/// Fails early, naming the fix, when an arm64 image would run on an x86_64 Linux host whose
/// kernel has no emulator registered. Only judged when the engine is local (no `DOCKER_HOST`
/// or a unix socket) and `binfmt_misc` is readable; otherwise the container start reports it.
fn check_emulation(arch: Arch) -> Result<(), GateError> {
    if Some(arch) == Arch::host() || arch != Arch::Arm64 {
        return Ok(());
    }
    let local = std::env::var("DOCKER_HOST").map_or(true, |h| h.starts_with("unix://"));
    let dir = std::path::Path::new("/proc/sys/fs/binfmt_misc");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    if !local || !dir.join("status").exists() {
        return Ok(());
    }
    let registered = entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path()).is_ok_and(|text| {
            text.lines().next() == Some("enabled") && text.contains(AARCH64_BINFMT_MAGIC)
        })
    });
    if registered {
        Ok(())
    } else {
        Err(GateError::NoEmulation(format!(
            "this x86_64 machine cannot run {arch} containers: no qemu-aarch64 binfmt handler is registered.\n\
             Fix: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64 \
             (mount binfmt_misc first if /proc/sys/fs/binfmt_misc is empty: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc), \
             or verify on a native arm64 runner."
        )))
    }
}
