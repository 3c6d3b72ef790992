//! Ctrl-C or SIGTERM (CI's cancel-in-progress sends it) in the middle of a run leaves no
//! function container behind.

use crate::support::*;
use harness::Arch;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEC: &str = "harness/fixtures/classifier/lambda-gate.toml";

fn containers(image: &str, all: bool) -> Vec<String> {
    let mut command = Command::new("docker");
    command.arg("ps").arg("-q");
    if all {
        command.arg("-a");
    }
    let out = command
        .args(["--filter", &format!("ancestor={image}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Interrupts a run with `signal` (`-INT`, `-TERM`) once its container serves: nothing is left
/// behind, and one line names `name`, the signal.
fn interrupted_run_leaves_nothing(signal: &str, name: &str) {
    let _serial = serial();
    let image = build(SPEC, Arch::X86_64);
    assert!(
        containers(&image, true).is_empty(),
        "a container of {image} is already there"
    );
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("stderr");
    let mut child = cli()
        .args(["--config", SPEC, "-q", "verify", "--image", &image])
        .args(["--generated-cases", "1000000"])
        .env("XDG_CACHE_HOME", scratch.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while containers(&image, false).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the function container never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the gate ended before it was interrupted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let it get into the invocations.
    std::thread::sleep(Duration::from_secs(2));
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the gate did not end within 60 s of {signal}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        !status.success(),
        "an interrupted run is not a pass: {status}"
    );
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        said.lines().collect::<Vec<_>>(),
        [format!(
            "lambda-gate: {name} received: stopping; removing the function containers"
        )],
        "one line, with -q too"
    );
    let left = containers(&image, true);
    assert!(
        left.is_empty(),
        "containers left behind after {signal}: {left:?}"
    );
}

#[test]
fn ctrl_c_removes_the_function_container() {
    interrupted_run_leaves_nothing("-INT", "SIGINT");
}

#[test]
fn sigterm_removes_the_function_container() {
    interrupted_run_leaves_nothing("-TERM", "SIGTERM");
}
