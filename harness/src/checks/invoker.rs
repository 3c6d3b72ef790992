//! Sending the checks' requests: to one target, or spread over several (`--jobs`), each
//! serving one request at a time as a Lambda execution environment does; within the run's
//! time limits; stopping when the function hangs or the infrastructure goes away.

use crate::progress::Progress;
use crate::runtime::{Health, Invocation, Outcome, Target};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How many timeouts a run tolerates before it stops invoking: a function that hangs would
/// otherwise keep the gate busy for hours (a timeout per request, then shrinking).
const MAX_TIMEOUTS: usize = 3;

/// Why the checks stopped invoking.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Stop {
    /// The function timed out again and again: it hangs (the function's fault).
    Stalled(String),
    /// The run's deadline passed (the function is too slow to verify).
    Deadline(String),
    /// The container or Docker went away: not the function's fault, the run cannot be judged.
    Broken(String),
}

/// Where a part of a list of requests stands in it, for the progress line: `what` is counted,
/// `before` of the `total` were sent before the part.
#[derive(Clone, Copy)]
pub(crate) struct Count<'p> {
    pub(crate) progress: &'p Progress,
    pub(crate) what: &'p str,
    pub(crate) before: usize,
    pub(crate) total: usize,
}

/// Time limits of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budgets {
    /// When the whole run must end.
    pub(crate) deadline: Instant,
    /// How long one check may take.
    pub(crate) per_check: Duration,
}

/// What every invocation of the run showed, for the `lambda-limits` check.
#[derive(Default)]
pub(crate) struct InvocationStats {
    pub(crate) count: usize,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) timeouts: Vec<String>,
    pub(crate) largest_response: (usize, String),
    pub(crate) too_large: usize,
}

impl InvocationStats {
    fn record(&mut self, label: &str, invocation: &Invocation) {
        if let Outcome::RequestTooLarge(_) = invocation.outcome {
            self.too_large += 1;
            return;
        }
        self.count += 1;
        self.latencies.push(invocation.elapsed);
        if matches!(invocation.outcome, Outcome::TimedOut) {
            self.timeouts.push(label.to_owned());
        }
        if invocation.response_bytes > self.largest_response.0 {
            self.largest_response = (invocation.response_bytes, label.to_owned());
        }
    }
}

/// The checks' way to the function.
pub(crate) struct Invoker<'a> {
    /// One or more targets of the same function; requests in order go to the first.
    pub(crate) targets: Vec<&'a dyn Target>,
    pub(crate) stats: InvocationStats,
    budgets: Budgets,
    timeout: Duration,
    /// Why the run stopped invoking, if it did.
    pub(crate) stop: Option<Stop>,
    /// When the current check must end.
    check_deadline: Option<Instant>,
    /// Whether the current check ran out of its budget.
    pub(crate) check_out_of_time: bool,
}

impl<'a> Invoker<'a> {
    pub(crate) fn new(targets: Vec<&'a dyn Target>, budgets: Budgets, timeout: Duration) -> Self {
        assert!(!targets.is_empty(), "at least one target");
        Invoker {
            targets,
            stats: InvocationStats::default(),
            budgets,
            timeout,
            stop: None,
            check_deadline: None,
            check_out_of_time: false,
        }
    }

    /// Starts a check's clock.
    pub(crate) fn begin(&mut self) -> Instant {
        let now = Instant::now();
        self.check_deadline = Some(now + self.budgets.per_check);
        self.check_out_of_time = false;
        now
    }

    /// Why the current check had to stop early, if it did.
    pub(crate) fn stopped_because(&self) -> Vec<String> {
        let mut why = Vec::new();
        if self.check_out_of_time {
            why.push(format!(
                "stopped after its budget of {} s: the function is too slow to verify in time (--check-budget)",
                self.budgets.per_check.as_secs()
            ));
        }
        if let Some(Stop::Stalled(reason) | Stop::Deadline(reason) | Stop::Broken(reason)) =
            &self.stop
        {
            why.push(format!("stopped early: {reason}"));
        }
        why
    }

    /// Whether a request may still be sent now (and if not, notes why).
    fn may_send(&mut self) -> bool {
        if self.stop.is_some() || self.check_out_of_time {
            return false;
        }
        let now = Instant::now();
        if now > self.budgets.deadline {
            self.stop = Some(Stop::Deadline(
                "the run's deadline passed (--deadline)".to_owned(),
            ));
            return false;
        }
        if self.check_deadline.is_some_and(|d| now > d) {
            self.check_out_of_time = true;
            return false;
        }
        true
    }

    /// Sends `body` to the first target unless the run or the check has to stop; `None` then.
    pub(crate) fn invoke(&mut self, label: &str, body: &[u8]) -> Option<Invocation> {
        self.invoke_on(0, label, body)
    }

    /// Sends `body` to target `t` (an environment of its own) unless the run or the check has
    /// to stop; `None` then.
    pub(crate) fn invoke_on(&mut self, t: usize, label: &str, body: &[u8]) -> Option<Invocation> {
        if !self.may_send() {
            return None;
        }
        let target = self.targets[t];
        let invocation = target.invoke(body);
        self.account(label, &invocation, target)
            .then_some(invocation)
    }

    /// Sends every request of `jobs`, spread over the targets, each target one request at a
    /// time; answers come back in the order of `jobs` (`None` for the ones not sent because the
    /// run had to stop). `progress` counts them as `what`.
    pub(crate) fn invoke_all(
        &mut self,
        jobs: &[(String, Vec<u8>)],
        progress: &Progress,
        what: &str,
    ) -> Vec<Option<Invocation>> {
        self.invoke_part(
            jobs,
            Count {
                progress,
                what,
                before: 0,
                total: jobs.len(),
            },
        )
    }

    /// [`Invoker::invoke_all`] for `jobs` that are one part of a longer list (sent part by
    /// part, so the bodies and answers of the whole list never exist at once): `count` says
    /// where the part stands in the list.
    pub(crate) fn invoke_part(
        &mut self,
        jobs: &[(String, Vec<u8>)],
        count: Count<'_>,
    ) -> Vec<Option<Invocation>> {
        let Count {
            progress,
            what,
            before,
            total,
        } = count;
        if self.targets.len() == 1 {
            return jobs
                .iter()
                .enumerate()
                .map(|(i, (label, body))| {
                    let answer = self.invoke(label, body);
                    progress.count(what, before + i + 1, total);
                    answer
                })
                .collect();
        }
        if !self.may_send() {
            return vec![None; jobs.len()];
        }
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let halt = AtomicBool::new(false);
        let timeouts = AtomicUsize::new(self.stats.timeouts.len());
        let answers: Mutex<Vec<Option<(Invocation, usize)>>> = Mutex::new(vec![None; jobs.len()]);
        let deadline = self
            .check_deadline
            .map_or(self.budgets.deadline, |d| d.min(self.budgets.deadline));
        std::thread::scope(|scope| {
            for (t, target) in self.targets.iter().enumerate() {
                let (next, done, halt, timeouts, answers) =
                    (&next, &done, &halt, &timeouts, &answers);
                scope.spawn(move || {
                    loop {
                        if halt.load(Ordering::SeqCst) || Instant::now() > deadline {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some((_, body)) = jobs.get(i) else { break };
                        let invocation = target.invoke(body);
                        match invocation.outcome {
                            Outcome::NoAnswer(_) => halt.store(true, Ordering::SeqCst),
                            Outcome::TimedOut
                                if timeouts.fetch_add(1, Ordering::SeqCst) + 1 >= MAX_TIMEOUTS =>
                            {
                                halt.store(true, Ordering::SeqCst);
                            }
                            _ => {}
                        }
                        if let Ok(mut answers) = answers.lock() {
                            answers[i] = Some((invocation, t));
                        }
                        let done = done.fetch_add(1, Ordering::SeqCst) + 1;
                        progress.count(what, before + done, total);
                    }
                });
            }
        });
        let answers = answers.into_inner().unwrap_or_default();
        let mut out = Vec::with_capacity(jobs.len());
        for ((label, _), answer) in jobs.iter().zip(answers) {
            // The stop rules apply in request order, as in a sequential run.
            out.push(match answer {
                Some((invocation, t)) if self.stop.is_none() => self
                    .account(label, &invocation, self.targets[t])
                    .then_some(invocation),
                _ => None,
            });
        }
        if self.stop.is_none() && out.iter().any(Option::is_none) {
            self.may_send();
        }
        out
    }

    /// Records an answer; `false` when it means the run has to stop now (the answer is then
    /// not the function's).
    fn account(&mut self, label: &str, invocation: &Invocation, target: &dyn Target) -> bool {
        self.stats.record(label, invocation);
        match &invocation.outcome {
            Outcome::TimedOut if self.stats.timeouts.len() >= MAX_TIMEOUTS => {
                self.stop = Some(Stop::Stalled(format!(
                    "the function timed out {MAX_TIMEOUTS} times (each after {} s): it hangs",
                    self.timeout.as_secs()
                )));
                true
            }
            Outcome::NoAnswer(error) => {
                // Docker may still call a container that was just killed running: let its
                // state settle (bounded) before saying what happened.
                let mut health = target.health();
                for _ in 0..10 {
                    if health != Health::Running {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                    health = target.health();
                }
                self.stop = Some(Stop::Broken(match health {
                    Health::Stopped(why) | Health::Unreachable(why) => why,
                    Health::Running => format!("the emulator stopped answering ({error})"),
                }));
                false
            }
            _ => true,
        }
    }

    /// The last word goes to Docker: a run whose container or engine went away cannot pass,
    /// even when every answer so far was right.
    pub(crate) fn final_health(&mut self) {
        if self.stop.is_some() {
            return;
        }
        for target in &self.targets {
            if let Health::Stopped(why) | Health::Unreachable(why) = target.health() {
                self.stop = Some(Stop::Broken(why));
                return;
            }
        }
    }
}
