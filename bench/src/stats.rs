//! Medians, ranges and quantiles, and how they are written.

/// A measured quantity: its median and a range around it (min-max over runs, or a confidence
/// interval), in base units (seconds, rows/s, bytes).
#[derive(Clone, Debug)]
pub(crate) struct Summary {
    pub(crate) median: f64,
    pub(crate) low: f64,
    pub(crate) high: f64,
    pub(crate) samples: usize,
}

impl Summary {
    /// Median and min-max of the values.
    pub(crate) fn of(values: &[f64]) -> Summary {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Summary {
            median,
            low: sorted.first().copied().unwrap_or(f64::NAN),
            high: sorted.last().copied().unwrap_or(f64::NAN),
            samples: n,
        }
    }

    /// The rate of `items` per this many seconds (the range flips: a longer time is a lower rate).
    pub(crate) fn rate(&self, items: f64) -> Summary {
        Summary {
            median: items / self.median,
            low: items / self.high,
            high: items / self.low,
            samples: self.samples,
        }
    }

    /// `median [low-high]` as durations.
    pub(crate) fn time_text(&self) -> String {
        format!(
            "{} [{}-{}]",
            time(self.median),
            time(self.low),
            time(self.high)
        )
    }

    /// `median [low-high]` in millions.
    pub(crate) fn rate_text(&self) -> String {
        format!(
            "{:.2} M [{:.2}-{:.2}]",
            self.median / 1e6,
            self.low / 1e6,
            self.high / 1e6
        )
    }
}

/// Raw samples, for quantiles.
pub(crate) struct Samples(pub(crate) Vec<f64>);

impl Samples {
    /// The nearest-rank quantile.
    pub(crate) fn quantile(&self, q: f64) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        if sorted.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }
}

/// A duration in seconds, in the unit that reads best.
pub(crate) fn time(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else if seconds >= 1e-3 {
        format!("{:.1} ms", seconds * 1e3)
    } else if seconds >= 1e-6 {
        format!("{:.2} µs", seconds * 1e6)
    } else {
        format!("{:.0} ns", seconds * 1e9)
    }
}

/// Milliseconds.
pub(crate) fn ms(seconds: f64) -> String {
    format!("{:.2} ms", seconds * 1e3)
}

/// Mebibytes.
pub(crate) fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_ranges_and_quantiles() {
        let s = Summary::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.low, s.high), (2.5, 1.0, 10.0));
        let r = Summary::of(&[2.0]).rate(100.0);
        assert_eq!(r.median, 50.0);
        let q = Samples((1..=100).map(f64::from).collect());
        assert_eq!(q.quantile(0.5), 50.0);
        assert_eq!(q.quantile(0.99), 99.0);
    }
}
