//! Every failure says its one cause: a check whose basis failed is not judged, instead of
//! failing as a knock-on, and the verdict names the first cause.
//!
//! - An image for another architecture: init and every check after it are not judged (starting
//!   it would fail in Docker's words, a pull of the other platform that reads like a network
//!   problem).
//! - Stale goldens (the image's model is not the goldens'): provenance and golden replay fail;
//!   the malformed checks, whose recovery is judged by a golden case golden replay found right,
//!   are not judged when there is none.
//! - Golden files out of step with their manifest (an event edited or a case dropped after the
//!   predictions were computed): golden replay fails with what is out of step, as `golden
//!   check` says it (exit 1, not a setup error), and nothing is judged by the goldens.

use crate::support::*;
use harness::{Arch, CheckId, Overrides, Status};
use std::path::Path;

const CLASSIFIER: &str = "harness/fixtures/classifier/lambda-gate.toml";

/// The checks of `report` that ended with `status`.
fn with_status(report: &harness::Report, status: Status) -> Vec<CheckId> {
    report
        .checks
        .iter()
        .filter(|c| c.status == status)
        .map(|c| c.name)
        .collect()
}

#[test]
fn an_image_for_another_architecture_leaves_the_function_checks_not_judged() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let scratch = tempfile::tempdir().unwrap();
    let report = run(spec_with(
        CLASSIFIER,
        &Overrides {
            image: Some(image),
            ..quick(Arch::Arm64, 10, scratch.path())
        },
    ));
    assert_eq!(
        with_status(&report, Status::Failed),
        [CheckId::Architecture]
    );
    assert_eq!(
        with_status(&report, Status::NotJudged),
        [
            CheckId::Init,
            CheckId::GoldenReplay,
            CheckId::MalformedCorpus,
            CheckId::MalformedGenerated,
            CheckId::LambdaLimits
        ]
    );
    let init = report.check(CheckId::Init).unwrap();
    assert_eq!(init.cause, Some(CheckId::Architecture));
    assert_eq!(
        init.summary,
        "not judged: the image cannot run as an arm64 function (see architecture)"
    );
    assert!(report.rie.is_none(), "no container was started");
    assert_eq!(
        report.first_cause().map(|c| c.name),
        Some(CheckId::Architecture)
    );
}

/// A build context for the classifier's Dockerfile: its binary (as `before` staged it) and its
/// model with every class's bias shifted, so every prediction differs from the goldens'.
fn retrained_classifier(dir: &Path) {
    let staged = workspace().join("target/gate-fixtures/classifier");
    std::fs::copy(staged.join("gate-fixture"), dir.join("gate-fixture")).unwrap();
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(staged.join("model.json")).unwrap()).unwrap();
    model["scale_and_bias"][1] = serde_json::json!([0.5, 0.25, -0.25, -0.5]);
    std::fs::write(dir.join("model.json"), serde_json::to_vec(&model).unwrap()).unwrap();
}

#[test]
fn stale_goldens_fail_provenance_and_golden_replay_and_judge_nothing_by_them() {
    let _serial = serial();
    build(CLASSIFIER, Arch::X86_64);
    let context = tempfile::tempdir().unwrap();
    retrained_classifier(context.path());
    let scratch = tempfile::tempdir().unwrap();
    let fixture = workspace().join("harness/fixtures/classifier");
    let spec = spec_edited(
        CLASSIFIER,
        build_from(
            &fixture.join("Dockerfile"),
            context.path(),
            "gate-fixture-classifier-retrained",
        ),
        &quick(Arch::X86_64, 30, scratch.path()),
    );
    let report = run(spec);
    assert_eq!(
        with_status(&report, Status::Failed),
        [CheckId::Provenance, CheckId::GoldenReplay],
        "exactly the checks that are wrong fail"
    );
    assert_eq!(
        with_status(&report, Status::NotJudged),
        [CheckId::MalformedCorpus, CheckId::MalformedGenerated]
    );
    for id in [CheckId::MalformedCorpus, CheckId::MalformedGenerated] {
        let check = report.check(id).unwrap();
        assert_eq!(check.cause, Some(CheckId::GoldenReplay), "{id}");
        assert!(
            check.summary.starts_with(
                "not judged: no golden case got its training-time prediction in golden-replay"
            ),
            "{id}: {}",
            check.summary
        );
        assert!(check.details.is_empty(), "{id}: {:?}", check.details);
    }
    assert_eq!(
        report.first_cause().map(|c| c.name),
        Some(CheckId::Provenance)
    );
    let text = report.render(100, false);
    assert!(
        text.contains(
            "  first cause: provenance: the model in the image is not the model the goldens came from"
        ),
        "{text}"
    );
}

#[test]
fn a_batch_that_hangs_is_named_by_its_cases_and_the_checks_after_the_stop_are_not_judged() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let overrides = with_fault(quick(Arch::X86_64, 20, scratch.path()), "hang-batch");
    let spec = spec_edited(
        "harness/fixtures/regressor/lambda-gate.toml",
        |table| {
            section(table, "function").insert("timeout_s".to_owned(), 2.into());
        },
        &overrides,
    );
    let report = run(spec);
    let replay = report.check(CheckId::GoldenReplay).unwrap();
    assert_eq!(replay.status, Status::Failed);
    let first = &replay.details[0];
    assert!(
        first.starts_with("a batch of 64 (row-0000..row-0063) got ")
            && first.ends_with(
                "though each of its cases got a prediction alone: the batch itself fails"
            ),
        "{first}"
    );
    assert!(
        !replay.details.iter().any(|d| d.starts_with("row-0000")),
        "not a problem of the batch's first case: {:?}",
        replay.details
    );
    for id in [CheckId::MalformedCorpus, CheckId::MalformedGenerated] {
        let check = report.check(id).unwrap();
        assert_eq!(check.status, Status::NotJudged, "{id}: {}", check.summary);
        assert_eq!(check.cause, Some(CheckId::GoldenReplay), "{id}");
    }
    assert_eq!(
        report.first_cause().map(|c| c.name),
        Some(CheckId::GoldenReplay)
    );
}

#[test]
fn golden_files_out_of_step_with_their_manifest_fail_golden_replay_not_the_run() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let goldens = tempfile::tempdir().unwrap();
    let fixture = workspace().join("harness/fixtures/classifier/golden");
    for file in ["expected.jsonl", "manifest.json"] {
        std::fs::copy(fixture.join(file), goldens.path().join(file)).unwrap();
    }
    // The last event dropped after the predictions were computed.
    let inputs = std::fs::read_to_string(fixture.join("inputs.jsonl")).unwrap();
    let kept: Vec<&str> = inputs.lines().collect();
    let dropped = kept[kept.len() - 1];
    let dropped_id = serde_json::from_str::<serde_json::Value>(dropped).unwrap()["case_id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(
        goldens.path().join("inputs.jsonl"),
        kept[..kept.len() - 1].join("\n") + "\n",
    )
    .unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let dir = goldens.path().display().to_string();
    let spec = spec_edited(
        CLASSIFIER,
        move |table| {
            section(table, "goldens").insert("dir".to_owned(), dir.into());
        },
        &Overrides {
            image: Some(image),
            ..quick(Arch::X86_64, 10, scratch.path())
        },
    );
    let report = run(spec);
    assert!(!report.passed());
    assert_eq!(
        with_status(&report, Status::Failed),
        [CheckId::GoldenReplay],
        "only the check that replays the goldens fails"
    );
    let replay = report.check(CheckId::GoldenReplay).unwrap();
    assert_eq!(
        replay.summary,
        "the golden files are out of step with their manifest"
    );
    let details = replay.details.join("\n");
    assert!(
        details.contains("inputs.jsonl has sha256")
            && details.contains(&format!(
                "1 case is in expected.jsonl but not in inputs.jsonl: {dropped_id}"
            ))
            && details.contains("golden regen"),
        "{details}"
    );
    assert_eq!(
        report.first_cause().map(|c| c.name),
        Some(CheckId::GoldenReplay)
    );
}
