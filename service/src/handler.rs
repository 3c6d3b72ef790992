//! The Lambda contract: a batch of loan applications in, one prediction per record out.
//!
//! Every input the function can receive ends in either a [`Response`] or a [`FunctionError`]
//! with a stable `errorType` and a message that starts with the JSON path of the problem. That
//! includes bodies that are not JSON at all: `lambda_runtime` deserializes the payload before the
//! handler runs and would otherwise answer with its own, unstable error type, so [`Incoming`]
//! captures the deserialization result instead of failing.

use crate::features::{
    FeatureEngineering, FeatureSet, FeatureSetError, InvalidRecord, LoanApplication,
};
use crate::prediction::{ModelMismatch, PredictionStage};
use catboost_eval::ClassLabel;
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

/// The event as `lambda_runtime` hands it over: the parsed request, or why the body is not one.
///
/// Its `Deserialize` never fails, so the runtime always calls the handler, which turns a bad
/// body into an `InvalidPayload` error naming the JSON path. (Like `lambda_runtime` itself, it
/// reads one JSON value and does not look past it.)
#[derive(Debug)]
pub struct Incoming(Result<Request, FunctionError>);

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let request = serde_path_to_error::deserialize::<_, Request>(deserializer).map_err(|e| {
            FunctionError::InvalidPayload {
                path: display_path(e.path()),
                message: e.into_inner().to_string(),
            }
        });
        Ok(Incoming(request))
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

/// Why the function cannot start. Reported once, at init, so a bad image fails before it
/// serves anything.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A model file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `metadata.json` is not what the training side writes.
    #[error("{path} is malformed: {source}")]
    Metadata {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// `model.json` is not the file `metadata.json` describes.
    #[error(
        "model.json has sha256 {actual} but metadata.json says {expected}: the model directory mixes two exports; re-export with models/train.py"
    )]
    ModelChanged {
        /// sha256 recorded at export.
        expected: String,
        /// sha256 of the file present.
        actual: String,
    },
    /// The CatBoost model cannot be evaluated.
    #[error("model.json: {0}")]
    Model(#[from] catboost_eval::LoadError),
    /// The feature set is not the one this code computes.
    #[error(transparent)]
    FeatureSet(#[from] FeatureSetError),
    /// Model and feature set disagree.
    #[error("model.json and feature_set.json disagree: {0}")]
    Mismatch(#[from] ModelMismatch),
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
    /// Loads `model.json`, `feature_set.json` and `metadata.json` from `model_dir` and checks that
    /// they belong together and to this code.
    pub fn load(model_dir: &Path) -> Result<Self, InitError> {
        let read = |name: &str| {
            let path = model_dir.join(name);
            std::fs::read(&path).map_err(|source| InitError::Read { path, source })
        };
        let model_json = read("model.json")?;
        let metadata: Metadata =
            serde_json::from_slice(&read("metadata.json")?).map_err(|source| {
                InitError::Metadata {
                    path: model_dir.join("metadata.json"),
                    source,
                }
            })?;
        let feature_set = FeatureSet::from_json(&read("feature_set.json")?)?;
        let features = FeatureEngineering::new(&feature_set)?;
        let model = catboost_eval::Model::from_json(&model_json)?;
        let prediction =
            PredictionStage::new(model, &feature_set, metadata.model_version, &model_json)?;
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

    /// Handles a raw request body exactly as the Lambda runtime would deliver it.
    pub fn handle_json(&self, body: &[u8]) -> Result<Response, FunctionError> {
        // The same deserializer stack `lambda_runtime` uses.
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize::<_, Incoming>(&mut deserializer) {
            Ok(incoming) => self.handle(incoming),
            // `Incoming` never fails to deserialize; keep the arm total anyway.
            Err(e) => Err(FunctionError::InvalidPayload {
                path: display_path(e.path()),
                message: e.into_inner().to_string(),
            }),
        }
    }

    /// Handles one invocation.
    pub fn handle(&self, incoming: Incoming) -> Result<Response, FunctionError> {
        let request = incoming.0.map_err(payload_error)?;
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
        let mut predictions = Vec::with_capacity(count);
        for (index, record) in request.records.into_iter().enumerate() {
            let features = self
                .features
                .transform(&record)
                .map_err(|e| FunctionError::invalid_record(index, &e))?;
            let scored = self.prediction.predict(&features).map_err(|e| {
                FunctionError::PredictionFailed {
                    index,
                    message: e.to_string(),
                }
            })?;
            predictions.push(PredictionRecord {
                id: record.id,
                probability: scored.probability,
                class: label_json(&scored.class),
                model_version: self.prediction.model_version().to_owned(),
                model_sha256: self.prediction.model_sha256().to_owned(),
            });
        }
        Ok(Response { predictions })
    }
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
