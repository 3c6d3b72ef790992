//! The feature echo: for a function whose model the gate cannot evaluate, the features it
//! computed for an event (a debug request of its contract) against the goldens' training-time
//! features, feature by feature, with one tolerance for every number.

use super::FeatureEcho;
use super::search::Shift;
use crate::contract::{FieldRule, compare};
use serde_json::Value;

impl FeatureEcho {
    /// The features that differ between `trained` (the goldens') and `answer` (the function's
    /// answer to the echo request); `Err`: the answer holds no features where the spec says.
    pub(crate) fn differences(
        &self,
        trained: &Value,
        answer: &Value,
    ) -> Result<Vec<Shift>, String> {
        let echoed = answer.pointer(&self.features).ok_or_else(|| {
            format!(
                "the echo answer has no features at {:?} (drift.echo.features)",
                self.features
            )
        })?;
        let rule = FieldRule {
            expected: String::new(),
            actual: None,
            tolerance: self.tolerance,
            ignore: false,
        };
        Ok(compare(trained, echoed, std::slice::from_ref(&rule))
            .into_iter()
            .map(|m| {
                let place = m.place.trim_start_matches('/');
                // An array of features has no names: its places are positions.
                let name = if trained.is_array() {
                    format!("feature {place}")
                } else {
                    place.replace("~1", "/").replace("~0", "~")
                };
                Shift {
                    feature: name,
                    trained: show(&m.expected),
                    served: m.actual.as_ref().map_or("nothing".to_owned(), show),
                }
            })
            .collect())
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_f64().map_or(n.to_string(), super::model::short_float),
        Value::Null => "missing".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{EVENT, Template, Tolerance};
    use serde_json::json;

    #[test]
    fn each_feature_echoed_otherwise_is_named_with_both_values() {
        let echo = FeatureEcho {
            request: Template::parse("{\"echo\": \"$event\"}", EVENT).unwrap(),
            features: "/features".to_owned(),
            tolerance: Tolerance {
                abs: Some(1e-9),
                ..Tolerance::default()
            },
        };
        let trained = json!({"ratio": 0.25, "state": "NV", "income": null, "n": 3.0});
        let answer =
            json!({"features": {"ratio": 0.25 + 1e-12, "state": "CA", "income": null, "n": 4.0}});
        let shifts = echo.differences(&trained, &answer).unwrap();
        let text: Vec<String> = shifts.iter().map(Shift::to_string).collect();
        assert_eq!(
            text,
            [
                "`n`: trained 3, served 4",
                "`state`: trained \"NV\", served \"CA\""
            ]
        );
        // Features in an array are named by their position.
        let shifts = echo
            .differences(&json!([1.0, "a"]), &json!({"features": [1.5, "a"]}))
            .unwrap();
        assert_eq!(shifts[0].to_string(), "`feature 0`: trained 1, served 1.5");
        let why = echo
            .differences(&trained, &json!({"other": 1}))
            .unwrap_err();
        assert!(why.contains("no features at \"/features\""), "{why}");
    }
}
