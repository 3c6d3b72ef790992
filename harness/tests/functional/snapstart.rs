//! SnapStart readiness (`[snapstart]`), on the regressor fixture under the real RIE: the image
//! must opt in with its label, and what init computes must be the same in two environments,
//! since every environment restored from one snapshot shares it. `FIXTURE_INIT_ID` makes the
//! regressor report a value computed at init: `random` (unique per environment) or `model`
//! (derived from the model alone).

use crate::support::*;
use harness::{Arch, CheckId, Overrides, Status};
use std::path::Path;

const REGRESSOR: &str = "harness/fixtures/regressor/lambda-gate.toml";

/// The regressor's Dockerfile with the SnapStart opt-in label, written into `dir`.
fn labelled_dockerfile(dir: &Path) -> std::path::PathBuf {
    let fixture = workspace().join("harness/fixtures/regressor/Dockerfile");
    let text = std::fs::read_to_string(fixture).unwrap()
        + "LABEL com.amazonaws.lambda.feature.snapstart=\"Allow\"\n";
    let path = dir.join("Dockerfile");
    std::fs::write(&path, text).unwrap();
    path
}

/// The regressor as a SnapStart function reporting its init value at `/init_id`, built with
/// the label unless `label` is false, and run with `FIXTURE_INIT_ID=init_id`.
fn run_snapstart(label: bool, init_id: &str, echo: bool) -> harness::Report {
    // Stages the context (binary and model) and builds the plain image.
    let plain = build(REGRESSOR, Arch::X86_64);
    let scratch = tempfile::tempdir().unwrap();
    let dockerfile = labelled_dockerfile(scratch.path());
    let context = workspace().join("target/gate-fixtures/regressor");
    let mut overrides = quick(Arch::X86_64, 20, scratch.path());
    overrides
        .environment
        .push(("FIXTURE_INIT_ID".to_owned(), init_id.to_owned()));
    if !label {
        overrides.image = Some(plain);
    }
    let spec = spec_edited(
        REGRESSOR,
        |table| {
            if label {
                build_from(&dockerfile, &context, "gate-fixture-regressor-snapstart")(table);
            }
            let snapstart = section(table, "snapstart");
            if echo {
                snapstart.insert("init_echo".to_owned(), "/init_id".into());
            }
        },
        &overrides,
    );
    run(spec)
}

#[test]
fn a_value_computed_at_init_that_differs_between_environments_fails_snapstart() {
    let _serial = serial();
    let report = run_snapstart(true, "random", true);
    let check = report.check(CheckId::SnapStart).expect("a snapstart check");
    assert_eq!(check.status, Status::Failed, "{}", report.table());
    assert_eq!(check.details.len(), 1, "{:?}", check.details);
    assert!(
        check.details[0].contains("init computed /init_id = ")
            && check.details[0].contains("in one environment and"),
        "{:?}",
        check.details
    );
    // Only SnapStart's own rule fails: the function is otherwise right.
    let failed: Vec<CheckId> = report
        .checks
        .iter()
        .filter(|c| c.status == Status::Failed)
        .map(|c| c.name)
        .collect();
    assert_eq!(failed, [CheckId::SnapStart]);
}

#[test]
fn an_image_that_opts_in_and_computes_the_same_at_init_is_ready_for_snapstart() {
    let _serial = serial();
    let report = run_snapstart(true, "model", true);
    assert_all_pass(&report);
    let check = report.check(CheckId::SnapStart).expect("a snapstart check");
    assert!(
        check
            .summary
            .contains("init computed the same /init_id in two environments"),
        "{}",
        check.summary
    );
}

#[test]
fn an_image_without_the_opt_in_label_fails_snapstart_naming_the_label() {
    let _serial = serial();
    let report = run_snapstart(false, "model", false);
    let check = report.check(CheckId::SnapStart).expect("a snapstart check");
    assert_eq!(check.status, Status::Failed);
    assert!(
        check.details[0].contains("add `LABEL com.amazonaws.lambda.feature.snapstart=\"Allow\"`"),
        "{:?}",
        check.details
    );
    assert!(
        check.summary.contains("init not checked by behaviour"),
        "{}",
        check.summary
    );
    // A spec without [snapstart] has no such check.
    let plain = run(spec_with(
        REGRESSOR,
        &Overrides {
            image: Some(build(REGRESSOR, Arch::X86_64)),
            ..quick(Arch::X86_64, 20, tempfile::tempdir().unwrap().path())
        },
    ));
    assert!(plain.check(CheckId::SnapStart).is_none());
}
