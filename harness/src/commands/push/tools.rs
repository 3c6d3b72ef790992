//! The two tools `push` drives: the `docker` CLI pushes, `skopeo` reads back. Both read the
//! credentials `docker login` stored, credential helpers included. Every run is bounded: a
//! registry that stops answering stops the tool, not the push.

use super::PushError;
use crate::progress::Progress;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How often a run whose output has ended is polled for its exit.
const POLL: Duration = Duration::from_millis(20);

/// What a bounded run printed and how it ended.
pub(super) struct Finished {
    pub(super) status: ExitStatus,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: String,
}

/// Runs `command` (shown as `shown` in messages), handing each line of its stdout to
/// `on_line` as it comes, and kills it when it has not finished within `timeout`.
fn run_bounded(
    command: &mut Command,
    shown: &str,
    tool: &'static str,
    hint: &'static str,
    timeout: Duration,
    mut on_line: impl FnMut(&[u8]),
) -> Result<Finished, PushError> {
    let deadline = Instant::now() + timeout;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PushError::Tool { tool, hint, source })?;
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let (lines, received) = mpsc::channel::<Vec<u8>>();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if lines.send(line).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    let timed_out = |mut child: Child| {
        let _ = child.kill();
        let _ = child.wait();
        PushError::Timeout {
            command: shown.to_owned(),
            after: timeout,
        }
    };
    let mut stdout = Vec::new();
    loop {
        match received.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                on_line(&line);
                stdout.extend_from_slice(&line);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => return Err(timed_out(child)),
        }
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            Ok(None) => return Err(timed_out(child)),
            Err(source) => return Err(PushError::Tool { tool, hint, source }),
        }
    };
    let stderr = stderr.and_then(|t| t.join().ok()).unwrap_or_default();
    Ok(Finished {
        status,
        stdout,
        stderr,
    })
}

/// Runs `docker push`, its output shown as progress, and returns the digest it printed
/// (`TAG: digest: sha256:... size: N`). Killed when it has not finished within `timeout`.
pub(super) fn docker_push(
    tagged: &str,
    progress: &Progress,
    timeout: Duration,
) -> Result<String, PushError> {
    let mut digest = None;
    let finished = run_bounded(
        Command::new("docker").args(["push", tagged]),
        &format!("docker push {tagged}"),
        "docker",
        "install the Docker CLI",
        timeout,
        |line| {
            let line = String::from_utf8_lossy(line);
            let line = line.trim_end();
            progress.detail(line);
            digest = digest.take().or_else(|| pushed_digest(line));
        },
    )?;
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&finished.stdout),
        finished.stderr
    );
    if !finished.status.success() {
        return Err(PushError::Push {
            target: tagged.to_owned(),
            status: finished.status,
            output,
        });
    }
    digest.ok_or_else(|| PushError::NoDigest {
        target: tagged.to_owned(),
        output,
    })
}

/// The digest in `docker push`'s last line, `TAG: digest: sha256:<hex> size: N`.
fn pushed_digest(line: &str) -> Option<String> {
    let rest = &line[line.find("digest: sha256:")? + "digest: ".len()..];
    let digest = rest.split_whitespace().next()?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| digest.to_owned())
}

/// `skopeo inspect`, which reads the registry with docker's stored credentials; each call is
/// stopped after `timeout`.
pub(super) struct Skopeo {
    pub(super) insecure: bool,
    pub(super) timeout: Duration,
}

impl Skopeo {
    const HINT: &str =
        "install skopeo (Debian/Ubuntu: apt-get install skopeo, or .ci/install registry)";

    /// Fails unless skopeo runs.
    pub(super) fn version(&self) -> Result<(), PushError> {
        run_bounded(
            Command::new("skopeo").arg("--version"),
            "skopeo --version",
            "skopeo",
            Self::HINT,
            self.timeout,
            |_| {},
        )
        .map(drop)
    }

    /// The raw manifest (`config == false`) or the raw config blob of `reference`.
    pub(super) fn inspect(&self, reference: &str, config: bool) -> Result<Vec<u8>, PushError> {
        let what = if config { "--config --raw" } else { "--raw" };
        let mut command = Command::new("skopeo");
        command.arg("inspect");
        if self.insecure {
            command.arg("--tls-verify=false");
        }
        if config {
            command.arg("--config");
        }
        command.arg("--raw").arg(format!("docker://{reference}"));
        let finished = run_bounded(
            &mut command,
            &format!("skopeo inspect {what} docker://{reference}"),
            "skopeo",
            Self::HINT,
            self.timeout,
            |_| {},
        )?;
        if !finished.status.success() {
            return Err(PushError::Inspect {
                what,
                reference: reference.to_owned(),
                status: finished.status,
                stderr: finished.stderr.trim().to_owned(),
            });
        }
        Ok(finished.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_comes_from_docker_pushs_last_line() {
        let hex = "a".repeat(64);
        assert_eq!(
            pushed_digest(&format!("v1: digest: sha256:{hex} size: 739")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(pushed_digest("5f70bf18a086: Pushed"), None);
        assert_eq!(pushed_digest("v1: digest: sha256:abc size: 1"), None);
    }

    #[test]
    fn a_tool_that_does_not_finish_in_time_is_stopped() {
        let result = run_bounded(
            Command::new("sleep").arg("30"),
            "sleep 30",
            "sleep",
            "coreutils",
            Duration::from_millis(300),
            |_| {},
        );
        assert!(
            matches!(result, Err(PushError::Timeout { .. })),
            "{:?}",
            result.err()
        );
    }

    #[test]
    fn a_tool_that_prints_and_then_hangs_is_stopped_with_what_it_printed_seen() {
        let mut seen = Vec::new();
        let result = run_bounded(
            Command::new("sh").args(["-c", "echo one; exec sleep 30"]),
            "sh",
            "sh",
            "a shell",
            Duration::from_millis(500),
            |line| seen.push(line.to_vec()),
        );
        assert!(matches!(result, Err(PushError::Timeout { .. })));
        assert_eq!(seen, vec![b"one\n".to_vec()]);
    }

    #[test]
    fn a_tool_in_time_gives_its_exact_output() {
        let finished = run_bounded(
            Command::new("sh").args(["-c", "printf 'a\\nb'; echo err >&2; exit 3"]),
            "sh",
            "sh",
            "a shell",
            Duration::from_secs(20),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(finished.stdout, b"a\nb");
        assert_eq!(finished.stderr, "err\n");
        assert_eq!(finished.status.code(), Some(3));
    }
}
