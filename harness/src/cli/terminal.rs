//! What the terminal gets: colour on each stream, the table's width, results on stdout (a
//! reader that went away ends them quietly), errors with their causes on stderr.

use super::args::ColorChoice;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// What the terminal gets: colour on stderr and stdout, and the table's width.
pub(super) struct Terminal {
    pub(super) color_out: bool,
    pub(super) color_err: bool,
    pub(super) width: u16,
}

impl Terminal {
    pub(super) fn new(choice: Option<ColorChoice>) -> Self {
        let choice = choice.unwrap_or_else(|| match std::env::var("CARGO_TERM_COLOR").as_deref() {
            Ok("always") => ColorChoice::Always,
            Ok("never") => ColorChoice::Never,
            _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => ColorChoice::Never,
            _ => ColorChoice::Auto,
        });
        let (color_out, color_err) = match choice {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => (
                std::io::stdout().is_terminal(),
                std::io::stderr().is_terminal(),
            ),
        };
        console::set_colors_enabled(color_out);
        console::set_colors_enabled_stderr(color_err);
        let width = console::Term::stdout()
            .size_checked()
            .map(|(_, cols)| cols)
            .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
            .unwrap_or(120)
            .clamp(60, 200);
        Terminal {
            color_out,
            color_err,
            width,
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) ends the output quietly.
pub(super) fn out(text: &str) {
    out_bytes(text.as_bytes());
}

/// Writes bytes to stdout as they are (an answer need not be UTF-8), ending quietly as `out`.
pub(super) fn out_bytes(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(bytes).and_then(|()| stdout.flush());
}

/// The error and its causes, each said once, as cargo prints them.
pub(super) fn report_error(error: &anyhow::Error, color: bool) {
    let label = if color {
        console::style("error:")
            .red()
            .bold()
            .force_styling(true)
            .to_string()
    } else {
        "error:".to_owned()
    };
    let mut text = format!("{label} {error}\n");
    let mut seen = error.to_string();
    let causes: Vec<String> = error
        .chain()
        .skip(1)
        .map(ToString::to_string)
        .filter(|cause| {
            let repeated = seen.contains(cause.as_str());
            seen = cause.clone();
            !repeated
        })
        .collect();
    if !causes.is_empty() {
        text.push_str("\nCaused by:\n");
        for cause in causes {
            text.push_str(&format!("  {}\n", cause.replace('\n', "\n  ")));
        }
    }
    crate::progress::eprint_text(&text);
}

/// Exit 0 when `passed`, else 1 (a check failed).
pub(super) fn exit(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
