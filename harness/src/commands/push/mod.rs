//! `lambda-gate push`: push exactly the verified image, then prove from the registry that it
//! arrived as something Lambda accepts.
//!
//! Pushing is where a verified image can be swapped or changed: the local tag can be moved to
//! another image after verification, and what a registry stores is a manifest that the local
//! image store never shows. So the push refuses an image whose id is not the verified one or
//! whose platform is not the function's, tags the verified image *by id* (the tag cannot move
//! between the check and the push), pushes it, and then reads back what the registry holds under
//! the pushed digest: a single image manifest (Lambda rejects an index, such as the one buildx
//! adds for attestations) whose bytes are that digest, whose config is the verified image id,
//! and whose platform is the function's; and the pushed tag must name that same manifest.
//!
//! The push goes through the `docker` CLI and the read-back through `skopeo`: both read the
//! credentials `docker login` (or `amazon-ecr-login`) stored, credential helpers included, so
//! the same command works against ECR and a local registry. The Engine API would need those
//! credentials handed to it per call.

mod proof;
mod registry;
mod tools;

use crate::arch::Arch;
use crate::checks::{CheckId, CheckResult};
use crate::progress::Progress;
use crate::runtime::{DockerClient, DockerError};
use proof::{platform_check, prove_config, prove_manifest, prove_tag};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;
use tools::{Skopeo, docker_push};

/// Where to push: `REGISTRY/REPOSITORY[:TAG]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PushTarget {
    /// `host[:port]`.
    pub(crate) registry: String,
    /// The repository path inside the registry.
    pub(crate) repository: String,
    /// The tag, if given.
    pub(crate) tag: Option<String>,
}

/// Why a push target cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid push target {target:?}: {why} (expected REGISTRY/REPOSITORY[:TAG], e.g. 127.0.0.1:5000/loan-grade-service:v1)"
)]
pub(crate) struct InvalidTarget {
    target: String,
    why: &'static str,
}

impl FromStr for PushTarget {
    type Err = InvalidTarget;

    fn from_str(target: &str) -> Result<Self, Self::Err> {
        let invalid = |why| InvalidTarget {
            target: target.to_owned(),
            why,
        };
        if target.contains('@') {
            return Err(invalid(
                "it names a digest; give a tag, the digest is what the push reports",
            ));
        }
        let Some((registry, rest)) = target.split_once('/') else {
            return Err(invalid("it names no registry"));
        };
        // As Docker tells a registry from a repository path: a dot, a port or `localhost`.
        if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
            return Err(invalid(
                "it names no registry (the part before the first `/` must be a host)",
            ));
        }
        let (repository, tag) = match rest.rsplit_once(':') {
            Some((repository, tag)) => (repository, Some(tag)),
            None => (rest, None),
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(component_ok) {
            return Err(invalid(
                "the repository must be lowercase letters, digits and `._-`, in `/`-separated parts",
            ));
        }
        if let Some(tag) = tag {
            let tag_ok = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                && !tag.starts_with(['.', '-']);
            if !tag_ok {
                return Err(invalid(
                    "the tag must be at most 128 letters, digits and `._-`, not starting with `.` or `-`",
                ));
            }
        }
        Ok(PushTarget {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
        })
    }
}

impl fmt::Display for PushTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        Ok(())
    }
}

impl PushTarget {
    /// Whether the registry is on this machine (loopback), where plain HTTP is acceptable.
    fn is_loopback(&self) -> bool {
        let host = match self.registry.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => self.registry.split(':').next().unwrap_or_default(),
        };
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// One push: which local image, which verified id, where to.
#[derive(Clone, Debug)]
pub(crate) struct PushConfig {
    /// The local image reference that was verified.
    pub(crate) image: String,
    /// The image id `verify` saw (`sha256:` and 64 hex digits).
    pub(crate) verified_id: String,
    /// Where to push.
    pub(crate) target: PushTarget,
    /// The function's architecture: the image and the pushed config must be for it.
    pub(crate) arch: Arch,
    /// Read the registry over plain HTTP (only for a registry on this machine).
    pub(crate) insecure_registry: bool,
    /// How long each registry call and read-back may take.
    pub(crate) registry_timeout: Duration,
    /// How long `docker push` may take.
    pub(crate) push_timeout: Duration,
    /// Where progress goes.
    pub(crate) progress: Progress,
}

/// A problem with the setup rather than with the image: the push could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Docker is missing or failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The verified id is not a full image id.
    #[error(
        "the verified image id {0:?} is not a full image id: give `sha256:` and 64 hex digits, as `docker image inspect --format '{{{{.Id}}}}'` prints it"
    )]
    VerifiedId(String),
    /// Plain HTTP was asked for a registry elsewhere.
    #[error(
        "--insecure-registry is only for a registry on this machine (localhost, 127.0.0.0/8, [::1]); {0} must be reached over TLS"
    )]
    Insecure(String),
    /// No tag was given and the local reference has none to reuse.
    #[error("{0} has no tag to reuse: give the push target a tag (REGISTRY/REPOSITORY:TAG)")]
    NoTag(String),
    /// The registry cannot be reached.
    #[error("cannot reach the registry {registry}: check the address and that it is running")]
    Unreachable {
        /// `host[:port]`.
        registry: String,
        /// Why not.
        source: std::io::Error,
    },
    /// The registry serves plain HTTP and plain HTTP was not asked for.
    #[error(
        "the registry {registry} serves plain HTTP, not HTTPS ({answer}): docker would push to it, but the read-back could not prove what arrived; for a registry on this machine pass --insecure-registry, any other must serve TLS"
    )]
    PlainHttp {
        /// `host[:port]`.
        registry: String,
        /// How it answered.
        answer: String,
    },
    /// Something answered plain HTTP, but not as a registry.
    #[error(
        "GET {url} answered {answer}: that is not a container registry (Docker Registry API v2)"
    )]
    NotARegistry {
        /// The URL asked.
        url: String,
        /// Its status line.
        answer: String,
    },
    /// The registry refused the stored credentials, or there are none.
    #[error(
        "the registry {registry} refused to let the read-back in: log in first with `docker login {registry}` (ECR: `aws ecr get-login-password | docker login --username AWS --password-stdin {registry}`)\n--- skopeo said ---\n{stderr}"
    )]
    Credentials {
        /// `host[:port]`.
        registry: String,
        /// What skopeo said.
        stderr: String,
    },
    /// The read-back tool cannot read the target before anything was pushed.
    #[error(
        "skopeo cannot read {reference} before the push, so the push could not be proven; nothing was pushed\n--- skopeo said ---\n{stderr}"
    )]
    Preflight {
        /// What was read.
        reference: String,
        /// What skopeo said.
        stderr: String,
    },
    /// A registry call or a tool did not finish in time.
    #[error("{command} did not finish within {}: stopped waiting", humantime::format_duration(*after))]
    Timeout {
        /// What was waited for.
        command: String,
        /// How long.
        after: Duration,
    },
    /// A tool could not be started.
    #[error("cannot run `{tool}`: {hint}")]
    Tool {
        /// The program.
        tool: &'static str,
        /// How to get it.
        hint: &'static str,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// `docker push` failed.
    #[error("`docker push {target}` failed ({status})\n--- its output ---\n{output}")]
    Push {
        /// What was pushed.
        target: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
    /// `docker push` succeeded but printed no digest.
    #[error("`docker push {target}` printed no digest\n--- its output ---\n{output}")]
    NoDigest {
        /// What was pushed.
        target: String,
        /// What it printed.
        output: String,
    },
    /// `skopeo inspect` failed.
    #[error("`skopeo inspect {what}` of {reference} failed ({status}): {stderr}")]
    Inspect {
        /// `--raw` or `--config --raw`.
        what: &'static str,
        /// What was read.
        reference: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
}

/// What a push did and what the registry proved.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct PushReport {
    /// The local image.
    pub(crate) image: String,
    /// `REGISTRY/REPOSITORY@sha256:...`, once pushed.
    pub(crate) pushed: Option<String>,
    /// The checks, in order; a check that failed before the push means nothing was pushed.
    pub(crate) checks: Vec<CheckResult>,
}

impl PushReport {
    /// Whether every proof held: the pushed digest may be deployed.
    pub(crate) fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckResult::passed)
    }

    /// The pushed digest (`sha256:...`), once pushed.
    pub(crate) fn digest(&self) -> Option<&str> {
        self.pushed.as_deref()?.split_once('@').map(|(_, d)| d)
    }

    /// The first thing wrong: the first detail of the first check that did not pass.
    pub(crate) fn first_cause(&self) -> Option<String> {
        let check = self.checks.iter().find(|c| !c.passed())?;
        Some(check.details.first().unwrap_or(&check.summary).clone())
    }

    /// The line for stdout: the pushed `REGISTRY/REPOSITORY@sha256:...` when proven; when
    /// pushed but not proven, the digest and why (the image is in the registry all the same);
    /// nothing when nothing was pushed.
    pub(crate) fn stdout_line(&self) -> Option<String> {
        let pushed = self.pushed.as_deref()?;
        if self.passed() {
            return Some(pushed.to_owned());
        }
        Some(format!(
            "pushed {}, not proven: {}",
            self.digest().unwrap_or(pushed),
            self.first_cause().unwrap_or_default()
        ))
    }

    /// A short report, one line per check, then the details of failures and the verdict.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            out.push_str(&format!(
                "{:4} {}: {}\n",
                check.status.label(),
                check.name,
                check.summary
            ));
            if !check.passed() {
                for detail in &check.details {
                    out.push_str(&format!("  - {}\n", detail.replace('\n', "\n    ")));
                }
            }
        }
        out.push_str(&match (&self.pushed, self.passed()) {
            (Some(pushed), true) => format!("PUSHED: {pushed}\n"),
            (Some(pushed), false) => format!(
                "FAILED: {pushed} was pushed, but the registry does not prove it is the verified image as Lambda needs it: do not deploy it\n"
            ),
            (None, _) => format!("REFUSED: {} was not pushed\n", self.image),
        });
        out
    }
}

/// Pushes the verified image and proves what the registry holds. `Err` only for setup problems;
/// a refused image or a failed proof is an `Ok` report whose [`PushReport::passed`] is false.
pub(crate) fn push(config: &PushConfig) -> Result<PushReport, PushError> {
    let verified_id = normalise_id(&config.verified_id)?;
    let target = &config.target;
    if config.insecure_registry && !target.is_loopback() {
        return Err(PushError::Insecure(target.registry.clone()));
    }
    let tag = match &target.tag {
        Some(tag) => tag.clone(),
        None => local_tag(&config.image).ok_or_else(|| PushError::NoTag(config.image.clone()))?,
    };
    let progress = &config.progress;
    let mut report = PushReport {
        image: config.image.clone(),
        pushed: None,
        checks: Vec::new(),
    };

    progress.step(format!("checking {}", config.image));
    let skopeo = Skopeo {
        insecure: config.insecure_registry,
        timeout: config.registry_timeout,
    };
    // Missing before the push, not after it.
    skopeo.version()?;
    let docker = DockerClient::connect()?;
    let local = docker.inspect(&config.image)?;
    let id = local.id.unwrap_or_default();
    let mut verified = CheckResult::new(CheckId::VerifiedImage);
    if id == verified_id {
        verified.summary = format!("{} is {verified_id}, the verified image", config.image);
    } else {
        verified.summary = "the image is not the one that was verified".to_owned();
        verified.problem(format!(
            "{} is now {id}, but {verified_id} was verified: the tag moved after verification; refusing to push",
            config.image
        ));
    }
    report.checks.push(verified);
    report.checks.push(platform_check(
        CheckId::Architecture,
        &format!("{} (local)", config.image),
        local.architecture.as_deref().unwrap_or_default(),
        local.os.as_deref().unwrap_or_default(),
        config.arch,
    ));
    if !report.passed() {
        progress.done();
        return Ok(report);
    }

    let tagged = format!("{}:{tag}", target.name());
    // Before the first byte is pushed: a push that could not be proven is not started.
    progress.step(format!("checking the registry {}", target.registry));
    let reachable = registry::check(target, &tagged, &skopeo, config.registry_timeout)?;
    progress.detail(&reachable.summary);

    progress.step(format!("pushing {verified_id} as {tagged}"));
    // By id, not by the local reference: the reference could move between check and tag.
    docker.tag(&verified_id, &target.name(), &tag)?;
    let digest = docker_push(&tagged, progress, config.push_timeout)?;
    let pushed = format!("{}@{digest}", target.name());
    report.pushed = Some(pushed.clone());

    // From here the image is in the registry: whatever stops the proof is a failed proof
    // (exit 1, with the digest), not a setup error.
    progress.step(format!("reading back {pushed}"));
    if let Err(error) = read_back(
        &skopeo,
        &pushed,
        &tagged,
        &digest,
        &verified_id,
        config.arch,
        &mut report,
    ) {
        unproven(&mut report, &error);
    }
    progress.done();
    Ok(report)
}

/// Reads back what the registry holds under `pushed` and `tagged` and adds the proofs to
/// `report`; `Err` when a read-back failed or did not finish in time.
fn read_back(
    skopeo: &Skopeo,
    pushed: &str,
    tagged: &str,
    digest: &str,
    verified_id: &str,
    arch: Arch,
    report: &mut PushReport,
) -> Result<(), PushError> {
    let manifest = skopeo.inspect(pushed, false)?;
    let (manifest_check, config_digest) = prove_manifest(digest, &manifest, verified_id);
    let manifest_proven = manifest_check.passed();
    report.checks.push(manifest_check);
    report.checks.push(match config_digest {
        // A config named by a manifest that is not the pushed one proves nothing.
        Some(_) if !manifest_proven => CheckResult::not_judged(
            CheckId::PushedConfig,
            CheckId::PushedManifest,
            "the registry's manifest is not the pushed one",
        ),
        Some(config_digest) => {
            let blob = skopeo.inspect(pushed, true)?;
            prove_config(&config_digest, &blob, arch)
        }
        None => CheckResult::not_judged(
            CheckId::PushedConfig,
            CheckId::PushedManifest,
            "the manifest names no config",
        ),
    });
    let by_tag = skopeo.inspect(tagged, false)?;
    report.checks.push(prove_tag(tagged, digest, &by_tag));
    Ok(())
}

/// Records a read-back that failed: the proof it was making fails with `error` as its cause
/// and the proofs after it are not judged.
fn unproven(report: &mut PushReport, error: &PushError) {
    let mut cause = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        cause.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    let proofs = [
        CheckId::PushedManifest,
        CheckId::PushedConfig,
        CheckId::PushedTag,
    ];
    let failed = proofs
        .into_iter()
        .find(|id| !report.checks.iter().any(|c| c.name == *id))
        .unwrap_or(CheckId::PushedTag);
    let mut check = CheckResult::new(failed);
    check.summary = "the registry could not be read back".to_owned();
    check.problem(cause);
    report.checks.push(check);
    for later in proofs.into_iter().skip_while(|id| *id != failed).skip(1) {
        report.checks.push(CheckResult::not_judged(
            later,
            failed,
            format!("the read-back stopped at {failed}"),
        ));
    }
}

/// `sha256:<64 hex>` from an id given with or without its algorithm.
fn normalise_id(id: &str) -> Result<String, PushError> {
    let hex = id
        .strip_prefix("sha256:")
        .unwrap_or(id)
        .to_ascii_lowercase();
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("sha256:{hex}"))
    } else {
        Err(PushError::VerifiedId(id.to_owned()))
    }
}

/// The tag of a local reference (`name:tag`), if it has one.
fn local_tag(reference: &str) -> Option<String> {
    if reference.contains('@') {
        return None;
    }
    let (_, tag) = reference.rsplit_once(':')?;
    (!tag.contains('/')).then(|| tag.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[test]
    fn targets_need_a_registry_and_take_an_optional_tag() {
        let t: PushTarget = "127.0.0.1:5000/fixture/classifier:abc"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.registry.as_str(), t.repository.as_str(), t.tag.as_deref()),
            ("127.0.0.1:5000", "fixture/classifier", Some("abc"))
        );
        assert!(t.is_loopback());
        let t: PushTarget = "registry.example/loan-grade-service"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.tag, None);
        assert!(!t.is_loopback());
        assert!(
            "localhost:5000/x"
                .parse::<PushTarget>()
                .is_ok_and(|t| t.is_loopback())
        );
        assert!(
            "[::1]:5000/x"
                .parse::<PushTarget>()
                .is_ok_and(|t| t.is_loopback())
        );
        for bad in [
            "loan-grade-service:v1",
            "library/loan-grade-service:v1",
            "127.0.0.1:5000/Upper:v1",
            "127.0.0.1:5000/x@sha256:00",
            "127.0.0.1:5000/x:-bad",
            "127.0.0.1:5000/x:",
        ] {
            assert!(bad.parse::<PushTarget>().is_err(), "{bad} was accepted");
        }
    }

    fn pushed_report(checks: Vec<CheckResult>) -> PushReport {
        PushReport {
            image: "fixture:v1".to_owned(),
            pushed: Some(format!("127.0.0.1:5000/fixture@sha256:{}", "a".repeat(64))),
            checks,
        }
    }

    #[test]
    fn a_read_back_that_did_not_finish_is_a_failed_proof_naming_the_digest() {
        let mut verified = CheckResult::new(CheckId::VerifiedImage);
        verified.summary = "fixture:v1 is the verified image".to_owned();
        let mut report = pushed_report(vec![verified]);
        unproven(
            &mut report,
            &PushError::Timeout {
                command: format!(
                    "skopeo inspect --raw docker://127.0.0.1:5000/fixture@sha256:{}",
                    "a".repeat(64)
                ),
                after: Duration::from_secs(3),
            },
        );
        assert!(!report.passed());
        insta::assert_snapshot!(format!(
            "stdout: {}\nstderr:\n{}",
            report.stdout_line().unwrap_or_default(),
            report.render()
        ));
    }

    #[test]
    fn a_read_back_cut_after_the_manifest_fails_the_next_proof() {
        let mut report = pushed_report(vec![CheckResult::new(CheckId::PushedManifest)]);
        unproven(
            &mut report,
            &PushError::Tool {
                tool: "skopeo",
                hint: "install skopeo",
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "gone"),
            },
        );
        let states: Vec<_> = report.checks.iter().map(|c| (c.name, c.status)).collect();
        assert_eq!(
            states,
            [
                (CheckId::PushedManifest, crate::checks::Status::Passed),
                (CheckId::PushedConfig, crate::checks::Status::Failed),
                (CheckId::PushedTag, crate::checks::Status::NotJudged),
            ]
        );
        assert_eq!(
            report.stdout_line().as_deref(),
            Some(
                format!(
                    "pushed sha256:{}, not proven: cannot run `skopeo`: install skopeo: gone",
                    "a".repeat(64)
                )
                .as_str()
            )
        );
    }

    #[test]
    fn only_a_push_prints_on_stdout() {
        let mut report = pushed_report(vec![CheckResult::new(CheckId::PushedManifest)]);
        assert_eq!(
            report.stdout_line(),
            Some(format!("127.0.0.1:5000/fixture@sha256:{}", "a".repeat(64)))
        );
        report.pushed = None;
        report.checks[0].problem("the tag moved");
        assert_eq!(report.stdout_line(), None);
    }

    #[test]
    fn verified_ids_must_be_full() {
        assert_eq!(normalise_id(&ID[7..]).ok().as_deref(), Some(ID));
        assert!(normalise_id("sha256:1111").is_err());
        assert!(normalise_id("1111111111111").is_err());
    }
}
