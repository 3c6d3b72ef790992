//! The gate that verifies a Lambda container image before it is pushed.
//!
//! A function is described by its spec file, `lambda-gate.toml` ([`Spec`]). The gate builds
//! the image (or takes one), reads what is really inside it, runs it under AWS's own Runtime
//! Interface Emulator through testcontainers, replays the golden cases and malformed payloads
//! through the spec's contract, and reports each check by its [`CheckId`]. [`verify`] is the
//! whole gate; the `lambda-gate` binary is [`cli::main`].
//!
//! The modules follow the data: the spec (`spec/`, raw TOML and command-line overrides, then
//! one validation) → the image (`image/`: built or taken, read as Lambda reads it) → the
//! runtime (`runtime/`: Docker, the RIE, the function container, a deployed function) → the
//! contract (`contract/`) with its corpora (`golden/`, `corpus/`) → the checks (`checks/`) →
//! the report (`report/`); the commands (`commands/`) drive them, and `lambda.rs` holds
//! Lambda's own numbers and rules.
//!
//! ```no_run
//! use harness::{Spec, VerifyOptions, verify};
//! let spec = Spec::load(&Spec::find(std::path::Path::new("."))?)?;
//! let report = verify(&spec, &VerifyOptions::default())?;
//! println!("{}", report.table());
//! assert!(report.passed());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod arch;
mod checks;
pub mod cli;
mod commands;
mod contract;
mod corpus;
mod digest;
mod environment;
mod golden;
mod image;
mod interrupt;
mod lambda;
mod progress;
mod report;
mod runtime;
mod shell;
mod spec;
mod units;

pub use arch::Arch;
pub use checks::{CheckId, CheckResult, Status};
pub use commands::verify::{VerifyOptions, verify};
pub use commands::{build, start};

pub use commands::Error;

/// Why a stage could not run: the causes [`Error`] wraps, each with its own variants.
pub mod error {
    pub use crate::commands::PushError;
    pub use crate::corpus::CorpusError;
    pub use crate::golden::{GoldenError, RegenError};
    pub use crate::image::{BuildError, ContextError, ImageError};
    pub use crate::report::ReportError;
    pub use crate::runtime::deployed::DeployedError;
    pub use crate::runtime::{ContainerError, DockerError, RieError};
    pub use crate::spec::SpecError;
}

pub use image::{Executable, ImageFacts, inspect_image};
pub use progress::{Progress, Verbosity};
pub use report::Report;
pub use runtime::{FunctionContainer, Invocation, Outcome, Target};
pub use spec::{Overrides, Spec, SpecError};

/// An error and its causes on one line, each said once (some errors, the AWS SDK's among
/// them, repeat their source in their own message).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
