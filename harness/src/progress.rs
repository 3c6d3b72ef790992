//! Live progress on stderr, in the conventions of cargo and cargo-lambda: on a terminal, a
//! spinner with the elapsed time for each long step and a bar with rate and ETA for counted
//! phases, tools' own output (a build) shown above them; elsewhere (CI logs), plain lines, the
//! counted phases at most every few seconds. stdout stays free for results (`build` prints the
//! image reference there as its last line).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Display;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
}

impl Progress {
    /// Progress on stderr at `verbosity`; spinners and bars when stderr is a terminal.
    pub fn new(verbosity: Verbosity) -> Self {
        Progress {
            inner: Arc::new(Inner {
                verbosity,
                terminal: std::io::stderr().is_terminal(),
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
        } else {
            eprintln!("==> {message}");
            None
        };
        state.step = Some((spinner, message, Instant::now()));
    }

    /// Starts a step whose tool prints its own progress (a compiler): a heading, no spinner to
    /// fight over the terminal with it.
    pub(crate) fn heading(&self, message: impl Display) {
        if !self.shown(Verbosity::Normal) {
            return;
        }
        let mut state = self.state();
        finish_step(&mut state);
        eprintln!("{} {message}", console::style("==>").cyan().bold());
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
            None => eprintln!("{line}"),
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
                eprintln!("    {what}: {done}/{total}");
                state.last_plain = Some(Instant::now());
            }
            if done >= total {
                state.last_plain = None;
            }
        }
    }
}

fn finish_step(state: &mut State) {
    state.counting = false;
    if let Some((spinner, message, started)) = state.step.take()
        && let Some(spinner) = spinner
    {
        spinner.finish_and_clear();
        eprintln!(
            "{} {message} {}",
            console::style("✓").green(),
            console::style(format!("({:.1}s)", started.elapsed().as_secs_f64())).dim()
        );
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
