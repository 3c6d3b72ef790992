//! The spec's shell commands (`image.before`, `provenance.compile`, `goldens.regen`) are code
//! from the repository, run like a Makefile's recipes. They run with a minimal environment: a
//! pull request that edits a command must not read the CI job's secrets (`GITHUB_TOKEN`,
//! `AWS_SECRET_ACCESS_KEY`, a registry password) from the gate's environment, which `verify
//! --image` also has. What they get is the few variables a build needs, named below, and the
//! names the spec lists itself in `[commands] pass_env`.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Variables every spec command gets from the gate's environment, when set: where programs,
/// home and scratch space are, the locale and terminal, CI and colour switches, where the Rust
/// toolchain and its build output live, and which Docker engine to use. None holds a secret.
pub(crate) const PASSED_ENV: [&str; 18] = [
    "PATH",
    "HOME",
    "USER",
    "TMPDIR",
    "LANG",
    "LC_ALL",
    "TERM",
    "TZ",
    "CI",
    "NO_COLOR",
    "CARGO_TERM_COLOR",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
];

/// How the spec's commands run: where, and with which of the gate's variables.
#[derive(Clone, Debug)]
pub(crate) struct Shell {
    /// The spec's directory: commands start there.
    pub(crate) root: PathBuf,
    /// `[commands] pass_env`: more variables the spec hands to its commands.
    pub(crate) pass_env: Vec<String>,
}

impl Shell {
    /// `sh -ec command` in the spec's directory, stdin closed, with only [`PASSED_ENV`] and
    /// `pass_env` from the gate's environment; the caller adds the gate's own variables.
    pub(crate) fn command(&self, command: &str) -> Command {
        let mut child = Command::new("sh");
        child
            .arg("-ec")
            .arg(command)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .env_clear();
        let names = PASSED_ENV
            .iter()
            .copied()
            .chain(self.pass_env.iter().map(String::as_str));
        for name in names {
            if let Some(value) = std::env::var_os(name) {
                child.env(name, value);
            }
        }
        child
    }
}

/// Why a `pass_env` entry is not a variable name, if it is not.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!ok).then(|| format!("{name:?} is not a variable name (letters, digits, `_`)"))
}
