//! `lambda-gate replay`: the goldens and the malformed corpus through the Lambda Invoke API, to
//! a deployed function.
//!
//! The gate proves an image before it is pushed; replay proves the function as deployed (its
//! configuration, its environment, the image Lambda actually runs) with the same checks, the
//! same comparison, the same corpus and the same report. The static image checks, `init` and
//! `lambda-limits` need the image or the container and are left out: the report holds
//! `golden-replay`, `malformed-corpus` and, when asked for, `malformed-generated`.

use super::setup::Inputs;
use super::verify::{DEFAULT_CHECK_BUDGET, DEFAULT_DEADLINE};
use crate::checks::{Budgets, FunctionChecks, Stop};
use crate::commands::Error;
use crate::progress::Progress;
use crate::report::Report;
use crate::runtime::Target;
use crate::runtime::deployed::{Address, DeployedFunction};
use crate::spec::Spec;
use std::time::{Duration, Instant};

/// A replay: the deployed function, and how to run the checks against it.
pub(crate) struct ReplayOptions {
    /// Which function, and how to reach it.
    pub(crate) address: Address,
    /// Also run `malformed-generated` with the spec's `generated.cases` (each one an invocation
    /// billed by Lambda, so not by default).
    pub(crate) generated: bool,
    /// Invocations in flight at once (at least 1); results do not depend on it.
    pub(crate) jobs: usize,
    /// Where progress goes.
    pub(crate) progress: Progress,
}

/// Replays the goldens and the malformed corpus against the deployed function and returns the
/// report. `Err` for setup problems, including a function that cannot be reached at all; a
/// function that answers wrongly is an `Ok` report whose [`Report::passed`] is false.
pub(crate) fn replay(spec: &Spec, options: &ReplayOptions) -> Result<Report, Error> {
    let started = Instant::now();
    let progress = &options.progress;
    let inputs = Inputs::load(spec)?;
    let function = DeployedFunction::connect(&options.address, spec.function.timeout)?;
    let described = options.address.describe();
    progress.step(format!("invoking {described}"));
    let first = inputs.golden.cases[0].request_body(&spec.contract);
    if let Err(error) = function.check_reachable(&first) {
        progress.done();
        return Err(error.into());
    }
    let budgets = Budgets {
        deadline: started + DEFAULT_DEADLINE,
        per_check: DEFAULT_CHECK_BUDGET,
    };
    let targets: Vec<&dyn Target> = (0..options.jobs.max(1))
        .map(|_| &function as &dyn Target)
        .collect();
    let mut checks = FunctionChecks::new(targets, &inputs.golden, spec, progress, budgets);
    let mut report = Report {
        arch: spec.function.arch,
        function: spec.function.name.clone(),
        image: described,
        rie: None,
        model_version: inputs.golden.manifest.model_version.clone(),
        checks: Vec::new(),
        image_facts: None,
        duration: Duration::ZERO,
    };
    progress.step(format!(
        "golden replay: {} cases",
        inputs.golden.cases.len()
    ));
    report.checks.push(checks.golden_replay());
    progress.step(format!(
        "malformed corpus: {} payloads",
        inputs.corpus.len()
    ));
    report.checks.push(checks.malformed_corpus(&inputs.corpus));
    if options.generated {
        let generated = &spec.generated;
        progress.step(format!(
            "generated payloads: {} (seed {})",
            generated.cases, generated.seed
        ));
        report.checks.push(checks.generated());
    }
    progress.done();
    if let Some(Stop::Broken(why)) = checks.invoker.stop {
        // The endpoint stopped answering: no verdict on the function (exit 2).
        return Err(Error::Infrastructure(why));
    }
    report.duration = started.elapsed();
    Ok(report)
}
