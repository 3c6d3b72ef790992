//! Single-thread batch throughput of `catboost_eval` on 100k rows, for the models in
//! `golden/bench/` (written by `models/corpus.py bench --out golden/bench`, which also prints
//! CatBoost's own `predict_proba(thread_count=1)` throughput on the same rows).
//!
//! Run: `cargo bench -p catboost-eval --bench evaluator`.

use catboost_eval::{FeatureKind, FeatureValue, Model};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;
use std::path::Path;

const ROWS: usize = 100_000;

enum Owned {
    F(f64),
    C(String),
}

fn load(name: &str) -> (Model, Vec<Vec<Owned>>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/bench")
        .join(name);
    let bytes = std::fs::read(dir.join("model.json")).expect("bench model (see module docs)");
    let model = Model::from_json(&bytes).expect("load bench model");
    let text = std::fs::read_to_string(dir.join("rows.jsonl")).expect("bench rows");
    let sample: Vec<Vec<Owned>> = text
        .lines()
        .map(|l| {
            let v: Vec<Value> = serde_json::from_str(l).expect("row");
            v.iter()
                .zip(model.feature_kinds())
                .map(|(v, k)| match k {
                    FeatureKind::Float => Owned::F(v.as_f64().unwrap_or(f64::NAN)),
                    FeatureKind::Categorical => Owned::C(match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }),
                })
                .collect()
        })
        .collect();
    (model, sample)
}

fn bench_model(c: &mut Criterion, name: &str) {
    let (model, sample) = load(name);
    // The sample tiled to 100k rows, as the Python timing does.
    let rows: Vec<FeatureValue<'_>> = sample
        .iter()
        .cycle()
        .take(ROWS)
        .flat_map(|r| {
            r.iter().map(|v| match v {
                Owned::F(x) => FeatureValue::Float(*x),
                Owned::C(s) => FeatureValue::Categorical(s),
            })
        })
        .collect();
    let mut raw = vec![0.0; ROWS * model.dimension()];
    let mut proba = vec![0.0; ROWS * 2];
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(ROWS as u64));
    group.sample_size(20);
    group.bench_function("predict_raw_batch", |b| {
        b.iter(|| {
            model
                .predict_raw_batch(black_box(&rows), &mut raw)
                .expect("evaluate");
            black_box(&raw);
        })
    });
    // What Python's predict_proba returns: [1 - p, p] per row.
    group.bench_function("raw_batch_plus_proba", |b| {
        b.iter(|| {
            model
                .predict_raw_batch(black_box(&rows), &mut raw)
                .expect("evaluate");
            for (p, &r) in proba.chunks_exact_mut(2).zip(&raw) {
                let s = 1.0 / (1.0 + (-r).exp());
                p[0] = 1.0 - s;
                p[1] = s;
            }
            black_box(&proba);
        })
    });
    // Two threads share the model; each evaluates half the rows into its half of `raw`.
    group.bench_function("raw_batch_2_threads", |b| {
        let nf = model.feature_kinds().len();
        b.iter(|| {
            let (rows_a, rows_b) = rows.split_at(ROWS / 2 * nf);
            let (raw_a, raw_b) = raw.split_at_mut(ROWS / 2 * model.dimension());
            std::thread::scope(|s| {
                let a = s.spawn(|| model.predict_raw_batch(black_box(rows_a), raw_a));
                let b = model.predict_raw_batch(black_box(rows_b), raw_b);
                a.join().expect("thread").and(b)
            })
            .expect("evaluate");
            black_box(&raw);
        })
    });
    group.finish();
}

fn evaluator(c: &mut Criterion) {
    bench_model(c, "float6_200trees_depth6");
    bench_model(c, "ctr3_200trees_depth6");
}

criterion_group!(benches, evaluator);
criterion_main!(benches);
