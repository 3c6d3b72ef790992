//! `golden-replay`: every golden case, one per invocation and then in batches when the
//! contract has them, against the training-time predictions.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::contract::drift::{Explanation, Finding};
use crate::contract::{Diffs, Place};
use crate::golden::GoldenCase;
use crate::runtime::{Invocation, Outcome};
use std::time::Instant;

impl FunctionChecks<'_> {
    /// Replays every golden case singly, then in batches of the contract's largest size.
    pub(crate) fn golden_replay(&mut self) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::GoldenReplay);
        if !self.golden.out_of_step.is_empty() {
            return self.out_of_step(check, started);
        }
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
        let mut first_right = None;
        let mut wrong: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, (case, answer)) in cases.iter().zip(&answers).enumerate() {
            let Some(invocation) = answer else { break };
            let problems = self.judge(case, &invocation.outcome, Place::Single, &mut diffs);
            self.right_singly[i] = problems.is_empty();
            if !problems.is_empty() {
                mismatched += 1;
                wrong.push((i, problems));
            } else if first_right.is_none() {
                first_right = Some(i);
            }
        }
        let failing: Vec<usize> = wrong.iter().map(|(i, _)| *i).collect();
        let drift = self.explain_drift(&answers, &failing);
        let headline = explained(&mut check, drift, &mut wrong, cases);
        for (_, problems) in wrong {
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
        let mismatched_in_batch = self.replay_in_batches(&mut check, &answers, &mut diffs);
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
            let mut summary =
                format!("{mismatched} of {total} cases differ from the training-time model");
            if let Some(headline) = headline {
                summary.push_str("; ");
                summary.push_str(&headline);
            }
            summary
        };
        self.end(check, started)
    }

    /// Golden files that disagree with their manifest: replaying them would judge the function
    /// by predictions computed for other inputs, so nothing is sent and the check fails with
    /// what is out of step (exit 1, as `golden check` says it), once.
    fn out_of_step(&mut self, mut check: CheckResult, started: Instant) -> CheckResult {
        for problem in &self.golden.out_of_step {
            check.problem(problem.clone());
        }
        check.problem(crate::golden::out_of_step_fix());
        check.summary = "the golden files are out of step with their manifest".to_owned();
        self.recovery_case = Err(
            "golden-replay did not run (the golden files are out of step), so the function's recovery has no right answer to be judged by".to_owned(),
        );
        self.end(check, started)
    }

    /// The goldens in batches of the contract's largest size; returns how many cases got a
    /// wrong answer in their batch (cases, as `mismatched_single` counts them: a batch that
    /// got no predictions counts all of its cases). `singly` holds each case's answer alone,
    /// which names the case behind a batch that got no predictions at all (a hang, a crash)
    /// instead of the batch's first case.
    fn replay_in_batches(
        &mut self,
        check: &mut CheckResult,
        singly: &[Option<Invocation>],
        diffs: &mut Diffs,
    ) -> usize {
        let Some(batch) = &self.contract().batch else {
            return 0;
        };
        let mut mismatched = 0;
        for (n, chunk) in self.golden.cases.chunks(batch.max).enumerate() {
            let body = batch.request(chunk.iter().map(GoldenCase::event_text));
            let Some(answer) = self.invoke("golden batch", &body) else {
                break;
            };
            if !matches!(answer.outcome, Outcome::Success(_)) {
                let first = n * batch.max;
                let alone = singly.get(first..first + chunk.len()).unwrap_or_default();
                mismatched += chunk.len();
                check.problem(batch_failure(chunk, &answer.outcome, alone));
                continue;
            }
            for (i, case) in chunk.iter().enumerate() {
                let problems = self.judge(case, &answer.outcome, Place::InBatch(i), diffs);
                mismatched += usize::from(!problems.is_empty());
                for p in problems {
                    check.problem(format!("(in a batch of {}) {p}", chunk.len()));
                }
            }
        }
        mismatched
    }
}

/// Records the drift search's result in `check`: the ranking first, each case's finding
/// after its own problems (`wrong`), the search itself as the `drift` metric. Returns the
/// headline for the summary.
fn explained(
    check: &mut CheckResult,
    drift: Option<Result<Explanation, String>>,
    wrong: &mut [(usize, Vec<String>)],
    cases: &[GoldenCase],
) -> Option<String> {
    let explanation = match drift? {
        Ok(explanation) => explanation,
        Err(why) => {
            check.problem(format!("the drift search could not run: {why}"));
            return None;
        }
    };
    let ranking: Vec<String> = explanation.ranked.iter().map(|r| r.to_string()).collect();
    check.problem(format!(
        "drift, cases each explanation covers: {}",
        ranking.join(", ")
    ));
    if let Some(pattern) = &explanation.pattern {
        check.problem(pattern.clone());
    }
    let by_id: std::collections::HashMap<&str, &Finding> = explanation
        .cases
        .iter()
        .map(|c| (c.case_id.as_str(), &c.finding))
        .collect();
    for (i, problems) in wrong.iter_mut() {
        let id = cases[*i].case_id.as_str();
        if let Some(finding) = by_id.get(id) {
            problems.push(format!("{id}: {finding}"));
        }
    }
    check.metric(
        "drift",
        serde_json::to_value(&explanation).unwrap_or_default(),
    );
    explanation.headline
}

/// A batch of `chunk` that got `outcome` instead of predictions, named by what its cases got
/// alone (`alone`, in order): the cases that fail alone too are the cause; when each was
/// answered alone, the batch itself is.
fn batch_failure(chunk: &[GoldenCase], outcome: &Outcome, alone: &[Option<Invocation>]) -> String {
    let batch = format!(
        "a batch of {} ({}..{}) got {}",
        chunk.len(),
        chunk.first().map_or("", |c| c.case_id.as_str()),
        chunk.last().map_or("", |c| c.case_id.as_str()),
        outcome.describe()
    );
    let failing: Vec<String> = chunk
        .iter()
        .zip(alone)
        .filter_map(|(case, answer)| match answer {
            Some(answer) if !matches!(answer.outcome, Outcome::Success(_)) => {
                Some(format!("{} ({})", case.case_id, answer.outcome.describe()))
            }
            _ => None,
        })
        .collect();
    let answered = alone.iter().flatten().count();
    if !failing.is_empty() {
        format!(
            "{batch}; alone, {} got no prediction either",
            failing.join(", ")
        )
    } else if answered == chunk.len() {
        format!("{batch}, though each of its cases got a prediction alone: the batch itself fails")
    } else {
        format!("{batch}; its cases were not all sent alone, so none is named")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn case(id: &str) -> GoldenCase {
        GoldenCase {
            case_id: id.to_owned(),
            event: serde_json::value::RawValue::from_string("{}".to_owned()).unwrap(),
            expected: serde_json::Value::Null,
            features: None,
        }
    }

    fn answer(outcome: Outcome) -> Option<Invocation> {
        Some(Invocation {
            outcome,
            request_bytes: 2,
            response_bytes: 2,
            elapsed: Duration::ZERO,
        })
    }

    #[test]
    fn a_batch_that_hangs_is_named_after_the_case_that_hangs_alone() {
        let chunk = [case("row-0000"), case("row-0001"), case("row-0002")];
        let ok = || answer(Outcome::Success(serde_json::json!({})));
        let why = batch_failure(
            &chunk,
            &Outcome::TimedOut,
            &[ok(), answer(Outcome::TimedOut), ok()],
        );
        let timed_out = Outcome::TimedOut.describe();
        assert_eq!(
            why,
            format!(
                "a batch of 3 (row-0000..row-0002) got {timed_out}; alone, row-0001 ({timed_out}) got no prediction either"
            )
        );
        let why = batch_failure(&chunk, &Outcome::TimedOut, &[ok(), ok(), ok()]);
        assert!(
            why.ends_with(
                "though each of its cases got a prediction alone: the batch itself fails"
            ),
            "{why}"
        );
        let why = batch_failure(&chunk, &Outcome::TimedOut, &[ok(), None, None]);
        assert!(why.ends_with("so none is named"), "{why}");
    }
}
