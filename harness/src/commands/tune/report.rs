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
            format!(
                "${:.4} per million invocations (billed at p50 {:.1} ms -> {} ms)",
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

    /// The table at `width` columns (the terminal's), the problems of each failed size, notes
    /// and the recommendation.
    pub(crate) fn render(&self, width: u16, color: bool) -> String {
        let table = self.table(width, color);
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
        let _ = writeln!(
            out,
            "per size: a fresh container with that memory limit and memory/1769 vCPUs, a cold start, {WARM_UP} warm-up invocations, then {} golden cases one per request; latencies are client-side",
            self.invocations_per_size
        );
        let _ = writeln!(
            out,
            "prices: ${} per GB-second, ${} per million requests ({}); cost billed at p50, rounded up to 1 ms",
            self.prices.gb_second,
            cents(self.prices.per_million_requests),
            self.prices.source
        );
        let _ = writeln!(out, "{table}");
        if self.sizes.iter().any(|s| s.cpus_capped) {
            let _ = writeln!(
                out,
                "* capped: this machine has {} CPUs, less than Lambda gives these sizes, so their latencies are those of {} vCPUs",
                self.host_cpus, self.host_cpus
            );
        }
        if self.emulated {
            let _ = writeln!(
                out,
                "note: {} runs under emulation on this machine: latencies (and so costs) are the emulator's, not Lambda's",
                self.arch
            );
        }
        for s in self.sizes.iter().filter(|s| !s.problems.is_empty()) {
            let _ = writeln!(out, "\n{} MB:", s.memory_mb);
            for p in &s.problems {
                let _ = writeln!(out, "  - {}", p.replace('\n', "\n    "));
            }
        }
        let _ = writeln!(out, "\n{}", self.verdict());
        out
    }

    /// One row per size at `width` columns; below 110 columns the vCPU and p99-cost columns
    /// are left out.
    fn table(&self, width: u16, color: bool) -> comfy_table::Table {
        use comfy_table::{Cell, CellAlignment, Color};
        let narrow = width < 110;
        let recommended = match self.recommendation {
            Recommendation::Size { memory_mb } => Some(memory_mb),
            _ => None,
        };
        let mut table = comfy_table::Table::new();
        table
            .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
            .set_width(width);
        if color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        let mut header = vec!["memory"];
        if !narrow {
            header.push("vCPU");
        }
        header.extend([
            "init",
            "p50",
            "p99",
            "peak memory",
            "failures",
            "$/1M (p50)",
        ]);
        if !narrow {
            header.push("$/1M (p99)");
        }
        header.push("verdict");
        table.set_header(header);
        let opt =
            |v: Option<f64>, unit: &str| v.map_or("-".to_owned(), |v| format!("{v:.1}{unit}"));
        for s in &self.sizes {
            let verdict = if !s.measured {
                ("not measured".to_owned(), Color::Yellow)
            } else if s.out_of_memory {
                ("out of memory".to_owned(), Color::Red)
            } else if !s.clean() {
                ("failed".to_owned(), Color::Red)
            } else if recommended == Some(s.memory_mb) {
                ("recommended".to_owned(), Color::Green)
            } else {
                match (self.latency_p99_target_ms, s.p99_ms) {
                    (Some(t), Some(p)) if p <= t => ("meets target".to_owned(), Color::Reset),
                    (Some(_), _) => ("over target".to_owned(), Color::Yellow),
                    (None, _) => ("ok".to_owned(), Color::Reset),
                }
            };
            let mut row = vec![Cell::new(format!("{} MB", s.memory_mb))];
            if !narrow {
                row.push(Cell::new(format!(
                    "{:.2}{}",
                    s.cpus,
                    if s.cpus_capped { "*" } else { "" }
                )));
            }
            row.extend([
                Cell::new(opt(s.init_ms, " ms")),
                Cell::new(opt(s.p50_ms, " ms")),
                Cell::new(opt(s.p99_ms, " ms")),
                Cell::new(s.peak_memory_bytes.map_or("-".to_owned(), human_bytes)),
                Cell::new(s.failures),
                Cell::new(
                    s.cost_per_million_p50
                        .map_or("-".to_owned(), |c| format!("${c:.4}")),
                ),
            ]);
            if !narrow {
                row.push(Cell::new(
                    s.cost_per_million_p99
                        .map_or("-".to_owned(), |c| format!("${c:.4}")),
                ));
            }
            let cell = Cell::new(verdict.0);
            row.push(if color { cell.fg(verdict.1) } else { cell });
            table.add_row(row);
        }
        // Numbers right-aligned; the size and the verdict read as words.
        let last = table.column_count().saturating_sub(1);
        for (i, column) in table.column_iter_mut().enumerate() {
            if i > 0 && i < last {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
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

/// A price as written: at least two decimals ($0.20), more when it has them.
fn cents(usd: f64) -> String {
    if (usd * 100.0).fract() == 0.0 {
        format!("{usd:.2}")
    } else {
        format!("{usd}")
    }
}
