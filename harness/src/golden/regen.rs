//! Keeping the goldens in step with the model, the way `cargo insta` keeps snapshots: `regen`
//! has the training side recompute the expected answers into a pending directory beside the
//! goldens, `review` shows what changed (and records exactly what was shown), `accept` promotes
//! exactly the reviewed files, `reject` drops them. With `CI` set nothing is written: CI runs
//! [`check`], which needs no training side.
//!
//! The expected answers always come from the training-time model (the spec's `goldens.regen`
//! command), never from the function: parity checked against the function's own output would
//! prove nothing.

use super::{GoldenError, GoldenSet, GoldenSpec, Review};
use crate::contract::FieldRule;
use crate::digest::{sha256_file, sha256_hex};
use crate::environment::in_ci;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Directory (inside the golden directory) where regenerated goldens wait for review.
pub(crate) const PENDING_DIR: &str = ".pending";
/// The record `review` leaves in the pending directory: sha256 of each file it showed.
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
    /// `accept` before `review`.
    #[error("the pending goldens in {0} were not reviewed: run `{review}`, then accept", review = crate::environment::command("golden review"))]
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
        let _ = write!(
            out,
            "Regenerate them from the training-time model: `{}`, review the changes (`{}`), then `{}`.",
            crate::environment::command("golden regen"),
            crate::environment::command("golden review"),
            crate::environment::command("golden accept")
        );
        out
    }
}

/// Checks, without running the training side, that the goldens were computed for the current
/// inputs with the files the spec's `goldens.sources` names (sha256 against the manifest).
pub(crate) fn check(spec: Loop<'_>) -> CheckOutcome {
    let mut problems = Vec::new();
    let golden = match GoldenSet::load(&spec.goldens.dir) {
        Ok(golden) => golden,
        Err(e) => {
            return CheckOutcome {
                problems: vec![e.to_string()],
            };
        }
    };
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
    CheckOutcome { problems }
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
        .replace("{inputs}", &quote(&spec.goldens.dir.join("inputs.jsonl")))
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

/// The pending goldens against the current ones, recording what was shown so that `accept`
/// promotes exactly that.
pub(crate) fn review(spec: Loop<'_>) -> Result<Review, RegenError> {
    let pending = pending_dir(spec);
    if !pending.join(FILES[0]).is_file() {
        return Err(RegenError::NothingPending(pending));
    }
    let review = Review::compare(spec.rules, &spec.goldens.dir, &pending)?;
    if !in_ci() {
        let mut record = serde_json::Map::new();
        for name in FILES {
            let path = pending.join(name);
            let sha = sha256_file(&path).map_err(io(&path))?;
            record.insert(name.to_owned(), serde_json::Value::String(sha));
        }
        let path = pending.join(REVIEWED);
        let text = serde_json::to_vec_pretty(&record).unwrap_or_default();
        std::fs::write(&path, text).map_err(io(&path))?;
    }
    Ok(review)
}

/// Promotes the reviewed pending files over the goldens, after checking they are byte for byte
/// what was reviewed; nothing is recomputed. Returns the files replaced.
pub(crate) fn accept(spec: Loop<'_>) -> Result<Vec<PathBuf>, RegenError> {
    if in_ci() {
        return Err(RegenError::InCi("golden accept"));
    }
    let pending = pending_dir(spec);
    if !pending.join(FILES[0]).is_file() {
        return Err(RegenError::NothingPending(pending));
    }
    let record_path = pending.join(REVIEWED);
    let record: serde_json::Value = match std::fs::read(&record_path) {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RegenError::NotReviewed(pending));
        }
        Err(e) => return Err(io(&record_path)(e)),
    };
    // The bytes checked are the bytes written: nothing can change between the two.
    let mut files = Vec::with_capacity(FILES.len());
    for name in FILES {
        let path = pending.join(name);
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        if record[name].as_str() != Some(sha256_hex(&bytes).as_str()) {
            return Err(RegenError::ChangedSinceReview(path));
        }
        files.push((name, bytes));
    }
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    write_files(&spec.goldens.dir, &files)?;
    let replaced = FILES.iter().map(|n| spec.goldens.dir.join(n)).collect();
    std::fs::remove_dir_all(&pending).map_err(io(&pending))?;
    Ok(replaced)
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
