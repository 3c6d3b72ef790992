//! One gate run: build or take the image, read it, run it under the RIE, check it, report.

use crate::arch::Arch;
use crate::checks::{self, Budgets, CheckResult, Compiled, FunctionChecks, Stop};
use crate::container::{ContainerError, FunctionContainer, LambdaSettings, Target};
use crate::digest::sha256_file;
use crate::docker::{DockerClient, DockerError};
use crate::golden::{GoldenError, GoldenSet};
use crate::image::ImageError;
use crate::image_build::{BuildError, spec_image};
use crate::malformed::{self, CorpusError};
use crate::progress::Progress;
use crate::report::Report;
use crate::rie::{self, RieError};
use crate::spec::{Compile, Spec};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A gate run: the function's spec and how to run the gate on this machine.
#[derive(Clone, Debug)]
pub struct GateConfig {
    /// The function, as its `lambda-gate.toml` describes it (overrides applied).
    pub spec: Spec,
    /// A local RIE binary instead of the pinned one.
    pub rie: Option<PathBuf>,
    /// Whether a local RIE may be used with `CI` set (it never is by default: a CI gate runs
    /// the pinned, verified emulator).
    pub allow_unverified_rie: bool,
    /// The whole run must end within this (after it, the remaining checks stop and fail).
    pub deadline: Duration,
    /// One check may take this long (after it, the check stops and fails).
    pub check_budget: Duration,
    /// How many containers of the image serve the checks' requests at once (each one request
    /// at a time, as Lambda's execution environments do). Results do not depend on it.
    pub jobs: usize,
    /// Where progress goes.
    pub progress: Progress,
}

impl GateConfig {
    /// A run of `spec` with the pinned RIE and progress on stderr.
    pub fn new(spec: Spec) -> Self {
        GateConfig {
            spec,
            rie: None,
            allow_unverified_rie: false,
            deadline: DEFAULT_DEADLINE,
            check_budget: DEFAULT_CHECK_BUDGET,
            jobs: 1,
            progress: Progress::stderr(),
        }
    }
}

/// Default limit of a whole run: arm64 under emulation included, a healthy function needs
/// minutes, not an hour.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3600);
/// Default limit of one check.
pub const DEFAULT_CHECK_BUDGET: Duration = Duration::from_secs(1200);

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
    #[error(
        "this x86_64 machine cannot run {0} containers: no qemu-aarch64 binfmt handler is registered.\n\
         Fix: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64 \
         (mount binfmt_misc first if /proc/sys/fs/binfmt_misc is empty: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc), \
         or verify on a native arm64 runner."
    )]
    NoEmulation(Arch),
    /// The function container could not be started (for `invoke`; `verify` reports it as the
    /// `init` check instead).
    #[error(transparent)]
    Start(#[from] ContainerError),
    /// A local RIE was given with `CI` set and without `--allow-unverified-rie`.
    #[error(
        "CI is set and the emulator is a local binary ({0}), not the pinned, verified one: drop --rie/LAMBDA_GATE_RIE, or pass --allow-unverified-rie if this CI means it"
    )]
    UnverifiedRie(String),
    /// The container or Docker went away during the run (killed from outside, the emulator
    /// died, the engine stopped answering): the image could not be judged.
    #[error("the run could not finish: {0}")]
    Infrastructure(String),
    /// The provenance compile command could not run or failed.
    #[error("provenance.compile {0}")]
    Compile(String),
}

/// Runs every check against the image and returns the report. `Err` only for setup problems;
/// a failing image is an `Ok` report whose [`Report::passed`] is false.
pub fn verify(config: &GateConfig) -> Result<Report, GateError> {
    let started = Instant::now();
    let spec = &config.spec;
    let arch = spec.function.arch;
    let progress = &config.progress;
    let docker = DockerClient::connect()?;
    let golden = GoldenSet::load(&spec.goldens.dir)?;
    let mut corpus = malformed::generic(&spec.malformed.skip_generic);
    if let Some(path) = &spec.malformed.cases {
        corpus.extend(malformed::load_for(&spec.malformed, path)?);
    }
    check_emulation(arch)?;
    let image = spec_image(&docker, spec, arch, progress)?;
    progress.step(format!("reading image {image}"));
    let facts = crate::image::inspect(&docker, &image, Some(&spec.provenance.model))?;
    let compiled = spec
        .provenance
        .compile
        .as_ref()
        .map(|c| compile(c, &spec.root, progress))
        .transpose()?;
    let mut report = Report {
        arch,
        function: spec.function.name.clone(),
        image: image.clone(),
        rie: None,
        model_version: golden.manifest.model_version.clone(),
        checks: vec![
            checks::architecture(&facts, arch),
            checks::image_size(&facts, spec.image.max_size),
            checks::provenance(&facts, &golden, &spec.provenance, compiled.as_ref()),
        ],
        image_facts: Some(facts.clone()),
        duration: Duration::ZERO,
    };
    let rie = rie::provision(arch, config.rie.as_deref())?;
    if let rie::RieOrigin::Local { path, .. } = &rie.origin
        && crate::regen::in_ci()
        && !config.allow_unverified_rie
    {
        return Err(GateError::UnverifiedRie(path.display().to_string()));
    }
    report.rie = Some(rie.origin.clone());
    progress.step(format!(
        "starting the function under the RIE ({})",
        arch.docker_platform()
    ));
    let settings = LambdaSettings::from_spec(&spec.function);
    let command = facts.command_line();
    // One container per job, started together; each serves one request at a time.
    let started_containers: Result<Vec<FunctionContainer>, ContainerError> =
        std::thread::scope(|scope| {
            let starts: Vec<_> = (0..config.jobs.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        FunctionContainer::start(&image, arch, &rie, &command, &settings, progress)
                    })
                })
                .collect();
            starts
                .into_iter()
                .map(|s| s.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
    match started_containers {
        Err(error) => {
            let mut init = CheckResult::new("init");
            init.problem(start_failure_hint(&error, arch));
            init.summary = "the function container did not start".to_owned();
            report.checks.push(init);
            for name in FUNCTION_CHECKS {
                report
                    .checks
                    .push(CheckResult::not_run(name, "the container did not start"));
            }
        }
        Ok(containers) => {
            let budgets = Budgets {
                deadline: started + config.deadline,
                per_check: config.check_budget,
            };
            let targets: Vec<&dyn Target> = containers.iter().map(|c| c as &dyn Target).collect();
            let mut function = FunctionChecks::new(targets, &golden, spec, progress, budgets);
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
                    spec.generated.cases, spec.generated.seed
                ));
                report.checks.push(function.generated());
                progress.step("Lambda limits");
                report.checks.push(function.limits());
            }
            if let Some(Stop::Broken(why)) = function.invoker.stop {
                progress.done();
                return Err(GateError::Infrastructure(why));
            }
            if !initialised {
                for name in FUNCTION_CHECKS {
                    report.checks.push(CheckResult::not_run(
                        name,
                        "the function did not initialise",
                    ));
                }
            }
        }
    }
    progress.done();
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

/// Runs the spec's compile command on the host's source model into a scratch file, so the
/// provenance check can compare the image's model with exactly that.
fn compile(
    spec: &Compile,
    root: &std::path::Path,
    progress: &Progress,
) -> Result<Compiled, GateError> {
    let source_sha256 = sha256_file(&spec.source).map_err(|e| {
        GateError::Compile(format!(
            "cannot read its source {}: {e}",
            spec.source.display()
        ))
    })?;
    let scratch = tempfile::tempdir()
        .map_err(|e| GateError::Compile(format!("cannot create a scratch directory: {e}")))?;
    let output = scratch.path().join("compiled");
    let quote =
        |p: &std::path::Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let source = std::path::absolute(&spec.source).unwrap_or_else(|_| spec.source.clone());
    let command = spec
        .command
        .replace("{source}", &quote(&source))
        .replace("{output}", &quote(&output));
    progress.heading("compiling the goldens' model for the provenance check (provenance.compile)");
    let status = Command::new("sh")
        .arg("-ec")
        .arg(&command)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(crate::progress::stdout_to_stderr())
        .status()
        .map_err(|e| GateError::Compile(format!("cannot be started with sh: {e}")))?;
    if !status.success() {
        return Err(GateError::Compile(format!(
            "failed ({status}); its output is above: {command}"
        )));
    }
    let output_sha256 = sha256_file(&output)
        .map_err(|e| GateError::Compile(format!("wrote no {{output}} file ({e}): {command}")))?;
    Ok(Compiled {
        source: spec.source.clone(),
        source_sha256,
        output_sha256,
    })
}

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
        Err(GateError::NoEmulation(arch))
    }
}
