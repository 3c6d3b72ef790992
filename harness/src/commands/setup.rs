//! The setup every command that runs the function shares (`verify`, `invoke`, `tune`, and the
//! inputs `replay` sends), so they cannot drift apart: one Docker client, the spec's image
//! built or taken and resolved to its id once (the tag may move; the id the run saves, runs and
//! reports cannot), its command line, the pinned emulator, the function containers, and the
//! goldens with the malformed corpus.

use crate::arch::Arch;
use crate::commands::Error;
use crate::corpus::{self, MalformedCase};
use crate::golden::GoldenSet;
use crate::image::{self, ImageSource};
use crate::progress::Progress;
use crate::runtime::rie::{self, Rie, RieOrigin};
use crate::runtime::{ContainerError, DockerClient, FunctionContainer, LambdaSettings};
use crate::spec::Spec;
use std::path::Path;

/// What the function is replayed with: its goldens and its malformed corpus.
pub(crate) struct Inputs {
    /// The golden cases.
    pub(crate) golden: GoldenSet,
    /// The generic and own malformed cases, as the spec adapts them.
    pub(crate) corpus: Vec<MalformedCase>,
}

impl Inputs {
    /// Reads the spec's goldens and assembles its malformed corpus, before any slow work.
    pub(crate) fn load(spec: &Spec) -> Result<Self, Error> {
        Ok(Inputs {
            golden: GoldenSet::load(&spec.goldens.dir)?,
            corpus: corpus::malformed(&spec.malformed)?,
        })
    }
}

/// The image of a run.
#[derive(Clone, Debug)]
pub(crate) struct RunImage {
    /// The reference as built or given (`repo:tag`), for people.
    pub(crate) reference: String,
    /// The image id it named when the run began: what is inspected, run and reported.
    pub(crate) id: String,
    /// What Lambda executes: `ENTRYPOINT` followed by `CMD`.
    pub(crate) command: Vec<String>,
}

/// A run of the spec's function on this machine's Docker.
pub(crate) struct Run<'a> {
    pub(crate) spec: &'a Spec,
    pub(crate) docker: DockerClient,
    pub(crate) progress: &'a Progress,
}

impl<'a> Run<'a> {
    /// Connects to Docker (a missing engine is reported once, before any work).
    pub(crate) fn connect(spec: &'a Spec, progress: &'a Progress) -> Result<Self, Error> {
        Ok(Run {
            spec,
            docker: DockerClient::connect()?,
            progress,
        })
    }

    /// The function's architecture.
    pub(crate) fn arch(&self) -> Arch {
        self.spec.function.arch
    }

    /// The spec's image, built as its `[image]` says or taken by reference, after checking
    /// that this machine can run its architecture; resolved to its id once.
    pub(crate) fn image(&self) -> Result<RunImage, Error> {
        check_emulation(self.arch())?;
        let reference = match &self.spec.image.source {
            ImageSource::Build(build) => image::build(
                &self.docker,
                build,
                self.arch(),
                &self.spec.shell,
                self.progress,
            )?,
            ImageSource::Reference(reference) => reference.clone(),
        };
        let inspected = self.docker.inspect(&reference)?;
        let config = inspected.config.unwrap_or_default();
        Ok(RunImage {
            id: inspected.id.unwrap_or_else(|| reference.clone()),
            command: config
                .entrypoint
                .unwrap_or_default()
                .into_iter()
                .chain(config.cmd.unwrap_or_default())
                .collect(),
            reference,
        })
    }

    /// The emulator for the function's architecture: `local` if given, else the pinned build.
    /// With `refuse_local_in_ci`, a local one is refused when `CI` is set: a CI gate runs the
    /// pinned, verified emulator.
    pub(crate) fn rie(&self, local: Option<&Path>, refuse_local_in_ci: bool) -> Result<Rie, Error> {
        let rie = rie::provision(self.arch(), local)?;
        if let RieOrigin::Local { path, .. } = &rie.origin
            && refuse_local_in_ci
            && crate::environment::in_ci()
        {
            return Err(Error::UnverifiedRie(path.display().to_string()));
        }
        Ok(rie)
    }

    /// The Lambda settings of the spec's function.
    pub(crate) fn settings(&self) -> LambdaSettings {
        let function = &self.spec.function;
        LambdaSettings::new(
            &function.name,
            function.timeout,
            function.memory_mb,
            function.environment.clone(),
        )
    }

    /// `count` containers of `image` under `rie` with `settings`, started together; each
    /// serves one request at a time, as a Lambda execution environment does.
    pub(crate) fn start(
        &self,
        image: &RunImage,
        rie: &Rie,
        settings: &LambdaSettings,
        count: usize,
    ) -> Result<Vec<FunctionContainer>, ContainerError> {
        crate::interrupt::containers_starting();
        self.progress.step(format!(
            "starting the function under the RIE ({})",
            self.arch().docker_platform()
        ));
        std::thread::scope(|scope| {
            let starts: Vec<_> = (0..count.max(1))
                .map(|_| {
                    scope.spawn(|| {
                        FunctionContainer::start(
                            &image.id,
                            self.arch(),
                            rie,
                            &image.command,
                            settings,
                            self.progress,
                        )
                    })
                })
                .collect();
            starts
                .into_iter()
                .map(|s| s.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }
}

/// ELF magic + machine of aarch64 binaries as binfmt_misc registers it.
const AARCH64_BINFMT_MAGIC: &str = "7f454c460201010000000000000000000200b700";

/// Fails early, naming the fix, when an arm64 image would run on an x86_64 Linux host whose
/// kernel has no emulator registered. Only judged when the engine is local (no `DOCKER_HOST`
/// or a unix socket) and `binfmt_misc` is readable; otherwise the container start reports it.
fn check_emulation(arch: Arch) -> Result<(), Error> {
    if Some(arch) == Arch::host() || arch != Arch::Arm64 {
        return Ok(());
    }
    let local = std::env::var("DOCKER_HOST").map_or(true, |h| h.starts_with("unix://"));
    let dir = Path::new("/proc/sys/fs/binfmt_misc");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    if !local || !dir.join("status").exists() {
        return Ok(());
    }
    let registered = entries.flatten().any(|entry| {
        std::fs::read_to_string(entry.path()).is_ok_and(|text| {
            text.lines().next() == Some("enabled") && text.contains(AARCH64_BINFMT_MAGIC)
        })
    });
    if registered {
        Ok(())
    } else {
        Err(Error::NoEmulation(arch))
    }
}
