//! The gate that verifies a Lambda container image before it is pushed.
//!
//! It builds the image (or takes one), reads what is really inside it, runs it under AWS's own
//! Runtime Interface Emulator through testcontainers, replays the golden cases and malformed
//! payloads, and reports each check by name. [`verify`] is the whole gate; [`build`] is its
//! first step on its own.
//!
//! ```no_run
//! use harness::{Arch, GateConfig, verify};
//! let report = verify(&GateConfig::new(Arch::Arm64, "."))?;
//! println!("{}", report.table());
//! assert!(report.passed());
//! # Ok::<(), harness::GateError>(())
//! ```

mod arch;
mod checks;
mod container;
mod digest;
mod docker;
mod gate;
mod generated;
mod golden;
mod image;
mod image_build;
mod malformed;
mod progress;
mod regen;
mod report;
mod rie;

pub use arch::{Arch, UnknownArch};
pub use checks::{CheckResult, Status};
pub use container::{ContainerError, FunctionContainer, Invocation, LambdaSettings, Outcome};
pub use docker::DockerError;
pub use gate::{
    DEFAULT_GENERATED_CASES, DEFAULT_MAX_IMAGE_SIZE, DEFAULT_SEED, GateConfig, GateError,
    ImageSource, verify,
};
pub use golden::{GoldenError, GoldenSet, Manifest, REGEN_COMMAND};
pub use image::{
    Executable, ImageError, ImageFacts, ImageFile, Layer, MODEL_DIR_ENV, inspect_image,
};
pub use image_build::{BuildError, BuildOptions, BuiltImage, DEFAULT_REPOSITORY, build};
pub use malformed::{CorpusError, LAMBDA_PAYLOAD_LIMIT};
pub use progress::Progress;
pub use regen::{
    CheckOutcome, FieldChange, GoldenPaths, MODELS_PYTHON_ENV, PENDING_DIR, PYTHON_SETUP,
    RegenError, Review, check as check_goldens, regen as regen_goldens,
};
pub use report::{Report, ReportError};
pub use rie::{PYTHON_ENV, RIE_PATH_ENV, Rie, RieError, RieOrigin, SAM_CLI_VERSION, provision};
