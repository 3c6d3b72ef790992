//! Numbers as people read them, the same in every command and report: sizes in binary units,
//! durations in milliseconds.

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

#[cfg(test)]
mod tests {
    use super::*;

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
