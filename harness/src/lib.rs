//! The gate that verifies a Lambda container image before it is pushed.
//!
//! A function is described by its spec file, `lambda-gate.toml` ([`Spec`]). The gate builds
//! the image (or takes one), reads what is really inside it, runs it under AWS's own Runtime
//! Interface Emulator through testcontainers, replays the golden cases and malformed payloads
//! through the spec's contract, and reports each check by name. [`verify`] is the whole gate;
//! [`build`] is its first step on its own. After it, [`push`] pushes exactly the verified image
//! and proves from the registry what arrived, [`replay`] runs the same function checks against
//! the deployed function through the Lambda Invoke API, and [`tune`] measures the image at
//! several memory sizes and recommends one.
//!
//! ```no_run
//! use harness::{GateConfig, Spec, verify};
//! let spec = Spec::load(&Spec::find(std::path::Path::new("."))?)?;
//! let report = verify(&GateConfig::new(spec))?;
//! println!("{}", report.table());
//! assert!(report.passed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arch;
mod checks;
mod compare;
mod container;
mod context;
mod digest;
mod docker;
mod gate;
mod generated;
mod golden;
mod image;
mod image_build;
mod invocation;
mod invoke;
mod malformed;
mod progress;
mod push;
mod regen;
mod replay;
mod report;
mod review;
mod rie;
mod spec;
mod tune;

pub use arch::{Arch, UnknownArch};
pub use checks::{CheckResult, Status};
pub use container::{
    ContainerError, FunctionContainer, Health, Invocation, LambdaSettings, Outcome, Target,
};
pub use context::ContextError;
pub use docker::DockerError;
pub use gate::{DEFAULT_CHECK_BUDGET, DEFAULT_DEADLINE, GateConfig, GateError, verify};
pub use golden::{GoldenCase, GoldenError, GoldenSet, Manifest};
pub use image::{Executable, ImageError, ImageFacts, ImageFile, Layer, Loader, inspect_image};
pub use image_build::{ARCH_ENV, BuildError, BuiltImage, PLATFORM_ENV, RUST_TARGET_ENV, build};
pub use invocation::set_program;
pub use invoke::{HandInvocation, invoke};
pub use malformed::{CorpusError, LAMBDA_PAYLOAD_LIMIT};
pub use progress::{Progress, Verbosity};
pub use push::{InvalidTarget, PushConfig, PushError, PushReport, PushTarget, push};
pub use regen::{
    CheckOutcome, PENDING_DIR, RegenError, accept as accept_goldens, check as check_goldens,
    regen as regen_goldens, reject as reject_goldens, review as review_goldens,
};
pub use replay::{ReplayConfig, ReplayError, replay};
pub use report::{JSON_SCHEMA_VERSION, Report, ReportError};
pub use review::{CaseChange, FieldChange, Review};
pub use rie::{PYTHON_ENV, RIE_PATH_ENV, Rie, RieError, RieOrigin, SAM_CLI_VERSION, provision};
pub use spec::{
    BatchContract, BuildSpec, Compile, Contract, DEFAULT_GENERATED_CASES, DEFAULT_MAX_IMAGE_SIZE,
    DEFAULT_SEED, ErrorContract, FieldRule, FunctionSpec, GeneratedSpec, GoldenSpec, IdEcho,
    ImageSource, ImageSpec, MalformedSpec, Provenance, SPEC_FILE, Spec, SpecError, Template,
    Tolerance, parse_size,
};
pub use spec::{
    DEFAULT_TUNE_INVOCATIONS, DEFAULT_TUNE_SIZES, MAX_TUNE_INVOCATIONS, TuneSpec, check_tune_sizes,
};
pub use tune::{
    PRICE_GB_SECOND_ARM64, PRICE_GB_SECOND_X86_64, PRICE_PER_MILLION_REQUESTS, PRICES_DATED,
    Prices, Recommendation, SizeResult, TUNE_SCHEMA_VERSION, TuneConfig, TuneReport, tune,
};
