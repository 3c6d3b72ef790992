//! `snapstart`, for a function the spec publishes with SnapStart (`[snapstart]`): Lambda
//! initialises it once, snapshots the environment after init, and restores every later
//! environment from that snapshot. What the gate can see before the push:
//! - the image opts in (`LABEL com.amazonaws.lambda.feature.snapstart="Allow"`), without which
//!   publishing a version fails;
//! - the function's ephemeral storage is within SnapStart's 512 MB;
//! - with `snapstart.init_echo`, what init computed is the same in two environments started
//!   from the image: a value that differs (a random seed, a unique id, a timestamp) would be
//!   frozen in the snapshot and shared by every restored environment.
//!
//! No local emulator restores a snapshot, so the restore hooks themselves are not exercised.

use super::{CheckId, CheckResult, FunctionChecks};
use crate::image::ImageFacts;
use crate::lambda::{SNAPSTART_EPHEMERAL_STORAGE_MB, SNAPSTART_LABEL};
use crate::runtime::Outcome;
use crate::spec::FunctionSpec;

/// What two environments reported at `snapstart.init_echo`.
#[derive(Clone, Debug)]
pub(crate) enum InitEcho {
    /// The spec names no `init_echo`: init is not checked by behaviour.
    NotAsked,
    /// It could not be judged (the function did not initialise, the run stopped).
    NotJudged(String),
    /// Both reported this value.
    Same(String),
    /// They reported different values.
    Differ(String, String),
    /// An answer had nothing there, or was not an answer.
    Missing(String),
}

impl FunctionChecks<'_> {
    /// The first golden case sent to the first two environments, each reading the value at
    /// `pointer` of its answer.
    pub(crate) fn init_echo(&mut self, pointer: &str) -> InitEcho {
        if self.invoker.targets.len() < 2 {
            return InitEcho::NotJudged("only one environment was started".to_owned());
        }
        let case = &self.golden.cases[0];
        let body = case.request_body(self.contract());
        let mut seen = Vec::new();
        for t in 0..2 {
            let label = format!("snapstart init echo, environment {}", t + 1);
            let Some(invocation) = self.invoker.invoke_on(t, &label, &body) else {
                return InitEcho::NotJudged("the run stopped before it was asked".to_owned());
            };
            match &invocation.outcome {
                Outcome::Success(answer) => match answer.pointer(pointer) {
                    Some(value) => seen.push(value.to_string()),
                    None => {
                        return InitEcho::Missing(format!(
                            "environment {}'s answer to {} has nothing at {pointer}",
                            t + 1,
                            case.case_id
                        ));
                    }
                },
                other => {
                    return InitEcho::Missing(format!(
                        "environment {} answered {} with {}",
                        t + 1,
                        case.case_id,
                        other.describe()
                    ));
                }
            }
        }
        let second = seen.pop().unwrap_or_default();
        let first = seen.pop().unwrap_or_default();
        if first == second {
            InitEcho::Same(first)
        } else {
            InitEcho::Differ(first, second)
        }
    }
}

/// The `snapstart` check of `facts` and `function` with what the environments reported at
/// `pointer` (`snapstart.init_echo`).
pub(crate) fn snapstart(
    facts: &ImageFacts,
    function: &FunctionSpec,
    pointer: Option<&str>,
    echo: InitEcho,
) -> CheckResult {
    let mut check = CheckResult::new(CheckId::SnapStart);
    let (key, allow) = SNAPSTART_LABEL;
    let label = facts.labels.get(key);
    check.metric("label", label.cloned().unwrap_or_default());
    if label.map(String::as_str) != Some(allow) {
        check.problem(format!(
            "the image does not opt in to SnapStart ({}): publishing a version of a SnapStart function fails; add `LABEL {key}=\"{allow}\"` to the Dockerfile",
            label.map_or("no such label".to_owned(), |v| format!("{key}={v:?}"))
        ));
    }
    check.metric("ephemeral_storage_mb", function.ephemeral_storage_mb);
    if function.ephemeral_storage_mb > SNAPSTART_EPHEMERAL_STORAGE_MB {
        check.problem(format!(
            "function.ephemeral_storage_mb is {} MB: SnapStart allows at most {SNAPSTART_EPHEMERAL_STORAGE_MB} MB",
            function.ephemeral_storage_mb
        ));
    }
    let pointer = pointer.unwrap_or_default();
    let init = match echo {
        InitEcho::NotAsked => {
            "init not checked by behaviour (snapstart.init_echo names no value to compare)"
                .to_owned()
        }
        InitEcho::NotJudged(why) => format!("init not judged: {why}"),
        InitEcho::Same(value) => {
            check.metric("init_echo", value.clone());
            format!("init computed the same {pointer} in two environments ({value})")
        }
        InitEcho::Differ(a, b) => {
            check.problem(format!(
                "init computed {pointer} = {a} in one environment and {b} in another: under SnapStart the snapshot freezes one value and every restored environment shares it; compute it per invocation or again in a restore hook"
            ));
            "what init computes differs between environments".to_owned()
        }
        InitEcho::Missing(why) => {
            check.problem(format!("snapstart.init_echo: {why}"));
            format!("no {pointer} to compare")
        }
    };
    check.summary = if check.passed() {
        format!("the image opts in, storage within 512 MB; {init}")
    } else {
        format!("not ready for SnapStart; {init}")
    };
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::image::tests::facts;
    use crate::image::Executable;

    fn image(label: Option<&str>) -> ImageFacts {
        let mut facts = facts(
            "amd64",
            Executable::Missing {
                command: String::new(),
                reason: String::new(),
            },
        );
        if let Some(value) = label {
            facts
                .labels
                .insert(SNAPSTART_LABEL.0.to_owned(), value.to_owned());
        }
        facts
    }

    fn function(ephemeral_storage_mb: u32) -> FunctionSpec {
        FunctionSpec {
            name: "f".to_owned(),
            arch: crate::Arch::X86_64,
            memory_mb: 1024,
            timeout: std::time::Duration::from_secs(3),
            ephemeral_storage_mb,
            max_concurrency: 1,
            environment: Default::default(),
        }
    }

    #[test]
    fn an_image_that_opts_in_with_storage_in_bounds_and_one_init_value_is_ready() {
        let echo = InitEcho::Same("\"abc\"".to_owned());
        let check = snapstart(&image(Some("Allow")), &function(512), Some("/id"), echo);
        assert!(check.passed(), "{check:?}");
        assert!(check.summary.contains("the same /id in two environments"));
    }

    #[test]
    fn each_rule_is_its_own_problem() {
        let echo = InitEcho::Differ("1".to_owned(), "2".to_owned());
        let check = snapstart(&image(None), &function(1024), Some("/id"), echo);
        assert_eq!(check.details.len(), 3, "{:?}", check.details);
        assert!(
            check.details[0].contains("LABEL com.amazonaws.lambda.feature.snapstart=\"Allow\"")
        );
        assert!(check.details[1].contains("1024 MB: SnapStart allows at most 512 MB"));
        assert!(check.details[2].contains("/id = 1 in one environment and 2 in another"));
        let wrong = snapstart(
            &image(Some("Deny")),
            &function(512),
            None,
            InitEcho::NotAsked,
        );
        assert!(!wrong.passed());
        assert!(wrong.summary.contains("init not checked by behaviour"));
    }
}
