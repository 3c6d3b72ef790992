//! The gate against real Docker, the real RIE and real images: the shipped images pass, and a
//! deliberately broken image is caught by the check meant for it.
//!
//! These tests need a Docker engine, and arm64 emulation (qemu binfmt) on x86_64 machines.
//! Without them they fail with the gate's own message naming the fix; they never pass silently.
//! They run one at a time: the RIE serves one request at a time, and emulated containers are
//! slow enough without competing for two cores.

use harness::{Arch, BuildOptions, GateConfig, ImageSource, Progress, Report, Status};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness lives in the workspace")
        .to_path_buf()
}

/// One gate run at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn build(options: &BuildOptions) -> String {
    harness::build(options, Progress::stderr())
        .unwrap_or_else(|e| panic!("building the image failed:\n{e}"))
        .reference
}

/// The shipped x86_64 image, built once for the tests that reuse it.
fn x86_64_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| build(&BuildOptions::new(Arch::X86_64, workspace())))
}

fn run(config: &GateConfig) -> Report {
    let report = harness::verify(config).unwrap_or_else(|e| panic!("the gate could not run:\n{e}"));
    eprintln!("{}", report.table());
    report
}

fn status(report: &Report, check: &str) -> Status {
    report
        .check(check)
        .unwrap_or_else(|| panic!("no {check} check in the report"))
        .status
}

fn details(report: &Report, check: &str) -> String {
    report
        .check(check)
        .map(|c| c.details.join("\n"))
        .unwrap_or_default()
}

fn assert_all_pass(report: &Report) {
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

#[test]
fn the_shipped_arm64_image_passes_every_check() {
    let _serial = serial();
    let report = run(&GateConfig::new(Arch::Arm64, workspace()));
    assert_all_pass(&report);
    let generated = report.check("malformed-generated").unwrap();
    assert!(
        generated.cases >= 1000,
        "{} generated cases",
        generated.cases
    );
    let golden = report.check("golden-replay").unwrap();
    assert!(golden.cases >= 400, "{} golden invocations", golden.cases);
}

#[test]
fn the_shipped_x86_64_image_passes_every_check() {
    let _serial = serial();
    let mut config = GateConfig::new(Arch::X86_64, workspace());
    config.image = ImageSource::Existing(x86_64_image().to_owned());
    assert_all_pass(&run(&config));
}

#[test]
fn an_x86_64_image_for_an_arm64_function_is_caught() {
    let _serial = serial();
    let mut config = GateConfig::new(Arch::Arm64, workspace());
    config.image = ImageSource::Existing(x86_64_image().to_owned());
    config.generated_cases = 50;
    let report = run(&config);
    assert!(!report.passed());
    assert_eq!(status(&report, "architecture"), Status::Failed);
    let why = details(&report, "architecture");
    assert!(why.contains("config says linux/amd64"), "{why}");
    assert!(why.contains("built for x86_64"), "{why}");
}

#[test]
fn an_image_whose_model_differs_from_the_goldens_is_caught() {
    let _serial = serial();
    // A retrained-looking model: every raw score shifted, the export kept self-consistent
    // (metadata.json names the new sha256), so the function starts and serves.
    let dir = tempfile::tempdir().unwrap();
    let artifacts = workspace().join("models/artifacts");
    for name in ["feature_set.json", "metadata.json", "model.json"] {
        std::fs::copy(artifacts.join(name), dir.path().join(name)).unwrap();
    }
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("model.json")).unwrap()).unwrap();
    let bias = &mut model["scale_and_bias"][1][0];
    *bias = serde_json::json!(bias.as_f64().unwrap() + 0.25);
    let model_json = serde_json::to_vec(&model).unwrap();
    std::fs::write(dir.path().join("model.json"), &model_json).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&model_json))
    };
    let mut metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("metadata.json")).unwrap()).unwrap();
    metadata["model_sha256"] = serde_json::json!(sha);
    std::fs::write(
        dir.path().join("metadata.json"),
        serde_json::to_vec(&metadata).unwrap(),
    )
    .unwrap();

    let mut options = BuildOptions::new(Arch::X86_64, workspace());
    options.model_dir = Some(dir.path().to_path_buf());
    let mut config = GateConfig::new(Arch::X86_64, workspace());
    config.image = ImageSource::Existing(build(&options));
    config.generated_cases = 50;
    let report = run(&config);
    assert!(!report.passed());
    assert_eq!(status(&report, "provenance"), Status::Failed);
    let why = details(&report, "provenance");
    assert!(why.contains(&sha) && why.contains("golden regen"), "{why}");
    assert_eq!(status(&report, "golden-replay"), Status::Failed);
    let why = details(&report, "golden-replay");
    assert!(why.contains("probability expected"), "{why}");
    assert!(why.contains("difference"), "{why}");
}

#[test]
fn a_handler_that_panics_on_bad_input_is_caught() {
    let _serial = serial();
    let mut options = BuildOptions::new(Arch::X86_64, workspace());
    options.features = vec!["fault-injection".to_owned()];
    let mut config = GateConfig::new(Arch::X86_64, workspace());
    config.image = ImageSource::Existing(build(&options));
    config.generated_cases = 50;
    // Its failures are expected: keep them out of the project's regressions file.
    let scratch = tempfile::tempdir().unwrap();
    config.regressions = scratch.path().join("regressions.txt");
    let report = run(&config);
    assert!(!report.passed());
    assert!(
        std::fs::read_to_string(&config.regressions).is_ok_and(|s| s.contains("cc ")),
        "the shrunk failure is persisted"
    );
    // Valid input still works; bad input crashes the handler instead of getting an error.
    assert_eq!(status(&report, "golden-replay"), Status::Passed);
    assert_eq!(status(&report, "malformed-corpus"), Status::Failed);
    let why = details(&report, "malformed-corpus");
    assert!(why.contains("crashed"), "{why}");
    assert_eq!(status(&report, "malformed-generated"), Status::Failed);
}

#[test]
fn an_image_over_the_size_budget_is_caught() {
    let _serial = serial();
    let mut config = GateConfig::new(Arch::X86_64, workspace());
    config.image = ImageSource::Existing(x86_64_image().to_owned());
    config.max_image_size = 1024 * 1024;
    config.generated_cases = 50;
    let report = run(&config);
    assert!(!report.passed());
    assert_eq!(status(&report, "image-size"), Status::Failed);
    let why = details(&report, "image-size");
    assert!(why.contains("over the budget of 1.0 MiB"), "{why}");
    assert!(
        why.contains("layer 0:"),
        "per-layer sizes are listed: {why}"
    );
    // Everything else about the image is fine.
    assert_eq!(status(&report, "golden-replay"), Status::Passed);
}

fn harness_cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_harness"));
    command.current_dir(workspace());
    command
}

#[test]
fn harness_build_prints_the_image_reference_as_its_last_line() {
    let _serial = serial();
    let output = harness_cli()
        .args(["build", "--arch", "arm64"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let reference = stdout.lines().last().expect("a line on stdout");
    assert!(
        reference.starts_with("loan-grade-service:arm64-"),
        "{stdout}"
    );
    let inspect = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Architecture}}",
            reference,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), "arm64");
}

#[test]
fn harness_verify_exit_codes_and_report_files() {
    let _serial = serial();
    let reports = tempfile::tempdir().unwrap();
    let summary = reports.path().join("step-summary.md");
    let output = harness_cli()
        .args([
            "verify",
            "--arch",
            "x86_64",
            "--generated-cases",
            "20",
            "--image",
        ])
        .arg(x86_64_image())
        .arg("--max-image-size")
        .arg("1MiB")
        .arg("--report-dir")
        .arg(reports.path())
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a failed check exits 1:\n{stdout}"
    );
    assert!(
        stdout.contains("FAIL") && stdout.contains("image-size"),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(reports.path().join("gate-x86_64.junit.xml")).unwrap();
    assert!(junit.contains("<testcase name=\"image-size\""), "{junit}");
    assert!(junit.contains("<failure"), "{junit}");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.path().join("gate-x86_64.json")).unwrap())
            .unwrap();
    assert_eq!(json["checks"].as_array().unwrap().len(), 8);
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.contains("| image-size | ❌ FAIL"), "{markdown}");

    let output = harness_cli()
        .args(["verify", "--image", "loan-grade-service:no-such-tag"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a setup error exits 2:\n{stderr}"
    );
    assert!(
        stderr.contains("not in the local Docker image store"),
        "{stderr}"
    );
}

#[test]
fn without_docker_the_gate_says_what_to_do() {
    let output = harness_cli()
        .args(["verify", "--arch", "x86_64"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("Docker is not reachable"), "{stderr}");
    assert!(stderr.contains("Start the Docker daemon"), "{stderr}");
}
