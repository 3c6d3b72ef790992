//! Inputs that could exhaust the machine the gate runs on: its own peak memory stays bounded,
//! measured on the `lambda-gate` process itself (issue 24: under 512 MiB for each).

use crate::support::*;
use harness::Arch;
use std::process::Command;
use std::time::Duration;

const SPEC: &str = "harness/fixtures/classifier/lambda-gate.toml";
const MIB: u64 = 1024 * 1024;

/// The check named `name` in the JSON report written to `reports`.
fn check(reports: &std::path::Path, name: &str) -> serde_json::Value {
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reports.join("gate-x86_64.json")).expect("the JSON report"),
    )
    .expect("JSON");
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
        .clone()
}

/// A malformed corpus of 150 bodies of 6 MB (each a request Lambda passes on) is made a part
/// at a time as it is sent: made up front, it took 1.84 GB.
#[test]
fn a_corpus_of_150_bodies_of_6_mb_is_sent_in_bounded_memory() {
    let _serial = serial();
    let image = build(SPEC, Arch::X86_64);
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<serde_json::Value> = (0..150)
        .map(|i| {
            serde_json::json!({
                "name": format!("long-string-{i}"),
                "why": "6 MB of one string in an object",
                "body": {"generate": {"kind": "long_string", "path": "s", "bytes": 6_000_000, "fill": "x"}},
                "expect": {"error_type": "ValidationError"}
            })
        })
        .collect();
    let corpus = dir.path().join("cases.json");
    std::fs::write(
        &corpus,
        serde_json::json!({"base_request": {"s": ""}, "cases": cases}).to_string(),
    )
    .unwrap();
    let spec = spec_file(SPEC, dir.path(), |table| {
        section(table, "malformed").insert("cases".to_owned(), corpus.display().to_string().into());
    });
    let reports = dir.path().join("reports");
    let (code, stdout, stderr, peak) = output_and_peak_rss(
        cli()
            .arg("--config")
            .arg(&spec)
            .args(["-q", "verify", "--image", &image, "--jobs", "1"])
            .args(["--generated-cases", "10"])
            .arg("--report-dir")
            .arg(&reports)
            .env("XDG_CACHE_HOME", dir.path().join("cache")),
        Duration::from_secs(900),
    );
    eprintln!("peak RSS of the gate: {} MiB", peak / MIB);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let malformed = check(&reports, "malformed-corpus");
    assert_eq!(malformed["status"], "passed", "{malformed}");
    assert_eq!(malformed["metrics"]["own"], 150, "{malformed}");
    assert!(
        peak < 512 * MIB,
        "the gate peaked at {} MiB for a corpus it need not hold",
        peak / MIB
    );
}

/// The image's model is hashed as it is read: a model of 512 MiB costs a buffer, not its size
/// (read whole, a 1 GiB model took 1.06 GiB).
#[test]
fn a_large_model_is_hashed_in_bounded_memory() {
    use sha2::Digest as _;
    use std::io::Write as _;
    let _serial = serial();
    let base = build(SPEC, Arch::X86_64);
    let context = tempfile::tempdir().unwrap();
    // 512 MiB that are not all alike, hashed here as they are written.
    let mut hasher = sha2::Sha256::new();
    let mut model =
        std::io::BufWriter::new(std::fs::File::create(context.path().join("model.json")).unwrap());
    let mut block = vec![0u8; MIB as usize];
    for i in 0..512u32 {
        block[..4].copy_from_slice(&i.to_le_bytes());
        hasher.update(&block);
        model.write_all(&block).unwrap();
    }
    model.flush().unwrap();
    drop(model);
    let expected = hex::encode(hasher.finalize());
    std::fs::write(
        context.path().join("Dockerfile"),
        format!("FROM {base}\nCOPY model.json /opt/model/model.json\n"),
    )
    .unwrap();
    let image = "lambda-gate-large-model:test";
    let built = Command::new("docker")
        .args(["build", "-q", "-t", image])
        .arg(context.path())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    drop(context);
    let reports = tempfile::tempdir().unwrap();
    let (code, stdout, stderr, peak) = output_and_peak_rss(
        cli()
            .args(["--config", SPEC, "-q", "verify", "--image", image])
            .args(["--generated-cases", "1"])
            .arg("--report-dir")
            .arg(reports.path()),
        Duration::from_secs(900),
    );
    let _ = Command::new("docker").args(["rmi", image]).output();
    eprintln!("peak RSS of the gate: {} MiB", peak / MIB);
    // Not the goldens' model: provenance fails, the image is judged.
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let provenance = check(reports.path(), "provenance");
    assert_eq!(
        provenance["metrics"]["image_model_sha256"], expected,
        "{provenance}"
    );
    assert!(
        peak < 256 * MIB,
        "the gate peaked at {} MiB hashing a 512 MiB model",
        peak / MIB
    );
}
