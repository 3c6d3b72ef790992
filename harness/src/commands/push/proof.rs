//! What `push` proves from the registry after pushing: the manifest, the config and the tag
//! are exactly the verified image as Lambda accepts it.

use crate::arch::Arch;
use crate::checks::{CheckId, CheckResult};
use crate::digest::sha256_hex;
use serde_json::Value;

/// A Docker v2 schema 2 image manifest: one platform.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// An OCI image manifest: one platform.
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// The check that an image's config is for the function's platform (`linux` and its
/// architecture).
pub(super) fn platform_check(
    name: CheckId,
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
pub(super) fn prove_manifest(
    digest: &str,
    manifest: &[u8],
    verified_id: &str,
) -> (CheckResult, Option<String>) {
    let mut check = CheckResult::new(CheckId::PushedManifest);
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
pub(super) fn prove_config(config_digest: &str, blob: &[u8], arch: Arch) -> CheckResult {
    let value: Value = serde_json::from_slice(blob).unwrap_or(Value::Null);
    let mut check = platform_check(
        CheckId::PushedConfig,
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
pub(super) fn prove_tag(tagged: &str, digest: &str, by_tag: &[u8]) -> CheckResult {
    let mut check = CheckResult::new(CheckId::PushedTag);
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
