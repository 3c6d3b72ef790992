//! The Lambda entry point: loads the model once at init, then serves invocations.
//!
//! The model directory comes from `MODEL_DIR` (the image sets `/var/task/model`). An init
//! failure is printed and the process exits non-zero, which Lambda reports as
//! `Runtime.ExitError` with this output in the function's log.

use lambda_runtime::{LambdaEvent, service_fn};
use service::{Function, Incoming};
use std::path::PathBuf;
use std::process::ExitCode;

const DEFAULT_MODEL_DIR: &str = "/var/task/model";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let model_dir = std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR));
    let function = match Function::load(&model_dir) {
        Ok(function) => function,
        Err(error) => {
            eprintln!("init failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let function = &function;
    let handler =
        service_fn(
            move |event: LambdaEvent<Incoming>| async move { function.handle(event.payload) },
        );
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("runtime failed: {error}");
            ExitCode::FAILURE
        }
    }
}
