//! Checks that invoke the function in its container, under the RIE.

use super::invoker::{Budgets, Invoker};
use super::{CheckResult, human_bytes};
use crate::compare::compare;
use crate::container::{Invocation, Outcome, Target};
use crate::generated::{Payload, Shape, payloads};
use crate::golden::{GoldenCase, GoldenSet, batch_body};
use crate::malformed::{Expect, LAMBDA_PAYLOAD_LIMIT, MalformedCase};
use crate::progress::Progress;
use crate::spec::{Contract, ErrorContract, Spec};
use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

/// Lambda's limit on the init phase.
pub(crate) const LAMBDA_INIT_LIMIT: Duration = Duration::from_secs(10);
/// How long the RIE's `INIT REPORT` line may take to reach us after the first answer.
pub(crate) const INIT_REPORT_WAIT: Duration = Duration::from_secs(10);

/// The `q` quantile of `sorted` latencies in ms (nearest rank); `None` when there are none.
pub(crate) fn quantile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .map(|d| d.as_secs_f64() * 1000.0)
}

/// Why a function whose container peaked at `peak` bytes fails at `memory_mb`, if it does:
/// Lambda stops a function that reaches its memory size, even where the kernel here kept it
/// alive by dropping cached pages.
pub(crate) fn memory_problem(peak: u64, memory_mb: u32) -> Option<String> {
    (peak >= u64::from(memory_mb) * 1024 * 1024).then(|| {
        format!(
            "peak memory {} reached the function's memory size ({memory_mb} MB): Lambda would stop it (Runtime.OutOfMemory)",
            human_bytes(peak)
        )
    })
}

/// A generated payload's body and its verdict, judged ahead of proptest's run (`None`: not
/// sent, the run had to stop).
type KnownVerdict = (Vec<u8>, Option<Result<(), String>>);

/// The function checks, sharing one way to the function and one record of invocations.
pub(crate) struct FunctionChecks<'a> {
    pub(crate) invoker: Invoker<'a>,
    pub(crate) golden: &'a GoldenSet,
    pub(crate) spec: &'a Spec,
    pub(crate) progress: &'a Progress,
}

impl<'a> FunctionChecks<'a> {
    /// Checks of `spec`'s function through `targets` (one, or several with `--jobs`).
    pub(crate) fn new(
        targets: Vec<&'a dyn Target>,
        golden: &'a GoldenSet,
        spec: &'a Spec,
        progress: &'a Progress,
        budgets: Budgets,
    ) -> Self {
        FunctionChecks {
            invoker: Invoker::new(targets, budgets, spec.function.timeout),
            golden,
            spec,
            progress,
        }
    }

    fn contract(&self) -> &'a Contract {
        &self.spec.contract
    }

    fn begin(&mut self) -> Instant {
        self.invoker.begin()
    }

    /// Ends a check: it fails when it had to stop early, saying why.
    fn end(&mut self, check: &mut CheckResult, started: Instant) {
        for why in self.invoker.stopped_because() {
            check.problem(why);
        }
        check.duration = started.elapsed();
    }

    fn invoke(&mut self, label: &str, body: &[u8]) -> Option<Invocation> {
        self.invoker.invoke(label, body)
    }

    fn target(&self) -> &'a dyn Target {
        self.invoker.targets[0]
    }

    /// The first invocation initialises the function: the RIE starts the runtime lazily, with
    /// the first request. It must succeed, and the init phase the RIE reports (`INIT REPORT`)
    /// must fit Lambda's 10 s limit; the first request's latency (init plus one prediction) is
    /// shown beside it.
    pub(crate) fn init(&mut self) -> CheckResult {
        let mut check = CheckResult::new("init");
        let started = self.begin();
        let case = &self.golden.cases[0];
        let Some(invocation) = self.invoke(
            &format!("init ({})", case.case_id),
            &case.request_body(self.contract()),
        ) else {
            check.summary = "the function could not be invoked".to_owned();
            self.end(&mut check, started);
            return check;
        };
        check.cases = 1;
        let first = invocation.elapsed;
        check.metric("first_invocation_ms", ms(first));
        let wait = if matches!(invocation.outcome, Outcome::Success(_)) {
            INIT_REPORT_WAIT
        } else {
            Duration::from_millis(500)
        };
        let init = self.target().init_report(wait);
        if let Some(init) = init {
            check.metric("init_report_ms", ms(init));
        }
        if let Outcome::Success(_) = invocation.outcome {
            let judged = init.unwrap_or(first);
            if judged > LAMBDA_INIT_LIMIT {
                check.problem(format!(
                    "the init phase took {:.0} ms, over Lambda's 10 s init limit",
                    ms(judged)
                ));
            }
            check.summary = match init {
                Some(init) => format!(
                    "init {:.1} ms (INIT REPORT; Lambda allows 10 s), first request {:.1} ms",
                    ms(init),
                    ms(first)
                ),
                None => format!(
                    "the RIE printed no INIT REPORT; first request incl. init {:.1} ms (Lambda allows 10 s for init)",
                    ms(first)
                ),
            };
        } else {
            check.problem(format!(
                "the first invocation ({}) failed: {}\n--- container log (tail) ---\n{}",
                case.case_id,
                invocation.outcome.describe(),
                self.target().log_tail(40)
            ));
            check.summary = "the function failed its first invocation".to_owned();
        }
        self.end(&mut check, started);
        check
    }

    /// Every golden case, one per invocation and then in batches when the contract has them,
    /// against the training-time predictions.
    pub(crate) fn golden_replay(&mut self) -> CheckResult {
        let mut check = CheckResult::new("golden-replay");
        let started = self.begin();
        let cases = &self.golden.cases;
        let total = cases.len();
        let mut mismatched = 0;
        let jobs: Vec<(String, Vec<u8>)> = cases
            .iter()
            .map(|c| (c.case_id.clone(), c.request_body(self.contract())))
            .collect();
        let answers = self
            .invoker
            .invoke_all(&jobs, self.progress, "golden cases");
        for (case, answer) in cases.iter().zip(&answers) {
            let Some(invocation) = answer else { break };
            let problems = self.compare(case, &invocation.outcome, None);
            if !problems.is_empty() {
                mismatched += 1;
            }
            for p in problems {
                check.problem(p);
            }
        }
        check.cases = total;
        let mut batch_problems = 0;
        if let Some(batch) = &self.contract().batch {
            for chunk in cases.chunks(batch.max) {
                let body = batch_body(batch, chunk);
                let Some(answer) = self.invoke("golden batch", &body) else {
                    break;
                };
                for (i, case) in chunk.iter().enumerate() {
                    let problems = self.compare(case, &answer.outcome, Some(i));
                    let failed = !problems.is_empty();
                    for p in problems {
                        batch_problems += 1;
                        check.problem(format!("(in a batch of {}) {p}", chunk.len()));
                    }
                    if failed && !matches!(answer.outcome, Outcome::Success(_)) {
                        break;
                    }
                }
            }
        }
        check.metric("cases", total);
        check.metric("mismatched_single", mismatched);
        check.metric("mismatched_in_batch", batch_problems);
        let batched = if self.contract().batch.is_some() {
            ", singly and in batches"
        } else {
            ""
        };
        check.summary = if check.passed() {
            format!("{total} cases match the training-time model{batched}")
        } else if mismatched == 0 {
            format!("{total} cases match singly, but not in batches")
        } else {
            format!("{mismatched} of {total} cases differ from the training-time model")
        };
        self.end(&mut check, started);
        check
    }

    /// Problems with the answer for `case`, alone (`None`) or at position `index` of a batch.
    fn compare(&self, case: &GoldenCase, outcome: &Outcome, index: Option<usize>) -> Vec<String> {
        let id = &case.case_id;
        let Outcome::Success(response) = outcome else {
            return vec![format!(
                "{id}: expected a prediction, got {}",
                outcome.describe()
            )];
        };
        let contract = self.contract();
        let (prediction, place) = match (index, &contract.batch) {
            (Some(i), Some(batch)) => (
                response
                    .pointer(&batch.predictions)
                    .and_then(|p| p.as_array())
                    .and_then(|p| p.get(i)),
                format!("{}/{i}", batch.predictions),
            ),
            _ => (
                response.pointer(&contract.prediction),
                contract.prediction.clone(),
            ),
        };
        let Some(prediction) = prediction else {
            return vec![format!(
                "{id}: the answer has no prediction at {place:?}: {}",
                outcome.describe()
            )];
        };
        let mut problems: Vec<String> = compare(&case.expected, prediction, &contract.fields)
            .into_iter()
            .map(|m| format!("{id}: {m}"))
            .collect();
        if let Some(echo) = &contract.id {
            let event = case.event_value();
            let sent = event.pointer(&echo.event).filter(|v| !v.is_null());
            let echoed = prediction
                .pointer(&echo.prediction)
                .filter(|v| !v.is_null());
            if sent != echoed {
                problems.push(format!(
                    "{id}: id at {:?} expected {}, actual {}",
                    echo.prediction,
                    sent.map_or("none".to_owned(), Value::to_string),
                    echoed.map_or("none".to_owned(), Value::to_string),
                ));
            }
        }
        if let Some(pointer) = &contract.echo_model_sha256 {
            let sha = &self.golden.manifest.model_sha256;
            let actual = prediction.pointer(pointer);
            if actual.and_then(Value::as_str) != Some(sha.as_str()) {
                problems.push(format!(
                    "{id}: model sha256 at {pointer:?} expected {sha}, actual {}",
                    actual.map_or("none".to_owned(), Value::to_string)
                ));
            }
        }
        problems
    }

    /// After abuse, the function must still answer correctly (in every container).
    fn recovery(&mut self, check: &mut CheckResult, after: &str) {
        let case = &self.golden.cases[0];
        let body = case.request_body(self.contract());
        let jobs: Vec<(String, Vec<u8>)> = (0..self.invoker.targets.len())
            .map(|_| (format!("recovery after {after}"), body.clone()))
            .collect();
        let answers = self.invoker.invoke_all(&jobs, self.progress, "recovery");
        for invocation in answers.into_iter().flatten() {
            let problems = self.compare(case, &invocation.outcome, None);
            if !problems.is_empty() {
                check.problem(format!(
                    "after {after} the function no longer answers golden case {} correctly: {}\n--- container log (tail) ---\n{}",
                    case.case_id,
                    problems.join("; "),
                    self.target().log_tail(40)
                ));
                break;
            }
        }
    }

    /// The generic corpus and the function's own: each payload gets the answer it must get.
    pub(crate) fn malformed_corpus(&mut self, corpus: &[MalformedCase]) -> CheckResult {
        let mut check = CheckResult::new("malformed-corpus");
        let started = self.begin();
        let mut wrong = 0;
        let jobs: Vec<(String, Vec<u8>)> = corpus
            .iter()
            .map(|c| (format!("malformed {}", c.name), c.body.clone()))
            .collect();
        let answers = self
            .invoker
            .invoke_all(&jobs, self.progress, "malformed payloads");
        for (case, answer) in corpus.iter().zip(&answers) {
            let Some(invocation) = answer else { break };
            if let Some(problem) = judge_malformed(case, invocation, &self.spec.errors) {
                wrong += 1;
                check.problem(problem);
            }
        }
        self.recovery(&mut check, "the malformed corpus");
        let generic = corpus.iter().filter(|c| c.generic).count();
        check.cases = corpus.len();
        check.metric("generic", generic);
        check.metric("own", corpus.len() - generic);
        check.summary = if check.passed() {
            format!(
                "{} generic and {} own payloads got the answers they must; the function still serves",
                generic,
                corpus.len() - generic
            )
        } else {
            format!(
                "{wrong} of {} payloads did not get the answer they must",
                corpus.len()
            )
        };
        self.end(&mut check, started);
        check
    }

    /// proptest-generated payloads: each must get a structured error from the contract (or a
    /// real answer when the mutation happened to stay valid), never a crash or a timeout.
    /// Seeded; failures are shrunk and their seeds persisted outside the source tree.
    pub(crate) fn generated(&mut self) -> CheckResult {
        let mut check = CheckResult::new("malformed-generated");
        let started = self.begin();
        let settings = &self.spec.generated;
        let (cases, seed) = (settings.cases, settings.seed);
        let regressions = settings.regressions.clone();
        if let Some(dir) = regressions.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            check.problem(format!(
                "cannot create {} for proptest's regressions: {e}",
                dir.display()
            ));
            return check;
        }
        // proptest keeps the persistence path for the whole process; one small leak per run.
        let path: &'static str = Box::leak(regressions.display().to_string().into_boxed_str());
        let config = Config {
            cases,
            max_shrink_iters: 256,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(path))),
            ..Config::default()
        };
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let runner = || {
            TestRunner::new_with_rng(
                config.clone(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
            )
        };
        let strategy = payloads(&self.golden.cases, self.contract());
        let known = if self.invoker.targets.len() > 1 {
            self.judge_in_parallel(runner(), &strategy)
        } else {
            Vec::new()
        };
        let done = Cell::new(0usize);
        let total = cases as usize;
        let this = RefCell::new(&mut *self);
        let result = runner().run(&strategy, |payload: Payload| {
            let n = done.get();
            done.set(n + 1);
            // Verdicts found in parallel, for the cases the runner generates in the same order;
            // shrinking and anything after runs here, on one container, as it would alone.
            if let Some((body, verdict)) = known.get(n)
                && *body == payload.body
            {
                return match verdict {
                    Some(verdict) => verdict.clone().map_err(TestCaseError::fail),
                    None => Err(TestCaseError::reject("the run stopped")),
                };
            }
            let mut checks = this.borrow_mut();
            // A run that has to stop judges nothing more: no made-up failure gets shrunk and
            // saved as a regression, and rejecting every further case makes proptest give up
            // (after `max_global_rejects`) instead of generating the rest.
            let Some(invocation) = checks.invoke("generated payload", &payload.body) else {
                return Err(TestCaseError::reject("the run stopped"));
            };
            if n < total {
                checks.progress.count("generated payloads", n + 1, total);
            }
            judge_generated(&payload, &invocation, checks.spec).map_err(TestCaseError::fail)
        });
        let run = done.get();
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, payload)) => check.problem(format!(
                "shrunk failing payload: {payload:?}\n{reason}\n(seed {seed}; the failure is saved to {} and replayed first next time)",
                regressions.display()
            )),
            // Aborted by the rejections above: the reason is the run's stop, reported below.
            Err(TestError::Abort(_))
                if self.invoker.stop.is_some() || self.invoker.check_out_of_time => {}
            Err(TestError::Abort(reason)) => check.problem(format!("proptest aborted: {reason}")),
        }
        self.recovery(&mut check, "the generated payloads");
        check.cases = run;
        check.metric("seed", seed);
        check.summary = if check.passed() {
            format!("{cases} generated payloads (seed {seed}) all got contract answers")
        } else {
            format!("a generated payload broke the contract (seed {seed})")
        };
        self.end(&mut check, started);
        check
    }

    /// The payloads `runner` would generate, sent over all targets at once and judged: up to
    /// and including the first that fails (`None` where the run had to stop). A passing test
    /// makes proptest generate exactly the sequence a real run starts with, so the real run can
    /// take these verdicts and only shrink, keeping results and seeds those of a sequential run.
    fn judge_in_parallel(
        &mut self,
        mut runner: TestRunner,
        strategy: &impl Strategy<Value = Payload>,
    ) -> Vec<KnownVerdict> {
        let sequence = RefCell::new(Vec::new());
        let _ = runner.run(strategy, |payload: Payload| {
            sequence.borrow_mut().push(payload);
            Ok(())
        });
        let sequence = sequence.into_inner();
        let jobs: Vec<(String, Vec<u8>)> = sequence
            .iter()
            .map(|p| ("generated payload".to_owned(), p.body.clone()))
            .collect();
        let answers = self
            .invoker
            .invoke_all(&jobs, self.progress, "generated payloads");
        let mut known = Vec::with_capacity(sequence.len());
        for (payload, answer) in sequence.into_iter().zip(answers) {
            let verdict = answer.map(|a| judge_generated(&payload, &a, self.spec));
            let last = !matches!(verdict, Some(Ok(())));
            known.push((payload.body, verdict));
            if last {
                break;
            }
        }
        known
    }

    /// What the RIE lets through: oversized responses and timeouts (answered with HTTP 200),
    /// memory; probes the largest batch the contract allows, then judges every invocation.
    pub(crate) fn limits(&mut self) -> CheckResult {
        let mut check = CheckResult::new("lambda-limits");
        let started = self.begin();
        if let Some(batch) = &self.contract().batch {
            let cases = &self.golden.cases;
            let mut n = batch.max;
            let mut body = batch_body(batch, cases.iter().cycle().take(n));
            while body.len() > LAMBDA_PAYLOAD_LIMIT && n > 1 {
                n /= 2;
                body = batch_body(batch, cases.iter().cycle().take(n));
            }
            if let Some(answer) = self.invoke(&format!("largest batch ({n} events)"), &body) {
                check.cases = 1;
                let answered = match &answer.outcome {
                    Outcome::Success(v) => v
                        .pointer(&batch.predictions)
                        .and_then(Value::as_array)
                        .map(Vec::len),
                    _ => None,
                };
                if answered != Some(n) {
                    check.problem(format!(
                        "a batch of {n} events ({}) did not get {n} predictions: {}",
                        human_bytes(body.len() as u64),
                        answer.outcome.describe()
                    ));
                }
                check.metric("largest_batch_events", n);
            }
        }
        let stats = &self.invoker.stats;
        for label in &stats.timeouts {
            check.problem(format!(
                "{label}: timed out (the RIE answered \"Task timed out\" with HTTP 200; Lambda reports a function error)"
            ));
        }
        let (largest, label) = &stats.largest_response;
        if *largest > LAMBDA_PAYLOAD_LIMIT {
            check.problem(format!(
                "{label}: response of {} is over Lambda's 6 MB limit",
                human_bytes(*largest as u64)
            ));
        }
        let mut sorted = stats.latencies.clone();
        sorted.sort();
        let pick = |q: f64| quantile_ms(&sorted, q).unwrap_or(0.0);
        check.metric("invocations", stats.count);
        check.metric("timeouts", stats.timeouts.len());
        check.metric("largest_response_bytes", *largest);
        check.metric("requests_over_limit_answered_413", stats.too_large);
        check.metric("latency_p50_ms", pick(0.5));
        check.metric("latency_p99_ms", pick(0.99));
        // The RIE does not measure memory (its "Max Memory Used" is the configured size); the
        // kernel does.
        let peak = self
            .invoker
            .targets
            .iter()
            .filter_map(|t| t.peak_memory_bytes())
            .max();
        if let Some(peak) = peak {
            check.metric("peak_memory_bytes", peak);
            if let Some(problem) = memory_problem(peak, self.spec.function.memory_mb) {
                check.problem(problem);
            }
        }
        check.summary = format!(
            "{} invocations: {} timed out, largest response {}, {} over 6 MB answered 413; p50 {:.1} ms, p99 {:.1} ms{}",
            stats.count,
            stats.timeouts.len(),
            human_bytes(*largest as u64),
            stats.too_large,
            pick(0.5),
            pick(0.99),
            peak.map_or(String::new(), |p| format!(
                "; peak memory {} of {} MB",
                human_bytes(p),
                self.spec.function.memory_mb
            ))
        );
        self.invoker.final_health();
        self.end(&mut check, started);
        check
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Why the outcome is not an answer the contract allows, if it is not: a crash, a timeout, no
/// structured answer, or an `errorType` the contract does not list.
fn outside_contract(outcome: &Outcome, errors: &ErrorContract) -> Option<String> {
    match outcome {
        Outcome::TimedOut => Some("the function timed out".to_owned()),
        Outcome::Unexpected(what) => Some(format!("no structured answer: {what}")),
        Outcome::NoAnswer(why) => Some(format!("no answer: {why}")),
        Outcome::FunctionError {
            error_type,
            error_message,
        } if !errors.allows(error_type) => Some(if error_type.starts_with("Runtime.") {
            format!("the function crashed ({error_type}: {error_message})")
        } else {
            format!(
                "the function crashed or raised an error outside its contract ({error_type}: {error_message}); the contract's errorTypes are {}",
                errors
                    .function
                    .iter()
                    .chain(&errors.runtime)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }),
        Outcome::FunctionError { error_message, .. } if error_message.is_empty() => {
            Some("a structured error with an empty errorMessage".to_owned())
        }
        _ => None,
    }
}

/// `None` if the function answered `case` as it must, else the problem.
fn judge_malformed(
    case: &MalformedCase,
    invocation: &Invocation,
    errors: &ErrorContract,
) -> Option<String> {
    let label = format!(
        "{}{} ({})",
        if case.generic { "generic " } else { "" },
        case.name,
        case.why
    );
    let outcome = &invocation.outcome;
    if let Some(problem) = outside_contract(outcome, errors) {
        return Some(format!("{label}: {problem}"));
    }
    match (&case.expect, outcome) {
        (Expect::TooLarge, Outcome::RequestTooLarge(_)) => None,
        (Expect::ContractError, Outcome::FunctionError { .. }) => None,
        (
            Expect::Error {
                error_type: expected,
                message_starts_with,
            },
            Outcome::FunctionError {
                error_type,
                error_message,
            },
        ) => {
            if error_type != expected {
                Some(format!(
                    "{label}: expected errorType {expected}, got {error_type}: {error_message}"
                ))
            } else if let Some(prefix) = message_starts_with
                && !error_message.starts_with(prefix.as_str())
            {
                Some(format!(
                    "{label}: errorMessage should start with {prefix:?} (the JSON path), got {error_message:?}"
                ))
            } else {
                None
            }
        }
        (expect, other) => Some(format!(
            "{label}: expected {}, got {}",
            match expect {
                Expect::TooLarge => "Lambda's 413".to_owned(),
                Expect::ContractError => "a structured error".to_owned(),
                Expect::Error { error_type, .. } => format!("errorType {error_type}"),
            },
            other.describe()
        )),
    }
}

fn judge_generated(payload: &Payload, invocation: &Invocation, spec: &Spec) -> Result<(), String> {
    if let Some(problem) = outside_contract(&invocation.outcome, &spec.errors) {
        return Err(problem);
    }
    if invocation.response_bytes > LAMBDA_PAYLOAD_LIMIT {
        return Err(format!(
            "response of {} bytes is over Lambda's limit",
            invocation.response_bytes
        ));
    }
    let Outcome::Success(answer) = &invocation.outcome else {
        return Ok(());
    };
    // A mutation can leave a valid request (e.g. an optional field removed): then it must be
    // a real answer.
    let contract = &spec.contract;
    let single = answer.pointer(&contract.prediction).is_some();
    let batch_of = |n: usize| {
        contract.batch.as_ref().is_some_and(|b| {
            answer
                .pointer(&b.predictions)
                .and_then(Value::as_array)
                .is_some_and(|p| p.len() == n)
        })
    };
    let fits = match payload.shape {
        Shape::Single => single,
        Shape::Batch(n) => batch_of(n),
        Shape::Unknown => {
            single
                || contract
                    .batch
                    .as_ref()
                    .is_some_and(|b| answer.pointer(&b.predictions).is_some_and(Value::is_array))
        }
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "accepted, but the answer is not a prediction of the contract: {}",
            invocation.outcome.describe()
        ))
    }
}
