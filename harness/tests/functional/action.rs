//! The GitHub Action (`action.yml`) run locally: its steps are the shell scripts in `action/`,
//! run here in order, as the runner runs them, against a temporary repository that holds only
//! a `lambda-gate.toml` and goldens, with the runner's files (`GITHUB_OUTPUT`,
//! `GITHUB_STEP_SUMMARY`, `GITHUB_PATH`) and a real registry for the push.

use crate::registry::Registry;
use crate::support::*;
use harness::Arch;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURE: &str = "harness/fixtures/classifier";

/// A repository of a team: a spec of the classifier fixture taking `image`, and its goldens.
fn repository(image: &str, fault: Option<&str>) -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    let fixture = workspace().join(FIXTURE);
    std::fs::create_dir_all(repo.path().join("golden")).unwrap();
    for file in ["inputs.jsonl", "expected.jsonl", "manifest.json"] {
        std::fs::copy(
            fixture.join("golden").join(file),
            repo.path().join("golden").join(file),
        )
        .unwrap();
    }
    let environment = fault.map_or(String::new(), |f| {
        format!("environment = {{ FIXTURE_FAULT = \"{f}\" }}\n")
    });
    let spec = format!(
        r#"[function]
name = "team-classifier"
architecture = "x86_64"
memory_mb = 256
{environment}
[image]
reference = "{image}"

[[contract.field]]
expected = "/probability"
actual = ""
rel = 1e-12

[[contract.field]]
expected = "/raw"
ignore = true

[[contract.field]]
expected = "/class"
ignore = true

[errors]
function = ["ValidationError"]

[provenance]
model = "/opt/model/model.json"

[goldens]
dir = "golden"

[generated]
cases = 30
"#
    );
    std::fs::write(repo.path().join("lambda-gate.toml"), spec).unwrap();
    repo
}

/// The runner: its files, the tool cache holding this build of lambda-gate, the environment.
struct Runner {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Runner {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("tool-cache");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::os::unix::fs::symlink(
            env!("CARGO_BIN_EXE_lambda-gate"),
            root.join("bin/lambda-gate"),
        )
        .unwrap();
        let mut env = BTreeMap::new();
        for (name, file) in [
            ("GITHUB_OUTPUT", "output"),
            ("GITHUB_STEP_SUMMARY", "summary"),
            ("GITHUB_PATH", "path"),
        ] {
            env.insert(name.to_owned(), dir.path().join(file).display().to_string());
        }
        env.insert("LAMBDA_GATE_ROOT".to_owned(), root.display().to_string());
        env.insert("RUNNER_TEMP".to_owned(), dir.path().display().to_string());
        env.insert(
            "XDG_CACHE_HOME".to_owned(),
            dir.path().join("cache").display().to_string(),
        );
        Runner { dir, env }
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// The step outputs written so far.
    fn outputs(&self) -> BTreeMap<String, String> {
        self.file("output")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// Runs one step's script in `repo` with `inputs`; returns its exit code and output.
    fn step(&self, script: &str, repo: &Path, inputs: &[(&str, &str)]) -> (Option<i32>, String) {
        let path: Vec<PathBuf> = self
            .file("path")
            .lines()
            .map(PathBuf::from)
            .chain(std::env::split_paths(
                &std::env::var_os("PATH").unwrap_or_default(),
            ))
            .collect();
        let mut command = Command::new("bash");
        command
            .arg("--noprofile")
            .arg("--norc")
            .arg("-eo")
            .arg("pipefail")
            .arg(workspace().join("action").join(script))
            .current_dir(repo)
            .envs(&self.env)
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("GITHUB_ACTION_PATH", workspace())
            .env_remove("CI");
        for (name, value) in inputs {
            command.env(name, value);
        }
        let (code, stdout, stderr) = output(&mut command);
        (code, format!("{stdout}\n{stderr}"))
    }
}

fn image() -> String {
    build(&format!("{FIXTURE}/lambda-gate.toml"), Arch::X86_64)
}

#[test]
fn the_action_verifies_and_pushes_exactly_the_verified_image() {
    let _serial = serial();
    let image = image();
    let repo = repository(&image, None);
    let runner = Runner::new();

    let (code, out) = runner.step("install.sh", repo.path(), &[("ARCH", "x86_64")]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("is installed"),
        "a cached build is not rebuilt: {out}"
    );
    assert!(
        runner.file("path").contains("tool-cache/bin"),
        "lambda-gate goes on PATH"
    );

    let inputs = [
        ("SPEC", "lambda-gate.toml"),
        ("ARCH", ""),
        ("IMAGE", ""),
        ("REPORT_DIR", "reports"),
        ("JOBS", "2"),
    ];
    let (code, out) = runner.step("verify.sh", repo.path(), &inputs);
    assert_eq!(code, Some(0), "{out}");
    let outputs = runner.outputs();
    assert_eq!(outputs["verdict"], "passed");
    assert_eq!(outputs["image"], image);
    assert_eq!(outputs["arch"], "x86_64");
    let id = outputs["image-id"].clone();
    let inspected = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&inspected.stdout).trim(), id);
    assert!(runner.file("summary").contains("| golden-replay | ✅ PASS"));
    assert!(repo.path().join("reports/gate-x86_64.json").is_file());

    let registry = Registry::start();
    let target = format!("{}/team-classifier:v1", registry.address);
    let (code, out) = runner.step(
        "push.sh",
        repo.path(),
        &[
            ("SPEC", "lambda-gate.toml"),
            ("PUSH_TO", &target),
            ("VERDICT", "passed"),
            ("IMAGE", &image),
            ("IMAGE_ID", &id),
            ("ARCH", "x86_64"),
            ("INSECURE_REGISTRY", "1"),
        ],
    );
    assert_eq!(code, Some(0), "{out}");
    let digest = runner.outputs()["digest"].clone();
    assert!(
        digest.starts_with(&format!("{}/team-classifier@sha256:", registry.address)),
        "{digest}"
    );
    assert!(runner.file("summary").contains(&digest));
    assert!(registry.has_repository("team-classifier"));
}

#[test]
fn a_failing_function_fails_the_step_and_is_not_pushed() {
    let _serial = serial();
    let image = image();
    let repo = repository(&image, Some("skew"));
    let runner = Runner::new();
    let (code, out) = runner.step("install.sh", repo.path(), &[("ARCH", "x86_64")]);
    assert_eq!(code, Some(0), "{out}");
    let inputs = [("SPEC", "lambda-gate.toml"), ("REPORT_DIR", "reports")];
    let (code, out) = runner.step("verify.sh", repo.path(), &inputs);
    assert_eq!(code, Some(1), "a failed check fails the step: {out}");
    let outputs = runner.outputs();
    assert_eq!(outputs["verdict"], "failed");
    let (code, out) = runner.step(
        "push.sh",
        repo.path(),
        &[
            ("PUSH_TO", "127.0.0.1:5999/never:v1"),
            ("VERDICT", &outputs["verdict"]),
            ("IMAGE", &outputs["image"]),
            ("IMAGE_ID", &outputs["image-id"]),
            ("ARCH", "x86_64"),
        ],
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("nothing is pushed"), "{out}");
    assert!(!runner.outputs().contains_key("digest"));
}
