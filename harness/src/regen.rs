//! Keeping the goldens in step with the model, the way `cargo insta` keeps snapshots: the
//! training side recomputes the expected answers into a pending directory, the review says what
//! changed, and only an explicit `--accept` replaces the goldens. CI never rewrites them; it
//! runs [`check`].
//!
//! The expected answers always come from the training-time model (the spec's `goldens.regen`
//! command), never from the function: parity checked against the function's own output would
//! prove nothing.

use crate::digest::sha256_file;
use crate::golden::{GoldenError, GoldenSet, Manifest, read_manifest};
use crate::spec::Spec;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Directory (inside the golden directory) where regenerated goldens wait for review.
pub const PENDING_DIR: &str = ".pending";

/// Why regeneration could not run.
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

/// Whether the goldens belong to the model on disk.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    /// What is out of step; empty when the goldens are current.
    pub problems: Vec<String>,
}

impl CheckOutcome {
    /// Whether the goldens are current.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }

    /// What to print.
    pub fn render(&self) -> String {
        if self.passed() {
            return "goldens are current: they belong to the sources the spec names".to_owned();
        }
        let mut out = String::from("goldens are stale:\n");
        for p in &self.problems {
            let _ = writeln!(out, "  - {p}");
        }
        let _ = write!(
            out,
            "Regenerate them from the training-time model: `{}`, review the changes, then `{}`.",
            crate::invocation::command("golden regen"),
            crate::invocation::command("golden regen --accept")
        );
        out
    }
}

/// Checks, without running the training side, that the goldens were computed for the current
/// inputs with the files the spec's `goldens.sources` names (sha256 against the manifest).
pub fn check(spec: &Spec) -> CheckOutcome {
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

/// Each line of an `expected.jsonl` by case id, flattened to `/pointer -> value` leaves (the
/// prediction and whatever else the team keeps there, such as features).
type Flat = BTreeMap<String, Value>;

fn read_expected(path: &Path) -> Result<(Vec<u8>, BTreeMap<String, Flat>), RegenError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let mut cases = BTreeMap::new();
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let format = |message: String| GoldenError::Format {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        let mut value: Value = serde_json::from_str(line).map_err(|e| format(e.to_string()))?;
        let id = value
            .as_object_mut()
            .and_then(|o| o.remove("case_id"))
            .and_then(|id| id.as_str().map(str::to_owned))
            .ok_or_else(|| format("no case_id".to_owned()))?;
        let mut flat = Flat::new();
        flatten(&value, String::new(), &mut flat);
        cases.insert(id, flat);
    }
    Ok((bytes, cases))
}

fn flatten(value: &Value, at: String, out: &mut Flat) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{at}/{i}"), out);
            }
        }
        leaf => {
            out.insert(at, leaf.clone());
        }
    }
}

/// The largest change seen in one field.
#[derive(Clone, Debug)]
pub struct FieldChange {
    /// `/prediction/probability`, `/features/annual_income`, ...
    pub field: String,
    /// Cases in which it changed.
    pub cases: usize,
    /// The case with the largest change.
    pub case_id: String,
    /// Old value there.
    pub old: Value,
    /// New value there.
    pub new: Value,
    /// |new - old| for numbers; `None` for other values.
    pub difference: Option<f64>,
}

/// What regeneration found.
#[derive(Clone, Debug)]
pub struct Review {
    /// Cases only in the new goldens.
    pub added: Vec<String>,
    /// Cases only in the old goldens.
    pub removed: Vec<String>,
    /// Cases whose features or prediction changed.
    pub changed: Vec<String>,
    /// Per field, how many cases changed and the largest change, largest first.
    pub fields: Vec<FieldChange>,
    /// Old and new manifests.
    pub old_manifest: Option<Manifest>,
    /// The manifest of the regenerated goldens.
    pub new_manifest: Manifest,
    /// Whether anything differs at all (byte-wise).
    pub differs: bool,
    /// Whether the new goldens replaced the old ones.
    pub accepted: bool,
    /// Where the pending files are while not accepted.
    pub pending_dir: PathBuf,
}

impl Review {
    /// The review as printed by `golden regen`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let old_sha = self
            .old_manifest
            .as_ref()
            .map_or("(none)", |m| m.model_sha256.as_str());
        let _ = writeln!(out, "old model sha256: {old_sha}");
        let _ = writeln!(
            out,
            "new model sha256: {}{}",
            self.new_manifest.model_sha256,
            self.new_manifest
                .model_version
                .as_ref()
                .map_or(String::new(), |v| format!(" (model_version {v})"))
        );
        if !self.differs {
            out.push_str(
                "no changes: the goldens already hold what the training-time model says\n",
            );
            return out;
        }
        let _ = writeln!(
            out,
            "{} case(s) added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        );
        let list = |ids: &[String]| {
            let shown: Vec<&str> = ids.iter().take(10).map(String::as_str).collect();
            let more = ids.len().saturating_sub(10);
            if more > 0 {
                format!("{} (+{more} more)", shown.join(", "))
            } else {
                shown.join(", ")
            }
        };
        if !self.added.is_empty() {
            let _ = writeln!(out, "  added: {}", list(&self.added));
        }
        if !self.removed.is_empty() {
            let _ = writeln!(out, "  removed: {}", list(&self.removed));
        }
        if !self.changed.is_empty() {
            let _ = writeln!(out, "  changed: {}", list(&self.changed));
        }
        if !self.fields.is_empty() {
            out.push_str("largest change per field:\n");
            for f in &self.fields {
                let diff = f
                    .difference
                    .map_or(String::new(), |d| format!(" (difference {d:e})"));
                let _ = writeln!(
                    out,
                    "  {:<44} {:>4} case(s); largest in {}: {} -> {}{diff}",
                    f.field, f.cases, f.case_id, f.old, f.new
                );
            }
        }
        if self.accepted {
            out.push_str("accepted: expected.jsonl and manifest.json replaced\n");
        } else {
            let _ = writeln!(
                out,
                "pending in {} (nothing overwritten). Accept with `{}`.",
                self.pending_dir.display(),
                crate::invocation::command("golden regen --accept")
            );
        }
        out
    }
}

/// Recomputes the goldens with the training side into `golden/.pending/`, compares them with the
/// current ones, and replaces the current ones only when `accept` is set.
pub fn regen(spec: &Spec, accept: bool) -> Result<Review, RegenError> {
    let Some(template) = &spec.goldens.regen else {
        return Err(RegenError::NoCommand {
            spec: spec.path.clone(),
        });
    };
    let golden_dir = &spec.goldens.dir;
    let pending = golden_dir.join(PENDING_DIR);
    std::fs::create_dir_all(&pending).map_err(io(&pending))?;
    let quote = |p: &Path| {
        let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
    };
    let command = template
        .replace("{inputs}", &quote(&golden_dir.join("inputs.jsonl")))
        .replace("{out}", &quote(&pending));
    let output = Command::new("sh")
        .arg("-ec")
        .arg(&command)
        .current_dir(&spec.root)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(RegenError::Spawn)?;
    if !output.status.success() {
        return Err(RegenError::Failed {
            command,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }

    let old_expected_path = golden_dir.join("expected.jsonl");
    let old_manifest_path = golden_dir.join("manifest.json");
    let new_expected_path = pending.join("expected.jsonl");
    let new_manifest_path = pending.join("manifest.json");
    let (new_bytes, new_cases) = read_expected(&new_expected_path)?;
    let new_manifest = read_manifest(&new_manifest_path)?;
    let (old_bytes, old_cases) = if old_expected_path.exists() {
        read_expected(&old_expected_path)?
    } else {
        (Vec::new(), BTreeMap::new())
    };
    let old_manifest = read_manifest(&old_manifest_path).ok();
    let old_manifest_bytes = std::fs::read(&old_manifest_path).unwrap_or_default();
    let new_manifest_bytes = std::fs::read(&new_manifest_path).map_err(io(&new_manifest_path))?;
    let differs = old_bytes != new_bytes || old_manifest_bytes != new_manifest_bytes;

    let mut review = Review {
        added: new_cases
            .keys()
            .filter(|k| !old_cases.contains_key(*k))
            .cloned()
            .collect(),
        removed: old_cases
            .keys()
            .filter(|k| !new_cases.contains_key(*k))
            .cloned()
            .collect(),
        changed: Vec::new(),
        fields: Vec::new(),
        old_manifest,
        new_manifest,
        differs,
        accepted: false,
        pending_dir: pending.clone(),
    };
    let mut fields: BTreeMap<String, FieldChange> = BTreeMap::new();
    for (id, new) in &new_cases {
        let Some(old) = old_cases.get(id) else {
            continue;
        };
        let mut changed = false;
        for (field, old_value, new_value) in diff_maps(old, new) {
            changed = true;
            let difference = match (old_value.as_f64(), new_value.as_f64()) {
                (Some(a), Some(b)) => Some((b - a).abs()),
                _ => None,
            };
            let entry = fields.entry(field.clone()).or_insert_with(|| FieldChange {
                field,
                cases: 0,
                case_id: id.clone(),
                old: old_value.clone(),
                new: new_value.clone(),
                difference,
            });
            entry.cases += 1;
            if difference.unwrap_or(0.0) > entry.difference.unwrap_or(0.0) {
                entry.case_id = id.clone();
                entry.old = old_value.clone();
                entry.new = new_value.clone();
                entry.difference = difference;
            }
        }
        if changed {
            review.changed.push(id.clone());
        }
    }
    review.fields = fields.into_values().collect();
    review.fields.sort_by(|a, b| {
        b.difference
            .unwrap_or(f64::INFINITY)
            .total_cmp(&a.difference.unwrap_or(f64::INFINITY))
            .then(b.cases.cmp(&a.cases))
    });

    if !differs {
        std::fs::remove_dir_all(&pending).map_err(io(&pending))?;
    } else if accept {
        std::fs::copy(&new_expected_path, &old_expected_path).map_err(io(&old_expected_path))?;
        std::fs::copy(&new_manifest_path, &old_manifest_path).map_err(io(&old_manifest_path))?;
        std::fs::remove_dir_all(&pending).map_err(io(&pending))?;
        review.accepted = true;
    }
    Ok(review)
}

/// `(pointer, old, new)` for every leaf whose value differs (a missing leaf is `null`).
fn diff_maps<'a>(
    old: &'a Flat,
    new: &'a Flat,
) -> impl Iterator<Item = (String, &'a Value, &'a Value)> + 'a {
    static NULL: Value = Value::Null;
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter().filter_map(move |k| {
        let a = old.get(k).unwrap_or(&NULL);
        let b = new.get(k).unwrap_or(&NULL);
        (a != b).then(|| (k.clone(), a, b))
    })
}
