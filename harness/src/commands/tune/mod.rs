//! `lambda-gate tune`: which memory size to deploy, answered before the first deployment.
//!
//! The usual advice for a function that runs out of memory or is slow is "increase the memory",
//! found out in the console after deploying; AWS Lambda Power Tuning answers it only for a
//! function already deployed. Here the image runs under the real RIE at each memory size with
//! what Lambda gives that size: the memory limit, and CPU in proportion to it (one vCPU at
//! 1,769 MB). Each size starts cold in a fresh container, is warmed up, and replays golden
//! cases one per request; its init, warm latency, peak memory and failures are priced with
//! Lambda's published prices, and the cheapest size that meets the spec's latency target is
//! recommended.

mod plot;
mod report;

pub(crate) use report::TuneReport;

use super::setup::Run;
use crate::arch::Arch;
use crate::checks::{Budgets, InitVerdict, Invoker, Stop};
use crate::commands::Error;
use crate::golden::GoldenSet;
use crate::lambda::{self, Prices, billed_ms};
use crate::progress::Progress;
use crate::runtime::{FunctionContainer, Outcome, Target};
use crate::spec::Spec;
use crate::units::{ms, quantile_ms};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Invocations after the cold start that are not measured: lazy imports, caches and the
/// allocator settle before the clock runs.
const WARM_UP: usize = 3;
/// A size that failed this many invocations is not measured further: it is out anyway.
const MAX_FAILURES: usize = 3;

/// The CPU limit the container gets for `memory_mb` on a machine with `host_cpus` CPUs: Lambda's
/// share, or all the machine has when that is less (`true`: capped, so the size's latency is
/// that of fewer vCPUs than Lambda would give).
fn container_cpus(memory_mb: u32, host_cpus: u32) -> (f64, bool) {
    let share = lambda::vcpus(memory_mb);
    let host = f64::from(host_cpus.max(1));
    if share > host {
        (host, true)
    } else {
        (share, false)
    }
}

/// How to run `tune` on this machine; the sizes, invocations and target are the spec's
/// `[tune]` (overrides applied).
#[derive(Clone, Debug)]
pub(crate) struct TuneOptions {
    /// The prices costs are computed with.
    pub(crate) prices: Prices,
    /// A local RIE binary instead of the pinned one.
    pub(crate) rie: Option<PathBuf>,
    /// The whole run must end within this; sizes not reached are reported as not measured.
    pub(crate) deadline: Duration,
    /// One size may take this long.
    pub(crate) size_budget: Duration,
    /// The share of invocations that start cold (0 to 1): each adds its billed init to the
    /// cost ([`lambda::DEFAULT_COLD_START_RATE`] unless given).
    pub(crate) cold_start_rate: f64,
    /// Where progress goes.
    pub(crate) progress: Progress,
}

/// What one memory size showed.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct SizeResult {
    /// The memory size, in MB (also the container's memory limit).
    pub(crate) memory_mb: u32,
    /// The vCPUs Lambda gives this size.
    pub(crate) lambda_vcpus: f64,
    /// The CPU limit the container had (less than `lambda_vcpus` when the machine has fewer).
    pub(crate) cpus: f64,
    /// Whether `cpus` was capped at the machine's CPUs.
    pub(crate) cpus_capped: bool,
    /// Whether the size was measured at all (the run's deadline can stop it first).
    pub(crate) measured: bool,
    /// The init phase, from the RIE's `INIT REPORT`.
    pub(crate) init_ms: Option<f64>,
    /// The cold start's first request, init included, as the client saw it.
    pub(crate) first_invocation_ms: Option<f64>,
    /// Warm invocations that answered (the latencies are theirs).
    pub(crate) invocations: usize,
    /// Median warm latency, client-side.
    pub(crate) p50_ms: Option<f64>,
    /// 99th percentile warm latency, client-side.
    pub(crate) p99_ms: Option<f64>,
    /// Peak memory of the container (runtime and RIE), as the kernel counts it.
    pub(crate) peak_memory_bytes: Option<u64>,
    /// Whether an invocation ran out of memory (`Runtime.OutOfMemory`), the kernel killed the
    /// container for memory, or its peak memory reached the size (the gate's lambda-limits
    /// rule).
    pub(crate) out_of_memory: bool,
    /// Invocations that did not answer with a result (errors, out of memory, timeouts).
    pub(crate) failures: usize,
    /// What went wrong, first few.
    pub(crate) problems: Vec<String>,
    /// Cost of a million invocations billed at the p50 latency, the init of the cold starts
    /// among them included.
    pub(crate) cost_per_million_p50: Option<f64>,
    /// Cost of a million invocations billed at the p99 latency, init included likewise.
    pub(crate) cost_per_million_p99: Option<f64>,
    /// The part of either cost that is billed init: the measured init, rounded up to 1 ms, at
    /// the run's cold-start rate (absent when no `INIT REPORT` was seen, and then not in the
    /// costs either).
    pub(crate) init_cost_per_million: Option<f64>,
}

impl SizeResult {
    fn new(memory_mb: u32, host_cpus: u32) -> Self {
        let (cpus, cpus_capped) = container_cpus(memory_mb, host_cpus);
        SizeResult {
            memory_mb,
            lambda_vcpus: lambda::vcpus(memory_mb),
            cpus,
            cpus_capped,
            measured: false,
            init_ms: None,
            first_invocation_ms: None,
            invocations: 0,
            p50_ms: None,
            p99_ms: None,
            peak_memory_bytes: None,
            out_of_memory: false,
            failures: 0,
            problems: Vec::new(),
            cost_per_million_p50: None,
            cost_per_million_p99: None,
            init_cost_per_million: None,
        }
    }

    /// Whether the size ran cleanly: measured, nothing failed, latencies known.
    pub(crate) fn clean(&self) -> bool {
        self.measured && self.problems.is_empty() && self.p99_ms.is_some()
    }

    fn problem(&mut self, what: impl Into<String>) {
        if self.problems.len() < 5 {
            self.problems.push(what.into());
        }
    }
}

/// What the run recommends.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Recommendation {
    /// The cheapest size that ran cleanly and meets the latency target.
    Size {
        /// Its memory size in MB.
        memory_mb: u32,
    },
    /// No size that ran cleanly meets the target; the fastest one, if any ran cleanly.
    NoneMeetsTarget {
        /// The size with the lowest p99 among those that ran cleanly.
        fastest_mb: Option<u32>,
    },
    /// No target was given; the cheapest size that ran cleanly, for information.
    NoTarget {
        /// The size with the lowest p50 cost among those that ran cleanly.
        cheapest_mb: Option<u32>,
    },
}

/// The cheapest clean size whose p99 meets `target_ms` (ties: the smaller size); if none does,
/// the fastest clean one.
pub(crate) fn recommend(sizes: &[SizeResult], target_ms: Option<f64>) -> Recommendation {
    let clean = || sizes.iter().filter(|s| s.clean());
    let cheapest = |it: &mut dyn Iterator<Item = &SizeResult>| {
        it.filter_map(|s| Some((s.cost_per_million_p50?, s.memory_mb)))
            .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
            .map(|(_, mb)| mb)
    };
    let Some(target) = target_ms else {
        return Recommendation::NoTarget {
            cheapest_mb: cheapest(&mut clean()),
        };
    };
    match cheapest(&mut clean().filter(|s| s.p99_ms.is_some_and(|p| p <= target))) {
        Some(memory_mb) => Recommendation::Size { memory_mb },
        None => Recommendation::NoneMeetsTarget {
            fastest_mb: clean()
                .filter_map(|s| Some((s.p99_ms?, s.memory_mb)))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map(|(_, mb)| mb),
        },
    }
}

/// Builds (or takes) the image and measures it at every size of the spec's `[tune]`, one size
/// at a time, each in a fresh container. `Err` only when the run cannot be made (Docker, the
/// build, the RIE, the goldens); a size that fails is a row of the report.
pub(crate) fn tune(spec: &Spec, options: &TuneOptions) -> Result<TuneReport, Error> {
    let started = Instant::now();
    let arch = spec.function.arch;
    let progress = &options.progress;
    let run = Run::connect(spec, progress)?;
    let golden = GoldenSet::load(&spec.goldens.dir)?;
    let image = run.image()?;
    let rie = run.rie(options.rie.as_deref(), false)?;
    let host_cpus = run.docker.cpus()?;
    let deadline = started + options.deadline;
    let mut sizes = Vec::with_capacity(spec.tune.sizes.len());
    for &memory_mb in &spec.tune.sizes {
        let mut size = SizeResult::new(memory_mb, host_cpus);
        if Instant::now() > deadline {
            size.problem("not measured: the run's deadline passed (--deadline)");
        } else {
            progress.step(format!(
                "{memory_mb} MB ({:.2} vCPU{}): cold start",
                size.cpus,
                if size.cpus_capped { ", capped" } else { "" }
            ));
            let mut settings = run.settings();
            settings.memory_mb = memory_mb;
            settings.cpus = Some(size.cpus);
            let mut containers = run.start(&image, &rie, &settings, 1)?;
            let budgets = Budgets {
                deadline,
                per_check: options.size_budget,
            };
            if let Some(container) = containers.pop() {
                let mut measure = Measure {
                    size: &mut size,
                    container: &container,
                    golden: &golden,
                    spec,
                    progress,
                };
                measure.run(budgets);
                size.price(&options.prices, options.cold_start_rate);
            }
        }
        sizes.push(size);
    }
    progress.done();
    let target_ms = spec.tune.latency_p99.map(|d| d.as_secs_f64() * 1000.0);
    Ok(TuneReport {
        function: spec.function.name.clone(),
        arch,
        emulated: Arch::host().is_some_and(|host| host != arch),
        image: image.reference,
        rie: rie.origin,
        host_cpus,
        invocations_per_size: spec.tune.invocations,
        latency_p99_target_ms: target_ms,
        prices: options.prices.clone(),
        cold_start_rate: options.cold_start_rate,
        billed_at: "p50",
        recommendation: recommend(&sizes, target_ms),
        sizes,
        duration_s: started.elapsed().as_secs_f64(),
    })
}

impl SizeResult {
    /// Costs at the measured p50 and p99, each with the billed init of `cold_start_rate`
    /// cold starts.
    fn price(&mut self, prices: &Prices, cold_start_rate: f64) {
        let init = self
            .init_ms
            .map(|i| prices.init_per_million(self.memory_mb, billed_ms(i), cold_start_rate));
        let at = |p: f64| prices.per_million(self.memory_mb, billed_ms(p)) + init.unwrap_or(0.0);
        self.cost_per_million_p50 = self.p50_ms.map(at);
        self.cost_per_million_p99 = self.p99_ms.map(at);
        self.init_cost_per_million = init;
    }

    /// Counts a failed invocation (and notes an out-of-memory one).
    fn failed(&mut self, label: &str, outcome: &Outcome) {
        self.failures += 1;
        if let Outcome::FunctionError { error_type, .. } = outcome
            && error_type == "Runtime.OutOfMemory"
        {
            self.out_of_memory = true;
        }
        self.problem(format!("{label}: {}", outcome.describe()));
    }
}

/// One size in its running container.
struct Measure<'a> {
    size: &'a mut SizeResult,
    container: &'a FunctionContainer,
    golden: &'a GoldenSet,
    spec: &'a Spec,
    progress: &'a Progress,
}

impl Measure<'_> {
    /// The cold start, the warm-up, then `tune.invocations` golden cases spread evenly over the
    /// golden set, one per request; then memory.
    fn run(&mut self, budgets: Budgets) {
        let mut invoker = Invoker::new(
            vec![self.container as &dyn Target],
            budgets,
            self.spec.function.timeout,
        );
        invoker.begin();
        self.size.measured = true;
        let latencies = if self.cold_start(&mut invoker) {
            self.warm(&mut invoker)
        } else {
            Vec::new()
        };
        for why in invoker.stopped_because() {
            self.size.problem(why);
        }
        if let Some(Stop::Broken(_)) = invoker.stop
            && self.container.oom_killed()
        {
            self.size.out_of_memory = true;
        }
        self.size.peak_memory_bytes = self.container.peak_memory_bytes();
        // The gate's lambda-limits rule.
        if let Some(problem) = self
            .size
            .peak_memory_bytes
            .and_then(|peak| lambda::memory_problem(peak, self.size.memory_mb))
        {
            self.size.out_of_memory = true;
            self.size.problem(problem);
        }
        let mut latencies = latencies;
        latencies.sort();
        self.size.invocations = latencies.len();
        self.size.p50_ms = quantile_ms(&latencies, 0.5);
        self.size.p99_ms = quantile_ms(&latencies, 0.99);
    }

    fn body(&self, i: usize) -> Vec<u8> {
        let cases = &self.golden.cases;
        cases[i % cases.len()].request_body(&self.spec.contract)
    }

    /// The first invocation, judged as `verify`'s init check judges it; whether the size can
    /// be measured further.
    fn cold_start(&mut self, invoker: &mut Invoker<'_>) -> bool {
        let label = format!("cold start ({})", self.golden.cases[0].case_id);
        let Some(first) = invoker.invoke(&label, &self.body(0)) else {
            return false;
        };
        let verdict = InitVerdict::judge(&first, self.container);
        self.size.first_invocation_ms = Some(ms(verdict.first));
        self.size.init_ms = verdict.init.map(ms);
        if !verdict.succeeded {
            self.size.failed("cold start", &first.outcome);
            return false;
        }
        if let Some(problem) = verdict.over_limit {
            self.size.problem(problem);
        }
        true
    }

    /// The warm-up, then the measured invocations; their latencies.
    fn warm(&mut self, invoker: &mut Invoker<'_>) -> Vec<Duration> {
        for i in 0..WARM_UP {
            match invoker.invoke("warm-up", &self.body(i + 1)) {
                Some(answer) if !matches!(answer.outcome, Outcome::Success(_)) => {
                    self.size.failed("warm-up", &answer.outcome);
                }
                Some(_) => {}
                None => break,
            }
        }
        let n = self.spec.tune.invocations as usize;
        self.progress
            .step(format!("{} MB: {n} invocations", self.size.memory_mb));
        let cases = &self.golden.cases;
        let mut latencies = Vec::new();
        for i in 0..n {
            if self.size.failures >= MAX_FAILURES {
                self.size
                    .problem(format!("stopped after {MAX_FAILURES} failed invocations"));
                break;
            }
            // Evenly over the set: every case when it holds at most `n`, each about equally
            // often when it holds fewer.
            let case = &cases[i * cases.len() / n];
            let body = case.request_body(&self.spec.contract);
            let Some(answer) = invoker.invoke(&case.case_id, &body) else {
                break;
            };
            if matches!(answer.outcome, Outcome::Success(_)) {
                latencies.push(answer.elapsed);
            } else {
                self.size.failed(&case.case_id, &answer.outcome);
            }
            self.progress.count("invocations", i + 1, n);
        }
        latencies
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn the_container_gets_lambdas_cpu_share_capped_at_the_machines() {
        // On a 2-CPU machine the container gets at most 2, and says so.
        assert_eq!(container_cpus(1769, 2), (1.0, false));
        assert_eq!(container_cpus(3538, 2), (2.0, false));
        assert_eq!(container_cpus(3539, 2), (2.0, true));
        assert_eq!(container_cpus(10_240, 2), (2.0, true));
        assert_eq!(container_cpus(10_240, 8), (10_240.0 / 1769.0, false));
    }

    /// A report of `sizes` with a p99 target of 100 ms.
    pub(crate) fn report_of(sizes: Vec<SizeResult>) -> TuneReport {
        TuneReport {
            function: "f<&>".to_owned(),
            arch: Arch::X86_64,
            emulated: false,
            image: "f:1".to_owned(),
            rie: crate::runtime::RieOrigin::Pinned {
                sam_cli_version: "x",
                sha256: "0123456789abcdef0123",
            },
            host_cpus: 2,
            invocations_per_size: 10,
            latency_p99_target_ms: Some(100.0),
            prices: Prices::published(Arch::X86_64),
            cold_start_rate: 0.01,
            billed_at: "p50",
            recommendation: recommend(&sizes, Some(100.0)),
            sizes,
            duration_s: 1.0,
        }
    }

    pub(crate) fn size(mb: u32, p50: f64, p99: f64, failures: usize) -> SizeResult {
        let prices = Prices::published(Arch::X86_64);
        let mut s = SizeResult::new(mb, 2);
        s.measured = true;
        s.p50_ms = Some(p50);
        s.p99_ms = Some(p99);
        s.init_ms = Some(912.4);
        s.peak_memory_bytes = Some(123_456_789);
        s.price(&prices, 0.01);
        s.failures = failures;
        if failures > 0 {
            s.out_of_memory = true;
            s.problem("x: error Runtime.OutOfMemory");
        }
        s
    }

    #[test]
    fn the_cheapest_clean_size_meeting_the_target_is_recommended() {
        // 128 MB failed; 256 MB is cheap but over the target; 512 and 1024 meet it, and 512
        // costs less (0.5 GB x 40 ms < 1 GB x 25 ms).
        let sizes = [
            size(128, 10.0, 20.0, 3),
            size(256, 80.0, 150.0, 0),
            size(512, 40.0, 90.0, 0),
            size(1024, 25.0, 60.0, 0),
        ];
        assert_eq!(
            recommend(&sizes, Some(100.0)),
            Recommendation::Size { memory_mb: 512 }
        );
        // A failed size never qualifies, however fast.
        assert_eq!(
            recommend(&sizes, Some(50.0)),
            Recommendation::NoneMeetsTarget {
                fastest_mb: Some(1024)
            }
        );
        assert_eq!(
            recommend(&sizes, None),
            Recommendation::NoTarget {
                cheapest_mb: Some(256)
            }
        );
        assert_eq!(
            recommend(&sizes[..1], Some(100.0)),
            Recommendation::NoneMeetsTarget { fastest_mb: None }
        );
    }
}
