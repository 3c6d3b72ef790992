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

use crate::arch::Arch;
use crate::checks::CheckResult;
use crate::digest::sha256_hex;
use crate::docker::{DockerClient, DockerError};
use crate::progress::Progress;
use serde_json::Value;
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::str::FromStr;

/// A Docker v2 schema 2 image manifest: one platform.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// An OCI image manifest: one platform.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Where to push: `REGISTRY/REPOSITORY[:TAG]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path inside the registry.
    pub repository: String,
    /// The tag, if given.
    pub tag: Option<String>,
}

/// Why a push target cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid push target {target:?}: {why} (expected REGISTRY/REPOSITORY[:TAG], e.g. 127.0.0.1:5000/loan-grade-service:v1)"
)]
pub struct InvalidTarget {
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
pub struct PushConfig {
    /// The local image reference that was verified.
    pub image: String,
    /// The image id `verify` saw (`sha256:` and 64 hex digits).
    pub verified_id: String,
    /// Where to push.
    pub target: PushTarget,
    /// The function's architecture: the image and the pushed config must be for it.
    pub arch: Arch,
    /// Read the registry over plain HTTP (only for a registry on this machine).
    pub insecure_registry: bool,
    /// Where progress goes.
    pub progress: Progress,
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
pub struct PushReport {
    /// The local image.
    pub image: String,
    /// `REGISTRY/REPOSITORY@sha256:...`, once pushed.
    pub pushed: Option<String>,
    /// The checks, in order; a check that failed before the push means nothing was pushed.
    pub checks: Vec<CheckResult>,
}

impl PushReport {
    /// Whether every proof held: the pushed digest may be deployed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckResult::passed)
    }

    /// A short report, one line per check, then the details of failures and the verdict.
    pub fn render(&self) -> String {
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
pub fn push(config: &PushConfig) -> Result<PushReport, PushError> {
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
    };
    // Missing before the push, not after it.
    skopeo.version()?;
    let docker = DockerClient::connect()?;
    let local = docker.inspect(&config.image)?;
    let id = local.id.unwrap_or_default();
    let mut verified = CheckResult::new("verified-image");
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
        "architecture",
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
    progress.step(format!("pushing {verified_id} as {tagged}"));
    // By id, not by the local reference: the reference could move between check and tag.
    docker.tag(&verified_id, &target.name(), &tag)?;
    let digest = docker_push(&tagged, progress)?;
    let pushed = format!("{}@{digest}", target.name());
    report.pushed = Some(pushed.clone());

    progress.step(format!("reading back {pushed}"));
    let manifest = skopeo.inspect(&pushed, false)?;
    let (manifest_check, config_digest) = prove_manifest(&digest, &manifest, &verified_id);
    report.checks.push(manifest_check);
    report.checks.push(match config_digest {
        Some(config_digest) => {
            let blob = skopeo.inspect(&pushed, true)?;
            prove_config(&config_digest, &blob, config.arch)
        }
        None => CheckResult::not_run("pushed-config", "the manifest names no config"),
    });
    let by_tag = skopeo.inspect(&tagged, false)?;
    report.checks.push(prove_tag(&tagged, &digest, &by_tag));
    progress.done();
    Ok(report)
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

/// Runs `docker push`, its output shown as progress, and returns the digest it printed
/// (`TAG: digest: sha256:... size: N`).
fn docker_push(tagged: &str, progress: &Progress) -> Result<String, PushError> {
    let mut child = Command::new("docker")
        .args(["push", tagged])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PushError::Tool {
            tool: "docker",
            hint: "install the Docker CLI",
            source,
        })?;
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let mut output = String::new();
    let mut digest = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            progress.detail(&line);
            digest = digest.or_else(|| pushed_digest(&line));
            output.push_str(&line);
            output.push('\n');
        }
    }
    let status = child.wait().map_err(|source| PushError::Tool {
        tool: "docker",
        hint: "install the Docker CLI",
        source,
    })?;
    if let Some(text) = stderr.and_then(|t| t.join().ok()) {
        output.push_str(&text);
    }
    if !status.success() {
        return Err(PushError::Push {
            target: tagged.to_owned(),
            status,
            output,
        });
    }
    digest.ok_or_else(|| PushError::NoDigest {
        target: tagged.to_owned(),
        output,
    })
}

/// The digest in `docker push`'s last line, `TAG: digest: sha256:<hex> size: N`.
fn pushed_digest(line: &str) -> Option<String> {
    let rest = &line[line.find("digest: sha256:")? + "digest: ".len()..];
    let digest = rest.split_whitespace().next()?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| digest.to_owned())
}

/// `skopeo inspect`, which reads the registry with docker's stored credentials.
struct Skopeo {
    insecure: bool,
}

impl Skopeo {
    const HINT: &str =
        "install skopeo (Debian/Ubuntu: apt-get install skopeo, or .ci/install registry)";

    /// Fails unless skopeo runs.
    fn version(&self) -> Result<(), PushError> {
        Command::new("skopeo")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(drop)
            .map_err(|source| PushError::Tool {
                tool: "skopeo",
                hint: Self::HINT,
                source,
            })
    }

    /// The raw manifest (`config == false`) or the raw config blob of `reference`.
    fn inspect(&self, reference: &str, config: bool) -> Result<Vec<u8>, PushError> {
        let what = if config { "--config --raw" } else { "--raw" };
        let mut command = Command::new("skopeo");
        command.arg("inspect");
        if self.insecure {
            command.arg("--tls-verify=false");
        }
        if config {
            command.arg("--config");
        }
        let output = command
            .arg("--raw")
            .arg(format!("docker://{reference}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| PushError::Tool {
                tool: "skopeo",
                hint: Self::HINT,
                source,
            })?;
        if !output.status.success() {
            return Err(PushError::Inspect {
                what,
                reference: reference.to_owned(),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(output.stdout)
    }
}

/// The check that an image's config is for the function's platform (`linux` and its
/// architecture).
fn platform_check(
    name: &'static str,
    what: &str,
    architecture: &str,
    os: &str,
    arch: Arch,
) -> CheckResult {
    let mut check = CheckResult::new(name);
    let expected = arch.oci_architecture();
    if architecture == expected && os == "linux" {
        check.summary =
            format!("{what} is linux/{architecture}, the function's architecture ({arch})");
    } else {
        check.summary =
            format!("{what} is {os}/{architecture}, not the function's linux/{expected}");
        check.problem(format!(
            "{what} is for {os}/{architecture}, but the function is {arch} (linux/{expected}): Lambda would not start it; refusing"
        ));
    }
    check
}

/// Proves the manifest the registry holds under `digest`: its bytes are that digest, it is a
/// single image manifest (not an index or list), and its config is the verified image. Returns
/// the check and the config digest it names.
fn prove_manifest(
    digest: &str,
    manifest: &[u8],
    verified_id: &str,
) -> (CheckResult, Option<String>) {
    let mut check = CheckResult::new("pushed-manifest");
    let actual = format!("sha256:{}", sha256_hex(manifest));
    if actual != digest {
        check.problem(format!(
            "the registry's manifest for {digest} hashes to {actual}: it is not the pushed manifest"
        ));
    }
    let value: Value = match serde_json::from_slice(manifest) {
        Ok(value) => value,
        Err(e) => {
            check.problem(format!("the manifest is not JSON: {e}"));
            check.summary = "the registry holds no readable manifest".to_owned();
            return (check, None);
        }
    };
    let media_type = value["mediaType"].as_str();
    let is_index = value.get("manifests").is_some();
    let kind = match media_type {
        Some(DOCKER_MANIFEST) => Some("Docker v2 schema 2 image manifest"),
        Some(OCI_MANIFEST) => Some("OCI image manifest"),
        // The OCI spec lets an image manifest leave out its media type.
        None if !is_index && value["schemaVersion"] == 2 && value.get("config").is_some() => {
            Some("OCI image manifest")
        }
        _ => None,
    };
    match kind {
        Some(_) if !is_index => {}
        _ => check.problem(format!(
            "the manifest is {}, not a single image manifest: Lambda rejects an index or manifest list (\"image manifest media type not supported\"); build with the classic builder or `--provenance=false`",
            media_type.map_or("without a media type".to_owned(), |m| m.to_owned()),
        )),
    }
    let config_digest = value["config"]["digest"].as_str().map(str::to_owned);
    match &config_digest {
        Some(config) if config == verified_id => {}
        Some(config) => check.problem(format!(
            "its config is {config}, but {verified_id} was verified: the registry holds another image"
        )),
        None => check.problem("the manifest names no config".to_owned()),
    }
    check.summary = if check.passed() {
        format!(
            "{digest} is a single {}, config {verified_id} (the verified image)",
            kind.unwrap_or_default()
        )
    } else {
        format!("the manifest at {digest} is not the verified image as a single image manifest")
    };
    (check, config_digest)
}

/// Proves the config blob the registry holds: its bytes are `config_digest` and its platform is
/// the function's.
fn prove_config(config_digest: &str, blob: &[u8], arch: Arch) -> CheckResult {
    let value: Value = serde_json::from_slice(blob).unwrap_or(Value::Null);
    let mut check = platform_check(
        "pushed-config",
        "the pushed config",
        value["architecture"].as_str().unwrap_or_default(),
        value["os"].as_str().unwrap_or_default(),
        arch,
    );
    let actual = format!("sha256:{}", sha256_hex(blob));
    if actual != config_digest {
        check.summary = "the registry's config blob is not the one the manifest names".to_owned();
        check.problem(format!(
            "the config blob hashes to {actual}, but the manifest names {config_digest}"
        ));
    }
    check
}

/// Proves that the pushed tag names exactly the pushed manifest (not an index over it, not
/// another image).
fn prove_tag(tagged: &str, digest: &str, by_tag: &[u8]) -> CheckResult {
    let mut check = CheckResult::new("pushed-tag");
    let actual = format!("sha256:{}", sha256_hex(by_tag));
    if actual == digest {
        check.summary = format!("{tagged} names {digest}");
    } else {
        check.summary = format!("{tagged} names another manifest");
        check.problem(format!(
            "{tagged} names {actual}, not the pushed {digest} (an index over it, or another push since)"
        ));
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    fn digest_of(bytes: &[u8]) -> String {
        format!("sha256:{}", sha256_hex(bytes))
    }

    fn manifest(media_type: &str, config: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1, "digest": config},
            "layers": []
        }))
        .unwrap_or_default()
    }

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

    #[test]
    fn verified_ids_must_be_full() {
        assert_eq!(normalise_id(&ID[7..]).ok().as_deref(), Some(ID));
        assert!(normalise_id("sha256:1111").is_err());
        assert!(normalise_id("1111111111111").is_err());
    }

    #[test]
    fn the_digest_comes_from_docker_pushs_last_line() {
        let hex = "a".repeat(64);
        assert_eq!(
            pushed_digest(&format!("v1: digest: sha256:{hex} size: 739")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(pushed_digest("5f70bf18a086: Pushed"), None);
        assert_eq!(pushed_digest("v1: digest: sha256:abc size: 1"), None);
    }

    #[test]
    fn a_single_image_manifest_of_the_verified_config_passes() {
        for media_type in [DOCKER_MANIFEST, OCI_MANIFEST] {
            let bytes = manifest(media_type, ID);
            let (check, config) = prove_manifest(&digest_of(&bytes), &bytes, ID);
            assert!(check.passed(), "{media_type}: {:?}", check.details);
            assert_eq!(config.as_deref(), Some(ID));
        }
    }

    #[test]
    fn an_index_is_refused() {
        for media_type in [
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
        ] {
            let bytes = serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": media_type,
                "manifests": [{"mediaType": OCI_MANIFEST, "digest": ID, "size": 1,
                               "platform": {"architecture": "arm64", "os": "linux"}}]
            }))
            .unwrap_or_default();
            let (check, _) = prove_manifest(&digest_of(&bytes), &bytes, ID);
            assert!(!check.passed(), "{media_type} passed");
            assert!(
                check
                    .details
                    .join("\n")
                    .contains("not a single image manifest"),
                "{:?}",
                check.details
            );
        }
    }

    #[test]
    fn another_config_or_other_bytes_are_refused() {
        let other = format!("sha256:{}", "2".repeat(64));
        let bytes = manifest(DOCKER_MANIFEST, &other);
        let (check, _) = prove_manifest(&digest_of(&bytes), &bytes, ID);
        assert!(!check.passed());
        assert!(
            check
                .details
                .join("\n")
                .contains(&format!("its config is {other}, but {ID} was verified"))
        );

        let bytes = manifest(DOCKER_MANIFEST, ID);
        let (check, _) = prove_manifest(&other, &bytes, ID);
        assert!(!check.passed());
        assert!(
            check
                .details
                .join("\n")
                .contains("it is not the pushed manifest")
        );
    }

    #[test]
    fn the_pushed_config_must_be_the_functions_platform() {
        let blob = br#"{"architecture":"amd64","os":"linux","config":{}}"#;
        let digest = digest_of(blob);
        assert!(prove_config(&digest, blob, Arch::X86_64).passed());
        let check = prove_config(&digest, blob, Arch::Arm64);
        assert!(!check.passed());
        assert!(
            check
                .details
                .join("\n")
                .contains("linux/amd64, but the function is arm64"),
            "{:?}",
            check.details
        );
        let check = prove_config(ID, blob, Arch::X86_64);
        assert!(
            !check.passed(),
            "a blob that is not the named config passed"
        );
    }

    #[test]
    fn the_tag_must_name_the_pushed_manifest() {
        let bytes = manifest(DOCKER_MANIFEST, ID);
        assert!(prove_tag("r/x:t", &digest_of(&bytes), &bytes).passed());
        assert!(!prove_tag("r/x:t", ID, &bytes).passed());
    }
}
