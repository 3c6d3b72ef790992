//! Live progress on stderr, so a user watching a slow emulated run sees which check is running
//! and how far it got. stdout stays free for results (`harness build` prints the image reference
//! there as its last line).

use std::fmt::Display;
use std::io::{IsTerminal, Write};

/// Where progress goes: stderr, or nowhere.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    enabled: bool,
    terminal: bool,
}

impl Progress {
    /// Progress lines on stderr; counters redraw in place on a terminal and are printed every
    /// tenth of the way otherwise (CI logs).
    pub fn stderr() -> Self {
        Progress {
            enabled: true,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// No progress output.
    pub fn silent() -> Self {
        Progress {
            enabled: false,
            terminal: false,
        }
    }

    /// Announces a step.
    pub(crate) fn step(&self, message: impl Display) {
        if self.enabled {
            eprintln!("==> {message}");
        }
    }

    /// A line of a tool's own output (a build step), shown indented under the current step.
    pub(crate) fn detail(&self, line: &str) {
        if self.enabled {
            eprintln!("    {line}");
        }
    }

    /// Reports that `done` of `total` items of `what` are finished.
    pub(crate) fn count(&self, what: &str, done: usize, total: usize) {
        if !self.enabled || total == 0 {
            return;
        }
        if self.terminal {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r    {what}: {done}/{total}");
            if done == total {
                let _ = writeln!(err);
            }
            let _ = err.flush();
        } else {
            let tenth = total.div_ceil(10);
            if done == total || done.is_multiple_of(tenth) {
                eprintln!("    {what}: {done}/{total}");
            }
        }
    }
}

/// A child's stdout that goes to our stderr: tools run by the gate (a build, a compiler) show
/// their output live while stdout stays free for results.
pub(crate) fn stdout_to_stderr() -> std::process::Stdio {
    use std::os::fd::AsFd;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::process::Stdio::from)
        .unwrap_or_else(|_| std::process::Stdio::inherit())
}
