//! `cargo run -p bench --release`: measures the Rust service and the Python CatBoost stack side
//! by side on this machine and writes `BENCHMARKS.md`.
//!
//! In-process numbers come from criterion (`catboost-eval/benches/`, `service/benches/`);
//! process-level numbers are repeated runs reported as median and range. Nothing here asserts a timing: it measures and
//! writes down.

mod images;
mod init;
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
    let markdown = run(!args.iter().any(|a| a == "--without-images"))?;
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

/// Requests to the warm handler inside `init-probe` (one record, and 100 records).
const WARM_ONE: usize = 2000;
const WARM_HUNDRED: usize = 200;

fn run(with_images: bool) -> Result<String> {
    let ws = workspace();
    let scratch = tempfile::tempdir()?;

    eprintln!("==> criterion: evaluator throughput, single row and handler latency");
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
        "--bin",
        "catboost-compile",
    ])?;
    let probes = init::build_probes(scratch.path())?;
    let models = init::models(&ws)?;

    let mut md = String::new();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let size = python::size()?;
    writeln!(
        md,
        "# Benchmarks\n\n\
         Regenerate with `cargo run -p bench --release` (it rewrites this file; `--without-images`\n\
         leaves out the image, RIE and gate sections).\n\
         Measured on {} ({cores} cores, shared: only the ratios within one run mean much), Python {}\n\
         with catboost {}. Ratios are Rust over Python for rates and Python over Rust for times and\n\
         sizes, so above 1 means the Rust service is ahead. Times are medians; brackets give the\n\
         range over the runs for processes and the 95% interval of the median for criterion.\n",
        cpu_model(),
        size.python,
        size.catboost_version
    )?;

    // Throughput.
    eprintln!("==> throughput: Python anchor");
    writeln!(
        md,
        "## Evaluator throughput, 100k rows\n\n\
         | model | threads | Rust evaluator | Python, prebuilt `Pool` | ratio | Python `predict_proba` as a handler passes data | ratio |\n|---|---:|---:|---:|---:|---:|---:|"
    )?;
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
        let one = criterion_median(name, "raw_batch_plus_proba")?.rate(THROUGHPUT_ROWS);
        let two = criterion_median(name, "raw_batch_2_threads")?.rate(THROUGHPUT_ROWS);
        let py = python::throughput(&ws.join("golden/bench").join(name))?;
        writeln!(
            md,
            "| {label} | 1 | {} rows/s | {} rows/s | {:.2}x | {} rows/s | {:.2}x |",
            one.rate_text(),
            py.pool.rate_text(),
            one.median / py.pool.median,
            py.as_passed.rate_text(),
            one.median / py.as_passed.median,
        )?;
        writeln!(
            md,
            "| {label} | 2 | {} rows/s | {} rows/s | {:.2}x | | |",
            two.rate_text(),
            py.pool_2_threads.rate_text(),
            two.median / py.pool_2_threads.median,
        )?;
    }
    writeln!(
        md,
        "\nRust: criterion `catboost-eval/benches/evaluator.rs` on the 1,000 sample rows of\n\
         `golden/bench/<model>/` tiled to 100k (`predict_raw_batch` plus the probability per row;\n\
         with two threads each evaluates half the rows); Python: the same rows, the `Pool` built\n\
         once and only `predict_proba(thread_count=1 or 2)` timed, {} runs. The `Pool` leaves\n\
         CatBoost's input conversion (float64 to float32, category hashing) out of its timing,\n\
         which the Rust number includes; the last column is CatBoost fed a numpy array (float\n\
         model) or a DataFrame (categorical model), as a handler would.\n",
        python::THROUGHPUT_REPEATS
    )?;

    // Cold start and memory.
    eprintln!("==> cold start and memory");
    let row = python::golden_row(&ws, scratch.path())?;
    let one_body = init::body(&ws, scratch.path(), 1)?;
    let hundred_body = init::body(&ws, scratch.path(), 100)?;
    writeln!(
        md,
        "## Cold start and memory at init\n\n\
         `init-probe` does what `bootstrap` does at init (load the compiled model, `feature_set.json`\n\
         and `metadata.json`), then answers one golden request; it is built as shipped (static\n\
         musl, x86_64, dlmalloc). Python: a process that imports catboost and pandas, loads the\n\
         model (`model.cbm`) and runs `predict_proba` on one row, as a seed-style Python function\n\
         does at init. {COLD_RUNS} runs each. The Lambda `INIT REPORT` of the images is measured\n\
         by the gate's own benchmark.\n\n\
         | model | compiled model | Rust: `main` to first prediction | Rust: process | Python: process | ratio (process) | Rust peak RSS | memory taken by the load / compiled size | Python peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for m in &models {
        let rust = init::cold(&probes.dlmalloc, &m.compiled_dir, &one_body, COLD_RUNS)?;
        let py = measure::repeat(
            COLD_RUNS,
            python::command()
                .arg(ws.join("bench/anchor.py"))
                .args(["cold", "--model"])
                .arg(&m.cbm)
                .arg("--row")
                .arg(&row.json),
        )?;
        writeln!(
            md,
            "| {} | {} | {} | {} | {} | {:.0}x | {} | {:.2} | {} |",
            m.label,
            stats::mib(m.compiled_bytes as f64),
            rust.first.time_text(),
            rust.wall.time_text(),
            py.wall.time_text(),
            py.wall.median / rust.wall.median,
            stats::mib(rust.peak_rss),
            rust.load_growth / m.compiled_bytes as f64,
            stats::mib(py.max_rss_bytes),
        )?;
    }
    writeln!(
        md,
        "\n\"Memory taken by the load\" is the process's peak RSS after init and the first\n\
         request minus its RSS before the load (`/proc/self/status`), over the compiled file's size.\n"
    )?;

    // Allocator.
    eprintln!("==> allocator");
    writeln!(
        md,
        "## Allocator: musl's own against dlmalloc (`init-probe`, static musl, x86_64)\n\n\
         | measure | musl malloc | dlmalloc | ratio |\n|---|---:|---:|---:|"
    )?;
    for m in &models {
        let a = init::cold(&probes.musl_malloc, &m.compiled_dir, &one_body, COLD_RUNS)?;
        let b = init::cold(&probes.dlmalloc, &m.compiled_dir, &one_body, COLD_RUNS)?;
        writeln!(
            md,
            "| `main` to first prediction, {} | {} | {} | {:.2}x |",
            m.label,
            a.first.time_text(),
            b.first.time_text(),
            a.first.median / b.first.median
        )?;
    }
    let shipped = &models[0];
    for (body, records, warm) in [(&one_body, 1, WARM_ONE), (&hundred_body, 100, WARM_HUNDRED)] {
        let a = init::warm(&probes.musl_malloc, &shipped.compiled_dir, body, warm)?;
        let b = init::warm(&probes.dlmalloc, &shipped.compiled_dir, body, warm)?;
        writeln!(
            md,
            "| warm request of {records} record(s), per record | {} | {} | {:.2}x |",
            stats::time(a.median / records as f64),
            stats::time(b.median / records as f64),
            a.median / b.median
        )?;
    }
    writeln!(md)?;

    // The handler.
    eprintln!("==> handler");
    let events = ws.join("golden/inputs.jsonl");
    let cbm = ws.join("models/artifacts/model.cbm");
    let rust_one = criterion_median("single_row", "handler_one_record")?;
    let rust_hundred = criterion_median("single_row", "handler_100_records")?;
    let py_one = python::handler(&cbm, &events, 1)?;
    let py_hundred = python::handler(&cbm, &events, 100)?;
    let rust_single = criterion_median("single_row", "model_predict")?;
    let py_single = python::single(&cbm, &row.json)?;
    let per = |s: &Summary, n: f64| Summary {
        median: s.median / n,
        low: s.low / n,
        high: s.high / n,
        samples: s.samples,
    };
    writeln!(
        md,
        "## The handler, per record (the shipped model, 300 trees, 35 features)\n\n\
         | request | Rust `Function::handle_json` | Python handler | ratio |\n|---|---:|---:|---:|\n\
         | 1 record | {} | {} | {:.0}x |\n\
         | 100 records | {} | {} | {:.0}x |\n\
         | the model alone, one row, warm | {} (`Model::predict`) | {} (`predict_proba` of one row) | {:.0}x |\n\n\
         Rust: criterion `service/benches/single_row.rs` (JSON in, validation, features, one batched\n\
         prediction, response out; the host's allocator). Python: `bench/anchor.py handler`\n\
         (`json.loads`, `models/features.py` validate + transform per record, one `predict_proba`\n\
         for all records, `json.dumps` of the response).\n",
        rust_one.time_text(),
        py_one.time_text(),
        py_one.median / rust_one.median,
        per(&rust_hundred, 100.0).time_text(),
        per(&py_hundred, 100.0).time_text(),
        py_hundred.median / rust_hundred.median,
        rust_single.time_text(),
        py_single.time_text(),
        py_single.median / rust_single.median,
    )?;
    if !with_images {
        writeln!(
            md,
            "The image, RIE and gate sections are not in this run (`--without-images`).\n"
        )?;
        return Ok(md);
    }
    let memory_text = |b: Option<u64>| {
        b.map_or("not reported (cgroup v2)".to_owned(), |b| {
            stats::mib(b as f64)
        })
    };

    // The two images.
    let pairs = images::pairs(&ws, scratch.path(), &models)?;
    let shipped = pairs.first().context("the shipped model's images")?;
    let (r, p) = (&shipped.rust.numbers, &shipped.python.numbers);
    let python_total = size.site_packages_bytes + size.interpreter_bytes;
    writeln!(
        md,
        "## The two Lambda images of the shipped model, through the same RIE\n\
         \n\
         The Rust function (`Dockerfile`: static bootstrap, compiled model) and the Python\n\
         function (`examples/python-function/`: Debian, Python 3.11, catboost, pandas,\n\
         awslambdaric), both x86_64 (native), each started {} times under the pinned RIE with its\n\
         own spec's settings (1024 MB) and then invoked warm; the same golden events.\n\
         \n\
         | measure | Rust image | Python image | ratio |\n\
         |---|---:|---:|---:|\n\
         | image size (uncompressed) | {} | {} | {:.0}x |\n\
         | init, the RIE's `INIT REPORT` | {} | {} | {:.0}x |\n\
         | first request after the container start (init + one prediction) | {} | {} | {:.0}x |\n\
         | warm, 1 record, p50 / p99 over {} | {} / {} | {} / {} | {:.1}x |\n\
         | warm, 100 records, p50 / p99 over {} | {} / {} | {} / {} | {:.1}x |\n\
         | container peak memory (kernel cgroup) | {} | {} | {:.0}x |\n\
         \n\
         Installed catboost and its dependencies take {} ({} packages), {} with the interpreter\n\
         and standard library. The RIE's `Max Memory Used` is the configured size ({}), not a\n\
         measurement.\n",
        rie::STARTS,
        stats::mib(shipped.rust.size_bytes as f64),
        stats::mib(shipped.python.size_bytes as f64),
        shipped.python.size_bytes as f64 / shipped.rust.size_bytes as f64,
        r.init_duration.time_text(),
        p.init_duration.time_text(),
        p.init_duration.median / r.init_duration.median,
        r.first_request.time_text(),
        p.first_request.time_text(),
        p.first_request.median / r.first_request.median,
        rie::WARM_ONE,
        stats::ms(r.one_record.quantile(0.5)),
        stats::ms(r.one_record.quantile(0.99)),
        stats::ms(p.one_record.quantile(0.5)),
        stats::ms(p.one_record.quantile(0.99)),
        p.one_record.quantile(0.5) / r.one_record.quantile(0.5),
        rie::WARM_HUNDRED,
        stats::ms(r.hundred_records.quantile(0.5)),
        stats::ms(r.hundred_records.quantile(0.99)),
        stats::ms(p.hundred_records.quantile(0.5)),
        stats::ms(p.hundred_records.quantile(0.99)),
        p.hundred_records.quantile(0.5) / r.hundred_records.quantile(0.5),
        memory_text(r.peak_memory),
        memory_text(p.peak_memory),
        p.peak_memory.unwrap_or(0) as f64 / r.peak_memory.unwrap_or(1).max(1) as f64,
        stats::mib(size.site_packages_bytes),
        size.packages.len(),
        stats::mib(python_total),
        r.max_memory_used.as_deref().unwrap_or("not printed"),
    )?;
    writeln!(
        md,
        "## Cold start against model size, both images\n\
         \n\
         `INIT REPORT` of each image with the model built in (median [range] over {} starts).\n\
         \n\
         | model | Rust image | Python image | ratio | Rust, against the shipped model |\n\
         |---|---:|---:|---:|---:|",
        rie::STARTS
    )?;
    for pair in &pairs {
        let (r, p) = (&pair.rust.numbers, &pair.python.numbers);
        writeln!(
            md,
            "| {} | {} | {} | {:.0}x | {:.1}x |",
            pair.model,
            r.init_duration.time_text(),
            p.init_duration.time_text(),
            p.init_duration.median / r.init_duration.median,
            r.init_duration.median / shipped.rust.numbers.init_duration.median,
        )?;
    }
    writeln!(md)?;

    // Gate time.
    eprintln!("==> gate wall time");
    cargo(&[
        "build",
        "--release",
        "-p",
        "lambda-gate",
        "--bin",
        "lambda-gate",
    ])?;
    let gate = target_dir().join("release/lambda-gate");
    writeln!(
        md,
        "## Gate wall time (`lambda-gate verify`, images already built)

| function | architecture | runs | `--jobs 1` | `--jobs 2` | ratio |
|---|---|---:|---:|---:|---:|"
    )?;
    for (function, config, arch, runs) in [
        ("Rust", "lambda-gate.toml", "x86_64", GATE_RUNS),
        ("Rust", "lambda-gate.toml", "arm64", 1),
        (
            "Python",
            "examples/python-function/lambda-gate.toml",
            "x86_64",
            1,
        ),
    ] {
        // Build first, so the timed runs measure the gate and not the compiler.
        let built = Command::new(&gate)
            .current_dir(&ws)
            .args(["-q", "--config", config, "build", "--arch", arch])
            .status()?;
        if !built.success() {
            bail!("lambda-gate build --arch {arch} ({config}) failed");
        }
        let mut times = Vec::new();
        for jobs in ["1", "2"] {
            times.push(measure::repeat(
                runs,
                Command::new(&gate).current_dir(&ws).args([
                    "-q", "--config", config, "verify", "--arch", arch, "--jobs", jobs,
                ]),
            )?);
        }
        writeln!(
            md,
            "| {function} | {arch}{} | {runs} | {} | {} | {:.2}x |",
            if arch == "arm64" { " (qemu)" } else { "" },
            times[0].wall.time_text(),
            times[1].wall.time_text(),
            times[0].wall.median / times[1].wall.median,
        )?;
    }
    Ok(md)
}
