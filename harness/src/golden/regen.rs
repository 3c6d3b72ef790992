//! Keeping the goldens in step with the model, the way `cargo insta` keeps snapshots: `regen`
//! has the training side recompute the expected answers into a pending directory beside the
//! goldens, `review` shows what changed and, on a terminal, takes a decision per case (recorded
//! with the sha256 of the pending files it showed), `accept` promotes exactly the cases
//! accepted (or, with `--all`, every pending case unseen), `reject` drops them. With `CI` set
//! nothing is written: CI runs [`check`], which needs no training side.
//!
//! The expected answers always come from the training-time model (the spec's `goldens.regen`
//! command), never from the function: parity checked against the function's own output would
//! prove nothing.

use super::{GoldenError, GoldenSet, GoldenSpec, Review};
use crate::contract::FieldRule;
use crate::digest::{sha256_file, sha256_hex};
use crate::environment::in_ci;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Directory (inside the golden directory) where regenerated goldens wait for review.
pub(crate) const PENDING_DIR: &str = ".pending";
/// The record `review` leaves in the pending directory: the sha256 of each file it showed and
/// the decision per case.
const REVIEWED: &str = "reviewed.json";
/// The files regeneration writes and acceptance promotes.
const FILES: [&str; 2] = ["expected.jsonl", "manifest.json"];

/// Why the goldens could not be regenerated, reviewed, accepted or rejected.
#[derive(Debug, thiserror::Error)]
pub enum RegenError {
    /// The spec names no regen command.
    #[error(
        "{spec} has no goldens.regen: add the training side's command that writes expected.jsonl and manifest.json into {{out}}"
    )]
    NoCommand {
        /// The spec file.
        spec: PathBuf,
    },
    /// The regen command could not be started.
    #[error("cannot run goldens.regen with sh")]
    Spawn(#[source] std::io::Error),
    /// The regen command failed.
    #[error("goldens.regen failed ({status}): {command}\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its stderr.
        stderr: String,
    },
    /// Nothing waits for review.
    #[error("no regenerated goldens wait in {0}: run `{regen}` first", regen = crate::environment::command("golden regen"))]
    NothingPending(PathBuf),
    /// `accept` before any case was decided in `review`.
    #[error(
        "no case of the pending goldens in {0} was decided: run `{review}` in a terminal and accept case by case, or take every pending case unseen with `{all}`",
        review = crate::environment::command("golden review"),
        all = crate::environment::command("golden accept --all")
    )]
    NotReviewed(PathBuf),
    /// The pending files changed after the review.
    #[error("{0} changed after it was reviewed: review it again (`{review}`) before accepting", review = crate::environment::command("golden review"))]
    ChangedSinceReview(PathBuf),
    /// `CI` is set: the goldens are never rewritten there.
    #[error(
        "CI is set: {0} writes nothing in CI; run it on a developer machine and commit the result"
    )]
    InCi(&'static str),
    /// `golden import` would replace golden files that are there already.
    #[error(
        "{} exist already: pass --force to replace them",
        .0.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    WouldReplace(Vec<PathBuf>),
    /// A file could not be read or written.
    #[error("cannot read or write {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A golden file is malformed.
    #[error(transparent)]
    Golden(#[from] GoldenError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RegenError + '_ {
    move |source| RegenError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What the review loop needs from the spec.
#[derive(Clone, Copy)]
pub(crate) struct Loop<'a> {
    /// The spec's `[goldens]`.
    pub(crate) goldens: &'a GoldenSpec,
    /// The spec file, for messages.
    pub(crate) spec_file: &'a Path,
    /// How the regen command runs (where, with which variables).
    pub(crate) shell: &'a crate::shell::Shell,
    /// The contract's field rules, by which a changed prediction is judged.
    pub(crate) rules: &'a [FieldRule],
}

/// Whether the goldens belong to the model on disk.
#[derive(Clone, Debug)]
pub(crate) struct CheckOutcome {
    /// What is out of step; empty when the goldens are current.
    pub(crate) problems: Vec<String>,
}

impl CheckOutcome {
    /// Whether the goldens are current.
    pub(crate) fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// What to print.
    pub(crate) fn render(&self) -> String {
        if self.passed() {
            return "goldens are current: they belong to the sources the spec names".to_owned();
        }
        let mut out = String::from("goldens are stale:\n");
        for p in &self.problems {
            let _ = writeln!(out, "  - {p}");
        }
        out.push_str(&super::out_of_step_fix());
        out
    }
}

/// Checks, without running the training side, that the golden files agree with each other and
/// with their manifest, and that they were computed with the files the spec's
/// `goldens.sources` names (sha256 against the manifest). `Err` when a golden file cannot be
/// read or parsed: that is not staleness, and regenerating would not mend it.
pub(crate) fn check(spec: Loop<'_>) -> Result<CheckOutcome, GoldenError> {
    let golden = GoldenSet::load(&spec.goldens.dir)?;
    let mut problems = golden.out_of_step.clone();
    let manifest = &golden.manifest;
    for (key, file) in &spec.goldens.sources {
        let Some(expected) = manifest.get(key) else {
            problems.push(format!(
                "manifest.json has no {key} (goldens.sources.{key} names {})",
                file.display()
            ));
            continue;
        };
        match sha256_file(file) {
            Ok(actual) if actual == expected => {}
            Ok(actual) => problems.push(format!(
                "{} has sha256 {actual}, the goldens were computed with {expected}",
                file.display()
            )),
            Err(e) => problems.push(format!("cannot read {}: {e}", file.display())),
        }
    }
    Ok(CheckOutcome { problems })
}

/// Where regenerated goldens wait.
fn pending_dir(spec: Loop<'_>) -> PathBuf {
    spec.goldens.dir.join(PENDING_DIR)
}

/// Has the training side recompute the goldens into the pending directory (a scratch one with
/// `CI` set, so nothing is written) and compares them with the current ones. Nothing is
/// replaced; identical results leave nothing pending.
pub(crate) fn regen(spec: Loop<'_>) -> Result<Review, RegenError> {
    let Some(template) = &spec.goldens.regen else {
        return Err(RegenError::NoCommand {
            spec: spec.spec_file.to_path_buf(),
        });
    };
    // The training side gets only inputs the gate itself can read: a broken line is named
    // here (file:line), not in the training side's traceback.
    let inputs = spec.goldens.dir.join("inputs.jsonl");
    super::read_numbered_lines::<super::InputLine>(&inputs, "")?;
    let scratch;
    let out = if in_ci() {
        scratch = tempfile::tempdir().map_err(io(Path::new("a scratch directory")))?;
        scratch.path().to_path_buf()
    } else {
        let pending = pending_dir(spec);
        if pending.exists() {
            std::fs::remove_dir_all(&pending).map_err(io(&pending))?;
        }
        std::fs::create_dir_all(&pending).map_err(io(&pending))?;
        pending
    };
    let quote = |p: &Path| {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
    };
    let command = template
        .replace("{inputs}", &quote(&inputs))
        .replace("{out}", &quote(&out));
    let output = spec
        .shell
        .command(&command)
        .output()
        .map_err(RegenError::Spawn)?;
    if !output.status.success() {
        return Err(RegenError::Failed {
            command,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let review = Review::compare(spec.rules, &spec.goldens.dir, &out)?;
    if !review.differs && !in_ci() {
        std::fs::remove_dir_all(&out).map_err(io(&out))?;
    }
    Ok(review)
}

/// The pending goldens against the current ones.
pub(crate) fn review(spec: Loop<'_>) -> Result<Review, RegenError> {
    let pending = pending_dir(spec);
    if !pending.join(FILES[0]).is_file() {
        return Err(RegenError::NothingPending(pending));
    }
    Ok(Review::compare(spec.rules, &spec.goldens.dir, &pending)?)
}

/// What a reviewer decided for one case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Decision {
    /// The regenerated answer replaces the golden one.
    Accept,
    /// The golden answer stays; the case is decided.
    Reject,
    /// Not decided: it stays pending for the next review.
    Skip,
}

/// What `reviewed.json` holds.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Record {
    /// sha256 of each pending file, as the review showed it.
    files: BTreeMap<String, String>,
    /// Case id -> decision.
    decisions: BTreeMap<String, Decision>,
}

/// The decisions of one review, written to the pending directory after each one, so quitting
/// (or Ctrl-C) keeps what was decided.
pub(crate) struct Decisions {
    path: PathBuf,
    record: Record,
}

impl Decisions {
    /// Starts recording decisions on the pending files `review` showed; decisions of an earlier
    /// review of the same files carry over (rejected cases are not asked again).
    pub(crate) fn start(spec: Loop<'_>) -> Result<Self, RegenError> {
        let pending = pending_dir(spec);
        let path = pending.join(REVIEWED);
        let files = pending_shas(&pending)?;
        let record = match read_record(&path)? {
            Some(record) if record.files == files => record,
            _ => Record {
                files,
                decisions: BTreeMap::new(),
            },
        };
        Ok(Decisions { path, record })
    }

    /// The decision already taken for `case_id`, if any.
    pub(crate) fn get(&self, case_id: &str) -> Option<Decision> {
        self.record.decisions.get(case_id).copied()
    }

    /// Records `decision` for `case_id`.
    pub(crate) fn decide(&mut self, case_id: &str, decision: Decision) -> Result<(), RegenError> {
        self.record.decisions.insert(case_id.to_owned(), decision);
        write_record(&self.path, &self.record)
    }

    /// How many cases got `decision`.
    pub(crate) fn count(&self, decision: Decision) -> usize {
        self.record
            .decisions
            .values()
            .filter(|d| **d == decision)
            .count()
    }
}

fn pending_shas(pending: &Path) -> Result<BTreeMap<String, String>, RegenError> {
    FILES
        .iter()
        .map(|name| {
            let path = pending.join(name);
            let sha = sha256_file(&path).map_err(io(&path))?;
            Ok(((*name).to_owned(), sha))
        })
        .collect()
}

fn read_record(path: &Path) -> Result<Option<Record>, RegenError> {
    match std::fs::read(path) {
        // A record of another format (an older gate's) is no record.
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

fn write_record(path: &Path, record: &Record) -> Result<(), RegenError> {
    let text = serde_json::to_vec_pretty(record).unwrap_or_default();
    std::fs::write(path, text).map_err(io(path))
}

/// What `accept` did.
#[derive(Debug)]
pub(crate) struct Accepted {
    /// The golden files replaced (none when nothing was accepted).
    pub(crate) files: Vec<PathBuf>,
    /// Cases whose regenerated answer was taken.
    pub(crate) accepted: usize,
    /// Cases rejected in review: their golden answer stays.
    pub(crate) rejected: usize,
    /// Cases skipped or not reached in review: still pending.
    pub(crate) pending: usize,
}

impl Accepted {
    /// What was taken, what was kept, what still waits.
    pub(crate) fn render(&self) -> String {
        let mut text = format!("accepted {} case(s)", self.accepted);
        if self.rejected > 0 {
            let _ = write!(
                text,
                "; {} rejected keep their golden answer (verify fails them against the regenerated model until they are accepted)",
                self.rejected
            );
        }
        if self.pending > 0 {
            let _ = write!(
                text,
                "; {} still pending: `{}`",
                self.pending,
                crate::environment::command("golden review")
            );
        }
        text.push('\n');
        text
    }
}

/// Promotes the pending goldens: with `all`, every pending case as regenerated (the pending
/// files byte for byte); otherwise exactly the cases accepted in review, after checking that
/// the pending files are byte for byte what was reviewed. Rejected cases keep their golden
/// answer; skipped ones stay pending. Nothing is recomputed.
pub(crate) fn accept(spec: Loop<'_>, all: bool) -> Result<Accepted, RegenError> {
    if in_ci() {
        return Err(RegenError::InCi("golden accept"));
    }
    let pending = pending_dir(spec);
    if !pending.join(FILES[0]).is_file() {
        return Err(RegenError::NothingPending(pending));
    }
    let review = Review::compare(spec.rules, &spec.goldens.dir, &pending)?;
    let differing = review.cases().count();
    // The bytes checked are the bytes written: nothing can change between the two.
    let mut files = Vec::with_capacity(FILES.len());
    for name in FILES {
        let path = pending.join(name);
        files.push(std::fs::read(&path).map_err(io(&path))?);
    }
    let decisions = if all {
        BTreeMap::new()
    } else {
        let record = read_record(&pending.join(REVIEWED))?
            .filter(|r| !r.decisions.is_empty())
            .ok_or_else(|| RegenError::NotReviewed(pending.clone()))?;
        for (name, bytes) in FILES.iter().zip(&files) {
            if record.files.get(*name).map(String::as_str) != Some(sha256_hex(bytes).as_str()) {
                return Err(RegenError::ChangedSinceReview(pending.join(name)));
            }
        }
        record.decisions
    };
    let decided = |id: &str| {
        if all {
            Some(Decision::Accept)
        } else {
            decisions.get(id).copied()
        }
    };
    let count = |d: Decision| {
        review
            .cases()
            .filter(|c| decided(&c.case_id) == Some(d))
            .count()
    };
    let outcome = |files| Accepted {
        files,
        accepted: count(Decision::Accept),
        rejected: count(Decision::Reject),
        pending: differing - count(Decision::Accept) - count(Decision::Reject),
    };
    let accepted = outcome(Vec::new());
    // `--all` also takes a manifest that changed while no prediction did (a new model sha).
    let write = accepted.accepted > 0 || (all && review.differs);
    if write {
        let expected = if accepted.accepted == differing {
            files[0].clone()
        } else {
            let take = |id: &str| decided(id) == Some(Decision::Accept);
            merge_expected(&spec.goldens.dir.join(FILES[0]), &files[0], &review, take)?
        };
        write_files(
            &spec.goldens.dir,
            &[(FILES[0], &expected), (FILES[1], &files[1])],
        )?;
    }
    let replaced = if write {
        FILES.iter().map(|n| spec.goldens.dir.join(n)).collect()
    } else {
        Vec::new()
    };
    if accepted.pending == 0 {
        std::fs::remove_dir_all(&pending).map_err(io(&pending))?;
    } else {
        // Skipped cases are asked again; rejected ones stay decided.
        let mut record = read_record(&pending.join(REVIEWED))?.unwrap_or_default();
        record.decisions.retain(|_, d| *d == Decision::Reject);
        write_record(&pending.join(REVIEWED), &record)?;
    }
    Ok(outcome(replaced))
}

/// `expected.jsonl` with the regenerated line of each case `take` accepts and the golden line
/// of every other: a changed case not taken keeps its golden line, an added one not taken is
/// left out, a removed one not taken stays. Lines are kept byte for byte.
fn merge_expected(
    current: &Path,
    pending: &[u8],
    review: &Review,
    take: impl Fn(&str) -> bool,
) -> Result<Vec<u8>, RegenError> {
    let golden = if current.exists() {
        std::fs::read(current).map_err(io(current))?
    } else {
        Vec::new()
    };
    let golden = lines_by_id(current, &golden)?;
    let regenerated = lines_by_id(&review.pending_dir.join(FILES[0]), pending)?;
    let differing: BTreeMap<&str, super::review::ChangeKind> = review
        .cases()
        .map(|c| (c.case_id.as_str(), c.kind))
        .collect();
    let golden_line = |id: &str| golden.iter().find(|(i, _)| i == id).map(|(_, l)| *l);
    let mut out = Vec::new();
    for (id, line) in &regenerated {
        let keep = match differing.get(id.as_str()) {
            None => Some(*line),
            Some(_) if take(id) => Some(*line),
            Some(_) => golden_line(id),
        };
        if let Some(line) = keep {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    for (id, line) in &golden {
        if differing.get(id.as_str()) == Some(&super::review::ChangeKind::Removed) && !take(id) {
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    Ok(out)
}

/// The non-blank lines of an `expected.jsonl` (`bytes`, read from `path`) with their case ids.
fn lines_by_id<'t>(path: &Path, bytes: &'t [u8]) -> Result<Vec<(String, &'t str)>, RegenError> {
    #[derive(serde::Deserialize)]
    struct Id {
        case_id: String,
    }
    let text = std::str::from_utf8(bytes).map_err(|e| GoldenError::Format {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    })?;
    let lines: Vec<&str> = text.lines().collect();
    Ok(super::parse_numbered_lines::<Id>(path, text, "")?
        .into_iter()
        .map(|(n, id)| (id.case_id, lines[n - 1]))
        .collect())
}
/// Drops the pending goldens. Returns whether there were any.
pub(crate) fn reject(spec: Loop<'_>) -> Result<bool, RegenError> {
    if in_ci() {
        return Err(RegenError::InCi("golden reject"));
    }
    let pending = pending_dir(spec);
    if !pending.exists() {
        return Ok(false);
    }
    std::fs::remove_dir_all(&pending).map_err(io(&pending))?;
    Ok(true)
}

/// Writes golden files into `dir`, each through a temporary file renamed over the old one, so
/// a reader (or an interrupted write) never sees half a file. `golden accept` promotes the
/// reviewed files with it and `golden import` writes the imported ones.
pub(super) fn write_files(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), RegenError> {
    for (name, bytes) in files {
        let to = dir.join(name);
        let scratch = dir.join(format!(".{name}.tmp"));
        std::fs::write(&scratch, bytes).map_err(io(&scratch))?;
        std::fs::rename(&scratch, &to).map_err(io(&to))?;
    }
    Ok(())
}
