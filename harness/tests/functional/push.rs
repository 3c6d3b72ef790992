//! `lambda-gate push` against a real registry (Debian's `docker-registry` on 127.0.0.1): a
//! verified image arrives as a single image manifest of the verified config for the function's
//! architecture, checked here independently with skopeo; an image whose tag moved after
//! verification, or that is not for the function's architecture, is refused before anything is
//! pushed.

use crate::registry::{Meddle, Meddler, Registry};
use crate::support::*;
use harness::{Arch, Overrides};
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::{Duration, Instant};

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

/// The push command for `image` (its own id as the verified one) to `target`, for x86_64.
fn push_command(image: &str, target: &str) -> Command {
    let mut command = cli();
    command
        .env("NO_COLOR", "1")
        .args(["push", "--image", image, "--verified-id", &image_id(image)])
        .args(["--to", target, "--arch", "x86_64"]);
    command
}

/// The error part of stderr (from `error:` on), with the registry's address made stable.
fn error_of(stderr: &str, address: &str) -> String {
    let at = stderr.find("error:").unwrap_or(0);
    stderr[at..].replace(address, "127.0.0.1:[PORT]")
}

#[test]
fn a_plain_http_registry_without_insecure_registry_is_found_before_pushing() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let registry = Registry::start();
    let target = format!("{}/fixture/plain-http:v1", registry.address);
    let _tags = Tags(vec![target.clone()]);
    // Docker would push there (127.0.0.0/8 over HTTP); the read-back could not follow.
    let (code, stdout, stderr) = output(&mut push_command(&image, &target));
    assert_eq!(code, Some(2), "exit 2 expected\n{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout:?}");
    assert!(
        !registry.has_repository("fixture/plain-http"),
        "pushed before finding the registry serves plain HTTP"
    );
    insta::assert_snapshot!(error_of(&stderr, &registry.address));
}

#[test]
fn a_registry_that_accepts_and_never_answers_is_given_up_on_before_pushing() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    // Accepts connections and never answers; closes them after a while, and stops by itself.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(30);
        let mut held = Vec::new();
        while Instant::now() < until {
            match listener.accept() {
                Ok(connection) => held.push(connection),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    let target = format!("{address}/fixture/silent:v1");
    let _tags = Tags(vec![target.clone()]);
    let (code, stdout, stderr) = output(push_command(&image, &target).args([
        "--insecure-registry",
        "--registry-timeout",
        "2s",
    ]));
    assert_eq!(code, Some(2), "exit 2 expected\n{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout:?}");
    insta::assert_snapshot!(error_of(&stderr, &address));
}

#[test]
fn a_registry_that_refuses_the_credentials_is_found_before_pushing() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let registry = Registry::start();
    let meddler = Meddler::start(&registry.address, Meddle::Unauthorized);
    let target = format!("{}/fixture/denied:v1", meddler.address);
    let _tags = Tags(vec![target.clone()]);
    let (code, stdout, stderr) = output(push_command(&image, &target).args([
        "--insecure-registry",
        "--registry-timeout",
        "10s",
    ]));
    assert_eq!(code, Some(2), "exit 2 expected\n{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout:?}");
    assert!(
        !registry.has_repository("fixture/denied"),
        "pushed though the read-back could not get in"
    );
    // skopeo's own line carries a time stamp: only the gate's part is pinned.
    let error = error_of(&stderr, &meddler.address);
    let gate = error
        .split("--- skopeo said ---")
        .next()
        .unwrap_or_default();
    insta::assert_snapshot!(gate);
    assert!(error.contains("unauthorized"), "{error}");
}

/// What a push through a meddler did.
struct Through {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The digest the real registry holds under the pushed tag.
    digest: String,
    /// The pushed repository as the gate names it (through the meddler).
    name: String,
}

/// Pushes `image` through a meddler in front of a real registry.
fn push_through(meddle: Meddle, image: &str, repository: &str) -> Through {
    let registry = Registry::start();
    let meddler = Meddler::start(&registry.address, meddle);
    let target = format!("{}/{repository}:v1", meddler.address);
    let _tags = Tags(vec![target.clone()]);
    let started = Instant::now();
    let (code, stdout, stderr) = output(push_command(image, &target).args([
        "--insecure-registry",
        "--registry-timeout",
        "3s",
    ]));
    let took = started.elapsed();
    eprintln!("exit {code:?} after {took:?}\n--- stderr ---\n{stderr}--- stdout ---\n{stdout}");
    // What the registry holds, read directly: the image is there.
    assert!(
        registry.has_repository(repository),
        "nothing was pushed ({code:?})\n{stdout}\n{stderr}"
    );
    let by_tag = registry.inspect(&format!("{repository}:v1"), false);
    Through {
        code,
        stdout,
        stderr,
        digest: sha256(&by_tag),
        name: format!("{}/{repository}", meddler.address),
    }
}

#[test]
fn a_registry_that_hangs_on_the_read_back_is_not_proven_with_the_pushed_digest() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let Through {
        code,
        stdout,
        stderr,
        digest,
        name,
    } = push_through(Meddle::Hang, &image, "fixture/hangs");
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    assert_eq!(
        stdout,
        format!(
            "pushed {digest}, not proven: skopeo inspect --raw docker://{name}@{digest} did not finish within 3s: stopped waiting\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("FAIL pushed-manifest: the registry could not be read back"),
        "{stderr}"
    );
    assert!(stderr.contains("NOT JUDGED pushed-config"), "{stderr}");
    assert!(stderr.contains("NOT JUDGED pushed-tag"), "{stderr}");
    assert!(
        stderr.contains("was pushed, but the registry does not prove it"),
        "{stderr}"
    );
}

#[test]
fn a_registry_that_answers_another_images_manifest_is_not_proven_with_the_pushed_digest() {
    let _serial = serial();
    let image = build(CLASSIFIER, Arch::X86_64);
    let other = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 2,
            "digest": format!("sha256:{}", "2".repeat(64)),
        },
        "layers": [],
    }))
    .unwrap();
    let Through {
        code,
        stdout,
        stderr,
        digest,
        ..
    } = push_through(Meddle::Answer(other), &image, "fixture/another");
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    let line = stdout.lines().last().unwrap_or_default();
    assert!(
        line.starts_with(&format!("pushed {digest}, not proven: ")),
        "{stdout}\n{stderr}"
    );
    assert!(
        line.ends_with("it is not the pushed manifest"),
        "the first cause is not the manifest's: {line}"
    );
    assert!(stderr.contains("FAIL pushed-manifest"), "{stderr}");
    // Not a knock-on failure: the config of another manifest is not read.
    assert!(stderr.contains("NOT JUDGED pushed-config"), "{stderr}");
    assert!(stderr.contains("PASS pushed-tag"), "{stderr}");
}
