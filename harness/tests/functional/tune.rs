//! `lambda-gate tune` against real images under the real RIE: each memory size in a fresh
//! container with that memory limit and Lambda's CPU share, the table, the JSON and the plot
//! consistent with each other and with the published cost formula, init included; and the
//! Python function, which needs far more memory than the Rust one, is never recommended the
//! size it runs out of memory at.
//!
//! Nothing here asserts a latency: which size meets a target depends on the machine. What is
//! asserted is what memory decides (a size too small for Python's imports runs out of memory;
//! the Rust function fits Lambda's smallest size) and that the recommendation follows from the
//! measurements the report shows.

use crate::support::*;
use serde_json::Value;
use std::path::Path;

const CLASSIFIER: &str = "harness/fixtures/classifier/lambda-gate.toml";
const RUST: &str = "lambda-gate.toml";
const PYTHON: &str = "examples/python-function/lambda-gate.toml";

/// `lambda-gate --config spec tune args... --report-dir <scratch>`: exit code, stdout, and the
/// JSON report.
fn tune(spec: &str, arch: &str, args: &[&str], scratch: &Path) -> (Option<i32>, String, Value) {
    let (code, stdout, stderr) = output(
        cli()
            .args(["--config", spec, "--color", "never", "tune", "--arch", arch])
            .args(args)
            .arg("--report-dir")
            .arg(scratch)
            .env("COLUMNS", "160"),
    );
    assert!(
        code == Some(0) || code == Some(1),
        "tune could not run (exit {code:?}):\n{stdout}\n{stderr}"
    );
    eprintln!("{stdout}");
    let path = scratch.join(format!("tune-{arch}.json"));
    let json = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("no {}: {e}\n{stdout}\n{stderr}", path.display()));
    (code, stdout, serde_json::from_slice(&json).unwrap())
}

fn size(report: &Value, mb: u64) -> &Value {
    report["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["memory_mb"] == mb)
        .unwrap_or_else(|| panic!("no {mb} MB in {report:#}"))
}

fn clean(s: &Value) -> bool {
    s["measured"] == true && s["problems"].as_array().unwrap().is_empty() && s["p99_ms"].is_f64()
}

/// The recommendation follows from the rows: the recommended size ran cleanly, meets the
/// target and is the cheapest that does; without one, no clean size meets the target.
/// Returns the recommended size.
fn recommendation_follows(report: &Value, target: f64) -> Option<u64> {
    let sizes = report["sizes"].as_array().unwrap();
    let meeting: Vec<&Value> = sizes
        .iter()
        .filter(|s| clean(s) && s["p99_ms"].as_f64().unwrap() <= target)
        .collect();
    let recommendation = &report["recommendation"];
    match recommendation["kind"].as_str().unwrap() {
        "size" => {
            let mb = recommendation["memory_mb"].as_u64().unwrap();
            let chosen = size(report, mb);
            assert!(clean(chosen), "recommended a size that failed: {chosen:#}");
            assert!(chosen["p99_ms"].as_f64().unwrap() <= target, "{chosen:#}");
            let cost = chosen["cost_per_million_p50"].as_f64().unwrap();
            for other in &meeting {
                assert!(
                    other["cost_per_million_p50"].as_f64().unwrap() >= cost,
                    "{other:#} is cheaper than the recommended {mb} MB"
                );
            }
            Some(mb)
        }
        "none_meets_target" => {
            assert!(meeting.is_empty(), "sizes meet the target: {meeting:#?}");
            None
        }
        other => panic!("unexpected recommendation {other}: {report:#}"),
    }
}

#[test]
fn tune_measures_each_size_and_its_table_json_and_plot_agree() {
    let _serial = serial();
    let scratch = tempfile::tempdir().unwrap();
    let target = 1000.0;
    let (code, stdout, report) = tune(
        CLASSIFIER,
        "x86_64",
        &[
            "--sizes",
            "256,128",
            "--invocations",
            "15",
            "--latency-p99-ms",
            "1000",
            "--cold-starts-percent",
            "2",
        ],
        scratch.path(),
    );
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["cold_start_rate"], 0.02);
    assert_eq!(report["latency_p99_target_ms"], target);
    let sizes: Vec<u64> = report["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["memory_mb"].as_u64().unwrap())
        .collect();
    assert_eq!(sizes, [128, 256], "ascending, as given");
    let gb_second = report["prices"]["gb_second"].as_f64().unwrap();
    // Lambda's published x86_64 price, us-east-1, first tier (lambda.rs).
    assert_eq!(gb_second, 0.000_016_666_7);
    for s in report["sizes"].as_array().unwrap() {
        let mb = s["memory_mb"].as_u64().unwrap();
        assert_eq!(s["measured"], true, "{s:#}");
        // The container had Lambda's CPU share for the size (below one CPU: never capped).
        let cpus = s["cpus"].as_f64().unwrap();
        assert!((cpus - mb as f64 / 1769.0).abs() < 1e-9, "{s:#}");
        assert_eq!(s["cpus_capped"], false);
        // The small fixture fits both sizes: a cold start with an INIT REPORT, every
        // invocation answered, peak memory measured under the limit.
        assert!(clean(s), "{s:#}");
        assert_eq!(s["invocations"], 15, "{s:#}");
        assert!(s["init_ms"].as_f64().unwrap() > 0.0, "{s:#}");
        let peak = s["peak_memory_bytes"].as_u64().unwrap();
        assert!(peak > 0 && peak < mb * 1024 * 1024, "{s:#}");
        let (p50, p99) = (s["p50_ms"].as_f64().unwrap(), s["p99_ms"].as_f64().unwrap());
        assert!(p50 <= p99, "{s:#}");
        // The cost is the published formula at the p50 latency rounded up to 1 ms, plus the
        // init rounded up to 1 ms, billed for the 2% of invocations that start cold.
        let gb = mb as f64 / 1024.0;
        let init = s["init_ms"].as_f64().unwrap().ceil() / 1000.0;
        let init_cost = 1e6 * 0.02 * gb_second * gb * init;
        let reported_init = s["init_cost_per_million"].as_f64().unwrap();
        assert!((reported_init - init_cost).abs() < 1e-9, "{s:#}");
        let expected = 1e6 * (gb_second * gb * (p50.ceil() / 1000.0) + 0.2e-6) + init_cost;
        let cost = s["cost_per_million_p50"].as_f64().unwrap();
        assert!(
            (cost - expected).abs() < 1e-9,
            "{cost} vs {expected}: {s:#}"
        );
        // The table shows the row.
        assert!(stdout.contains(&format!("{mb} MB")), "{stdout}");
        assert!(stdout.contains(&format!("${cost:.4}")), "{stdout}");
        assert!(stdout.contains(&format!("${reported_init:.4}")), "{stdout}");
    }
    assert!(stdout.contains("init of 2% cold starts"), "{stdout}");
    let recommended = recommendation_follows(&report, target);
    assert_eq!(code, Some(if recommended.is_some() { 0 } else { 1 }));
    match recommended {
        Some(mb) => assert!(
            stdout.contains(&format!("recommended: {mb} MB")),
            "{stdout}"
        ),
        None => assert!(stdout.contains("no size meets the p99 target"), "{stdout}"),
    }
    let svg = std::fs::read_to_string(scratch.path().join("tune-x86_64.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<polyline").count(), 2, "cost and p99 lines");
    for mb in sizes {
        assert!(svg.contains(&format!(">{mb}</text>")), "{mb} on the x axis");
    }
    if let Some(mb) = recommended {
        assert!(svg.contains(&format!("recommended {mb} MB")), "{svg}");
    }
}

#[test]
fn the_python_function_needs_more_memory_than_the_rust_one() {
    let _serial = serial();
    let sizes = ["--sizes", "128,256,1024", "--invocations", "10"];
    let target = ["--latency-p99-ms", "1000"];
    let rust_dir = tempfile::tempdir().unwrap();
    let (_, _, rust) = tune(
        RUST,
        "x86_64",
        &[&sizes[..], &target].concat(),
        rust_dir.path(),
    );
    let python_dir = tempfile::tempdir().unwrap();
    let (_, _, python) = tune(
        PYTHON,
        "x86_64",
        &[&sizes[..], &target].concat(),
        python_dir.path(),
    );
    // Memory decides at 128 MB: the static Rust bootstrap and its model fit Lambda's smallest
    // size with room to spare; Python with catboost and pandas fills it (the kernel holds it at
    // the limit), which Lambda answers with Runtime.OutOfMemory.
    let rust_128 = size(&rust, 128);
    assert_eq!(rust_128["out_of_memory"], false, "{rust_128:#}");
    assert!(
        rust_128["peak_memory_bytes"].as_u64().unwrap() < 64 * 1024 * 1024,
        "{rust_128:#}"
    );
    let python_128 = size(&python, 128);
    assert_eq!(python_128["out_of_memory"], true, "{python_128:#}");
    assert!(!clean(python_128));
    let text = python_128["problems"].to_string();
    assert!(text.contains("Runtime.OutOfMemory"), "{text}");
    // Where both run, Python needs more memory than Rust.
    let peak = |r: &Value| size(r, 1024)["peak_memory_bytes"].as_u64().unwrap();
    assert!(
        peak(&python) > 2 * peak(&rust),
        "python {} vs rust {}",
        peak(&python),
        peak(&rust)
    );
    // Both recommendations follow from their rows; Python's cannot be the size it ran out of
    // memory at. Which size each gets beyond that depends on latencies (Rust's p99 at 0.07 vCPU
    // on a loaded machine can miss even a 1 s target), so it is not asserted.
    let target = 1000.0;
    recommendation_follows(&rust, target);
    let python_choice = recommendation_follows(&python, target);
    assert_ne!(python_choice, Some(128));
    // Init is priced for both, as measured: the same formula at 1% cold starts.
    for report in [&rust, &python] {
        assert_eq!(report["cold_start_rate"], 0.01);
        let gb_second = report["prices"]["gb_second"].as_f64().unwrap();
        for s in report["sizes"].as_array().unwrap() {
            let (Some(init), Some(cost)) =
                (s["init_ms"].as_f64(), s["init_cost_per_million"].as_f64())
            else {
                continue;
            };
            let gb = s["memory_mb"].as_f64().unwrap() / 1024.0;
            let expected = 1e6 * 0.01 * gb_second * gb * init.ceil() / 1000.0;
            assert!((cost - expected).abs() < 1e-9, "{s:#}");
        }
    }
}
