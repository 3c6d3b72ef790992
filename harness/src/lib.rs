//! The gate that verifies a Lambda container image before it is pushed.
//!
//! It builds the image (or takes one), reads what is really inside it, runs it under AWS's own
//! Runtime Interface Emulator through testcontainers, replays the golden cases and a corpus of
//! malformed payloads, and reports each check by name.

mod arch;
mod digest;
mod docker;
mod image;
mod image_build;
mod progress;
mod rie;

pub use arch::{Arch, UnknownArch};
pub use docker::DockerError;
pub use image::{Executable, ImageError, ImageFacts, ImageFile, Layer, MODEL_DIR_ENV};
pub use image_build::{BuildError, BuildOptions, BuiltImage, DEFAULT_REPOSITORY, build};
pub use progress::Progress;
pub use rie::{PYTHON_ENV, RIE_PATH_ENV, Rie, RieError, RieOrigin, SAM_CLI_VERSION, provision};
