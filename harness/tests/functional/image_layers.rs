//! The gate reads an image as a container sees it: all layers merged, with symlinks, hard
//! links, whiteouts and opaque directories. Each test forges an image whose lower layer holds
//! a good file and whose upper layer replaces or hides it; a gate that read each layer's
//! regular files on their own would judge the stale lower file and pass.
//!
//! Images are forged as `docker save` archives and loaded with `docker load`: real images in
//! the real engine, with exactly the layer entries each case needs.

use crate::support::*;
use harness::{Arch, CheckId, Overrides, Status};
use sha2::Digest;
use std::sync::OnceLock;

/// One entry of a forged layer.
enum Entry<'a> {
    File(&'a str, Vec<u8>, u32),
    Symlink(&'a str, &'a str),
    HardLink(&'a str, &'a str),
    /// A regular file whose member name is written byte for byte (`x/../a`, `a//b`, `/./a`),
    /// as `tar::Builder` would not.
    RawName(&'a str, Vec<u8>),
    /// A symlink whose member name is written byte for byte.
    RawSymlink(&'a str, &'a str),
    /// A hard link whose member name and target are written byte for byte.
    RawHardLink(&'a str, &'a str),
}

fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        match entry {
            Entry::File(path, bytes, mode) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, path, bytes.as_slice())
                    .unwrap();
            }
            Entry::RawName(name, bytes) => {
                let gnu = header.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o755);
                header.set_size(bytes.len() as u64);
                header.set_cksum();
                builder.append(&header, bytes.as_slice()).unwrap();
            }
            Entry::RawSymlink(name, target) | Entry::RawHardLink(name, target) => {
                let gnu = header.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name.as_bytes());
                gnu.linkname[..target.len()].copy_from_slice(target.as_bytes());
                header.set_entry_type(if matches!(entry, Entry::RawSymlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                header.set_mode(0o777);
                header.set_size(0);
                header.set_cksum();
                builder.append(&header, std::io::empty()).unwrap();
            }
            Entry::Symlink(path, target) | Entry::HardLink(path, target) => {
                header.set_entry_type(if matches!(entry, Entry::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                });
                header.set_mode(0o777);
                header.set_size(0);
                builder.append_link(&mut header, path, target).unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

/// Loads an amd64 image made of `layers` (bottom first) as `tag`, started like the loan
/// service (`/var/runtime/bootstrap`, `MODEL_DIR=/var/task/model`).
fn forge(tag: &str, layers: &[Vec<u8>]) -> String {
    forge_with(tag, layers, "/var/runtime/bootstrap")
}

/// [`forge`] with `entrypoint` as the program the image starts.
fn forge_with(tag: &str, layers: &[Vec<u8>], entrypoint: &str) -> String {
    try_forge(tag, layers, entrypoint).unwrap_or_else(|e| panic!("{e}"))
}

/// [`forge_with`], or why `docker load` refused the image.
fn try_forge(tag: &str, layers: &[Vec<u8>], entrypoint: &str) -> Result<String, String> {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", hex::encode(sha2::Sha256::digest(l))))
        .collect();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": [entrypoint],
            "Env": ["MODEL_DIR=/var/task/model"],
            "User": "10001:10001"
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": layers.iter().map(|_| serde_json::json!({"created_by": "forged"})).collect::<Vec<_>>()
    });
    let config = serde_json::to_vec(&config).unwrap();
    let reference = format!("gate-forged:{tag}");
    let layer_names: Vec<String> = (0..layers.len())
        .map(|i| format!("l{i}/layer.tar"))
        .collect();
    let manifest = serde_json::json!([{
        "Config": "config.json",
        "RepoTags": [reference],
        "Layers": layer_names,
    }]);
    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |name: &str, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        archive.append_data(&mut header, name, bytes).unwrap();
    };
    add("config.json", &config);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    for (name, bytes) in layer_names.iter().zip(layers) {
        add(name, bytes);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.tar");
    std::fs::write(&path, archive.into_inner().unwrap()).unwrap();
    let loaded = std::process::Command::new("docker")
        .arg("load")
        .arg("-i")
        .arg(&path)
        .output()
        .expect("docker load");
    if !loaded.status.success() {
        return Err(format!(
            "docker load failed: {}",
            String::from_utf8_lossy(&loaded.stderr)
        ));
    }
    Ok(reference)
}

/// The loan service's bootstraps for both architectures (built once, through its spec).
fn bootstraps() -> &'static (Vec<u8>, Vec<u8>) {
    static BINARIES: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    BINARIES.get_or_init(|| {
        let read = |arch: Arch| {
            build("lambda-gate.toml", arch);
            let path = workspace()
                .join("target")
                .join(arch.rust_target())
                .join("release/bootstrap");
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        (read(Arch::X86_64), read(Arch::Arm64))
    })
}

fn model_file(name: &str) -> Vec<u8> {
    let path = if name == "model.compiled" {
        workspace().join("target/lambda/model/model.compiled")
    } else {
        workspace().join("models/artifacts").join(name)
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The good lower layer: the x86_64 bootstrap, the arm64 one parked elsewhere, the model.
fn base_layer() -> Vec<u8> {
    let (x86_64, arm64) = bootstraps();
    layer(&[
        Entry::File("var/runtime/bootstrap", x86_64.clone(), 0o755),
        Entry::File("opt/arm64/bootstrap", arm64.clone(), 0o755),
        Entry::File(
            "var/task/model/model.compiled",
            model_file("model.compiled"),
            0o644,
        ),
        Entry::File(
            "var/task/model/feature_set.json",
            model_file("feature_set.json"),
            0o644,
        ),
        Entry::File(
            "var/task/model/metadata.json",
            model_file("metadata.json"),
            0o644,
        ),
    ])
}

fn gate(image: String) -> harness::Report {
    let scratch = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        image: Some(image),
        ..quick(Arch::X86_64, 10, scratch.path())
    };
    run(spec_with("lambda-gate.toml", &overrides))
}

#[test]
fn an_upper_layer_symlink_to_an_arm64_binary_is_what_runs() {
    let _serial = serial();
    let image = forge(
        "symlink",
        &[
            base_layer(),
            layer(&[Entry::Symlink(
                "var/runtime/bootstrap",
                "/opt/arm64/bootstrap",
            )]),
        ],
    );
    let report = gate(image);
    assert_eq!(status(&report, CheckId::Architecture), Status::Failed);
    let why = details(&report, CheckId::Architecture);
    assert!(
        why.contains("/opt/arm64/bootstrap is a static ELF built for arm64"),
        "{why}"
    );
    assert!(
        why.contains("/var/runtime/bootstrap -> /opt/arm64/bootstrap"),
        "{why}"
    );
}

#[test]
fn an_upper_layer_member_named_in_any_spelling_docker_cleans_replaces_the_bootstrap() {
    let _serial = serial();
    let (_, arm64) = bootstraps();
    for (tag, name) in [
        ("dotdot", "x/../var/runtime/bootstrap"),
        ("dot", "var/runtime/./bootstrap"),
        ("slashes", "var//runtime/bootstrap"),
        ("rooted", "/./var/runtime/bootstrap"),
    ] {
        let image = forge(
            &format!("name-{tag}"),
            &[base_layer(), layer(&[Entry::RawName(name, arm64.clone())])],
        );
        let report = gate(image);
        assert_eq!(
            status(&report, CheckId::Architecture),
            Status::Failed,
            "{name}"
        );
        assert!(!report.passed(), "{name}: a failed check exits 1");
        let why = details(&report, CheckId::Architecture);
        assert!(
            why.contains("/var/runtime/bootstrap is a static ELF built for arm64"),
            "{name}: {why}"
        );
    }
}

#[test]
fn a_script_run_with_usr_bin_env_is_judged_by_the_program_env_finds_on_path() {
    let _serial = serial();
    let (x86_64, arm64) = bootstraps();
    for (tag, line) in [
        ("env", "#!/usr/bin/env mybin\n"),
        ("env-s", "#!/usr/bin/env -S mybin --flag\n"),
    ] {
        // An x86_64 `env` (any static x86_64 ELF stands in) and an arm64 `mybin` on the
        // default PATH: Lambda would run the arm64 binary.
        let image = forge(
            &format!("shebang-{tag}"),
            &[
                base_layer(),
                layer(&[
                    Entry::File("usr/bin/env", x86_64.clone(), 0o755),
                    Entry::File("usr/local/bin/mybin", arm64.clone(), 0o755),
                    Entry::File("var/runtime/bootstrap", line.as_bytes().to_vec(), 0o755),
                ]),
            ],
        );
        let report = gate(image);
        assert_eq!(
            status(&report, CheckId::Architecture),
            Status::Failed,
            "{line}"
        );
        let why = details(&report, CheckId::Architecture);
        assert!(
            why.contains("/usr/local/bin/mybin is a static ELF built for arm64"),
            "{line}: {why}"
        );
    }
}

#[test]
fn an_upper_layer_hard_link_to_an_arm64_binary_is_what_runs() {
    let _serial = serial();
    let (_, arm64) = bootstraps();
    let image = forge(
        "hardlink",
        &[
            base_layer(),
            layer(&[
                Entry::File("opt/other/bootstrap", arm64.clone(), 0o755),
                Entry::HardLink("var/runtime/bootstrap", "opt/other/bootstrap"),
            ]),
        ],
    );
    let report = gate(image);
    assert_eq!(status(&report, CheckId::Architecture), Status::Failed);
    let why = details(&report, CheckId::Architecture);
    assert!(why.contains("static ELF built for arm64"), "{why}");
}

#[test]
fn a_whiteout_removes_the_model_the_lower_layer_had() {
    let _serial = serial();
    let image = forge(
        "whiteout",
        &[
            base_layer(),
            layer(&[Entry::File(
                "var/task/model/.wh.model.compiled",
                Vec::new(),
                0o644,
            )]),
        ],
    );
    let report = gate(image);
    assert_eq!(status(&report, CheckId::Provenance), Status::Failed);
    let why = details(&report, CheckId::Provenance);
    assert!(
        why.contains("/var/task/model/model.compiled does not exist"),
        "{why}"
    );
}

#[test]
fn an_opaque_directory_hides_the_model_the_lower_layer_had() {
    let _serial = serial();
    let image = forge(
        "opaque",
        &[
            base_layer(),
            layer(&[
                Entry::File("var/task/model/.wh..wh..opq", Vec::new(), 0o644),
                Entry::File("var/task/model/README", b"emptied".to_vec(), 0o644),
            ]),
        ],
    );
    let report = gate(image);
    assert_eq!(status(&report, CheckId::Provenance), Status::Failed);
    let why = details(&report, CheckId::Provenance);
    assert!(
        why.contains("/var/task/model/model.compiled does not exist"),
        "{why}"
    );
}

#[test]
fn a_model_symlinked_to_a_stale_file_is_judged_by_the_file_it_reaches() {
    let _serial = serial();
    let mut stale = model_file("model.compiled");
    stale.extend_from_slice(b"\n");
    let image = forge(
        "stale-model",
        &[
            base_layer(),
            layer(&[
                Entry::File("srv/old/model.compiled", stale.clone(), 0o644),
                Entry::Symlink(
                    "var/task/model/model.compiled",
                    "../../../srv/old/model.compiled",
                ),
            ]),
        ],
    );
    let report = gate(image);
    assert_eq!(status(&report, CheckId::Provenance), Status::Failed);
    let why = details(&report, CheckId::Provenance);
    let stale_sha = hex::encode(sha2::Sha256::digest(&stale));
    assert!(why.contains(&stale_sha), "{why}");
}

/// What Docker itself shows at `path` in a container of `image`: the file's bytes (symlinks
/// followed), or `None` when there is no regular file there.
fn docker_view(image: &str, path: &str) -> Option<Vec<u8>> {
    use std::io::Read;
    let run = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(args)
            .output()
            .expect("docker")
    };
    let created = run(&["create", image]);
    assert!(created.status.success(), "docker create {image}");
    let id = String::from_utf8_lossy(&created.stdout).trim().to_owned();
    let copied = run(&["cp", "-L", &format!("{id}:{path}"), "-"]);
    run(&["rm", &id]);
    if !copied.status.success() {
        return None;
    }
    let mut archive = tar::Archive::new(copied.stdout.as_slice());
    let mut entry = archive.entries().ok()?.next()?.ok()?;
    if !entry.header().entry_type().is_file() {
        return None;
    }
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).unwrap();
    Some(bytes)
}

/// The gate's merged view agrees with Docker's own on stacks that exercise each rule: names
/// Docker cleans, a directory over a lower symlink, whiteouts and hard links on uncleaned
/// names. (A member below a symlink of its own layer is left to the unit tests: this Docker
/// loads such a layer but cannot `docker save` the image again.)
#[test]
fn the_merged_view_is_what_docker_shows() {
    let _serial = serial();
    let file = |name, content: &str| Entry::RawName(name, content.as_bytes().to_vec());
    let stacks: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "clean",
            vec![
                layer(&[file("app/m", "lower")]),
                layer(&[file("x/.././app//./m", "upper")]),
            ],
        ),
        (
            "dir-over-symlink",
            vec![
                layer(&[Entry::Symlink("app", "srv"), file("srv/m", "lower")]),
                layer(&[file("app/other", "x")]),
            ],
        ),
        (
            "whiteout",
            vec![
                layer(&[file("app/m", "lower")]),
                layer(&[file("app/./.wh.m", "")]),
            ],
        ),
        (
            "hard-link",
            vec![
                layer(&[file("app/m", "lower")]),
                layer(&[
                    file("opt//real", "upper"),
                    Entry::HardLink("app/m", "opt/real"),
                ]),
            ],
        ),
    ];
    for (tag, layers) in stacks {
        let image = forge(&format!("view-{tag}"), &layers);
        let facts = harness::inspect_image(&image, Some("/app/m")).unwrap();
        let gate = facts.model.as_ref().map(|m| m.sha256.clone());
        let docker = docker_view(&image, "/app/m").map(|b| hex::encode(sha2::Sha256::digest(b)));
        assert_eq!(gate, docker, "{tag}: gate {:?}", facts.model_problem);
    }
}

/// One member of a randomly forged layer, before the member names are spelled.
#[derive(Clone, Debug)]
enum Member {
    /// A regular file (whiteouts and opaque markers are files too).
    File(String),
    Symlink(String, String),
    /// A hard link to the file named second.
    HardLink(String, String),
}

impl Member {
    fn name(&self) -> &str {
        match self {
            Member::File(name) | Member::Symlink(name, _) | Member::HardLink(name, _) => name,
        }
    }
}

/// `path` cleaned as Docker cleans a member name (no `..` may leave the root here).
fn cleaned(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join("/")
}

/// Random layer stacks over a small world (`app` and `srv`, each maybe a directory or a
/// symlink, holding `m` and `n`), every name spelled in one of the ways Docker cleans:
/// files, symlinks (absolute, relative, climbing past the root, looping), hard links,
/// whiteouts and opaque directories.
fn stacks() -> impl proptest::strategy::Strategy<Value = Vec<Vec<Member>>> {
    use proptest::prelude::*;
    let dir = || prop_oneof![Just("app"), Just("srv")];
    let file =
        move || (dir(), prop_oneof![Just("m"), Just("n")]).prop_map(|(d, f)| format!("{d}/{f}"));
    let spell = |name: String| {
        prop_oneof![
            Just(name.clone()),
            Just(format!("./{name}")),
            Just(format!("/./{name}")),
            Just(format!("x/../{name}")),
            Just(name.replace('/', "//")),
            Just(name.replace('/', "/./")),
        ]
    };
    let target = prop_oneof![
        Just("m"),
        Just("n"),
        Just("../srv/m"),
        Just("/srv/n"),
        Just("/app/m"),
        Just("../../../srv/m"),
        Just("./m"),
    ];
    let dir_target = prop_oneof![Just("srv"), Just("/srv"), Just("./app"), Just("../../app")];
    let member = prop_oneof![
        4 => file().prop_flat_map(spell).prop_map(Member::File),
        2 => (file().prop_flat_map(spell), target)
            .prop_map(|(name, to)| Member::Symlink(name, to.to_owned())),
        1 => (dir().prop_map(str::to_owned).prop_flat_map(spell), dir_target)
            .prop_map(|(name, to)| Member::Symlink(name, to.to_owned())),
        1 => (file().prop_flat_map(spell), file().prop_flat_map(spell))
            .prop_map(|(name, to)| Member::HardLink(name, to)),
        1 => (dir(), prop_oneof![Just("m"), Just("n")])
            .prop_map(|(d, f)| format!("{d}/.wh.{f}"))
            .prop_flat_map(spell)
            .prop_map(Member::File),
        1 => dir()
            .prop_map(|d| format!("{d}/.wh..wh..opq"))
            .prop_flat_map(spell)
            .prop_map(Member::File),
    ];
    proptest::collection::vec(proptest::collection::vec(member, 1..5), 1..4)
}

/// A stack as Docker takes it: in each layer, one member per (cleaned) name, no whiteout beside
/// the file it removes, no member below a file or a symlink the layer itself made (this Docker
/// loads the latter but cannot `docker save` the image again), and a hard link only to a file
/// made earlier in its layer (else it is a file of its own).
fn loadable(stack: Vec<Vec<Member>>) -> Vec<Vec<Member>> {
    stack
        .into_iter()
        .map(|members| {
            let mut kept: Vec<Member> = Vec::new();
            for member in members {
                let name = cleaned(member.name());
                let below = |other: &Member| {
                    !matches!(other, Member::HardLink(..))
                        && name.starts_with(&format!("{}/", cleaned(other.name())))
                };
                // A whiteout and the file it removes in one layer: no diff holds both.
                let whiteout_of = |whiteout: &str, file: &str| {
                    let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
                    whiteout == format!("{dir}/.wh.{name}").trim_start_matches('/')
                };
                let contradicts = |other: &Member| {
                    let other = cleaned(other.name());
                    whiteout_of(&other, &name) || whiteout_of(&name, &other)
                };
                let same = |other: &Member| cleaned(other.name()) == name;
                if kept.iter().any(below) || kept.iter().any(contradicts) || kept.iter().any(same) {
                    continue;
                }
                let member = match member {
                    Member::HardLink(name, to)
                        if !kept.iter().any(
                            |m| matches!(m, Member::File(f) if cleaned(f) == cleaned(&to)),
                        ) =>
                    {
                        Member::File(name)
                    }
                    member => member,
                };
                kept.push(member);
            }
            kept
        })
        .collect()
}

/// Whether `docker save` of `image` succeeds.
fn docker_saves(image: &str) -> bool {
    std::process::Command::new("docker")
        .args(["save", "-o", "/dev/null", image])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// The gate's merged view of an image's entrypoint and model equals what Docker shows for the
/// same image (`docker create` + `docker cp -L`), on random layer stacks (a bounded number,
/// from a fixed seed, so a run is repeatable).
#[test]
fn the_merged_view_is_what_docker_shows_for_random_layer_stacks() {
    use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
    let _serial = serial();
    let config = Config {
        cases: 40,
        max_shrink_iters: 32,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    let case = std::sync::atomic::AtomicUsize::new(0);
    // Stacks in which Docker shows a file at /app/m: the comparison must see both outcomes.
    let found = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&stacks(), |stack| {
        let stack = loadable(stack);
        let n = case.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let layers: Vec<Vec<u8>> = stack
            .iter()
            .enumerate()
            .map(|(l, members)| {
                let contents: Vec<String> = (0..members.len())
                    .map(|i| format!("layer {l} member {i}"))
                    .collect();
                let entries: Vec<Entry<'_>> = members
                    .iter()
                    .zip(&contents)
                    .map(|(member, content)| match member {
                        Member::File(name) if name.contains(".wh.") => {
                            Entry::RawName(name, Vec::new())
                        }
                        Member::File(name) => Entry::RawName(name, content.as_bytes().to_vec()),
                        Member::Symlink(name, to) => Entry::RawSymlink(name, to),
                        Member::HardLink(name, to) => Entry::RawHardLink(name, to),
                    })
                    .collect();
                layer(&entries)
            })
            .collect();
        // Docker refuses some stacks outright (two members of one name in a layer, say).
        let image = try_forge(&format!("random-{n}"), &layers, "/app/m")
            .map_err(|_| TestCaseError::reject("docker load refuses this stack"))?;
        let facts = harness::inspect_image(&image, Some("/app/m"));
        let docker = docker_view(&image, "/app/m");
        let docker_cannot_save = facts.is_err() && !docker_saves(&image);
        let _ = std::process::Command::new("docker")
            .args(["rmi", &image])
            .output();
        let facts = match facts {
            Ok(facts) => facts,
            // Docker loads some stacks it cannot save again: they say nothing about the gate.
            Err(_) if docker_cannot_save => {
                return Err(TestCaseError::reject("Docker cannot save this stack"));
            }
            Err(e) => return Err(TestCaseError::fail(format!("the gate refused it: {e}"))),
        };
        let gate = facts.model.as_ref().map(|m| m.sha256.clone());
        if docker.is_some() {
            found.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let docker_sha = docker
            .as_ref()
            .map(|b| hex::encode(sha2::Sha256::digest(b)));
        if gate != docker_sha {
            return Err(TestCaseError::fail(format!(
                "the model: the gate read {:?} ({:?}), Docker shows {:?}\n{stack:?}",
                gate,
                facts.model_problem,
                docker.map(|b| String::from_utf8_lossy(&b).into_owned())
            )));
        }
        let runs = !matches!(facts.program, harness::Executable::Missing { .. });
        if runs != docker.is_some() {
            return Err(TestCaseError::fail(format!(
                "the entrypoint: the gate found {:?}, Docker shows {}\n{stack:?}",
                facts.program,
                if docker.is_some() {
                    "a file"
                } else {
                    "nothing"
                }
            )));
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let found = found.into_inner();
    assert!(
        (5..35).contains(&found),
        "{found} of 40 stacks had a file at /app/m: the stacks do not vary enough"
    );
}
