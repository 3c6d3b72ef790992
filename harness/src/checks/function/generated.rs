//! `malformed-generated`: proptest-generated payloads. Each must get a structured error from
//! the contract (or a real answer when the mutation happened to stay valid), never a crash or a
//! timeout. Seeded; failures are shrunk and their seeds persisted outside the source tree,
//! except failures of exhaustion (a timeout, running out of memory), whose cause may be the
//! payloads before the one they happened on.

use super::{CheckId, CheckResult, FunctionChecks, Recovery, Status};
use crate::contract::judge_generated;
use crate::corpus::{Payload, payloads};
use crate::runtime::Invocation;
use proptest::strategy::Strategy;
use proptest::test_runner::{
    Config, FailurePersistence, FileFailurePersistence, PersistedSeed, RngAlgorithm, TestCaseError,
    TestError, TestRng, TestRunner,
};
use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Why a generated payload's answer broke the contract.
#[derive(Clone, Debug)]
struct Broken {
    /// What was wrong.
    reason: String,
    /// Whether the function ran out of time or memory ([`crate::runtime::Outcome::is_exhaustion`]).
    exhausted: bool,
}

/// A generated payload's body and its verdict, judged ahead of proptest's run (`None`: not
/// sent, the run had to stop).
type KnownVerdict = (Vec<u8>, Option<Result<(), Broken>>);

/// proptest's file of failing seeds, except that a failure of exhaustion is not saved: a leak
/// that adds up over a run ends in a timeout or out of memory on whichever payload comes then,
/// and that payload's seed, replayed first on every later run, would stand for a cause it is
/// not. proptest saves the seed of the first failing case of a run (before shrinking), so
/// whether that case exhausted the function decides.
#[derive(Clone, Debug)]
struct SavedUnlessExhausted {
    file: FileFailurePersistence,
    /// Set by the test when the run's first failing case exhausted the function.
    first_failure_exhausted: Arc<AtomicBool>,
}

impl FailurePersistence for SavedUnlessExhausted {
    fn load_persisted_failures2(&self, source_file: Option<&'static str>) -> Vec<PersistedSeed> {
        self.file.load_persisted_failures2(source_file)
    }

    fn save_persisted_failure2(
        &mut self,
        source_file: Option<&'static str>,
        seed: PersistedSeed,
        shrunken_value: &dyn std::fmt::Debug,
    ) {
        if !self.first_failure_exhausted.load(Ordering::SeqCst) {
            self.file
                .save_persisted_failure2(source_file, seed, shrunken_value);
        }
    }

    fn box_clone(&self) -> Box<dyn FailurePersistence> {
        Box::new(self.clone())
    }

    fn eq(&self, other: &dyn FailurePersistence) -> bool {
        other.as_any().downcast_ref::<Self>().is_some_and(|other| {
            other.file == self.file
                && Arc::ptr_eq(
                    &other.first_failure_exhausted,
                    &self.first_failure_exhausted,
                )
        })
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl FunctionChecks<'_> {
    /// proptest-generated payloads: each must get a structured error from the contract (or a
    /// real answer when the mutation happened to stay valid), never a crash or a timeout.
    /// Seeded; failures are shrunk and their seeds persisted outside the source tree.
    pub(crate) fn generated(&mut self) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::MalformedGenerated);
        let settings = &self.spec.generated;
        let (cases, seed) = (settings.cases, settings.seed);
        let regressions = settings.regressions.clone();
        if let Some(dir) = regressions.parent()
            && let Err(e) = std::fs::create_dir_all(dir)
        {
            check.problem(format!(
                "cannot create {} for proptest's regressions: {e}",
                dir.display()
            ));
            return self.end(check, started);
        }
        // proptest keeps the persistence path for the whole process; one small leak per run.
        let path: &'static str = Box::leak(regressions.display().to_string().into_boxed_str());
        let first_failure_exhausted = Arc::new(AtomicBool::new(false));
        let config = Config {
            cases,
            max_shrink_iters: 256,
            failure_persistence: Some(Box::new(SavedUnlessExhausted {
                file: FileFailurePersistence::Direct(path),
                first_failure_exhausted: first_failure_exhausted.clone(),
            })),
            ..Config::default()
        };
        let mut seed_bytes = [0u8; 32];
        seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
        let runner = || {
            TestRunner::new_with_rng(
                config.clone(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
            )
        };
        let strategy = payloads(&self.golden.cases, self.contract());
        let known = if self.invoker.targets.len() > 1 {
            self.judge_in_parallel(runner(), &strategy)
        } else {
            Vec::new()
        };
        let done = Cell::new(0usize);
        // Payloads that got a verdict: what the summary may claim (a stopped run rejects the
        // rest without sending them).
        let judged = Cell::new(0usize);
        let total = cases as usize;
        // The first failure is the case whose seed proptest saves; shrinking comes after it.
        let failed = Cell::new(false);
        let fail = |broken: Broken| {
            if !failed.replace(true) {
                first_failure_exhausted.store(broken.exhausted, Ordering::SeqCst);
            }
            TestCaseError::fail(broken.reason)
        };
        let this = RefCell::new(&mut *self);
        let result = runner().run(&strategy, |payload: Payload| {
            let n = done.get();
            done.set(n + 1);
            // Verdicts found in parallel, for the cases the runner generates in the same order;
            // shrinking and anything after runs here, on one container, as it would alone.
            if let Some((body, verdict)) = known.get(n)
                && *body == payload.body
            {
                return match verdict {
                    Some(verdict) => {
                        judged.set(judged.get() + 1);
                        verdict.clone().map_err(fail)
                    }
                    None => Err(TestCaseError::reject("the run stopped")),
                };
            }
            let mut checks = this.borrow_mut();
            // A run that has to stop judges nothing more: no made-up failure gets shrunk and
            // saved as a regression, and rejecting every further case makes proptest give up
            // (after `max_global_rejects`) instead of generating the rest.
            let Some(invocation) = checks.invoke("generated payload", &payload.body) else {
                return Err(TestCaseError::reject("the run stopped"));
            };
            if n < total {
                checks.progress.count("generated payloads", n + 1, total);
            }
            judged.set(judged.get() + 1);
            checks.verdict(&payload, &invocation).map_err(fail)
        });
        let judged = judged.get();
        let broke = matches!(result, Err(TestError::Fail(..)));
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, payload)) => {
                let saved = if first_failure_exhausted.load(Ordering::SeqCst) {
                    "not saved as a regression: running out of time or memory may be the work of the payloads before it, such as a leak, not of this one".to_owned()
                } else {
                    format!(
                        "the failure is saved to {} and replayed first next time",
                        regressions.display()
                    )
                };
                check.problem(format!(
                    "shrunk failing payload: {payload:?}\n{reason}\n(seed {seed}; {saved})"
                ));
            }
            // Aborted by the rejections above: the reason is the run's stop, reported below.
            Err(TestError::Abort(_))
                if self.invoker.stop.is_some() || self.invoker.check_out_of_time => {}
            Err(TestError::Abort(reason)) => check.problem(format!("proptest aborted: {reason}")),
        }
        let recovery = self.recovery(&mut check, "the generated payloads");
        check.cases = Some(judged);
        check.metric("seed", seed);
        // After `end`, which adds why the run stopped: a cut run must not claim every payload.
        let mut check = self.end(check, started);
        summarise(&mut check, recovery, seed, judged, total, broke);
        check
    }

    /// The payloads `runner` would generate, sent over all targets at once and judged: up to
    /// and including the first that fails (`None` where the run had to stop). A passing test
    /// makes proptest generate exactly the sequence a real run starts with, so the real run can
    /// take these verdicts and only shrink, keeping results and seeds those of a sequential run.
    fn judge_in_parallel(
        &mut self,
        mut runner: TestRunner,
        strategy: &impl Strategy<Value = Payload>,
    ) -> Vec<KnownVerdict> {
        let sequence = RefCell::new(Vec::new());
        let _ = runner.run(strategy, |payload: Payload| {
            sequence.borrow_mut().push(payload);
            Ok(())
        });
        let sequence = sequence.into_inner();
        let jobs: Vec<(String, Vec<u8>)> = sequence
            .iter()
            .map(|p| ("generated payload".to_owned(), p.body.clone()))
            .collect();
        let answers = self
            .invoker
            .invoke_all(&jobs, self.progress, "generated payloads");
        let mut known = Vec::with_capacity(sequence.len());
        for (payload, answer) in sequence.into_iter().zip(answers) {
            let verdict = answer.map(|a| self.verdict(&payload, &a));
            let last = !matches!(verdict, Some(Ok(())));
            known.push((payload.body, verdict));
            if last {
                break;
            }
        }
        known
    }

    /// The verdict on the answer to a generated payload.
    fn verdict(&self, payload: &Payload, invocation: &Invocation) -> Result<(), Broken> {
        judge_generated(
            payload.shape,
            invocation,
            self.contract(),
            &self.spec.errors,
        )
        .map_err(|reason| Broken {
            reason,
            exhausted: invocation.outcome.is_exhaustion(),
        })
    }
}

/// The summary of a generated check that `end` has seen: what the `judged` of `total` payloads
/// (seed `seed`) showed, and why it failed or was not judged. A passing check whose recovery
/// could not be judged (no golden case was answered right) is not judged with golden-replay as
/// its cause; a check cut short never claims the payloads it did not judge.
fn summarise(
    check: &mut CheckResult,
    recovery: Recovery,
    seed: u64,
    judged: usize,
    total: usize,
    broke: bool,
) {
    // The count is the cases column's: saved failures replayed first are cases too.
    let replayed = judged.saturating_sub(total);
    let saved = if replayed > 0 {
        format!(", {replayed} of them saved failures replayed first")
    } else {
        String::new()
    };
    let answered = format!("{judged} generated payloads (seed {seed}{saved}) got contract answers");
    match check.status {
        Status::Passed => {
            check.summary = format!(
                "{judged} generated payloads (seed {seed}{saved}) all got contract answers"
            );
            if let Recovery::NotJudged(why) = recovery {
                check.set_not_judged(CheckId::GoldenReplay, format!("{why}; the {answered}"));
            }
        }
        Status::Failed if broke => {
            check.summary = format!("a generated payload broke the contract (seed {seed})");
        }
        Status::Failed if judged < total => {
            check.summary = format!(
                "{judged} of {total} generated payloads (seed {seed}) judged before the check stopped"
            );
        }
        Status::Failed => {
            check.summary = format!("{answered}, but the function failed after them");
        }
        // Not judged by `end`: the run stopped in an earlier check, which its summary names.
        Status::NotJudged => {}
    }
}
