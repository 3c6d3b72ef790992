//! The function container's log: both streams in arrival order, with a wait for a line (the
//! RIE's `INIT REPORT` follows the first answer, and logs arrive asynchronously).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use testcontainers::core::logs::LogFrame;

/// Log lines collected from both streams, in arrival order; readers can wait for a line.
#[derive(Clone, Default)]
pub(super) struct LogBuffer(Arc<(Mutex<String>, Condvar)>);

impl LogBuffer {
    /// Appends a frame; returns its lines as stored.
    pub(super) fn push(&self, frame: &LogFrame) -> Vec<String> {
        let (prefix, bytes) = match frame {
            LogFrame::StdOut(b) => ("", b),
            LogFrame::StdErr(b) => ("stderr| ", b),
        };
        let lines: Vec<String> = String::from_utf8_lossy(bytes)
            .lines()
            .map(|line| format!("{prefix}{line}"))
            .collect();
        let (lock, changed) = &*self.0;
        if let Ok(mut log) = lock.lock() {
            for line in &lines {
                log.push_str(line);
                log.push('\n');
            }
        }
        changed.notify_all();
        lines
    }

    pub(super) fn text(&self) -> String {
        self.0.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The first value `find` gets from the log, waiting up to `wait` for it to arrive.
    pub(super) fn wait_for<T>(
        &self,
        wait: Duration,
        find: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let (lock, changed) = &*self.0;
        let deadline = Instant::now() + wait;
        let mut log = lock.lock().ok()?;
        loop {
            if let Some(found) = find(&log) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            log = changed.wait_timeout(log, left).ok()?.0;
        }
    }
}

/// Whether the logs of a fresh container hold both the `INIT REPORT` of its init and the
/// `REPORT` of its first invocation.
pub(super) fn reports_arrived(logs: &str) -> bool {
    let mut lines = logs.lines().map(|l| l.trim_start_matches("stderr| "));
    logs.contains("INIT REPORT(") && lines.any(|l| l.starts_with("REPORT RequestId"))
}

/// `durationMs` of the RIE's `INIT REPORT(durationMs: N)` line.
pub(super) fn init_report(logs: &str) -> Option<Duration> {
    const MARK: &str = "INIT REPORT(durationMs: ";
    logs.lines().find_map(|line| {
        let rest = &line[line.find(MARK)? + MARK.len()..];
        let ms: f64 = rest.split(')').next()?.trim().parse().ok()?;
        Some(Duration::from_secs_f64(ms / 1000.0))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reports_have_arrived_only_when_both_lines_are_there() {
        let init =
            "stderr| 01 Dec 2026 20:34:05,851 [INFO] (rapid) INIT REPORT(durationMs: 116.513000)\n";
        let report = "REPORT RequestId: 1b2c Init Duration: 0.31 ms Duration: 2.01 ms\n";
        assert!(!reports_arrived(""));
        assert!(!reports_arrived(report), "the REPORT alone arrived first");
        assert!(!reports_arrived(init));
        assert!(reports_arrived(&format!("{init}{report}")));
        assert!(reports_arrived(&format!("{report}{init}")));
    }

    #[test]
    fn init_is_read_from_the_init_report_line() {
        let logs = "stderr| 01 Dec 2026 20:34:05,850 [INFO] (rapid) INIT RTDONE(status: success)\n\
                    stderr| 01 Dec 2026 20:34:05,851 [INFO] (rapid) INIT REPORT(durationMs: 116.513000)\n\
                    REPORT RequestId: a\tInit Duration: 0.31 ms\tDuration: 118.37 ms\n";
        assert_eq!(init_report(logs), Some(Duration::from_secs_f64(0.116513)));
        assert_eq!(
            init_report("REPORT RequestId: a\tInit Duration: 0.31 ms"),
            None
        );
    }
}
