//! Where a prediction sits in the function's answer, and the verdict on a golden case's answer.
//!
//! One event's answer holds its prediction at `contract.prediction`; a batch's answer holds an
//! array at `contract.batch.predictions`, one per event in order. Every check that reads a
//! prediction (golden replay, the largest batch, generated payloads that stayed valid) finds it
//! here.

use super::{Contract, Diffs, compare_measured};
use crate::runtime::Outcome;
use serde_json::Value;

/// Which prediction of an answer is meant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Place {
    /// The answer to a request carrying one event.
    Single,
    /// The event at this position of a batch.
    InBatch(usize),
}

/// What a valid answer to a request looks like, when the request happens to be valid.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shape {
    /// One event: the answer holds one prediction.
    Single,
    /// A batch of this many events.
    Batch(usize),
    /// Not made from a template: either kind of answer.
    Unknown,
}

impl Contract {
    /// The prediction at `place` in `answer`, or the pointer it was looked for at.
    pub(crate) fn prediction<'a>(
        &self,
        answer: &'a Value,
        place: Place,
    ) -> Result<&'a Value, String> {
        match (place, &self.batch) {
            (Place::InBatch(i), Some(batch)) => self
                .batch_predictions(answer)
                .and_then(|p| p.get(i))
                .ok_or_else(|| format!("{}/{i}", batch.predictions)),
            _ => answer
                .pointer(&self.prediction)
                .ok_or_else(|| self.prediction.clone()),
        }
    }

    /// The array of predictions in a batch's answer, if the contract has batches and the
    /// answer holds one.
    pub(crate) fn batch_predictions<'a>(&self, answer: &'a Value) -> Option<&'a [Value]> {
        let batch = self.batch.as_ref()?;
        answer
            .pointer(&batch.predictions)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    }

    /// Whether `answer` is an answer of the contract to a request of `shape`.
    pub(crate) fn answers(&self, answer: &Value, shape: Shape) -> bool {
        let single = answer.pointer(&self.prediction).is_some();
        let batch = self.batch_predictions(answer).map(<[Value]>::len);
        match shape {
            Shape::Single => single,
            Shape::Batch(n) => batch == Some(n),
            Shape::Unknown => single || batch.is_some(),
        }
    }
}

/// A golden case as its answer is judged: its id, its event and the training-time prediction.
pub(crate) struct Golden<'a> {
    /// The case id, which every problem starts with.
    pub(crate) id: &'a str,
    /// The event sent, as its JSON text.
    pub(crate) event: &'a str,
    /// The training-time prediction.
    pub(crate) expected: &'a Value,
    /// The goldens' model sha256, for `echo_model_sha256`.
    pub(crate) model_sha256: &'a str,
}

/// Problems with the answer to `golden` (alone, or at its place in a batch): no prediction,
/// a prediction other than the training-time one by the field rules, a wrong id echo or model
/// sha256 echo. Empty when the answer is right. The numbers compared are measured into
/// `diffs`, so a passing replay can say how close it came to each tolerance.
pub(crate) fn judge_golden(
    contract: &Contract,
    golden: &Golden<'_>,
    outcome: &Outcome,
    place: Place,
    diffs: &mut Diffs,
) -> Vec<String> {
    let id = golden.id;
    let Outcome::Success(response) = outcome else {
        return vec![format!(
            "{id}: expected a prediction, got {}",
            outcome.describe()
        )];
    };
    let prediction = match contract.prediction(response, place) {
        Ok(prediction) => prediction,
        Err(pointer) => {
            return vec![format!(
                "{id}: the answer has no prediction at {pointer:?}: {}",
                outcome.describe()
            )];
        }
    };
    let mut problems: Vec<String> =
        compare_measured(golden.expected, prediction, &contract.fields, diffs)
            .into_iter()
            .map(|m| format!("{id}: {m}"))
            .collect();
    if let Some(echo) = &contract.id {
        let event: Value = serde_json::from_str(golden.event).unwrap_or_default();
        let sent = event.pointer(&echo.event).filter(|v| !v.is_null());
        let echoed = prediction
            .pointer(&echo.prediction)
            .filter(|v| !v.is_null());
        if sent != echoed {
            problems.push(format!(
                "{id}: id at {:?} expected {}, actual {}",
                echo.prediction,
                sent.map_or("none".to_owned(), Value::to_string),
                echoed.map_or("none".to_owned(), Value::to_string),
            ));
        }
    }
    if let Some(pointer) = &contract.echo_model_sha256 {
        let sha = golden.model_sha256;
        let actual = prediction.pointer(pointer);
        if actual.and_then(Value::as_str) != Some(sha) {
            problems.push(format!(
                "{id}: model sha256 at {pointer:?} expected {sha}, actual {}",
                actual.map_or("none".to_owned(), Value::to_string)
            ));
        }
    }
    problems
}
