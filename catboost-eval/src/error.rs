//! Errors of loading and evaluating a model.

/// Why a model file was refused at load.
///
/// Every variant names *where* in the JSON document the problem is (a path such as
/// `features_info.ctrs[3].ctr_type`), so that a refused model can be fixed or reported without
/// guessing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not a JSON document of the expected shape.
    #[error("not a CatBoost JSON model: {path}: {message}")]
    Json {
        /// Path of the offending value in the document.
        path: String,
        /// What serde found there.
        message: String,
    },
    /// The model uses something this evaluator does not implement.
    #[error("{path}: unsupported {what}")]
    Unsupported {
        /// Path of the offending value in the document.
        path: String,
        /// What is not supported, e.g. `CTR type "Foo"`.
        what: String,
    },
    /// Parts of the model contradict each other (sizes, indices, missing references).
    #[error("{path}: {message}")]
    Inconsistent {
        /// Path of the offending value in the document.
        path: String,
        /// What is wrong.
        message: String,
    },
}

impl LoadError {
    pub(crate) fn unsupported(path: impl Into<String>, what: impl Into<String>) -> Self {
        Self::Unsupported {
            path: path.into(),
            what: what.into(),
        }
    }

    pub(crate) fn inconsistent(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Inconsistent {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Why a row could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The row does not have one value per flat feature of the model.
    #[error("row {row}: expected {expected} feature values, got {actual}")]
    WrongLength {
        /// Row index within the batch (0 for a single row).
        row: usize,
        /// Number of flat features of the model.
        expected: usize,
        /// Number of values given.
        actual: usize,
    },
    /// A value has the wrong kind for its column.
    #[error("row {row}, feature {index}: expected a {expected} value")]
    WrongKind {
        /// Row index within the batch (0 for a single row).
        row: usize,
        /// Flat feature index.
        index: usize,
        /// The kind the model expects there.
        expected: super::FeatureKind,
    },
    /// A flat batch of rows for a model without features: its row count is unknown.
    #[error(
        "the model has no features, so a flat batch does not say how many rows it holds: \
         evaluate row by row or give an output buffer (predict_raw_batch)"
    )]
    NoFeatures,
    /// The output buffer of a batch call has the wrong size.
    #[error("output buffer holds {actual} values, {expected} needed")]
    WrongOutputLength {
        /// Values needed (rows times model dimension).
        expected: usize,
        /// Values the buffer holds.
        actual: usize,
    },
}
