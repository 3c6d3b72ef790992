//! Checks that read the image without running it.

use super::{CheckId, CheckResult};
use crate::arch::Arch;
use crate::golden::GoldenSet;
use crate::image::{Executable, ImageFacts};
use crate::lambda;
use crate::spec::Provenance;
use crate::units::human_bytes;

/// The image is for `arch` in every place that matters: the config Lambda reads, the program
/// the CPU executes (found as Lambda finds it, through `PATH`, symlinks and `#!` lines, with its
/// dynamic loader), and the manifest a registry push sends. The flag says whether the image
/// can run as an `arch` function at all (config and program right; only how it is stored may
/// be wrong): when it cannot, running it would only fail as a knock-on (Docker pulling the
/// other platform, `exec format error`), so the function checks are not judged.
pub(crate) fn architecture(facts: &ImageFacts, arch: Arch) -> (CheckResult, bool) {
    let mut check = CheckResult::new(CheckId::Architecture);
    check.metric("config_architecture", facts.architecture.clone());
    if facts.architecture != arch.oci_architecture() || facts.os != "linux" {
        check.problem(format!(
            "image config says {}/{}, the function is {} (linux/{}): build the image with --platform {}",
            facts.os,
            facts.architecture,
            arch,
            arch.oci_architecture(),
            arch.docker_platform()
        ));
    }
    let command = facts.command_line().join(" ");
    let runs = judge_program(&facts.program, arch, &command, &mut check);
    let runnable = check.passed();
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
            "{arch}: config linux/{}, runs {runs}, single-platform manifest",
            facts.architecture
        )
    } else {
        format!("the image is not a single-platform {arch} image Lambda can start")
    };
    (check, runnable)
}

/// Checks the program Lambda would start; returns how it runs, for the summary.
fn judge_program(
    program: &Executable,
    arch: Arch,
    command: &str,
    check: &mut CheckResult,
) -> String {
    match program {
        Executable::Missing {
            command: name,
            reason,
        } => {
            check.problem(format!(
                "Lambda would run `{command}` and fail with Runtime.InvalidEntrypoint: {reason}{}",
                if name.is_empty() {
                    ""
                } else {
                    " (set ENTRYPOINT/CMD to a program in the image)"
                }
            ));
            String::new()
        }
        Executable::NotExecutable { path, what } => {
            check.problem(format!(
                "{path} is what `{command}` starts, but it is neither an ELF binary nor a #! script ({what}): Runtime.InvalidEntrypoint"
            ));
            String::new()
        }
        Executable::Script {
            path,
            interpreter,
            env_runs,
            ..
        } => {
            let inner = judge_program(interpreter, arch, command, check);
            match env_runs {
                // `#!/usr/bin/env NAME`: env runs, then NAME; both must suit the function.
                Some(program) => {
                    let runs = judge_program(program, arch, command, check);
                    format!("{path} (a script run by {inner}, which runs {runs})")
                }
                None => format!("{path} (a script run by {inner})"),
            }
        }
        Executable::Elf {
            path,
            via,
            machine,
            loader,
        } => {
            let found = Arch::from_elf_machine(*machine);
            check.metric("program", path.clone());
            if !via.is_empty() {
                check
                    .details
                    .push(format!("`{command}` runs {path}: {}", via.join(", ")));
            }
            let linkage = if loader.is_some() {
                "dynamic"
            } else {
                "static"
            };
            if found != Some(arch) {
                let what = found.map_or_else(
                    || format!("a machine Lambda does not run (ELF machine {machine})"),
                    |f| f.to_string(),
                );
                let fix = if loader.is_none() {
                    format!(
                        "rebuild that binary for {arch} (for Rust: --target {})",
                        arch.rust_target()
                    )
                } else {
                    format!(
                        "build the image from a base image for {arch} with --platform {}",
                        arch.docker_platform()
                    )
                };
                check.problem(format!(
                    "{path} is a {linkage} ELF built for {what}, the function is {arch}: Lambda fails with \"exec format error\" (Runtime.InvalidEntrypoint); {fix}"
                ));
            } else {
                check.metric("program_elf", arch.lambda_name());
            }
            check.metric("program_linkage", linkage);
            match loader {
                None => format!(
                    "{path} (ELF {}, static)",
                    found.map_or("?", Arch::lambda_name)
                ),
                Some(loader) => {
                    match (loader.machine, &loader.problem) {
                        (_, Some(problem)) => check.problem(format!(
                            "{path} is dynamically linked and needs its loader {}, which is not usable in the image ({problem}): Lambda fails with Runtime.InvalidEntrypoint (\"no such file or directory\"); link it statically or build FROM a base image that has the loader",
                            loader.path
                        )),
                        (Some(m), None) if m != *machine => check.problem(format!(
                            "{path}'s loader {} is built for ELF machine {m}, the program for {machine}",
                            loader.path
                        )),
                        _ => {}
                    }
                    format!(
                        "{path} (ELF {}, dynamic, loader {})",
                        found.map_or("?", Arch::lambda_name),
                        loader.path
                    )
                }
            }
        }
    }
}

/// Uncompressed size under Lambda's limit and under the team's budget, with the per-layer
/// breakdown either way (the layer that grew is the first question when a budget fails).
pub(crate) fn image_size(facts: &ImageFacts, budget: u64) -> CheckResult {
    let mut check = CheckResult::new(CheckId::ImageSize);
    let total = facts.size_bytes();
    check.metric("bytes", total);
    check.metric("budget_bytes", budget);
    check.metric("lambda_limit_bytes", lambda::IMAGE_LIMIT);
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
    if total > lambda::IMAGE_LIMIT {
        check.problem(format!(
            "{} uncompressed is over Lambda's 10 GB image limit",
            human_bytes(total)
        ));
    }
    if total > budget {
        check.problem(format!(
            "{} uncompressed is over the budget of {} (image.max_size)",
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

/// A model file compiled from the host's source, for the provenance check.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    /// The source on the host.
    pub(crate) source: std::path::PathBuf,
    /// Its sha256.
    pub(crate) source_sha256: String,
    /// sha256 of what the compile command made from it.
    pub(crate) output_sha256: String,
}

/// The model inside the image is the one the golden predictions were computed with: its
/// sha256 is the goldens' `model_sha256`, or, for a model compiled at build time, it is exactly
/// what the compile command makes from the goldens' model.
pub(crate) fn provenance(
    facts: &ImageFacts,
    golden: &GoldenSet,
    spec: &Provenance,
    compiled: Option<&Compiled>,
) -> CheckResult {
    let mut check = CheckResult::new(CheckId::Provenance);
    let expected = &golden.manifest.model_sha256;
    let regen = crate::environment::command("golden regen");
    check.metric("golden_model_sha256", expected.clone());
    let stale = |what: &str, actual: &str| {
        format!(
            "{what} has sha256 {actual}, the goldens were computed with {expected}{}.\n\
             If the model was retrained, regenerate the goldens from the new training-time model: `{regen}`, review the changes, then accept them.",
            golden
                .manifest
                .model_version
                .as_ref()
                .map_or(String::new(), |v| format!(" (model_version {v})"))
        )
    };
    match (&facts.model, compiled) {
        (None, _) => check.problem(format!(
            "the model file {} (provenance.model) is not in the image: {}",
            spec.model,
            facts.model_problem.as_deref().unwrap_or("not found")
        )),
        (Some(model), None) => {
            check.metric("image_model_sha256", model.sha256.clone());
            if &model.sha256 != expected {
                check.problem(stale(&format!("the image's {}", model.path), &model.sha256));
            }
        }
        (Some(model), Some(compiled)) => {
            check.metric("image_model_sha256", model.sha256.clone());
            check.metric("source_sha256", compiled.source_sha256.clone());
            if &compiled.source_sha256 != expected {
                check.problem(stale(
                    &compiled.source.display().to_string(),
                    &compiled.source_sha256,
                ));
            }
            if model.sha256 != compiled.output_sha256 {
                check.problem(format!(
                    "the image's {} (sha256 {}) is not what provenance.compile makes from {} (sha256 {}): the image was built from another model or another compiler; rebuild it",
                    model.path,
                    model.sha256,
                    compiled.source.display(),
                    compiled.output_sha256
                ));
            }
        }
    }
    check.summary = if check.passed() {
        let short = &expected[..expected.len().min(12)];
        match compiled {
            None => format!("the image's model is the goldens' model (sha256 {short})"),
            Some(_) => format!(
                "the image's compiled model is exactly compile(the goldens' model, sha256 {short})"
            ),
        }
    } else {
        "the model in the image is not the model the goldens came from".to_owned()
    };
    check
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::image::{Layer, Loader};

    /// An image's facts as the tests need them: `config_arch`, one layer, `program`.
    pub(in crate::checks) fn facts(config_arch: &str, program: Executable) -> ImageFacts {
        ImageFacts {
            reference: "test".to_owned(),
            id: "sha256:0".to_owned(),
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
            cmd: vec![],
            working_dir: None,
            env: vec![],
            labels: Default::default(),
            program,
            model: None,
            model_problem: None,
        }
    }

    fn elf(arch: Arch, loader: Option<Loader>) -> Executable {
        Executable::Elf {
            path: "/var/runtime/bootstrap".to_owned(),
            via: vec![],
            machine: arch.elf_machine(),
            loader,
        }
    }

    #[test]
    fn an_arm64_config_around_an_x86_64_binary_is_caught() {
        // The classic mistake: `docker build --platform linux/arm64` around a binary compiled
        // for the build machine. The config is right; the binary is not.
        let (check, runnable) = architecture(&facts("arm64", elf(Arch::X86_64, None)), Arch::Arm64);
        assert!(!check.passed());
        assert!(
            !runnable,
            "the function checks would only fail as a knock-on"
        );
        let why = check.details.join("\n");
        assert!(why.contains("static ELF built for x86_64"), "{why}");
        assert!(why.contains("--target aarch64-unknown-linux-musl"), "{why}");
        let (check, runnable) = architecture(&facts("arm64", elf(Arch::Arm64, None)), Arch::Arm64);
        assert!(check.passed() && runnable);
    }

    #[test]
    fn a_dynamic_binary_passes_with_its_loader_and_gets_no_static_advice() {
        let loader = |machine: Option<u16>, problem: Option<&str>| Loader {
            path: "/lib64/ld-linux-x86-64.so.2".to_owned(),
            machine,
            problem: problem.map(str::to_owned),
        };
        let ok = elf(
            Arch::X86_64,
            Some(loader(Some(Arch::X86_64.elf_machine()), None)),
        );
        assert!(architecture(&facts("amd64", ok), Arch::X86_64).0.passed());

        let wrong = elf(
            Arch::X86_64,
            Some(loader(Some(Arch::X86_64.elf_machine()), None)),
        );
        let (check, _) = architecture(&facts("arm64", wrong), Arch::Arm64);
        let why = check.details.join("\n");
        assert!(why.contains("dynamic ELF built for x86_64"), "{why}");
        assert!(
            why.contains("from a base image for arm64 with --platform linux/arm64"),
            "{why}"
        );
        assert!(!why.contains("--target"), "no static-binary advice: {why}");

        let missing = elf(
            Arch::X86_64,
            Some(loader(
                None,
                Some("/lib64/ld-linux-x86-64.so.2 does not exist in the image"),
            )),
        );
        let (check, _) = architecture(&facts("amd64", missing), Arch::X86_64);
        let why = check.details.join("\n");
        assert!(why.contains("needs its loader"), "{why}");
    }

    #[test]
    fn a_script_is_judged_by_its_interpreter_and_a_missing_program_is_named() {
        let script = Executable::Script {
            path: "/lambda-entrypoint.sh".to_owned(),
            via: vec![],
            interpreter: Box::new(elf(Arch::X86_64, None)),
            env_runs: None,
        };
        let (check, _) = architecture(&facts("arm64", script), Arch::Arm64);
        assert!(
            check.details.join("\n").contains("built for x86_64"),
            "{:?}",
            check.details
        );
        let missing = Executable::Missing {
            command: "python3".to_owned(),
            reason: "python3 is not in any directory of PATH=/usr/bin".to_owned(),
        };
        let (check, _) = architecture(&facts("amd64", missing), Arch::X86_64);
        let why = check.details.join("\n");
        assert!(
            why.contains("Runtime.InvalidEntrypoint") && why.contains("PATH"),
            "{why}"
        );
    }

    #[test]
    fn attestation_manifests_are_caught() {
        let mut f = facts("amd64", elf(Arch::X86_64, None));
        f.attestation_manifests = 1;
        f.has_index = true;
        let (check, runnable) = architecture(&f, Arch::X86_64);
        assert!(
            runnable,
            "an index is a storage problem: the function still runs"
        );
        assert!(
            check
                .details
                .iter()
                .any(|d| d.contains("--provenance=false")),
            "{:?}",
            check.details
        );
    }
}
