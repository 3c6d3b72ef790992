//! `golden-replay`: every golden case, one per invocation and then in batches when the
//! contract has them, against the training-time predictions.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::contract::{Diffs, Place};
use crate::golden::GoldenCase;
use crate::runtime::Outcome;

impl FunctionChecks<'_> {
    /// Replays every golden case singly, then in batches of the contract's largest size.
    pub(crate) fn golden_replay(&mut self) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::GoldenReplay);
        let cases = &self.golden.cases;
        let total = cases.len();
        let mut mismatched = 0;
        let mut diffs = Diffs::default();
        let jobs: Vec<(String, Vec<u8>)> = cases
            .iter()
            .map(|c| (c.case_id.clone(), c.request_body(self.contract())))
            .collect();
        let answers = self
            .invoker
            .invoke_all(&jobs, self.progress, "golden cases");
        for (case, answer) in cases.iter().zip(&answers) {
            let Some(invocation) = answer else { break };
            let problems = self.judge(case, &invocation.outcome, Place::Single, &mut diffs);
            if !problems.is_empty() {
                mismatched += 1;
            }
            for p in problems {
                check.problem(p);
            }
        }
        check.cases = total;
        let mismatched_in_batch = self.replay_in_batches(&mut check, &mut diffs);
        check.metric("cases", total);
        check.metric("mismatched_single", mismatched);
        check.metric("mismatched_in_batch", mismatched_in_batch);
        check.metric("largest_diff", diffs.to_json());
        let batched = if self.contract().batch.is_some() {
            ", singly and in batches"
        } else {
            ""
        };
        check.summary = if check.passed() {
            // How close the run came to each tolerance: what choosing one needs.
            let mut summary = format!("{total} cases match the training-time model{batched}");
            for line in diffs.lines() {
                summary.push_str("; ");
                summary.push_str(&line);
            }
            summary
        } else if mismatched == 0 {
            format!("{total} cases match singly, but not in batches")
        } else {
            format!("{mismatched} of {total} cases differ from the training-time model")
        };
        self.end(check, started)
    }

    /// The goldens in batches of the contract's largest size; returns how many cases got a
    /// wrong answer in their batch (cases, as `mismatched_single` counts them).
    fn replay_in_batches(&mut self, check: &mut CheckResult, diffs: &mut Diffs) -> usize {
        let Some(batch) = &self.contract().batch else {
            return 0;
        };
        let mut mismatched = 0;
        for chunk in self.golden.cases.chunks(batch.max) {
            let body = batch.request(chunk.iter().map(GoldenCase::event_text));
            let Some(answer) = self.invoke("golden batch", &body) else {
                break;
            };
            for (i, case) in chunk.iter().enumerate() {
                let problems = self.judge(case, &answer.outcome, Place::InBatch(i), diffs);
                let failed = !problems.is_empty();
                mismatched += usize::from(failed);
                for p in problems {
                    check.problem(format!("(in a batch of {}) {p}", chunk.len()));
                }
                if failed && !matches!(answer.outcome, Outcome::Success(_)) {
                    // One failed answer for the whole batch: every case in it went unanswered.
                    mismatched += chunk.len() - i - 1;
                    break;
                }
            }
        }
        mismatched
    }
}
