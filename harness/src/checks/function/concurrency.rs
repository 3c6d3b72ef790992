//! `concurrency`, for a function the spec runs on Lambda Managed Instances
//! (`function.max_concurrency` > 1): one execution environment then serves several requests at
//! once, and a handler that keeps request state where another request can reach it (a reused
//! buffer, a model object that is not thread-safe, a global table) answers one request with
//! another's data, though every check one request at a time passes.
//!
//! The environment is the image under the RIE in its own Managed Instances mode (it takes that
//! mode when `AWS_LAMBDA_MAX_CONCURRENCY` is set, and gives the runtime the same variable); the
//! targets of this check's [`FunctionChecks`] are that one container, once per request in
//! flight. Only cases golden replay found right one at a time are judged, so a wrong answer here
//! is concurrency's doing, not a knock-on of a mismatch golden replay already names.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::contract::{Diffs, Place};
use std::collections::BTreeMap;

/// The most requests the check keeps in flight, whatever the spec allows (Lambda: up to 1600):
/// enough to show shared state, few enough that the machine running the gate is not what is
/// under load.
const MAX_IN_FLIGHT: u32 = 64;

/// Each case is sent at least this many times over per request in flight (in rounds of the
/// golden set), so that a small golden set still overlaps with itself.
const REQUESTS_PER_SLOT: usize = 4;

/// The check when golden replay found no case right one at a time (`right_singly`): not
/// judged, before an environment is started for it, since no answer under concurrency could be
/// told from the goldens' own mismatch.
pub(crate) fn nothing_to_compare(right_singly: &[bool]) -> Option<CheckResult> {
    (!right_singly.contains(&true)).then(|| {
        CheckResult::not_judged(
            CheckId::Concurrency,
            CheckId::GoldenReplay,
            "golden replay found no case answered right one at a time, so an answer under concurrency has nothing to be compared with",
        )
    })
}

/// How many requests the check keeps in flight for `max_concurrency`.
pub(crate) fn in_flight(max_concurrency: u32) -> usize {
    max_concurrency.min(MAX_IN_FLIGHT) as usize
}

impl FunctionChecks<'_> {
    /// The golden cases golden replay found right one at a time (`right_singly`, at least one:
    /// see [`nothing_to_compare`]), sent again with one request in flight per target, each
    /// answer judged as golden replay judges it.
    pub(crate) fn concurrency(&mut self, right_singly: &[bool]) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::Concurrency);
        let in_flight = self.invoker.targets.len();
        check.metric("in_flight", in_flight);
        let right: Vec<usize> = (0..self.golden.cases.len())
            .filter(|&i| right_singly.get(i) == Some(&true))
            .collect();
        if let Some(why) = self.alone_in_managed_mode(right[0]) {
            check.problem(why);
            check.summary =
                "the function does not serve in the RIE's Managed Instances mode".to_owned();
            return self.end(check, started);
        }
        let rounds = (REQUESTS_PER_SLOT * in_flight).div_ceil(right.len());
        let order: Vec<usize> = (0..rounds).flat_map(|_| right.iter().copied()).collect();
        let jobs: Vec<(String, Vec<u8>)> = order
            .iter()
            .map(|&i| {
                let case = &self.golden.cases[i];
                (case.case_id.clone(), case.request_body(self.contract()))
            })
            .collect();
        let answers = self
            .invoker
            .invoke_all(&jobs, self.progress, "requests in flight");
        // Each case's first wrong answer, and how many wrong answers there were.
        let mut differ: BTreeMap<usize, String> = BTreeMap::new();
        let (mut sent, mut wrong) = (0, 0);
        for (&i, answer) in order.iter().zip(&answers) {
            let Some(invocation) = answer else { continue };
            sent += 1;
            let case = &self.golden.cases[i];
            let problems = self.judge(
                case,
                &invocation.outcome,
                Place::Single,
                &mut Diffs::default(),
            );
            if let Some(first) = problems.into_iter().next() {
                wrong += 1;
                differ.entry(i).or_insert(first);
            }
        }
        for problem in differ.values() {
            check.problem(format!(
                "{problem} (with {in_flight} requests in flight; right one at a time)"
            ));
        }
        check.cases = Some(sent);
        check.metric("requests", sent);
        check.metric("wrong_answers", wrong);
        check.metric("cases_differing", differ.len());
        check.summary = if differ.is_empty() {
            format!(
                "{sent} requests of {} golden cases, {in_flight} at once in one environment (the RIE's Managed Instances mode): each got the answer it gets one at a time",
                right.len()
            )
        } else {
            let answers = if sent == right.len() {
                String::new()
            } else {
                format!(" ({wrong} of {sent} answers)")
            };
            format!(
                "{} of {} golden cases got another answer with {in_flight} requests in flight than one at a time{answers}: the handler shares state between invocations",
                differ.len(),
                right.len()
            )
        };
        self.end(check, started)
    }

    /// Golden case `i` alone, first: a function that cannot answer it right in this mode at
    /// all (it did not start, it reads its arguments) is said once, not as a wrong answer per
    /// case.
    fn alone_in_managed_mode(&mut self, i: usize) -> Option<String> {
        let case = &self.golden.cases[i];
        let body = case.request_body(self.contract());
        let invocation = self.invoke(&case.case_id, &body)?;
        let problems = self.judge(
            case,
            &invocation.outcome,
            Place::Single,
            &mut Diffs::default(),
        );
        (!problems.is_empty()).then(|| {
            format!(
                "in the RIE's Managed Instances mode the function does not answer golden case {} right even alone, though it did in the classic mode: {}\n--- container log (tail) ---\n{}",
                case.case_id,
                problems.join("; "),
                self.target().log_tail(40)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Status;

    #[test]
    fn without_a_case_right_one_at_a_time_concurrency_is_not_judged_on_golden_replay() {
        let check = nothing_to_compare(&[false, false]).expect("not judged");
        assert_eq!(check.status, Status::NotJudged);
        assert_eq!(check.cause, Some(CheckId::GoldenReplay));
        assert!(nothing_to_compare(&[false, true]).is_none());
        assert_eq!(in_flight(1600), 64);
        assert_eq!(in_flight(8), 8);
    }
}
