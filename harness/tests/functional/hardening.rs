//! A gate that cannot be fooled, hung or left behind: what happens when the function hangs or
//! runs out of memory, when its container is killed from outside or Docker goes away, with an
//! emulator that is not the pinned one, and what the function container may do.

use crate::support::*;
use harness::{Arch, CheckId, Progress, Status};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const SPEC: &str = "harness/fixtures/classifier/lambda-gate.toml";

fn image() -> String {
    build(SPEC, Arch::X86_64)
}

/// The pinned x86_64 emulator in the user's cache (provisioned by starting the fixture once).
fn pinned_rie() -> std::path::PathBuf {
    drop(harness::start(&spec(SPEC), &Progress::silent()).unwrap());
    let dir = dirs::cache_dir().unwrap().join("lambda-gate/rie");
    std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|version| version.path().join("aws-lambda-rie-x86_64"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("no pinned emulator below {}", dir.display()))
}

/// Waits (bounded) for a running container of `image`.
fn running_container(image: &str, child: &mut std::process::Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let id = docker(&["ps", "-q", "--filter", &format!("ancestor={image}")]);
        if !id.is_empty() {
            return id;
        }
        assert!(
            Instant::now() < deadline,
            "the function container never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the gate ended too early"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the gate did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_function_container_gets_least_privilege() {
    let _serial = serial();
    let spec = spec(SPEC);
    let container = harness::start(&spec, &Progress::silent()).unwrap();
    let id = container.id().to_owned();
    let inspect: serde_json::Value = serde_json::from_str(&docker(&["inspect", &id])).unwrap();
    let host = &inspect[0]["HostConfig"];
    let bindings = &inspect[0]["NetworkSettings"]["Ports"]["8080/tcp"];
    let ips: Vec<&str> = bindings
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["HostIp"].as_str().unwrap())
        .collect();
    assert_eq!(
        ips,
        ["127.0.0.1"],
        "the port is on the loopback only: {bindings}"
    );
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges"])
    );
    assert_eq!(host["ReadonlyRootfs"], true);
    let networks = inspect[0]["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap();
    assert_eq!(networks.len(), 1, "{networks:?}");
    let network = networks.keys().next().unwrap().clone();
    let options: serde_json::Value =
        serde_json::from_str(&docker(&["network", "inspect", &network])).unwrap();
    let options = &options[0]["Options"];
    assert_eq!(
        options["com.docker.network.bridge.enable_ip_masquerade"], "false",
        "no route out of the machine: {options}"
    );
    assert_eq!(options["com.docker.network.bridge.enable_icc"], "false");
    drop(container);
    assert!(docker(&["ps", "-aq", "--filter", &format!("id={id}")]).is_empty());
    assert!(
        docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("name={network}")
        ])
        .is_empty(),
        "the run's network is removed with its container"
    );
}

#[test]
fn a_local_emulator_is_reported_unverified_and_refused_under_ci() {
    let _serial = serial();
    let image = image();
    let cache = tempfile::tempdir().unwrap();
    let local = cache.path().join("my-rie");
    std::fs::copy(pinned_rie(), &local).unwrap();
    let reports = cache.path().join("reports");
    let run = |ci: bool, allow: bool| {
        let mut command = cli();
        command
            .args([
                "--config",
                SPEC,
                "verify",
                "--generated-cases",
                "10",
                "--image",
                &image,
            ])
            .arg("--rie")
            .arg(&local)
            .arg("--report-dir")
            .arg(&reports)
            .env("XDG_CACHE_HOME", cache.path())
            .env_remove("CI");
        if ci {
            command.env("CI", "true");
        }
        if allow {
            command.arg("--allow-unverified-rie");
        }
        output(&mut command)
    };
    let (code, stdout, stderr) = run(false, false);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    // The header breaks after its commas where it is wider than the table (120 columns here).
    let line = format!("emulator: UNVERIFIED local emulator {},", local.display());
    assert!(stdout.contains(&line), "{stdout}");
    assert!(stdout.contains(" (not the pinned build)\n"), "{stdout}");
    let markdown = std::fs::read_to_string(reports.join("gate-x86_64.md")).unwrap();
    assert!(markdown.contains("UNVERIFIED local emulator"), "{markdown}");

    let (code, _, stderr) = run(true, false);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--allow-unverified-rie"), "{stderr}");
    let (code, stdout, stderr) = run(true, true);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
}

#[test]
fn a_function_that_hangs_stops_the_run_after_three_timeouts() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let overrides = with_fault(quick(Arch::X86_64, 200, scratch.path()), "hang");
    let spec = spec_edited(
        SPEC,
        |table| {
            section(table, "function").insert("timeout_s".to_owned(), 2.into());
        },
        &overrides,
    );
    let report = run(spec);
    assert!(!report.passed());
    let limits = details(&report, CheckId::LambdaLimits);
    assert!(limits.contains("3 timed out"), "{limits}");
    assert!(
        limits.contains("stopped early: the function timed out 3 times"),
        "{limits}"
    );
    let generated = report.check(CheckId::MalformedGenerated).unwrap();
    assert!(
        generated.cases.is_some_and(|n| n < 200),
        "the generated payloads stopped early: {:?} ran",
        generated.cases
    );
}

/// Running out of memory is named as Lambda names it, and a generated payload it happened on
/// is not saved as a regression: a leak that adds up ends on whichever payload comes then, and
/// its seed, replayed first on every later run, would not be the cause.
#[test]
fn running_out_of_memory_is_named_and_saves_no_seed() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let overrides = with_fault(quick(Arch::X86_64, 20, scratch.path()), "oom");
    let report = run(spec_with(SPEC, &overrides));
    assert_eq!(status(&report, CheckId::MalformedCorpus), Status::Failed);
    let why = details(&report, CheckId::MalformedCorpus);
    assert!(
        why.contains("Runtime.OutOfMemory: the function ran out of memory: peak"),
        "{why}"
    );
    assert_eq!(status(&report, CheckId::LambdaLimits), Status::Failed);
    assert!(details(&report, CheckId::LambdaLimits).contains("reached the function's memory size"));
    assert_eq!(status(&report, CheckId::MalformedGenerated), Status::Failed);
    let generated = details(&report, CheckId::MalformedGenerated);
    assert!(
        generated.contains("Runtime.OutOfMemory")
            && generated.contains("not saved as a regression"),
        "{generated}"
    );
    let saved = regressions(scratch.path());
    assert!(
        !saved.exists(),
        "a seed was saved for running out of memory: {:?}",
        std::fs::read_to_string(&saved)
    );
}

#[test]
fn a_container_killed_from_outside_is_exit_2_and_saves_no_regression() {
    let _serial = serial();
    let image = image();
    let cache = tempfile::tempdir().unwrap();
    let mut child = cli()
        .args(["--config", SPEC, "-q", "verify", "--image", &image])
        .args(["--generated-cases", "100000", "--jobs", "1"])
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = running_container(&image, &mut child);
    std::thread::sleep(Duration::from_secs(2));
    for id in id.lines() {
        docker(&["kill", id]);
    }
    let status = wait_bounded(&mut child, Duration::from_secs(120));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("killed from outside"), "{stderr}");
    let regressions: Vec<_> = files_below(cache.path())
        .into_iter()
        .filter(|p| p.starts_with("lambda-gate/regressions"))
        .collect();
    assert!(
        regressions.is_empty(),
        "an infrastructure failure is no regression: {regressions:?}"
    );
}

/// A unix socket that forwards to the Docker engine until cut: by the test, or by itself when
/// a request contains its trigger (which is then not forwarded).
struct DockerProxy {
    path: std::path::PathBuf,
    cut: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

/// Cuts the proxy at `path`: no connection is forwarded any more, open ones are closed.
fn cut_proxy(cut: &AtomicBool, path: &std::path::Path) {
    cut.store(true, Ordering::SeqCst);
    let _ = std::fs::remove_file(path);
    // Wake the accept loop so it sees the cut.
    let _ = UnixStream::connect(path);
}

impl DockerProxy {
    fn start() -> Self {
        Self::cutting_at(None)
    }

    /// A proxy that cuts itself when a request contains `trigger` (say `/containers/create`).
    fn cutting_at(trigger: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let stop = cut.clone();
        let socket = path.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { break };
                let Ok(engine) = UnixStream::connect("/var/run/docker.sock") else {
                    continue;
                };
                let (stop, socket) = (stop.clone(), socket.clone());
                let (mut c1, mut e1) = (client.try_clone().unwrap(), engine.try_clone().unwrap());
                let (c2, e2) = (client, engine);
                let forward_stop = stop.clone();
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    let mut buf = [0u8; 8192];
                    // The request line arrives in one write; keep a tail in case it does not.
                    let mut seen = Vec::new();
                    while let Ok(n) = c1.read(&mut buf) {
                        if n == 0 || forward_stop.load(Ordering::SeqCst) {
                            break;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        if let Some(trigger) = trigger
                            && seen.windows(trigger.len()).any(|w| w == trigger.as_bytes())
                        {
                            cut_proxy(&forward_stop, &socket);
                            let _ = c1.shutdown(std::net::Shutdown::Both);
                            let _ = e1.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                        seen.drain(..seen.len().saturating_sub(256));
                        if e1.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                std::thread::spawn(move || {
                    let (mut c2, mut e2) = (c2, e2);
                    let mut buf = [0u8; 8192];
                    loop {
                        use std::io::{Read, Write};
                        if stop.load(Ordering::SeqCst) {
                            let _ = c2.shutdown(std::net::Shutdown::Both);
                            let _ = e2.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                        e2.set_read_timeout(Some(Duration::from_millis(200))).ok();
                        match e2.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => {
                                if c2.write_all(&buf[..n]).is_err() {
                                    break;
                                }
                            }
                            Err(e)
                                if e.kind() == std::io::ErrorKind::WouldBlock
                                    || e.kind() == std::io::ErrorKind::TimedOut => {}
                            Err(_) => break,
                        }
                    }
                });
            }
        });
        DockerProxy {
            path,
            cut,
            _dir: dir,
        }
    }

    fn cut(&self) {
        cut_proxy(&self.cut, &self.path);
    }

    fn was_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }
}

/// Docker gone before the function container exists (as the gate creates its network, or the
/// container itself) says nothing about the image: exit 2, "could not finish", not a failed
/// `init` and "do not push".
#[test]
fn docker_going_away_before_the_function_container_is_created_is_exit_2() {
    let _serial = serial();
    let image = image();
    for request in ["/networks/create", "/containers/create"] {
        let proxy = DockerProxy::cutting_at(Some(request));
        let mut child = cli()
            .args(["--config", SPEC, "-q", "verify", "--image", &image])
            .args(["--generated-cases", "10"])
            .env("DOCKER_HOST", format!("unix://{}", proxy.path.display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = wait_bounded(&mut child, Duration::from_secs(300));
        let gate = child.id();
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        // What the gate could not remove: its network, and a container if one was made.
        let networks = docker(&[
            "network",
            "ls",
            "-q",
            "--filter",
            &format!("name=lambda-gate-{gate}-"),
        ]);
        for network in networks.lines() {
            docker(&["network", "rm", network]);
        }
        assert!(
            proxy.was_cut(),
            "the gate never asked for {request}:\n{stderr}"
        );
        assert_eq!(
            status.code(),
            Some(2),
            "Docker gone at {request} is no verdict on the image:\n{stdout}\n{stderr}"
        );
        assert!(
            stderr.contains(
                "Docker stopped answering while the function container was being started"
            ),
            "{stderr}"
        );
        assert!(!stdout.contains("do not push"), "{stdout}");
    }
}

#[test]
fn docker_going_away_during_a_run_is_exit_2() {
    let _serial = serial();
    let image = image();
    let cache = tempfile::tempdir().unwrap();
    let proxy = DockerProxy::start();
    let mut child = cli()
        .args(["--config", SPEC, "-q", "verify", "--image", &image])
        // Enough cases that the run is still going when the engine goes away (300 took
        // under the 2 s below on a fast machine, and the run passed before the cut).
        .args(["--generated-cases", "10000", "--jobs", "1"])
        .env("XDG_CACHE_HOME", cache.path())
        .env("DOCKER_HOST", format!("unix://{}", proxy.path.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = running_container(&image, &mut child);
    std::thread::sleep(Duration::from_secs(2));
    proxy.cut();
    let status = wait_bounded(&mut child, Duration::from_secs(180));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Clean up through the real engine: the gate could not.
    for id in id.lines() {
        docker(&["rm", "-f", id]);
    }
    assert_eq!(
        status.code(),
        Some(2),
        "a run Docker left is not a pass:\n{stderr}"
    );
    assert!(stderr.contains("Docker stopped answering"), "{stderr}");
}

/// A spec is code, like a Makefile: its commands must not read the CI job's secrets from the
/// gate's environment unless the spec names them in `[commands] pass_env`.
#[test]
fn spec_commands_get_no_secrets_unless_the_spec_passes_them() {
    let dir = tempfile::tempdir().unwrap();
    let golden = dir.path().join("golden");
    std::fs::create_dir_all(&golden).unwrap();
    for file in ["inputs.jsonl", "expected.jsonl", "manifest.json"] {
        std::fs::copy(workspace().join("golden").join(file), golden.join(file)).unwrap();
    }
    let regen =
        r#"echo "secret=[$AWS_SECRET_ACCESS_KEY] token=[$GITHUB_TOKEN] home=[$HOME]" >&2; exit 3"#;
    for (pass_env, token) in [("[]", ""), (r#"["GITHUB_TOKEN"]"#, "dummy-token")] {
        let spec = format!(
            "[function]\nname = \"secrets\"\narchitecture = \"x86_64\"\n\
             [image]\nreference = \"lambda-gate-unused:latest\"\n[contract]\n\
             [errors]\nfunction = [\"InvalidPayload\"]\n[provenance]\nmodel = \"/model\"\n\
             [goldens]\ndir = \"golden\"\nregen = '{regen}'\n\
             [commands]\npass_env = {pass_env}\n"
        );
        std::fs::write(dir.path().join("lambda-gate.toml"), spec).unwrap();
        let (code, stdout, stderr) = output(
            cli()
                .current_dir(dir.path())
                .args(["golden", "regen"])
                .env("AWS_SECRET_ACCESS_KEY", "dummy-secret")
                .env("GITHUB_TOKEN", "dummy-token")
                .env("CI", "true"),
        );
        let all = format!("{stdout}{stderr}");
        assert_eq!(code, Some(2), "{all}");
        assert!(
            all.contains(&format!("secret=[] token=[{token}] home=[/")),
            "pass_env = {pass_env}: {all}"
        );
    }
}

/// The image is resolved to one id when the run begins: a tag moved mid-run (here by the
/// spec's own `provenance.compile`, which runs after the image is read and before it is
/// started) changes neither the image that runs nor the id the report names.
#[test]
fn a_tag_moved_during_verify_changes_neither_the_image_run_nor_the_id_reported() {
    let _serial = serial();
    let good = image();
    let id = |reference: &str| docker(&["image", "inspect", "--format", "{{.Id}}", reference]);
    let good_id = id(&good);
    let (base, broken, moving) = (
        "lambda-gate-tag-move:good",
        "lambda-gate-tag-move:broken",
        "lambda-gate-tag-move:moving",
    );
    docker(&["tag", &good, base]);
    docker(&["tag", &good, moving]);
    // The same image, except that the program it starts is a script with no interpreter:
    // run, it fails init.
    let context = tempfile::tempdir().unwrap();
    let junk = context.path().join("gate-fixture");
    std::fs::write(&junk, "#!/no/such/interpreter\n").unwrap();
    std::fs::set_permissions(&junk, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY gate-fixture /var/runtime/gate-fixture\n"),
    )
    .unwrap();
    let built = Command::new("docker")
        .args(["build", "-q", "-t", broken])
        .arg(context.path())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "docker build of {broken}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert_ne!(id(broken), good_id);

    let scratch = tempfile::tempdir().unwrap();
    let model = workspace().join("golden/corpus/ctr_multiclass_str/model.json");
    let spec = spec_edited(
        SPEC,
        |table| {
            let provenance = section(table, "provenance");
            provenance.insert("source".to_owned(), model.display().to_string().into());
            provenance.insert(
                "compile".to_owned(),
                format!("docker tag {broken} {moving}; cp {{source}} {{output}}").into(),
            );
        },
        &harness::Overrides {
            image: Some(moving.to_owned()),
            ..quick(Arch::X86_64, 10, scratch.path())
        },
    );
    let report = run(spec);
    docker(&["rmi", moving, broken, base]);
    assert_eq!(id_of(&report), good_id, "the report names the image read");
    assert_eq!(
        status(&report, CheckId::Init),
        Status::Passed,
        "the good image ran"
    );
    assert!(report.passed());
}

fn id_of(report: &harness::Report) -> String {
    report.image_facts.as_ref().expect("image facts").id.clone()
}

/// A cached emulator changed since it was verified, with no fresh copy to be had: the error
/// says the checksum failed, not only that a download did.
#[test]
fn a_tampered_cached_emulator_is_named_when_no_fresh_copy_can_be_had() {
    let _serial = serial();
    let pinned = pinned_rie();
    let version = pinned.parent().unwrap().file_name().unwrap().to_owned();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("lambda-gate/rie").join(version);
    std::fs::create_dir_all(&dir).unwrap();
    let tampered = dir.join("aws-lambda-rie-x86_64");
    std::fs::write(&tampered, b"#!/bin/sh\necho not the emulator\n").unwrap();
    let (code, stdout, stderr) = output(
        cli()
            .args(["--config", SPEC, "invoke", "--data", "[]"])
            .env("XDG_CACHE_HOME", cache.path())
            .env("LAMBDA_GATE_PYTHON", "false")
            .env_remove("LAMBDA_GATE_RIE"),
    );
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "the cached emulator {} has sha256",
            tampered.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("printed nothing"), "{stderr}");
}

/// A generated phase cut short (here by a check budget too small for any request) says how
/// many payloads it judged, not that all of them got contract answers.
#[test]
fn a_generated_check_cut_short_does_not_claim_every_payload() {
    let _serial = serial();
    image();
    let scratch = tempfile::tempdir().unwrap();
    let spec = spec_with(SPEC, &quick(Arch::X86_64, 50, scratch.path()));
    let options = harness::VerifyOptions {
        check_budget: Duration::from_millis(1),
        progress: Progress::silent(),
        ..harness::VerifyOptions::default()
    };
    let report = harness::verify(&spec, &options).unwrap();
    let check = report.check(CheckId::MalformedGenerated).unwrap();
    assert_eq!(check.status, Status::Failed);
    assert!(
        check.summary.contains("of 50 generated payloads") && check.summary.contains("stopped"),
        "{}",
        check.summary
    );
    assert!(
        check.cases.is_some_and(|judged| judged < 50),
        "{:?} cases claimed",
        check.cases
    );
}

/// A deadline used up by the gate's own work (here `provenance.compile`) is named with the
/// phase it cut, exit 2: not the function's `init` failing, which would blame the image.
#[test]
fn a_deadline_used_up_by_the_gates_own_command_names_it() {
    let _serial = serial();
    let image = build("harness/fixtures/classifier/lambda-gate.toml", Arch::X86_64);
    let scratch = tempfile::tempdir().unwrap();
    let model = workspace().join("golden/corpus/ctr_multiclass_str/model.json");
    let spec = spec_edited(
        "harness/fixtures/classifier/lambda-gate.toml",
        |table| {
            let provenance = section(table, "provenance");
            provenance.insert("source".to_owned(), model.display().to_string().into());
            provenance.insert(
                "compile".to_owned(),
                "sleep 12; cp {source} {output}".into(),
            );
        },
        &harness::Overrides {
            image: Some(image),
            ..quick(Arch::X86_64, 10, scratch.path())
        },
    );
    let options = harness::VerifyOptions {
        deadline: Duration::from_secs(10),
        progress: Progress::stderr(),
        ..harness::VerifyOptions::default()
    };
    match harness::verify(&spec, &options) {
        Err(harness::Error::Deadline { phase, .. }) => {
            assert_eq!(phase, "running provenance.compile");
        }
        Err(other) => panic!("another error: {other}"),
        Ok(report) => panic!("a report, not the deadline:\n{}", report.table()),
    }
}
