//! How and where the gate was started: the program name, so hints name a command the user can
//! paste, and whether it runs in CI, where nothing is written to the source tree.
//!
//! Installed, the gate is `lambda-gate`; from a checkout it may be `target/debug/lambda-gate` or
//! a library call from a test. Hints say `<program> golden regen`, with `<program>` as the user
//! invoked it, never a hard-coded `cargo run`.

use std::sync::OnceLock;

static PROGRAM: OnceLock<String> = OnceLock::new();

/// Records how the program was invoked (the CLI calls this with `argv[0]` once, first thing).
pub(crate) fn set_program(argv0: &str) {
    let path = std::path::Path::new(argv0);
    // A bare name was found on PATH: show it bare. A path is shown as given.
    let shown = if path.components().count() == 1 {
        argv0.to_owned()
    } else {
        path.strip_prefix(std::env::current_dir().unwrap_or_default())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| argv0.to_owned())
    };
    let _ = PROGRAM.set(shown);
}

/// `<program> <args>`: a command line for hints.
pub(crate) fn command(args: &str) -> String {
    let program = PROGRAM.get().map_or("lambda-gate", String::as_str);
    format!("{program} {args}")
}

/// Whether `CI` is set (as insta reads it): the golden commands write nothing then, and a
/// local emulator is refused.
pub(crate) fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}
