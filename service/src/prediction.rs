//! `PredictionStage`: features in, a probability and a class out, plus which model said so.

use crate::features::{FeatureSet, Features};
use catboost_eval::{self as catboost, ClassLabel, EvalError, FeatureValue, Model};

/// The model loaded for serving, with the identity every response carries.
pub struct PredictionStage {
    model: Model,
    version: String,
    sha256: String,
}

/// What the model says about one record.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// Probability of the positive class (the second column of Python's `predict_proba`).
    pub probability: f64,
    /// The class label, as CatBoost's Python `predict` returns it.
    pub class: ClassLabel,
    /// The raw score (`RawFormulaVal`), for debugging parity.
    pub raw: f64,
}

/// Why a record could not be scored. Never the caller's fault: the features come from
/// `FeatureEngineering`, which only emits what the model accepts.
#[derive(Debug, thiserror::Error)]
pub enum PredictionError {
    /// The evaluator refused the row.
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// The model answered like a regressor.
    #[error("the model returned a regression result for a classification request")]
    NotAClassifier,
}

/// Why the model and the feature set cannot serve together.
#[derive(Debug, thiserror::Error)]
pub enum ModelMismatch {
    /// The model is not a binary classifier.
    #[error(
        "the model must be a binary classifier (one raw dimension, two classes); it has {dimension} dimension(s) and {classes} class(es)"
    )]
    NotBinary {
        /// Raw dimensions of the model.
        dimension: usize,
        /// Number of class labels.
        classes: usize,
    },
    /// The model expects a different number of input columns.
    #[error("the model has {model} input columns, feature_set.json lists {feature_set}")]
    ColumnCount {
        /// Columns the model reads.
        model: usize,
        /// Features in feature_set.json.
        feature_set: usize,
    },
    /// A column's kind differs.
    #[error(
        "column {index} (`{name}`) is {feature_set} in feature_set.json but {model} in the model"
    )]
    ColumnKind {
        /// Column index.
        index: usize,
        /// Feature name.
        name: String,
        /// Kind in the feature set.
        feature_set: String,
        /// Kind in the model.
        model: String,
    },
}

impl PredictionStage {
    /// Wraps a loaded model; checks it is a binary classifier whose columns are the feature set's.
    /// The model's identity is the sha256 of the `model.json` it comes from.
    pub fn new(
        model: Model,
        feature_set: &FeatureSet,
        version: String,
    ) -> Result<Self, ModelMismatch> {
        let classes = model.classes().map_or(0, <[_]>::len);
        if model.dimension() != 1 || classes != 2 {
            return Err(ModelMismatch::NotBinary {
                dimension: model.dimension(),
                classes,
            });
        }
        let kinds = model.feature_kinds();
        let specs = feature_set.features();
        if kinds.len() != specs.len() {
            return Err(ModelMismatch::ColumnCount {
                model: kinds.len(),
                feature_set: specs.len(),
            });
        }
        for (index, (kind, spec)) in kinds.iter().zip(specs).enumerate() {
            if *kind != spec.kind {
                return Err(ModelMismatch::ColumnKind {
                    index,
                    name: spec.name.clone(),
                    feature_set: spec.kind.to_string(),
                    model: kind.to_string(),
                });
            }
        }
        Ok(PredictionStage {
            sha256: hex::encode(model.source_sha256()),
            model,
            version,
        })
    }

    /// The model version from `metadata.json`.
    pub fn model_version(&self) -> &str {
        &self.version
    }

    /// sha256 of the `model.json` being served.
    pub fn model_sha256(&self) -> &str {
        &self.sha256
    }

    /// Scores one record's features.
    pub fn predict(&self, features: &Features) -> Result<Scored, PredictionError> {
        let mut scored = self.predict_batch(&features.as_values(), 1)?;
        scored.pop().ok_or(PredictionError::NotAClassifier)
    }

    /// Scores `count` records at once, given their features row after row.
    pub fn predict_batch(
        &self,
        rows: &[FeatureValue<'_>],
        count: usize,
    ) -> Result<Vec<Scored>, PredictionError> {
        let mut raw = vec![0.0; count];
        self.model.predict_raw_batch(rows, &mut raw)?;
        raw.iter()
            .map(
                |r| match self.model.interpret_raw(std::slice::from_ref(r))? {
                    catboost::Prediction::Classification {
                        raw,
                        probabilities,
                        class,
                    } => Ok(Scored {
                        // `new` checked: one dimension, two classes.
                        probability: probabilities.get(1).copied().unwrap_or(f64::NAN),
                        class,
                        raw: raw.first().copied().unwrap_or(f64::NAN),
                    }),
                    catboost::Prediction::Regression { .. } => Err(PredictionError::NotAClassifier),
                },
            )
            .collect()
    }
}
