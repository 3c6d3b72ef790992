//! Keeping the goldens in step with the model, the way `cargo insta` keeps snapshots: the
//! training side recomputes the expected answers into a pending directory, the review says what
//! changed, and only an explicit `--accept` replaces the goldens. CI never rewrites them; it
//! runs [`check`].
//!
//! The expected answers always come from the training-time model (`models/golden.py` with the
//! pinned Python environment), never from the service: parity checked against the service's own
//! output would prove nothing.

use crate::digest::sha256_file;
use crate::golden::{GoldenError, GoldenSet, Manifest};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Environment variable naming the training side's Python interpreter.
pub const MODELS_PYTHON_ENV: &str = "MODELS_PYTHON";
/// The command that creates the training side's environment.
pub const PYTHON_SETUP: &str = "python3 -m venv models/.venv && models/.venv/bin/pip install --require-hashes -r models/requirements.lock";
/// Directory (inside the golden directory) where regenerated goldens wait for review.
pub const PENDING_DIR: &str = ".pending";
const ACCEPT_COMMAND: &str = "cargo run -p harness -- golden regen --accept";

/// Where the goldens and the model live.
#[derive(Clone, Debug)]
pub struct GoldenPaths {
    /// `golden/`.
    pub golden_dir: PathBuf,
    /// `models/artifacts/`: the model the goldens must belong to.
    pub model_dir: PathBuf,
    /// `models/golden.py`.
    pub script: PathBuf,
    /// The Python interpreter of the training side.
    pub python: PathBuf,
}

impl GoldenPaths {
    /// The project's layout under `workspace`; the interpreter is `$MODELS_PYTHON` or
    /// `models/.venv/bin/python`.
    pub fn new(workspace: &Path) -> Self {
        GoldenPaths {
            golden_dir: workspace.join("golden"),
            model_dir: workspace.join("models").join("artifacts"),
            script: workspace.join("models").join("golden.py"),
            python: std::env::var_os(MODELS_PYTHON_ENV)
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace.join("models/.venv/bin/python")),
        }
    }
}

/// Why regeneration could not run.
#[derive(Debug, thiserror::Error)]
pub enum RegenError {
    /// The training side's Python is missing.
    #[error(
        "the training side's Python ({0}) is missing: create it with `{PYTHON_SETUP}` (or set {MODELS_PYTHON_ENV})"
    )]
    NoPython(PathBuf),
    /// `models/golden.py predict` failed.
    #[error("`{command}` failed:\n{stderr}")]
    Predict {
        /// The command line.
        command: String,
        /// Its stderr.
        stderr: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
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

/// Whether the goldens belong to the model in `models/`.
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
            return "goldens are current: they belong to models/artifacts/model.json".to_owned();
        }
        let mut out = String::from("goldens are stale:\n");
        for p in &self.problems {
            let _ = writeln!(out, "  - {p}");
        }
        let _ = write!(
            out,
            "Regenerate them from the training-time model: `cargo run -p harness -- golden regen`, review the changes, then `{ACCEPT_COMMAND}`."
        );
        out
    }
}

/// Checks, without running Python, that the goldens were computed with the model in
/// `models/artifacts/` (sha256 of `model.json` and `feature_set.json`) for the current inputs.
pub fn check(paths: &GoldenPaths) -> CheckOutcome {
    let mut problems = Vec::new();
    let golden = match GoldenSet::load(&paths.golden_dir) {
        Ok(golden) => golden,
        Err(e) => {
            return CheckOutcome {
                problems: vec![e.to_string()],
            };
        }
    };
    let manifest = &golden.manifest;
    let mut compare = |file: &str, expected: &str| match sha256_file(&paths.model_dir.join(file)) {
        Ok(actual) if actual == expected => {}
        Ok(actual) => problems.push(format!(
            "models/artifacts/{file} has sha256 {actual}, the goldens were computed with {expected}"
        )),
        Err(e) => problems.push(format!("cannot read models/artifacts/{file}: {e}")),
    };
    compare("model.json", &manifest.model_sha256);
    compare("feature_set.json", &manifest.feature_set_sha256);
    CheckOutcome { problems }
}

#[derive(Deserialize)]
struct ExpectedLine {
    case_id: String,
    features: BTreeMap<String, Value>,
    prediction: BTreeMap<String, Value>,
}

fn read_expected(path: &Path) -> Result<(Vec<u8>, BTreeMap<String, ExpectedLine>), RegenError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let mut cases = BTreeMap::new();
    for (i, line) in String::from_utf8_lossy(&bytes).lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExpectedLine = serde_json::from_str(line).map_err(|e| GoldenError::Format {
            path: path.to_path_buf(),
            line: i + 1,
            message: e.to_string(),
        })?;
        cases.insert(parsed.case_id.clone(), parsed);
    }
    Ok((bytes, cases))
}

fn read_manifest(path: &Path) -> Result<Manifest, RegenError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        RegenError::Golden(GoldenError::Format {
            path: path.to_path_buf(),
            line: 0,
            message: e.to_string(),
        })
    })
}

/// The largest change seen in one field.
#[derive(Clone, Debug)]
pub struct FieldChange {
    /// `prediction.probability`, `features.annual_income`, ...
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
    /// The review as printed by `harness golden regen`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let old_sha = self
            .old_manifest
            .as_ref()
            .map_or("(none)", |m| m.model_sha256.as_str());
        let _ = writeln!(out, "old model sha256: {old_sha}");
        let _ = writeln!(
            out,
            "new model sha256: {} (model_version {})",
            self.new_manifest.model_sha256, self.new_manifest.model_version
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
            out.push_str("accepted: golden/expected.jsonl and golden/manifest.json replaced\n");
        } else {
            let _ = writeln!(
                out,
                "pending in {} (nothing overwritten). Accept with `{ACCEPT_COMMAND}`.",
                self.pending_dir.display()
            );
        }
        out
    }
}

/// Recomputes the goldens with the training side into `golden/.pending/`, compares them with the
/// current ones, and replaces the current ones only when `accept` is set.
pub fn regen(paths: &GoldenPaths, accept: bool) -> Result<Review, RegenError> {
    if !paths.python.is_file() {
        return Err(RegenError::NoPython(paths.python.clone()));
    }
    let pending = paths.golden_dir.join(PENDING_DIR);
    std::fs::create_dir_all(&pending).map_err(io(&pending))?;
    let inputs = paths.golden_dir.join("inputs.jsonl");
    let mut command = Command::new(&paths.python);
    command
        .arg(&paths.script)
        .arg("predict")
        .arg("--model-dir")
        .arg(&paths.model_dir)
        .arg("--inputs")
        .arg(&inputs)
        .arg("--out")
        .arg(&pending);
    let line = format!("{command:?}").replace('"', "");
    let output = command.output().map_err(io(&paths.python))?;
    if !output.status.success() {
        return Err(RegenError::Predict {
            command: line,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }

    let old_expected_path = paths.golden_dir.join("expected.jsonl");
    let old_manifest_path = paths.golden_dir.join("manifest.json");
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
        let pairs = diff_maps("features", &old.features, &new.features).chain(diff_maps(
            "prediction",
            &old.prediction,
            &new.prediction,
        ));
        for (field, old_value, new_value) in pairs {
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

/// `(section.key, old, new)` for every key whose value differs (a missing key is `null`).
fn diff_maps<'a>(
    section: &'a str,
    old: &'a BTreeMap<String, Value>,
    new: &'a BTreeMap<String, Value>,
) -> impl Iterator<Item = (String, &'a Value, &'a Value)> + 'a {
    static NULL: Value = Value::Null;
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter().filter_map(move |k| {
        let a = old.get(k).unwrap_or(&NULL);
        let b = new.get(k).unwrap_or(&NULL);
        (a != b).then(|| (format!("{section}.{k}"), a, b))
    })
}
