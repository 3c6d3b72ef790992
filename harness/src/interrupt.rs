//! Ctrl-C and SIGTERM (CI's cancel-in-progress): one line on stderr naming the signal, then the
//! run ends as the signal says (exit 130 or 143 in a shell). Once function containers may
//! exist, testcontainers' watchdog removes them and then ends the process; before that, nothing
//! needs removing and the process ends at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Set before the first function container starts: from then on the watchdog ends the process.
static CONTAINERS: AtomicBool = AtomicBool::new(false);

/// How long the watchdog may take to remove the containers before the process ends anyway
/// (`docker stop` waits up to 10 s per container).
const CLEANUP_GRACE: Duration = Duration::from_secs(60);

/// Says that function containers are about to start, so a signal is left to the watchdog.
pub(crate) fn containers_starting() {
    CONTAINERS.store(true, Ordering::SeqCst);
}

/// Watches for SIGINT and SIGTERM for the rest of the process (the CLI calls this first thing).
pub(crate) fn watch() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            let containers = CONTAINERS.load(Ordering::SeqCst);
            crate::progress::eprint_line(&if containers {
                format!("lambda-gate: {name} received: stopping; removing the function containers")
            } else {
                format!("lambda-gate: {name} received: stopping")
            });
            if containers {
                std::thread::sleep(CLEANUP_GRACE);
            }
            let _ = signal_hook::low_level::emulate_default_handler(signal);
        }
    });
}
