//! One invocation by hand: the `docker run -p 9000:8080` + `curl -d @event.json` step of every
//! Lambda tutorial as one command. The image runs exactly as the gate runs it (the pinned RIE,
//! `ENTRYPOINT` + `CMD`, Lambda's limits), answers one request, and is removed.

use crate::container::{FunctionContainer, Invocation, LambdaSettings, Target};
use crate::docker::DockerClient;
use crate::gate::GateError;
use crate::image_build::spec_image;
use crate::progress::Progress;
use crate::spec::Spec;
use std::path::Path;
use std::time::Duration;

/// What one invocation by hand showed.
#[derive(Clone, Debug)]
pub struct HandInvocation {
    /// The image that ran.
    pub image: String,
    /// The answer.
    pub invocation: Invocation,
    /// The RIE's `INIT REPORT` and `REPORT` lines for it.
    pub reports: Vec<String>,
}

/// Builds (or takes) the spec's image, starts it under the RIE (`rie`: a local binary instead
/// of the pinned one), sends `body`, and removes the container.
pub fn invoke(
    spec: &Spec,
    rie: Option<&Path>,
    body: &[u8],
    progress: &Progress,
) -> Result<HandInvocation, GateError> {
    let arch = spec.function.arch;
    let docker = DockerClient::connect()?;
    let image = spec_image(&docker, spec, arch, progress)?;
    let command = docker.command_line(&image)?;
    let rie = crate::rie::provision(arch, rie)?;
    progress.step(format!(
        "starting {image} under the RIE ({})",
        arch.docker_platform()
    ));
    let settings = LambdaSettings::from_spec(&spec.function);
    let container = FunctionContainer::start(&image, arch, &rie, &command, &settings, progress)
        .map_err(crate::gate::GateError::Start)?;
    progress.step("invoking");
    let invocation = container.invoke(body);
    let reports = container.report_lines(Duration::from_secs(5));
    progress.done();
    Ok(HandInvocation {
        image,
        invocation,
        reports,
    })
}
