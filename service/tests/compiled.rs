//! The function as `bootstrap` loads it: from the compiled model (`catboost-compile` output)
//! next to `feature_set.json` and `metadata.json`; refused at init, with a message naming the
//! file and what is wrong, when the compiled model is missing, truncated, corrupt, foreign or
//! compiled from another `model.json`.

use catboost_eval::Model;
use service::{COMPILED_MODEL_FILE, Function};
use std::path::{Path, PathBuf};

fn artifacts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/artifacts")
}

/// A model directory as the image holds it, with `compiled` as the compiled model.
fn model_dir(name: &str, compiled: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("test setup");
    for file in ["feature_set.json", "metadata.json"] {
        std::fs::copy(artifacts().join(file), dir.join(file)).expect("test setup");
    }
    std::fs::write(dir.join(COMPILED_MODEL_FILE), compiled).expect("test setup");
    dir
}

fn shipped_compiled() -> Vec<u8> {
    let json = std::fs::read(artifacts().join("model.json")).expect("test setup");
    Model::from_json(&json).expect("test setup").to_compiled()
}

fn golden_body() -> Vec<u8> {
    let inputs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/inputs.jsonl"),
    )
    .expect("test setup");
    let events: Vec<String> = inputs
        .lines()
        .take(40)
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("test setup")["event"].to_string()
        })
        .collect();
    format!("{{\"records\":[{}]}}", events.join(",")).into_bytes()
}

fn init_error(dir: &Path) -> String {
    match Function::load_compiled(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_compiled_model_answers_as_the_json_export_does() {
    let dir = model_dir("compiled_ok", &shipped_compiled());
    let compiled = Function::load_compiled(&dir).expect("loads");
    let json = Function::load(&artifacts()).expect("loads");
    let body = golden_body();
    assert_eq!(
        compiled.handle_json(&body).expect("test setup"),
        json.handle_json(&body).expect("test setup")
    );
    assert_eq!(
        compiled.prediction().model_sha256(),
        json.prediction().model_sha256()
    );
}

#[test]
fn a_missing_compiled_model_is_named() {
    let dir = model_dir("compiled_missing", b"");
    std::fs::remove_file(dir.join(COMPILED_MODEL_FILE)).expect("test setup");
    let e = init_error(&dir);
    assert!(
        e.contains(COMPILED_MODEL_FILE) && e.contains("cannot read"),
        "{e}"
    );
}

#[test]
fn truncated_corrupt_and_foreign_compiled_models_are_refused_at_init() {
    let good = shipped_compiled();
    let truncated = &good[..good.len() / 2];
    let e = init_error(&model_dir("compiled_truncated", truncated));
    assert!(
        e.contains(COMPILED_MODEL_FILE) && e.contains("truncated"),
        "{e}"
    );

    let mut corrupt = good.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0x10;
    let e = init_error(&model_dir("compiled_corrupt", &corrupt));
    assert!(e.contains("corrupt") && e.contains("checksum"), "{e}");

    let json = std::fs::read(artifacts().join("model.json")).expect("test setup");
    let e = init_error(&model_dir("compiled_foreign", &json));
    assert!(
        e.contains("not a compiled") && e.contains("catboost-compile"),
        "{e}"
    );
}

/// A well-formed compiled model of another `model.json` is refused: its recorded sha256 is
/// not the one `metadata.json` names (here the columns differ too, which is checked first).
#[test]
fn a_compiled_model_of_another_export_is_refused() {
    let other =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/corpus/float_asis_binary/model.json");
    let compiled = Model::from_json(&std::fs::read(other).expect("test setup"))
        .expect("test setup")
        .to_compiled();
    let e = init_error(&model_dir("compiled_other", &compiled));
    assert!(e.contains("disagree"), "{e}");

    // The shipped model, but metadata.json naming another export.
    let dir = model_dir("compiled_stale_metadata", &shipped_compiled());
    let metadata = std::fs::read_to_string(dir.join("metadata.json")).expect("test setup");
    let sha = Function::load(&artifacts())
        .expect("test setup")
        .prediction()
        .model_sha256()
        .to_owned();
    std::fs::write(
        dir.join("metadata.json"),
        metadata.replace(&sha, &"0".repeat(64)),
    )
    .expect("test setup");
    let e = init_error(&dir);
    assert!(e.contains("mixes two exports") && e.contains(&sha), "{e}");
}
