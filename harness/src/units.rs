//! Numbers as people read them, the same in every command and report: sizes in binary units,
//! durations in milliseconds, differences between predictions.

use std::time::Duration;

/// A byte count for people, in binary units (`3.1 MiB`), as `docker images` does not.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A duration in milliseconds, as a number.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of `sorted` latencies in ms (nearest rank); `None` when there are none.
pub(crate) fn quantile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    sorted
        .get(((sorted.len() as f64 - 1.0) * q).round() as usize)
        .map(|d| ms(*d))
}

/// A difference between two predictions as people write it, the same in `verify` and in
/// `golden review`: `1` for a label step, `0.012346`, `3.20e-12` (not `1.2345e-2`).
pub(crate) fn difference(d: f64) -> String {
    if d == d.trunc() && d.abs() < 1e15 {
        format!("{d:.0}")
    } else if d.abs() >= 1e-3 {
        let text = format!("{d:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        format!("{d:.2e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_read_as_people_write_them() {
        assert_eq!(difference(1.0), "1");
        assert_eq!(difference(0.012_345_678), "0.012346");
        assert_eq!(difference(0.149_605_438_027_959_5), "0.149605");
        assert_eq!(difference(3.2e-12), "3.20e-12");
    }

    #[test]
    fn sizes_and_quantiles_read_as_people_expect() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 100 * 1024), "3.1 MiB");
        let sorted: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&sorted, 0.5), Some(51.0));
        assert_eq!(quantile_ms(&sorted, 0.99), Some(99.0));
        assert_eq!(quantile_ms(&[], 0.5), None);
    }
}
