//! `golden review` on a terminal, the way `cargo insta review` goes through snapshots: one case
//! at a time, its fields old against new in colour with the difference and the spec's
//! tolerance, and a key per decision (accept, reject, skip). Each decision is recorded as it is
//! taken, so quitting or Ctrl-C keeps the ones made. A case taller than the terminal goes
//! through the pager first (`LAMBDA_GATE_PAGER`, `PAGER`, or `less -R`), as `git` does.

use super::terminal::out;
use crate::contract::{FieldRule, comparison_at};
use crate::golden::{ChangeKind, Decision, Decisions, Loop, Review, cut, show};
use console::{Key, Term, style};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};

/// Whether `golden review` can ask: both standard input and output are a terminal.
pub(super) fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// How the review ended.
pub(super) struct Tally {
    pub(super) accepted: usize,
    pub(super) rejected: usize,
    pub(super) undecided: usize,
    /// Ended by Ctrl-C (exit 130, as a shell says for SIGINT), the decisions so far kept.
    pub(super) interrupted: bool,
}

/// Asks for a decision on every case of `review` not decided by an earlier review of the same
/// pending files, and records each one.
pub(super) fn decide(review: &Review, spec: Loop<'_>, width: usize) -> anyhow::Result<Tally> {
    let mut decisions = Decisions::start(spec)?;
    // Accepted and rejected cases stay decided (a review cut short resumes at the first case
    // not decided); skipped ones are asked again.
    let open: Vec<_> = review
        .cases()
        .filter(|c| {
            !matches!(
                decisions.get(&c.case_id),
                Some(Decision::Accept | Decision::Reject)
            )
        })
        .collect();
    let term = Term::stdout();
    let height = usize::from(term.size().0).max(10);
    let mut rest_accepted = false;
    let mut interrupted = false;
    for (i, case) in open.iter().enumerate() {
        if rest_accepted {
            decisions.decide(&case.case_id, Decision::Accept)?;
            continue;
        }
        let text = render_case(case, spec.rules, i + 1, open.len(), width);
        if text.lines().count() + 2 > height {
            page(&text);
        } else {
            out(&text);
        }
        let decision = loop {
            out(&prompt());
            // Raw, so Ctrl-C is a key here: the review ends as quitting does, with the
            // decisions kept, instead of racing the signal handler to an error.
            let key = term.read_key_raw()?;
            let (word, decision) = match key {
                Key::Char('a') | Key::Enter => ("accept", Some(Decision::Accept)),
                Key::Char('r') => ("reject", Some(Decision::Reject)),
                Key::Char('s' | ' ') => ("skip", Some(Decision::Skip)),
                Key::Char('A') => {
                    rest_accepted = true;
                    ("accept this and the rest", Some(Decision::Accept))
                }
                Key::Char('q') | Key::Escape => ("quit", None),
                Key::CtrlC => {
                    interrupted = true;
                    ("interrupted", None)
                }
                Key::Char('v') => {
                    out("pager\n");
                    page(&text);
                    continue;
                }
                _ => {
                    out(
                        "\n  a accept, r reject, s skip, A accept this and the rest, q quit, v view in the pager\n",
                    );
                    continue;
                }
            };
            out(&format!("{word}\n"));
            break decision;
        };
        match decision {
            Some(decision) => decisions.decide(&case.case_id, decision)?,
            None => break,
        }
    }
    let accepted = decisions.count(Decision::Accept);
    let rejected = decisions.count(Decision::Reject);
    Ok(Tally {
        accepted,
        rejected,
        undecided: review.cases().count() - accepted - rejected,
        interrupted,
    })
}

impl Tally {
    /// What was decided and what comes next.
    pub(super) fn render(&self) -> String {
        let mut text = format!(
            "\ndecided: {} accepted, {} rejected; {} undecided",
            self.accepted, self.rejected, self.undecided
        );
        if self.accepted > 0 {
            let _ = write!(
                text,
                "\nnext: `{}` promotes the {} accepted case(s)",
                crate::environment::command("golden accept"),
                self.accepted
            );
        } else {
            let _ = write!(
                text,
                "\nnothing accepted: `{}` drops the pending goldens",
                crate::environment::command("golden reject")
            );
        }
        text.push('\n');
        text
    }
}

fn prompt() -> String {
    format!(
        "{} accept  {} reject  {} skip  {} accept the rest  {} quit  {} pager > ",
        style("a").green().bold(),
        style("r").red().bold(),
        style("s").yellow().bold(),
        style("A").green().bold(),
        style("q").bold(),
        style("v").bold(),
    )
}

/// One case: a heading, then each field old (red) and new (green), with the difference and how
/// the spec compares it.
fn render_case(
    case: &crate::golden::CaseChange,
    rules: &[FieldRule],
    n: usize,
    of: usize,
    width: usize,
) -> String {
    let mut marks = vec![case.kind.word()];
    if case.flipped {
        marks.push("prediction flipped");
    }
    if case.outside_tolerance {
        marks.push("outside tolerance");
    }
    let mut text = format!(
        "\n{} {} ({})\n",
        style(format!("[{n}/{of}]")).dim(),
        style(&case.case_id).bold(),
        marks.join(", ")
    );
    for field in &case.fields {
        let how = field
            .field
            .strip_prefix("/prediction")
            .map(|place| comparison_at(place, rules));
        let mut note = Vec::new();
        if let Some(d) = field.difference {
            note.push(format!("|diff| {}", crate::units::difference(d)));
        }
        note.extend(how);
        let _ = writeln!(text, "  {}", style(&field.field).cyan());
        if case.kind != ChangeKind::Added {
            let _ = writeln!(
                text,
                "    {}",
                style(indented(&format!("- {}", show(&field.old)), width)).red()
            );
        }
        if case.kind != ChangeKind::Removed {
            let _ = writeln!(
                text,
                "    {}",
                style(indented(&format!("+ {}", show(&field.new)), width)).green()
            );
        }
        if !note.is_empty() {
            let _ = writeln!(text, "    {}", style(note.join("; ")).dim());
        }
    }
    text
}

/// `line` cut to fit `width` columns after a 4-column indent.
fn indented(line: &str, width: usize) -> String {
    cut(line, width.saturating_sub(4).max(20))
}

/// Shows `text` through the pager; when none can be started, prints it.
pub(super) fn page(text: &str) {
    let pager = std::env::var("LAMBDA_GATE_PAGER")
        .or_else(|_| std::env::var("PAGER"))
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "less -R".to_owned());
    let child = std::process::Command::new("sh")
        .args(["-c", &pager])
        .stdin(std::process::Stdio::piped())
        .spawn();
    match child {
        Ok(mut child) => {
            if let Some(mut stdin) = child.stdin.take() {
                // The reader may quit early (`q` in less): that is not an error.
                let _ = stdin.write_all(text.as_bytes());
            }
            // 127: the shell found no such pager.
            if child.wait().is_ok_and(|s| s.code() == Some(127)) {
                out(text);
            }
        }
        Err(_) => out(text),
    }
}

/// Pages `text` when it is taller than the terminal, else prints it.
pub(super) fn print_or_page(text: &str) {
    let tall = std::io::stdout().is_terminal()
        && text.lines().count() + 1 > usize::from(Term::stdout().size().0);
    if tall { page(text) } else { out(text) }
}
