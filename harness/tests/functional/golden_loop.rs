//! The retrain -> regen -> review -> accept -> verify loop, with the real training side (the
//! pinned Python environment in models/.venv, or `MODELS_PYTHON`), in a scratch copy of the
//! project so the real goldens are never touched.

use crate::support::*;
use harness::Arch;
use std::path::{Path, PathBuf};

fn python() -> PathBuf {
    let python = std::env::var_os("MODELS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("models/.venv/bin/python"));
    assert!(
        python.is_file(),
        "the training side's Python is missing at {}: create it with `.ci/install python`",
        python.display(),
    );
    python
}

/// A copy of what the loop reads and writes: the training code, the model, the goldens, and
/// the spec with the training side's interpreter spelled out.
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
        "Dockerfile",
    ] {
        std::fs::copy(root.join(file), dir.path().join(file)).expect("copy");
    }
    // The training side's interpreter and the model compiler of this workspace, spelled out.
    let compile = format!(
        "{} run --manifest-path {}",
        env!("CARGO"),
        root.join("Cargo.toml").display()
    );
    let spec = std::fs::read_to_string(root.join("lambda-gate.toml"))
        .expect("lambda-gate.toml")
        .replace("models/.venv/bin/python", &python().display().to_string())
        .replace("cargo run --release", &format!("{compile} --release"));
    std::fs::write(dir.path().join("lambda-gate.toml"), spec).expect("write spec");
    dir
}

fn train(project: &Path, params: &[&str]) {
    let mut command = std::process::Command::new(python());
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

/// `lambda-gate args` in `project`, as on a developer's machine (`CI` unset).
fn gate_cli(project: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (code, stdout, stderr) = output(cli().current_dir(project).args(args).env_remove("CI"));
    (code, format!("{stdout}{stderr}"))
}

/// `lambda-gate golden review` in `project` under a pseudo-terminal (util-linux `script`), a
/// 100x50 one, typing `keys`; returns what the terminal showed and the exit code. The pager is
/// `cat`, so a tall case is shown through it without waiting for a reader. Bounded: killed
/// after 120 s.
fn review_on_a_terminal(project: &Path, keys: &str) -> (String, Option<i32>) {
    use std::io::Write as _;
    let command = format!(
        "stty rows 50 cols 100; exec '{}' golden review",
        env!("CARGO_BIN_EXE_lambda-gate")
    );
    let mut child = std::process::Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(project)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .env("LAMBDA_GATE_PAGER", "cat")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs the review under a pseudo-terminal");
    let mut stdin = child.stdin.take().expect("stdin");
    // The keys go in once the review waits for the first one; stdin stays open until it
    // ends (an end of input would reach the review as a key of its own).
    std::thread::sleep(std::time::Duration::from_secs(2));
    stdin.write_all(keys.as_bytes()).expect("type the keys");
    stdin.flush().expect("flush");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the review under a terminal did not end after the keys {keys:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(stdin);
    let output = child.wait_with_output().expect("output");
    let screen = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    (screen, output.status.code())
}

/// The case ids a terminal review asked about, in order (from its `[n/N] id (...)` headings).
fn asked_cases(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix('[')?;
            let (_, rest) = rest.split_once("] ")?;
            Some(rest.split(' ').next()?.to_owned())
        })
        .collect()
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
    let (code, out) = gate_cli(p, &["golden", "regen"]);
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
    let (code, out) = gate_cli(p, &["golden", "check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("goldens are stale") && out.contains("golden regen"),
        "{out}"
    );

    // Regenerate: a summary, nothing overwritten.
    let (code, out) = gate_cli(p, &["golden", "regen"]);
    assert_eq!(code, Some(1), "pending changes are not a success:\n{out}");
    assert!(
        out.contains(&format!(
            "old model sha256: {}",
            old_sha.as_str().expect("sha")
        )),
        "{out}"
    );
    assert!(out.contains("now outside the spec's tolerance"), "{out}");
    assert!(out.contains("/prediction/probability"), "{out}");
    assert!(out.contains("golden review"), "{out}");
    assert!(
        read(p.join("golden/expected.jsonl")) == old_expected,
        "regen overwrote the goldens"
    );
    assert!(p.join("golden/.pending/expected.jsonl").is_file());

    // Accept before any case was decided is refused.
    let (code, out) = gate_cli(p, &["golden", "accept"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("was decided"), "{out}");

    // Review, piped: per case and field, flipped classes first, readable numbers.
    let (code, out) = gate_cli(p, &["golden", "review"]);
    assert_eq!(code, Some(0), "{out}");
    let flipped = out
        .find("(prediction flipped")
        .expect("a class flipped somewhere");
    let unflipped = out.find("(outside tolerance)").unwrap_or(usize::MAX);
    assert!(flipped < unflipped, "flips come first:\n{out}");
    assert!(
        out.contains("/prediction/class: 0 -> 1 (1)")
            || out.contains("/prediction/class: 1 -> 0 (1)"),
        "a class label reads as a label, not 1e0:\n{out}"
    );
    // A listing nobody had to read decides nothing.
    let (code, out) = gate_cli(p, &["golden", "review"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = gate_cli(p, &["golden", "accept"]);
    assert_eq!(code, Some(2), "a piped review accepts nothing:\n{out}");
    assert!(out.contains("was decided"), "{out}");

    // Review on a terminal: accept the first case, reject the second, skip the third, quit.
    let pending = p.join("golden/.pending/expected.jsonl");
    let reviewed = read(pending.clone());
    let (screen, _) = review_on_a_terminal(p, "arsq");
    let asked = asked_cases(&screen);
    assert!(
        asked.len() >= 4,
        "one case at a time, quit after the fourth:\n{screen}"
    );
    let (first, second, third) = (&asked[0], &asked[1], &asked[2]);
    assert!(screen.contains("- ") && screen.contains("+ "), "{screen}");
    assert!(
        screen.contains("decided: 1 accepted, 1 rejected"),
        "{screen}"
    );
    let (code, out) = gate_cli(p, &["golden", "accept"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("accepted 1 case(s); 1 rejected"), "{out}");
    assert!(out.contains("still pending"), "{out}");
    let line_of = |bytes: &[u8], id: &str| {
        String::from_utf8_lossy(bytes)
            .lines()
            .find(|l| {
                l.contains(&format!("\"case_id\": \"{id}\""))
                    || l.contains(&format!("\"case_id\":\"{id}\""))
            })
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no line for {id}"))
    };
    let now = read(p.join("golden/expected.jsonl"));
    assert_eq!(
        line_of(&now, first),
        line_of(&reviewed, first),
        "accepted: the regenerated answer"
    );
    assert_eq!(
        line_of(&now, second),
        line_of(&old_expected, second),
        "rejected: the golden answer"
    );
    assert_eq!(
        line_of(&now, third),
        line_of(&old_expected, third),
        "skipped: the golden answer"
    );
    assert!(pending.is_file(), "the skipped cases are still pending");
    // The next review asks only what is undecided: the rejected case is not asked again.
    // Ctrl-C ends it as quitting does, exit 130, the decision before it kept.
    let (screen, code) = review_on_a_terminal(p, "a\x03");
    assert_eq!(code, Some(130), "{screen}");
    assert!(screen.contains("interrupted\n"), "{screen}");
    let again = asked_cases(&screen);
    assert_eq!(again.first(), Some(third), "{screen}");
    assert!(
        !again.contains(second) && !again.contains(first),
        "{screen}"
    );
    let fourth = again.get(1).expect("a case after the accepted one");
    let (screen, _) = review_on_a_terminal(p, "q");
    assert_eq!(asked_cases(&screen).first(), Some(fourth), "{screen}");

    // A pending file that changes after the review is not accepted.
    let mut tampered = reviewed.clone();
    tampered.extend_from_slice(b"\n");
    std::fs::write(&pending, &tampered).expect("write");
    let (code, out) = gate_cli(p, &["golden", "accept"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("changed after it was reviewed"), "{out}");
    std::fs::write(&pending, &reviewed).expect("write");

    // Accept every pending case unseen: exactly the pending files replace the goldens, which
    // are current again.
    let (code, out) = gate_cli(p, &["golden", "accept", "--all"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("accepted"), "{out}");
    assert_eq!(read(p.join("golden/expected.jsonl")), reviewed);
    assert!(!p.join("golden/.pending").exists());
    let (code, out) = gate_cli(p, &["golden", "check"]);
    assert_eq!(code, Some(0), "{out}");

    // Verify: the image with the retrained model passes the gate against the new goldens.
    let x86_64 = Arch::X86_64.rust_target();
    build("lambda-gate.toml", Arch::X86_64);
    std::fs::create_dir_all(p.join("target/lambda/bootstrap")).expect("mkdir");
    std::fs::copy(
        workspace()
            .join("target")
            .join(x86_64)
            .join("release/bootstrap"),
        p.join("target/lambda/bootstrap/bootstrap"),
    )
    .expect("copy bootstrap");
    std::fs::create_dir_all(p.join("target/lambda/model")).expect("mkdir");
    compile_model(
        &p.join("models/artifacts/model.json"),
        &p.join("target/lambda/model/model.compiled"),
    );
    let scratch = tempfile::tempdir().expect("a temp dir");
    let spec_file = p.join("lambda-gate.toml");
    let spec = spec_edited(
        &spec_file.display().to_string(),
        build_from(&p.join("Dockerfile"), p, "loan-grade-retrained"),
        &quick(Arch::X86_64, 100, scratch.path()),
    );
    let report = run(spec);
    assert!(report.passed(), "{}", report.table());
}

#[test]
fn reject_drops_the_pending_goldens_and_ci_writes_nothing() {
    let project = scratch_project();
    let p = project.path();
    let old_expected = read(p.join("golden/expected.jsonl"));
    train(p, &["depth=4"]);

    // With CI set, regen reviews in a scratch directory: nothing pending, nothing replaced.
    let (code, stdout, stderr) = output(
        cli()
            .current_dir(p)
            .args(["golden", "regen"])
            .env("CI", "true"),
    );
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("changed"), "{stdout}");
    assert!(
        !p.join("golden/.pending").exists(),
        "CI wrote pending goldens"
    );
    assert_eq!(read(p.join("golden/expected.jsonl")), old_expected);

    let (code, out) = gate_cli(p, &["golden", "regen"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(p.join("golden/.pending").exists());
    for verb in ["accept", "reject"] {
        let (code, stdout, stderr) = output(
            cli()
                .current_dir(p)
                .args(["golden", verb])
                .env("CI", "true"),
        );
        assert_eq!(code, Some(2), "{verb} in CI: {stdout}{stderr}");
        assert!(stderr.contains("writes nothing in CI"), "{stderr}");
    }
    let (code, out) = gate_cli(p, &["golden", "reject"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!p.join("golden/.pending").exists());
    assert_eq!(read(p.join("golden/expected.jsonl")), old_expected);
}
