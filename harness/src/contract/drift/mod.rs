//! Which feature drifted, when the function's predictions differ from the training-time ones.
//!
//! Training/serving skew shows as golden cases that differ; what a team needs is the feature
//! its serving code computes differently. The goldens can carry each case's training-time
//! features, and for a CatBoost model (its JSON export named by the spec's `[drift]`) the
//! evaluator reproduces the training-time prediction from them. An oblivious tree's prediction
//! is constant between two of a feature's borders, so for each failing case the search asks,
//! feature by feature: with only this feature changed, which of its values (border intervals
//! for a float, the goldens' categories and an unseen one for a categorical) make the model
//! predict what the function served, within the contract's tolerance? The features that alone
//! explain a case are named with their training value and the served interval; when none does,
//! pairs of the features that came closest are tried within a budget; when nothing does, the
//! search says what the difference looks like (float32 rounding, a constant offset, a model
//! that is not the goldens').
//!
//! The search is bounded: every single feature of every failing case (at most the number of
//! the model's borders plus [`MAX_CATEGORIES`] evaluations per case and feature), then pairs
//! among the [`PAIR_CANDIDATES`] closest features, at most [`PAIR_EVALUATIONS`] evaluations per
//! case and [`PAIR_TIME`] for all cases together.

mod echo;
mod model;
mod search;

pub(crate) use model::DriftModel;
pub(crate) use search::{Explanation, Failing, Finding, explain, summarize};

use crate::contract::{Template, Tolerance};
use std::path::PathBuf;
use std::time::Duration;

/// Most distinct categories of one feature tried (the goldens' own, most frequent first).
pub(crate) const MAX_CATEGORIES: usize = 256;
/// How many of the features that moved a case's prediction closest to the served one are
/// tried in pairs.
pub(crate) const PAIR_CANDIDATES: usize = 6;
/// Most model evaluations of the pair search for one case.
pub(crate) const PAIR_EVALUATIONS: usize = 50_000;
/// Longest the pair search runs, for all failing cases together.
pub(crate) const PAIR_TIME: Duration = Duration::from_secs(3);

/// Where the model's outputs sit in a golden prediction (the spec's `[drift.output]`): each a
/// JSON pointer, written with the model's value when the search asks what the model would
/// have answered. A number there gets the one value (the positive class's probability for a
/// binary classifier); an array gets all of them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Outputs {
    /// `RawFormulaVal`.
    pub(crate) raw: Option<String>,
    /// A classifier's probabilities.
    pub(crate) probability: Option<String>,
    /// A classifier's class label.
    pub(crate) class: Option<String>,
    /// A regressor's prediction (`predict`: raw, or its exponent for Poisson and Tweedie).
    pub(crate) value: Option<String>,
}

/// How golden-replay mismatches are explained (the spec's `[drift]`): by the goldens' CatBoost
/// model, by the function's own feature echo, or both.
#[derive(Clone, Debug)]
pub(crate) struct DriftSpec {
    /// CatBoost's JSON export of the goldens' model, on the host.
    pub(crate) model: Option<PathBuf>,
    /// Where the model's outputs sit in a golden prediction.
    pub(crate) output: Outputs,
    /// The function's echo of the features it computed.
    pub(crate) echo: Option<FeatureEcho>,
}

/// A debug contract of the function (the spec's `[drift.echo]`): a request that makes it
/// answer the features it computed for an event, for functions whose model the gate cannot
/// evaluate. The echo is compared feature by feature with the goldens' training-time features.
#[derive(Clone, Debug)]
pub(crate) struct FeatureEcho {
    /// The request carrying one event.
    pub(crate) request: Template,
    /// Where the features sit in the answer: an object by name, or an array in the goldens'
    /// order.
    pub(crate) features: String,
    /// How close each number must be.
    pub(crate) tolerance: Tolerance,
}

/// Why the drift search cannot run.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DriftError {
    /// The model file cannot be read.
    #[error("cannot read the drift model {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a CatBoost JSON export the evaluator takes.
    #[error("the drift model {path} is not a CatBoost JSON export the evaluator takes: {message}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}
