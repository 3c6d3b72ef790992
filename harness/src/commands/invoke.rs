//! `lambda-gate invoke`: one invocation by hand, the `docker run -p 9000:8080` + `curl -d
//! @event.json` step of every Lambda tutorial as one command. The image runs exactly as the
//! gate runs it (the pinned RIE, `ENTRYPOINT` + `CMD`, Lambda's limits), answers one request,
//! and is removed.

use super::setup::Run;
use crate::commands::Error;
use crate::progress::Progress;
use crate::runtime::Invocation;
use crate::spec::Spec;
use std::path::Path;
use std::time::Duration;

/// What one invocation by hand showed.
#[derive(Clone, Debug)]
pub(crate) struct HandInvocation {
    /// The answer.
    pub(crate) invocation: Invocation,
    /// The answer's bytes as the function sent them (empty when there was none).
    pub(crate) answer: Vec<u8>,
    /// The RIE's `INIT REPORT` and `REPORT` lines for it.
    pub(crate) reports: Vec<String>,
}

/// Builds (or takes) the spec's image, starts it under the RIE (`rie`: a local binary instead
/// of the pinned one), sends `body`, and removes the container.
pub(crate) fn invoke(
    spec: &Spec,
    rie: Option<&Path>,
    body: &[u8],
    progress: &Progress,
) -> Result<HandInvocation, Error> {
    let run = Run::connect(spec, progress)?;
    let image = run.image()?;
    let rie = run.rie(rie, false)?;
    let container = run
        .start(&image, &rie, &run.settings(), 1)?
        .pop()
        .ok_or_else(|| Error::Infrastructure("no container was started".to_owned()))?;
    progress.step("invoking");
    let (invocation, answer) = container.invoke_keeping_body(body);
    let reports = container.report_lines(Duration::from_secs(5));
    progress.done();
    Ok(HandInvocation {
        invocation,
        answer,
        reports,
    })
}
