//! Building the shipped image: cross-compile `bootstrap`, stage a minimal context, build it for
//! the requested platform with the root `Dockerfile`, tag it by content.
//!
//! The context holds only what the `Dockerfile` copies (the binary and the model directory), so
//! a build never uploads the multi-gigabyte `target/` directory. Every staged file gets fixed
//! metadata, which makes the context tar, and therefore the tag, a pure function of the inputs:
//! the same sources give the same tag, and an existing tag is reused instead of rebuilt.

use crate::arch::Arch;
use crate::digest::sha256_hex;
use crate::docker::{DockerClient, DockerError};
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Repository name of the images the gate builds.
pub const DEFAULT_REPOSITORY: &str = "loan-grade-service";

/// What to build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Architecture of the image.
    pub arch: Arch,
    /// Root of the Cargo workspace (holds `Dockerfile` and `service/`).
    pub workspace: PathBuf,
    /// Directory whose files become `models/artifacts/` in the context; default
    /// `<workspace>/models/artifacts`.
    pub model_dir: Option<PathBuf>,
    /// Cargo features of the `service` crate to enable (the tests use `fault-injection`).
    pub features: Vec<String>,
    /// Image repository; the tag is derived from the content.
    pub repository: String,
}

impl BuildOptions {
    /// The shipped configuration for `arch`.
    pub fn new(arch: Arch, workspace: impl Into<PathBuf>) -> Self {
        BuildOptions {
            arch,
            workspace: workspace.into(),
            model_dir: None,
            features: Vec::new(),
            repository: DEFAULT_REPOSITORY.to_owned(),
        }
    }

    fn model_dir(&self) -> PathBuf {
        self.model_dir
            .clone()
            .unwrap_or_else(|| self.workspace.join("models").join("artifacts"))
    }
}

/// A built (or already present) image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BuiltImage {
    /// `repository:tag`, usable with `docker run` and `harness verify --image`.
    pub reference: String,
    /// Its architecture.
    pub arch: Arch,
    /// Whether an image with this content tag already existed and was reused.
    pub reused: bool,
}

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A command the build needs could not be run.
    #[error("cannot run `{command}`: {source}. {hint}")]
    Spawn {
        /// The command line.
        command: String,
        /// The spawn error.
        source: std::io::Error,
        /// What to do about it.
        hint: &'static str,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}):\n{stderr}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr (tail).
        stderr: String,
    },
    /// A file the context needs is missing.
    #[error("cannot read {path} for the image: {source}")]
    Input {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `cargo metadata` said something unexpected.
    #[error("cannot find the cargo target directory: {0}")]
    Metadata(String),
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Cross-compiles `bootstrap` and builds the image, or reuses it when its content tag exists.
pub fn build(options: &BuildOptions, progress: Progress) -> Result<BuiltImage, BuildError> {
    let docker = DockerClient::connect()?;
    build_with(&docker, options, progress)
}

pub(crate) fn build_with(
    docker: &DockerClient,
    options: &BuildOptions,
    progress: Progress,
) -> Result<BuiltImage, BuildError> {
    let arch = options.arch;
    ensure_rust_target(arch, progress)?;
    progress.step(format!(
        "compiling bootstrap for {} ({})",
        arch,
        arch.rust_target()
    ));
    let binary = compile_bootstrap(options)?;
    let context = stage_context(options, &binary)?;
    let digest = sha256_hex(&[arch.docker_platform().as_bytes(), b"\0", &context].concat());
    let reference = format!("{}:{}-{}", options.repository, arch, &digest[..16]);
    if docker.image_exists(&reference)? {
        progress.step(format!("image {reference} is up to date"));
        return Ok(BuiltImage {
            reference,
            arch,
            reused: true,
        });
    }
    progress.step(format!(
        "building image {reference} for {}",
        arch.docker_platform()
    ));
    docker.build(context, &reference, arch.docker_platform())?;
    Ok(BuiltImage {
        reference,
        arch,
        reused: false,
    })
}

fn run(command: &mut Command, hint: &'static str) -> Result<std::process::Output, BuildError> {
    let line = format!("{command:?}").replace('"', "");
    let output = command.output().map_err(|source| BuildError::Spawn {
        command: line.clone(),
        source,
        hint,
    })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
        return Err(BuildError::Command {
            command: line,
            status: output.status,
            stderr: tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        });
    }
    Ok(output)
}

fn cargo() -> Command {
    // Under `cargo test`/`cargo run`, CARGO names the cargo that is running us.
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Adds the rustup target when it is missing, so a fresh machine needs no manual step.
fn ensure_rust_target(arch: Arch, progress: Progress) -> Result<(), BuildError> {
    const HINT: &str = "Install rustup, or add the target by hand: rustup target add <target>";
    let installed = run(
        Command::new("rustup").args(["target", "list", "--installed"]),
        HINT,
    )?;
    let installed = String::from_utf8_lossy(&installed.stdout);
    if installed.lines().any(|l| l.trim() == arch.rust_target()) {
        return Ok(());
    }
    progress.step(format!("installing rust target {}", arch.rust_target()));
    run(
        Command::new("rustup").args(["target", "add", arch.rust_target()]),
        HINT,
    )?;
    Ok(())
}

fn target_dir(workspace: &Path) -> Result<PathBuf, BuildError> {
    let output = run(
        cargo()
            .current_dir(workspace)
            .args(["metadata", "--format-version", "1", "--no-deps"]),
        "Is cargo on PATH?",
    )?;
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).map_err(|e| BuildError::Metadata(e.to_string()))?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| BuildError::Metadata("no target_directory in cargo metadata".to_owned()))
}

fn compile_bootstrap(options: &BuildOptions) -> Result<PathBuf, BuildError> {
    let mut target_dir = target_dir(&options.workspace)?;
    let mut command = cargo();
    command.current_dir(&options.workspace).args([
        "build",
        "--release",
        "--locked",
        "--package",
        "service",
        "--bin",
        "bootstrap",
        "--target",
        options.arch.rust_target(),
    ]);
    if !options.features.is_empty() {
        // A separate directory keeps the shipped build cached while test variants come and go.
        target_dir = target_dir.join(format!("harness-{}", options.features.join("-")));
        command
            .arg("--features")
            .arg(options.features.join(","))
            .arg("--target-dir")
            .arg(&target_dir);
    }
    run(&mut command, "Is cargo on PATH?")?;
    Ok(target_dir
        .join(options.arch.rust_target())
        .join("release")
        .join("bootstrap"))
}

/// The build context as an in-memory tar with fixed metadata (see the module docs).
fn stage_context(options: &BuildOptions, binary: &Path) -> Result<Vec<u8>, BuildError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| BuildError::Input {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut files: Vec<(String, Vec<u8>, u32)> = vec![
        (
            "Dockerfile".to_owned(),
            read(&options.workspace.join("Dockerfile"))?,
            0o644,
        ),
        // Where the Dockerfile expects it (cargo-lambda's output path).
        (
            "target/lambda/bootstrap/bootstrap".to_owned(),
            read(binary)?,
            0o755,
        ),
    ];
    let model_dir = options.model_dir();
    let entries = std::fs::read_dir(&model_dir).map_err(|source| BuildError::Input {
        path: model_dir.clone(),
        source,
    })?;
    let mut model_files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| BuildError::Input {
            path: model_dir.clone(),
            source,
        })?;
        if entry.path().is_file() {
            model_files.push(entry.path());
        }
    }
    model_files.sort();
    for path in model_files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if let Some(name) = name {
            files.push((format!("models/artifacts/{name}"), read(&path)?, 0o644));
        }
    }
    let mut tar = tar::Builder::new(Vec::new());
    for (path, bytes, mode) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &path, bytes.as_slice())
            .map_err(|source| BuildError::Input {
                path: PathBuf::from(&path),
                source,
            })?;
    }
    tar.into_inner().map_err(|source| BuildError::Input {
        path: PathBuf::from("<context>"),
        source,
    })
}
