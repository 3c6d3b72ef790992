//! Cost per million invocations and p99 latency against memory, as SVG. Written by hand: two
//! polylines on a log axis are a few dozen lines, and the plotting crates (plotters and the
//! like) bring font and image stacks for it.

use super::{Recommendation, SizeResult, TuneReport};
use std::fmt::Write as _;

const W: f64 = 760.0;
const H: f64 = 440.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 80.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 70.0;
const PLOT_W: f64 = W - LEFT - RIGHT;
const PLOT_H: f64 = H - TOP - BOTTOM;

/// The plot's scales: memory on a log axis, cost on the left, latency on the right, each
/// scaled to what is drawn (the sizes that ran cleanly, and the target).
struct Frame {
    lo: f64,
    hi: f64,
    max_cost: f64,
    max_ms: f64,
}

impl Frame {
    fn x(&self, mb: u32) -> f64 {
        let log = f64::from(mb).log2();
        if self.hi > self.lo {
            LEFT + (log - self.lo) / (self.hi - self.lo) * PLOT_W
        } else {
            LEFT + PLOT_W / 2.0
        }
    }

    fn y_cost(&self, cost: f64) -> f64 {
        TOP + PLOT_H - cost / self.max_cost * PLOT_H
    }

    fn y_ms(&self, ms: f64) -> f64 {
        TOP + PLOT_H - ms / self.max_ms * PLOT_H
    }
}

impl TuneReport {
    /// Cost per million invocations and p99 latency against memory, as SVG.
    pub(crate) fn svg(&self) -> String {
        let frame = self.frame();
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" font-family=\"sans-serif\" font-size=\"12\">\n\
             <rect width=\"{W}\" height=\"{H}\" fill=\"white\"/>\n\
             <text x=\"{}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{} ({}): cost and p99 latency against memory</text>\n\
             <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{PLOT_W}\" height=\"{PLOT_H}\" fill=\"none\" stroke=\"#888\"/>\n",
            W / 2.0,
            xml(&self.function),
            self.arch
        );
        self.axes(&frame, &mut svg);
        self.marks(&frame, &mut svg);
        self.series(&frame, &mut svg);
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"{:.1}\" fill=\"#1f77b4\">\u{2014} cost per million (p50)</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">- - p99 latency</text>\n</svg>",
            H - 8.0,
            LEFT + 200.0,
            H - 8.0
        );
        svg
    }

    fn frame(&self) -> Frame {
        let logs = || self.sizes.iter().map(|s| f64::from(s.memory_mb).log2());
        let clean = || self.sizes.iter().filter(|s| s.clean());
        Frame {
            lo: logs().fold(f64::MAX, f64::min),
            hi: logs().fold(f64::MIN, f64::max),
            max_cost: clean()
                .filter_map(|s| s.cost_per_million_p50)
                .fold(0.0, f64::max)
                .max(1e-9)
                * 1.15,
            max_ms: clean()
                .filter_map(|s| s.p99_ms)
                .chain(self.latency_p99_target_ms)
                .fold(0.0, f64::max)
                .max(1e-9)
                * 1.15,
        }
    }

    /// The grid with both scales, each size's label (and a mark for a size that failed), and
    /// the axis titles.
    fn axes(&self, frame: &Frame, svg: &mut String) {
        for i in 0..=4 {
            let f = f64::from(i) / 4.0;
            let y = TOP + PLOT_H - f * PLOT_H;
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#1f77b4\">${:.3}</text>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#d62728\">{:.1} ms</text>",
                LEFT + PLOT_W,
                LEFT - 6.0,
                y + 4.0,
                f * frame.max_cost,
                LEFT + PLOT_W + 6.0,
                y + 4.0,
                f * frame.max_ms
            );
        }
        for s in &self.sizes {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                frame.x(s.memory_mb),
                TOP + PLOT_H + 18.0,
                s.memory_mb
            );
            if !s.clean() {
                let what = if s.out_of_memory { "OOM" } else { "failed" };
                let _ = writeln!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#b00\" font-weight=\"bold\">\u{d7} {what}</text>",
                    frame.x(s.memory_mb),
                    TOP + PLOT_H - 8.0
                );
            }
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">memory (MB, log scale)</text>\
             <text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\" fill=\"#1f77b4\">$ per million invocations (billed at p50)</text>\
             <text transform=\"translate({:.1} {:.1}) rotate(90)\" text-anchor=\"middle\" fill=\"#d62728\">p99 latency (ms)</text>",
            LEFT + PLOT_W / 2.0,
            H - 30.0,
            TOP + PLOT_H / 2.0,
            W - 14.0,
            TOP + PLOT_H / 2.0
        );
    }

    /// The latency target and the recommended size.
    fn marks(&self, frame: &Frame, svg: &mut String) {
        if let Some(target) = self.latency_p99_target_ms {
            let y = frame.y_ms(target);
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#d62728\" stroke-dasharray=\"2 4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#d62728\">target p99 {target} ms</text>",
                LEFT + PLOT_W,
                LEFT + PLOT_W - 4.0,
                y - 4.0
            );
        }
        if let Recommendation::Size { memory_mb } = self.recommendation {
            let _ = writeln!(
                svg,
                "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{1:.1}\" stroke=\"#2ca02c\" stroke-width=\"2\"/>\
                 <text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" fill=\"#2ca02c\">recommended {memory_mb} MB</text>",
                frame.x(memory_mb),
                TOP + PLOT_H,
                TOP - 6.0
            );
        }
    }

    /// Cost and p99 of the sizes that ran cleanly, as two polylines with their points.
    fn series(&self, frame: &Frame, svg: &mut String) {
        let series = |value: &dyn Fn(&SizeResult) -> Option<f64>, y: &dyn Fn(f64) -> f64| {
            self.sizes
                .iter()
                .filter(|s| s.clean())
                .filter_map(|s| Some((frame.x(s.memory_mb), y(value(s)?))))
                .collect::<Vec<_>>()
        };
        for (points, color, dash) in [
            (
                series(&|s| s.cost_per_million_p50, &|c| frame.y_cost(c)),
                "#1f77b4",
                "",
            ),
            (
                series(&|s| s.p99_ms, &|m| frame.y_ms(m)),
                "#d62728",
                " stroke-dasharray=\"6 3\"",
            ),
        ] {
            let line: Vec<String> = points
                .iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash}/>",
                line.join(" ")
            );
            for (x, y) in points {
                let _ = writeln!(
                    svg,
                    "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{color}\"/>"
                );
            }
        }
    }
}

/// `text` safe inside SVG text.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::tests::{report_of, size};

    #[test]
    fn the_plot_has_both_series_and_the_recommendation() {
        let sizes = vec![
            size(128, 10.0, 20.0, 3),
            size(512, 40.0, 90.0, 0),
            size(1024, 25.0, 60.0, 0),
        ];
        let report = report_of(sizes);
        let svg = report.svg();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("recommended 512 MB"), "{svg}");
        assert!(svg.contains("\u{d7} OOM"), "{svg}");
        assert!(svg.contains("f&lt;&amp;&gt;"), "{svg}");
        let table = report.render(120, false);
        assert!(table.contains("recommended: 512 MB"), "{table}");
        assert!(table.contains("out of memory"), "{table}");
    }
}
