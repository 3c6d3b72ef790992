//! `cargo run -p bench --release`: measures the Rust service and the Python CatBoost stack side
//! by side on this machine and writes `BENCHMARKS.md`.
//!
//! In-process numbers come from criterion (`service/benches/`); process-level numbers are
//! repeated runs reported as median and range. Nothing here asserts a timing: it measures and
//! writes down.

mod measure;
mod python;
mod rie;
mod stats;

use anyhow::{Context, Result, bail};
use stats::Summary;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Process-level repetitions (cold starts, gate runs use fewer).
const COLD_RUNS: usize = 15;
const GATE_RUNS: usize = 3;
const THROUGHPUT_ROWS: f64 = 100_000.0;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(measure::CHILD_MODE) {
        return measure::child(&args[1..]);
    }
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("BENCHMARKS.md"));
    let markdown = run()?;
    std::fs::write(&out, markdown).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn cargo(args: &[&str]) -> Result<()> {
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(workspace())
        .args(args)
        .status()
        .with_context(|| format!("cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"))
}

/// Criterion's estimate of the median time per iteration, in seconds, with its 95% interval.
fn criterion_median(group: &str, function: &str) -> Result<Summary> {
    let path = target_dir()
        .join("criterion")
        .join(group)
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{} (did the criterion bench run?)", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text)?;
    let median = &v["median"];
    let ns = |x: &serde_json::Value| x.as_f64().unwrap_or(f64::NAN) * 1e-9;
    Ok(Summary {
        median: ns(&median["point_estimate"]),
        low: ns(&median["confidence_interval"]["lower_bound"]),
        high: ns(&median["confidence_interval"]["upper_bound"]),
        samples: 0,
    })
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

fn run() -> Result<String> {
    let ws = workspace();
    let scratch = tempfile::tempdir()?;

    eprintln!("==> criterion: evaluator throughput and single-row latency");
    cargo(&[
        "bench",
        "-p",
        "catboost-eval",
        "--bench",
        "evaluator",
        "--",
        "--noplot",
    ])?;
    cargo(&[
        "bench",
        "-p",
        "service",
        "--bench",
        "single_row",
        "--",
        "--noplot",
    ])?;
    cargo(&[
        "build",
        "--release",
        "-p",
        "catboost-eval",
        "--bin",
        "catboost-predict",
    ])?;
    cargo(&["build", "--release", "-p", "harness"])?;

    let mut md = String::new();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let size = python::size()?;
    writeln!(
        md,
        "# Benchmarks\n\n\
         Regenerate with `cargo run -p bench --release` (7 to 10 minutes here; it rewrites this file).\n\
         Measured on {} ({cores} cores), Python {} with catboost {}. Ratios are Rust over Python for\n\
         rates and Python over Rust for times and sizes, so above 1 means the Rust service is ahead.\n\
         Times are medians; brackets give the range over {COLD_RUNS} runs for processes and the\n\
         95% interval of the median for criterion.\n",
        cpu_model(),
        size.python,
        size.catboost_version
    )?;

    // Throughput.
    eprintln!("==> throughput: Python anchor");
    writeln!(
        md,
        "## Batch throughput, one thread, 100k rows\n\n\
         | model | Rust evaluator | Python `predict_proba(thread_count=1)` | ratio | Python, prebuilt `Pool` | ratio |\n|---|---:|---:|---:|---:|---:|"
    )?;
    let mut behind = Vec::new();
    for (name, label) in [
        (
            "float6_200trees_depth6",
            "6 float features, 200 trees, depth 6",
        ),
        (
            "ctr3_200trees_depth6",
            "3 categorical features (CTRs) + floats, 200 trees, depth 6",
        ),
    ] {
        let rust = criterion_median(name, "raw_batch_plus_proba")?.rate(THROUGHPUT_ROWS);
        let (py, pool) = python::throughput(&ws.join("golden/bench").join(name))?;
        writeln!(
            md,
            "| {label} | {} rows/s | {} rows/s | {:.2}x | {} rows/s | {:.2}x |",
            rust.rate_text(),
            py.rate_text(),
            rust.median / py.median,
            pool.rate_text(),
            rust.median / pool.median
        )?;
        for (anchor, ratio) in [
            ("as a handler calls it", rust.median / py.median),
            ("from a prebuilt Pool", rust.median / pool.median),
        ] {
            if ratio < 1.0 {
                behind.push(format!(
                    "{label}, against `predict_proba` {anchor}: {:.1}% slower",
                    (1.0 - ratio) * 100.0
                ));
            }
        }
    }
    if !behind.is_empty() {
        writeln!(
            md,
            "\nWhere the evaluator is behind in this run: {}. Our evaluator writes one byte per\n\
             border test per row into a block-wide bin matrix that the trees then read (757 bytes\n\
             per row for the float model), so a 256-row block spills out of L1; CatBoost's C++\n\
             evaluator folds each feature's border tests into one bin index per feature (6 bytes per\n\
             row for the float model) and compares that index with each split's threshold. Storing per-feature bin counts\n\
             and comparing thresholds (exact: value > border_k exactly when count > k) would close it.",
            behind.join("; ")
        )?;
    }
    writeln!(
        md,
        "\nRust: criterion `catboost-eval/benches/evaluator.rs` (`predict_raw_batch` plus the probability\n\
         per row) on the 1,000 sample rows of `golden/bench/<model>/` tiled to 100k; Python: the same\n\
         rows, built once as a numpy array (float model) or a DataFrame (categorical model), only\n\
         `predict_proba` timed, {} runs; the `Pool` column leaves CatBoost's input conversion\n\
         (float64 to float32, category hashing) out of the timing, which the Rust number includes.\n",
        python::THROUGHPUT_REPEATS
    )?;

    // Cold start, memory, single row.
    eprintln!("==> cold start and single row");
    let row = python::golden_row(&ws, scratch.path())?;
    let predict = target_dir().join("release/catboost-predict");
    let rust_cold = measure::repeat(
        COLD_RUNS,
        Command::new(&predict)
            .arg("--model")
            .arg(ws.join("models/artifacts/model.json"))
            .arg("--rows")
            .arg(&row.jsonl),
    )?;
    let py_cold = measure::repeat(
        COLD_RUNS,
        python::command()
            .arg(ws.join("bench/anchor.py"))
            .args(["cold", "--model"])
            .arg(ws.join("models/artifacts/model.cbm"))
            .arg("--row")
            .arg(&row.json),
    )?;
    let rust_single = criterion_median("single_row", "model_predict")?;
    let rust_handler = criterion_median("single_row", "handler_one_record")?;
    let py_single = python::single(&ws.join("models/artifacts/model.cbm"), &row.json)?;
    writeln!(
        md,
        "## Cold start, memory and one row (the shipped model, 300 trees, 35 features)\n\n\
         | measure | Rust | Python | ratio |\n|---|---:|---:|---:|\n\
         | process start to first prediction of one row | {} (`catboost-predict`) | {} (import catboost + load + `predict_proba`) | {:.1}x |\n\
         | peak RSS of that process | {} | {} | {:.1}x |\n\
         | one row in process, warm | {} (`Model::predict`) | {} (`predict_proba` of one row) | {:.1}x |\n\
         | one record through the whole handler (JSON in, features, prediction, JSON out) | {} | | |\n",
        rust_cold.wall.time_text(),
        py_cold.wall.time_text(),
        py_cold.wall.median / rust_cold.wall.median,
        stats::mib(rust_cold.max_rss_bytes),
        stats::mib(py_cold.max_rss_bytes),
        py_cold.max_rss_bytes / rust_cold.max_rss_bytes,
        rust_single.time_text(),
        py_single.time_text(),
        py_single.median / rust_single.median,
        rust_handler.time_text(),
    )?;

    // Size.
    let image = harness::build(
        &harness::BuildOptions::new(harness::Arch::X86_64, &ws),
        harness::Progress::stderr(),
    )?;
    let facts = harness::inspect_image(&image.reference)?;
    let python_total = size.site_packages_bytes + size.interpreter_bytes;
    writeln!(
        md,
        "## Size\n\n\
         | what | bytes | ratio |\n|---|---:|---:|\n\
         | the Lambda image (x86_64, uncompressed: bootstrap + model) | {} | |\n\
         | catboost and its dependencies, installed ({} packages) | {} | {:.0}x |\n\
         | the same plus the Python interpreter and standard library | {} | {:.0}x |\n",
        stats::mib(facts.size_bytes() as f64),
        size.packages.len(),
        stats::mib(size.site_packages_bytes),
        size.site_packages_bytes / facts.size_bytes() as f64,
        stats::mib(python_total),
        python_total / facts.size_bytes() as f64,
    )?;

    // Through the RIE.
    eprintln!("==> the x86_64 image under the RIE");
    let r = rie::measure(&image.reference, &facts.entrypoint, &ws)?;
    writeln!(
        md,
        "## Through the Runtime Interface Emulator (x86_64 image, native, {} container starts)\n\n\
         | measure | value |\n|---|---:|\n\
         | first request after container start (process start + model load + one prediction) | {} |\n\
         | RIE `Init Duration` (sandbox setup only; the RIE starts the runtime lazily) | {} |\n\
         | warm invocation, 1 record, p50 / p99 over {} | {} / {} |\n\
         | warm invocation, 100 records, p50 / p99 over {} | {} / {} |\n\
         | container peak memory (kernel cgroup) | {} |\n\
         | RIE `Max Memory Used` | {} (the configured memory size: the RIE does not measure) |\n",
        rie::STARTS,
        r.first_request.time_text(),
        r.init_duration.time_text(),
        rie::WARM_ONE,
        stats::ms(r.one_record.quantile(0.5)),
        stats::ms(r.one_record.quantile(0.99)),
        rie::WARM_HUNDRED,
        stats::ms(r.hundred_records.quantile(0.5)),
        stats::ms(r.hundred_records.quantile(0.99)),
        r.peak_memory
            .map_or("not reported (cgroup v2)".to_owned(), |b| stats::mib(
                b as f64
            )),
        r.max_memory_used.as_deref().unwrap_or("not printed"),
    )?;

    // Gate time.
    eprintln!("==> gate wall time");
    let harness_bin = target_dir().join("release/harness");
    writeln!(
        md,
        "## Gate wall time (`harness verify`, bootstrap already built, {GATE_RUNS} runs)\n\n\
         | architecture | wall time |\n|---|---:|"
    )?;
    for (arch, note) in [("arm64", "under qemu emulation"), ("x86_64", "native")] {
        // Build first, so the timed runs measure the gate and not the compiler.
        let built = Command::new(&harness_bin)
            .current_dir(&ws)
            .args(["build", "--arch", arch])
            .status()?;
        if !built.success() {
            bail!("harness build --arch {arch} failed");
        }
        let runs = measure::repeat(
            GATE_RUNS,
            Command::new(&harness_bin)
                .current_dir(&ws)
                .args(["verify", "--arch", arch]),
        )?;
        writeln!(md, "| {arch} ({note}) | {} |", runs.wall.time_text())?;
    }
    Ok(md)
}
