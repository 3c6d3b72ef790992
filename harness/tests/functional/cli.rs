//! What the CLI prints for the common mistakes, pinned as snapshots: each error says its cause
//! once, with what to do. A doubled cause, a lost hint or a changed exit code fails here.
//!
//! Review changed snapshots with `cargo insta review` (or `INSTA_UPDATE=always cargo test
//! --test cli` and `git diff`); with `CI` set insta never writes them.

use crate::support::*;
use std::path::Path;

/// The exit code and stderr of `lambda-gate args` in `dir`, with machine-specific paths
/// replaced so the snapshot is the same everywhere.
fn stderr_of(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let (code, _, stderr) = outputs_of(dir, args, env);
    format!("exit: {code:?}\n{stderr}")
}

/// The exit code, stdout and stderr of `lambda-gate args` in `dir`, machine-specific paths
/// replaced.
fn outputs_of(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut command = cli();
    command
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CARGO_TERM_COLOR")
        .env_remove("LAMBDA_GATE_CONFIG");
    for (k, v) in env {
        command.env(k, v);
    }
    let (code, stdout, stderr) = output(&mut command);
    let clean = |text: String| {
        text.replace(env!("CARGO_BIN_EXE_lambda-gate"), "[BIN]")
            .replace(&dir.display().to_string(), "[DIR]")
            .replace(&workspace().display().to_string(), "[ROOT]")
    };
    (code, clean(stdout), clean(stderr))
}

#[test]
fn no_docker() {
    let p = reference_project("lambda-gate-test:any");
    insta::assert_snapshot!(stderr_of(
        p.path(),
        &["verify"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")]
    ));
}

#[test]
fn an_unknown_architecture() {
    let p = reference_project("lambda-gate-test:any");
    insta::assert_snapshot!(stderr_of(p.path(), &["verify", "--arch", "ppc64le"], &[]));
}

#[test]
fn architectures_are_case_insensitive_with_aliases() {
    let _serial = serial();
    // `build` prints the image it built, whose tag starts with the architecture it mapped to.
    let classifier = "harness/fixtures/classifier/lambda-gate.toml";
    for (spelling, arch) in [
        ("ARM64", "arm64"),
        ("aarch64", "arm64"),
        ("AMD64", "x86_64"),
        ("x86-64", "x86_64"),
    ] {
        let (code, stdout, stderr) =
            output(cli().args(["--config", classifier, "-q", "build", "--arch", spelling]));
        assert_eq!(code, Some(0), "{spelling}: {stderr}");
        let reference = stdout.lines().last().unwrap_or_default();
        assert!(
            reference.starts_with(&format!("gate-fixture-classifier:{arch}-")),
            "{spelling} built {reference:?}"
        );
    }
}

#[test]
fn build_args_and_the_target_platform_reach_the_dockerfile() {
    // image.build_args are --build-args, and TARGETARCH/TARGETPLATFORM are set for the
    // architecture built, as BuildKit sets them: one Dockerfile serves both architectures.
    let _serial = serial();
    let p = tempfile::tempdir().unwrap();
    std::fs::write(
        p.path().join("Dockerfile"),
        // COPY first: with only metadata steps after `FROM scratch`, Docker 20.10's classic
        // builder failed the arm64 build here ("does not match the specified platform").
        "ARG TARGETARCH\nFROM scratch\nCOPY Dockerfile /\nARG TARGETARCH\nARG TARGETPLATFORM\n\
         ARG FLAVOUR\nLABEL arch=$TARGETARCH platform=$TARGETPLATFORM flavour=$FLAVOUR\n",
    )
    .unwrap();
    std::fs::write(
        p.path().join("lambda-gate.toml"),
        "[function]\nname = \"args\"\narchitecture = \"x86_64\"\n\n\
         [image]\ndockerfile = \"Dockerfile\"\nrepository = \"lambda-gate-test-build-args\"\n\
         build_args = { FLAVOUR = \"mint\" }\n\n\
         [errors]\nfunction = [\"Bad\"]\n\n[provenance]\nmodel = \"/Dockerfile\"\n\n\
         [goldens]\ndir = \"golden\"\n",
    )
    .unwrap();
    for (arch, platform) in [("arm64", "linux/arm64"), ("x86_64", "linux/amd64")] {
        let (code, stdout, stderr) = output(
            cli()
                .current_dir(p.path())
                .args(["-q", "build", "--arch", arch]),
        );
        assert_eq!(code, Some(0), "{arch}: {stderr}");
        let reference = stdout.lines().last().unwrap_or_default().to_owned();
        let inspect = std::process::Command::new("docker")
            .args([
                "image",
                "inspect",
                "-f",
                "{{json .Config.Labels}}",
                &reference,
            ])
            .output()
            .unwrap();
        let labels: serde_json::Value = serde_json::from_slice(&inspect.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&inspect.stderr)));
        let _ = std::process::Command::new("docker")
            .args(["image", "rm", "-f", &reference])
            .output();
        assert_eq!(
            labels,
            serde_json::json!({
                "arch": platform.trim_start_matches("linux/"),
                "platform": platform,
                "flavour": "mint",
            }),
            "{arch}"
        );
    }
}

#[test]
fn an_unknown_image() {
    let p = reference_project("lambda-gate-test:no-such-tag");
    insta::assert_snapshot!(stderr_of(p.path(), &["-q", "verify"], &[]));
}

#[test]
fn no_spec() {
    let empty = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(stderr_of(empty.path(), &["verify"], &[]));
}

/// The reference project with `[goldens.sources]` pointing at this workspace's model files.
fn reference_project_with_sources() -> tempfile::TempDir {
    let p = reference_project("lambda-gate-test:any");
    let spec = p.path().join("lambda-gate.toml");
    let root = workspace();
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "= \"models/artifacts/",
        &format!("= \"{}/models/artifacts/", root.display()),
    );
    std::fs::write(&spec, text).unwrap();
    p
}

#[test]
fn golden_files_out_of_step_with_their_manifest_are_stale() {
    // The last event dropped after the predictions were computed: `golden check` fails
    // (exit 1) naming each way the files disagree, once, and the fix.
    let p = reference_project_with_sources();
    let inputs = p.path().join("golden/inputs.jsonl");
    let text = std::fs::read_to_string(&inputs).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&inputs, lines[..lines.len() - 1].join("\n") + "\n").unwrap();
    let (code, stdout, stderr) = outputs_of(p.path(), &["golden", "check"], &[]);
    insta::assert_snapshot!(format!("exit: {code:?}\n{stdout}{stderr}"));
}

#[test]
fn a_broken_golden_line_is_one_error_everywhere() {
    // A line that is not JSON is not staleness: `golden check`, `golden regen` (before the
    // training side reads it) and `verify` name the file and line alike, exit 2.
    let p = reference_project_with_sources();
    let inputs = p.path().join("golden/inputs.jsonl");
    let text = std::fs::read_to_string(&inputs).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let half = lines[2].len() / 2;
    lines[2].truncate(half);
    std::fs::write(&inputs, lines.join("\n") + "\n").unwrap();
    let mut all = String::new();
    for args in [
        &["golden", "check"][..],
        &["golden", "regen"],
        &["-q", "verify"],
    ] {
        let (code, stdout, stderr) = outputs_of(p.path(), args, &[]);
        all.push_str(&format!(
            "$ lambda-gate {}\nexit: {code:?}\n{stdout}{stderr}\n",
            args.join(" ")
        ));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn a_missing_dockerfile_is_named_before_image_before_runs() {
    // The Dockerfile is a source file: its absence is said at once, naming the key, before
    // `image.before` (which may take minutes) runs.
    let p = reference_project("lambda-gate-test:any");
    let spec = p.path().join("lambda-gate.toml");
    let text = std::fs::read_to_string(&spec).unwrap().replace(
        "reference = \"lambda-gate-test:any\"",
        "dockerfile = \"Dockerfile.lambda\"\nbefore = \"touch before-ran\"",
    );
    std::fs::write(&spec, text).unwrap();
    insta::assert_snapshot!(stderr_of(p.path(), &["-q", "verify"], &[]));
    assert!(
        !p.path().join("before-ran").exists(),
        "image.before ran before the Dockerfile was found missing"
    );
}

#[test]
fn a_bad_spec_key() {
    let p = reference_project("lambda-gate-test:any");
    let spec = p.path().join("lambda-gate.toml");
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("memory_mb = 1024", "memory = 1024");
    std::fs::write(&spec, text).unwrap();
    insta::assert_snapshot!(stderr_of(p.path(), &["verify"], &[]));
}

#[test]
fn a_bad_spec_value() {
    let p = reference_project("lambda-gate-test:any");
    let spec = p.path().join("lambda-gate.toml");
    let text = std::fs::read_to_string(&spec)
        .unwrap()
        .replace("memory_mb = 1024", "memory_mb = 64");
    std::fs::write(&spec, text).unwrap();
    insta::assert_snapshot!(stderr_of(p.path(), &["verify"], &[]));
}

#[test]
fn a_first_spec_learns_everything_it_lacks_in_one_run() {
    // A first spec as a new user starts it: three sections not written yet, a key forgotten,
    // no [contract] (every key of it has a default). One run names all four, each at its place.
    let p = tempfile::tempdir().unwrap();
    std::fs::write(
        p.path().join("lambda-gate.toml"),
        "[function]\nname = \"churn-scorer\"\n\n[image]\ndockerfile = \"Dockerfile\"\n",
    )
    .unwrap();
    insta::assert_snapshot!(stderr_of(p.path(), &["verify"], &[]));
}

#[test]
fn a_closed_stdout_ends_quietly() {
    // `lambda-gate --help | head -1`: the reader goes away; no panic, no exit 101.
    let mut child = cli()
        .args(["golden", "--help"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_ne!(status.code(), Some(101), "panicked on a closed stdout");
    let mut child = cli()
        .args(["golden", "check"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `lambda-gate verify` of the classifier's image (with `flags`) in bash as `redirect`
/// puts it into a pipe whose reader goes away; returns lambda-gate's own exit code.
fn verify_into_a_closed_pipe(image: &str, flags: &[&str], redirect: &str) -> Option<i32> {
    let scratch = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("\"$0\" \"$@\" {redirect}; exit ${{PIPESTATUS[0]}}"))
        .arg(env!("CARGO_BIN_EXE_lambda-gate"))
        .args(["--config", "harness/fixtures/classifier/lambda-gate.toml"])
        .args(["verify", "--generated-cases", "10", "--image", image])
        .args(flags)
        .current_dir(workspace())
        .env("XDG_CACHE_HOME", scratch.path())
        .status()
        .unwrap();
    status.code()
}

#[test]
fn a_closed_stdout_or_stderr_ends_verify_with_its_verdict() {
    let _serial = serial();
    let image = build(
        "harness/fixtures/classifier/lambda-gate.toml",
        harness::Arch::X86_64,
    );
    // The case: progress and the table into `head`, which leaves after three lines.
    let failing = ["--max-image-size", "1KiB"];
    assert_eq!(
        verify_into_a_closed_pipe(&image, &failing, "2>&1 | head -3"),
        Some(1),
        "a failed check exits 1, not 101"
    );
    // stderr's reader gone before the first progress line; stdout's before the table.
    assert_eq!(
        verify_into_a_closed_pipe(&image, &[], "2>&1 >/dev/null | true"),
        Some(0)
    );
    assert_eq!(
        verify_into_a_closed_pipe(&image, &[], "2>/dev/null | true"),
        Some(0)
    );
}

#[test]
fn a_passing_verify_names_the_verified_image_id_and_the_push_command() {
    let _serial = serial();
    let image = build(
        "harness/fixtures/classifier/lambda-gate.toml",
        harness::Arch::X86_64,
    );
    let scratch = tempfile::tempdir().unwrap();
    let outputs = scratch.path().join("github-output");
    let (code, stdout, stderr) = output(
        cli()
            .args(["--config", "harness/fixtures/classifier/lambda-gate.toml"])
            .args(["verify", "--generated-cases", "10", "--image", &image])
            .env("XDG_CACHE_HOME", scratch.path())
            .env("GITHUB_OUTPUT", &outputs),
    );
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let id = std::fs::read_to_string(&outputs)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("image-id=").map(str::to_owned))
        .unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let tail: Vec<&str> = stdout.lines().rev().take(4).collect();
    assert_eq!(tail[3], format!("  verified image id: {id}"), "{stdout}");
    assert!(
        tail[2].starts_with("  next: ")
            && tail[2].ends_with(&format!("lambda-gate push --image {image} \\")),
        "{stdout}"
    );
    assert_eq!(
        tail[..2],
        [
            "      --arch x86_64 --to REGISTRY/REPOSITORY[:TAG]",
            &format!("      --verified-id {id} \\"),
        ],
        "{stdout}"
    );
}

#[test]
fn under_github_actions_each_phase_is_a_group_and_each_failed_check_an_error() {
    let _serial = serial();
    let image = build(
        "harness/fixtures/classifier/lambda-gate.toml",
        harness::Arch::X86_64,
    );
    let scratch = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        cli()
            .args(["--config", "harness/fixtures/classifier/lambda-gate.toml"])
            .args(["verify", "--generated-cases", "10", "--image", &image])
            .args(["--max-image-size", "1KiB"])
            .env("XDG_CACHE_HOME", scratch.path())
            .env("GITHUB_ACTIONS", "true"),
    );
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let groups: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("::group::") || *l == "::endgroup::")
        .collect();
    assert!(groups.contains(&"::group::init"), "{stderr}");
    assert!(
        groups.chunks(2).all(|pair| pair.len() == 2
            && pair[0].starts_with("::group::")
            && pair[1] == "::endgroup::"),
        "every group is closed before the next opens:\n{stderr}"
    );
    assert!(!stderr.contains("==> "), "{stderr}");
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error"))
        .collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(
        errors[0].starts_with("::error title=lambda-gate image-size (first cause)::"),
        "{stdout}"
    );
}
