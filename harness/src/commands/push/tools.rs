//! The two tools `push` drives: the `docker` CLI pushes, `skopeo` reads back. Both read the
//! credentials `docker login` stored, credential helpers included.

use super::PushError;
use crate::progress::Progress;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

/// Runs `docker push`, its output shown as progress, and returns the digest it printed
/// (`TAG: digest: sha256:... size: N`).
pub(super) fn docker_push(tagged: &str, progress: &Progress) -> Result<String, PushError> {
    let mut child = Command::new("docker")
        .args(["push", tagged])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| PushError::Tool {
            tool: "docker",
            hint: "install the Docker CLI",
            source,
        })?;
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    });
    let mut output = String::new();
    let mut digest = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            progress.detail(&line);
            digest = digest.or_else(|| pushed_digest(&line));
            output.push_str(&line);
            output.push('\n');
        }
    }
    let status = child.wait().map_err(|source| PushError::Tool {
        tool: "docker",
        hint: "install the Docker CLI",
        source,
    })?;
    if let Some(text) = stderr.and_then(|t| t.join().ok()) {
        output.push_str(&text);
    }
    if !status.success() {
        return Err(PushError::Push {
            target: tagged.to_owned(),
            status,
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

/// `skopeo inspect`, which reads the registry with docker's stored credentials.
pub(super) struct Skopeo {
    pub(super) insecure: bool,
}

impl Skopeo {
    const HINT: &str =
        "install skopeo (Debian/Ubuntu: apt-get install skopeo, or .ci/install registry)";

    /// Fails unless skopeo runs.
    pub(super) fn version(&self) -> Result<(), PushError> {
        Command::new("skopeo")
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(drop)
            .map_err(|source| PushError::Tool {
                tool: "skopeo",
                hint: Self::HINT,
                source,
            })
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
        let output = command
            .arg("--raw")
            .arg(format!("docker://{reference}"))
            .stdin(Stdio::null())
            .output()
            .map_err(|source| PushError::Tool {
                tool: "skopeo",
                hint: Self::HINT,
                source,
            })?;
        if !output.status.success() {
            return Err(PushError::Inspect {
                what,
                reference: reference.to_owned(),
                status: output.status,
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        Ok(output.stdout)
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
}
