//! Checks that read the image without running it.

use super::{CheckResult, human_bytes};
use crate::arch::Arch;
use crate::golden::{GoldenSet, REGEN_COMMAND};
use crate::image::{ImageFacts, MODEL_DIR_ENV};

/// Lambda's limit on the uncompressed size of an image, all layers together (10 GB).
pub(crate) const LAMBDA_IMAGE_LIMIT: u64 = 10_000_000_000;

/// The image is for `arch` in every place that matters: the config Lambda reads, the binary
/// the CPU executes, and the manifest a registry push sends.
pub(crate) fn architecture(facts: &ImageFacts, arch: Arch) -> CheckResult {
    let mut check = CheckResult::new("architecture");
    check.metric("config_architecture", facts.architecture.clone());
    if facts.architecture != arch.oci_architecture() || facts.os != "linux" {
        check.problem(format!(
            "image config says {}/{}, the function is {} (linux/{}): rebuild with `harness build --arch {arch}`",
            facts.os,
            facts.architecture,
            arch,
            arch.oci_architecture()
        ));
    }
    match &facts.executable {
        None => check.problem(format!(
            "the entrypoint {:?} is not a file in the image: Lambda would fail with Runtime.InvalidEntrypoint",
            facts.entrypoint
        )),
        Some(exe) => match exe.elf_machine.map(|m| (m, Arch::from_elf_machine(m))) {
            None => check.problem(format!("{} is not a 64-bit ELF executable", exe.path)),
            Some((_, Some(found))) if found == arch => {
                check.metric("bootstrap_elf", found.lambda_name());
                if !exe.statically_linked {
                    check.problem(format!(
                        "{} is dynamically linked, but the image has no dynamic loader: build it for {}",
                        exe.path,
                        arch.rust_target()
                    ));
                }
            }
            Some((machine, found)) => check.problem(format!(
                "{} is built for {} (ELF machine {machine}), the function is {arch}: Lambda fails with \"exec format error\" (Runtime.InvalidEntrypoint)",
                exe.path,
                found.map_or("an architecture Lambda does not run", Arch::lambda_name),
            )),
        },
    }
    check.metric("platform_manifests", facts.platform_manifests);
    check.metric("attestation_manifests", facts.attestation_manifests);
    if facts.has_index || facts.platform_manifests != 1 || facts.attestation_manifests != 0 {
        check.problem(format!(
            "the image is stored as an index with {} platform and {} attestation manifest(s): Lambda rejects manifest lists; build with the classic builder or `--provenance=false`",
            facts.platform_manifests, facts.attestation_manifests
        ));
    }
    check.summary = if check.passed() {
        format!(
            "{arch}: config linux/{}, bootstrap ELF {} static, single-platform manifest",
            facts.architecture,
            arch.lambda_name()
        )
    } else {
        format!("the image is not a single-platform {arch} image")
    };
    check
}

/// Uncompressed size under Lambda's limit and under the team's budget, with the per-layer
/// breakdown either way (the layer that grew is the first question when a budget fails).
pub(crate) fn image_size(facts: &ImageFacts, budget: u64) -> CheckResult {
    let mut check = CheckResult::new("image-size");
    let total = facts.size_bytes();
    check.metric("bytes", total);
    check.metric("budget_bytes", budget);
    check.metric("lambda_limit_bytes", LAMBDA_IMAGE_LIMIT);
    check.metric(
        "layers",
        facts
            .layers
            .iter()
            .map(|l| serde_json::json!({"bytes": l.size_bytes, "created_by": l.created_by, "blob": l.blob}))
            .collect::<Vec<_>>(),
    );
    let layers: Vec<String> = facts
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(
                "layer {i}: {} ({})",
                human_bytes(l.size_bytes),
                l.created_by.as_deref().unwrap_or("?").trim()
            )
        })
        .collect();
    if total > LAMBDA_IMAGE_LIMIT {
        check.problem(format!(
            "{} uncompressed is over Lambda's 10 GB image limit",
            human_bytes(total)
        ));
    }
    if total > budget {
        check.problem(format!(
            "{} uncompressed is over the budget of {} (--max-image-size)",
            human_bytes(total),
            human_bytes(budget)
        ));
    }
    check.details.extend(layers);
    check.summary = format!(
        "{} uncompressed in {} layer(s); budget {}, Lambda limit 10 GB",
        human_bytes(total),
        facts.layers.len(),
        human_bytes(budget)
    );
    check
}

/// The model inside the image is the one the golden predictions were computed with.
pub(crate) fn provenance(facts: &ImageFacts, golden: &GoldenSet) -> CheckResult {
    let mut check = CheckResult::new("provenance");
    let expected = &golden.manifest.model_sha256;
    check.metric("golden_model_sha256", expected.clone());
    match &facts.model {
        None => check.problem(format!(
            "no model.json found in the image: the config must set {MODEL_DIR_ENV} to the directory holding model.json (it is {:?})",
            facts.env_var(MODEL_DIR_ENV)
        )),
        Some(model) => {
            check.metric("image_model_sha256", model.sha256.clone());
            if &model.sha256 != expected {
                check.problem(format!(
                    "the image's model.json has sha256 {}, the goldens were computed with {expected} (model_version {}).\n\
                     If the model was retrained, regenerate the goldens from the new training-time model: `{REGEN_COMMAND}`, review the changes, then accept them with `--accept`.",
                    model.sha256, golden.manifest.model_version
                ));
            }
        }
    }
    check.summary = if check.passed() {
        format!(
            "image model sha256 {} = golden manifest (model_version {})",
            &expected[..expected.len().min(12)],
            golden.manifest.model_version
        )
    } else {
        "the model in the image is not the model the goldens came from".to_owned()
    };
    check
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Executable, Layer};

    fn facts(config_arch: &str, elf: Arch) -> ImageFacts {
        ImageFacts {
            reference: "test".to_owned(),
            architecture: config_arch.to_owned(),
            os: "linux".to_owned(),
            platform_manifests: 1,
            attestation_manifests: 0,
            has_index: false,
            layers: vec![Layer {
                blob: "l".to_owned(),
                size_bytes: 10,
                created_by: None,
            }],
            entrypoint: vec!["/var/runtime/bootstrap".to_owned()],
            user: None,
            env: vec![],
            executable: Some(Executable {
                path: "var/runtime/bootstrap".to_owned(),
                elf_machine: Some(elf.elf_machine()),
                statically_linked: true,
            }),
            model: None,
        }
    }

    #[test]
    fn an_arm64_config_around_an_x86_64_binary_is_caught() {
        // The classic mistake: `docker build --platform linux/arm64` around a binary compiled
        // for the build machine. The config is right; the binary is not.
        let check = architecture(&facts("arm64", Arch::X86_64), Arch::Arm64);
        assert!(!check.passed());
        assert!(
            check.details[0].contains("built for x86_64"),
            "{:?}",
            check.details
        );
        assert!(architecture(&facts("arm64", Arch::Arm64), Arch::Arm64).passed());
    }

    #[test]
    fn attestation_manifests_and_dynamic_binaries_are_caught() {
        let mut f = facts("amd64", Arch::X86_64);
        f.attestation_manifests = 1;
        f.has_index = true;
        let check = architecture(&f, Arch::X86_64);
        assert!(
            check
                .details
                .iter()
                .any(|d| d.contains("--provenance=false")),
            "{:?}",
            check.details
        );
        let mut f = facts("amd64", Arch::X86_64);
        if let Some(exe) = f.executable.as_mut() {
            exe.statically_linked = false;
        }
        let check = architecture(&f, Arch::X86_64);
        assert!(
            check
                .details
                .iter()
                .any(|d| d.contains("dynamically linked")),
            "{:?}",
            check.details
        );
    }
}
