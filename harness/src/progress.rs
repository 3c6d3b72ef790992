//! Live progress on stderr, in the conventions of cargo and cargo-lambda: on a terminal, a
//! spinner with the elapsed time for each long step and a bar with rate and ETA for counted
//! phases, tools' own output (a build) shown above them; elsewhere (CI logs), plain lines, the
//! counted phases at most every few seconds. stdout stays free for results (`build` prints the
//! image reference there as its last line).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Display;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set once a write to stderr failed (its reader went away: `2>&1 | head`): nothing more is
/// written there, and the run goes on to its verdict and exit code.
static STDERR_GONE: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a newline to stderr. Unlike `eprintln!`, which panics (exit 101) when
/// stderr is closed, a failed write only stops what is printed there.
pub(crate) fn eprint_line(line: &str) {
    eprint_text(&format!("{line}\n"));
}

/// Writes `text` to stderr as it is, stopping quietly once stderr is closed.
pub(crate) fn eprint_text(text: &str) {
    if STDERR_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut stderr = std::io::stderr().lock();
    if stderr
        .write_all(text.as_bytes())
        .and_then(|()| stderr.flush())
        .is_err()
    {
        STDERR_GONE.store(true, Ordering::Relaxed);
    }
}

/// How much progress to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// Nothing: only results and errors.
    Quiet,
    /// Steps, counts, and the output of the tools the gate runs.
    Normal,
    /// Also the function container's own log, as it arrives.
    Verbose,
}

/// Off a terminal, a counted phase prints at most this often.
const PLAIN_INTERVAL: Duration = Duration::from_secs(5);

/// Where progress goes. Cloning shares the display.
#[derive(Clone, Debug)]
pub struct Progress {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    verbosity: Verbosity,
    terminal: bool,
    /// Under GitHub Actions (`GITHUB_ACTIONS=true`): each step is a collapsible group of the
    /// log (`::group::` ... `::endgroup::`).
    actions: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The current step: its spinner (on a terminal, turned into a bar by a count), name and
    /// start.
    step: Option<(Option<ProgressBar>, String, Instant)>,
    /// Whether the step's spinner has become a bar.
    counting: bool,
    /// When a plain count line was last printed.
    last_plain: Option<Instant>,
    /// Whether a GitHub Actions log group is open.
    group: bool,
}

/// Whether the gate runs as a GitHub Actions step, whose log reads workflow commands.
pub(crate) fn github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

impl Progress {
    /// Progress on stderr at `verbosity`; spinners and bars when stderr is a terminal.
    pub fn new(verbosity: Verbosity) -> Self {
        Progress {
            inner: Arc::new(Inner {
                verbosity,
                terminal: std::io::stderr().is_terminal(),
                actions: github_actions(),
                state: Mutex::default(),
            }),
        }
    }

    /// Normal progress on stderr.
    pub fn stderr() -> Self {
        Self::new(Verbosity::Normal)
    }

    /// No progress output.
    pub fn silent() -> Self {
        Self::new(Verbosity::Quiet)
    }

    /// Whether only results and errors are shown.
    pub(crate) fn quiet(&self) -> bool {
        self.inner.verbosity == Verbosity::Quiet
    }

    fn shown(&self, at_least: Verbosity) -> bool {
        self.inner.verbosity >= at_least
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a step (ending the previous one).
    pub(crate) fn step(&self, message: impl Display) {
        if !self.shown(Verbosity::Normal) {
            return;
        }
        let mut state = self.state();
        finish_step(&mut state);
        let message = message.to_string();
        let spinner = if self.inner.terminal {
            let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            spinner.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.set_message(message.clone());
            spinner.enable_steady_tick(Duration::from_millis(120));
            Some(spinner)
        } else if self.inner.actions {
            eprint_line(&format!("::group::{message}"));
            state.group = true;
            None
        } else {
            eprint_line(&format!("==> {message}"));
            None
        };
        state.step = Some((spinner, message, Instant::now()));
    }

    /// Ends the current step, if any (on a terminal, it stays as a line with its time).
    pub fn done(&self) {
        finish_step(&mut self.state());
    }

    /// A line of a tool's own output (a build step), shown indented under the current step.
    pub(crate) fn detail(&self, line: &str) {
        if !self.shown(Verbosity::Normal) {
            return;
        }
        self.print(&format!("    {line}"));
    }

    /// A line of the function's own log (shown with `-v`).
    pub(crate) fn log(&self, line: &str) {
        if self.shown(Verbosity::Verbose) {
            self.print(&format!("    | {line}"));
        }
    }

    fn print(&self, line: &str) {
        let state = self.state();
        match state.step.as_ref().and_then(|s| s.0.as_ref()) {
            Some(bar) => bar.println(line),
            None => eprint_line(line),
        }
    }

    /// Reports that `done` of `total` items of `what` are finished. On a terminal the step's
    /// spinner becomes a bar with rate and ETA.
    pub(crate) fn count(&self, what: &str, done: usize, total: usize) {
        if !self.shown(Verbosity::Normal) || total == 0 {
            return;
        }
        let mut state = self.state();
        if self.inner.terminal {
            let counting = state.counting;
            if let Some(bar) = state.step.as_ref().and_then(|s| s.0.as_ref()) {
                if !counting {
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner:.cyan} {msg} [{bar:20.cyan/blue}] {pos}/{len} {rate} ETA {eta}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .with_key(
                            "rate",
                            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                let _ = write!(w, "{:.0}/s", state.per_sec());
                            },
                        )
                        .progress_chars("=> "),
                    );
                    bar.set_message(what.to_owned());
                    bar.set_length(total as u64);
                    bar.reset_eta();
                }
                bar.set_position(done as u64);
            }
            state.counting = true;
        } else {
            let due = state
                .last_plain
                .is_none_or(|at| at.elapsed() >= PLAIN_INTERVAL);
            if done >= total || due {
                eprint_line(&format!("    {what}: {done}/{total}"));
                state.last_plain = Some(Instant::now());
            }
            if done >= total {
                state.last_plain = None;
            }
        }
    }
}

/// How many of a tool's last lines [`Progress::run`] keeps for its failure message.
const TOOL_TAIL: usize = 30;

/// What cargo prints while another build holds its lock: shown even with `-q`, so a wait
/// behind another build is never silence.
const LOCK_WAIT: &str = "Blocking waiting for file lock";

impl Progress {
    /// Runs a tool (`image.before`, `provenance.compile`) as step `what`: on a terminal a
    /// spinner with the elapsed time, the tool's stdout and stderr lines shown above it as they
    /// come (elsewhere plain lines). With `-q` only its lock waits are shown. Returns its exit
    /// status and its last lines, for the message when it fails.
    pub(crate) fn run(
        &self,
        what: impl Display,
        command: &mut std::process::Command,
    ) -> std::io::Result<(std::process::ExitStatus, String)> {
        use std::io::BufRead;
        use std::process::Stdio;
        self.step(what);
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (sender, lines) = std::sync::mpsc::channel::<String>();
        let readers: Vec<_> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|stream| {
            let sender = sender.clone();
            std::thread::spawn(move || {
                let mut reader = std::io::BufReader::new(stream);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                    let text = String::from_utf8_lossy(&line);
                    // A tool's own progress bar redraws with \r: its last state is the line.
                    let text = text.trim_end().rsplit('\r').next().unwrap_or_default();
                    if sender.send(text.to_owned()).is_err() {
                        break;
                    }
                    line.clear();
                }
            })
        })
        .collect();
        drop(sender);
        let mut tail = std::collections::VecDeque::with_capacity(TOOL_TAIL);
        for line in lines {
            if self.shown(Verbosity::Normal) {
                self.detail(&line);
            } else if line.contains(LOCK_WAIT) {
                eprint_line(&line);
            }
            if tail.len() == TOOL_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        for reader in readers {
            let _ = reader.join();
        }
        let status = child.wait()?;
        Ok((status, Vec::from(tail).join("\n")))
    }
}

fn finish_step(state: &mut State) {
    state.counting = false;
    if std::mem::take(&mut state.group) {
        eprint_line("::endgroup::");
    }
    if let Some((spinner, message, started)) = state.step.take()
        && let Some(spinner) = spinner
    {
        spinner.finish_and_clear();
        eprint_line(&format!(
            "{} {message} {}",
            console::style("✓").green(),
            console::style(format!("({:.1}s)", started.elapsed().as_secs_f64())).dim()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::Progress;

    #[test]
    fn a_tool_run_as_a_step_gives_its_status_and_last_lines_from_both_streams() {
        let run = |script: &str| {
            let mut command = std::process::Command::new("sh");
            command.args(["-c", script]);
            Progress::silent().run("a tool", &mut command).unwrap()
        };
        let (status, tail) =
            run("for i in $(seq 1 40); do echo line $i; done; printf 'half\\rwhole\\n'");
        assert!(status.success());
        let lines: Vec<&str> = tail.lines().collect();
        assert_eq!(lines.len(), 30, "{tail}");
        assert_eq!(lines[0], "line 12", "{tail}");
        assert_eq!(
            lines[29], "whole",
            "a redrawn line is its last state: {tail}"
        );
        let (status, tail) = run("echo on stderr >&2; exit 3");
        assert_eq!(status.code(), Some(3));
        assert_eq!(tail, "on stderr");
    }
}
