//! The report on a terminal (or in a CI log): the table at the terminal's width with coloured
//! verdicts, then the details of every failure and the verdict.

use super::Report;
use crate::checks::Status;
use std::fmt::Write as _;

impl Report {
    /// The summary table, 120 columns wide and without colour, followed by the details of
    /// every failure.
    pub fn table(&self) -> String {
        self.render(120, false)
    }

    /// The summary table at `width` columns (the terminal's), verdicts in colour when
    /// `color`, followed by the details of every failure. Below 100 columns the `cases` column
    /// is left out so the details keep room.
    pub fn render(&self, width: u16, color: bool) -> String {
        use comfy_table::{Cell, Color};
        let narrow = width < 100;
        let paint = |text: String, status: Status| {
            let cell = Cell::new(text);
            if !color {
                return cell;
            }
            match status {
                Status::Passed => cell.fg(Color::Green),
                Status::Failed => cell.fg(Color::Red),
                Status::NotJudged => cell.fg(Color::Yellow),
            }
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
        if narrow {
            table.set_header(["check", "result", "time", "detail"]);
        } else {
            table.set_header(["check", "result", "cases", "time", "detail"]);
        }
        for check in &self.checks {
            let mut row = vec![
                Cell::new(check.name),
                paint(check.status.label().to_owned(), check.status),
            ];
            if !narrow {
                row.push(Cell::new(
                    check.cases.map_or("-".to_owned(), |n| n.to_string()),
                ));
            }
            row.push(Cell::new(format!("{:.1}s", check.duration.as_secs_f64())));
            row.push(Cell::new(&check.summary));
            table.add_row(row);
        }
        let mut out = fit_line(
            &format!(
                "Lambda gate: {} ({}), image {}",
                self.function, self.arch, self.image
            ),
            width,
        );
        if let Some(rie) = &self.rie {
            out.push_str(&fit_line(&format!("emulator: {}", rie.describe()), width));
        }
        let _ = writeln!(out, "{table}");
        // Failures with their evidence; a check not judged says why in the table, and the
        // verdict names it, so it gets a block only when it has evidence of its own.
        let blocks = self
            .checks
            .iter()
            .filter(|c| c.status == Status::Failed || !c.details.is_empty() && !c.passed());
        for check in blocks {
            let label = paint_text(check.status.label(), check.status, color);
            let _ = writeln!(out, "\n{label} {}: {}", check.name, check.summary);
            for detail in check.details.iter().take(20) {
                let _ = writeln!(out, "  - {}", detail.replace('\n', "\n    "));
            }
            if check.details.len() > 20 {
                let _ = writeln!(
                    out,
                    "  ... and {} more (see the JSON report)",
                    check.details.len() - 20
                );
            }
        }
        let status = if self.passed() {
            Status::Passed
        } else {
            Status::Failed
        };
        let _ = writeln!(
            out,
            "\n{} ({:.0}s)",
            paint_text(self.verdict(), status, color),
            self.duration.as_secs_f64()
        );
        for line in self.causes() {
            out.push_str(&wrap_words(&line, width, "  ", "    "));
        }
        out.push_str(&self.next_step());
        out
    }

    /// After a pass of an image: its id, which `push --verified-id` needs, and the exact
    /// command that pushes it (pre-wrapped with `\` where it is long; ids stay whole).
    fn next_step(&self) -> String {
        let Some(facts) = self.image_facts.as_ref().filter(|_| self.passed()) else {
            return String::new();
        };
        let push = crate::environment::command(&format!(
            "push --image {} \\\n      --verified-id {} \\\n      --arch {} --to REGISTRY/REPOSITORY[:TAG]",
            self.image, facts.id, self.arch
        ));
        format!("  verified image id: {}\n  next: {push}\n", facts.id)
    }
}

/// `line` and a newline, broken after its commas into indented lines where it is wider than
/// `width` columns, so a header never wraps mid-word (an image reference cut in two reads as
/// two names); a part between commas that is itself too wide is broken between its words.
pub(crate) fn fit_line(line: &str, width: u16) -> String {
    let width = usize::from(width);
    const INDENT: &str = "  ";
    let pieces = line.split_inclusive(", ").flat_map(|piece| {
        let words: Vec<&str> = if INDENT.len() + piece.trim_end().chars().count() > width {
            piece.split_inclusive(' ').collect()
        } else {
            vec![piece]
        };
        words
    });
    let mut out = String::new();
    let mut current = String::new();
    for piece in pieces {
        let wide = current.chars().count() + piece.trim_end().chars().count() > width;
        if !current.trim().is_empty() && wide {
            out.push_str(current.trim_end());
            out.push('\n');
            current = INDENT.to_owned();
        }
        current.push_str(piece);
    }
    out.push_str(current.trim_end());
    out.push('\n');
    out
}

/// `text` broken at spaces into lines of at most `width` columns (a word wider than that stays
/// whole), the first indented by `first`, the rest by `rest`; each line ends with a newline.
pub(crate) fn wrap_words(text: &str, width: u16, first: &str, rest: &str) -> String {
    let width = usize::from(width);
    let mut out = String::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// `text` in the colour of `status` (bold), or plain.
fn paint_text(text: &str, status: Status, color: bool) -> String {
    if !color {
        return text.to_owned();
    }
    let style = console::Style::new().bold().force_styling(true);
    let style = match status {
        Status::Passed => style.green(),
        Status::Failed => style.red(),
        Status::NotJudged => style.yellow(),
    };
    style.apply_to(text).to_string()
}

#[cfg(test)]
mod fit_tests {
    use super::fit_line;
    use crate::report::Report;

    #[test]
    fn a_header_wider_than_the_terminal_breaks_after_its_commas() {
        let line =
            "Lambda gate: loan-grade (x86_64), image loan-grade-service:x86_64-b2c28dcfcf6d20ab";
        assert_eq!(
            fit_line(line, 80),
            "Lambda gate: loan-grade (x86_64),\n  image loan-grade-service:x86_64-b2c28dcfcf6d20ab\n"
        );
        assert_eq!(fit_line(line, 120), format!("{line}\n"));
        // A piece wider than the terminal on its own stays whole.
        assert_eq!(fit_line("a, bbbbbbbbbb", 4), "a,\n  bbbbbbbbbb\n");
        // A part between commas that is too wide breaks between its words.
        assert_eq!(
            fit_line("one two three four, five", 12),
            "one two\n  three\n  four, five\n"
        );
    }

    #[test]
    fn words_wrap_at_spaces_with_their_indents() {
        assert_eq!(
            super::wrap_words("first cause: provenance: the model", 20, "  ", "    "),
            "  first cause:\n    provenance: the\n    model\n"
        );
        assert_eq!(super::wrap_words("short", 20, "  ", "    "), "  short\n");
    }

    #[test]
    fn the_report_fits_an_80_column_terminal() {
        let report = Report {
            arch: crate::arch::Arch::X86_64,
            function: "loan-grade".to_owned(),
            image: "loan-grade-service:x86_64-b2c28dcfcf6d20ab".to_owned(),
            rie: Some(crate::runtime::RieOrigin::Pinned {
                sam_cli_version: "1.170.0",
                sha256: "6b1e686e62ab2baf6b1e686e62ab2baf6b1e686e62ab2baf6b1e686e62ab2baf",
            }),
            model_version: None,
            checks: Vec::new(),
            image_facts: None,
            duration: std::time::Duration::ZERO,
        };
        let text = report.render(80, false);
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "wider than 80 columns: {line:?}"
            );
        }
        assert!(text.contains("image loan-grade-service:x86_64-b2c28dcfcf6d20ab\n"));
    }
}
