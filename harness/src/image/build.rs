//! Building the function's image from its spec: run the `before` command (e.g. cross-compiling
//! a binary), assemble the context as `docker build` would, build it for the function's
//! platform, and tag it by content.
//!
//! The tag is `<repository>:<arch>-<hash>`, the hash taken over the platform and the context
//! tar (which has fixed metadata, see `context.rs`): the same sources give the same tag,
//! and an image that already has it is reused instead of rebuilt.

use super::context::{self, ContextError};
use crate::arch::Arch;
use crate::digest::sha256_hex;
use crate::progress::Progress;
use crate::runtime::{DockerClient, DockerError};
use crate::spec::Shell;
use std::path::{Path, PathBuf};

/// Which image to verify (the spec's `[image]`).
#[derive(Clone, Debug)]
pub(crate) enum ImageSource {
    /// Build it from a Dockerfile.
    Build(BuildSpec),
    /// An existing local image.
    Reference(String),
}

/// How to build the image.
#[derive(Clone, Debug)]
pub(crate) struct BuildSpec {
    /// The Dockerfile.
    pub(crate) dockerfile: PathBuf,
    /// The build context directory.
    pub(crate) context: PathBuf,
    /// A shell command run first, in the spec's directory (e.g. cross-compiling a binary).
    pub(crate) before: Option<String>,
    /// Repository of the tag; the tag itself is `<arch>-<content hash>`.
    pub(crate) repository: String,
}

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The `before` command could not be started.
    #[error("cannot run image.before with sh")]
    BeforeSpawn(#[source] std::io::Error),
    /// The `before` command failed.
    #[error("image.before failed ({status}){}", if output.is_empty() { "; its output is above".to_owned() } else { format!(":\n{output}") })]
    Before {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The end of its output, when it was not shown live (`-q`).
        output: String,
    },
    /// The context could not be assembled.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// Docker failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Environment variables the `before` command gets, naming the architecture being built.
pub(crate) const ARCH_ENV: &str = "LAMBDA_GATE_ARCH";
/// `linux/arm64` or `linux/amd64`.
pub(crate) const PLATFORM_ENV: &str = "LAMBDA_GATE_PLATFORM";
/// The static-musl Rust target of the architecture (for Rust functions).
pub(crate) const RUST_TARGET_ENV: &str = "LAMBDA_GATE_RUST_TARGET";

/// Runs `before` (see [`Shell`]), then builds the image for `arch`, or reuses
/// it when its content tag exists; returns its reference.
pub(crate) fn build(
    docker: &DockerClient,
    spec: &BuildSpec,
    arch: Arch,
    shell: &Shell,
    progress: &Progress,
) -> Result<String, BuildError> {
    if let Some(before) = &spec.before {
        progress.heading(format!("running image.before for {arch}"));
        run_before(before, arch, shell, progress.quiet())?;
    }
    let (tar, dockerfile) = context::tar(&spec.context, &spec.dockerfile)?;
    // The images the Dockerfile builds FROM are inputs too: a rebuilt base gives a new tag.
    let mut bases = String::new();
    for base in base_images(&spec.dockerfile)? {
        let id = match docker.inspect(&base) {
            Ok(image) => image.id.unwrap_or_default(),
            Err(DockerError::NoSuchImage { .. }) => String::new(),
            Err(e) => return Err(e.into()),
        };
        bases.push_str(&format!("{base}={id}\n"));
    }
    let digest = sha256_hex(
        &[
            arch.docker_platform().as_bytes(),
            b"\0",
            dockerfile.as_bytes(),
            b"\0",
            bases.as_bytes(),
            b"\0",
            &tar,
        ]
        .concat(),
    );
    let reference = format!("{}:{}-{}", spec.repository, arch, &digest[..16]);
    if docker.image_exists(&reference)? {
        progress.step(format!("image {reference} is up to date"));
        return Ok(reference);
    }
    progress.step(format!(
        "building image {reference} for {} ({} context)",
        arch.docker_platform(),
        crate::units::human_bytes(tar.len() as u64)
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
    Ok(reference)
}

/// The images a Dockerfile's `FROM` lines name (with `ARG` defaults declared before them
/// filled in), other than `scratch` and earlier stages.
fn base_images(dockerfile: &Path) -> Result<Vec<String>, BuildError> {
    let text = std::fs::read_to_string(dockerfile).map_err(|source| {
        BuildError::Context(ContextError::Read {
            path: dockerfile.to_path_buf(),
            source,
        })
    })?;
    let mut args: Vec<(String, String)> = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    let mut bases = Vec::new();
    for line in text.lines().map(str::trim) {
        let mut words = line.split_whitespace();
        let Some(instruction) = words.next() else {
            continue;
        };
        if instruction.eq_ignore_ascii_case("ARG") && stages.is_empty() && bases.is_empty() {
            if let Some((name, value)) = words.next().and_then(|kv| kv.split_once('=')) {
                args.push((name.to_owned(), value.trim_matches('"').to_owned()));
            }
        } else if instruction.eq_ignore_ascii_case("FROM") {
            let mut rest: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
            let mut image = rest.first().map(|w| (*w).to_owned()).unwrap_or_default();
            for (name, value) in &args {
                image = image
                    .replace(&format!("${{{name}}}"), value)
                    .replace(&format!("${name}"), value);
            }
            if image != "scratch" && !stages.contains(&image) {
                bases.push(image);
            }
            if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("AS") {
                stages.push(rest.remove(2).to_owned());
            }
        }
    }
    Ok(bases)
}

/// Runs the spec's `before` command with `sh -c` in the spec's directory. Its output goes to stderr, live,
/// so a long compile shows its progress (and cargo's lock waits) and stdout stays free for the
/// image reference; `quiet` keeps it and shows its end only if the command fails.
fn run_before(command: &str, arch: Arch, shell: &Shell, quiet: bool) -> Result<(), BuildError> {
    let mut child = shell.command(command);
    child
        .env(ARCH_ENV, arch.lambda_name())
        .env(PLATFORM_ENV, arch.docker_platform())
        .env(RUST_TARGET_ENV, arch.rust_target());
    let (status, output) = if quiet {
        let out = child.output().map_err(BuildError::BeforeSpawn)?;
        let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        (
            out.status,
            lines[lines.len().saturating_sub(30)..].join("\n"),
        )
    } else {
        let status = child
            .stdout(crate::progress::stdout_to_stderr())
            .status()
            .map_err(BuildError::BeforeSpawn)?;
        (status, String::new())
    };
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Before { status, output })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_images_are_read_with_arg_defaults_and_without_stages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        std::fs::write(
            &path,
            "ARG BASE_IMAGE=lambda-python-base:3.11\n\
             FROM --platform=linux/amd64 ${BASE_IMAGE} AS build\n\
             RUN true\n\
             FROM scratch\n\
             COPY --from=build /x /x\n\
             FROM build\n",
        )
        .unwrap();
        assert_eq!(base_images(&path).unwrap(), ["lambda-python-base:3.11"]);
    }
}
