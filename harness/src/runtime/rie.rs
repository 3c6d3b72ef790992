//! Provisioning the real AWS Lambda Runtime Interface Emulator.
//!
//! The gate never emulates Lambda itself: it runs AWS's own RIE. The builds come from the
//! `aws-sam-cli` wheel (it carries both architectures under `samcli/local/rapid/`), fetched with
//! `pip download`, because a package index is reachable from every CI runner while a release
//! page may not be. Both the wheel and the binary inside are pinned by sha256, and the binary is
//! cached in the user's cache directory so only the first run pays for the download.

use crate::arch::Arch;
use crate::digest::sha256_file;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `aws-sam-cli` release whose RIE builds are pinned below.
pub(crate) const SAM_CLI_VERSION: &str = "1.170.0";
const WHEEL_FILE: &str = "aws_sam_cli-1.170.0-py3-none-any.whl";
const WHEEL_SHA256: &str = "24ebaf5ecba38dc1758089968cb89ab61e124b84e92a344fc7a2771a47f4d0bf";
const RIE_ARM64_SHA256: &str = "ec2e5d09633d853834c008b1ef264bf834b258a94d551d2b2074966494b39a21";
const RIE_X86_64_SHA256: &str = "6b1e686e62ab2baf5759c412c4864276ef2a88b094fca53ec070637ccba9b9a5";

/// Environment variable naming a local RIE binary to use instead of the pinned download.
pub(crate) const RIE_PATH_ENV: &str = "LAMBDA_GATE_RIE";
/// Environment variable naming the Python interpreter whose pip fetches the wheel.
pub(crate) const PYTHON_ENV: &str = "LAMBDA_GATE_PYTHON";

/// Where the RIE's Managed Instances mode looks for the runtime, in order: it treats every
/// function as a .zip function (working directory `/var/task`) and ignores the image's
/// `ENTRYPOINT` and `CMD`.
const MANAGED_BOOTSTRAPS: [&str; 3] = [
    "/var/runtime/bootstrap",
    "/var/task/bootstrap",
    "/opt/bootstrap",
];

/// Whether the RIE's Managed Instances mode runs `command` (the image's `ENTRYPOINT` + `CMD`):
/// only a lone bootstrap at one of its places; otherwise why not.
pub(crate) fn managed_mode_runs(command: &[String]) -> Result<(), String> {
    match command {
        [one] if MANAGED_BOOTSTRAPS.contains(&one.as_str()) => Ok(()),
        _ => Err(format!(
            "the RIE's Managed Instances mode (aws-sam-cli {SAM_CLI_VERSION}) runs only a bootstrap at {} with /var/task as working directory, and ignores ENTRYPOINT and CMD; this image runs {command:?}. Put the runtime there (ENTRYPOINT [\"/var/runtime/bootstrap\"], arguments in its environment), or set function.max_concurrency = 1",
            MANAGED_BOOTSTRAPS.join(", ")
        )),
    }
}

fn pinned_sha256(arch: Arch) -> &'static str {
    match arch {
        Arch::Arm64 => RIE_ARM64_SHA256,
        Arch::X86_64 => RIE_X86_64_SHA256,
    }
}

impl RieOrigin {
    /// One line for reports: which emulator ran the function, and whether it was verified.
    pub fn describe(&self) -> String {
        match self {
            RieOrigin::Pinned {
                sam_cli_version,
                sha256,
            } => format!(
                "aws-lambda-rie from aws-sam-cli {sam_cli_version}, sha256 {} (pinned, verified)",
                &sha256[..16]
            ),
            RieOrigin::Local { path, sha256 } => format!(
                "UNVERIFIED local emulator {}, sha256 {sha256} (not the pinned build)",
                path.display()
            ),
        }
    }
}

/// Where the emulator binary came from; the report names it.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RieOrigin {
    /// The pinned build from `aws-sam-cli`, sha256-verified.
    Pinned {
        /// `aws-sam-cli` version it was taken from.
        sam_cli_version: &'static str,
        /// Verified sha256 of the binary.
        sha256: &'static str,
    },
    /// A binary the user pointed at (flag or `LAMBDA_GATE_RIE`); not verified against the pin.
    Local {
        /// Where it is.
        path: PathBuf,
        /// Its sha256, for the report.
        sha256: String,
    },
}

/// A ready-to-mount RIE binary for one architecture.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Rie {
    /// Path on the host; mounted read-only into the container.
    pub(crate) path: PathBuf,
    /// Architecture of the binary.
    pub(crate) arch: Arch,
    /// Where it came from.
    pub(crate) origin: RieOrigin,
}

/// Why the emulator could not be provided.
#[derive(Debug, thiserror::Error)]
pub enum RieError {
    /// The local override does not exist or cannot be read.
    #[error("cannot read the RIE binary {path} (from --rie or {RIE_PATH_ENV})")]
    Unreadable {
        /// The override path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The local override is not an ELF binary for the requested architecture.
    #[error(
        "RIE binary {path} is not a {arch} ELF executable ({found}); point --rie/{RIE_PATH_ENV} at aws-lambda-rie-{arch_suffix}",
        arch_suffix = .arch.rie_binary_name().trim_start_matches("aws-lambda-rie-")
    )]
    WrongBinary {
        /// The override path.
        path: PathBuf,
        /// The architecture that was needed.
        arch: Arch,
        /// What the file turned out to be.
        found: String,
    },
    /// No cache directory could be determined.
    #[error("no user cache directory (set XDG_CACHE_HOME or HOME), or pass --rie PATH")]
    NoCacheDir,
    /// `pip download` failed or could not be run.
    #[error(
        "could not download aws-sam-cli=={SAM_CLI_VERSION} with `{python} -m pip download`: {detail}\n\
         Install Python 3 with pip (or set {PYTHON_ENV}), or pass --rie PATH to a local aws-lambda-rie binary"
    )]
    Download {
        /// The interpreter used.
        python: String,
        /// What went wrong.
        detail: String,
    },
    /// The downloaded file's sha256 is not the pinned one.
    #[error(
        "{what} has sha256 {actual}, pinned {expected}: refusing to run an unverified emulator"
    )]
    Checksum {
        /// Which file.
        what: String,
        /// Pinned digest.
        expected: &'static str,
        /// Observed digest.
        actual: String,
    },
    /// The cached binary changed since it was verified, and no fresh copy could be had.
    #[error("{problem}: refusing to run an unverified emulator, and a fresh copy could not be had")]
    UnverifiedCache {
        /// What is wrong with the cached binary.
        problem: String,
        /// Why the fresh copy could not be had.
        #[source]
        fresh: Box<RieError>,
    },
    /// The wheel does not contain the binary, or cannot be read.
    #[error("cannot extract {member} from {wheel}: {detail}")]
    Extract {
        /// The wheel path.
        wheel: PathBuf,
        /// The member that was looked for.
        member: String,
        /// What went wrong.
        detail: String,
    },
    /// Writing the cache failed.
    #[error("cannot write the RIE cache at {path}")]
    Cache {
        /// The cache path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Provides the RIE for `arch`: the override if one is given, else the pinned build (from the
/// cache, downloading it on first use).
pub(crate) fn provision(arch: Arch, override_path: Option<&Path>) -> Result<Rie, RieError> {
    let env_override = std::env::var_os(RIE_PATH_ENV).map(PathBuf::from);
    if let Some(path) = override_path.map(Path::to_path_buf).or(env_override) {
        return local(arch, path);
    }
    let cache = dirs::cache_dir()
        .ok_or(RieError::NoCacheDir)?
        .join("lambda-gate")
        .join("rie")
        .join(SAM_CLI_VERSION);
    pinned(arch, &cache)
}

fn local(arch: Arch, path: PathBuf) -> Result<Rie, RieError> {
    let bytes = std::fs::read(&path).map_err(|source| RieError::Unreadable {
        path: path.clone(),
        source,
    })?;
    let found = match crate::arch::machine_of_elf(&bytes) {
        Some(machine) => match Arch::from_elf_machine(machine) {
            Some(a) if a == arch => None,
            Some(a) => Some(format!("it is built for {a}")),
            None => Some(format!("ELF machine {machine}")),
        },
        None => Some("not a 64-bit ELF file".to_owned()),
    };
    if let Some(found) = found {
        return Err(RieError::WrongBinary { path, arch, found });
    }
    let sha256 = crate::digest::sha256_hex(&bytes);
    Ok(Rie {
        path: path.clone(),
        arch,
        origin: RieOrigin::Local { path, sha256 },
    })
}

fn pinned(arch: Arch, cache: &Path) -> Result<Rie, RieError> {
    let expected = pinned_sha256(arch);
    let target = cache.join(arch.rie_binary_name());
    let rie = Rie {
        path: target.clone(),
        arch,
        origin: RieOrigin::Pinned {
            sam_cli_version: SAM_CLI_VERSION,
            sha256: expected,
        },
    };
    // A cached binary is re-verified each time: the cache is user-writable.
    let cached_problem = if target.is_file() {
        match sha256_file(&target) {
            Ok(actual) if actual == expected => return Ok(rie),
            Ok(actual) => Some(format!(
                "the cached emulator {} has sha256 {actual}, pinned {expected}",
                target.display()
            )),
            Err(e) => Some(format!(
                "the cached emulator {} cannot be read ({e})",
                target.display()
            )),
        }
    } else {
        None
    };
    fetch(arch, cache, &target, expected).map_err(|fresh| match cached_problem {
        Some(problem) => RieError::UnverifiedCache {
            problem,
            fresh: Box::new(fresh),
        },
        None => fresh,
    })?;
    Ok(rie)
}

/// Downloads the pinned wheel, checks it and the binary in it, and puts the binary at `target`.
fn fetch(arch: Arch, cache: &Path, target: &Path, expected: &'static str) -> Result<(), RieError> {
    std::fs::create_dir_all(cache).map_err(|source| RieError::Cache {
        path: cache.to_path_buf(),
        source,
    })?;
    let download = tempfile::tempdir_in(cache).map_err(|source| RieError::Cache {
        path: cache.to_path_buf(),
        source,
    })?;
    let wheel = download_wheel(download.path())?;
    let member = format!("samcli/local/rapid/{}", arch.rie_binary_name());
    let staged = download.path().join(arch.rie_binary_name());
    extract(&wheel, &member, &staged)?;
    let actual = sha256_file(&staged).map_err(|source| RieError::Cache {
        path: staged.clone(),
        source,
    })?;
    if actual != expected {
        return Err(RieError::Checksum {
            what: member,
            expected,
            actual,
        });
    }
    // Rename is atomic within the cache directory: a concurrent run sees the old or the new file.
    std::fs::rename(&staged, target).map_err(|source| RieError::Cache {
        path: target.to_path_buf(),
        source,
    })
}

fn download_wheel(dir: &Path) -> Result<PathBuf, RieError> {
    let python = std::env::var(PYTHON_ENV).unwrap_or_else(|_| "python3".to_owned());
    let output = Command::new(&python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .arg("--dest")
        .arg(dir)
        .arg(format!("aws-sam-cli=={SAM_CLI_VERSION}"))
        .output()
        .map_err(|e| RieError::Download {
            python: python.clone(),
            detail: e.to_string(),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(RieError::Download {
            python,
            detail: if stderr.is_empty() {
                format!("it exited with {} and printed nothing", output.status)
            } else {
                stderr
            },
        });
    }
    let wheel = dir.join(WHEEL_FILE);
    let actual = sha256_file(&wheel).map_err(|e| RieError::Download {
        python,
        detail: format!("{} was not written: {e}", wheel.display()),
    })?;
    if actual != WHEEL_SHA256 {
        return Err(RieError::Checksum {
            what: WHEEL_FILE.to_owned(),
            expected: WHEEL_SHA256,
            actual,
        });
    }
    Ok(wheel)
}

fn extract(wheel: &Path, member: &str, to: &Path) -> Result<(), RieError> {
    let fail = |detail: String| RieError::Extract {
        wheel: wheel.to_path_buf(),
        member: member.to_owned(),
        detail,
    };
    let file = std::fs::File::open(wheel).map_err(|e| fail(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| fail(e.to_string()))?;
    let mut entry = archive.by_name(member).map_err(|e| fail(e.to_string()))?;
    let mut out = std::fs::File::create(to).map_err(|e| fail(e.to_string()))?;
    std::io::copy(&mut entry, &mut out).map_err(|e| fail(e.to_string()))?;
    set_executable(to).map_err(|e| fail(e.to_string()))
}

fn set_executable(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_managed_instances_mode_runs_only_a_lone_bootstrap_at_its_places() {
        let command = |c: &[&str]| c.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(managed_mode_runs(&command(&["/var/runtime/bootstrap"])).is_ok());
        assert!(managed_mode_runs(&command(&["/opt/bootstrap"])).is_ok());
        let why = managed_mode_runs(&command(&["/opt/bin/fn", "regressor"])).unwrap_err();
        assert!(
            why.contains(r#"this image runs ["/opt/bin/fn", "regressor"]"#),
            "{why}"
        );
        assert!(managed_mode_runs(&command(&["/var/runtime/bootstrap", "x"])).is_err());
    }

    #[test]
    fn a_local_binary_for_another_architecture_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-rie");
        std::fs::write(&path, b"#!/bin/sh\necho hi\n").unwrap();
        let err = local(Arch::Arm64, path).unwrap_err();
        assert!(err.to_string().contains("not a 64-bit ELF"), "{err}");
    }

    #[test]
    fn a_missing_local_binary_names_the_path() {
        let err = local(Arch::X86_64, PathBuf::from("/nonexistent/rie")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/rie"), "{err}");
    }
}
