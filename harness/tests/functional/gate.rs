//! The gate against real Docker, the real RIE and real images of the loan service: the shipped
//! images pass through the root `lambda-gate.toml`, and a deliberately broken image is caught
//! by the check meant for it.
//!
//! These tests need a Docker engine, and arm64 emulation (qemu binfmt) on x86_64 machines.
//! Without them they fail with the gate's own message naming the fix; they never pass silently.

use crate::support::*;
use harness::{Arch, CheckId, Overrides, Spec, Status};
use std::path::Path;
use std::sync::OnceLock;

const LOAN: &str = "lambda-gate.toml";

/// The shipped x86_64 image, built once for the tests that reuse it.
fn x86_64_image() -> &'static str {
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE.get_or_init(|| build(LOAN, Arch::X86_64))
}

/// The loan spec taking the x86_64 image, with `overrides` besides.
fn taking_x86_64(overrides: Overrides) -> Spec {
    spec_with(
        LOAN,
        &Overrides {
            image: Some(x86_64_image().to_owned()),
            ..overrides
        },
    )
}

#[test]
fn the_shipped_arm64_image_passes_every_check() {
    let _serial = serial();
    let spec = spec(LOAN);
    assert_eq!(spec.arch(), Arch::Arm64, "the spec deploys arm64");
    let goldens = golden_count("golden");
    let report = run(spec);
    assert_all_pass(&report);
    let generated = report.check(CheckId::MalformedGenerated).unwrap();
    assert!(
        generated.cases.is_some_and(|n| n >= 1000),
        "{:?} generated cases",
        generated.cases
    );
    let golden = report.check(CheckId::GoldenReplay).unwrap();
    // Cases, not requests: the batches replay the same cases (302, not 303).
    assert_eq!(golden.cases, Some(goldens));
}

#[test]
fn the_shipped_x86_64_image_passes_every_check() {
    let _serial = serial();
    let spec = taking_x86_64(Overrides {
        arch: Some(Arch::X86_64),
        ..Overrides::default()
    });
    let report = run(spec);
    assert_all_pass(&report);
    let init = report.check(CheckId::Init).unwrap();
    assert!(
        init.metrics.contains_key("init_report_ms"),
        "init is the RIE's INIT REPORT: {:?}",
        init.metrics
    );
}

#[test]
fn an_x86_64_image_for_an_arm64_function_is_caught() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let report = run(taking_x86_64(quick(Arch::Arm64, 50, scratch.path())));
    assert!(!report.passed());
    assert_eq!(status(&report, CheckId::Architecture), Status::Failed);
    let why = details(&report, CheckId::Architecture);
    assert!(why.contains("config says linux/amd64"), "{why}");
    assert!(why.contains("static ELF built for x86_64"), "{why}");
    assert!(why.contains("--target aarch64-unknown-linux-musl"), "{why}");
}

/// A build context holding the x86_64 bootstrap, the model files of `model_dir` and their
/// compiled model, as the root Dockerfile expects them.
fn stage_context(dir: &Path, bootstrap: &Path, model_dir: &Path) {
    std::fs::create_dir_all(dir.join("target/lambda/bootstrap")).unwrap();
    std::fs::create_dir_all(dir.join("target/lambda/model")).unwrap();
    std::fs::create_dir_all(dir.join("models/artifacts")).unwrap();
    std::fs::copy(bootstrap, dir.join("target/lambda/bootstrap/bootstrap")).unwrap();
    for name in ["feature_set.json", "metadata.json", "model.json"] {
        std::fs::copy(
            model_dir.join(name),
            dir.join("models/artifacts").join(name),
        )
        .unwrap();
    }
    compile_model(
        &model_dir.join("model.json"),
        &dir.join("target/lambda/model/model.compiled"),
    );
}

fn release_binary(target_dir: &str, arch: Arch, name: &str) -> std::path::PathBuf {
    workspace()
        .join(target_dir)
        .join(arch.rust_target())
        .join("release")
        .join(name)
}

/// The goldens' model sha256.
fn spec_sha() -> String {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace().join("golden/manifest.json")).unwrap())
            .unwrap();
    manifest["model_sha256"].as_str().unwrap().to_owned()
}

#[test]
fn an_image_whose_model_differs_from_the_goldens_is_caught() {
    let _serial = serial();
    x86_64_image();
    // A retrained-looking model: every raw score shifted, the export kept self-consistent
    // (metadata.json names the new sha256), so the function starts and serves.
    let models = tempfile::tempdir().unwrap();
    let artifacts = workspace().join("models/artifacts");
    for name in ["feature_set.json", "metadata.json", "model.json"] {
        std::fs::copy(artifacts.join(name), models.path().join(name)).unwrap();
    }
    let mut model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.path().join("model.json")).unwrap()).unwrap();
    let bias = &mut model["scale_and_bias"][1][0];
    *bias = serde_json::json!(bias.as_f64().unwrap() + 0.25);
    let model_json = serde_json::to_vec(&model).unwrap();
    std::fs::write(models.path().join("model.json"), &model_json).unwrap();
    let sha = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&model_json))
    };
    let mut metadata: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.path().join("metadata.json")).unwrap())
            .unwrap();
    metadata["model_sha256"] = serde_json::json!(sha);
    std::fs::write(
        models.path().join("metadata.json"),
        serde_json::to_vec(&metadata).unwrap(),
    )
    .unwrap();

    let context = tempfile::tempdir().unwrap();
    stage_context(
        context.path(),
        &release_binary("target", Arch::X86_64, "bootstrap"),
        models.path(),
    );
    let scratch = tempfile::tempdir().unwrap();
    let spec = spec_edited(
        LOAN,
        build_from(
            &workspace().join("Dockerfile"),
            context.path(),
            "loan-grade-retrained",
        ),
        &quick(Arch::X86_64, 50, scratch.path()),
    );
    let report = run(spec);
    assert!(!report.passed());
    assert_eq!(status(&report, CheckId::Provenance), Status::Failed);
    let why = details(&report, CheckId::Provenance);
    assert!(
        why.contains("is not what provenance.compile makes from")
            && why.contains("models/artifacts/model.json"),
        "{why}"
    );
    // The image was compiled from the retrained model, whose sha256 it says.
    assert_ne!(sha, spec_sha());
    assert_eq!(status(&report, CheckId::GoldenReplay), Status::Failed);
    let why = details(&report, CheckId::GoldenReplay);
    assert!(why.contains("/probability: expected"), "{why}");
    assert!(why.contains("difference"), "{why}");
    // Every case is wrong twice over (its probability and the model sha256 it echoes), singly
    // and in its batch: both counts are of cases, not of problems.
    let golden = report.check(CheckId::GoldenReplay).unwrap();
    let cases = serde_json::json!(golden.cases);
    assert_eq!(
        golden.metrics["mismatched_single"], cases,
        "{:?}",
        golden.metrics
    );
    assert_eq!(
        golden.metrics["mismatched_in_batch"], cases,
        "{:?}",
        golden.metrics
    );
}

#[test]
fn a_handler_that_panics_on_bad_input_is_caught() {
    let _serial = serial();
    // The service built with its test-only fault: it panics on a bad payload.
    let fault_dir = "target/harness-fault-injection";
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--locked", "--package", "service"])
        .args(["--bin", "bootstrap", "--features", "fault-injection"])
        .args([
            "--target",
            Arch::X86_64.rust_target(),
            "--target-dir",
            fault_dir,
        ])
        .current_dir(workspace())
        .status()
        .unwrap();
    assert!(
        built.success(),
        "building the fault-injection bootstrap failed"
    );
    let context = tempfile::tempdir().unwrap();
    stage_context(
        context.path(),
        &release_binary(fault_dir, Arch::X86_64, "bootstrap"),
        &workspace().join("models/artifacts"),
    );
    let scratch = tempfile::tempdir().unwrap();
    let spec = spec_edited(
        LOAN,
        build_from(
            &workspace().join("Dockerfile"),
            context.path(),
            "loan-grade-fault-injection",
        ),
        &quick(Arch::X86_64, 50, scratch.path()),
    );
    let regressions = regressions(scratch.path());
    let report = run(spec);
    assert!(!report.passed());
    let saved = std::fs::read_to_string(&regressions);
    assert!(
        saved.as_ref().is_ok_and(|s| s.contains("cc ")),
        "the shrunk failure is persisted where the spec says ({}): {saved:?}",
        regressions.display()
    );
    // Valid input still works; bad input crashes the handler instead of getting an error.
    assert_eq!(status(&report, CheckId::GoldenReplay), Status::Passed);
    assert_eq!(status(&report, CheckId::MalformedCorpus), Status::Failed);
    let why = details(&report, CheckId::MalformedCorpus);
    assert!(why.contains("crashed"), "{why}");
    assert_eq!(status(&report, CheckId::MalformedGenerated), Status::Failed);
}

#[test]
fn an_image_over_the_size_budget_is_caught() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let spec = taking_x86_64(Overrides {
        max_image_size: Some(1024 * 1024),
        ..quick(Arch::X86_64, 50, scratch.path())
    });
    let report = run(spec);
    assert!(!report.passed());
    assert_eq!(status(&report, CheckId::ImageSize), Status::Failed);
    let why = details(&report, CheckId::ImageSize);
    assert!(why.contains("over the budget of 1.0 MiB"), "{why}");
    assert!(
        why.contains("layer 0:"),
        "per-layer sizes are listed: {why}"
    );
    // Everything else about the image is fine.
    assert_eq!(status(&report, CheckId::GoldenReplay), Status::Passed);
}

#[test]
fn build_prints_the_image_reference_as_its_last_line() {
    let _serial = serial();
    let (code, stdout, stderr) = output(cli().args(["build", "--arch", "arm64"]));
    assert_eq!(code, Some(0), "{stderr}");
    let reference = stdout.lines().last().expect("a line on stdout");
    assert!(
        reference.starts_with("loan-grade-service:arm64-"),
        "{stdout}"
    );
    let inspect = std::process::Command::new("docker")
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
fn verify_exit_codes_and_report_files() {
    let _serial = serial();
    let reports = tempfile::tempdir().unwrap();
    let summary = reports.path().join("step-summary.md");
    let (code, stdout, _) = output(
        cli()
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
            .env("GITHUB_STEP_SUMMARY", &summary),
    );
    assert_eq!(code, Some(1), "a failed check exits 1:\n{stdout}");
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
    assert_eq!(json["schema_version"], 2);
    // The gate that wrote it: its version and the commit it was built from.
    assert_eq!(json["gate"]["version"], env!("CARGO_PKG_VERSION"));
    let commit = json["gate"]["commit"].as_str().unwrap();
    let hex = commit.strip_suffix("-dirty").unwrap_or(commit);
    assert!(
        commit == "unknown" || (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    assert_eq!(json["verdict"], "failed");
    assert_eq!(json["checks"].as_array().unwrap().len(), 8);
    assert_eq!(json["function"], "loan-grade");
    // The golden replay passed: it says how close it came to its tolerance (abs 1e-9 on
    // /probability), and its mismatch counts are cases.
    let golden = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "golden-replay")
        .unwrap();
    assert_eq!(golden["status"], "passed", "{golden}");
    let largest = &golden["metrics"]["largest_diff"]["/probability"];
    assert_eq!(largest["tolerance"]["abs"], 1e-9, "{golden}");
    let diff = largest["abs"].as_f64().unwrap();
    assert!((0.0..=1e-9).contains(&diff), "{golden}");
    assert_eq!(golden["metrics"]["mismatched_in_batch"], 0, "{golden}");
    assert!(
        golden["summary"]
            .as_str()
            .unwrap()
            .contains("largest |diff| on /probability: "),
        "{golden}"
    );
    let markdown = std::fs::read_to_string(&summary).unwrap();
    assert!(markdown.contains("| image-size | ❌ FAIL"), "{markdown}");

    let (code, _, stderr) =
        output(cli().args(["verify", "--image", "loan-grade-service:no-such-tag"]));
    assert_eq!(code, Some(2), "a setup error exits 2:\n{stderr}");
    assert!(
        stderr.contains("not in the local Docker image store"),
        "{stderr}"
    );
}

#[test]
fn verify_writes_nothing_into_the_source_tree() {
    let _serial = serial();
    // A project that is only a spec and goldens: the run must leave the directory as it was
    // (regressions go to the user's cache, not the project).
    let project = reference_project(x86_64_image());
    let cache = tempfile::tempdir().unwrap();
    let before = files_below(project.path());
    let (code, stdout, stderr) = output(
        cli()
            .current_dir(project.path())
            .args(["verify", "--generated-cases", "30", "--env", "FAULT=none"])
            .env("XDG_CACHE_HOME", cache.path()),
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert_eq!(
        files_below(project.path()),
        before,
        "verify wrote into the project"
    );
}

#[test]
fn the_function_logs_as_lambdas_logging_controls_say() {
    let _serial = serial();
    x86_64_image();
    let (code, stdout, stderr) = output(cli().args([
        "-v",
        "invoke",
        "--arch",
        "x86_64",
        "--data",
        "{\"records\": 1}",
        "--env",
        "AWS_LAMBDA_LOG_FORMAT=JSON",
        "--env",
        "AWS_LAMBDA_LOG_LEVEL=error",
    ]));
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("| {\"level\":\"ERROR\""),
        "the runtime's error, logged as JSON:\n{stderr}"
    );
    assert!(
        !stderr.contains("\"level\":\"DEBUG\""),
        "AWS_LAMBDA_LOG_LEVEL=error leaves out debug lines:\n{stderr}"
    );
}

#[test]
fn without_docker_the_gate_says_what_to_do() {
    let (code, _, stderr) = output(
        cli()
            .args(["verify", "--arch", "x86_64"])
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("Docker is not reachable"), "{stderr}");
    assert!(stderr.contains("start the Docker daemon"), "{stderr}");
}
