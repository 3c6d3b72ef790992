//! Functions whose contracts differ from the loan service's in every point pass the gate
//! through their own `lambda-gate.toml`, and broken variants of them fail the check meant for
//! the fault, with exit 1 from the CLI. Nothing in the gate knows these contracts.
//!
//! - `harness/fixtures/classifier`: no batches, the event is the whole body, the answer a bare
//!   list of multiclass probabilities, `ValidationError`; started by `ENTRYPOINT` + `CMD`.
//! - `harness/fixtures/regressor`: batches of `instances`, answers under `outputs` with a
//!   `request_id` echo, regression, `MalformedRequest` / `TooManyInstances`; only `CMD`.
//!
//! Both are static Rust functions built `FROM scratch` and run under the real RIE.

use crate::support::*;
use harness::{Arch, CheckId, Status};

const CLASSIFIER: &str = "harness/fixtures/classifier/lambda-gate.toml";
const REGRESSOR: &str = "harness/fixtures/regressor/lambda-gate.toml";

#[test]
fn a_classifier_started_by_entrypoint_and_cmd_passes_through_its_spec() {
    let _serial = serial();
    let report = run(spec(CLASSIFIER));
    assert_all_pass(&report);
    let facts = report.image_facts.as_ref().unwrap();
    assert_eq!(facts.entrypoint, ["/var/runtime/gate-fixture"]);
    assert_eq!(
        facts.cmd,
        ["classifier"],
        "the role is in CMD: dropping it breaks init"
    );
}

#[test]
fn a_batch_regressor_started_by_cmd_alone_passes_through_its_spec() {
    let _serial = serial();
    let report = run(spec(REGRESSOR));
    assert_all_pass(&report);
    let facts = report.image_facts.as_ref().unwrap();
    assert!(facts.entrypoint.is_empty(), "{:?}", facts.entrypoint);
    let replay = report.check(CheckId::GoldenReplay).unwrap();
    assert!(replay.summary.contains("in batches"), "{}", replay.summary);
}

/// `lambda-gate verify` of `spec` with the fixture broken by `fault`: exit 1, `check` failed,
/// and what it says contains `expect`.
fn caught(spec: &str, fault: &str, check: &str, expect: &str) {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let reports = scratch.path().join("reports");
    let (code, stdout, stderr) = output(
        cli()
            .arg("--config")
            .arg(spec)
            .args(["verify", "--generated-cases", "40", "--env"])
            .arg(format!("FIXTURE_FAULT={fault}"))
            .arg("--report-dir")
            .arg(&reports)
            .env("XDG_CACHE_HOME", scratch.path()),
    );
    assert_eq!(
        code,
        Some(1),
        "{fault}: exit 1 expected\n{stdout}\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reports.join("gate-x86_64.json")).expect("the JSON report"),
    )
    .unwrap();
    let found = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == check)
        .unwrap_or_else(|| panic!("no {check} in {report}"));
    assert_eq!(
        found["status"], "failed",
        "{fault}: {check} must fail\n{stdout}"
    );
    let details: Vec<&str> = found["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    let text = format!("{}\n{}", found["summary"], details.join("\n"));
    assert!(text.contains(expect), "{fault}: {check} says\n{text}");
}

#[test]
fn serving_time_feature_skew_in_the_classifier_fails_golden_replay() {
    caught(CLASSIFIER, "skew", "golden-replay", "/probability/");
}

#[test]
fn the_feature_echo_names_the_feature_the_function_computes_otherwise() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    // The regressor's model is not given: the function echoes its features instead.
    let spec = spec_edited(
        REGRESSOR,
        |table| {
            let mut drift = toml::Table::new();
            let mut echo = toml::Table::new();
            echo.insert("request".into(), "{\"echo_features\": \"$event\"}".into());
            echo.insert("features".into(), "/features".into());
            echo.insert("abs".into(), 1e-12.into());
            drift.insert("echo".into(), echo.into());
            table.insert("drift".into(), drift.into());
        },
        &with_fault(quick(Arch::X86_64, 20, scratch.path()), "skew"),
    );
    let report = run(spec);
    golden_replay_failed(
        &report,
        "the function computes `feature 0` otherwise than training in",
        "the function's features differ: `feature 0`: trained ",
    );
}

#[test]
fn the_drift_search_names_the_feature_the_rust_function_skews() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    // `skew`: the function adds 0.5 to its first float feature, `f0`.
    let report = run(spec_with(
        CLASSIFIER,
        &with_fault(quick(Arch::X86_64, 20, scratch.path()), "skew"),
    ));
    let check = golden_replay_failed(
        &report,
        "; `f0` alone explains",
        "explained by one feature alone: `f0`: trained ",
    );
    let failing = check.metrics["mismatched_single"].as_u64().unwrap();
    let top = &check.metrics["drift"]["ranked"][0];
    assert_eq!(top["features"], serde_json::json!(["f0"]));
    assert!(
        top["cases"].as_u64().unwrap() * 100 >= failing * 95,
        "{top} of {failing}"
    );
}

#[test]
fn a_classifier_that_panics_on_bad_input_fails_malformed_corpus() {
    caught(CLASSIFIER, "panic", "malformed-corpus", "crashed");
}

#[test]
fn a_regressor_that_forgets_the_request_id_fails_golden_replay() {
    caught(
        REGRESSOR,
        "drop-id",
        "golden-replay",
        "id at \"/request_id\" expected \"q-",
    );
}

#[test]
fn a_regressor_answering_outside_its_error_contract_fails_malformed_corpus() {
    caught(
        REGRESSOR,
        "wrong-error",
        "malformed-corpus",
        "outside its contract (Error: instances: empty); the contract's errorTypes are MalformedRequest, TooManyInstances",
    );
}

#[test]
fn init_is_judged_on_the_init_report_not_on_a_slow_first_request() {
    let _serial = serial();
    // Init is fast; the first invocation then takes 11 s. Lambda's 10 s limit is on init,
    // which the RIE reports as `INIT REPORT(durationMs)`: init passes, and the slow request
    // is shown beside it.
    let scratch = tempfile::tempdir().unwrap();
    let overrides = with_fault(
        quick(Arch::X86_64, 20, scratch.path()),
        "slow-first-request",
    );
    let report = run(spec_with(CLASSIFIER, &overrides));
    let init = report.check(CheckId::Init).unwrap();
    assert_eq!(
        init.status,
        Status::Passed,
        "{}",
        details(&report, CheckId::Init)
    );
    let reported = init.metrics["init_report_ms"].as_f64().unwrap();
    let first = init.metrics["first_invocation_ms"].as_f64().unwrap();
    assert!(reported < 5_000.0, "INIT REPORT {reported} ms");
    assert!(first > 10_000.0, "first request {first} ms");
}

#[test]
fn invoke_sends_one_golden_case_and_prints_the_answer_and_the_rie_report() {
    let _serial = serial();
    let (code, stdout, stderr) =
        output(cli().args(["--config", CLASSIFIER, "-q", "invoke", "--case", "row-0000"]));
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    // The function's bytes, not the gate's re-serialisation (which was pretty-printed).
    assert!(
        stdout.starts_with('[') && !stdout.contains(char::is_whitespace),
        "{stdout:?}"
    );
    let answer: Vec<f64> = serde_json::from_str(&stdout).unwrap();
    let expected: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(
            workspace().join("harness/fixtures/classifier/golden/expected.jsonl"),
        )
        .unwrap()
        .lines()
        .next()
        .unwrap(),
    )
    .unwrap();
    let probabilities = expected["prediction"]["probability"].as_array().unwrap();
    assert_eq!(answer.len(), probabilities.len());
    for (a, e) in answer.iter().zip(probabilities) {
        assert!((a - e.as_f64().unwrap()).abs() < 1e-12, "{stdout}");
    }
    assert!(stderr.contains("INIT REPORT(durationMs:"), "{stderr}");
    assert!(stderr.contains("REPORT RequestId:"), "{stderr}");

    let (code, stdout, _) =
        output(cli().args(["--config", CLASSIFIER, "-q", "invoke", "--data", "[]"]));
    assert_eq!(code, Some(1), "an error answer exits 1: {stdout}");
    // In the function's key order (the gate's rebuilt body sorted the keys and kept only
    // these two, dropping a Python stackTrace).
    assert!(
        stdout.starts_with("{\"errorType\":\"ValidationError\",\"errorMessage\":"),
        "{stdout:?}"
    );
    let answer: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["errorType"], "ValidationError", "{stdout}");
}

#[test]
fn two_jobs_give_the_verdicts_and_seeds_of_one() {
    let _serial = serial();
    // A broken function, so that there is a failure to find and shrink; both runs keep their
    // regressions in the same place, one after the other.
    let scratch = tempfile::tempdir().unwrap();
    let run_with = |jobs: usize| {
        let overrides = with_fault(quick(Arch::X86_64, 300, scratch.path()), "panic");
        let regressions = regressions(scratch.path());
        let report = run_jobs(spec_with(CLASSIFIER, &overrides), jobs);
        let saved = std::fs::read_to_string(&regressions).unwrap_or_default();
        let _ = std::fs::remove_file(&regressions);
        (report, saved)
    };
    let (one, one_saved) = run_with(1);
    let (two, two_saved) = run_with(2);
    for (a, b) in one.checks.iter().zip(&two.checks) {
        assert_eq!(a.name, b.name);
        assert_eq!(a.status, b.status, "{}", a.name);
        if a.name != CheckId::LambdaLimits && a.name != CheckId::Init {
            assert_eq!(a.details, b.details, "{}", a.name);
            assert_eq!(a.cases, b.cases, "{}", a.name);
        }
    }
    assert_eq!(status(&one, CheckId::MalformedGenerated), Status::Failed);
    assert!(!one_saved.is_empty(), "the failure's seed is saved");
    assert_eq!(one_saved, two_saved, "the same seed is saved either way");
}
