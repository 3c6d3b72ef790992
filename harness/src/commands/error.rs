//! The crate's error: why a command could not run or could not judge (exit 2), as opposed to a
//! failing check (a report that did not pass, exit 1). Each stage keeps its own typed error;
//! this wraps them without restating them, so every cause is said once.

use super::push::PushError;
use crate::arch::Arch;
use crate::corpus::CorpusError;
use crate::golden::{GoldenError, RegenError};
use crate::image::{BuildError, ImageError};
use crate::report::ReportError;
use crate::runtime::deployed::DeployedError;
use crate::runtime::{ContainerError, DockerError, RieError};
use crate::spec::SpecError;

/// Why a command could not run, or could not finish judging.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec file is missing or invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Docker is missing or failed.
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// The image could not be built.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The image could not be read.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The emulator could not be provided.
    #[error(transparent)]
    Rie(#[from] RieError),
    /// The function container could not be started.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// The deployed function could not be reached.
    #[error(transparent)]
    Deployed(#[from] DeployedError),
    /// The golden files are unusable.
    #[error(transparent)]
    Golden(#[from] GoldenError),
    /// The golden review loop failed.
    #[error(transparent)]
    Regen(#[from] RegenError),
    /// The malformed corpus is unusable.
    #[error(transparent)]
    Corpus(#[from] CorpusError),
    /// A report could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The push could not run.
    #[error(transparent)]
    Push(#[from] PushError),
    /// The machine cannot run images of this architecture.
    #[error(
        "this x86_64 machine cannot run {0} containers: no qemu-aarch64 binfmt handler is registered.\n\
         Fix: apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64 \
         (mount binfmt_misc first if /proc/sys/fs/binfmt_misc is empty: mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc), \
         or verify on a native arm64 runner."
    )]
    NoEmulation(Arch),
    /// A local RIE was given with `CI` set and without `--allow-unverified-rie`.
    #[error(
        "CI is set and the emulator is a local binary ({0}), not the pinned, verified one: drop --rie/LAMBDA_GATE_RIE, or pass --allow-unverified-rie if this CI means it"
    )]
    UnverifiedRie(String),
    /// The container or Docker went away during the run (killed from outside, the emulator
    /// died, the engine stopped answering): the image could not be judged.
    #[error("the run could not finish: {0}")]
    Infrastructure(String),
    /// The run's deadline passed in the gate's own work, before the function was started.
    #[error(
        "the run's deadline ({} s, --deadline) passed while the gate was {phase}, before the function was started: nothing was judged; allow more time with --deadline",
        .deadline.as_secs()
    )]
    Deadline {
        /// What the gate was doing.
        phase: &'static str,
        /// The deadline.
        deadline: std::time::Duration,
    },
    /// `init --model` names a file that cannot be read.
    #[error("cannot read the model file {path} (init --model)")]
    Model {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The provenance compile command could not run or failed.
    #[error("provenance.compile {what}")]
    Compile {
        /// What went wrong, with the command.
        what: String,
        /// The I/O error behind it, if any.
        #[source]
        source: Option<std::io::Error>,
    },
}
