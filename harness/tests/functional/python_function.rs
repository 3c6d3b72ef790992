//! The usual way to ship the model, under the gate: the Python function of
//! `examples/python-function/` (awslambdaric, catboost, pandas, a Poetry environment, an image
//! built on a Debian base made here without a registry) passes through its own
//! `lambda-gate.toml` against the same goldens as the Rust function, and the usual mistakes of
//! such a function are each caught by the check meant for them.
//!
//! The base image is built once per machine (content tag) by the spec's `before` command; the
//! broken variants are the same Dockerfile over a copy of the sources with one line changed.

use crate::support::*;
use harness::{Arch, CheckId, Overrides, Spec, Status};
use std::sync::OnceLock;

const SPEC: &str = "examples/python-function/lambda-gate.toml";

/// The shipped Python image (and with it the base), built once for the tests.
fn image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| build(SPEC, Arch::X86_64))
}

/// A build of the function from a copy of its sources in which `file` (relative to the
/// repository) has `from` replaced by `to`.
fn variant(file: &str, from: &str, to: &str) -> (tempfile::TempDir, tempfile::TempDir, Spec) {
    image();
    let context = tempfile::tempdir().unwrap();
    let root = workspace();
    for path in [
        "examples/python-function/Dockerfile",
        "examples/python-function/pyproject.toml",
        "examples/python-function/poetry.lock",
        "examples/python-function/handler.py",
        "models/features.py",
        "models/artifacts/model.json",
        "models/artifacts/feature_set.json",
        "models/artifacts/metadata.json",
    ] {
        let to_path = context.path().join(path);
        std::fs::create_dir_all(to_path.parent().unwrap()).unwrap();
        std::fs::copy(root.join(path), &to_path).unwrap();
    }
    let target = context.path().join(file);
    let text = std::fs::read_to_string(&target).unwrap();
    assert_eq!(
        text.matches(from).count(),
        1,
        "{file} must hold {from:?} once"
    );
    std::fs::write(&target, text.replace(from, to)).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let spec = spec_edited(
        SPEC,
        build_from(
            &context.path().join("examples/python-function/Dockerfile"),
            context.path(),
            "loan-grade-python-variant",
        ),
        &quick(Arch::X86_64, 100, scratch.path()),
    );
    (context, scratch, spec)
}

/// The spec taking the shipped image, with `overrides` besides.
fn taking_image(overrides: Overrides) -> Spec {
    spec_with(
        SPEC,
        &Overrides {
            image: Some(image().to_owned()),
            ..overrides
        },
    )
}

#[test]
fn the_python_function_passes_with_parity_to_the_training_time_model() {
    let _serial = serial();
    let report = run(taking_image(Overrides::default()));
    assert_all_pass(&report);
    let architecture = details(&report, CheckId::Architecture);
    assert!(
        architecture.contains("dynamic, loader /lib64/ld-linux-x86-64.so.2"),
        "a dynamic interpreter found through PATH and symlinks: {architecture}"
    );
    let facts = report.image_facts.as_ref().unwrap();
    assert_eq!(
        facts.cmd,
        ["handler.lambda_handler"],
        "the handler is in CMD"
    );
}

#[test]
fn predictions_from_to_dict_records_answer_nan_and_fail_golden_replay() {
    let _serial = serial();
    let (_context, _scratch, spec) = variant(
        "examples/python-function/handler.py",
        "return [_json_safe(p) for p in out.to_dict(\"records\")]",
        "return out.to_dict(\"records\")",
    );
    let report = run(spec);
    assert_eq!(status(&report, CheckId::GoldenReplay), Status::Failed);
    let why = details(&report, CheckId::GoldenReplay);
    assert!(why.contains("not JSON") && why.contains("NaN"), "{why}");
}

#[test]
fn a_handler_without_input_controls_fails_malformed_corpus() {
    let _serial = serial();
    let (_context, _scratch, spec) = variant(
        "examples/python-function/handler.py",
        "records = _records(self.input)",
        "records = self.input[\"records\"]",
    );
    let report = run(spec);
    assert_eq!(status(&report, CheckId::MalformedCorpus), Status::Failed);
    let why = details(&report, CheckId::MalformedCorpus);
    assert!(why.contains("generic json-empty-object ({}): the function crashed or raised an error outside its contract (KeyError"), "{why}");
    assert!(why.contains("generic json-null (the literal null): the function crashed or raised an error outside its contract (TypeError"), "{why}");
}

#[test]
fn a_feature_engineering_change_in_serving_fails_golden_replay() {
    let _serial = serial();
    let (_context, _scratch, spec) = variant(
        "models/features.py",
        "f[\"loan_to_income\"] = ratio(amount, annual)",
        "f[\"loan_to_income\"] = ratio(amount, annual * 12)",
    );
    let report = run(spec);
    // The headline names the drifted feature, and it explains at least 95% of the cases.
    let check = golden_replay_failed(
        &report,
        "; `loan_to_income` alone explains",
        "/probability: expected",
    );
    let why = details(&report, CheckId::GoldenReplay);
    let drift = &check.metrics["drift"];
    let top = &drift["ranked"][0];
    assert_eq!(
        top["features"],
        serde_json::json!(["loan_to_income"]),
        "{drift}"
    );
    let failing = check.metrics["mismatched_single"].as_u64().unwrap();
    assert!(
        top["cases"].as_u64().unwrap() * 100 >= failing * 95,
        "{} of {failing} explained",
        top["cases"]
    );
    assert!(
        why.contains("`loan_to_income`: trained ") && why.contains(", served a value "),
        "{why}"
    );
    // The image is otherwise fine: right architecture, right model.
    assert_eq!(status(&report, CheckId::Provenance), Status::Passed);
}

#[test]
fn a_category_served_as_another_is_named_by_the_drift_search() {
    let _serial = serial();
    let (_context, _scratch, spec) = variant(
        "models/features.py",
        "f[\"home_ownership\"] = applicant[\"home_ownership\"]",
        "f[\"home_ownership\"] = {\"MORTGAGE\": \"RENT\"}.get(applicant[\"home_ownership\"], applicant[\"home_ownership\"])",
    );
    let report = run(spec);
    golden_replay_failed(
        &report,
        "`home_ownership` alone explains",
        "`home_ownership`: trained \"MORTGAGE\", served \"RENT\"",
    );
}

#[test]
fn float32_probabilities_are_blamed_on_rounding_not_on_a_feature() {
    let _serial = serial();
    let (_context, _scratch, spec) = variant(
        "examples/python-function/handler.py",
        "\"probability\": proba[:, positive],",
        "\"probability\": proba[:, positive].astype(np.float32),",
    );
    let report = run(spec);
    let check = golden_replay_failed(
        &report,
        "differ at the size of float32 rounding, not by a feature",
        "the difference is at the size of float32 rounding, not a feature's",
    );
    let ranked = &check.metrics["drift"]["ranked"];
    assert_eq!(ranked.as_array().unwrap().len(), 1, "{ranked}");
    assert_eq!(ranked[0]["kind"], "rounding");
}

#[test]
fn an_x86_64_python_image_gated_as_arm64_fails_architecture() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let report = run(taking_image(quick(Arch::Arm64, 20, scratch.path())));
    assert_eq!(status(&report, CheckId::Architecture), Status::Failed);
    let why = details(&report, CheckId::Architecture);
    assert!(
        why.contains("/usr/bin/python3.11 is a dynamic ELF built for x86_64"),
        "{why}"
    );
    assert!(
        why.contains("from a base image for arm64 with --platform linux/arm64"),
        "{why}"
    );
    assert!(
        !why.contains("--target"),
        "no static-binary advice for Python: {why}"
    );
}
