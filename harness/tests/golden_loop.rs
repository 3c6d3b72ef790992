//! The retrain -> regen -> review -> accept -> verify loop, with the real training side (the
//! pinned Python environment in models/.venv, or `MODELS_PYTHON`), in a scratch copy of the
//! project so the real goldens are never touched.

use harness::{Arch, BuildOptions, GateConfig, ImageSource, Progress};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("harness lives in the workspace")
        .to_path_buf()
}

fn python() -> PathBuf {
    let python = std::env::var_os(harness::MODELS_PYTHON_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/.venv/bin/python"));
    assert!(
        python.is_file(),
        "the training side's Python is missing at {}: create it with `{}`",
        python.display(),
        harness::PYTHON_SETUP
    );
    python
}

/// A copy of what the loop reads and writes: the training code, the model, the goldens.
fn scratch_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let root = workspace();
    for sub in ["models/artifacts", "golden/malformed"] {
        std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
    }
    let entries = std::fs::read_dir(root.join("models")).expect("models/");
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".py") || name == "pyproject.toml" {
            std::fs::copy(entry.path(), dir.path().join("models").join(&*name)).expect("copy");
        }
    }
    for file in [
        "models/artifacts/model.json",
        "models/artifacts/model.cbm",
        "models/artifacts/feature_set.json",
        "models/artifacts/metadata.json",
        "golden/inputs.jsonl",
        "golden/expected.jsonl",
        "golden/manifest.json",
        "golden/malformed/cases.json",
    ] {
        std::fs::copy(root.join(file), dir.path().join(file)).expect("copy");
    }
    // `harness` finds the project by its Dockerfile and golden/.
    std::fs::copy(root.join("Dockerfile"), dir.path().join("Dockerfile")).expect("copy");
    dir
}

fn train(project: &Path, params: &[&str]) {
    let mut command = Command::new(python());
    command
        .arg(project.join("models/train.py"))
        .arg("--out")
        .arg(project.join("models/artifacts"));
    for p in params {
        command.args(["--param", p]);
    }
    let output = command.output().expect("run train.py");
    assert!(
        output.status.success(),
        "train.py failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn harness(project: &Path, args: &[&str]) -> (Option<i32>, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .arg("--workspace")
        .arg(project)
        .env(harness::MODELS_PYTHON_ENV, python())
        .output()
        .expect("run harness");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    (status.code(), text)
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn retraining_with_the_same_data_and_seed_reproduces_identical_goldens() {
    let project = scratch_project();
    let p = project.path();
    train(p, &[]);
    for file in [
        "model.json",
        "model.cbm",
        "metadata.json",
        "feature_set.json",
    ] {
        assert!(
            read(p.join("models/artifacts").join(file))
                == read(workspace().join("models/artifacts").join(file)),
            "{file} differs after retraining with the same data and seed"
        );
    }
    let (code, out) = harness(p, &["golden", "regen"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no changes"), "{out}");
    assert!(
        !p.join("golden/.pending").exists(),
        "nothing is left pending"
    );
}

#[test]
fn retrain_regen_review_accept_verify() {
    let project = scratch_project();
    let p = project.path();
    let old_expected = read(p.join("golden/expected.jsonl"));
    let old_sha = String::from_utf8(read(p.join("golden/manifest.json")))
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m).expect("manifest")["model_sha256"].clone()
        })
        .expect("utf-8");

    // Retrain with a different parameter: the goldens are now stale.
    train(p, &["depth=4"]);
    let (code, out) = harness(p, &["golden", "check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("goldens are stale") && out.contains("golden regen"),
        "{out}"
    );

    // Regenerate: a review, nothing overwritten.
    let (code, out) = harness(p, &["golden", "regen"]);
    assert_eq!(code, Some(1), "pending changes are not a success:\n{out}");
    assert!(
        out.contains(&format!(
            "old model sha256: {}",
            old_sha.as_str().expect("sha")
        )),
        "{out}"
    );
    assert!(out.contains("changed"), "{out}");
    assert!(out.contains("prediction.probability"), "{out}");
    assert!(out.contains("--accept"), "{out}");
    assert!(
        read(p.join("golden/expected.jsonl")) == old_expected,
        "regen without --accept overwrote the goldens"
    );
    assert!(p.join("golden/.pending/expected.jsonl").is_file());

    // Accept: replaced, and current again.
    let (code, out) = harness(p, &["golden", "regen", "--accept"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("accepted"), "{out}");
    assert!(read(p.join("golden/expected.jsonl")) != old_expected);
    let (code, out) = harness(p, &["golden", "check"]);
    assert_eq!(code, Some(0), "{out}");

    // Verify: the image with the retrained model passes the gate against the new goldens.
    let mut options = BuildOptions::new(Arch::X86_64, workspace());
    options.model_dir = Some(p.join("models/artifacts"));
    let image = harness::build(&options, Progress::stderr())
        .unwrap_or_else(|e| panic!("build failed:\n{e}"))
        .reference;
    let mut config = GateConfig::new(Arch::X86_64, workspace());
    config.image = ImageSource::Existing(image);
    config.golden_dir = p.join("golden");
    config.generated_cases = 100;
    config.regressions = p.join("regressions.txt");
    let report =
        harness::verify(&config).unwrap_or_else(|e| panic!("the gate could not run:\n{e}"));
    assert!(report.passed(), "{}", report.table());
}
