//! Building the function's image from its spec: run the `before` command (e.g. cross-compiling
//! a binary), assemble the context as `docker build` would, build it for the function's
//! platform, and tag it by content.
//!
//! The tag is `<repository>:<arch>-<hash>`, the hash taken over the platform, the build
//! arguments, the base images and the context tar (which has fixed metadata, see
//! `context.rs`): the same sources give the same tag, and an image that already has it is
//! reused instead of rebuilt.
//!
//! The build arguments are the spec's `build_args` and the ones BuildKit predefines for the
//! target platform (`TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`), which the classic builder
//! does not: one Dockerfile can then pick a base per architecture (`ARG TARGETARCH` then
//! `FROM base:${TARGETARCH}`), as it would under `docker buildx build --platform`.

use super::context::{self, ContextError};
use crate::arch::Arch;
use crate::digest::sha256_hex;
use crate::progress::Progress;
use crate::runtime::{DockerClient, DockerError};
use crate::shell::Shell;
use std::collections::BTreeMap;
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
    /// `--build-arg`s (`image.build_args`), besides the platform ones the gate sets.
    pub(crate) build_args: BTreeMap<String, String>,
}

/// The build arguments the gate sets for the platform being built, as BuildKit predefines
/// them; a spec cannot set them.
pub(crate) const PLATFORM_ARGS: [&str; 3] = ["TARGETPLATFORM", "TARGETOS", "TARGETARCH"];

/// The spec's build arguments and the platform ones for `arch`.
fn build_args(spec: &BuildSpec, arch: Arch) -> BTreeMap<String, String> {
    let mut args = spec.build_args.clone();
    for (name, value) in
        PLATFORM_ARGS
            .into_iter()
            .zip([arch.docker_platform(), "linux", arch.oci_architecture()])
    {
        args.insert(name.to_owned(), value.to_owned());
    }
    args
}

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The spec's Dockerfile is not there (found before `before` runs: a Dockerfile is a source
    /// file, while the context may be what `before` stages).
    #[error("image.dockerfile names {}, which is not a file", .0.display())]
    NoDockerfile(std::path::PathBuf),
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
    if !spec.dockerfile.is_file() {
        return Err(BuildError::NoDockerfile(spec.dockerfile.clone()));
    }
    if let Some(before) = &spec.before {
        run_before(before, arch, shell, progress)?;
    }
    let (tar, dockerfile) = context::tar(&spec.context, &spec.dockerfile)?;
    let args = build_args(spec, arch);
    // The spec's build arguments and the images the Dockerfile builds FROM are inputs too:
    // another argument or a rebuilt base gives a new tag. (The platform ones follow from the
    // platform, which is hashed already.)
    let mut inputs: String = spec
        .build_args
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    for base in base_images(&spec.dockerfile, &args)? {
        let id = match docker.inspect(&base) {
            Ok(image) => image.id.unwrap_or_default(),
            Err(DockerError::NoSuchImage { .. }) => String::new(),
            Err(e) => return Err(e.into()),
        };
        inputs.push_str(&format!("{base}={id}\n"));
    }
    let digest = sha256_hex(
        &[
            arch.docker_platform().as_bytes(),
            b"\0",
            dockerfile.as_bytes(),
            b"\0",
            inputs.as_bytes(),
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
        &args,
        |line| {
            progress.detail(line);
        },
    )?;
    Ok(reference)
}

/// The images a Dockerfile's `FROM` lines name (with the `ARG`s declared before them filled
/// in: the build argument given, else the default), other than `scratch` and earlier stages.
fn base_images(
    dockerfile: &Path,
    build_args: &BTreeMap<String, String>,
) -> Result<Vec<String>, BuildError> {
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
            if let Some(declared) = words.next() {
                let (name, default) = declared.split_once('=').unwrap_or((declared, ""));
                let value = build_args
                    .get(name)
                    .map_or_else(|| default.trim_matches('"').to_owned(), Clone::clone);
                args.push((name.to_owned(), value));
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

/// Runs the spec's `before` command with `sh -c` in the spec's directory, with the spec's
/// environment (`shell`), as a step with a spinner and its output shown live above it (stdout
/// stays free for the image reference); with `-q` only its lock waits are shown, and its last
/// lines if it fails.
fn run_before(
    command: &str,
    arch: Arch,
    shell: &Shell,
    progress: &Progress,
) -> Result<(), BuildError> {
    let mut child = shell.command(command);
    child
        .env(ARCH_ENV, arch.lambda_name())
        .env(PLATFORM_ENV, arch.docker_platform())
        .env(RUST_TARGET_ENV, arch.rust_target());
    let (status, tail) = progress
        .run(format!("running image.before for {arch}"), &mut child)
        .map_err(BuildError::BeforeSpawn)?;
    if status.success() {
        Ok(())
    } else {
        let output = if progress.quiet() {
            tail
        } else {
            String::new()
        };
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
        let none = BTreeMap::new();
        assert_eq!(
            base_images(&path, &none).unwrap(),
            ["lambda-python-base:3.11"]
        );
    }

    #[test]
    fn build_arguments_pick_the_base_and_the_platform_ones_are_set() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Dockerfile");
        std::fs::write(
            &path,
            "ARG TARGETARCH\nARG PY=3.11\nFROM team/base-${TARGETARCH}:${PY}\n",
        )
        .unwrap();
        let spec = BuildSpec {
            dockerfile: path.clone(),
            context: dir.path().to_path_buf(),
            before: None,
            repository: "r".to_owned(),
            build_args: BTreeMap::from([("PY".to_owned(), "3.12".to_owned())]),
        };
        let args = build_args(&spec, Arch::Arm64);
        assert_eq!(args["TARGETARCH"], "arm64");
        assert_eq!(args["TARGETPLATFORM"], "linux/arm64");
        assert_eq!(base_images(&path, &args).unwrap(), ["team/base-arm64:3.12"]);
        let args = build_args(&spec, Arch::X86_64);
        assert_eq!(base_images(&path, &args).unwrap(), ["team/base-amd64:3.12"]);
    }
}
