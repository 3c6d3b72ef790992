//! `lambda-limits`: what Lambda enforces and the RIE lets through (oversized responses,
//! timeouts answered with HTTP 200, memory), judged over every invocation of the run, after
//! probing the largest batch the contract allows.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::golden::GoldenCase;
use crate::lambda;
use crate::runtime::Outcome;
use crate::units::{human_bytes, quantile_ms};

impl FunctionChecks<'_> {
    /// Probes the largest batch, then judges every invocation the run made.
    pub(crate) fn limits(&mut self) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::LambdaLimits);
        self.largest_batch(&mut check);
        let stats = &self.invoker.stats;
        for label in &stats.timeouts {
            check.problem(format!(
                "{label}: timed out (the RIE answered \"Task timed out\" with HTTP 200; Lambda reports a function error)"
            ));
        }
        let (largest, label) = &stats.largest_response;
        if *largest > lambda::PAYLOAD_LIMIT {
            check.problem(format!(
                "{label}: response of {} is over Lambda's 6 MB limit",
                human_bytes(*largest as u64)
            ));
        }
        let mut sorted = stats.latencies.clone();
        sorted.sort();
        let pick = |q: f64| quantile_ms(&sorted, q).unwrap_or(0.0);
        // Its cases are every invocation of the run, the largest batch included.
        check.cases = Some(stats.count);
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
            if let Some(problem) = lambda::memory_problem(peak, self.spec.function.memory_mb) {
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
        self.end(check, started)
    }

    /// The largest batch the contract allows that fits Lambda's payload limit must get one
    /// prediction per event.
    fn largest_batch(&mut self, check: &mut CheckResult) {
        let contract = self.contract();
        let Some(batch) = &contract.batch else {
            return;
        };
        let events = || self.golden.cases.iter().map(GoldenCase::event_text).cycle();
        // The size of a batch of n events, counted rather than built: `max_batch` may be far
        // more events than fit in Lambda's payload limit.
        let lengths: Vec<usize> = self
            .golden
            .cases
            .iter()
            .map(|c| c.event_text().len())
            .collect();
        let overhead = batch.request.render(b"[]").len();
        let size = |n: usize| -> usize {
            let (cycles, rest) = match lengths.len() {
                0 => (0, 0),
                k => (n / k, n % k),
            };
            let whole: usize = lengths.iter().sum();
            let part: usize = lengths[..rest].iter().sum();
            overhead
                .saturating_add(n.saturating_sub(1))
                .saturating_add(cycles.saturating_mul(whole))
                .saturating_add(part)
        };
        let mut n = batch.max;
        while size(n) > lambda::PAYLOAD_LIMIT && n > 1 {
            n /= 2;
        }
        let body = batch.request(events().take(n));
        let Some(answer) = self.invoke(&format!("largest batch ({n} events)"), &body) else {
            return;
        };
        let answered = match &answer.outcome {
            Outcome::Success(v) => contract.batch_predictions(v).map(<[_]>::len),
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
