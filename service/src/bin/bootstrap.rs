//! The Lambda entry point: loads the compiled model once at init, then serves invocations.
//!
//! The model directory comes from `MODEL_DIR` (the image sets `/var/task/model`) and holds
//! `model.compiled` (`catboost-compile` output), `feature_set.json` and `metadata.json`. An
//! init failure is printed and the process exits non-zero, which Lambda reports as
//! `Runtime.ExitError` with this output in the function's log.
//!
//! The handler takes the raw request body: the [`RawBodyLayer`] takes it off the invocation
//! before `lambda_runtime` parses it (which it would do with path tracking, the costliest part
//! of a request, and answer a body that is not JSON with its own unstable error type), and
//! [`Function::handle_json`] parses it once.

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{LambdaEvent, LambdaInvocation, Runtime, service_fn};
use service::{Function, FunctionError};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::task::futures::TaskLocalFuture;

/// musl's allocator maps and unmaps memory for every larger block (about 1,300 mmap/munmap
/// calls while parsing a JSON model), and is slow for the small blocks a request allocates;
/// dlmalloc keeps freed memory for reuse. Pure Rust, so it cross-builds for both musl targets
/// with nothing but rustc (see README, "The allocator").
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

const DEFAULT_MODEL_DIR: &str = "/var/task/model";

tokio::task_local! {
    /// The body of the invocation being handled.
    static BODY: Bytes;
}

/// Moves each invocation's body into [`BODY`] for the handler and gives `lambda_runtime` a
/// `null` to deserialize instead.
struct RawBodyLayer;

impl<S> Layer<S> for RawBodyLayer {
    type Service = RawBody<S>;
    fn layer(&self, inner: S) -> RawBody<S> {
        RawBody(inner)
    }
}

#[derive(Clone)]
struct RawBody<S>(S);

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RawBody<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = TaskLocalFuture<Bytes, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        // The handler's future is polled inside this scope.
        BODY.scope(body, self.0.call(invocation))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // lambda_runtime's own logging, as Lambda's logging controls configure it
    // (AWS_LAMBDA_LOG_LEVEL, AWS_LAMBDA_LOG_FORMAT=JSON), so runtime errors reach CloudWatch.
    lambda_runtime::tracing::init_default_subscriber();
    let model_dir = std::env::var_os("MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR));
    let function = match Function::load_compiled(&model_dir) {
        Ok(function) => function,
        Err(error) => {
            lambda_runtime::tracing::error!("init failed: {error}");
            eprintln!("init failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    let function = Arc::new(function);
    let handler = service_fn(move |_: LambdaEvent<serde::de::IgnoredAny>| {
        let function = Arc::clone(&function);
        async move {
            BODY.try_with(|body| function.handle_json(body))
                .unwrap_or_else(|_| {
                    Err(FunctionError::InvalidPayload {
                        path: ".".to_owned(),
                        message: "no request body".to_owned(),
                    })
                })
        }
    });
    // One request at a time, unless Lambda Managed Instances set AWS_LAMBDA_MAX_CONCURRENCY:
    // then one polling loop per request it may send at once. The function keeps no state
    // between requests, so it needs no lock.
    match Runtime::new(handler)
        .layer(RawBodyLayer)
        .run_concurrent()
        .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("runtime failed: {error}");
            ExitCode::FAILURE
        }
    }
}
