//! `lambda-gate push` against a real registry (Debian's `docker-registry` on 127.0.0.1): a
//! verified image arrives as a single image manifest of the verified config for the function's
//! architecture, checked here independently with skopeo; an image whose tag moved after
//! verification, or that is not for the function's architecture, is refused before anything is
//! pushed.

use crate::registry::Registry;
use crate::support::*;
use harness::{Arch, Overrides};
use sha2::{Digest, Sha256};
use std::process::Command;

const CLASSIFIER: &str = "harness/fixtures/classifier/lambda-gate.toml";
const REGRESSOR: &str = "harness/fixtures/regressor/lambda-gate.toml";

/// Local tags a test made; removed (untagged, the images stay) when it ends.
#[derive(Default)]
struct Tags(Vec<String>);

impl Tags {
    fn add(&mut self, source: &str, tag: &str) {
        docker(&["tag", source, tag]);
        self.0.push(tag.to_owned());
    }
}

impl Drop for Tags {
    fn drop(&mut self) {
        for tag in &self.0 {
            let _ = Command::new("docker").args(["rmi", tag]).output();
        }
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn image_id(reference: &str) -> String {
    docker(&["image", "inspect", "--format", "{{.Id}}", reference])
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[test]
fn a_verified_image_is_pushed_by_digest_and_the_registry_holds_exactly_it() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let image = build(CLASSIFIER, Arch::X86_64);
    let overrides = Overrides {
        image: Some(image.clone()),
        ..quick(Arch::X86_64, 20, scratch.path())
    };
    let report = run(spec_with(CLASSIFIER, &overrides));
    assert_all_pass(&report);
    let verified_id = report.image_facts.as_ref().unwrap().id.clone();

    let registry = Registry::start();
    let repository = "fixture/classifier";
    let target = format!("{}/{repository}:verified", registry.address);
    let mut tags = Tags::default();
    tags.0.push(target.clone());
    // No --arch: the function's architecture comes from the spec (x86_64).
    let (code, stdout, stderr) = output(cli().args([
        "--config",
        CLASSIFIER,
        "push",
        "--image",
        &image,
        "--verified-id",
        &verified_id,
        "--to",
        &target,
        "--insecure-registry",
    ]));
    assert_eq!(code, Some(0), "push failed\n{stdout}\n{stderr}");
    let pushed = stdout.lines().last().unwrap_or_default();
    let prefix = format!("{}/{repository}@sha256:", registry.address);
    assert!(
        pushed.starts_with(&prefix) && pushed.len() == prefix.len() + 64,
        "the last line on stdout is not the pushed digest: {stdout:?}"
    );
    let digest = &pushed[pushed.find('@').unwrap() + 1..];
    for check in [
        "verified-image",
        "architecture",
        "pushed-manifest",
        "pushed-config",
        "pushed-tag",
    ] {
        assert!(
            stderr.contains(&format!("PASS {check}:")),
            "{check}\n{stderr}"
        );
    }

    // What the registry holds, read here independently of the gate.
    let manifest = registry.inspect(&format!("{repository}@{digest}"), false);
    assert_eq!(
        sha256(&manifest),
        digest,
        "the manifest is not the digest's"
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json",
        "not a single image manifest: {manifest}"
    );
    assert!(manifest.get("manifests").is_none(), "an index: {manifest}");
    assert_eq!(
        manifest["config"]["digest"], verified_id,
        "the pushed config is not the verified image"
    );
    let config = registry.inspect(&format!("{repository}@{digest}"), true);
    assert_eq!(sha256(&config), verified_id);
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        (config["architecture"].as_str(), config["os"].as_str()),
        (Some("amd64"), Some("linux"))
    );
    let by_tag = registry.inspect(&format!("{repository}:verified"), false);
    assert_eq!(sha256(&by_tag), digest, "the tag names another manifest");
}

#[test]
fn a_tag_moved_to_another_image_after_verification_is_refused_before_pushing() {
    let _serial = serial();
    let verified = build(CLASSIFIER, Arch::X86_64);
    let other = build(REGRESSOR, Arch::X86_64);
    let (verified_id, other_id) = (image_id(&verified), image_id(&other));
    assert_ne!(verified_id, other_id);
    let mut tags = Tags::default();
    let moving = "lambda-gate-push-test:moved-after-verification";
    tags.add(&verified, moving);
    // Verification saw `verified_id` under `moving`; then the tag moves.
    tags.add(&other, moving);

    let registry = Registry::start();
    let target = format!("{}/fixture/moved:v1", registry.address);
    tags.0.push(target.clone());
    let (code, stdout, stderr) = output(cli().args([
        "push",
        "--image",
        moving,
        "--verified-id",
        &verified_id,
        "--to",
        &target,
        "--arch",
        "x86_64",
        "--insecure-registry",
    ]));
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "{moving} is now {other_id}, but {verified_id} was verified"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("REFUSED: {moving} was not pushed")),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "a refused push printed {stdout:?}");
    assert!(
        !registry.has_repository("fixture/moved"),
        "something was pushed"
    );
}

#[test]
fn an_image_for_another_architecture_than_the_functions_is_refused_before_pushing() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let registry = Registry::start();
    let target = format!("{}/fixture/wrong-arch:v1", registry.address);
    let _tags = Tags(vec![target.clone()]);
    // From a directory without a spec, as in CI's push job: --arch is all it needs.
    let elsewhere = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        cli()
            .current_dir(elsewhere.path())
            .env_remove("LAMBDA_GATE_CONFIG")
            .args([
                "push",
                "--image",
                &image,
                "--verified-id",
                &image_id(&image),
            ])
            .args(["--to", &target, "--arch", "arm64", "--insecure-registry"]),
    );
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("FAIL architecture:")
            && stderr.contains("is for linux/amd64, but the function is arm64 (linux/arm64)"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "a refused push printed {stdout:?}");
    assert!(
        !registry.has_repository("fixture/wrong-arch"),
        "something was pushed"
    );
}

#[test]
fn plain_http_is_refused_for_a_registry_elsewhere() {
    let (code, _, stderr) = output(cli().args([
        "push",
        "--image",
        "any:tag",
        "--verified-id",
        &format!("sha256:{}", "0".repeat(64)),
        "--to",
        "registry.invalid/fixture:v1",
        "--arch",
        "x86_64",
        "--insecure-registry",
    ]));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--insecure-registry is only for a registry on this machine"),
        "{stderr}"
    );
}

#[test]
fn without_skopeo_nothing_is_pushed() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let registry = Registry::start();
    let target = format!("{}/fixture/no-skopeo:v1", registry.address);
    let _tags = Tags(vec![target.clone()]);
    // A PATH with the docker CLI and nothing else.
    let bin = tempfile::tempdir().unwrap();
    let docker_cli = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|dir| dir.join("docker"))
        .find(|path| path.is_file())
        .expect("the docker CLI on PATH");
    std::os::unix::fs::symlink(docker_cli, bin.path().join("docker")).unwrap();
    let (code, stdout, stderr) = output(
        cli()
            .args([
                "push",
                "--image",
                &image,
                "--verified-id",
                &image_id(&image),
            ])
            .args(["--to", &target, "--arch", "x86_64", "--insecure-registry"])
            .env("PATH", bin.path()),
    );
    assert_eq!(code, Some(2), "exit 2 expected\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("cannot run `skopeo`: install skopeo")
            && stderr.contains(".ci/install registry"),
        "{stderr}"
    );
    assert!(
        !registry.has_repository("fixture/no-skopeo"),
        "pushed without a way to prove it"
    );
}
