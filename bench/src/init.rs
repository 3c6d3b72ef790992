//! Cold start and memory of the shipped code path: `init-probe` (service's binary doing what
//! `bootstrap` does at init, then one request) built for static musl as shipped, with dlmalloc
//! and with musl's own allocator; and the models it loads, compiled as the image holds them.

use crate::stats::Summary;
use crate::{cargo, target_dir, workspace};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const MUSL: &str = "x86_64-unknown-linux-musl";

/// The two builds of `init-probe`.
pub(crate) struct Probes {
    pub(crate) dlmalloc: PathBuf,
    pub(crate) musl_malloc: PathBuf,
}

pub(crate) fn build_probes(dir: &Path) -> Result<Probes> {
    let built = target_dir().join(MUSL).join("release/init-probe");
    let mut probes = Vec::new();
    for (features, name) in [
        (None, "init-probe-dlmalloc"),
        (Some("system-allocator"), "init-probe-musl-malloc"),
    ] {
        // Built as bootstrap is for the image (fat LTO, one codegen unit).
        let mut args = vec![
            "build",
            "--release",
            "--config",
            ".cargo/lambda-image.toml",
            "--target",
            MUSL,
            "-p",
            "service",
            "--bin",
            "init-probe",
        ];
        if let Some(f) = features {
            args.extend(["--features", f]);
        }
        cargo(&args)?;
        let copy = dir.join(name);
        std::fs::copy(&built, &copy).with_context(|| format!("copying {}", built.display()))?;
        probes.push(copy);
    }
    let musl_malloc = probes.pop().context("two builds")?;
    let dlmalloc = probes.pop().context("two builds")?;
    Ok(Probes {
        dlmalloc,
        musl_malloc,
    })
}

/// A model as the benchmark loads it.
pub(crate) struct BenchModel {
    pub(crate) label: &'static str,
    /// `model.compiled`, `feature_set.json` and `metadata.json`, as in the image.
    pub(crate) compiled_dir: PathBuf,
    /// The CatBoost binary model, for the Python side.
    pub(crate) cbm: PathBuf,
    pub(crate) compiled_bytes: u64,
}

/// The shipped model, and a 2,000-tree depth-8 model trained on the same data and features
/// (categorical features with CTRs), trained once into `target/bench-models/` (deterministic).
pub(crate) fn models(ws: &Path) -> Result<Vec<BenchModel>> {
    let root = target_dir().join("bench-models");
    let big = root.join("loans_2000trees_depth8");
    if !big.join("metadata.json").is_file() {
        eprintln!(
            "==> training the 2,000-tree depth-8 model (once, into {})",
            big.display()
        );
        let status = crate::python::command()
            .arg(ws.join("models/train.py"))
            .arg("--out")
            .arg(&big)
            .args(["--param", "iterations=2000", "--param", "depth=8"])
            .status()?;
        if !status.success() {
            bail!("models/train.py failed");
        }
    }
    let mut out = Vec::new();
    for (label, source, dir) in [
        (
            "shipped (300 trees, depth 6)",
            ws.join("models/artifacts"),
            root.join("shipped"),
        ),
        (
            "2,000 trees, depth 8, same features",
            big.clone(),
            big.clone(),
        ),
    ] {
        std::fs::create_dir_all(&dir)?;
        for file in ["feature_set.json", "metadata.json"] {
            if source != dir {
                std::fs::copy(source.join(file), dir.join(file))?;
            }
        }
        let compiled = dir.join(service::COMPILED_MODEL_FILE);
        let status = Command::new(target_dir().join("release/catboost-compile"))
            .arg("--model")
            .arg(source.join("model.json"))
            .arg("--out")
            .arg(&compiled)
            .status()?;
        if !status.success() {
            bail!("catboost-compile failed on {}", source.display());
        }
        out.push(BenchModel {
            label,
            compiled_bytes: std::fs::metadata(&compiled)?.len(),
            compiled_dir: dir,
            cbm: source.join("model.cbm"),
        });
    }
    Ok(out)
}

/// A request body of the first `n` golden events (cycled), written to `dir`.
pub(crate) fn body(ws: &Path, dir: &Path, n: usize) -> Result<PathBuf> {
    let inputs = std::fs::read_to_string(ws.join("golden/inputs.jsonl"))?;
    let events = inputs
        .lines()
        .cycle()
        .take(n)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["event"].to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let path = dir.join(format!("body-{n}.json"));
    std::fs::write(&path, format!("{{\"records\":[{}]}}", events.join(",")))?;
    Ok(path)
}

#[derive(Deserialize)]
struct ProbeOutput {
    main_to_first_prediction_s: f64,
    rss_before_load_bytes: f64,
    peak_rss_after_load_bytes: f64,
    warm_request_s: Vec<f64>,
}

fn probe(exe: &Path, dir: &Path, body: &Path, warm: usize) -> Result<(ProbeOutput, f64)> {
    let started = Instant::now();
    let out = Command::new(exe)
        .arg(dir)
        .arg(body)
        .arg(warm.to_string())
        .current_dir(workspace())
        .output()?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok((serde_json::from_slice(&out.stdout)?, wall))
}

pub(crate) struct Cold {
    pub(crate) first: Summary,
    pub(crate) wall: Summary,
    pub(crate) peak_rss: f64,
    pub(crate) load_growth: f64,
}

/// `runs` fresh processes: `main` to first prediction, the whole process from outside, peak
/// RSS and the memory the load took (medians).
pub(crate) fn cold(exe: &Path, dir: &Path, body: &Path, runs: usize) -> Result<Cold> {
    let (mut first, mut wall, mut peak, mut growth) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        let (o, w) = probe(exe, dir, body, 0)?;
        first.push(o.main_to_first_prediction_s);
        wall.push(w);
        peak.push(o.peak_rss_after_load_bytes);
        growth.push(o.peak_rss_after_load_bytes - o.rss_before_load_bytes);
    }
    Ok(Cold {
        first: Summary::of(&first),
        wall: Summary::of(&wall),
        peak_rss: Summary::of(&peak).median,
        load_growth: Summary::of(&growth).median,
    })
}

/// Seconds per warm request, `n` requests in one process after init.
pub(crate) fn warm(exe: &Path, dir: &Path, body: &Path, n: usize) -> Result<Summary> {
    let (o, _) = probe(exe, dir, body, n)?;
    Ok(Summary::of(&o.warm_request_s))
}
