//! A pure-Rust evaluator for CatBoost models exported as JSON
//! (`model.save_model(path, format="json")`), with the same results as CatBoost's own
//! evaluator (the parity corpus under `golden/corpus/` holds the evidence).
//!
//! The public surface is deliberately small: load a [`Model`] once with [`Model::from_json`]
//! (everything the evaluator cannot reproduce exactly is refused there, with a [`LoadError`]
//! naming the JSON path), or from its compiled form ([`Model::to_compiled`], written once by
//! `catboost-compile`; [`Model::load_compiled`] reads it without parsing, refusing a bad file
//! with a [`CompiledError`]), ask it which kind of value each input column takes
//! ([`Model::feature_kinds`]), then call [`Model::predict`] per row or
//! [`Model::predict_batch`] / [`Model::predict_raw_batch`] for throughput.
//!
//! Supported: float features with every NaN treatment, one-hot categorical features, CTRs of
//! every type CatBoost writes (Borders, Buckets, BinarizedTargetMeanValue,
//! FloatTargetMeanValue, Counter, FeatureFreq) including feature combinations, symmetric and
//! non-symmetric (Depthwise, Lossguide) trees, binary and multiclass classification
//! (softmax and one-vs-all), single and multi-target regression, `scale_and_bias`.
//! Refused: text and embedding features, multi-label classification and uncertainty losses,
//! unknown split / CTR / element types, inconsistent documents, and the CTR models whose JSON
//! export CatBoost 1.2.10 itself cannot evaluate back to the trained model (CTRs in
//! multi-target regression; mean-value CTRs with several target borders, which multiclass
//! models get by default for `BinarizedTargetMeanValue`).
//!
//! Speed: everything is precomputed when the JSON is compiled (borders as `f32`, each CTR's
//! quantized value per slot of its table, flat tree arrays; see `model.rs`). Rows are
//! evaluated in blocks: each float and CTR value is quantized once per row into a byte column,
//! then trees read whole columns of it (see `eval.rs`).

mod compile;
mod ctr;
mod error;
mod eval;
mod format;
mod hash;
mod json;
mod model;
pub mod rows;

pub use error::{EvalError, LoadError};
pub use format::{CompiledError, FORMAT_VERSION};

use model::{Output, Parts};
use sha2::{Digest, Sha256};
use std::path::Path;

/// One input value, in the model's flat feature order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureValue<'a> {
    /// A float feature; `NaN` means missing.
    Float(f64),
    /// A categorical feature, as the category's text (CatBoost hashes the UTF-8 bytes).
    Categorical(&'a str),
}

/// What a flat feature column takes. `feature_set.json` names the same kinds (`"float"`,
/// `"categorical"`), so the feature engineering uses this type too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// A number ([`FeatureValue::Float`]).
    Float,
    /// A category ([`FeatureValue::Categorical`]).
    Categorical,
}

impl std::fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Float => "float",
            Self::Categorical => "categorical",
        })
    }
}

/// A class label as CatBoost's `predict` returns it: the training labels' own type
/// (`model_info.class_params`), or the class index when the model has no names.
#[derive(Debug, Clone, PartialEq)]
pub enum ClassLabel {
    /// Integer labels (and class indices).
    Integer(i64),
    /// Float labels.
    Float(f64),
    /// String labels.
    String(String),
    /// Boolean labels.
    Boolean(bool),
}

impl serde::Serialize for ClassLabel {
    /// The label as its natural JSON value (number, string or boolean), as Python's
    /// `json.dumps` writes the label CatBoost's `predict` returns.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Integer(v) => s.serialize_i64(*v),
            Self::Float(v) => s.serialize_f64(*v),
            Self::String(v) => s.serialize_str(v),
            Self::Boolean(v) => s.serialize_bool(*v),
        }
    }
}

/// The result for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// A classifier's output.
    Classification {
        /// `RawFormulaVal`: one value per model dimension.
        raw: Vec<f64>,
        /// As Python's `predict_proba`: `[1 - p, p]` for binary, softmax for multiclass,
        /// per-class sigmoid for one-vs-all.
        probabilities: Vec<f64>,
        /// As Python's `predict`.
        class: ClassLabel,
    },
    /// A regressor's output.
    Regression {
        /// `RawFormulaVal`: one value per model dimension.
        raw: Vec<f64>,
        /// As Python's `predict`: the raw values, or their exponent for Poisson and Tweedie.
        values: Vec<f64>,
    },
}

impl Prediction {
    /// The raw values (`RawFormulaVal`), one per model dimension.
    pub fn raw(&self) -> &[f64] {
        match self {
            Self::Classification { raw, .. } | Self::Regression { raw, .. } => raw,
        }
    }
}

/// A loaded, validated CatBoost model, ready to evaluate. Immutable and `Sync`: share one
/// instance between threads.
#[derive(Debug, Clone)]
pub struct Model {
    parts: Parts,
    derived: eval::Derived,
}

impl Model {
    /// Loads a model from CatBoost's JSON export. Never panics on malformed input: anything
    /// the evaluator cannot evaluate exactly is a [`LoadError`] naming the JSON path.
    pub fn from_json(bytes: &[u8]) -> Result<Model, LoadError> {
        let sha256 = Sha256::digest(bytes).into();
        Ok(Model::from_parts(compile::compile(
            json::parse(bytes)?,
            sha256,
        )?))
    }

    /// The compiled form of this model: a file that [`Model::load_compiled`] reads back
    /// without parsing, on any machine (little-endian, no `usize`). Compiling the same JSON
    /// export always gives the same bytes.
    pub fn to_compiled(&self) -> Vec<u8> {
        format::write(&self.parts)
    }

    /// Reads a compiled model file (see [`Model::to_compiled`]), streaming it into the model:
    /// loading takes about the model's own size in memory. A truncated, corrupt or foreign
    /// file is a [`CompiledError`] saying which.
    pub fn load_compiled(path: &Path) -> Result<Model, CompiledError> {
        let file = std::fs::File::open(path).map_err(CompiledError::Io)?;
        let len = file.metadata().map_err(CompiledError::Io)?.len();
        Ok(Model::from_parts(format::read(file, len)?))
    }

    /// [`Model::load_compiled`] from bytes in memory.
    pub fn from_compiled(bytes: &[u8]) -> Result<Model, CompiledError> {
        Ok(Model::from_parts(format::read(bytes, bytes.len() as u64)?))
    }

    fn from_parts(parts: Parts) -> Model {
        let derived = eval::Derived::new(&parts);
        Model { parts, derived }
    }

    /// sha256 of the JSON export this model comes from (also for a compiled model: the
    /// compiled file records it).
    pub fn source_sha256(&self) -> [u8; 32] {
        self.parts.source_sha256
    }

    /// The kind of each flat feature column, in input order; rows passed to the `predict*`
    /// methods have exactly this many values, of these kinds.
    pub fn feature_kinds(&self) -> &[FeatureKind] {
        &self.parts.kinds
    }

    /// Number of raw values per row (1, or the number of classes / targets).
    pub fn dimension(&self) -> usize {
        self.parts.dim as usize
    }

    /// Class labels in class-index order for classifiers, `None` for regressors.
    pub fn classes(&self) -> Option<&[ClassLabel]> {
        match &self.parts.output {
            Output::Binary { labels }
            | Output::MultiClass { labels }
            | Output::OneVsAll { labels } => Some(labels),
            Output::Regression { .. } => None,
        }
    }

    /// Evaluates one row.
    pub fn predict(&self, row: &[FeatureValue<'_>]) -> Result<Prediction, EvalError> {
        let expected = self.parts.kinds.len();
        if row.len() != expected {
            return Err(EvalError::WrongLength {
                row: 0,
                expected,
                actual: row.len(),
            });
        }
        let mut raw = vec![0.0; self.dimension()];
        self.raw_batch(row, &mut raw)?;
        Ok(self.interpret(&raw))
    }

    /// Evaluates many rows given row-major (`feature_kinds().len()` values per row).
    ///
    /// A model without features cannot tell how many (empty) rows a flat batch holds: it
    /// answers [`EvalError::NoFeatures`]; call [`Model::predict`] per row, or
    /// [`Model::predict_raw_batch`], whose output buffer gives the row count.
    pub fn predict_batch(&self, rows: &[FeatureValue<'_>]) -> Result<Vec<Prediction>, EvalError> {
        let nf = self.parts.kinds.len();
        if nf == 0 {
            return Err(EvalError::NoFeatures);
        }
        let dim = self.dimension();
        let mut raw = vec![0.0; rows.len() / nf * dim];
        self.raw_batch(rows, &mut raw)?;
        Ok(raw.chunks_exact(dim).map(|r| self.interpret(r)).collect())
    }

    /// The throughput path: raw values only, no allocation per row. `out` receives
    /// `dimension()` values per row and gives the row count; `rows` holds that many rows of
    /// `feature_kinds().len()` values, row-major.
    pub fn predict_raw_batch(
        &self,
        rows: &[FeatureValue<'_>],
        out: &mut [f64],
    ) -> Result<(), EvalError> {
        self.raw_batch(rows, out)
    }

    /// Turns raw values of one row (as [`Model::predict_raw_batch`] writes them) into a
    /// [`Prediction`]. `raw` must hold `dimension()` values.
    pub fn interpret_raw(&self, raw: &[f64]) -> Result<Prediction, EvalError> {
        if raw.len() != self.dimension() {
            return Err(EvalError::WrongOutputLength {
                expected: self.dimension(),
                actual: raw.len(),
            });
        }
        Ok(self.interpret(raw))
    }
}
