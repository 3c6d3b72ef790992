//! Golden replay's failing cases explained feature by feature (`[drift]`): by the goldens'
//! CatBoost model, or by the function's own feature echo.

use super::FunctionChecks;
use crate::contract::Place;
use crate::contract::drift::{DriftModel, Explanation, Failing, Finding, explain, summarize};
use crate::runtime::{Invocation, Outcome};

/// Most failing cases whose features the function is asked to echo (one invocation each).
const MAX_ECHOES: usize = 50;

impl FunctionChecks<'_> {
    /// Why the cases `failing` (indices into the goldens) got what they got alone (`answers`),
    /// when the spec has `[drift]` and any of them got a prediction; `Err`: why the search
    /// could not run.
    pub(super) fn explain_drift(
        &mut self,
        answers: &[Option<Invocation>],
        failing: &[usize],
    ) -> Option<Result<Explanation, String>> {
        let drift = self.spec.drift.as_ref()?;
        let cases = &self.golden.cases;
        let contract = self.contract();
        let list: Vec<Failing<'_>> = failing
            .iter()
            .filter_map(|&i| {
                let Outcome::Success(answer) = &answers.get(i)?.as_ref()?.outcome else {
                    return None;
                };
                let served = contract.prediction(answer, Place::Single).ok()?;
                Some(Failing {
                    case_id: &cases[i].case_id,
                    features: cases[i].features.as_ref(),
                    expected: &cases[i].expected,
                    served,
                })
            })
            .collect();
        if list.is_empty() {
            return None;
        }
        if let Some(path) = &drift.model {
            self.progress.detail(&format!(
                "drift search: which feature explains each of {} failing cases ({})",
                list.len(),
                path.display()
            ));
            let model = match DriftModel::load(path) {
                Ok(model) => model,
                Err(e) => return Some(Err(crate::error_chain(&e))),
            };
            let all_features = cases.iter().filter_map(|c| c.features.as_ref());
            return Some(explain(
                &model,
                &drift.output,
                &contract.fields,
                all_features,
                &list,
            ));
        }
        let echo = drift.echo.as_ref()?;
        let echoed = &list[..list.len().min(MAX_ECHOES)];
        let mut findings = Vec::with_capacity(echoed.len());
        for case in echoed {
            let Some(trained) = case.features else {
                findings.push(Finding::NoFeatures {
                    why: "the goldens carry no training-time `features` for it".to_owned(),
                });
                continue;
            };
            let golden = cases.iter().find(|c| c.case_id == case.case_id)?;
            let body = echo.request.render(golden.event_text().as_bytes());
            let invocation = self.invoke("feature echo", &body)?;
            findings.push(match &invocation.outcome {
                Outcome::Success(answer) => match echo.differences(trained, answer) {
                    Ok(shifts) => Finding::Echoed { shifts },
                    Err(why) => Finding::NoFeatures { why },
                },
                other => Finding::NoFeatures {
                    why: format!("the feature echo request got {}", other.describe()),
                },
            });
        }
        let mut explanation = summarize(findings, echoed, &contract.fields);
        if echoed.len() < list.len()
            && let Some(headline) = &mut explanation.headline
        {
            headline.push_str(&format!(" (of the first {} echoed)", echoed.len()));
        }
        Some(Ok(explanation))
    }
}
