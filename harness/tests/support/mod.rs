//! Helpers shared by the gate's integration tests (each test binary uses a part of them).
#![allow(dead_code)]

pub(crate) mod registry;

use harness::{Arch, GateConfig, ImageSource, Progress, Report, Spec, Status};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

/// The repository root.
pub(crate) fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness lives in the workspace")
        .to_path_buf()
}

/// One gate run at a time: the RIE serves one request at a time, and emulated containers are
/// slow enough without competing for two cores.
pub(crate) fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A spec file of the repository, e.g. `lambda-gate.toml` or
/// `harness/fixtures/classifier/lambda-gate.toml`.
pub(crate) fn spec(relative: &str) -> Spec {
    let path = workspace().join(relative);
    Spec::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// `spec` for `arch`, its regressions kept in `scratch` (expected failures stay out of the
/// user's cache) and at most `generated` generated payloads.
pub(crate) fn quick(mut spec: Spec, arch: Arch, generated: u32, scratch: &Path) -> Spec {
    spec.function.arch = arch;
    spec.generated.cases = generated;
    spec.generated.regressions = scratch.join("regressions.txt");
    spec
}

/// Builds the spec's image for `arch` and returns its reference.
pub(crate) fn build(spec: &Spec, arch: Arch) -> String {
    let ImageSource::Build(build) = &spec.image.source else {
        panic!("{} does not build its image", spec.path.display());
    };
    harness::build(build, arch, &spec.root, &Progress::stderr())
        .unwrap_or_else(|e| panic!("building the image failed:\n{e}"))
        .reference
}

/// Runs the gate and prints its table.
pub(crate) fn run(spec: Spec) -> Report {
    let report = harness::verify(&GateConfig::new(spec))
        .unwrap_or_else(|e| panic!("the gate could not run:\n{e}"));
    eprintln!("{}", report.table());
    report
}

pub(crate) fn status(report: &Report, check: &str) -> Status {
    report
        .check(check)
        .unwrap_or_else(|| panic!("no {check} check in the report"))
        .status
}

pub(crate) fn details(report: &Report, check: &str) -> String {
    report
        .check(check)
        .map(|c| format!("{}\n{}", c.summary, c.details.join("\n")))
        .unwrap_or_default()
}

pub(crate) fn assert_all_pass(report: &Report) {
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{}: {}\n{}", c.name, c.summary, c.details.join("\n")))
        .collect();
    assert!(failed.is_empty(), "checks failed:\n{}", failed.join("\n\n"));
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "architecture",
            "image-size",
            "provenance",
            "init",
            "golden-replay",
            "malformed-corpus",
            "malformed-generated",
            "lambda-limits"
        ]
    );
}

/// The `lambda-gate` binary, run from the repository root.
pub(crate) fn cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lambda-gate"));
    command.current_dir(workspace());
    command
}

/// Runs `command`; returns the exit code, stdout and stderr.
pub(crate) fn output(command: &mut Command) -> (Option<i32>, String, String) {
    let output = command.output().expect("run lambda-gate");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Every file below `dir` (relative paths), for "the gate wrote nothing here" checks.
pub(crate) fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap_or(&path).to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// A project directory holding only a spec of the reference function that takes `image` (as
/// an x86_64 function) and copies of its goldens: what a team's repository holds. The spec's
/// compile command and model source point back at this workspace.
pub(crate) fn reference_project(image: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = workspace();
    std::fs::create_dir_all(dir.path().join("golden/malformed")).expect("mkdir");
    for file in [
        "golden/inputs.jsonl",
        "golden/expected.jsonl",
        "golden/manifest.json",
        "golden/malformed/cases.json",
    ] {
        std::fs::copy(root.join(file), dir.path().join(file)).expect("copy");
    }
    let text = std::fs::read_to_string(root.join("lambda-gate.toml")).expect("the spec");
    let start = text.find("[image]").expect("[image]");
    let end = text.find("[contract]").expect("[contract]");
    let text = format!(
        "{}[image]\nreference = \"{image}\"\n\n{}",
        &text[..start],
        &text[end..]
    )
    .replace("architecture = \"arm64\"", "architecture = \"x86_64\"")
    .replace(
        "cargo run --release",
        &format!(
            "{} run --manifest-path {} --release",
            env!("CARGO"),
            root.join("Cargo.toml").display()
        ),
    )
    .replace(
        "source = \"models/artifacts/model.json\"",
        &format!(
            "source = \"{}\"",
            root.join("models/artifacts/model.json").display()
        ),
    );
    std::fs::write(dir.path().join("lambda-gate.toml"), text).expect("write the spec");
    dir
}

/// `catboost-compile --model model --out out`, built from this workspace.
pub(crate) fn compile_model(model: &Path, out: &Path) {
    let compiled = Command::new(env!("CARGO"))
        .args([
            "run",
            "--release",
            "--locked",
            "--quiet",
            "--package",
            "catboost-eval",
        ])
        .args(["--bin", "catboost-compile", "--", "--model"])
        .arg(model)
        .arg("--out")
        .arg(out)
        .current_dir(workspace())
        .status()
        .expect("cargo run catboost-compile");
    assert!(
        compiled.success(),
        "catboost-compile failed on {}",
        model.display()
    );
}
