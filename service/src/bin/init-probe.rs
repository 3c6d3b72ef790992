//! `init-probe`: what `bootstrap` does at init, then the first prediction, timed from the
//! start of `main`, without the Lambda Runtime API, so that `cargo run -p bench --release` can
//! measure cold start and memory of the shipped binary's code path in a plain process (built
//! for the same musl target and with the same allocator).
//!
//! `init-probe MODEL_DIR BODY_FILE [WARM]` prints one JSON object: `main_to_first_prediction_s`,
//! `rss_before_load_bytes` and `peak_rss_after_load_bytes` (from `/proc/self/status`), and with
//! `WARM` > 0 the seconds of each of `WARM` further requests with the same body
//! (`warm_request_s`).

use service::Function;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

fn main() -> ExitCode {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(body)) = (args.first(), args.get(1)) else {
        eprintln!("usage: init-probe MODEL_DIR BODY_FILE [WARM]");
        return ExitCode::FAILURE;
    };
    let warm: usize = args.get(2).and_then(|w| w.parse().ok()).unwrap_or(0);
    let body = match std::fs::read(body) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("init-probe: {body}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let before = status_bytes("VmRSS:");
    let function = match Function::load_compiled(&PathBuf::from(dir)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("init failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = function.handle_json(&body) {
        eprintln!("init-probe: the request failed: {e}");
        return ExitCode::FAILURE;
    }
    let first = started.elapsed().as_secs_f64();
    let peak = status_bytes("VmHWM:");
    let warm_times: Vec<f64> = (0..warm)
        .map(|_| {
            let t = Instant::now();
            let response = function.handle_json(&body);
            let elapsed = t.elapsed().as_secs_f64();
            std::hint::black_box(response).ok();
            elapsed
        })
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "main_to_first_prediction_s": first,
            "rss_before_load_bytes": before,
            "peak_rss_after_load_bytes": peak,
            "warm_request_s": warm_times,
        })
    );
    ExitCode::SUCCESS
}

/// A `/proc/self/status` field in bytes (0 where there is none).
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}
