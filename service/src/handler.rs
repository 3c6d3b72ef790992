//! The Lambda contract: a batch of loan applications in, one prediction per record out.
//!
//! Every input the function can receive ends in either a [`Response`] or a [`FunctionError`]
//! with a stable `errorType` and a message that starts with the JSON path of the problem. That
//! includes bodies that are not JSON at all: the handler takes the raw body
//! ([`Function::handle_json`]; `bootstrap` hands it over before `lambda_runtime` parses
//! anything), so a bad body is never the runtime's own, unstable error.
//!
//! A body is parsed once without tracking JSON paths, which is most of the cost of parsing;
//! only a body that fails is parsed again with `serde_path_to_error` to name the path, giving
//! the same message a tracking parse would have given in the first place.

use crate::features::{
    FeatureEngineering, FeatureSet, FeatureSetError, Features, InvalidRecord, LoanApplication,
};
use crate::prediction::{ModelMismatch, PredictionError, PredictionStage};
use catboost_eval::{ClassLabel, CompiledError, EvalError, FeatureValue, Model};
use serde::{Deserialize, Deserializer, Serialize};
use std::path::{Path, PathBuf};

/// Most records one request may carry. With records of a few kilobytes this keeps requests
/// well under Lambda's 6 MB payload limit, and responses far under it.
pub const MAX_RECORDS: usize = 1000;

/// The request body: `{"records": [ <loan application>, ... ]}`.
#[derive(Debug)]
struct Request {
    records: Vec<LoanApplication>,
}

/// The fields of a request, as derived: the derive alone would also accept them as an array
/// (`[[...]]`), so [`Request`] only hands it a JSON object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestFields {
    records: Vec<LoanApplication>,
}

impl<'de> Deserialize<'de> for Request {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly;
        impl<'de> serde::de::Visitor<'de> for ObjectOnly {
            type Value = Request;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object with a `records` list")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Request, A::Error> {
                let fields =
                    RequestFields::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Request {
                    records: fields.records,
                })
            }
        }
        deserializer.deserialize_map(ObjectOnly)
    }
}

/// A path as the error message shows it. `serde_path_to_error` writes `?` when the parser
/// failed before it knew where it was (e.g. an unquoted key at the top); that is the body's
/// root, `.`.
fn display_path(path: &serde_path_to_error::Path) -> String {
    match path.to_string() {
        p if p == "?" => ".".to_owned(),
        p => p,
    }
}

/// The response body: `{"predictions": [ ... ]}`, one entry per record, in request order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Response {
    /// One prediction per record.
    pub predictions: Vec<PredictionRecord>,
}

/// The prediction for one record.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PredictionRecord {
    /// The record's `id`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Probability of the positive class (`prime`: grade A or B).
    pub probability: f64,
    /// The predicted class, as the training-time model's `predict` returns it.
    pub class: serde_json::Value,
    /// `model_version` from the model's `metadata.json`.
    pub model_version: String,
    /// sha256 of the `model.json` that produced this prediction.
    pub model_sha256: String,
}

/// A failed invocation. `errorType` ([`FunctionError::error_type`]) is part of the contract;
/// `errorMessage` starts with the JSON path of the problem.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FunctionError {
    /// The body is not JSON, or not the shape of a request (wrong type, unknown or missing
    /// field, no records).
    #[error("{path}: {message}")]
    InvalidPayload {
        /// JSON path (`records[2].loan.amount`; `.` for the whole body).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// A record is well-formed but one of its values breaks the contract (e.g. a negative
    /// amount).
    #[error("{path}: {message}")]
    InvalidRecord {
        /// JSON path of the value, from the body's root.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// More records than [`MAX_RECORDS`].
    #[error(
        "records: {count} records in one request; at most {MAX_RECORDS} are accepted, split the batch"
    )]
    BatchTooLarge {
        /// Records received.
        count: usize,
    },
    /// The model failed on valid features: a bug, never the caller's fault.
    #[error("records[{index}]: prediction failed: {message}")]
    PredictionFailed {
        /// Index of the record.
        index: usize,
        /// The evaluator's error.
        message: String,
    },
}

impl FunctionError {
    /// The stable `errorType` Lambda reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            FunctionError::InvalidPayload { .. } => "InvalidPayload",
            FunctionError::InvalidRecord { .. } => "InvalidRecord",
            FunctionError::BatchTooLarge { .. } => "BatchTooLarge",
            FunctionError::PredictionFailed { .. } => "PredictionFailed",
        }
    }

    fn invalid_record(index: usize, error: &InvalidRecord) -> Self {
        let path = match error.path() {
            "." | "" => format!("records[{index}]"),
            p => format!("records[{index}].{p}"),
        };
        FunctionError::InvalidRecord {
            path,
            message: error.message().to_owned(),
        }
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The compiled model file `Function::load_compiled` reads from the model directory (written
/// by `catboost-compile` from `model.json`).
pub const COMPILED_MODEL_FILE: &str = "model.compiled";

/// Why the function cannot start. Reported once, at init, so a bad image fails before it
/// serves anything. Each message is complete on its own (the causes are part of it).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A model file cannot be read.
    #[error("cannot read {}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// `metadata.json` is not what the training side writes.
    #[error("{} is malformed: {error}", path.display())]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The parse error.
        error: serde_json::Error,
    },
    /// The model is not the `model.json` that `metadata.json` describes.
    #[error(
        "the model comes from a model.json with sha256 {actual} but metadata.json says {expected}: the model directory mixes two exports; re-export with models/train.py (and recompile)"
    )]
    ModelChanged {
        /// sha256 recorded at export.
        expected: String,
        /// sha256 of the model.json the model comes from.
        actual: String,
    },
    /// The CatBoost JSON export cannot be evaluated.
    #[error("model.json: {0}")]
    Model(catboost_eval::LoadError),
    /// The compiled model is missing, truncated, corrupt or foreign.
    #[error("{}: {error}", path.display())]
    Compiled {
        /// The file.
        path: PathBuf,
        /// Why it was refused.
        error: CompiledError,
    },
    /// The feature set is not the one this code computes.
    #[error("{0}")]
    FeatureSet(FeatureSetError),
    /// Model and feature set disagree.
    #[error("the model and feature_set.json disagree: {0}")]
    Mismatch(ModelMismatch),
}

/// The part of `metadata.json` the service reads.
#[derive(Deserialize)]
struct Metadata {
    model_version: String,
    model_sha256: String,
}

/// The function: feature engineering and prediction, loaded once at init.
pub struct Function {
    features: FeatureEngineering,
    prediction: PredictionStage,
}

impl Function {
    /// Loads the function from `model.json`, `feature_set.json` and `metadata.json` in
    /// `model_dir`, compiling the JSON export in memory: the way tests and tools load the
    /// training side's artifacts (`models/artifacts`). `bootstrap` loads the compiled model
    /// instead ([`Function::load_compiled`]).
    pub fn load(model_dir: &Path) -> Result<Self, InitError> {
        let json = read(&model_dir.join("model.json"))?;
        let model = Model::from_json(&json).map_err(InitError::Model)?;
        Self::assemble(model, model_dir)
    }

    /// Loads the function from [`COMPILED_MODEL_FILE`], `feature_set.json` and
    /// `metadata.json` in `model_dir`, as `bootstrap` does: the compiled model streams into
    /// memory without parsing, and records the sha256 of the `model.json` it was compiled from,
    /// which must be the one `metadata.json` names.
    pub fn load_compiled(model_dir: &Path) -> Result<Self, InitError> {
        let path = model_dir.join(COMPILED_MODEL_FILE);
        let model =
            Model::load_compiled(&path).map_err(|error| InitError::Compiled { path, error })?;
        Self::assemble(model, model_dir)
    }

    /// Checks that `model`, `feature_set.json` and `metadata.json` belong together and to this
    /// code.
    fn assemble(model: Model, model_dir: &Path) -> Result<Self, InitError> {
        let metadata_path = model_dir.join("metadata.json");
        let metadata: Metadata =
            serde_json::from_slice(&read(&metadata_path)?).map_err(|error| {
                InitError::Metadata {
                    path: metadata_path,
                    error,
                }
            })?;
        let feature_set = FeatureSet::from_json(&read(&model_dir.join("feature_set.json"))?)
            .map_err(InitError::FeatureSet)?;
        let features = FeatureEngineering::new(&feature_set).map_err(InitError::FeatureSet)?;
        let prediction = PredictionStage::new(model, &feature_set, metadata.model_version)
            .map_err(InitError::Mismatch)?;
        if prediction.model_sha256() != metadata.model_sha256 {
            return Err(InitError::ModelChanged {
                expected: metadata.model_sha256,
                actual: prediction.model_sha256().to_owned(),
            });
        }
        Ok(Function {
            features,
            prediction,
        })
    }

    /// The prediction stage (model identity included).
    pub fn prediction(&self) -> &PredictionStage {
        &self.prediction
    }

    /// Handles a raw request body exactly as Lambda delivers it: one JSON value is read, bytes
    /// after it are ignored (as `lambda_runtime` does).
    pub fn handle_json(&self, body: &[u8]) -> Result<Response, FunctionError> {
        let request = parse(body).map_err(payload_error)?;
        self.handle(request)
    }

    fn handle(&self, request: Request) -> Result<Response, FunctionError> {
        let count = request.records.len();
        if count == 0 {
            return Err(FunctionError::InvalidPayload {
                path: "records".to_owned(),
                message: "at least one record is required".to_owned(),
            });
        }
        if count > MAX_RECORDS {
            return Err(FunctionError::BatchTooLarge { count });
        }
        let features = request
            .records
            .iter()
            .enumerate()
            .map(|(index, record)| {
                self.features
                    .transform(record)
                    .map_err(|e| FunctionError::invalid_record(index, &e))
            })
            .collect::<Result<Vec<Features>, _>>()?;
        // Every record in one batch: the evaluator quantizes and sums them together.
        let rows: Vec<FeatureValue<'_>> = features
            .iter()
            .flat_map(|f| f.as_slice().iter().map(|v| v.as_value()))
            .collect();
        let scored = self.prediction.predict_batch(&rows, count).map_err(|e| {
            FunctionError::PredictionFailed {
                index: failed_record(&e),
                message: e.to_string(),
            }
        })?;
        let version = self.prediction.model_version();
        let sha256 = self.prediction.model_sha256();
        let predictions = request
            .records
            .into_iter()
            .zip(scored)
            .map(|(record, scored)| PredictionRecord {
                id: record.id,
                probability: scored.probability,
                class: label_json(&scored.class),
                model_version: version.to_owned(),
                model_sha256: sha256.to_owned(),
            })
            .collect();
        Ok(Response { predictions })
    }
}

/// The record a batch prediction failed on, as far as the evaluator says (else the first).
fn failed_record(error: &PredictionError) -> usize {
    match error {
        PredictionError::Eval(
            EvalError::WrongKind { row, .. } | EvalError::WrongLength { row, .. },
        ) => *row,
        _ => 0,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, InitError> {
    std::fs::read(path).map_err(|error| InitError::Read {
        path: path.to_owned(),
        error,
    })
}

/// Parses a request body: without path tracking first (the common, valid case), and again with
/// it only to describe a failure, which the same parser hits at the same place.
fn parse(body: &[u8]) -> Result<Request, FunctionError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    if let Ok(request) = Request::deserialize(&mut de) {
        return Ok(request);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, Request>(&mut de).map_err(|e| {
        FunctionError::InvalidPayload {
            path: display_path(e.path()),
            message: e.into_inner().to_string(),
        }
    })
}

/// The error for a body that is not a request. With the `fault-injection` feature it panics
/// instead, which is the bug the gate must catch (a handler that `unwrap`s its input); the
/// shipped build never enables it.
fn payload_error(error: FunctionError) -> FunctionError {
    if cfg!(feature = "fault-injection") {
        panic!("fault injection: refusing to handle a bad payload gracefully: {error}");
    }
    error
}

fn label_json(label: &ClassLabel) -> serde_json::Value {
    match label {
        ClassLabel::Integer(i) => serde_json::Value::from(*i),
        ClassLabel::Float(f) => serde_json::Value::from(*f),
        ClassLabel::String(s) => serde_json::Value::from(s.as_str()),
        ClassLabel::Boolean(b) => serde_json::Value::from(*b),
    }
}
