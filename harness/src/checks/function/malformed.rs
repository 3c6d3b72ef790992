//! `malformed-corpus`: the generic corpus and the function's own; each payload gets the answer
//! it must get, and the function still serves afterwards.

use super::{CheckId, CheckResult, FunctionChecks, Recovery};
use crate::checks::invoker::Count;
use crate::contract::judge_malformed;
use crate::corpus::MalformedCase;

/// The most body bytes made at once: bodies are made a part of the corpus at a time, just
/// before they are sent, and judged before the next part is made (a corpus of 150 bodies of
/// 6 MB, made up front, took 1.84 GB).
const PART_BYTES: usize = 64 << 20;
/// The most payloads of a part, per target (each answer may be up to Lambda's payload limit).
const PART_CASES_PER_TARGET: usize = 4;

impl FunctionChecks<'_> {
    /// Sends every payload of `corpus` and judges each answer by the contract, a part at a
    /// time (see [`parts`]).
    pub(crate) fn malformed_corpus(&mut self, corpus: &[MalformedCase]) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::MalformedCorpus);
        let mut wrong = 0;
        let mut before = 0;
        'parts: for part in parts(corpus, self.invoker.targets.len()) {
            let jobs: Vec<(String, Vec<u8>)> = part
                .iter()
                .map(|c| (format!("malformed {}", c.name), c.body.make()))
                .collect();
            let count = Count {
                progress: self.progress,
                what: "malformed payloads",
                before,
                total: corpus.len(),
            };
            let answers = self.invoker.invoke_part(&jobs, count);
            drop(jobs);
            before += part.len();
            for (case, answer) in part.iter().zip(&answers) {
                let Some(invocation) = answer else {
                    break 'parts;
                };
                if let Some(problem) =
                    judge_malformed(&case.label(), &case.expect, invocation, &self.spec.errors)
                {
                    wrong += 1;
                    check.problem(problem);
                }
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

/// `corpus` in parts to be made, sent and judged one after the other: at most
/// [`PART_BYTES`] of bodies (or one body, however large) and [`PART_CASES_PER_TARGET`]
/// payloads per target, so `targets` containers still share the work of each part.
fn parts(corpus: &[MalformedCase], targets: usize) -> Vec<&[MalformedCase]> {
    let most = PART_CASES_PER_TARGET * targets.max(1);
    let mut parts = Vec::new();
    let mut rest = corpus;
    while !rest.is_empty() {
        let mut bytes = 0usize;
        let end = rest
            .iter()
            .take(most)
            .position(|case| {
                bytes = bytes.saturating_add(case.body.len());
                bytes > PART_BYTES
            })
            .unwrap_or(rest.len().min(most))
            .max(1);
        let (part, after) = rest.split_at(end);
        parts.push(part);
        rest = after;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Expect;
    use crate::corpus::LazyBody;

    fn case(bytes: usize) -> MalformedCase {
        MalformedCase {
            name: format!("{bytes}"),
            why: String::new(),
            body: LazyBody::default().then_repeat("x", bytes),
            expect: Expect::ContractError,
            generic: false,
        }
    }

    #[test]
    fn the_corpus_is_sent_in_parts_of_bounded_bytes_and_count() {
        let sizes = |parts: Vec<&[MalformedCase]>| -> Vec<Vec<usize>> {
            parts
                .iter()
                .map(|p| p.iter().map(|c| c.body.len()).collect())
                .collect()
        };
        let six = 6_000_000;
        // 150 bodies of 6 MB: eleven a part (66 MB), never the whole 900 MB.
        let big: Vec<_> = (0..150).map(|_| case(six)).collect();
        let parts = parts(&big, 4);
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), 150);
        assert_eq!(parts.len(), 14);
        assert!(parts.iter().all(|p| p.len() * six <= PART_BYTES));
        // Small bodies: as many as the targets may take at once.
        let small: Vec<_> = (0..10).map(|_| case(10)).collect();
        assert_eq!(sizes(super::parts(&small, 2)), [vec![10; 8], vec![10; 2]]);
        // A body over the part's bytes goes alone; the order is kept.
        let mixed = [case(10), case(PART_BYTES + 1), case(10)];
        assert_eq!(
            sizes(super::parts(&mixed, 1)),
            [vec![10], vec![PART_BYTES + 1], vec![10]]
        );
        assert!(super::parts(&[], 3).is_empty());
    }
}
