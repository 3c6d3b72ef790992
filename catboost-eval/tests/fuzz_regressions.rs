//! Replays the inputs of the cargo-fuzz targets (`fuzz/`): every file under
//! `fuzz/regressions/<target>/` (an input that found a bug) and `fuzz/seeds/<target>/`, through
//! the target's entry point, with the target's invariants. So `cargo test` on stable keeps the
//! fixes without cargo-fuzz; a regression named `*.refused` must moreover be refused at load
//! (its bug was a model that loaded and then panicked, looped or allocated without bound, so the
//! test fails at once, and does not hang or exhaust memory, when the fix is reverted).

#[path = "common/parity_support.rs"]
mod parity_support;

use catboost_eval::rows::parse_row;
use catboost_eval::{FeatureKind, FeatureValue, Model};
use parity_support::repo_root;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// The files of `fuzz/regressions/<target>` and `fuzz/seeds/<target>`, with their names.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<PathBuf> = ["regressions", "seeds"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(repo_root().join("fuzz").join(d).join(target))
                .map(|it| it.map(|e| e.expect("a directory entry").path()).collect())
                .unwrap_or_else(|_| Vec::new())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs for fuzz target {target}");
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("a fuzz input");
            (p.display().to_string(), bytes)
        })
        .collect()
}

/// A row of the model's kinds, every float `float` and every category `cat`.
fn row<'a>(model: &Model, float: f64, cat: &'a str) -> Vec<FeatureValue<'a>> {
    model
        .feature_kinds()
        .iter()
        .map(|k| match k {
            FeatureKind::Float => FeatureValue::Float(float),
            FeatureKind::Categorical => FeatureValue::Categorical(cat),
        })
        .collect()
}

fn raw_bits(model: &Model, row: &[FeatureValue<'_>], name: &str) -> Vec<u64> {
    let p = model
        .predict(row)
        .unwrap_or_else(|e| panic!("{name}: a row of the right kinds fails: {e}"));
    p.raw().iter().map(|x| x.to_bits()).collect()
}

/// How long one input may take: every input here is small and evaluates in milliseconds.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs `check` on a thread of its own and fails the test if it is still running after
/// [`LIMIT`], so an input whose bug was a hang (an endless probe, say) fails the run instead of
/// holding it forever; the stuck thread ends with the test process.
fn bounded(name: &str, check: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        check();
        let _ = done.send(());
    });
    match finished.recv_timeout(LIMIT) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name}: still running after {LIMIT:?}: it hangs")
        }
        // The check panicked: report its own message.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// The `model_compiled` target: loading never panics; a model that loads evaluates and
/// compiles back to a file that loads.
#[test]
fn model_compiled_inputs() {
    for (name, bytes) in inputs("model_compiled") {
        bounded(&name.clone(), move || match Model::from_compiled(&bytes) {
            Ok(model) => {
                assert!(
                    !name.ends_with(".refused"),
                    "{name}: loads, must be refused"
                );
                let again = Model::from_compiled(&model.to_compiled())
                    .unwrap_or_else(|e| panic!("{name}: does not load back: {e}"));
                for (float, cat) in [(f64::NAN, ""), (0.0, "0")] {
                    let r = row(&model, float, cat);
                    assert_eq!(raw_bits(&model, &r, &name), raw_bits(&again, &r, &name));
                }
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}: an empty error"),
        });
    }
}

/// The `model_json` target: loading never panics; a model that loads evaluates, and its
/// compiled form loads back and predicts the same.
#[test]
fn model_json_inputs() {
    for (name, bytes) in inputs("model_json") {
        bounded(&name.clone(), move || match Model::from_json(&bytes) {
            Ok(model) => {
                assert!(
                    !name.ends_with(".refused"),
                    "{name}: loads, must be refused"
                );
                let compiled = model.to_compiled();
                let back = Model::from_compiled(&compiled)
                    .unwrap_or_else(|e| panic!("{name}: the compiled form fails: {e}"));
                assert_eq!(
                    back.to_compiled(),
                    compiled,
                    "{name}: compiling is not stable"
                );
                for (float, cat) in [(f64::NAN, ""), (0.0, "0")] {
                    let r = row(&model, float, cat);
                    assert_eq!(raw_bits(&model, &r, &name), raw_bits(&back, &r, &name));
                }
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}: an empty error"),
        });
    }
}

/// The `predict_rows` target: any line parses or is refused, never a panic; a line that
/// parses evaluates.
#[test]
fn predict_rows_inputs() {
    let json = std::fs::read(repo_root().join("golden/corpus/ctr_binary_str_all_types/model.json"))
        .expect("the golden model");
    let model = Model::from_json(&json).expect("the golden model loads");
    for (name, bytes) in inputs("predict_rows") {
        let Ok(line) = std::str::from_utf8(&bytes) else {
            continue;
        };
        match parse_row(line, model.feature_kinds()) {
            Ok(row) => {
                let values: Vec<_> = row.values().collect();
                model
                    .predict(&values)
                    .unwrap_or_else(|e| panic!("{name}: a parsed row fails: {e}"));
            }
            Err(e) => assert!(!e.to_string().is_empty(), "{name}: an empty error"),
        }
    }
}
