//! Helpers shared by the gate's tests: the workspace, one lock for every test that runs
//! containers, specs as the CLI's overrides or an edit of the file make them, and the CLI.

use harness::{Arch, CheckId, Overrides, Progress, Report, Spec, Status, VerifyOptions};
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
    spec_with(relative, &Overrides::default())
}

/// The spec file at `relative` with `overrides`, as the CLI's flags give them.
pub(crate) fn spec_with(relative: &str, overrides: &Overrides) -> Spec {
    let path = workspace().join(relative);
    Spec::load_with(&path, overrides).unwrap_or_else(|e| panic!("{e}"))
}

/// The spec file at `relative` with its TOML changed by `edit` as written (relative paths
/// still relative to its directory), then `overrides`.
pub(crate) fn spec_edited(
    relative: &str,
    edit: impl FnOnce(&mut toml::Table),
    overrides: &Overrides,
) -> Spec {
    let path = workspace().join(relative);
    let text = std::fs::read_to_string(&path).expect("the spec file");
    let mut table: toml::Table = text.parse().expect("the spec is TOML");
    edit(&mut table);
    let root = path.parent().expect("a directory");
    Spec::parse_with(&table.to_string(), &path, root, overrides).unwrap_or_else(|e| panic!("{e}"))
}

/// The table `key` of `table` (created when missing).
pub(crate) fn section<'t>(table: &'t mut toml::Table, key: &str) -> &'t mut toml::Table {
    table
        .entry(key)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .expect("a table")
}

/// An edit that builds the image from `dockerfile` in `context` (no `before`) and tags it in
/// `repository`.
pub(crate) fn build_from(
    dockerfile: &Path,
    context: &Path,
    repository: &str,
) -> impl FnOnce(&mut toml::Table) {
    let (dockerfile, context) = (
        dockerfile.display().to_string(),
        context.display().to_string(),
    );
    let repository = repository.to_owned();
    move |table| {
        let image = section(table, "image");
        image.remove("before");
        image.remove("reference");
        image.insert("dockerfile".to_owned(), dockerfile.into());
        image.insert("context".to_owned(), context.into());
        image.insert("repository".to_owned(), repository.into());
    }
}

/// Overrides for a quick run: `arch`, at most `generated` generated payloads, regressions kept
/// in `scratch` (expected failures stay out of the user's cache).
pub(crate) fn quick(arch: Arch, generated: u32, scratch: &Path) -> Overrides {
    Overrides {
        arch: Some(arch),
        generated_cases: Some(generated),
        regressions: Some(regressions(scratch)),
        ..Overrides::default()
    }
}

/// Where [`quick`] keeps a run's regressions.
pub(crate) fn regressions(scratch: &Path) -> PathBuf {
    scratch.join("regressions.txt")
}

/// `overrides` with `FIXTURE_FAULT=fault` in the function's environment.
pub(crate) fn with_fault(mut overrides: Overrides, fault: &str) -> Overrides {
    overrides
        .environment
        .push(("FIXTURE_FAULT".to_owned(), fault.to_owned()));
    overrides
}

/// Builds the image of the spec at `relative` for `arch` and returns its reference.
pub(crate) fn build(relative: &str, arch: Arch) -> String {
    let spec = spec_with(
        relative,
        &Overrides {
            arch: Some(arch),
            ..Overrides::default()
        },
    );
    build_spec(&spec)
}

/// Builds `spec`'s image and returns its reference.
pub(crate) fn build_spec(spec: &Spec) -> String {
    harness::build(spec, &Progress::stderr())
        .unwrap_or_else(|e| panic!("building the image failed:\n{e}"))
        .unwrap_or_else(|| panic!("{} does not build its image", spec.path().display()))
}

/// Runs the gate and prints its table.
pub(crate) fn run(spec: Spec) -> Report {
    run_jobs(spec, 1)
}

/// Runs the gate with `jobs` containers and prints its table.
pub(crate) fn run_jobs(spec: Spec, jobs: usize) -> Report {
    let options = VerifyOptions {
        jobs,
        ..VerifyOptions::default()
    };
    let report =
        harness::verify(&spec, &options).unwrap_or_else(|e| panic!("the gate could not run:\n{e}"));
    eprintln!("{}", report.table());
    report
}

pub(crate) fn status(report: &Report, check: CheckId) -> Status {
    report
        .check(check)
        .unwrap_or_else(|| panic!("no {check} check in the report"))
        .status
}

pub(crate) fn details(report: &Report, check: CheckId) -> String {
    report
        .check(check)
        .map(|c| format!("{}\n{}", c.summary, c.details.join("\n")))
        .unwrap_or_default()
}

/// `golden-replay` failed, its summary holding `summary` and its summary or details `detail`;
/// returns the check (for its metrics).
pub(crate) fn golden_replay_failed<'r>(
    report: &'r Report,
    summary: &str,
    detail: &str,
) -> &'r harness::CheckResult {
    let check = report
        .check(CheckId::GoldenReplay)
        .expect("golden-replay ran");
    assert_eq!(check.status, Status::Failed, "{}", check.summary);
    assert!(check.summary.contains(summary), "{}", check.summary);
    let why = details(report, CheckId::GoldenReplay);
    assert!(why.contains(detail), "{why}");
    check
}

pub(crate) fn assert_all_pass(report: &Report) {
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| format!("{}: {}\n{}", c.name, c.summary, c.details.join("\n")))
        .collect();
    assert!(failed.is_empty(), "checks failed:\n{}", failed.join("\n\n"));
    let names: Vec<CheckId> = report.checks.iter().map(|c| c.name).collect();
    // `concurrency` follows them when the spec runs the function on Managed Instances, then
    // `snapstart` when it publishes the function with SnapStart.
    let verify = names.strip_suffix(&[CheckId::SnapStart]).unwrap_or(&names);
    let verify = verify
        .strip_suffix(&[CheckId::Concurrency])
        .unwrap_or(verify);
    assert_eq!(verify, CheckId::VERIFY);
}

/// What `docker args` printed on stdout, trimmed (empty when it failed).
pub(crate) fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The number of golden cases in the golden directory `relative`.
pub(crate) fn golden_count(relative: &str) -> usize {
    std::fs::read_to_string(workspace().join(relative).join("inputs.jsonl"))
        .expect("inputs.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
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

/// The spec file at `relative`, its TOML changed by `edit`, written as `lambda-gate.toml` into
/// `dir` for the CLI. The paths the spec names are made absolute first (the file moved; its
/// commands still run in `dir`), so `edit` may add absolute ones.
pub(crate) fn spec_file(
    relative: &str,
    dir: &Path,
    edit: impl FnOnce(&mut toml::Table),
) -> PathBuf {
    let path = workspace().join(relative);
    let root = path.parent().expect("a directory").to_path_buf();
    let text = std::fs::read_to_string(&path).expect("the spec file");
    let mut table: toml::Table = text.parse().expect("the spec is TOML");
    let absolute = |value: &mut toml::Value| {
        if let Some(relative) = value.as_str() {
            *value = root.join(relative).display().to_string().into();
        }
    };
    for (section, key) in [
        ("image", "dockerfile"),
        ("image", "context"),
        ("goldens", "dir"),
        ("malformed", "cases"),
        ("provenance", "source"),
        ("generated", "regressions"),
    ] {
        if let Some(value) = table
            .get_mut(section)
            .and_then(|s| s.as_table_mut())
            .and_then(|s| s.get_mut(key))
        {
            absolute(value);
        }
    }
    if let Some(sources) = table
        .get_mut("goldens")
        .and_then(|g| g.get_mut("sources"))
        .and_then(|s| s.as_table_mut())
    {
        sources.iter_mut().for_each(|(_, value)| absolute(value));
    }
    edit(&mut table);
    let file = dir.join("lambda-gate.toml");
    std::fs::write(&file, table.to_string()).expect("write the spec");
    file
}

/// Runs `command` to its end (failing the test after `limit`); returns the exit code, stdout,
/// stderr and the process's peak resident memory in bytes. The peak is the kernel's
/// high-water mark (`VmHWM`), read from `/proc` while the process runs: it only grows, so the
/// last reading holds every peak before it.
pub(crate) fn output_and_peak_rss(
    command: &mut Command,
    limit: std::time::Duration,
) -> (Option<i32>, String, String, u64) {
    use std::io::Read as _;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run lambda-gate");
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let status = format!("/proc/{}/status", child.id());
    let deadline = std::time::Instant::now() + limit;
    let mut peak_kib = 0u64;
    let code = loop {
        if let Some(kib) = std::fs::read_to_string(&status).ok().and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        }) {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("lambda-gate ran longer than {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (
        code,
        stdout.join().expect("stdout"),
        stderr.join().expect("stderr"),
        peak_kib * 1024,
    )
}
