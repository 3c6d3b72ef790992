//! Checks that invoke the function: in its container under the RIE (`verify`), or deployed
//! (`replay`). They share one [`Invoker`] (the way to the function, the time limits and the
//! record of every invocation), in the order they run:
//! - `init.rs`: the first invocation and Lambda's init limit;
//! - `golden.rs`: every golden case, singly and in batches, against the training-time model;
//! - `malformed.rs`: the malformed corpus, then the function must still serve;
//! - `generated.rs`: proptest-generated payloads, shrunk and saved when one fails;
//! - `limits.rs`: what Lambda enforces and the RIE does not, over all of the above.

mod generated;
mod golden;
mod init;
mod limits;
mod malformed;

pub(crate) use init::InitVerdict;

use super::invoker::{Budgets, Invoker};
use super::{CheckId, CheckResult};
use crate::contract::{Contract, Diffs, Place, judge_golden};
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

    /// Starts a check: its result, and its clock.
    fn begin(&mut self, id: CheckId) -> (CheckResult, Instant) {
        (CheckResult::new(id), self.invoker.begin())
    }

    /// Ends a check: it fails when it had to stop early, saying why.
    fn end(&mut self, mut check: CheckResult, started: Instant) -> CheckResult {
        for why in self.invoker.stopped_because() {
            check.problem(why);
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

    /// After abuse, the function must still answer correctly (in every container).
    fn recovery(&mut self, check: &mut CheckResult, after: &str) {
        let case = &self.golden.cases[0];
        let body = case.request_body(self.contract());
        let jobs: Vec<(String, Vec<u8>)> = (0..self.invoker.targets.len())
            .map(|_| (format!("recovery after {after}"), body.clone()))
            .collect();
        let answers = self.invoker.invoke_all(&jobs, self.progress, "recovery");
        for invocation in answers.into_iter().flatten() {
            let problems = self.judge(
                case,
                &invocation.outcome,
                Place::Single,
                &mut Diffs::default(),
            );
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
}
