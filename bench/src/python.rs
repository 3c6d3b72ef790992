//! The Python/CatBoost anchor: `bench/anchor.py` run with the training side's pinned Python.

use crate::stats::Summary;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Timed `predict_proba` calls per model.
pub(crate) const THROUGHPUT_REPEATS: usize = 11;

/// Environment variable naming another interpreter for the anchor.
const MODELS_PYTHON_ENV: &str = "MODELS_PYTHON";

fn interpreter() -> PathBuf {
    std::env::var_os(MODELS_PYTHON_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace().join("models/.venv/bin/python"))
}

/// A command running the anchor's interpreter.
pub(crate) fn command() -> Command {
    Command::new(interpreter())
}

fn anchor<T: for<'de> Deserialize<'de>>(args: &[&std::ffi::OsStr]) -> Result<T> {
    let python = interpreter();
    if !python.is_file() {
        bail!(
            "the training side's Python is missing at {}: create it with `.ci/install python`",
            python.display()
        );
    }
    let output = Command::new(&python)
        .arg(crate::workspace().join("bench/anchor.py"))
        .args(args)
        .output()
        .context("running bench/anchor.py")?;
    if !output.status.success() {
        bail!(
            "bench/anchor.py failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

#[derive(Deserialize)]
struct Throughput {
    rows_per_s: Vec<f64>,
    rows_per_s_pool: Vec<f64>,
    rows_per_s_pool_2_threads: Vec<f64>,
}

/// Rows per second of `predict_proba` on the model in `dir`.
pub(crate) struct Rates {
    /// One thread, the data as a handler passes it (numpy array or DataFrame).
    pub(crate) as_passed: Summary,
    /// One thread, from a prebuilt `Pool`.
    pub(crate) pool: Summary,
    /// Two threads, from a prebuilt `Pool`.
    pub(crate) pool_2_threads: Summary,
}

pub(crate) fn throughput(dir: &Path) -> Result<Rates> {
    let model = dir.join("model.json");
    let rows = dir.join("rows.jsonl");
    let repeats = THROUGHPUT_REPEATS.to_string();
    let t: Throughput = anchor(&[
        "throughput".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--rows".as_ref(),
        rows.as_os_str(),
        "--repeats".as_ref(),
        repeats.as_ref(),
    ])?;
    Ok(Rates {
        as_passed: Summary::of(&t.rows_per_s),
        pool: Summary::of(&t.rows_per_s_pool),
        pool_2_threads: Summary::of(&t.rows_per_s_pool_2_threads),
    })
}

#[derive(Deserialize)]
struct Single {
    seconds: Vec<f64>,
}

/// Seconds per warm `predict_proba` of one row.
pub(crate) fn single(model: &Path, row: &Path) -> Result<Summary> {
    let s: Single = anchor(&[
        "single".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--row".as_ref(),
        row.as_os_str(),
    ])?;
    Ok(Summary::of(&s.seconds))
}

/// Seconds per request of the Python handler (`anchor.py handler`) with `records` golden
/// events.
pub(crate) fn handler(model: &Path, events: &Path, records: usize) -> Result<Summary> {
    let records = records.to_string();
    let repeats = if records == "1" { "300" } else { "40" };
    let s: Single = anchor(&[
        "handler".as_ref(),
        "--model".as_ref(),
        model.as_os_str(),
        "--events".as_ref(),
        events.as_os_str(),
        "--records".as_ref(),
        records.as_ref(),
        "--repeats".as_ref(),
        repeats.as_ref(),
    ])?;
    Ok(Summary::of(&s.seconds))
}

/// Installed sizes of the Python stack.
#[derive(Deserialize)]
pub(crate) struct Size {
    pub(crate) packages: Vec<String>,
    pub(crate) site_packages_bytes: f64,
    pub(crate) interpreter_bytes: f64,
    pub(crate) python: String,
    pub(crate) catboost_version: String,
}

pub(crate) fn size() -> Result<Size> {
    anchor(&["size".as_ref()])
}

/// One row for both cold starts, in the shipped model's column order: the features of the first
/// golden case, computed by the service's own feature engineering.
pub(crate) struct Row {
    /// `catboost-predict` input (one JSON array line).
    pub(crate) jsonl: PathBuf,
    /// The same array for `anchor.py`.
    pub(crate) json: PathBuf,
}

pub(crate) fn golden_row(ws: &Path, dir: &Path) -> Result<Row> {
    use service::features::{Feature, FeatureEngineering, FeatureSet, LoanApplication};
    let inputs = std::fs::read_to_string(ws.join("golden/inputs.jsonl"))?;
    let first: serde_json::Value =
        serde_json::from_str(inputs.lines().next().context("no golden case")?)?;
    let record = LoanApplication::from_json(first["event"].to_string().as_bytes())?;
    let set = FeatureSet::from_json(&std::fs::read(
        ws.join("models/artifacts/feature_set.json"),
    )?)?;
    let features = FeatureEngineering::new(&set)?.transform(&record)?;
    let values: Vec<serde_json::Value> = features
        .as_slice()
        .iter()
        .map(|f| match f {
            Feature::Float(x) => serde_json::Number::from_f64(*x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Feature::Categorical(s) => serde_json::Value::String(s.clone()),
        })
        .collect();
    let text = serde_json::Value::Array(values).to_string();
    let row = Row {
        jsonl: dir.join("row.jsonl"),
        json: dir.join("row.json"),
    };
    std::fs::write(&row.jsonl, format!("{text}\n"))?;
    std::fs::write(&row.json, &text)?;
    Ok(row)
}
