//! `lambda-gate verify`: build or take the image, read it, run it under the RIE, check it,
//! report. The whole gate.

use super::setup::{Inputs, Run, RunImage};
use crate::checks::{
    self, Budgets, CheckId, CheckResult, Compiled, FunctionChecks, InitEcho, Stop,
};
use crate::commands::Error;
use crate::digest::sha256_file;
use crate::progress::Progress;
use crate::report::Report;
use crate::runtime::{ContainerError, Rie, Target};
use crate::shell::Shell;
use crate::spec::{Compile, Spec};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default limit of a whole run: arm64 under emulation included, a healthy function needs
/// minutes, not an hour.
pub(crate) const DEFAULT_DEADLINE: Duration = Duration::from_secs(3600);
/// Default limit of one check.
pub(crate) const DEFAULT_CHECK_BUDGET: Duration = Duration::from_secs(1200);

/// How to run the gate on this machine (the function itself is the spec's).
#[derive(Clone, Debug)]
pub struct VerifyOptions {
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

impl Default for VerifyOptions {
    /// The pinned RIE, one container, the default limits, progress on stderr.
    fn default() -> Self {
        VerifyOptions {
            rie: None,
            allow_unverified_rie: false,
            deadline: DEFAULT_DEADLINE,
            check_budget: DEFAULT_CHECK_BUDGET,
            jobs: 1,
            progress: Progress::stderr(),
        }
    }
}

/// Runs every check against the spec's image and returns the report. `Err` only when the gate
/// could not run or finish; a failing image is an `Ok` report whose [`Report::passed`] is
/// false.
pub fn verify(spec: &Spec, options: &VerifyOptions) -> Result<Report, Error> {
    let started = Instant::now();
    let arch = spec.function.arch;
    let progress = &options.progress;
    // The gate's own phases count against the deadline too; one that uses it up is named
    // (exit 2), not left for the function's first check to fail on.
    let within_deadline = |phase: &'static str| {
        if started.elapsed() > options.deadline {
            progress.done();
            return Err(Error::Deadline {
                phase,
                deadline: options.deadline,
            });
        }
        Ok(())
    };
    let run = Run::connect(spec, progress)?;
    let inputs = Inputs::load(spec)?;
    let image = run.image()?;
    within_deadline("building the image (image.before, then docker build)")?;
    progress.step(format!("reading image {}", image.reference));
    let facts = crate::image::inspect(
        &run.docker,
        &image.reference,
        &image.id,
        Some(&spec.provenance.model),
    )?;
    within_deadline("reading the image")?;
    let compiled = spec
        .provenance
        .compile
        .as_ref()
        .map(|c| compile(c, &spec.shell, progress))
        .transpose()?;
    within_deadline("running provenance.compile")?;
    let (architecture, runnable) = checks::architecture(&facts, arch);
    let mut report = Report {
        arch,
        function: spec.function.name.clone(),
        image: image.reference.clone(),
        rie: None,
        model_version: inputs.golden.manifest.model_version.clone(),
        checks: vec![
            architecture,
            checks::image_size(&facts, spec.image.max_size),
            checks::provenance(&facts, &inputs.golden, &spec.provenance, compiled.as_ref()),
        ],
        image_facts: Some(facts),
        duration: Duration::ZERO,
    };
    if !runnable {
        // Starting it would fail for the same cause, in words that hide it (Docker pulling
        // the other platform reads like a network problem).
        not_judged(
            &mut report,
            CheckId::Architecture,
            &format!("the image cannot run as an {arch} function (see architecture)"),
        );
        let why = "the image cannot run (see architecture)".to_owned();
        not_judged_concurrency(&mut report, spec, CheckId::Architecture, &why);
        snapstart(&mut report, spec, InitEcho::NotJudged(why));
        progress.done();
        report.duration = started.elapsed();
        return Ok(report);
    }
    let rie = run.rie(options.rie.as_deref(), !options.allow_unverified_rie)?;
    report.rie = Some(rie.origin.clone());
    // SnapStart's init check compares two environments.
    let init_echo = spec.snapstart.as_ref().and_then(|s| s.init_echo.as_deref());
    let environments = if init_echo.is_some() {
        options.jobs.max(2)
    } else {
        options.jobs
    };
    let mut echo = InitEcho::NotJudged("the function did not initialise".to_owned());
    let budgets = Budgets {
        deadline: started + options.deadline,
        per_check: options.check_budget,
    };
    // What golden replay found right one at a time, once the function initialised.
    let mut right_singly = None;
    match run.start(&image, &rie, &run.settings(), environments) {
        // Docker failing around the container, or gone: the image was not judged (exit 2).
        Err(error) if !error.may_be_the_images() => {
            progress.done();
            return Err(error.into());
        }
        Err(error) => {
            let mut init = CheckResult::new(CheckId::Init);
            init.problem(start_failure_hint(&error, arch));
            init.summary = "the function container did not start".to_owned();
            report.checks.push(init);
            not_judged(
                &mut report,
                CheckId::Init,
                "the function container did not start (see init)",
            );
        }
        Ok(containers) => {
            let targets: Vec<&dyn Target> = containers.iter().map(|c| c as &dyn Target).collect();
            let mut function =
                FunctionChecks::new(targets, &inputs.golden, spec, progress, budgets);
            run_function_checks(&mut function, &inputs, &mut report);
            if let Some(Stop::Broken(why)) = function.invoker.stop {
                progress.done();
                return Err(Error::Infrastructure(why));
            }
            if report.check(CheckId::Init).is_some_and(|c| c.passed()) {
                right_singly = Some(function.right_singly.clone());
                echo = match init_echo {
                    Some(pointer) => {
                        progress.step("SnapStart: init in two environments");
                        function.init_echo(pointer)
                    }
                    None => InitEcho::NotAsked,
                };
            }
        }
    }
    if spec.function.max_concurrency > 1 {
        match right_singly {
            Some(right) => {
                let check = concurrency(&run, &image, &rie, &inputs, budgets, &right)?;
                report.checks.push(check);
            }
            None => {
                let why = "the function did not start or initialise (see init)";
                not_judged_concurrency(&mut report, spec, CheckId::Init, why);
            }
        }
    }
    snapstart(&mut report, spec, echo);
    progress.done();
    report.duration = started.elapsed();
    Ok(report)
}

/// The `concurrency` check, in an environment of its own: the image under the RIE in its
/// Managed Instances mode, serving `function.max_concurrency` requests at once (bounded, see
/// [`checks::in_flight`]). `right_singly`: the golden cases golden replay found right one at a
/// time.
fn concurrency(
    run: &Run<'_>,
    image: &RunImage,
    rie: &Rie,
    inputs: &Inputs,
    budgets: Budgets,
    right_singly: &[bool],
) -> Result<CheckResult, Error> {
    let spec = run.spec;
    let progress = run.progress;
    let in_flight = checks::in_flight(spec.function.max_concurrency);
    progress.step(format!(
        "concurrency: {in_flight} requests at once in one environment (Managed Instances)"
    ));
    if let Err(why) = crate::runtime::managed_mode_runs(&image.command) {
        let mut check = CheckResult::new(CheckId::Concurrency);
        check.problem(why);
        check.summary = "the RIE's Managed Instances mode cannot start this image".to_owned();
        return Ok(check);
    }
    if let Some(not_judged) = checks::nothing_to_compare(right_singly) {
        return Ok(not_judged);
    }
    let mut settings = run.settings();
    settings.max_concurrency = Some(spec.function.max_concurrency);
    let container = match run.start(image, rie, &settings, 1) {
        Err(error) if !error.may_be_the_images() => {
            progress.done();
            return Err(error.into());
        }
        Err(error) => {
            let mut check = CheckResult::new(CheckId::Concurrency);
            check.problem(format!(
                "with {}={}: {error}",
                crate::lambda::MAX_CONCURRENCY_ENV,
                spec.function.max_concurrency
            ));
            check.summary =
                "the function did not start in the RIE's Managed Instances mode".to_owned();
            return Ok(check);
        }
        Ok(mut containers) => containers.remove(0),
    };
    let targets: Vec<&dyn Target> = vec![&container as &dyn Target; in_flight];
    let mut function = FunctionChecks::new(targets, &inputs.golden, spec, progress, budgets);
    let check = function.concurrency(right_singly);
    if let Some(Stop::Broken(why)) = function.invoker.stop {
        progress.done();
        return Err(Error::Infrastructure(why));
    }
    Ok(check)
}

/// Adds `concurrency`, when the spec runs the function on Managed Instances, as not judged
/// because `cause` failed (`why`).
fn not_judged_concurrency(report: &mut Report, spec: &Spec, cause: CheckId, why: &str) {
    if spec.function.max_concurrency > 1 {
        let check = CheckResult::not_judged(CheckId::Concurrency, cause, why);
        report.checks.push(check);
    }
}

/// Adds the `snapstart` check when the spec publishes the function with SnapStart, with what
/// the environments reported at `snapstart.init_echo`.
fn snapstart(report: &mut Report, spec: &Spec, echo: InitEcho) {
    let (Some(snap), Some(facts)) = (&spec.snapstart, &report.image_facts) else {
        return;
    };
    let check = checks::snapstart(facts, &spec.function, snap.init_echo.as_deref(), echo);
    report.checks.push(check);
}

/// `init`, then, if the function initialised, every check that invokes it.
fn run_function_checks(function: &mut FunctionChecks<'_>, inputs: &Inputs, report: &mut Report) {
    let progress = function.progress;
    let generated = &function.spec.generated;
    progress.step("init");
    let init = function.init();
    let initialised = init.passed();
    report.checks.push(init);
    if !initialised {
        not_judged(
            report,
            CheckId::Init,
            "the function did not initialise (see init)",
        );
        return;
    }
    progress.step(format!(
        "golden replay: {} cases",
        inputs.golden.cases.len()
    ));
    report.checks.push(function.golden_replay());
    progress.step(format!(
        "malformed corpus: {} payloads",
        inputs.corpus.len()
    ));
    report
        .checks
        .push(function.malformed_corpus(&inputs.corpus));
    progress.step(format!(
        "generated payloads: {} (seed {})",
        generated.cases, generated.seed
    ));
    report.checks.push(function.generated());
    progress.step("Lambda limits");
    report.checks.push(function.limits());
}

/// Adds every check of `verify` not yet in the report as not judged because `cause` failed
/// (`why`), so the report names the cause once and no knock-on as a failure of its own.
fn not_judged(report: &mut Report, cause: CheckId, why: &str) {
    for id in CheckId::VERIFY {
        if report.check(id).is_none() {
            report.checks.push(CheckResult::not_judged(id, cause, why));
        }
    }
}

/// Runs the spec's compile command on the host's source model into a scratch file, so the
/// provenance check can compare the image's model with exactly that.
fn compile(spec: &Compile, shell: &Shell, progress: &Progress) -> Result<Compiled, Error> {
    let failed = |what: String, source: Option<std::io::Error>| Error::Compile { what, source };
    let source_sha256 = sha256_file(&spec.source).map_err(|e| {
        failed(
            format!("cannot read its source {}", spec.source.display()),
            Some(e),
        )
    })?;
    let scratch = tempfile::tempdir()
        .map_err(|e| failed("cannot create a scratch directory".to_owned(), Some(e)))?;
    let output = scratch.path().join("compiled");
    let quote = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', "'\\''"));
    let source = std::path::absolute(&spec.source).unwrap_or_else(|_| spec.source.clone());
    let command = spec
        .command
        .replace("{source}", &quote(&source))
        .replace("{output}", &quote(&output));
    let (status, tail) = progress
        .run(
            "compiling the goldens' model for the provenance check (provenance.compile)",
            &mut shell.command(&command),
        )
        .map_err(|e| failed("cannot be started with sh".to_owned(), Some(e)))?;
    if !status.success() {
        let output = if progress.quiet() {
            format!("; its last lines:\n{tail}")
        } else {
            "; its output is above".to_owned()
        };
        return Err(failed(
            format!("failed ({status}): {command}{output}"),
            None,
        ));
    }
    let output_sha256 = sha256_file(&output)
        .map_err(|e| failed(format!("wrote no {{output}} file: {command}"), Some(e)))?;
    Ok(Compiled {
        source: spec.source.clone(),
        source_sha256,
        output_sha256,
    })
}

fn start_failure_hint(error: &ContainerError, arch: crate::arch::Arch) -> String {
    let text = error.to_string();
    if text.contains("exec format error") {
        format!(
            "{text}\nThe machine cannot execute {arch} binaries: enable emulation (Debian/Ubuntu: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64) or run on a native {arch} runner."
        )
    } else {
        text
    }
}
