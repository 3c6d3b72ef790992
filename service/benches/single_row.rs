//! In-process latency with the shipped model: the evaluator alone on one golden case's
//! features, and the whole handler (JSON parse, validation, features, prediction, response) on
//! a request of one golden event and of 100 (the first 100 golden events).
//!
//! Run: `cargo bench -p service --bench single_row` (`cargo run -p bench --release` runs it as
//! part of BENCHMARKS.md).

use catboost_eval::{FeatureValue, Model};
use criterion::{Criterion, criterion_group, criterion_main};
use service::Function;
use service::features::{FeatureEngineering, FeatureSet, LoanApplication};
use std::hint::black_box;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
}

fn single_row(c: &mut Criterion) {
    let artifacts = root().join("models/artifacts");
    let model_json = std::fs::read(artifacts.join("model.json")).expect("shipped model");
    let model = Model::from_json(&model_json).expect("load the shipped model");
    let first_case = |file: &str| {
        let text = std::fs::read_to_string(root().join("golden").join(file)).expect("goldens");
        let line = text.lines().next().expect("a golden case").to_owned();
        serde_json::from_str::<serde_json::Value>(&line).expect("JSON")
    };
    let event = first_case("inputs.jsonl")["event"].to_string();
    let feature_set = FeatureSet::from_json(
        &std::fs::read(artifacts.join("feature_set.json")).expect("feature set"),
    )
    .expect("feature set");
    let record = LoanApplication::from_json(event.as_bytes()).expect("a valid golden event");
    let features = FeatureEngineering::new(&feature_set)
        .expect("feature engineering")
        .transform(&record)
        .expect("features");
    let row: Vec<FeatureValue<'_>> = features.as_values();
    let body = format!("{{\"records\":[{event}]}}").into_bytes();
    let inputs = std::fs::read_to_string(root().join("golden/inputs.jsonl")).expect("goldens");
    let hundred: Vec<String> = inputs
        .lines()
        .cycle()
        .take(100)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON")["event"].to_string())
        .collect();
    let body_100 = format!("{{\"records\":[{}]}}", hundred.join(",")).into_bytes();
    let function = Function::load(&artifacts).expect("load the function");

    let mut group = c.benchmark_group("single_row");
    group.bench_function("model_predict", |b| {
        b.iter(|| model.predict(black_box(&row)).expect("predict"))
    });
    group.bench_function("handler_one_record", |b| {
        b.iter(|| function.handle_json(black_box(&body)).expect("handle"))
    });
    group.bench_function("handler_100_records", |b| {
        b.iter(|| function.handle_json(black_box(&body_100)).expect("handle"))
    });
    group.finish();
}

criterion_group!(benches, single_row);
criterion_main!(benches);
