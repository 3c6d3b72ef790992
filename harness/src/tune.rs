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

use crate::arch::Arch;
use crate::checks::{
    Budgets, INIT_REPORT_WAIT, Invoker, LAMBDA_INIT_LIMIT, Stop, human_bytes, memory_problem,
    quantile_ms,
};
use crate::container::{FunctionContainer, LambdaSettings, Outcome, Target};
use crate::docker::DockerClient;
use crate::gate::GateError;
use crate::golden::GoldenSet;
use crate::image_build::spec_image;
use crate::progress::Progress;
use crate::report::ReportError;
use crate::rie::{self, RieOrigin};
use crate::spec::Spec;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Lambda's price per GB-second for x86_64 functions, in USD: us-east-1, first tier (the first
/// 6 billion GB-seconds of a month). Written down on 2026-12-01 from issue 13 (Lambda's pricing
/// page), not re-read since; prices change by region and over time, so `tune` takes
/// `--price-gb-second` to override it.
pub const PRICE_GB_SECOND_X86_64: f64 = 0.000_016_666_7;
/// Lambda's price per GB-second for arm64 (Graviton) functions, in USD: us-east-1, first tier.
/// Written down on 2026-12-01 like [`PRICE_GB_SECOND_X86_64`]; `--price-gb-second` overrides it.
pub const PRICE_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
/// Lambda's price per million requests, in USD, either architecture: us-east-1. Written down on
/// 2026-12-01; `--price-per-million-requests` overrides it.
pub const PRICE_PER_MILLION_REQUESTS: f64 = 0.20;
/// When the price constants above were written down.
pub const PRICES_DATED: &str = "2026-12-01";

/// Memory that buys one vCPU: Lambda allocates CPU in proportion to memory.
const MB_PER_VCPU: f64 = 1769.0;
/// The most vCPUs Lambda gives a function (at 10,240 MB).
const LAMBDA_MAX_VCPUS: f64 = 6.0;
/// Invocations after the cold start that are not measured: lazy imports, caches and the
/// allocator settle before the clock runs.
const WARM_UP: usize = 3;
/// A size that failed this many invocations is not measured further: it is out anyway.
const MAX_FAILURES: usize = 3;

/// The vCPUs Lambda gives a function of `memory_mb`: `memory_mb / 1769`, at most 6.
pub(crate) fn lambda_vcpus(memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / MB_PER_VCPU).min(LAMBDA_MAX_VCPUS)
}

/// The CPU limit the container gets for `memory_mb` on a machine with `host_cpus` CPUs: Lambda's
/// share, or all the machine has when that is less (`true`: capped, so the size's latency is
/// that of fewer vCPUs than Lambda would give).
pub(crate) fn container_cpus(memory_mb: u32, host_cpus: u32) -> (f64, bool) {
    let share = lambda_vcpus(memory_mb);
    let host = f64::from(host_cpus.max(1));
    if share > host {
        (host, true)
    } else {
        (share, false)
    }
}

/// The duration Lambda bills for an invocation of `ms` milliseconds: rounded up to the next
/// whole millisecond, at least 1.
pub(crate) fn billed_ms(ms: f64) -> u64 {
    (ms.ceil() as u64).max(1)
}

/// What a million invocations cost at `memory_mb` when each is billed `billed_ms`:
/// `1e6 × (price per GB-second × memory in GB × billed seconds + price per request)`.
pub(crate) fn cost_per_million(memory_mb: u32, billed_ms: u64, prices: &Prices) -> f64 {
    let gb = f64::from(memory_mb) / 1024.0;
    let seconds = billed_ms as f64 / 1000.0;
    let per_request = prices.per_million_requests / 1e6;
    1e6 * (prices.gb_second * gb * seconds + per_request)
}

/// The prices a tune run uses.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Prices {
    /// USD per GB-second of billed duration.
    pub gb_second: f64,
    /// USD per million requests.
    pub per_million_requests: f64,
    /// Where they come from: the dated published prices, or the user's.
    pub source: String,
}

impl Prices {
    /// Lambda's published prices for `arch` (us-east-1, first tier), as of [`PRICES_DATED`].
    pub fn published(arch: Arch) -> Self {
        Prices {
            gb_second: match arch {
                Arch::Arm64 => PRICE_GB_SECOND_ARM64,
                Arch::X86_64 => PRICE_GB_SECOND_X86_64,
            },
            per_million_requests: PRICE_PER_MILLION_REQUESTS,
            source: format!(
                "Lambda's published {arch} prices, us-east-1, first tier, as of {PRICES_DATED}"
            ),
        }
    }
}

/// A tune run: the function, the sizes to try and how to judge them.
#[derive(Clone, Debug)]
pub struct TuneConfig {
    /// The function, as its `lambda-gate.toml` describes it (overrides applied).
    pub spec: Spec,
    /// Memory sizes in MB, ascending (the spec's `tune.sizes` by default).
    pub sizes: Vec<u32>,
    /// Measured invocations per size (the spec's `tune.invocations` by default).
    pub invocations: u32,
    /// The p99 a size must meet to be recommended (the spec's `tune.latency_p99_ms`).
    pub latency_p99: Option<Duration>,
    /// The prices costs are computed with.
    pub prices: Prices,
    /// A local RIE binary instead of the pinned one.
    pub rie: Option<PathBuf>,
    /// The whole run must end within this; sizes not reached are reported as not measured.
    pub deadline: Duration,
    /// One size may take this long.
    pub size_budget: Duration,
    /// Where progress goes.
    pub progress: Progress,
}

impl TuneConfig {
    /// A run of `spec` as its `[tune]` section says, at the published prices of its
    /// architecture, with the gate's time limits.
    pub fn new(spec: Spec) -> Self {
        TuneConfig {
            sizes: spec.tune.sizes.clone(),
            invocations: spec.tune.invocations,
            latency_p99: spec.tune.latency_p99,
            prices: Prices::published(spec.function.arch),
            spec,
            rie: None,
            deadline: crate::gate::DEFAULT_DEADLINE,
            size_budget: crate::gate::DEFAULT_CHECK_BUDGET,
            progress: Progress::stderr(),
        }
    }
}

/// What one memory size showed.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SizeResult {
    /// The memory size, in MB (also the container's memory limit).
    pub memory_mb: u32,
    /// The vCPUs Lambda gives this size.
    pub lambda_vcpus: f64,
    /// The CPU limit the container had (less than `lambda_vcpus` when the machine has fewer).
    pub cpus: f64,
    /// Whether `cpus` was capped at the machine's CPUs.
    pub cpus_capped: bool,
    /// Whether the size was measured at all (the run's deadline can stop it first).
    pub measured: bool,
    /// The init phase, from the RIE's `INIT REPORT`.
    pub init_ms: Option<f64>,
    /// The cold start's first request, init included, as the client saw it.
    pub first_invocation_ms: Option<f64>,
    /// Warm invocations that answered (the latencies are theirs).
    pub invocations: usize,
    /// Median warm latency, client-side.
    pub p50_ms: Option<f64>,
    /// 99th percentile warm latency, client-side.
    pub p99_ms: Option<f64>,
    /// Peak memory of the container (runtime and RIE), as the kernel counts it.
    pub peak_memory_bytes: Option<u64>,
    /// Whether an invocation ran out of memory (`Runtime.OutOfMemory`), the kernel killed the
    /// container for memory, or its peak memory reached the size (the gate's lambda-limits
    /// rule).
    pub out_of_memory: bool,
    /// Invocations that did not answer with a result (errors, out of memory, timeouts).
    pub failures: usize,
    /// What went wrong, first few.
    pub problems: Vec<String>,
    /// Cost of a million invocations billed at the p50 latency.
    pub cost_per_million_p50: Option<f64>,
    /// Cost of a million invocations billed at the p99 latency.
    pub cost_per_million_p99: Option<f64>,
}

impl SizeResult {
    fn new(memory_mb: u32, host_cpus: u32) -> Self {
        let (cpus, cpus_capped) = container_cpus(memory_mb, host_cpus);
        SizeResult {
            memory_mb,
            lambda_vcpus: lambda_vcpus(memory_mb),
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
        }
    }

    /// Whether the size ran cleanly: measured, nothing failed, latencies known.
    pub fn clean(&self) -> bool {
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
pub enum Recommendation {
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

/// Everything a tune run found.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TuneReport {
    /// The function's name.
    pub function: String,
    /// Its architecture (the prices are this architecture's).
    pub arch: Arch,
    /// Whether the image ran under emulation (arm64 on an x86_64 machine): its latencies are
    /// the emulator's, not Lambda's.
    pub emulated: bool,
    /// The image measured.
    pub image: String,
    /// Which emulator ran it.
    pub rie: RieOrigin,
    /// CPUs of the machine (the most a container could be given).
    pub host_cpus: u32,
    /// Measured invocations per size.
    pub invocations_per_size: u32,
    /// The latency target, p99 in ms.
    pub latency_p99_target_ms: Option<f64>,
    /// The prices.
    pub prices: Prices,
    /// Which latency the cost is billed at (`p50`; `p99` is shown beside it).
    pub billed_at: &'static str,
    /// One entry per size, ascending.
    pub sizes: Vec<SizeResult>,
    /// The verdict.
    pub recommendation: Recommendation,
    /// Wall time of the run, in seconds (build included).
    pub duration_s: f64,
}

/// Version of the JSON file's layout: raised when a field changes meaning or goes away.
pub const TUNE_SCHEMA_VERSION: u32 = 1;

#[derive(serde::Serialize)]
struct JsonTune<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a TuneReport,
}

/// Builds (or takes) the image and measures it at every size of `config`, one size at a time,
/// each in a fresh container. `Err` only when the run cannot be made (Docker, the build, the
/// RIE, the goldens); a size that fails is a row of the report.
pub fn tune(config: &TuneConfig) -> Result<TuneReport, GateError> {
    let started = Instant::now();
    let spec = &config.spec;
    let arch = spec.function.arch;
    let progress = &config.progress;
    let docker = DockerClient::connect()?;
    let golden = GoldenSet::load(&spec.goldens.dir)?;
    let image = spec_image(&docker, spec, arch, progress)?;
    let command = docker.command_line(&image)?;
    let rie = rie::provision(arch, config.rie.as_deref())?;
    let host_cpus = docker.cpus()?;
    let deadline = started + config.deadline;
    let mut sizes = Vec::with_capacity(config.sizes.len());
    for &memory_mb in &config.sizes {
        let mut size = SizeResult::new(memory_mb, host_cpus);
        if Instant::now() > deadline {
            size.problem("not measured: the run's deadline passed (--deadline)");
        } else {
            progress.step(format!(
                "{memory_mb} MB ({:.2} vCPU{}): cold start",
                size.cpus,
                if size.cpus_capped { ", capped" } else { "" }
            ));
            let mut settings = LambdaSettings::from_spec(&spec.function);
            settings.memory_mb = memory_mb;
            settings.cpus = Some(size.cpus);
            let container =
                FunctionContainer::start(&image, arch, &rie, &command, &settings, progress)?;
            let budgets = Budgets {
                deadline,
                per_check: config.size_budget,
            };
            measure(
                &mut size, &container, &docker, &golden, spec, config, budgets,
            );
        }
        sizes.push(size);
    }
    progress.done();
    let target_ms = config.latency_p99.map(|d| d.as_secs_f64() * 1000.0);
    Ok(TuneReport {
        function: spec.function.name.clone(),
        arch,
        emulated: Arch::host().is_some_and(|host| host != arch),
        image,
        rie: rie.origin,
        host_cpus,
        invocations_per_size: config.invocations,
        latency_p99_target_ms: target_ms,
        prices: config.prices.clone(),
        billed_at: "p50",
        recommendation: recommend(&sizes, target_ms),
        sizes,
        duration_s: started.elapsed().as_secs_f64(),
    })
}

/// One size in its running container: the cold start, the warm-up, then `config.invocations`
/// golden cases spread evenly over the golden set, one per request.
fn measure(
    size: &mut SizeResult,
    container: &FunctionContainer,
    docker: &DockerClient,
    golden: &GoldenSet,
    spec: &Spec,
    config: &TuneConfig,
    budgets: Budgets,
) {
    let progress = &config.progress;
    let mut invoker = Invoker::new(
        vec![container as &dyn Target],
        budgets,
        spec.function.timeout,
    );
    invoker.begin();
    size.measured = true;
    let cases = &golden.cases;
    let body = |i: usize| cases[i % cases.len()].request_body(&spec.contract);
    let failed = |size: &mut SizeResult, label: &str, outcome: &Outcome| {
        size.failures += 1;
        if let Outcome::FunctionError { error_type, .. } = outcome
            && error_type == "Runtime.OutOfMemory"
        {
            size.out_of_memory = true;
        }
        size.problem(format!("{label}: {}", outcome.describe()));
    };
    let first = invoker.invoke(&format!("cold start ({})", cases[0].case_id), &body(0));
    let mut go_on = false;
    if let Some(first) = first {
        size.first_invocation_ms = Some(ms(first.elapsed));
        let success = matches!(first.outcome, Outcome::Success(_));
        let wait = if success {
            INIT_REPORT_WAIT
        } else {
            Duration::from_millis(500)
        };
        let init = container.init_report(wait);
        size.init_ms = init.map(ms);
        if success {
            go_on = true;
            if let Some(init) = init.filter(|i| *i > LAMBDA_INIT_LIMIT) {
                size.problem(format!(
                    "init took {:.0} ms, over Lambda's 10 s init limit",
                    ms(init)
                ));
            }
        } else {
            failed(size, "cold start", &first.outcome);
        }
    }
    let mut latencies = Vec::new();
    if go_on {
        for i in 0..WARM_UP {
            match invoker.invoke("warm-up", &body(i + 1)) {
                Some(answer) if !matches!(answer.outcome, Outcome::Success(_)) => {
                    failed(size, "warm-up", &answer.outcome);
                }
                Some(_) => {}
                None => break,
            }
        }
        progress.step(format!(
            "{} MB: {} invocations",
            size.memory_mb, config.invocations
        ));
        let n = config.invocations as usize;
        for i in 0..n {
            if size.failures >= MAX_FAILURES {
                size.problem(format!("stopped after {MAX_FAILURES} failed invocations"));
                break;
            }
            // Evenly over the set: every case when it holds at most `n`, each about equally
            // often when it holds fewer.
            let case = &cases[i * cases.len() / n];
            let Some(answer) = invoker.invoke(&case.case_id, &case.request_body(&spec.contract))
            else {
                break;
            };
            if matches!(answer.outcome, Outcome::Success(_)) {
                latencies.push(answer.elapsed);
            } else {
                failed(size, &case.case_id, &answer.outcome);
            }
            progress.count("invocations", i + 1, n);
        }
    }
    for why in invoker.stopped_because() {
        size.problem(why);
    }
    if let Some(Stop::Broken(_)) = invoker.stop
        && docker
            .container_state(container.id())
            .is_ok_and(|state| state.oom_killed)
    {
        size.out_of_memory = true;
    }
    size.peak_memory_bytes = container.peak_memory_bytes();
    // The gate's lambda-limits rule.
    if let Some(problem) = size
        .peak_memory_bytes
        .and_then(|peak| memory_problem(peak, size.memory_mb))
    {
        size.out_of_memory = true;
        size.problem(problem);
    }
    size.invocations = latencies.len();
    latencies.sort();
    size.p50_ms = quantile_ms(&latencies, 0.5);
    size.p99_ms = quantile_ms(&latencies, 0.99);
    size.cost_per_million_p50 = size
        .p50_ms
        .map(|p| cost_per_million(size.memory_mb, billed_ms(p), &config.prices));
    size.cost_per_million_p99 = size
        .p99_ms
        .map(|p| cost_per_million(size.memory_mb, billed_ms(p), &config.prices));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl TuneReport {
    /// The recommendation in one sentence.
    pub fn verdict(&self) -> String {
        let row = |mb: u32| self.sizes.iter().find(|s| s.memory_mb == mb);
        let costs = |s: &SizeResult| {
            format!(
                "${:.4} per million invocations (billed at p50 {:.1} ms -> {} ms)",
                s.cost_per_million_p50.unwrap_or_default(),
                s.p50_ms.unwrap_or_default(),
                billed_ms(s.p50_ms.unwrap_or_default())
            )
        };
        // A size, or none meeting the target, only comes with a target.
        let target = self.latency_p99_target_ms.unwrap_or_default();
        match &self.recommendation {
            Recommendation::Size { memory_mb } => {
                let s = row(*memory_mb);
                format!(
                    "recommended: {memory_mb} MB, the cheapest size without failures whose p99 ({:.1} ms) meets the target of {target} ms: {}",
                    s.and_then(|s| s.p99_ms).unwrap_or_default(),
                    s.map(costs).unwrap_or_default()
                )
            }
            Recommendation::NoneMeetsTarget { fastest_mb } => match fastest_mb {
                Some(mb) => format!(
                    "no size meets the p99 target of {target} ms without failures; the fastest is {mb} MB (p99 {:.1} ms): try larger sizes, or a faster function",
                    row(*mb).and_then(|s| s.p99_ms).unwrap_or_default()
                ),
                None => format!(
                    "no size meets the p99 target of {target} ms: none ran without failures"
                ),
            },
            Recommendation::NoTarget { cheapest_mb } => {
                let cheapest = match cheapest_mb {
                    Some(mb) => format!(
                        "; the cheapest size without failures is {mb} MB: {}",
                        row(*mb).map(costs).unwrap_or_default()
                    ),
                    None => String::new(),
                };
                format!(
                    "no recommendation: no latency target (set tune.latency_p99_ms in the spec or pass --latency-p99-ms){cheapest}"
                )
            }
        }
    }

    /// Whether a latency target was given and no size meets it.
    pub fn target_missed(&self) -> bool {
        matches!(self.recommendation, Recommendation::NoneMeetsTarget { .. })
    }

    /// The table at `width` columns (the terminal's), the problems of each failed size, notes
    /// and the recommendation. Below 110 columns the vCPU and p99-cost columns are left out.
    pub fn render(&self, width: u16, color: bool) -> String {
        use comfy_table::{Cell, CellAlignment, Color};
        let narrow = width < 110;
        let recommended = match self.recommendation {
            Recommendation::Size { memory_mb } => Some(memory_mb),
            _ => None,
        };
        let mut table = comfy_table::Table::new();
        table
            .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(width);
        if color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        let mut header = vec!["memory"];
        if !narrow {
            header.push("vCPU");
        }
        header.extend([
            "init",
            "p50",
            "p99",
            "peak memory",
            "failures",
            "$/1M (p50)",
        ]);
        if !narrow {
            header.push("$/1M (p99)");
        }
        header.push("verdict");
        table.set_header(header);
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("-".to_owned(), |v| format!("{v:.1}{unit}"));
        for s in &self.sizes {
            let verdict = if !s.measured {
                ("not measured".to_owned(), Color::Yellow)
            } else if s.out_of_memory {
                ("out of memory".to_owned(), Color::Red)
            } else if !s.clean() {
                ("failed".to_owned(), Color::Red)
            } else if recommended == Some(s.memory_mb) {
                ("recommended".to_owned(), Color::Green)
            } else {
                match (self.latency_p99_target_ms, s.p99_ms) {
                    (Some(t), Some(p)) if p <= t => ("meets target".to_owned(), Color::Reset),
                    (Some(_), _) => ("over target".to_owned(), Color::Yellow),
                    (None, _) => ("ok".to_owned(), Color::Reset),
                }
            };
            let mut row = vec![Cell::new(format!("{} MB", s.memory_mb))];
            if !narrow {
                row.push(Cell::new(format!(
                    "{:.2}{}",
                    s.cpus,
                    if s.cpus_capped { "*" } else { "" }
                )));
            }
            row.extend([
                Cell::new(opt(s.init_ms, " ms")),
                Cell::new(opt(s.p50_ms, " ms")),
                Cell::new(opt(s.p99_ms, " ms")),
                Cell::new(s.peak_memory_bytes.map_or("-".to_owned(), human_bytes)),
                Cell::new(s.failures),
                Cell::new(
                    s.cost_per_million_p50
                        .map_or("-".to_owned(), |c| format!("${c:.4}")),
                ),
            ]);
            if !narrow {
                row.push(Cell::new(
                    s.cost_per_million_p99
                        .map_or("-".to_owned(), |c| format!("${c:.4}")),
                ));
            }
            let cell = Cell::new(verdict.0);
            row.push(if color { cell.fg(verdict.1) } else { cell });
            table.add_row(row);
        }
        // Numbers right-aligned; the size and the verdict read as words.
        let last = table.column_count().saturating_sub(1);
        for (i, column) in table.column_iter_mut().enumerate() {
            if i > 0 && i < last {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
        let mut out = crate::report::fit_line(
            &format!(
                "lambda-gate tune: {} ({}{}), image {}",
                self.function,
                self.arch,
                if self.emulated { ", emulated" } else { "" },
                self.image
            ),
            width,
        );
        out.push_str(&crate::report::fit_line(
            &format!("emulator: {}", self.rie.describe()),
            width,
        ));
        let _ = writeln!(
            out,
            "per size: a fresh container with that memory limit and memory/1769 vCPUs, a cold start, {WARM_UP} warm-up invocations, then {} golden cases one per request; latencies are client-side",
            self.invocations_per_size
        );
        let _ = writeln!(
            out,
            "prices: ${} per GB-second, ${} per million requests ({}); cost billed at p50, rounded up to 1 ms",
            self.prices.gb_second,
            cents(self.prices.per_million_requests),
            self.prices.source
        );
        let _ = writeln!(out, "{table}");
        if self.sizes.iter().any(|s| s.cpus_capped) {
            let _ = writeln!(
                out,
                "* capped: this machine has {} CPUs, less than Lambda gives these sizes, so their latencies are those of {} vCPUs",
                self.host_cpus, self.host_cpus
            );
        }
        if self.emulated {
            let _ = writeln!(
                out,
                "note: {} runs under emulation on this machine: latencies (and so costs) are the emulator's, not Lambda's",
                self.arch
            );
        }
        for s in self.sizes.iter().filter(|s| !s.problems.is_empty()) {
            let _ = writeln!(out, "\n{} MB:", s.memory_mb);
            for p in &s.problems {
                let _ = writeln!(out, "  - {}", p.replace('\n', "\n    "));
            }
        }
        let _ = writeln!(out, "\n{}", self.verdict());
        out
    }

    /// Writes `tune-<arch>.json` and the plot `tune-<arch>.svg` into `dir`.
    pub fn write_files(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let write = |name: String, contents: &[u8]| crate::report::write_file(dir, name, contents);
        let json = serde_json::to_vec_pretty(&JsonTune {
            schema_version: TUNE_SCHEMA_VERSION,
            report: self,
        })
        .map_err(crate::report::ReportError::Json)?;
        Ok(vec![
            write(format!("tune-{}.json", self.arch), &json)?,
            write(format!("tune-{}.svg", self.arch), self.svg().as_bytes())?,
        ])
    }

    /// Cost per million invocations and p99 latency against memory, as SVG. Written by hand:
    /// two polylines on a log axis are a few dozen lines, and the plotting crates (plotters and
    /// the like) bring font and image stacks for it.
    pub fn svg(&self) -> String {
        const W: f64 = 760.0;
        const H: f64 = 440.0;
        const LEFT: f64 = 80.0;
        const RIGHT: f64 = 80.0;
        const TOP: f64 = 50.0;
        const BOTTOM: f64 = 70.0;
        let (plot_w, plot_h) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
        let log = |mb: u32| f64::from(mb).log2();
        let lo = self
            .sizes
            .iter()
            .map(|s| log(s.memory_mb))
            .fold(f64::MAX, f64::min);
        let hi = self
            .sizes
            .iter()
            .map(|s| log(s.memory_mb))
            .fold(f64::MIN, f64::max);
        let x = |mb: u32| {
            if hi > lo {
                LEFT + (log(mb) - lo) / (hi - lo) * plot_w
            } else {
                LEFT + plot_w / 2.0
            }
        };
        // Scaled to what is drawn: the sizes that ran cleanly (and the target).
        let max_cost = self
            .sizes
            .iter()
            .filter(|s| s.clean())
            .filter_map(|s| s.cost_per_million_p50)
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.15;
        let max_ms = self
            .sizes
            .iter()
            .filter(|s| s.clean())
            .filter_map(|s| s.p99_ms)
            .chain(self.latency_p99_target_ms)
            .fold(0.0, f64::max)
            .max(1e-9)
            * 1.15;
        let y_cost = |c: f64| TOP + plot_h - c / max_cost * plot_h;
        let y_ms = |m: f64| TOP + plot_h - m / max_ms * plot_h;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{} ({}): cost and p99 latency against memory</text>\n\
             <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{plot_w}\" height=\"{plot_h}\" fill=\"none\" stroke=\"#888\"/>\n",
            W / 2.0,
            xml(&self.function),
            self.arch
        );
        for i in 0..=4 {
            let f = f64::from(i) / 4.0;
            let y = TOP + plot_h - f * plot_h;
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">${:.3}</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">{:.1} ms</text>",
                LEFT + plot_w,
                LEFT - 6.0,
                y + 4.0,
                f * max_cost,
                LEFT + plot_w + 6.0,
                y + 4.0,
                f * max_ms
            );
        }
        for s in &self.sizes {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(s.memory_mb),
                TOP + plot_h + 18.0,
                s.memory_mb
            );
            if !s.clean() {
                let what = if s.out_of_memory { "OOM" } else { "failed" };
                let _ = writeln!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#b00\" font-weight=\"bold\">\u{d7} {what}</text>",
                    x(s.memory_mb),
                    TOP + plot_h - 8.0
                );
            }
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">memory (MB, log scale)</text>\
             <text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#1f77b4\">$ per million invocations (billed at p50)</text>\
             <text transform=\"translate({:.1} {:.1}) rotate(90)\" text-anchor=\"middle\" fill=\"#d62728\">p99 latency (ms)</text>",
            LEFT + plot_w / 2.0,
            H - 30.0,
            TOP + plot_h / 2.0,
            W - 14.0,
            TOP + plot_h / 2.0
        );
        if let Some(target) = self.latency_p99_target_ms {
            let y = y_ms(target);
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#d62728\" stroke-dasharray=\"2 4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#d62728\">target p99 {target} ms</text>",
                LEFT + plot_w,
                LEFT + plot_w - 4.0,
                y - 4.0
            );
        }
        if let Recommendation::Size { memory_mb } = self.recommendation {
            let _ = writeln!(
                svg,
                "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\
                 <text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" fill=\"#2ca02c\">recommended {memory_mb} MB</text>",
                x(memory_mb),
                TOP + plot_h,
                TOP - 6.0
            );
        }
        let series = |value: &dyn Fn(&SizeResult) -> Option<f64>, y: &dyn Fn(f64) -> f64| {
            self.sizes
                .iter()
                .filter(|s| s.clean())
                .filter_map(|s| Some((x(s.memory_mb), y(value(s)?))))
                .collect::<Vec<_>>()
        };
        for (points, color, dash) in [
            (series(&|s| s.cost_per_million_p50, &y_cost), "#1f77b4", ""),
            (
                series(&|s| s.p99_ms, &y_ms),
                "#d62728",
                " stroke-dasharray=\"6 3\"",
            ),
        ] {
            let line: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>",
                line.join(" ")
            );
            for (x, y) in points {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/>"
                );
            }
        }
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#1f77b4\">\u{2014} cost per million (p50)</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">- - p99 latency</text>\n</svg>",
            H - 8.0,
            LEFT + 200.0,
            H - 8.0
        );
        svg
    }
}

/// A price as written: at least two decimals ($0.20), more when it has them.
fn cents(usd: f64) -> String {
    if (usd * 100.0).fract() == 0.0 {
        format!("{usd:.2}")
    } else {
        format!("{usd}")
    }
}

/// `text` safe inside SVG text.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_share_is_proportional_to_memory_as_lambda_gives_it() {
        // 1 vCPU at 1769 MB, in proportion below and above.
        // 128 / 1769 = 0.072357...
        assert!(
            (lambda_vcpus(128) - 0.0724).abs() < 5e-5,
            "{}",
            lambda_vcpus(128)
        );
        assert_eq!(lambda_vcpus(1769), 1.0);
        // 3538 = 2 x 1769.
        assert_eq!(lambda_vcpus(3538), 2.0);
        // 10240 / 1769 = 5.78858...: within Lambda's 6 vCPUs, so the cap does not bind at
        // Lambda's largest size; nothing ever gets more than 6.
        assert!(
            (lambda_vcpus(10_240) - 5.7886).abs() < 5e-5,
            "{}",
            lambda_vcpus(10_240)
        );
        assert!(lambda_vcpus(10_240) <= 6.0);
        assert_eq!(lambda_vcpus(20_000), 6.0);
        // On a 2-CPU machine the container gets at most 2, and says so.
        assert_eq!(container_cpus(1769, 2), (1.0, false));
        assert_eq!(container_cpus(3538, 2), (2.0, false));
        assert_eq!(container_cpus(3539, 2), (2.0, true));
        assert_eq!(container_cpus(10_240, 2), (2.0, true));
        assert_eq!(container_cpus(10_240, 8), (10_240.0 / 1769.0, false));
    }

    #[test]
    fn billed_duration_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(0.2), 1);
        assert_eq!(billed_ms(12.0), 12);
        assert_eq!(billed_ms(12.01), 13);
        assert_eq!(billed_ms(99.999), 100);
    }

    #[test]
    fn cost_per_million_is_the_published_formula() {
        let x86 = Prices::published(Arch::X86_64);
        let arm = Prices::published(Arch::Arm64);
        // 1024 MB x86_64, 12.3 ms billed as 13 ms:
        //   GB-seconds per invocation = 1024/1024 x 0.013 = 0.013
        //   compute = 0.013 x 0.0000166667 = 0.000000216667 $; request = 0.20 / 1e6 = 0.0000002 $
        //   per million = 1e6 x (0.000000216667 + 0.0000002) = 0.216667 + 0.2 = 0.416667 $
        let cost = cost_per_million(1024, billed_ms(12.3), &x86);
        assert!((cost - 0.416_667_1).abs() < 1e-9, "{cost}");
        // 128 MB arm64, exactly 100 ms:
        //   0.125 GB x 0.1 s = 0.0125 GB-s; x 0.0000133334 = 0.000000166667 $
        //   per million = 0.1666675 + 0.2 = 0.3666675 $
        let cost = cost_per_million(128, billed_ms(100.0), &arm);
        assert!((cost - 0.366_667_5).abs() < 1e-9, "{cost}");
        // 3008 MB x86_64, 1.2 ms billed as 2 ms:
        //   2.9375 GB x 0.002 s = 0.005875 GB-s; x 0.0000166667 = 0.0000000979169 $
        //   per million = 0.0979169 + 0.2 = 0.2979169 $
        let cost = cost_per_million(3008, billed_ms(1.2), &x86);
        assert!((cost - 0.297_916_9).abs() < 1e-7, "{cost}");
        // Overridden prices: $0.00002 per GB-s and $0.25 per million requests, 2048 MB, 50 ms:
        //   2 GB x 0.05 s = 0.1 GB-s; x 0.00002 = 0.000002 $ -> 2.0 $ per million + 0.25 = 2.25 $
        let custom = Prices {
            gb_second: 0.000_02,
            per_million_requests: 0.25,
            source: "test".to_owned(),
        };
        let cost = cost_per_million(2048, billed_ms(50.0), &custom);
        assert!((cost - 2.25).abs() < 1e-9, "{cost}");
    }

    fn size(mb: u32, p50: f64, p99: f64, failures: usize) -> SizeResult {
        let prices = Prices::published(Arch::X86_64);
        let mut s = SizeResult::new(mb, 2);
        s.measured = true;
        s.p50_ms = Some(p50);
        s.p99_ms = Some(p99);
        s.cost_per_million_p50 = Some(cost_per_million(mb, billed_ms(p50), &prices));
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

    #[test]
    fn the_plot_has_both_series_and_the_recommendation() {
        let sizes = vec![
            size(128, 10.0, 20.0, 3),
            size(512, 40.0, 90.0, 0),
            size(1024, 25.0, 60.0, 0),
        ];
        let report = TuneReport {
            function: "f<&>".to_owned(),
            arch: Arch::X86_64,
            emulated: false,
            image: "f:1".to_owned(),
            rie: RieOrigin::Pinned {
                sam_cli_version: "x",
                sha256: "0123456789abcdef0123",
            },
            host_cpus: 2,
            invocations_per_size: 10,
            latency_p99_target_ms: Some(100.0),
            prices: Prices::published(Arch::X86_64),
            billed_at: "p50",
            recommendation: recommend(&sizes, Some(100.0)),
            sizes,
            duration_s: 1.0,
        };
        let svg = report.svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("recommended 512 MB"), "{svg}");
        assert!(svg.contains("\u{d7} OOM"), "{svg}");
        assert!(svg.contains("f&lt;&amp;&gt;"), "{svg}");
        let table = report.render(120, false);
        assert!(table.contains("recommended: 512 MB"), "{table}");
        assert!(table.contains("out of memory"), "{table}");
    }
}
