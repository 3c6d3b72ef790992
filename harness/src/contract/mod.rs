//! The function's contract: how an event becomes a request, where the prediction sits in the
//! answer and how it is compared with the training-time one, and which answers to bad input
//! are allowed. The spec declares it (the spec's validation builds these types); the checks and every
//! command judge answers only through it, so "where is the comparison rule" has one answer:
//! here.
//!
//! - [`compare`]: the field rules and the comparison of two predictions;
//! - [`answer`]: where a prediction sits in an answer, and a golden answer's verdict;
//! - [`verdict`]: the verdict on answers to malformed and generated payloads;
//! - [`drift`]: which feature drifted, when golden predictions differ.

mod answer;
mod compare;
pub(crate) mod drift;
mod verdict;

pub(crate) use answer::{Golden, Place, Shape, judge_golden};
pub(crate) use compare::{
    Diffs, FieldRule, Tolerance, compare, compare_measured, compared_exactly, comparison_at, short,
};
pub(crate) use verdict::{Expect, judge_generated, judge_malformed};

/// The placeholder a request template holds for one golden event.
pub(crate) const EVENT: &str = "$event";
/// The placeholder a batch template holds for the array of events.
pub(crate) const EVENTS: &str = "$events";

/// A request template: JSON text with one placeholder string.
#[derive(Clone, Debug)]
pub(crate) struct Template {
    prefix: String,
    suffix: String,
}

impl Template {
    /// The template `text`, which must hold `"placeholder"` exactly once and be JSON once it
    /// is filled in; otherwise what is wrong, for the spec's error.
    pub(crate) fn parse(text: &str, placeholder: &str) -> Result<Self, String> {
        let token = format!("\"{placeholder}\"");
        let mut parts = text.split(&token);
        let (Some(prefix), Some(suffix), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "must hold the placeholder {token} exactly once, e.g. '{{\"records\": [{token}]}}' or '{token}'"
            ));
        };
        let probe = format!("{prefix}null{suffix}");
        serde_json::from_str::<serde_json::Value>(&probe)
            .map_err(|e| format!("is not JSON once {token} is filled in: {e}"))?;
        Ok(Template {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
        })
    }

    /// The request with `value` (JSON text) in place of the placeholder.
    pub(crate) fn render(&self, value: &[u8]) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.prefix.len() + value.len() + self.suffix.len());
        body.extend_from_slice(self.prefix.as_bytes());
        body.extend_from_slice(value);
        body.extend_from_slice(self.suffix.as_bytes());
        body
    }
}

/// Several events in one request.
#[derive(Clone, Debug)]
pub(crate) struct BatchContract {
    /// The request template; its placeholder becomes a JSON array of events.
    pub(crate) request: Template,
    /// JSON pointer to the array of predictions in the answer.
    pub(crate) predictions: String,
    /// Most events one request may carry.
    pub(crate) max: usize,
}

impl BatchContract {
    /// The request carrying `events` (each its JSON text), in order, as one batch.
    pub(crate) fn request<'a>(&self, events: impl IntoIterator<Item = &'a str>) -> Vec<u8> {
        let mut array = b"[".to_vec();
        for (i, event) in events.into_iter().enumerate() {
            if i > 0 {
                array.push(b',');
            }
            array.extend_from_slice(event.as_bytes());
        }
        array.push(b']');
        self.request.render(&array)
    }
}

/// Where an event's id is and where the answer echoes it.
#[derive(Clone, Debug)]
pub(crate) struct IdEcho {
    /// JSON pointer into the event.
    pub(crate) event: String,
    /// JSON pointer into the prediction.
    pub(crate) prediction: String,
}

/// The function's request/response contract.
#[derive(Clone, Debug)]
pub(crate) struct Contract {
    /// One event as a request.
    pub(crate) request: Template,
    /// JSON pointer to the prediction in the answer to one event.
    pub(crate) prediction: String,
    /// Several events as one request; `None` when the function takes one event at a time.
    pub(crate) batch: Option<BatchContract>,
    /// Comparison rules, by place in the expected prediction; everything else is compared
    /// exactly.
    pub(crate) fields: Vec<FieldRule>,
    /// The id echo rule.
    pub(crate) id: Option<IdEcho>,
    /// JSON pointer into each prediction that must hold the goldens' model sha256.
    pub(crate) echo_model_sha256: Option<String>,
}

impl Contract {
    /// The request carrying one event (its JSON text).
    pub(crate) fn request(&self, event: &str) -> Vec<u8> {
        self.request.render(event.as_bytes())
    }
}

/// The `errorType`s that are part of the contract.
#[derive(Clone, Debug)]
pub(crate) struct ErrorContract {
    /// The function's own structured errors.
    pub(crate) function: Vec<String>,
    /// Lambda runtime errors the team accepts as answers (e.g. `Runtime.UnmarshalError`).
    pub(crate) runtime: Vec<String>,
}

impl ErrorContract {
    /// Whether `error_type` is an answer the contract allows.
    pub(crate) fn allows(&self, error_type: &str) -> bool {
        self.function
            .iter()
            .chain(&self.runtime)
            .any(|t| t == error_type)
    }
}
