//! The golden files: inputs, the training-time model's answers for them, and whose answers
//! they are.
//!
//! `golden/inputs.jsonl` holds the cases (`case_id`, `tags`, `event`), `golden/expected.jsonl`
//! the training-time features and prediction for each, `golden/manifest.json` the model they
//! came from (sha256) and the sha256 of the inputs they were computed for. Events are kept as
//! the exact JSON text of the input file, so the container receives byte for byte what the
//! training side read (some cases spell numbers and strings unusually on purpose).

use crate::digest::sha256_file;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Command that regenerates the goldens from the training-time model.
pub const REGEN_COMMAND: &str = "cargo run -p harness -- golden regen";

/// `golden/manifest.json`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub struct Manifest {
    /// Number of cases.
    pub cases: usize,
    /// CatBoost version that computed the predictions.
    pub catboost_version: String,
    /// sha256 of the `model.json` the predictions belong to.
    pub model_sha256: String,
    /// `model_version` of that model.
    pub model_version: String,
    /// sha256 of `inputs.jsonl` when the predictions were computed.
    pub inputs_sha256: String,
    /// sha256 of `feature_set.json` of that model.
    pub feature_set_sha256: String,
}

/// The training-time prediction for one case.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq)]
pub struct ExpectedPrediction {
    /// `RawFormulaVal`.
    pub raw: f64,
    /// Probability of the positive class.
    pub probability: f64,
    /// The class label.
    pub class: serde_json::Value,
}

/// One golden case.
#[derive(Clone, Debug)]
pub struct GoldenCase {
    /// Stable identifier.
    pub case_id: String,
    /// Tags (e.g. `edge`, `unicode`).
    pub tags: Vec<String>,
    /// The raw event, exactly as written in `inputs.jsonl`.
    pub event: Box<RawValue>,
    /// The training-time prediction.
    pub expected: ExpectedPrediction,
}

impl GoldenCase {
    /// A request body holding this case's event as its only record.
    pub fn request_body(&self) -> Vec<u8> {
        batch_body(std::iter::once(self))
    }
}

/// A request body holding the events of `cases`, in order.
pub(crate) fn batch_body<'a>(cases: impl IntoIterator<Item = &'a GoldenCase>) -> Vec<u8> {
    let mut body = b"{\"records\":[".to_vec();
    for (i, case) in cases.into_iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(case.event.get().as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// The golden set.
#[derive(Clone, Debug)]
pub struct GoldenSet {
    /// Where it was read from.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The cases, in input order.
    pub cases: Vec<GoldenCase>,
}

/// Why the golden files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    /// A file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line or file is not in the expected format.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 for the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// inputs.jsonl and expected.jsonl do not describe the same cases, or the manifest was
    /// computed for other inputs.
    #[error(
        "{0}\nThe golden files are out of step: regenerate them with `{REGEN_COMMAND}`, review, then `--accept`."
    )]
    Stale(String),
}

#[derive(Deserialize)]
struct InputLine {
    case_id: String,
    #[serde(default)]
    tags: Vec<String>,
    event: Box<RawValue>,
}

#[derive(Deserialize)]
struct ExpectedLine {
    case_id: String,
    // The training-time features are checked in process (service/tests/golden_features.rs);
    // the gate compares predictions.
    prediction: ExpectedPrediction,
}

fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, GoldenError> {
    let text = std::fs::read_to_string(path).map_err(|source| GoldenError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| GoldenError::Format {
                path: path.to_path_buf(),
                line: i + 1,
                message: e.to_string(),
            })
        })
        .collect()
}

impl GoldenSet {
    /// Reads `inputs.jsonl`, `expected.jsonl` and `manifest.json` from `dir` and checks that
    /// they describe the same cases.
    pub fn load(dir: &Path) -> Result<Self, GoldenError> {
        let manifest_path = dir.join("manifest.json");
        let manifest_text = std::fs::read(&manifest_path).map_err(|source| GoldenError::Read {
            path: manifest_path.clone(),
            source,
        })?;
        let manifest: Manifest =
            serde_json::from_slice(&manifest_text).map_err(|e| GoldenError::Format {
                path: manifest_path.clone(),
                line: 0,
                message: e.to_string(),
            })?;
        let inputs_path = dir.join("inputs.jsonl");
        let inputs: Vec<InputLine> = read_lines(&inputs_path)?;
        let expected: Vec<ExpectedLine> = read_lines(&dir.join("expected.jsonl"))?;
        let inputs_sha256 = sha256_file(&inputs_path).map_err(|source| GoldenError::Read {
            path: inputs_path.clone(),
            source,
        })?;
        if inputs_sha256 != manifest.inputs_sha256 {
            return Err(GoldenError::Stale(format!(
                "golden/inputs.jsonl has sha256 {inputs_sha256}, but manifest.json's predictions were computed for {}",
                manifest.inputs_sha256
            )));
        }
        let mut by_id: HashMap<String, ExpectedLine> = expected
            .into_iter()
            .map(|e| (e.case_id.clone(), e))
            .collect();
        let mut cases = Vec::with_capacity(inputs.len());
        for input in inputs {
            let Some(exp) = by_id.remove(&input.case_id) else {
                return Err(GoldenError::Stale(format!(
                    "case {} is in inputs.jsonl but not in expected.jsonl",
                    input.case_id
                )));
            };
            cases.push(GoldenCase {
                case_id: input.case_id,
                tags: input.tags,
                event: input.event,
                expected: exp.prediction,
            });
        }
        if let Some(extra) = by_id.keys().next() {
            return Err(GoldenError::Stale(format!(
                "case {extra} is in expected.jsonl but not in inputs.jsonl"
            )));
        }
        if cases.len() != manifest.cases {
            return Err(GoldenError::Stale(format!(
                "manifest.json counts {} cases, the files hold {}",
                manifest.cases,
                cases.len()
            )));
        }
        Ok(GoldenSet {
            dir: dir.to_path_buf(),
            manifest,
            cases,
        })
    }
}
