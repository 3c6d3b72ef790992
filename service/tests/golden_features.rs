//! Parity with the training side: for every golden case, the Rust feature engineering must
//! produce exactly the features `models/features.py` produced at training time (same bits; NaN
//! equals NaN; identical category strings). Goldens are written by
//! `models/golden.py predict`; this test never rewrites them.
//!
//! Also checks that Python and Rust refuse the same records with the same JSON path, and for
//! value rules (signs, ranges, length limits) the same message (`models/validation_cases.jsonl`).

use std::path::{Path, PathBuf};

use catboost_eval::{ClassLabel, Model, Prediction};
use serde::Deserialize;
use serde_json::Value;
use service::features::{Feature, FeatureEngineering, FeatureSet, LoanApplication};
use sha2::{Digest, Sha256};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("service/ is inside the repository")
        .to_path_buf()
}

fn read(relative: &str) -> Vec<u8> {
    let path = repo().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn engineering() -> FeatureEngineering {
    let set = FeatureSet::from_json(&read("models/artifacts/feature_set.json"))
        .expect("models/artifacts/feature_set.json parses");
    FeatureEngineering::new(&set).expect("feature_set.json matches the Rust feature engineering")
}

/// One line of golden/inputs.jsonl; the event is deserialized straight from the line's bytes,
/// as the service does.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    case_id: String,
    #[allow(dead_code)]
    tags: Vec<String>,
    event: LoanApplication,
}

fn jsonl(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
        .map(|(i, line)| (i + 1, line))
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "NaN (null)".to_owned(),
        other => other.to_string(),
    }
}

fn describe_actual(feature: &Feature) -> String {
    match feature {
        Feature::Float(v) if v.is_nan() => "NaN (null)".to_owned(),
        Feature::Float(v) => format!("{v:?} (bits {:#018x})", v.to_bits()),
        Feature::Categorical(c) => format!("{c:?}"),
    }
}

/// Exact equality: floats by bits (NaN = null), categories by string.
fn same(expected: &Value, actual: &Feature) -> bool {
    match (expected, actual) {
        (Value::Null, Feature::Float(v)) => v.is_nan(),
        (Value::Number(n), Feature::Float(v)) => {
            n.as_f64().is_some_and(|e| e.to_bits() == v.to_bits())
        }
        (Value::String(e), Feature::Categorical(a)) => e == a,
        _ => false,
    }
}

#[test]
fn golden_manifest_matches_inputs_and_model() {
    let manifest: Value =
        serde_json::from_slice(&read("golden/manifest.json")).expect("manifest.json is JSON");
    let metadata: Value = serde_json::from_slice(&read("models/artifacts/metadata.json"))
        .expect("metadata.json is JSON");
    let inputs = read("golden/inputs.jsonl");
    assert_eq!(
        manifest["inputs_sha256"].as_str(),
        Some(sha256_hex(&inputs).as_str()),
        "golden/inputs.jsonl changed since golden/expected.jsonl was generated; \
         rerun `models/golden.py predict` and review"
    );
    let model_sha = sha256_hex(&read("models/artifacts/model.json"));
    assert_eq!(
        manifest["model_sha256"].as_str(),
        Some(model_sha.as_str()),
        "goldens are for another model"
    );
    assert_eq!(
        metadata["model_sha256"].as_str(),
        Some(model_sha.as_str()),
        "metadata.json is for another model"
    );
    assert_eq!(manifest["model_version"], metadata["model_version"]);
    assert_eq!(
        manifest["feature_set_sha256"].as_str(),
        Some(sha256_hex(&read("models/artifacts/feature_set.json")).as_str())
    );
    let cases = jsonl(&inputs).count();
    assert_eq!(manifest["cases"].as_u64(), u64::try_from(cases).ok());
    assert!(
        cases >= 200,
        "expected at least 200 golden cases, found {cases}"
    );
}

#[test]
fn golden_features_match_training_time_features() {
    let engineering = engineering();
    let names: Vec<&str> = engineering.feature_names().collect();
    let inputs = read("golden/inputs.jsonl");
    let expected = read("golden/expected.jsonl");
    let inputs: Vec<_> = jsonl(&inputs).collect();
    let expected: Vec<_> = jsonl(&expected).collect();
    assert_eq!(
        inputs.len(),
        expected.len(),
        "inputs.jsonl and expected.jsonl differ in length"
    );

    let mut failures = Vec::new();
    for ((line_no, input), (_, expected)) in inputs.iter().zip(&expected) {
        let mut de = serde_json::Deserializer::from_slice(input);
        let input: Input = serde_path_to_error::deserialize(&mut de).unwrap_or_else(|e| {
            panic!(
                "golden/inputs.jsonl:{line_no}: {} : {}",
                e.path(),
                e.inner()
            )
        });
        let expected: Value =
            serde_json::from_slice(expected).expect("expected.jsonl line is JSON");
        assert_eq!(
            expected["case_id"].as_str(),
            Some(input.case_id.as_str()),
            "line {line_no}: case order differs"
        );
        let expected_features = expected["features"].as_object().expect("features object");
        assert_eq!(
            expected_features.len(),
            names.len(),
            "{}: feature count",
            input.case_id
        );

        let actual = match engineering.transform(&input.event) {
            Ok(features) => features,
            Err(e) => {
                failures.push(format!("{}: refused by Rust: {e}", input.case_id));
                continue;
            }
        };
        for (name, actual) in names.iter().zip(actual.as_slice()) {
            let Some(expected) = expected_features.get(*name) else {
                failures.push(format!(
                    "{}: {name}: missing from expected.jsonl",
                    input.case_id
                ));
                continue;
            };
            if !same(expected, actual) {
                failures.push(format!(
                    "{}: {name}: expected {}, actual {}",
                    input.case_id,
                    describe(expected),
                    describe_actual(actual)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} feature mismatches:\n{}",
        failures.len(),
        first_lines(&failures)
    );
}

/// Parity bar for the evaluator against the training-time model (`predict_proba`).
const MAX_PROBABILITY_DIFF: f64 = 1e-9;

#[test]
fn golden_predictions_match_training_time_predictions() {
    let engineering = engineering();
    let model = Model::from_json(&read("models/artifacts/model.json"))
        .expect("models/artifacts/model.json loads");
    let inputs = read("golden/inputs.jsonl");
    let expected = read("golden/expected.jsonl");
    let mut failures = Vec::new();
    let mut max_diff = 0.0f64;
    for ((line_no, input), (_, expected)) in jsonl(&inputs).zip(jsonl(&expected)) {
        let input: Input = serde_json::from_slice(input)
            .unwrap_or_else(|e| panic!("golden/inputs.jsonl:{line_no}: {e}"));
        let expected: Value =
            serde_json::from_slice(expected).expect("expected.jsonl line is JSON");
        let prediction = &expected["prediction"];
        let features = engineering
            .transform(&input.event)
            .unwrap_or_else(|e| panic!("{}: {e}", input.case_id));
        let Ok(Prediction::Classification {
            raw,
            probabilities,
            class,
        }) = model.predict(&features.as_values())
        else {
            panic!("{}: the model did not classify", input.case_id);
        };
        let expected_p = prediction["probability"].as_f64().expect("probability");
        let expected_raw = prediction["raw"].as_f64().expect("raw");
        let expected_class = prediction["class"].as_i64().expect("class");
        let p = probabilities.get(1).copied().unwrap_or(f64::NAN);
        let r = raw.first().copied().unwrap_or(f64::NAN);
        let diff = (p - expected_p).abs();
        max_diff = max_diff.max(diff);
        if diff.is_nan()
            || diff > MAX_PROBABILITY_DIFF
            || class != ClassLabel::Integer(expected_class)
        {
            failures.push(format!(
                "{}: expected p={expected_p:?} raw={expected_raw:?} class={expected_class}, \
                 actual p={p:?} raw={r:?} class={class:?} (|dp|={diff:e})",
                input.case_id
            ));
        }
    }
    eprintln!("golden predictions: max |probability diff| = {max_diff:e}");
    assert!(
        failures.is_empty(),
        "{} prediction mismatches (max |dp| {max_diff:e}):\n{}",
        failures.len(),
        first_lines(&failures)
    );
}

/// The first 60 failures, one per line: enough to see the pattern without flooding the log.
fn first_lines(failures: &[String]) -> String {
    failures
        .iter()
        .take(60)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n")
}

/// One line of models/validation_cases.jsonl: a record as JSON text and the path of the error
/// both implementations must report (`null`: valid); for value rules also the message.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidationCase {
    name: String,
    json: String,
    path: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[test]
fn python_and_rust_refuse_the_same_records_at_the_same_path() {
    let engineering = engineering();
    let cases = read("models/validation_cases.jsonl");
    let mut failures = Vec::new();
    let mut count = 0;
    for (line_no, line) in jsonl(&cases) {
        let case: ValidationCase = serde_json::from_slice(line)
            .unwrap_or_else(|e| panic!("models/validation_cases.jsonl:{line_no}: {e}"));
        count += 1;
        let result = LoanApplication::from_json(case.json.as_bytes())
            .and_then(|record| engineering.transform(&record).map(|_| ()));
        let path = result.as_ref().err().map(|e| e.path().to_owned());
        if path != case.path {
            failures.push(format!(
                "{}: expected {:?}, Rust gives {:?} ({})",
                case.name,
                case.path,
                path,
                result.err().map(|e| e.to_string()).unwrap_or_default()
            ));
        } else if let Some(expected) = &case.message {
            let message = result.as_ref().err().map(|e| e.message());
            if message != Some(expected.as_str()) {
                failures.push(format!(
                    "{}: expected message {expected:?}, Rust gives {message:?}",
                    case.name
                ));
            }
        }
    }
    assert!(count > 30, "too few validation cases: {count}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
