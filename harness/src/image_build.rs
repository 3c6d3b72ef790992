//! Building the function's image from its spec: run the `before` command (e.g. cross-compiling
//! a binary), assemble the context as `docker build` would, build it for the function's
//! platform, and tag it by content.
//!
//! The tag is `<repository>:<arch>-<hash>`, the hash taken over the platform and the context
//! tar (which has fixed metadata, see [`crate::context`]): the same sources give the same tag,
//! and an image that already has it is reused instead of rebuilt.

use crate::arch::Arch;
use crate::context::{self, ContextError};
use crate::digest::sha256_hex;
use crate::docker::{DockerClient, DockerError};
use crate::progress::Progress;
use crate::spec::BuildSpec;
use std::path::Path;
use std::process::{Command, Stdio};

/// A built (or already present) image.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BuiltImage {
    /// `repository:tag`, usable with `docker run` and `verify --image`.
    pub reference: String,
    /// Its architecture.
    pub arch: Arch,
    /// Whether an image with this content tag already existed and was reused.
    pub reused: bool,
}

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The `before` command could not be started.
    #[error("cannot run image.before with sh")]
    BeforeSpawn(#[source] std::io::Error),
    /// The `before` command failed.
    #[error("image.before failed ({status}); its output is above")]
    Before {
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The context could not be assembled.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Environment variables the `before` command gets, naming the architecture being built.
pub const ARCH_ENV: &str = "LAMBDA_GATE_ARCH";
/// `linux/arm64` or `linux/amd64`.
pub const PLATFORM_ENV: &str = "LAMBDA_GATE_PLATFORM";
/// The static-musl Rust target of the architecture (for Rust functions).
pub const RUST_TARGET_ENV: &str = "LAMBDA_GATE_RUST_TARGET";

/// Runs `before`, then builds the image or reuses it when its content tag exists. `root` is
/// the spec's directory, where `before` runs.
pub fn build(
    spec: &BuildSpec,
    arch: Arch,
    root: &Path,
    progress: &Progress,
) -> Result<BuiltImage, BuildError> {
    let docker = DockerClient::connect()?;
    build_with(&docker, spec, arch, root, progress)
}

pub(crate) fn build_with(
    docker: &DockerClient,
    spec: &BuildSpec,
    arch: Arch,
    root: &Path,
    progress: &Progress,
) -> Result<BuiltImage, BuildError> {
    if let Some(before) = &spec.before {
        progress.heading(format!("running image.before for {arch}"));
        run_before(before, arch, root)?;
    }
    let (tar, dockerfile) = context::tar(&spec.context, &spec.dockerfile)?;
    let digest = sha256_hex(
        &[
            arch.docker_platform().as_bytes(),
            b"\0",
            dockerfile.as_bytes(),
            b"\0",
            &tar,
        ]
        .concat(),
    );
    let reference = format!("{}:{}-{}", spec.repository, arch, &digest[..16]);
    if docker.image_exists(&reference)? {
        progress.step(format!("image {reference} is up to date"));
        return Ok(BuiltImage {
            reference,
            arch,
            reused: true,
        });
    }
    progress.step(format!(
        "building image {reference} for {} ({} context)",
        arch.docker_platform(),
        crate::checks::human_bytes(tar.len() as u64)
    ));
    docker.build(
        tar,
        &dockerfile,
        &reference,
        arch.docker_platform(),
        |line| {
            progress.detail(line);
        },
    )?;
    Ok(BuiltImage {
        reference,
        arch,
        reused: false,
    })
}

/// Runs the spec's `before` command with `sh -c` in `root`. Its output goes to stderr, live,
/// so a long compile shows its progress (and cargo's lock waits) and stdout stays free for the
/// image reference.
fn run_before(command: &str, arch: Arch, root: &Path) -> Result<(), BuildError> {
    let status = Command::new("sh")
        .arg("-ec")
        .arg(command)
        .current_dir(root)
        .env(ARCH_ENV, arch.lambda_name())
        .env(PLATFORM_ENV, arch.docker_platform())
        .env(RUST_TARGET_ENV, arch.rust_target())
        .stdin(Stdio::null())
        .stdout(crate::progress::stdout_to_stderr())
        .status()
        .map_err(BuildError::BeforeSpawn)?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Before { status })
    }
}
