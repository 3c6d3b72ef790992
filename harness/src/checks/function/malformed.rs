//! `malformed-corpus`: the generic corpus and the function's own; each payload gets the answer
//! it must get, and the function still serves afterwards.

use super::{CheckId, CheckResult, FunctionChecks, Recovery};
use crate::contract::judge_malformed;
use crate::corpus::MalformedCase;

impl FunctionChecks<'_> {
    /// Sends every payload of `corpus` and judges each answer by the contract.
    pub(crate) fn malformed_corpus(&mut self, corpus: &[MalformedCase]) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::MalformedCorpus);
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
            if let Some(problem) =
                judge_malformed(&case.label(), &case.expect, invocation, &self.spec.errors)
            {
                wrong += 1;
                check.problem(problem);
            }
        }
        let recovery = self.recovery(&mut check, "the malformed corpus");
        let generic = corpus.iter().filter(|c| c.generic).count();
        check.cases = Some(corpus.len());
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
        if let (true, Recovery::NotJudged(why)) = (check.passed(), recovery) {
            check.set_not_judged(
                CheckId::GoldenReplay,
                format!(
                    "{why}; the {} payloads got the answers they must",
                    corpus.len()
                ),
            );
        }
        self.end(check, started)
    }
}
