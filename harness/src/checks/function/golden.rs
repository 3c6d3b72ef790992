//! `golden-replay`: every golden case, one per invocation and then in batches when the
//! contract has them, against the training-time predictions.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::contract::Place;
use crate::golden::GoldenCase;
use crate::runtime::Outcome;

impl FunctionChecks<'_> {
    /// Replays every golden case singly, then in batches of the contract's largest size.
    pub(crate) fn golden_replay(&mut self) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::GoldenReplay);
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
        let mut first_right = None;
        for (i, (case, answer)) in cases.iter().zip(&answers).enumerate() {
            let Some(invocation) = answer else { break };
            let problems = self.judge(case, &invocation.outcome, Place::Single);
            if !problems.is_empty() {
                mismatched += 1;
            } else if first_right.is_none() {
                first_right = Some(i);
            }
            for p in problems {
                check.problem(p);
            }
        }
        self.recovery_case = first_right.ok_or_else(|| {
            if mismatched == 0 {
                "golden-replay got no answer, so the function's recovery has no right answer to be judged by".to_owned()
            } else {
                format!("no golden case got its training-time prediction in golden-replay (0 of {total}), so the function's recovery has no right answer to be judged by")
            }
        });
        check.cases = Some(total);
        let batch_problems = self.replay_in_batches(&mut check);
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
        self.end(check, started)
    }

    /// The goldens in batches of the contract's largest size; returns the problems found.
    fn replay_in_batches(&mut self, check: &mut CheckResult) -> usize {
        let Some(batch) = &self.contract().batch else {
            return 0;
        };
        let mut problems_found = 0;
        for chunk in self.golden.cases.chunks(batch.max) {
            let body = batch.request(chunk.iter().map(GoldenCase::event_text));
            let Some(answer) = self.invoke("golden batch", &body) else {
                break;
            };
            for (i, case) in chunk.iter().enumerate() {
                let problems = self.judge(case, &answer.outcome, Place::InBatch(i));
                let failed = !problems.is_empty();
                for p in problems {
                    problems_found += 1;
                    check.problem(format!("(in a batch of {}) {p}", chunk.len()));
                }
                if failed && !matches!(answer.outcome, Outcome::Success(_)) {
                    break;
                }
            }
        }
        problems_found
    }
}
