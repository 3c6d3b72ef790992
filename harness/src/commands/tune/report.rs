//! The tune report: the table at the terminal's width, the recommendation in one sentence,
//! and the JSON and SVG files.

use super::{Recommendation, SizeResult, WARM_UP};
use crate::arch::Arch;
use crate::lambda::{Prices, billed_ms};
use crate::report::{ReportError, fit_line, write_file};
use crate::runtime::RieOrigin;
use crate::units::human_bytes;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Everything a tune run found.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct TuneReport {
    /// The function's name.
    pub(crate) function: String,
    /// Its architecture (the prices are this architecture's).
    pub(crate) arch: Arch,
    /// Whether the image ran under emulation (arm64 on an x86_64 machine): its latencies are
    /// the emulator's, not Lambda's.
    pub(crate) emulated: bool,
    /// The image measured.
    pub(crate) image: String,
    /// Which emulator ran it.
    pub(crate) rie: RieOrigin,
    /// CPUs of the machine (the most a container could be given).
    pub(crate) host_cpus: u32,
    /// Measured invocations per size.
    pub(crate) invocations_per_size: u32,
    /// The latency target, p99 in ms.
    pub(crate) latency_p99_target_ms: Option<f64>,
    /// The prices.
    pub(crate) prices: Prices,
    /// The share of invocations priced as cold starts, each adding its billed init.
    pub(crate) cold_start_rate: f64,
    /// Which latency the cost is billed at (`p50`; `p99` is shown beside it).
    pub(crate) billed_at: &'static str,
    /// One entry per size, ascending.
    pub(crate) sizes: Vec<SizeResult>,
    /// The verdict.
    pub(crate) recommendation: Recommendation,
    /// Wall time of the run, in seconds (build included).
    pub(crate) duration_s: f64,
}

/// Version of the JSON file's layout: raised when a field changes meaning or goes away.
pub(crate) const TUNE_SCHEMA_VERSION: u32 = 1;

#[derive(serde::Serialize)]
struct JsonTune<'a> {
    schema_version: u32,
    #[serde(flatten)]
    report: &'a TuneReport,
}

impl TuneReport {
    /// The recommendation in one sentence.
    pub(crate) fn verdict(&self) -> String {
        let row = |mb: u32| self.sizes.iter().find(|s| s.memory_mb == mb);
        let costs = |s: &SizeResult| {
            let init = match (s.init_cost_per_million, s.init_ms) {
                (Some(cost), Some(init)) => format!(
                    ", of which ${cost:.4} is init ({init:.1} ms -> {} ms at {} cold starts)",
                    billed_ms(init),
                    percent(self.cold_start_rate)
                ),
                _ => String::new(),
            };
            format!(
                "${:.4} per million invocations (billed at p50 {:.1} ms -> {} ms){init}",
                s.cost_per_million_p50.unwrap_or_default(),
                s.p50_ms.unwrap_or_default(),
                billed_ms(s.p50_ms.unwrap_or_default())
            )
        };
        // A size, or none meeting the target, only comes with a target.
        let target = self.latency_p99_target_ms.unwrap_or_default();
        match &self.recommendation {
            Recommendation::Size { memory_mb } => {
                let s = row(*memory_mb);
                format!(
                    "recommended: {memory_mb} MB, the cheapest size without failures whose p99 ({:.1} ms) meets the target of {target} ms: {}",
                    s.and_then(|s| s.p99_ms).unwrap_or_default(),
                    s.map(costs).unwrap_or_default()
                )
            }
            Recommendation::NoneMeetsTarget { fastest_mb } => match fastest_mb {
                Some(mb) => format!(
                    "no size meets the p99 target of {target} ms without failures; the fastest is {mb} MB (p99 {:.1} ms): try larger sizes, or a faster function",
                    row(*mb).and_then(|s| s.p99_ms).unwrap_or_default()
                ),
                None => format!(
                    "no size meets the p99 target of {target} ms: none ran without failures"
                ),
            },
            Recommendation::NoTarget { cheapest_mb } => {
                let cheapest = match cheapest_mb {
                    Some(mb) => format!(
                        "; the cheapest size without failures is {mb} MB: {}",
                        row(*mb).map(costs).unwrap_or_default()
                    ),
                    None => String::new(),
                };
                format!(
                    "no recommendation: no latency target (set tune.latency_p99_ms in the spec or pass --latency-p99-ms){cheapest}"
                )
            }
        }
    }

    /// Whether a latency target was given and no size meets it.
    pub(crate) fn target_missed(&self) -> bool {
        matches!(self.recommendation, Recommendation::NoneMeetsTarget { .. })
    }

    /// The tables at `width` columns (the terminal's), the problems of each failed size, notes
    /// and the recommendation.
    pub(crate) fn render(&self, width: u16, color: bool) -> String {
        let mut out = fit_line(
            &format!(
                "lambda-gate tune: {} ({}{}), image {}",
                self.function,
                self.arch,
                if self.emulated { ", emulated" } else { "" },
                self.image
            ),
            width,
        );
        out.push_str(&fit_line(
            &format!("emulator: {}", self.rie.describe()),
            width,
        ));
        out.push_str(&fit_line(
            &format!(
                "per size: a fresh container with that memory limit and memory/1769 vCPUs, a cold start, {WARM_UP} warm-up invocations, then {} golden cases one per request; latencies are client-side",
                self.invocations_per_size
            ),
            width,
        ));
        let _ = writeln!(out, "{}", self.measured_table(width, color));
        out.push_str(&fit_line(
            &format!(
                "cost per million invocations: ${} per GB-second, ${} per million requests ({}), billed at p50 or p99 rounded up to 1 ms, plus the billed init of {} cold starts",
                self.prices.gb_second,
                cents(self.prices.per_million_requests),
                self.prices.source,
                percent(self.cold_start_rate)
            ),
            width,
        ));
        let _ = writeln!(out, "{}", self.cost_table(width));
        self.notes(&mut out, width);
        out.push('\n');
        out.push_str(&fit_line(&self.verdict(), width));
        out
    }

    /// The notes under the tables: capped CPUs, emulation, each failed size's problems.
    fn notes(&self, out: &mut String, width: u16) {
        if self.sizes.iter().any(|s| s.cpus_capped) {
            out.push_str(&fit_line(
                &format!(
                    "* capped: this machine has {} CPUs, less than Lambda gives these sizes, so their latencies are those of {} vCPUs",
                    self.host_cpus, self.host_cpus
                ),
                width,
            ));
        }
        if self.emulated {
            out.push_str(&fit_line(
                &format!(
                    "note: {} runs under emulation on this machine: latencies (and so costs) are the emulator's, not Lambda's",
                    self.arch
                ),
                width,
            ));
        }
        for s in self.sizes.iter().filter(|s| !s.problems.is_empty()) {
            let _ = writeln!(out, "\n{} MB:", s.memory_mb);
            for p in &s.problems {
                let _ = writeln!(out, "  - {}", p.replace('\n', "\n    "));
            }
        }
    }

    /// What each size showed: init, latencies, peak memory, failures and the verdict. Units
    /// are in the headers so that the table fits 80 columns without splitting a cell.
    fn measured_table(&self, width: u16, color: bool) -> comfy_table::Table {
        use comfy_table::{Cell, Color};
        let recommended = match self.recommendation {
            Recommendation::Size { memory_mb } => Some(memory_mb),
            _ => None,
        };
        let mut table = new_table(width);
        if color {
            table.enforce_styling();
        }
        table.set_header([
            "memory", "init ms", "p50 ms", "p99 ms", "peak", "failures", "verdict",
        ]);
        for s in &self.sizes {
            let verdict = if !s.measured {
                ("not measured", Color::Yellow)
            } else if s.out_of_memory {
                ("out of memory", Color::Red)
            } else if !s.clean() {
                ("failed", Color::Red)
            } else if recommended == Some(s.memory_mb) {
                ("recommended", Color::Green)
            } else {
                match (self.latency_p99_target_ms, s.p99_ms) {
                    (Some(t), Some(p)) if p <= t => ("meets target", Color::Reset),
                    (Some(_), _) => ("over target", Color::Yellow),
                    (None, _) => ("ok", Color::Reset),
                }
            };
            let cell = Cell::new(verdict.0);
            table.add_row(vec![
                Cell::new(format!("{} MB", s.memory_mb)),
                Cell::new(millis(s.init_ms)),
                Cell::new(millis(s.p50_ms)),
                Cell::new(millis(s.p99_ms)),
                Cell::new(s.peak_memory_bytes.map_or("-".to_owned(), human_bytes)),
                Cell::new(s.failures),
                if color { cell.fg(verdict.1) } else { cell },
            ]);
        }
        align_numbers(&mut table, true);
        table
    }

    /// What a million invocations cost at each size, and how much of it is init.
    fn cost_table(&self, width: u16) -> comfy_table::Table {
        use comfy_table::Cell;
        let mut table = new_table(width);
        table.set_header([
            "memory",
            "vCPU",
            "at p50",
            "at p99",
            "of it init",
            "init share",
        ]);
        for s in &self.sizes {
            let share = match (s.init_cost_per_million, s.cost_per_million_p50) {
                (Some(init), Some(total)) if total > 0.0 => percent(init / total),
                _ => "-".to_owned(),
            };
            table.add_row(vec![
                Cell::new(format!("{} MB", s.memory_mb)),
                Cell::new(format!(
                    "{:.2}{}",
                    s.cpus,
                    if s.cpus_capped { "*" } else { "" }
                )),
                Cell::new(dollars(s.cost_per_million_p50)),
                Cell::new(dollars(s.cost_per_million_p99)),
                Cell::new(dollars(s.init_cost_per_million)),
                Cell::new(share),
            ]);
        }
        align_numbers(&mut table, false);
        table
    }

    /// Writes `tune-<arch>.json` and the plot `tune-<arch>.svg` into `dir`.
    pub(crate) fn write_files(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let write = |name: String, contents: &[u8]| write_file(dir, name, contents);
        let json = serde_json::to_vec_pretty(&JsonTune {
            schema_version: TUNE_SCHEMA_VERSION,
            report: self,
        })
        .map_err(ReportError::Json)?;
        Ok(vec![
            write(format!("tune-{}.json", self.arch), &json)?,
            write(format!("tune-{}.svg", self.arch), self.svg().as_bytes())?,
        ])
    }
}

/// A table in the gate's style at `width` columns, plain unless styling is enforced after.
fn new_table(width: u16) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table
        .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
        .set_width(width)
        .force_no_tty();
    table
}

/// Numbers right-aligned; the first column (the size) reads as a word, and so does the last
/// when `word_last` (the verdict).
fn align_numbers(table: &mut comfy_table::Table, word_last: bool) {
    let last = table.column_count().saturating_sub(1);
    for (i, column) in table.column_iter_mut().enumerate() {
        if i > 0 && (i < last || !word_last) {
            column.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
}

/// A latency in ms with one decimal, or `-`.
fn millis(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("{v:.1}"))
}

/// A cost in USD with four decimals, or `-`.
fn dollars(v: Option<f64>) -> String {
    v.map_or("-".to_owned(), |v| format!("${v:.4}"))
}

/// A share (0 to 1) as a percentage: `1%`, `0.5%`, `37.2%`.
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

/// A price as written: at least two decimals ($0.20), more when it has them.
fn cents(usd: f64) -> String {
    if (usd * 100.0).fract() == 0.0 {
        format!("{usd:.2}")
    } else {
        format!("{usd}")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{report_of, size};

    #[test]
    fn at_80_columns_every_column_shows_and_no_cell_is_split() {
        let report = report_of(vec![
            size(128, 10.0, 20.0, 3),
            size(512, 40.0, 90.0, 0),
            size(10_240, 1025.5, 2048.2, 0),
        ]);
        let text = report.render(80, false);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{} columns: {line}\n{text}",
                line.chars().count()
            );
        }
        for header in [
            "init ms",
            "p50 ms",
            "p99 ms",
            "peak",
            "failures",
            "verdict",
            "vCPU",
            "at p50",
            "at p99",
            "of it init",
            "init share",
        ] {
            assert!(text.contains(header), "{header}:\n{text}");
        }
        // Whole cells: the widest size, a verdict, a cost, a peak.
        for cell in ["10240 MB", "out of memory", "recommended", "117.7 MiB"] {
            assert!(text.contains(cell), "{cell}:\n{text}");
        }
        // 912.4 ms of init billed as 913 ms at 1% cold starts, 512 MB: 1e6 x 0.01 x 0.5 GB x
        // 0.913 s x 0.0000166667 $.
        assert!(text.contains("$0.0761"), "{text}");
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("of which $0.0761 is init (912.4 ms -> 913 ms at 1% cold starts)"),
            "{text}"
        );
    }
}
