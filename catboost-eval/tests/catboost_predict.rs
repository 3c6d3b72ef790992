//! The `catboost-predict` binary, run for real: parity with CatBoost over the corpus and over
//! freshly trained random models, and its error reporting.

#[path = "common/parity_support.rs"]
mod parity_support;

use parity_support::{
    Comparison, assert_all_pass, case_dirs, compare, corpus_dir, read_jsonl, refused_dirs,
    repo_root,
};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_catboost-predict");

fn run(model: &Path, rows: &Path) -> Output {
    Command::new(BIN)
        .arg("--model")
        .arg(model)
        .arg("--rows")
        .arg(rows)
        .output()
        .expect("run catboost-predict")
}

fn stdout_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .expect("utf-8 stdout")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad output line {l:?}: {e}")))
        .collect()
}

/// Runs the binary over every case under `dir` and compares with the expected outputs.
fn check_cases(dir: &Path) -> Vec<(String, Comparison)> {
    let mut results = Vec::new();
    for case in case_dirs(dir) {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let out = run(&case.join("model.json"), &case.join("rows.jsonl"));
        assert!(
            out.status.success(),
            "{name}: catboost-predict failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c = compare(
            &name,
            &read_jsonl(&case.join("expected.jsonl")),
            &stdout_lines(&out),
        );
        eprintln!(
            "{name:40} {:4} rows  max |diff| {:.3e}  failures {}",
            c.rows,
            c.max_diff,
            c.failures.len()
        );
        results.push((name, c));
    }
    results
}

#[test]
fn corpus_outputs_match_catboost() {
    let results = check_cases(&corpus_dir());
    assert!(results.len() >= 16, "corpus missing");
    assert_all_pass(&results);
}

#[test]
fn reads_rows_from_stdin() {
    let case = corpus_dir().join("ctr_multiclass_str");
    let rows = std::fs::read(case.join("rows.jsonl")).expect("rows");
    let mut child = Command::new(BIN)
        .arg("--model")
        .arg(case.join("model.json"))
        .args(["--rows", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&rows)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let c = compare(
        "ctr_multiclass_str (stdin)",
        &read_jsonl(&case.join("expected.jsonl")),
        &stdout_lines(&out),
    );
    assert_all_pass(&[("stdin".to_string(), c)]);
}

/// A scratch directory for one test (tests run in parallel).
fn scratch(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("catboost_predict")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs the binary on `rows` (text) with the `ctr_binary_str_all_types` model, whose flat
/// features are float, cat, float, cat, cat; expects failure and returns stderr.
fn failing_run(test: &str, rows: &str) -> String {
    let dir = scratch(test);
    let path = dir.join("rows.jsonl");
    std::fs::write(&path, rows).expect("write rows");
    let out = run(
        &corpus_dir()
            .join("ctr_binary_str_all_types")
            .join("model.json"),
        &path,
    );
    assert!(
        !out.status.success(),
        "{test}: expected a non-zero exit, got {:?}",
        out.status
    );
    String::from_utf8(out.stderr).expect("utf-8 stderr")
}

const GOOD: &str = r#"[0.5, "a", -1, "b", 3]"#;

#[test]
fn bad_json_line_is_named() {
    let err = failing_run(
        "bad_json",
        &format!("{GOOD}\n{GOOD}\n[0.5, \"a\", -1\n{GOOD}\n"),
    );
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("not valid JSON"), "{err}");
}

#[test]
fn wrong_arity_is_named() {
    let err = failing_run("arity", &format!("{GOOD}\n[0.5, \"a\", -1, \"b\"]\n"));
    assert!(err.contains("line 2"), "{err}");
    assert!(err.contains("expected 5 values"), "{err}");
    assert!(err.contains("got 4"), "{err}");
}

#[test]
fn string_in_float_column_is_named() {
    let err = failing_run(
        "float_string",
        &format!("{GOOD}\n{GOOD}\n[0.5, \"a\", \"abc\", \"b\", \"c\"]\n"),
    );
    assert!(err.contains("line 3, column 2"), "{err}");
    assert!(err.contains("\"abc\""), "{err}");
}

#[test]
fn non_integer_number_in_categorical_column_is_named() {
    for (i, v) in ["3.5", "3.0", "0.0", "1e3"].iter().enumerate() {
        let err = failing_run(
            &format!("cat_float_{i}"),
            &format!("[0.5, \"a\", -1, {v}, \"c\"]\n"),
        );
        assert!(err.contains("line 1, column 3"), "{v}: {err}");
        assert!(err.contains("not an integer"), "{v}: {err}");
    }
}

#[test]
fn empty_line_is_an_error_not_skipped() {
    let err = failing_run("empty_line", &format!("{GOOD}\n\n{GOOD}\n"));
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn no_output_for_the_chunk_holding_a_bad_line() {
    let dir = scratch("partial");
    let path = dir.join("rows.jsonl");
    std::fs::write(&path, format!("{GOOD}\n[1]\n{GOOD}\n")).expect("write");
    let out = run(
        &corpus_dir()
            .join("ctr_binary_str_all_types")
            .join("model.json"),
        &path,
    );
    assert!(!out.status.success());
    // Lines are evaluated in chunks: nothing of a chunk with a bad line is printed.
    assert_eq!(stdout_lines(&out).len(), 0);
}

#[test]
fn file_that_is_not_a_model_is_refused() {
    let dir = scratch("not_a_model");
    let model = dir.join("model.json");
    std::fs::write(&model, r#"{"hello": "world"}"#).expect("write");
    let rows = dir.join("rows.jsonl");
    std::fs::write(&rows, "[1]\n").expect("write");
    let out = run(&model, &rows);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).expect("utf-8");
    assert!(err.contains("cannot load model"), "{err}");
    assert!(err.contains("features_info"), "{err}");

    let out = run(&dir.join("missing.json"), &rows);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read model"));
}

#[test]
fn integers_in_categorical_columns_are_their_decimal_text() {
    let dir = scratch("int_cats");
    let as_int = dir.join("int.jsonl");
    let as_str = dir.join("str.jsonl");
    std::fs::write(&as_int, "[0.5, 0, -1, -4, 10]\n[0.5, 5, -1, 0, -0]\n").expect("write");
    std::fs::write(
        &as_str,
        "[0.5, \"0\", -1, \"-4\", \"10\"]\n[0.5, \"5\", -1, \"0\", \"0\"]\n",
    )
    .expect("write");
    let model = corpus_dir()
        .join("ctr_binary_str_all_types")
        .join("model.json");
    let a = run(&model, &as_int);
    let b = run(&model, &as_str);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert_eq!(stdout_lines(&a), stdout_lines(&b));
}

// ---------------------------------------------------------------------------------------------
// Models the project has never seen.

fn python() -> PathBuf {
    let path = std::env::var_os("MODELS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("models/.venv/bin/python"));
    assert!(
        path.exists(),
        "the training Python {} does not exist. Create it from the repository root with:\n  \
         python3 -m venv models/.venv && models/.venv/bin/pip install --require-hashes -r \
         models/requirements.lock\n(or point MODELS_PYTHON at an interpreter with catboost 1.2.10)",
        path.display()
    );
    path
}

#[test]
fn fresh_random_models_match_catboost() {
    let seed: u64 = match std::env::var("PARITY_SEED") {
        Ok(s) => s.parse().expect("PARITY_SEED must be an integer"),
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos() as u64
                % 1_000_000_007
        }
    };
    eprintln!("random models with PARITY_SEED={seed} (set it to replay)");
    let out_dir = scratch(&format!("random_{seed}"));
    let gen_out = Command::new(python())
        .arg(repo_root().join("models/corpus.py"))
        .args([
            "random",
            "--seed",
            &seed.to_string(),
            "--count",
            "3",
            "--out",
        ])
        .arg(&out_dir)
        .output()
        .expect("run models/corpus.py");
    assert!(
        gen_out.status.success(),
        "PARITY_SEED={seed}: models/corpus.py random failed:\n{}",
        String::from_utf8_lossy(&gen_out.stderr)
    );
    eprintln!("{}", String::from_utf8_lossy(&gen_out.stderr));
    let results = check_cases(&out_dir);
    let refused = refused_dirs(&out_dir);
    assert_eq!(
        results.len() + refused.len(),
        3,
        "PARITY_SEED={seed}: expected 3 models"
    );
    // Exports CatBoost itself cannot evaluate back (lossy) must be refused at load.
    for dir in refused {
        let out = run(&dir.join("model.json"), &dir.join("missing-rows.jsonl"));
        let err = String::from_utf8_lossy(&out.stderr);
        let want = std::fs::read_to_string(dir.join("expected_error.txt")).expect("read");
        assert!(
            !out.status.success() && err.contains("cannot load model") && err.contains(want.trim()),
            "PARITY_SEED={seed}: {} must be refused at load, got: {err}",
            dir.display()
        );
    }
    if results.iter().any(|(_, c)| !c.failures.is_empty()) {
        eprintln!("FAILED with PARITY_SEED={seed}");
    }
    assert_all_pass(&results);
}
