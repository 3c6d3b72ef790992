//! The `init` check, and the judgement of a cold start that `tune` shares: the RIE starts the
//! runtime lazily, with the first request, which must succeed; the init phase it reports
//! (`INIT REPORT`) must fit Lambda's 10 s limit.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::lambda;
use crate::runtime::{Invocation, Outcome, Target};
use crate::units::ms;
use std::time::Duration;

/// How long the RIE's `INIT REPORT` line may take to reach us after the first answer.
pub(crate) const INIT_REPORT_WAIT: Duration = Duration::from_secs(10);

/// What a cold start showed: the first invocation and the init phase the target reported.
pub(crate) struct InitVerdict {
    /// The init phase (`INIT REPORT`), if the target reported one.
    pub(crate) init: Option<Duration>,
    /// The first request's latency as the client saw it, init included.
    pub(crate) first: Duration,
    /// Whether the first invocation got a result.
    pub(crate) succeeded: bool,
    /// Why the init is over Lambda's limit, if it is.
    pub(crate) over_limit: Option<String>,
}

impl InitVerdict {
    /// Judges the first invocation `first` of `target`, waiting for its init report (briefly
    /// when the invocation failed: a crashed runtime reports none).
    pub(crate) fn judge(first: &Invocation, target: &dyn Target) -> Self {
        let succeeded = matches!(first.outcome, Outcome::Success(_));
        let wait = if succeeded {
            INIT_REPORT_WAIT
        } else {
            Duration::from_millis(500)
        };
        let init = target.init_report(wait);
        let judged = init.unwrap_or(first.elapsed);
        let over_limit = (succeeded && judged > lambda::INIT_LIMIT).then(|| {
            format!(
                "the init phase took {:.0} ms, over Lambda's 10 s init limit",
                ms(judged)
            )
        });
        InitVerdict {
            init,
            first: first.elapsed,
            succeeded,
            over_limit,
        }
    }
}

impl FunctionChecks<'_> {
    /// The first invocation initialises the function; the first request's latency (init plus
    /// one prediction) is shown beside the init phase.
    pub(crate) fn init(&mut self) -> CheckResult {
        let (mut check, started) = self.begin(CheckId::Init);
        let case = &self.golden.cases[0];
        let Some(invocation) = self.invoke(
            &format!("init ({})", case.case_id),
            &case.request_body(self.contract()),
        ) else {
            check.summary = "the function could not be invoked".to_owned();
            return self.end(check, started);
        };
        check.cases = Some(1);
        let verdict = InitVerdict::judge(&invocation, self.target());
        check.metric("first_invocation_ms", ms(verdict.first));
        if let Some(init) = verdict.init {
            check.metric("init_report_ms", ms(init));
        }
        if verdict.succeeded {
            if let Some(problem) = verdict.over_limit {
                check.problem(problem);
            }
            check.summary = match verdict.init {
                Some(init) => format!(
                    "init {:.1} ms (INIT REPORT; Lambda allows 10 s), first request {:.1} ms",
                    ms(init),
                    ms(verdict.first)
                ),
                None => format!(
                    "the RIE printed no INIT REPORT; first request incl. init {:.1} ms (Lambda allows 10 s for init)",
                    ms(verdict.first)
                ),
            };
        } else {
            check.problem(format!(
                "the first invocation ({}) failed: {}\n--- container log (tail) ---\n{}",
                case.case_id,
                invocation.outcome.describe(),
                self.target().log_tail(40)
            ));
            check.summary = "the function failed its first invocation".to_owned();
        }
        self.end(check, started)
    }
}
