//! The gate as ML teams install it: the wheel `.ci/dist` builds (the release workflow's own
//! script) carries nothing but the static binary, installs with pip into a fresh virtual
//! environment that has no Rust on PATH and gates the Python function from there, and installs
//! the same way with `uv tool install` and `poetry add --group dev`.
//!
//! `.ci/dist` builds the wheel and the archive of this machine's architecture once for all the
//! tests here (one release build of the gate, static musl). It needs `.ci/install dist` (clang,
//! maturin and uv in target/dist-tools) and, for Poetry, `.ci/install poetry`.

use crate::support::{output, workspace};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("lambda-gate has no wheel for {other}"),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// What `.ci/dist <arch>` made.
struct Dist {
    wheel: PathBuf,
    archive: PathBuf,
    sums: String,
}

fn dist() -> &'static Dist {
    static DIST: OnceLock<Dist> = OnceLock::new();
    DIST.get_or_init(|| {
        let started = Instant::now();
        let (code, stdout, stderr) = output(Command::new(workspace().join(".ci/dist")).arg(arch()));
        assert_eq!(
            code,
            Some(0),
            ".ci/dist {} failed (run .ci/install dist first):\n{stdout}\n{stderr}",
            arch()
        );
        eprintln!(
            ".ci/dist {} took {:.0?}:\n{stdout}",
            arch(),
            started.elapsed()
        );
        let dir = target_dir().join("dist");
        let tags = format!(
            "py3-none-manylinux2014_{a}.manylinux_2_17_{a}.musllinux_1_2_{a}",
            a = arch()
        );
        Dist {
            wheel: dir.join(format!("lambda_gate-{VERSION}-{tags}.whl")),
            archive: dir.join(format!(
                "lambda-gate-{VERSION}-{}-unknown-linux-musl.tar.gz",
                arch()
            )),
            sums: std::fs::read_to_string(dir.join("SHA256SUMS")).unwrap(),
        }
    })
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// The wheel's files: name -> contents.
fn wheel_files(wheel: &Path) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut file = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            (file.name().unwrap().to_string(), data)
        })
        .collect()
}

/// PATH without any directory that holds cargo, rustc or rustup, `first` in front.
fn path_without_rust(first: &Path) -> std::ffi::OsString {
    let rust = ["cargo", "rustc", "rustup"];
    let kept = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .filter(|dir| !rust.iter().any(|tool| dir.join(tool).exists()))
        .collect::<Vec<_>>();
    std::env::join_paths(std::iter::once(first.to_path_buf()).chain(kept)).unwrap()
}

/// A command that sees only `path` and none of cargo's variables.
fn without_rust(program: &str, path: &std::ffi::OsStr) -> Command {
    let mut command = Command::new("sh");
    command.arg("-c").arg(program).env("PATH", path);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO") || name.starts_with("RUSTUP") || name.starts_with("RUSTC") {
            command.env_remove(name);
        }
    }
    command.env_remove("CI");
    command
}

/// `lambda-gate 0.1.0 (1a2b3c4d5e6f 2026-12-03)`, HEAD's commit (`-dirty` allowed while the
/// gate's sources have uncommitted changes).
fn assert_version_line(line: &str) {
    let prefix = format!("lambda-gate {VERSION} (");
    assert!(line.starts_with(&prefix), "{line}");
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(workspace())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    if let Some(head) = head {
        assert!(
            line[prefix.len()..].starts_with(&head[..12]),
            "the commit it was built from ({head}): {line}"
        );
    }
}

#[test]
fn the_wheel_carries_only_the_static_binary_the_archive_carries() {
    let dist = dist();
    let files = wheel_files(&dist.wheel);
    let data = format!("lambda_gate-{VERSION}.data/scripts/");
    let info = format!("lambda_gate-{VERSION}.dist-info/");
    for (name, _) in &files {
        assert!(
            name == &format!("{data}lambda-gate") || name.starts_with(&info),
            "the wheel holds only the binary and its metadata, not {name}"
        );
    }
    let binary = &files
        .iter()
        .find(|(name, _)| name == &format!("{data}lambda-gate"))
        .unwrap()
        .1;

    // A static executable of this architecture: no loader, no shared library.
    let elf = object::File::parse(binary.as_slice()).unwrap();
    use object::Object;
    let machine = match arch() {
        "x86_64" => object::Architecture::X86_64,
        _ => object::Architecture::Aarch64,
    };
    assert_eq!(elf.architecture(), machine);
    assert!(elf.section_by_name(".interp").is_none(), "no loader");
    assert_eq!(elf.imports().unwrap().count(), 0, "no shared library");
    let metadata = &files
        .iter()
        .find(|(name, _)| name == &format!("{info}METADATA"))
        .unwrap()
        .1;
    let metadata = String::from_utf8_lossy(metadata);
    assert!(metadata.contains("Name: lambda-gate\n"), "{metadata}");
    assert!(
        metadata.contains(&format!("Version: {VERSION}\n")),
        "{metadata}"
    );

    // The release archive holds the same bytes.
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&dist.archive).unwrap(),
    ));
    let top = format!("lambda-gate-{VERSION}-{}-unknown-linux-musl", arch());
    let mut names = Vec::new();
    let mut archived = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        if name == format!("{top}/lambda-gate") {
            assert_eq!(entry.header().mode().unwrap() & 0o777, 0o755);
            entry.read_to_end(&mut archived).unwrap();
        }
        names.push(name);
    }
    names.sort();
    assert_eq!(
        names,
        [
            format!("{top}/"),
            format!("{top}/README.md"),
            format!("{top}/lambda-gate")
        ]
    );
    assert!(&archived == binary, "the archive's binary is the wheel's");

    // SHA256SUMS names both with their sha256.
    for file in [&dist.wheel, &dist.archive] {
        let line = format!(
            "{}  {}",
            sha256(file),
            file.file_name().unwrap().to_string_lossy()
        );
        assert!(
            dist.sums.lines().any(|l| l == line),
            "{line}\n{}",
            dist.sums
        );
    }
}

#[test]
fn pip_installs_the_wheel_into_a_fresh_venv_that_gates_the_python_function_without_rust() {
    let _serial = crate::support::serial();
    let docker = Command::new("docker").arg("info").output();
    assert!(
        docker.is_ok_and(|o| o.status.success()),
        "this test gates the Python function and needs a running Docker engine (.ci/install docker)"
    );
    let dist = dist();
    let scratch = tempfile::tempdir().unwrap();
    let venv = scratch.path().join("venv");
    let path = path_without_rust(&venv.join("bin"));
    let (code, stdout, stderr) = output(&mut without_rust(
        "for tool in cargo rustc rustup; do command -v $tool && exit 0; done; exit 1",
        &path,
    ));
    assert_ne!(code, Some(0), "Rust is not on this PATH: {stdout}{stderr}");

    // From a fresh virtual environment and the local wheel to a working `lambda-gate`.
    let started = Instant::now();
    let install = format!(
        "python3 -m venv '{venv}' && '{venv}/bin/pip' install --quiet --disable-pip-version-check --no-index '{wheel}' && lambda-gate --version",
        venv = venv.display(),
        wheel = dist.wheel.display()
    );
    let (code, stdout, stderr) = output(&mut without_rust(&install, &path));
    let took = started.elapsed();
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    eprintln!("venv + pip install + lambda-gate --version: {took:.1?}");
    assert_version_line(stdout.trim());
    let (_, found, _) = output(&mut without_rust("command -v lambda-gate", &path));
    assert_eq!(
        found.trim(),
        venv.join("bin/lambda-gate").display().to_string()
    );

    // The Python function of examples/python-function, gated from that environment.
    let reports = scratch.path().join("reports");
    let spec = workspace().join("examples/python-function/lambda-gate.toml");
    let verify = format!(
        "lambda-gate --config '{}' verify --arch x86_64 --report-dir '{}'",
        spec.display(),
        reports.display()
    );
    let mut command = without_rust(&verify, &path);
    command.current_dir(scratch.path()).env("NO_COLOR", "1");
    let (code, stdout, stderr) = output(&mut command);
    assert_eq!(
        code,
        Some(0),
        "lambda-gate verify from the wheel:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("PASSED"), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("gate-x86_64.json")).unwrap()).unwrap();
    assert_eq!(report["verdict"], "passed");
    assert_eq!(report["function"], "loan-grade-python");
}

#[test]
fn uv_tool_install_and_poetry_add_group_dev_install_the_same_wheel() {
    let dist = dist();
    let scratch = tempfile::tempdir().unwrap();
    let bin = scratch.path().join("bin");
    let path = path_without_rust(&bin);

    // uv tool install, offline, into tool directories of its own.
    let uv = target_dir().join("dist-tools/bin/uv");
    assert!(
        uv.is_file(),
        "{} is missing: run .ci/install dist",
        uv.display()
    );
    let mut command = without_rust(
        &format!(
            "'{}' tool install --offline --quiet '{}' && lambda-gate --version",
            uv.display(),
            dist.wheel.display()
        ),
        &path,
    );
    command
        .env("UV_TOOL_DIR", scratch.path().join("uv-tools"))
        .env("UV_TOOL_BIN_DIR", &bin)
        .env("UV_CACHE_DIR", scratch.path().join("uv-cache"))
        .env("UV_PYTHON_DOWNLOADS", "never");
    let (code, stdout, stderr) = output(&mut command);
    assert_eq!(code, Some(0), "uv tool install:\n{stdout}\n{stderr}");
    assert_version_line(stdout.trim());
    assert!(bin.join("lambda-gate").exists());

    // poetry add --group dev, the local-wheel form, in a team's project.
    let poetry = workspace().join("target/poetry/bin/poetry");
    assert!(
        poetry.is_file(),
        "{} is missing: run .ci/install poetry",
        poetry.display()
    );
    let project = scratch.path().join("team-function");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("pyproject.toml"),
        "[project]\nname = \"team-function\"\nversion = \"1.0.0\"\nrequires-python = \">=3.9\"\n\
         dependencies = []\n\n[tool.poetry]\npackage-mode = false\n",
    )
    .unwrap();
    let mut command = without_rust(
        &format!(
            "'{poetry}' add --no-interaction --group dev '{wheel}' && '{poetry}' run lambda-gate --version",
            poetry = poetry.display(),
            wheel = dist.wheel.display()
        ),
        &path,
    );
    command
        .current_dir(&project)
        .env("POETRY_VIRTUALENVS_IN_PROJECT", "true")
        .env("POETRY_CACHE_DIR", scratch.path().join("poetry-cache"))
        .env("POETRY_CONFIG_DIR", scratch.path().join("poetry-config"));
    let (code, stdout, stderr) = output(&mut command);
    assert_eq!(code, Some(0), "poetry add:\n{stdout}\n{stderr}");
    assert_version_line(stdout.trim().lines().last().unwrap_or_default());
    let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    // Poetry 2 writes a project's groups as PEP 735 dependency groups.
    assert!(
        pyproject.contains("[dependency-groups]\ndev = [\n    \"lambda-gate @ file://"),
        "{pyproject}"
    );
    assert!(project.join(".venv/bin/lambda-gate").exists());
}
