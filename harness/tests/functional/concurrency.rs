//! Lambda Managed Instances (`function.max_concurrency` > 1) under the real RIE in its
//! Managed Instances mode: several golden requests in flight in one environment must get the
//! answers they get one at a time. The regressor fixture runs with `run_concurrent`;
//! `FIXTURE_FAULT=shared-buffer` makes it keep each request in one buffer every request shares.

use crate::support::*;
use harness::{Arch, CheckId, Overrides, Spec, Status};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const REGRESSOR: &str = "harness/fixtures/regressor/lambda-gate.toml";
const LOAN: &str = "lambda-gate.toml";

/// The regressor image with its binary at `/var/runtime/bootstrap` and its role in the
/// environment: the RIE's Managed Instances mode runs only a bootstrap there (it ignores
/// `ENTRYPOINT` and `CMD`).
fn bootstrap_regressor() -> String {
    // Stages the context (binary and model).
    build(REGRESSOR, Arch::X86_64);
    let scratch = tempfile::tempdir().unwrap();
    let dockerfile = scratch.path().join("Dockerfile");
    std::fs::write(
        &dockerfile,
        "FROM scratch\n\
         COPY gate-fixture /var/runtime/bootstrap\n\
         COPY model.json /var/task/model.json\n\
         ENV MODEL_PATH=/var/task/model.json FIXTURE_ROLE=regressor\n\
         USER 10001:10001\n\
         ENTRYPOINT [\"/var/runtime/bootstrap\"]\n",
    )
    .unwrap();
    let context = workspace().join("target/gate-fixtures/regressor");
    let spec = spec_edited(
        REGRESSOR,
        build_from(&dockerfile, &context, "gate-fixture-regressor-bootstrap"),
        &Overrides::default(),
    );
    build_spec(&spec)
}

/// The spec at `relative` run on Managed Instances with `max_concurrency`, taking `image`.
fn managed(relative: &str, image: String, max_concurrency: i64, overrides: Overrides) -> Spec {
    spec_edited(
        relative,
        |table| {
            section(table, "function").insert("max_concurrency".to_owned(), max_concurrency.into());
        },
        &Overrides {
            image: Some(image),
            ..overrides
        },
    )
}

#[test]
fn a_handler_that_shares_a_buffer_between_requests_fails_only_concurrency() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let overrides = with_fault(quick(Arch::X86_64, 20, scratch.path()), "shared-buffer");
    let image = bootstrap_regressor();
    let report = run(managed(REGRESSOR, image, 8, overrides));
    let check = report
        .check(CheckId::Concurrency)
        .expect("a concurrency check");
    assert_eq!(check.status, Status::Failed, "{}", report.table());
    assert!(
        check
            .summary
            .contains("with 8 requests in flight than one at a time")
            && check.summary.contains("shares state between invocations"),
        "{}",
        check.summary
    );
    assert!(
        check.details[0].ends_with("(with 8 requests in flight; right one at a time)"),
        "{:?}",
        check.details
    );
    // One at a time the function is right: concurrency is the one cause.
    let failed: Vec<CheckId> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Passed)
        .map(|c| c.name)
        .collect();
    assert_eq!(failed, [CheckId::Concurrency], "{}", report.table());
}

#[test]
fn the_regressor_without_shared_state_passes_concurrency_and_classic_specs_have_no_such_check() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let image = bootstrap_regressor();
    let report = run(managed(
        REGRESSOR,
        image.clone(),
        8,
        quick(Arch::X86_64, 20, scratch.path()),
    ));
    assert_all_pass(&report);
    let check = report
        .check(CheckId::Concurrency)
        .expect("a concurrency check");
    assert!(
        check
            .summary
            .contains("8 at once in one environment (the RIE's Managed Instances mode)"),
        "{}",
        check.summary
    );
    let classic = run(spec_with(
        REGRESSOR,
        &Overrides {
            image: Some(image),
            ..quick(Arch::X86_64, 20, scratch.path())
        },
    ));
    assert!(classic.check(CheckId::Concurrency).is_none());
}

#[test]
fn the_reference_function_passes_concurrency() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let image = build(LOAN, Arch::X86_64);
    let report = run(managed(
        LOAN,
        image,
        16,
        quick(Arch::X86_64, 50, scratch.path()),
    ));
    assert_all_pass(&report);
    let check = report
        .check(CheckId::Concurrency)
        .expect("a concurrency check");
    assert_eq!(check.metrics["in_flight"], 16);
}

#[test]
fn an_image_the_managed_instances_mode_cannot_start_is_told_so_once() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    // The plain fixture: `CMD ["/opt/bin/gate-fixture", "regressor"]`.
    let image = build(REGRESSOR, Arch::X86_64);
    let report = run(managed(
        REGRESSOR,
        image,
        4,
        quick(Arch::X86_64, 20, scratch.path()),
    ));
    let check = report
        .check(CheckId::Concurrency)
        .expect("a concurrency check");
    assert_eq!(check.status, Status::Failed);
    assert_eq!(check.details.len(), 1, "{:?}", check.details);
    assert!(
        check.details[0].contains(
            "ignores ENTRYPOINT and CMD; this image runs [\"/opt/bin/gate-fixture\", \"regressor\"]"
        ),
        "{:?}",
        check.details
    );
}

/// The Managed Instances container while it runs: `docker inspect`, and each process's uid,
/// gid, name and effective capabilities (from the host's `/proc`).
struct Seen {
    inspect: serde_json::Value,
    processes: Vec<(String, String, String, String)>,
}

/// Watches, while `run` goes on, for a running container of `image` with
/// `AWS_LAMBDA_MAX_CONCURRENCY` set, and returns what it saw of it (bounded: the watch ends
/// with the run).
fn watch_managed(image: &str, run: impl FnOnce()) -> Option<Seen> {
    let seen = Mutex::new(None);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) && seen.lock().unwrap().is_none() {
                let ids = docker(&["ps", "-q", "--filter", &format!("ancestor={image}")]);
                for id in ids.lines() {
                    let inspect: serde_json::Value =
                        serde_json::from_str(&docker(&["inspect", id])).unwrap_or_default();
                    let managed = inspect[0]["Config"]["Env"]
                        .as_array()
                        .is_some_and(|env| env.iter().any(|v| v == "AWS_LAMBDA_MAX_CONCURRENCY=2"));
                    let top = docker(&["top", id, "-eo", "pid,uid,gid,comm"]);
                    if !managed || !top.contains("bootstrap") {
                        continue;
                    }
                    let processes = top
                        .lines()
                        .skip(1)
                        .filter_map(|line| {
                            let f: Vec<&str> = line.split_whitespace().collect();
                            let status =
                                std::fs::read_to_string(format!("/proc/{}/status", f.first()?))
                                    .ok()?;
                            let caps = status
                                .lines()
                                .find_map(|l| l.strip_prefix("CapEff:"))?
                                .trim()
                                .to_owned();
                            Some((
                                f.get(1)?.to_string(),
                                f.get(2)?.to_string(),
                                f.get(3)?.to_string(),
                                caps,
                            ))
                        })
                        .collect();
                    *seen.lock().unwrap() = Some(Seen { inspect, processes });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        run();
        done.store(true, Ordering::SeqCst);
    });
    seen.into_inner().unwrap()
}

#[test]
fn the_managed_instances_emulator_has_setuid_alone_and_the_function_runs_as_the_sandbox_user() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let image = bootstrap_regressor();
    // The shared buffer's 20 ms per request, two at a time: the container lives for seconds.
    let overrides = with_fault(quick(Arch::X86_64, 20, scratch.path()), "shared-buffer");
    let spec = managed(REGRESSOR, image.clone(), 2, overrides);
    let seen = watch_managed(&image, || {
        run(spec);
    })
    .expect("the Managed Instances container was seen running");
    let host = &seen.inspect[0]["HostConfig"];
    assert_eq!(host["CapDrop"], serde_json::json!(["ALL"]));
    let added: Vec<&str> = host["CapAdd"]
        .as_array()
        .expect("CapAdd")
        .iter()
        .map(|c| c.as_str().unwrap().trim_start_matches("CAP_"))
        .collect();
    assert_eq!(added, ["SETUID", "SETGID"]);
    assert_eq!(
        host["SecurityOpt"],
        serde_json::json!(["no-new-privileges"])
    );
    assert_eq!(host["ReadonlyRootfs"], true);
    let function: Vec<_> = seen
        .processes
        .iter()
        .filter(|(_, _, name, _)| name == "bootstrap")
        .collect();
    assert!(!function.is_empty(), "{:?}", seen.processes);
    for (uid, gid, _, caps) in function {
        assert_eq!(
            (uid.as_str(), gid.as_str()),
            ("993", "990"),
            "{:?}",
            seen.processes
        );
        assert_eq!(caps, "0000000000000000", "the function has no capability");
    }
}
