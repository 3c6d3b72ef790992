//! Shared by `parity.rs` and `catboost_predict.rs`: the parity corpus on disk and the comparison
//! of outputs in `catboost-predict` format (`{"raw", "probability", "class"}` or
//! `{"raw", "prediction"}`) with CatBoost's expected outputs.

#![allow(dead_code, unreachable_pub)]

use serde_json::Value;
use std::path::{Path, PathBuf};

/// Largest absolute difference accepted on raw values, probabilities and predictions.
pub const TOLERANCE: f64 = 1e-9;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("service/ has a parent")
        .to_path_buf()
}

pub fn corpus_dir() -> PathBuf {
    repo_root().join("golden").join("corpus")
}

/// Case directories (holding `model.json`, `rows.jsonl`, `expected.jsonl`) under `dir`, sorted.
pub fn case_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.join("rows.jsonl").is_file() && p.join("expected.jsonl").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Directories of models whose load must fail, each with `expected_error.txt`.
pub fn refused_dirs(dir: &Path) -> Vec<PathBuf> {
    let refused = dir.join("refused");
    let Ok(entries) = std::fs::read_dir(&refused) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries.map(|e| e.expect("dir entry").path()).collect();
    dirs.sort();
    dirs
}

pub fn read_jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{}:{}: {e}", path.display(), i + 1))
        })
        .collect()
}

fn numbers(v: &Value) -> Option<Vec<f64>> {
    match v {
        Value::Number(n) => Some(vec![n.as_f64()?]),
        Value::Array(a) => a.iter().map(Value::as_f64).collect(),
        _ => None,
    }
}

/// Outcome of comparing one model's outputs.
#[derive(Debug, Default)]
pub struct Comparison {
    pub rows: usize,
    pub max_diff: f64,
    pub failures: Vec<String>,
}

/// Compares `actual` with `expected` row by row, field by field.
pub fn compare(model: &str, expected: &[Value], actual: &[Value]) -> Comparison {
    let mut c = Comparison {
        rows: expected.len(),
        ..Comparison::default()
    };
    if expected.len() != actual.len() {
        c.failures.push(format!(
            "model {model}: expected {} output rows, got {}",
            expected.len(),
            actual.len()
        ));
    }
    for (i, (e, a)) in expected.iter().zip(actual).enumerate() {
        let Value::Object(eo) = e else {
            c.failures.push(format!(
                "model {model}, row {i}: expected line is not an object"
            ));
            continue;
        };
        for (field, ev) in eo {
            let av = a.get(field).unwrap_or(&Value::Null);
            if field == "class" {
                if ev != av {
                    c.failures.push(format!(
                        "model {model}, row {i}, field class: expected {ev}, actual {av}"
                    ));
                }
                continue;
            }
            match (numbers(ev), numbers(av)) {
                (Some(en), Some(an)) if en.len() == an.len() && ev.is_array() == av.is_array() => {
                    for (k, (x, y)) in en.iter().zip(&an).enumerate() {
                        let d = (x - y).abs();
                        if d.is_nan() || d > TOLERANCE {
                            c.failures.push(format!(
                                "model {model}, row {i}, field {field}[{k}]: expected {x:e}, \
                                 actual {y:e}, diff {d:e}"
                            ));
                        }
                        if d > c.max_diff {
                            c.max_diff = d;
                        }
                    }
                }
                _ => c.failures.push(format!(
                    "model {model}, row {i}, field {field}: expected {ev}, actual {av}"
                )),
            }
        }
        if let Value::Object(ao) = a {
            for k in ao.keys().filter(|k| !eo.contains_key(*k)) {
                c.failures
                    .push(format!("model {model}, row {i}: unexpected field {k}"));
            }
        }
    }
    c
}

/// Panics with the first failures of all comparisons, if any.
pub fn assert_all_pass(results: &[(String, Comparison)]) {
    let failures: Vec<&String> = results.iter().flat_map(|(_, c)| &c.failures).collect();
    if !failures.is_empty() {
        let shown: Vec<&str> = failures.iter().take(30).map(|s| s.as_str()).collect();
        panic!(
            "{} parity failures (first {}):\n{}",
            failures.len(),
            shown.len(),
            shown.join("\n")
        );
    }
}
