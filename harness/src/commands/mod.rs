//! The commands, each a function of a validated spec: `verify` (the gate), `invoke` (one
//! request by hand), `replay` (against a deployed function), `push` (the verified image,
//! proven from the registry) and `tune` (memory sizes). The golden review loop is
//! [`crate::golden`]'s. Every command that runs the function starts it through the shared
//! setup in `setup.rs`.

mod error;
pub(crate) mod init;
pub(crate) mod invoke;
pub(crate) mod push;
pub(crate) mod replay;
mod setup;
pub(crate) mod tune;
pub(crate) mod verify;

use crate::image::ImageSource;
use crate::progress::Progress;
use crate::runtime::FunctionContainer;
use crate::spec::Spec;
pub use error::Error;
pub use push::PushError;
use setup::Run;

/// Builds the spec's image as its `[image]` says (or reuses it when its content tag exists)
/// and returns its reference; `None` when the spec takes an existing image instead.
pub fn build(spec: &Spec, progress: &Progress) -> Result<Option<String>, Error> {
    let ImageSource::Build(build) = &spec.image.source else {
        return Ok(None);
    };
    let run = Run::connect(spec, progress)?;
    let reference = crate::image::build(&run.docker, build, run.arch(), &spec.shell, progress)?;
    progress.done();
    Ok(Some(reference))
}

/// Starts the spec's function as the gate runs it: its image (built or taken) under the pinned
/// emulator (or `LAMBDA_GATE_RIE`), with the spec's Lambda settings, ready for invocations.
/// Dropping it removes the container.
pub fn start(spec: &Spec, progress: &Progress) -> Result<FunctionContainer, Error> {
    let run = Run::connect(spec, progress)?;
    let image = run.image()?;
    let rie = run.rie(None, false)?;
    let container = run.start(&image, &rie, &run.settings(), 1)?.pop();
    progress.done();
    container.ok_or_else(|| Error::Infrastructure("no container was started".to_owned()))
}
