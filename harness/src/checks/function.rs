//! Checks that invoke the function in its container, under the RIE.

use super::{CheckResult, human_bytes};
use crate::container::{FunctionContainer, Invocation, Outcome};
use crate::generated::{Payload, payloads};
use crate::golden::{GoldenCase, GoldenSet, batch_body};
use crate::malformed::{LAMBDA_PAYLOAD_LIMIT, MalformedCase};
use crate::progress::Progress;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner,
};
use std::cell::{Cell, RefCell};
use std::path::Path;
use std::time::{Duration, Instant};

/// Lambda's limit on the init phase.
pub(crate) const LAMBDA_INIT_LIMIT: Duration = Duration::from_secs(10);

/// What every invocation of the run showed, for the `lambda-limits` check.
#[derive(Default)]
pub(crate) struct InvocationStats {
    count: usize,
    latencies: Vec<Duration>,
    timeouts: Vec<String>,
    largest_response: (usize, String),
    oversized_requests: Vec<String>,
}

impl InvocationStats {
    fn record(&mut self, label: &str, invocation: &Invocation) {
        self.count += 1;
        self.latencies.push(invocation.elapsed);
        if matches!(invocation.outcome, Outcome::TimedOut) {
            self.timeouts.push(label.to_owned());
        }
        if invocation.response_bytes > self.largest_response.0 {
            self.largest_response = (invocation.response_bytes, label.to_owned());
        }
        if invocation.request_bytes > LAMBDA_PAYLOAD_LIMIT {
            self.oversized_requests.push(format!(
                "{label}: request of {} flagged: Lambda rejects it (413 RequestEntityTooLargeException) before the function runs; the RIE passed it on truncated",
                human_bytes(invocation.request_bytes as u64)
            ));
        }
    }
}

/// The function checks, sharing one container and one record of invocations.
pub(crate) struct FunctionChecks<'a> {
    pub(crate) container: &'a FunctionContainer,
    pub(crate) golden: &'a GoldenSet,
    pub(crate) tolerance: f64,
    pub(crate) progress: Progress,
    pub(crate) stats: InvocationStats,
}

impl<'a> FunctionChecks<'a> {
    fn invoke(&mut self, label: &str, body: &[u8]) -> Invocation {
        let invocation = self.container.invoke(body);
        self.stats.record(label, &invocation);
        invocation
    }

    /// The first invocation initialises the function: the RIE starts the bootstrap lazily, with
    /// the first request. It must succeed, within Lambda's 10 s init limit. The RIE's own
    /// `Init Duration` only covers its sandbox setup (it does not wait for the runtime to ask for
    /// work), so the limit is judged on the first request's latency, which holds process start,
    /// model load and one request: an upper bound of the real init phase.
    pub(crate) fn init(&mut self) -> CheckResult {
        let mut check = CheckResult::new("init");
        let started = Instant::now();
        let Some(case) = self.golden.cases.first() else {
            return CheckResult::not_run("init", "there are no golden cases to invoke");
        };
        let invocation = self.invoke(&format!("init ({})", case.case_id), &case.request_body());
        check.cases = 1;
        let first = invocation.elapsed;
        check.metric("first_invocation_ms", ms(first));
        let rie_init = self.container.init_duration(Duration::from_secs(30));
        if let Some(init) = rie_init {
            check.metric("rie_init_duration_ms", ms(init));
        }
        if let Outcome::Success(_) = invocation.outcome {
            if first > LAMBDA_INIT_LIMIT {
                check.problem(format!(
                    "the first request (process start, model load and one prediction) took {:.0} ms, over Lambda's 10 s init limit",
                    ms(first)
                ));
            }
            check.summary = format!(
                "first request incl. init {:.1} ms (Lambda allows 10 s for init); RIE Init Duration {}",
                ms(first),
                rie_init.map_or("not reported".to_owned(), |d| format!("{:.1} ms", ms(d)))
            );
        } else {
            check.problem(format!(
                "the first invocation ({}) failed: {}\n--- container log (tail) ---\n{}",
                case.case_id,
                invocation.outcome.describe(),
                self.container.log_tail(40)
            ));
            check.summary = "the function failed its first invocation".to_owned();
        }
        check.duration = started.elapsed();
        check
    }

    /// Every golden case, one per invocation and then all in one batch, against the
    /// training-time predictions.
    pub(crate) fn golden_replay(&mut self) -> CheckResult {
        let mut check = CheckResult::new("golden-replay");
        let started = Instant::now();
        let cases = &self.golden.cases;
        let total = cases.len();
        let mut mismatched = 0;
        for (i, case) in cases.iter().enumerate() {
            let invocation = self.invoke(&case.case_id, &case.request_body());
            let problems = self.compare(case, &invocation.outcome, 0);
            if !problems.is_empty() {
                mismatched += 1;
            }
            for p in problems {
                check.problem(p);
            }
            self.progress.count("golden cases", i + 1, total);
        }
        // The batch path: all cases in one request, answers in request order.
        let body = batch_body(cases);
        let batch = self.invoke("golden batch", &body);
        let mut batch_problems = 0;
        for (i, case) in cases.iter().enumerate() {
            for p in self.compare(case, &batch.outcome, i) {
                batch_problems += 1;
                check.problem(format!("(in one batch of {total}) {p}"));
            }
            if matches!(
                batch.outcome,
                Outcome::FunctionError { .. } | Outcome::TimedOut | Outcome::Unexpected(_)
            ) {
                break;
            }
        }
        check.cases = total * 2;
        check.metric("cases", total);
        check.metric("mismatched_single", mismatched);
        check.metric("mismatched_in_batch", batch_problems);
        check.metric("tolerance", self.tolerance);
        check.summary = if check.passed() {
            format!(
                "{total} cases match the training-time model (abs tol {:e}), singly and in one batch",
                self.tolerance
            )
        } else {
            format!(
                "{mismatched} of {total} cases differ from the training-time model (abs tol {:e})",
                self.tolerance
            )
        };
        check.duration = started.elapsed();
        check
    }

    /// Problems with the answer for `case` at position `index` of a response.
    fn compare(&self, case: &GoldenCase, outcome: &Outcome, index: usize) -> Vec<String> {
        let id = &case.case_id;
        let Outcome::Success(response) = outcome else {
            return vec![format!(
                "{id}: expected a prediction, got {}",
                outcome.describe()
            )];
        };
        let Some(prediction) = response["predictions"].get(index) else {
            return vec![format!(
                "{id}: the response has no predictions[{index}]: {}",
                outcome.describe()
            )];
        };
        let mut problems = Vec::new();
        let expected = &case.expected;
        match prediction["probability"].as_f64() {
            Some(actual)
                if approx::abs_diff_eq!(actual, expected.probability, epsilon = self.tolerance) => {
            }
            Some(actual) => problems.push(format!(
                "{id}: probability expected {:?}, actual {actual:?}, difference {:e}",
                expected.probability,
                (actual - expected.probability).abs()
            )),
            None => problems.push(format!(
                "{id}: probability expected {:?}, actual {}",
                expected.probability, prediction["probability"]
            )),
        }
        if prediction["class"] != expected.class {
            problems.push(format!(
                "{id}: class expected {}, actual {}",
                expected.class, prediction["class"]
            ));
        }
        let event: serde_json::Value = serde_json::from_str(case.event.get()).unwrap_or_default();
        if prediction.get("id") != event.get("id").filter(|v| !v.is_null()) {
            problems.push(format!(
                "{id}: id expected {}, actual {}",
                event["id"], prediction["id"]
            ));
        }
        let sha = &self.golden.manifest.model_sha256;
        if prediction["model_sha256"].as_str() != Some(sha.as_str()) {
            problems.push(format!(
                "{id}: model_sha256 expected {sha}, actual {}",
                prediction["model_sha256"]
            ));
        }
        problems
    }

    /// After abuse, the function must still answer correctly.
    fn recovery(&mut self, check: &mut CheckResult, after: &str) {
        if let Some(case) = self.golden.cases.first() {
            let invocation = self.invoke(&format!("recovery after {after}"), &case.request_body());
            let problems = self.compare(case, &invocation.outcome, 0);
            if !problems.is_empty() {
                check.problem(format!(
                    "after {after} the function no longer answers golden case {} correctly: {}\n--- container log (tail) ---\n{}",
                    case.case_id,
                    problems.join("; "),
                    self.container.log_tail(40)
                ));
            }
        }
    }

    /// The curated corpus: each payload gets its expected structured error.
    pub(crate) fn malformed_corpus(&mut self, corpus: &[MalformedCase]) -> CheckResult {
        let mut check = CheckResult::new("malformed-corpus");
        let started = Instant::now();
        let mut wrong = 0;
        for (i, case) in corpus.iter().enumerate() {
            let invocation = self.invoke(&format!("malformed {}", case.name), &case.body);
            if let Some(problem) = judge_malformed(case, &invocation) {
                wrong += 1;
                check.problem(problem);
            }
            self.progress
                .count("malformed payloads", i + 1, corpus.len());
        }
        self.recovery(&mut check, "the malformed corpus");
        check.cases = corpus.len();
        check.summary = if check.passed() {
            format!(
                "{} payloads answered with the expected structured error; the function still serves",
                corpus.len()
            )
        } else {
            format!(
                "{wrong} of {} payloads did not get the expected structured error",
                corpus.len()
            )
        };
        check.duration = started.elapsed();
        check
    }

    /// proptest-generated payloads: each must get a structured error from the contract (or a
    /// correct-looking answer when the mutation happened to stay valid), never a crash or a
    /// timeout. Seeded; failures are shrunk and their seeds persisted to `regressions`.
    pub(crate) fn generated(
        &mut self,
        cases: u32,
        seed: u64,
        regressions: &Path,
        allowed: &[String],
    ) -> CheckResult {
        let mut check = CheckResult::new("malformed-generated");
        let started = Instant::now();
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
        let mut runner = TestRunner::new_with_rng(
            config,
            TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
        );
        let strategy = payloads(&self.golden.cases);
        let done = Cell::new(0usize);
        let total = cases as usize;
        let this = RefCell::new(&mut *self);
        let result = runner.run(&strategy, |payload: Payload| {
            let mut checks = this.borrow_mut();
            let invocation = checks.invoke("generated payload", &payload.body);
            let verdict = judge_generated(&payload, &invocation, allowed);
            let n = done.get() + 1;
            done.set(n);
            if n <= total {
                checks.progress.count("generated payloads", n, total);
            }
            verdict.map_err(TestCaseError::fail)
        });
        let run = done.get();
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, payload)) => check.problem(format!(
                "shrunk failing payload: {payload:?}\n{reason}\n(seed {seed}; the failure is saved to {} and replayed first next time)",
                regressions.display()
            )),
            Err(TestError::Abort(reason)) => check.problem(format!("proptest aborted: {reason}")),
        }
        self.recovery(&mut check, "the generated payloads");
        check.cases = run;
        check.metric("seed", seed);
        check.summary = if check.passed() {
            format!("{cases} generated payloads (seed {seed}) all got structured errors")
        } else {
            format!("a generated payload broke the contract (seed {seed})")
        };
        check.duration = started.elapsed();
        check
    }

    /// What the RIE lets through: oversized requests, oversized responses, timeouts. Probes the
    /// largest batch the contract allows, then judges every invocation of the run.
    pub(crate) fn limits(&mut self, max_records: usize) -> CheckResult {
        let mut check = CheckResult::new("lambda-limits");
        let started = Instant::now();
        let cases = &self.golden.cases;
        if !cases.is_empty() {
            let mut n = max_records.max(1);
            let mut body = batch_body(cases.iter().cycle().take(n));
            while body.len() > LAMBDA_PAYLOAD_LIMIT && n > 1 {
                n /= 2;
                body = batch_body(cases.iter().cycle().take(n));
            }
            let invocation = self.invoke(&format!("largest batch ({n} records)"), &body);
            check.cases = 1;
            match &invocation.outcome {
                Outcome::Success(v) if v["predictions"].as_array().map(Vec::len) == Some(n) => {}
                other => check.problem(format!(
                    "a batch of {n} records ({}) did not get {n} predictions: {}",
                    human_bytes(body.len() as u64),
                    other.describe()
                )),
            }
            check.metric("largest_batch_records", n);
        }
        let stats = &self.stats;
        for label in &stats.timeouts {
            check.problem(format!(
                "{label}: timed out (the RIE answered \"Task timed out\" with HTTP 200, as Lambda does not)"
            ));
        }
        let (largest, label) = &stats.largest_response;
        if *largest > LAMBDA_PAYLOAD_LIMIT {
            check.problem(format!(
                "{label}: response of {} is over Lambda's 6 MB limit",
                human_bytes(*largest as u64)
            ));
        }
        check
            .details
            .extend(stats.oversized_requests.iter().cloned());
        let mut sorted = stats.latencies.clone();
        sorted.sort();
        let pick = |q: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        check.metric("invocations", stats.count);
        check.metric("timeouts", stats.timeouts.len());
        check.metric("largest_response_bytes", *largest);
        check.metric("oversized_requests_flagged", stats.oversized_requests.len());
        check.metric("latency_p50_ms", pick(0.5));
        check.metric("latency_p99_ms", pick(0.99));
        // The RIE does not measure memory (its "Max Memory Used" is the configured size); the
        // kernel does.
        let peak = self.container.peak_memory_bytes();
        if let Some(peak) = peak {
            check.metric("peak_memory_bytes", peak);
        }
        check.summary = format!(
            "{} invocations: {} timed out, largest response {}, {} request(s) over 6 MB flagged; p50 {:.1} ms, p99 {:.1} ms{}",
            stats.count,
            stats.timeouts.len(),
            human_bytes(*largest as u64),
            stats.oversized_requests.len(),
            pick(0.5),
            pick(0.99),
            peak.map_or(String::new(), |p| format!(
                "; peak memory {}",
                human_bytes(p)
            ))
        );
        check.duration = started.elapsed();
        check
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `None` if the function answered `case` as the corpus says, else the problem.
fn judge_malformed(case: &MalformedCase, invocation: &Invocation) -> Option<String> {
    let label = format!("{} ({})", case.name, case.why);
    let outcome = &invocation.outcome;
    if let Some(crash) = crash(outcome) {
        return Some(format!("{label}: {crash}"));
    }
    if case.lambda_rejects {
        // Lambda would refuse it; the RIE truncated it instead, and any structured error is an
        // acceptable answer to the truncated body.
        return match outcome {
            Outcome::FunctionError { .. } => None,
            other => Some(format!(
                "{label}: expected a structured error for the truncated request, got {}",
                other.describe()
            )),
        };
    }
    match (&case.expect, outcome) {
        (None, other) => Some(format!(
            "{label}: expected a structured error for the truncated request, got {}",
            other.describe()
        )),
        (
            Some(expect),
            Outcome::FunctionError {
                error_type,
                error_message,
            },
        ) => {
            if error_type != &expect.error_type {
                Some(format!(
                    "{label}: expected errorType {}, got {error_type}: {error_message}",
                    expect.error_type
                ))
            } else if let Some(prefix) = &expect.message_starts_with
                && !error_message.starts_with(prefix.as_str())
            {
                Some(format!(
                    "{label}: errorMessage should start with {prefix:?} (the JSON path), got {error_message:?}"
                ))
            } else {
                None
            }
        }
        (Some(expect), other) => Some(format!(
            "{label}: expected errorType {}, got {}",
            expect.error_type,
            other.describe()
        )),
    }
}

/// A description of the outcome if it means the function crashed or hung.
fn crash(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::TimedOut => Some("the function timed out".to_owned()),
        Outcome::Unexpected(what) => Some(format!("no structured answer: {what}")),
        Outcome::FunctionError {
            error_type,
            error_message,
        } if error_type.starts_with("Runtime.")
            || !error_type.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            Some(format!(
                "the function crashed ({error_type}: {error_message}) instead of answering with a contract error"
            ))
        }
        _ => None,
    }
}

fn judge_generated(
    payload: &Payload,
    invocation: &Invocation,
    allowed: &[String],
) -> Result<(), String> {
    if let Some(crash) = crash(&invocation.outcome) {
        return Err(crash);
    }
    if invocation.response_bytes > LAMBDA_PAYLOAD_LIMIT {
        return Err(format!(
            "response of {} bytes is over Lambda's limit",
            invocation.response_bytes
        ));
    }
    match &invocation.outcome {
        Outcome::FunctionError {
            error_type,
            error_message,
        } => {
            if !allowed.iter().any(|a| a == error_type) {
                return Err(format!(
                    "errorType {error_type} is not one of the contract's ({}): {error_message}",
                    allowed.join(", ")
                ));
            }
            if error_message.is_empty() {
                return Err(format!("{error_type} with an empty errorMessage"));
            }
            Ok(())
        }
        // A mutation can leave a valid request (e.g. an optional field removed): then it must
        // be a real answer, one prediction per record.
        Outcome::Success(v) => {
            let request: serde_json::Value =
                serde_json::from_slice(&payload.body).unwrap_or_default();
            let records = request["records"].as_array().map(Vec::len);
            let predictions = v["predictions"].as_array().map(Vec::len);
            if records.is_some() && records == predictions {
                Ok(())
            } else {
                Err(format!(
                    "accepted with {predictions:?} predictions for {records:?} records: {}",
                    invocation.outcome.describe()
                ))
            }
        }
        other => Err(other.describe()),
    }
}
