//! `lambda-gate replay` through the Lambda Invoke API (`aws-sdk-lambda`), against the real RIE,
//! whose endpoint serves the Invoke API's path: the goldens and the malformed corpus pass for a
//! correct function and golden-replay fails for one with serving-time skew, with the same
//! comparison and report as `verify`.

use crate::support::*;
use harness::{Arch, FunctionContainer, Overrides, Progress};
use std::path::Path;

const CLASSIFIER: &str = "harness/fixtures/classifier/lambda-gate.toml";
const REGRESSOR: &str = "harness/fixtures/regressor/lambda-gate.toml";

/// The fixture of `spec_path` under the RIE on 127.0.0.1, broken by `fault` if given.
fn start(spec_path: &str, fault: Option<&str>) -> FunctionContainer {
    let mut overrides = Overrides {
        arch: Some(Arch::X86_64),
        ..Overrides::default()
    };
    if let Some(fault) = fault {
        overrides = with_fault(overrides, fault);
    }
    harness::start(&spec_with(spec_path, &overrides), &Progress::stderr())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `lambda-gate --config SPEC replay` against `endpoint` with dummy credentials and nothing
/// from the user's AWS setup (no profile, no instance metadata); the JSON report is read from
/// `scratch`.
fn replay(
    spec_path: &str,
    endpoint: &str,
    extra: &[&str],
    scratch: &Path,
) -> (Option<i32>, String, String, Option<serde_json::Value>) {
    let reports = scratch.join("reports");
    let (code, stdout, stderr) = output(
        cli()
            .args([
                "--config",
                spec_path,
                "replay",
                "--function-name",
                "function",
            ])
            .args(["--endpoint-url", endpoint, "--region", "us-east-1"])
            .arg("--report-dir")
            .arg(&reports)
            .args(extra)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("AWS_PROFILE")
            .env("AWS_CONFIG_FILE", scratch.join("no-aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                scratch.join("no-aws-credentials"),
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("XDG_CACHE_HOME", scratch),
    );
    let report = std::fs::read(reports.join("gate-x86_64.json"))
        .ok()
        .map(|bytes| serde_json::from_slice(&bytes).unwrap());
    (code, stdout, stderr, report)
}

fn check<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

fn text(check: &serde_json::Value) -> String {
    let details: Vec<&str> = check["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    format!("{}\n{}", check["summary"], details.join("\n"))
}

#[test]
fn goldens_and_malformed_payloads_pass_through_the_invoke_api() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let container = start(REGRESSOR, None);
    let (code, stdout, stderr, report) = replay(
        REGRESSOR,
        container.api_url(),
        &["--generated-cases", "30"],
        scratch.path(),
    );
    assert_eq!(code, Some(0), "exit 0 expected\n{stdout}\n{stderr}");
    let report = report.expect("the JSON report");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["golden-replay", "malformed-corpus", "malformed-generated"]
    );
    for name in names {
        assert_eq!(check(&report, name)["status"], "passed", "{name}\n{stdout}");
    }
    let golden = check(&report, "golden-replay");
    assert!(
        text(golden).contains("match the training-time model, singly and in batches"),
        "{}",
        text(golden)
    );
    // Every golden case was answered through the SDK, and the function's own corpus (which
    // checks errorType and the JSON path of errorMessage) ran besides the generic one.
    let goldens = golden_count("harness/fixtures/regressor/golden");
    assert_eq!(golden["metrics"]["cases"], goldens);
    assert!(check(&report, "malformed-corpus")["metrics"]["own"].as_u64() > Some(0));
    assert!(
        stdout.contains("PASSED: the deployed function answers as its goldens say"),
        "{stdout}"
    );
}

#[test]
fn serving_time_skew_fails_golden_replay_through_the_invoke_api() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let container = start(CLASSIFIER, Some("skew"));
    let (code, stdout, stderr, report) =
        replay(CLASSIFIER, container.api_url(), &[], scratch.path());
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    let golden = check(report.as_ref().expect("the JSON report"), "golden-replay");
    assert_eq!(golden["status"], "failed");
    assert!(text(golden).contains("/probability/"), "{}", text(golden));
    assert!(
        stdout.contains("FAILED: the deployed function does not answer as its goldens say"),
        "{stdout}"
    );
}

#[test]
fn a_function_that_crashes_on_bad_input_fails_malformed_corpus_through_the_invoke_api() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let container = start(CLASSIFIER, Some("panic"));
    let (code, stdout, stderr, report) =
        replay(CLASSIFIER, container.api_url(), &[], scratch.path());
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    let report = report.expect("the JSON report");
    assert_eq!(check(&report, "golden-replay")["status"], "passed");
    let corpus = check(&report, "malformed-corpus");
    assert_eq!(corpus["status"], "failed");
    assert!(text(corpus).contains("crashed"), "{}", text(corpus));
}

#[test]
fn a_function_that_cannot_be_reached_is_a_setup_error() {
    let scratch = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of this machine: the connection is refused.
    let (code, stdout, stderr, report) =
        replay(CLASSIFIER, "http://127.0.0.1:1", &[], scratch.path());
    assert_eq!(code, Some(2), "exit 2 expected\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("error: cannot invoke Lambda function function at http://127.0.0.1:1"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Caused by:"),
        "the SDK's cause is missing:\n{stderr}"
    );
    assert!(report.is_none(), "a report was written");
}

/// An endpoint on 127.0.0.1 that reads each request whole and hands the connection, with its
/// number, to `answer`.
fn endpoint(answer: impl Fn(usize, std::net::TcpStream) + Send + 'static) -> String {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buffer) {
                request.extend_from_slice(&buffer[..n]);
                let text = String::from_utf8_lossy(&request).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap_or(0));
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            answer(i, stream);
        }
    });
    address
}

/// Answers the first request (the reachability probe), then closes every connection without
/// a byte of answer.
fn answers_once_then_resets() -> String {
    endpoint(|i, mut stream| {
        if i == 0 {
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            );
        }
    })
}

#[test]
fn an_endpoint_that_stops_answering_stops_the_replay_after_three_failures() {
    let scratch = tempfile::tempdir().unwrap();
    let endpoint = answers_once_then_resets();
    let (code, stdout, stderr, report) = replay(CLASSIFIER, &endpoint, &[], scratch.path());
    assert_eq!(code, Some(2), "exit 2 expected\n{stdout}\n{stderr}");
    assert!(stderr.contains("gave no answer 3 times"), "{stderr}");
    assert!(report.is_none(), "a report was written");
}

#[test]
fn an_answer_over_lambdas_payload_limit_is_not_read_whole() {
    let scratch = tempfile::tempdir().unwrap();
    // Every answer claims 64 MiB and streams zeros until the client hangs up.
    let endpoint = endpoint(|_, mut stream| {
        use std::io::Write;
        let length = 64 * 1024 * 1024;
        let head =
            format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n");
        if stream.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![b'0'; 64 * 1024];
        for _ in 0..length / chunk.len() {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let (code, stdout, stderr, report) = replay(CLASSIFIER, &endpoint, &[], scratch.path());
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    let report = report.expect("a report");
    let golden = text(check(&report, "golden-replay"));
    assert!(golden.contains("Function.ResponseSizeTooLarge"), "{golden}");
}

/// The regressor's spec with `[malformed]` adapting its own corpus, written beside a copy of
/// the corpus and goldens (the spec's relative paths resolve there).
fn adapted_regressor() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixture = workspace().join("harness/fixtures/regressor");
    std::fs::create_dir_all(dir.path().join("golden")).unwrap();
    for file in [
        "malformed.json",
        "golden/inputs.jsonl",
        "golden/expected.jsonl",
        "golden/manifest.json",
    ] {
        std::fs::copy(fixture.join(file), dir.path().join(file)).unwrap();
    }
    let text = std::fs::read_to_string(fixture.join("lambda-gate.toml")).unwrap();
    let text = text.replace(
        "[malformed]\ncases = \"malformed.json\"",
        "[malformed]\ncases = \"malformed.json\"\nskip = [\"no-instances\"]\nexpect_instead = { short-row = \"TooManyInstances\" }",
    );
    assert!(text.contains("skip = "), "the spec's [malformed] moved");
    std::fs::write(dir.path().join("lambda-gate.toml"), text).unwrap();
    dir
}

/// Regression: replay assembled the malformed corpus without the spec's `[malformed] skip` and
/// `expect_instead`, so a function gated with them passed `verify` and failed `replay` (the
/// Python example would have reported 11 false failures against a deployed function). Replay
/// now sends and judges what `verify` does: the skipped case is not sent, and the case whose
/// answer the spec changes is judged by the spec's answer.
#[test]
fn replay_adapts_the_own_corpus_as_the_spec_says() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let container = start(REGRESSOR, None);
    let adapted = adapted_regressor();
    let spec_path = adapted.path().join("lambda-gate.toml");
    let (code, stdout, stderr, report) = replay(
        &spec_path.display().to_string(),
        container.api_url(),
        &[],
        scratch.path(),
    );
    assert_eq!(code, Some(1), "exit 1 expected\n{stdout}\n{stderr}");
    let corpus = check(
        report.as_ref().expect("the JSON report"),
        "malformed-corpus",
    );
    assert_eq!(
        corpus["metrics"]["own"], 4,
        "no-instances is skipped: {corpus:#}"
    );
    let text = text(corpus);
    assert!(
        text.contains("short-row")
            && text.contains("expected errorType TooManyInstances, got MalformedRequest"),
        "{text}"
    );
    assert!(
        text.starts_with("\"1 of"),
        "only the adapted case fails: {text}"
    );
}
