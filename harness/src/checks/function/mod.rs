//! Checks that invoke the function: in its container under the RIE (`verify`), or deployed
//! (`replay`). They share one [`Invoker`] (the way to the function, the time limits and the
//! record of every invocation), in the order they run:
//! - `init.rs`: the first invocation and Lambda's init limit;
//! - `golden.rs`: every golden case, singly and in batches, against the training-time model,
//!   with `drift.rs` naming the feature a failing case drifted in (`[drift]`);
//! - `malformed.rs`: the malformed corpus, then the function must still serve;
//! - `generated.rs`: proptest-generated payloads, shrunk and saved when one fails;
//! - `limits.rs`: what Lambda enforces and the RIE does not, over all of the above;
//! - `concurrency.rs`: the goldens again, several requests at once in one environment (Lambda
//!   Managed Instances), against what golden replay found right one at a time.

mod concurrency;
mod drift;
mod generated;
mod golden;
mod init;
mod limits;
mod malformed;

pub(crate) use concurrency::{in_flight, nothing_to_compare};
pub(crate) use init::InitVerdict;

use super::invoker::{Budgets, Invoker, Stop};
use super::{CheckId, CheckResult, Status};
use crate::contract::{Contract, Diffs, Place, Shape, judge_golden};
use crate::golden::{GoldenCase, GoldenSet};
use crate::progress::Progress;
use crate::runtime::{Invocation, Outcome, Target};
use crate::spec::Spec;
use std::time::Instant;

/// The function checks, sharing one way to the function and one record of invocations.
pub(crate) struct FunctionChecks<'a> {
    pub(crate) invoker: Invoker<'a>,
    pub(crate) golden: &'a GoldenSet,
    pub(crate) spec: &'a Spec,
    pub(crate) progress: &'a Progress,
    /// The golden case the function's recovery after abuse is judged by: the first that
    /// golden replay found answered right singly (the first case before it has run), or why
    /// there is none (then the recovery has nothing to be judged by).
    recovery_case: Result<usize, String>,
    /// The check during which the run stopped (the function hangs, the deadline passed).
    stopped_in: Option<CheckId>,
    /// Which golden cases golden replay found answered right one at a time (all `false`
    /// before it has run).
    pub(crate) right_singly: Vec<bool>,
}

/// What the recovery after abuse showed.
pub(crate) enum Recovery {
    /// The function answers the reference case right (or a problem was recorded).
    Judged,
    /// It still answers with a prediction, but no golden case says whether that is right.
    NotJudged(String),
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
            recovery_case: Ok(0),
            stopped_in: None,
            right_singly: vec![false; golden.cases.len()],
        }
    }

    pub(crate) fn contract(&self) -> &'a Contract {
        &self.spec.contract
    }

    /// Starts a check: its result, and its clock.
    fn begin(&mut self, id: CheckId) -> (CheckResult, Instant) {
        let mut check = CheckResult::new(id);
        check.cases = Some(0);
        (check, self.invoker.begin())
    }

    /// Ends a check: it fails when it had to stop early, saying why. When the run stopped
    /// in an earlier check (the function hangs, the deadline passed), that check names the
    /// cause; this one, unless it found a problem of its own, is not judged.
    fn end(&mut self, mut check: CheckResult, started: Instant) -> CheckResult {
        let reason = match &self.invoker.stop {
            Some(Stop::Stalled(r) | Stop::Deadline(r) | Stop::Broken(r)) => Some(r.clone()),
            None => None,
        };
        match (self.stopped_in, reason) {
            (Some(cause), Some(reason)) if check.status != Status::Failed => {
                check.set_not_judged(cause, format!("the run stopped during {cause}: {reason}"));
            }
            (earlier, reason) => {
                if earlier.is_none() && reason.is_some() {
                    self.stopped_in = Some(check.name);
                }
                for why in self.invoker.stopped_because() {
                    check.problem(why);
                }
            }
        }
        check.duration = started.elapsed();
        check
    }

    fn invoke(&mut self, label: &str, body: &[u8]) -> Option<Invocation> {
        self.invoker.invoke(label, body)
    }

    fn target(&self) -> &'a dyn Target {
        self.invoker.targets[0]
    }

    /// Problems with the answer for `case`, alone or at its place in a batch.
    fn judge(
        &self,
        case: &GoldenCase,
        outcome: &Outcome,
        place: Place,
        diffs: &mut Diffs,
    ) -> Vec<String> {
        let golden = case.golden(&self.golden.manifest.model_sha256);
        judge_golden(self.contract(), &golden, outcome, place, diffs)
    }

    /// After abuse, the function must still answer correctly (in every container): as golden
    /// replay found it answering a golden case before the abuse. When golden replay found no
    /// case answered right, the answer can only be judged a prediction or not: a crash or an
    /// error is still a failure; a prediction leaves the recovery not judged, instead of a
    /// knock-on failure of the goldens' mismatch.
    fn recovery(&mut self, check: &mut CheckResult, after: &str) -> Recovery {
        let reference = self.recovery_case.clone();
        let case = &self.golden.cases[*reference.as_ref().unwrap_or(&0)];
        let body = case.request_body(self.contract());
        let jobs: Vec<(String, Vec<u8>)> = (0..self.invoker.targets.len())
            .map(|_| (format!("recovery after {after}"), body.clone()))
            .collect();
        let answers = self.invoker.invoke_all(&jobs, self.progress, "recovery");
        for invocation in answers.into_iter().flatten() {
            let problems = match &reference {
                Ok(_) => self.judge(
                    case,
                    &invocation.outcome,
                    Place::Single,
                    &mut Diffs::default(),
                ),
                Err(_) => match &invocation.outcome {
                    Outcome::Success(answer) if self.contract().answers(answer, Shape::Single) => {
                        Vec::new()
                    }
                    other => vec![format!(
                        "{}: expected a prediction, got {}",
                        case.case_id,
                        other.describe()
                    )],
                },
            };
            if !problems.is_empty() {
                check.problem(format!(
                    "after {after} the function no longer answers golden case {} correctly: {}\n--- container log (tail) ---\n{}",
                    case.case_id,
                    problems.join("; "),
                    self.target().log_tail(40)
                ));
                return Recovery::Judged;
            }
        }
        match reference {
            Ok(_) => Recovery::Judged,
            Err(why) => Recovery::NotJudged(why),
        }
    }
}
