//! Errors of the feature-engineering stage.

/// A record the service refuses: the JSON path of the offending value, relative to the record
/// (`serde_path_to_error` format, e.g. `applicant.income.annual`, `tradelines[3].kind`; `.` is
/// the record itself), and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InvalidRecord {
    path: String,
    message: String,
}

impl InvalidRecord {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        InvalidRecord {
            path: path.into(),
            message: message.into(),
        }
    }

    /// JSON path of the offending value, relative to the record.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong with the value.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A `feature_set.json` this service cannot serve: the model was trained on features that this
/// build does not compute (retrain, or deploy the service version that matches the model).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureSetError {
    /// Not valid JSON, or not the expected shape.
    #[error("feature_set.json is malformed at {path}: {message}")]
    Malformed {
        /// JSON path of the offending value.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An unknown `format_version`.
    #[error("feature_set.json has format_version {found}; this service reads version {expected}")]
    FormatVersion {
        /// The version this service reads.
        expected: u32,
        /// The version in the file.
        found: u32,
    },
    /// The model expects a different feature engineering.
    #[error(
        "feature_set.json is for feature engineering `{found}`, this service implements \
         `{expected}`; deploy the service version that matches the model"
    )]
    FeatureEngineering {
        /// What this service implements.
        expected: String,
        /// What the file names.
        found: String,
    },
    /// A different number of features.
    #[error("feature_set.json lists {found} features, this service computes {expected}")]
    Count {
        /// How many features this service computes.
        expected: usize,
        /// How many the file lists.
        found: usize,
    },
    /// A feature differs in name, kind or position.
    #[error(
        "feature #{index} of feature_set.json is `{found}`, this service computes `{expected}` \
         there (features must match in name, kind and order)"
    )]
    Mismatch {
        /// Position in model column order.
        index: usize,
        /// `name (kind)` this service computes at that position.
        expected: String,
        /// `name (kind)` in the file.
        found: String,
    },
    /// A text feature's pattern differs from this service's.
    #[error(
        "feature `{name}`: the pattern in feature_set.json differs from this service's \
         (expected `{expected}`)"
    )]
    Pattern {
        /// The feature.
        name: String,
        /// The pattern this service uses.
        expected: String,
    },
}

impl From<serde_path_to_error::Error<serde_json::Error>> for FeatureSetError {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        FeatureSetError::Malformed {
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        }
    }
}
