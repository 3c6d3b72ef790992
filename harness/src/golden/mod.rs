//! The golden files: events, the training-time model's answers for them, and whose answers they
//! are.
//!
//! A golden directory holds three files:
//! - `inputs.jsonl`: one case per line, `{"case_id": "...", "tags": [...], "event": <any JSON>}`;
//! - `expected.jsonl`: `{"case_id": "...", "prediction": <any JSON>}` per case, optionally with
//!   `"features"`: the training-time features the prediction was computed from, an object by
//!   feature name (or an array in the model's order); the drift search (`[drift]`) reads them
//!   to name the feature a failing case drifted in. Other keys are the team's;
//! - `manifest.json`: `{"cases": N, "model_sha256": "...", "inputs_sha256": "..."}` plus any keys
//!   the team keeps (`model_version`, sha256s of other source files).
//!
//! Events are kept as the exact JSON text of the input file, so the container receives byte for
//! byte what the training side read (cases may spell numbers and strings unusually on purpose).

mod import;
mod regen;
mod review;

pub(crate) use import::{Import, existing as existing_goldens, import};
pub use regen::RegenError;
use regen::write_files;
pub(crate) use regen::{Decision, Decisions, Loop, accept, check, regen, reject, review};
pub(crate) use review::{CaseChange, ChangeKind, Review, cut, show};

use crate::contract::{Contract, Golden};
use crate::digest::sha256_file;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The files of a golden directory.
const FILES_ALL: [&str; 3] = ["inputs.jsonl", "expected.jsonl", "manifest.json"];

/// Where the goldens are and how they are kept current (the spec's `[goldens]`).
#[derive(Clone, Debug)]
pub(crate) struct GoldenSpec {
    /// Directory with `inputs.jsonl`, `expected.jsonl`, `manifest.json`.
    pub(crate) dir: PathBuf,
    /// Shell command of the training side with `{inputs}` and `{out}`: writes
    /// `expected.jsonl` and `manifest.json` into `{out}`.
    pub(crate) regen: Option<String>,
    /// Manifest key -> file whose sha256 it records (checked by `golden check`).
    pub(crate) sources: BTreeMap<String, PathBuf>,
}

/// `manifest.json`.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
pub(crate) struct Manifest {
    /// Number of cases.
    pub(crate) cases: usize,
    /// sha256 of the model the predictions belong to.
    pub(crate) model_sha256: String,
    /// sha256 of `inputs.jsonl` when the predictions were computed.
    pub(crate) inputs_sha256: String,
    /// A version name of that model, if the team records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) model_version: Option<String>,
    /// Everything else the team records (sha256s of other sources, library versions).
    #[serde(flatten)]
    pub(crate) other: BTreeMap<String, serde_json::Value>,
}

impl Manifest {
    /// The string value of a manifest key (`model_sha256`, `feature_set_sha256`, ...).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        match key {
            "model_sha256" => Some(&self.model_sha256),
            "inputs_sha256" => Some(&self.inputs_sha256),
            "model_version" => self.model_version.as_deref(),
            other => self.other.get(other).and_then(serde_json::Value::as_str),
        }
    }
}

/// One golden case.
#[derive(Clone, Debug)]
pub(crate) struct GoldenCase {
    /// Stable identifier.
    pub(crate) case_id: String,
    /// The raw event, exactly as written in `inputs.jsonl`.
    pub(crate) event: Box<RawValue>,
    /// The training-time prediction.
    pub(crate) expected: serde_json::Value,
    /// The training-time features the prediction was computed from, when the goldens carry
    /// them.
    pub(crate) features: Option<serde_json::Value>,
}

impl GoldenCase {
    /// The request that carries this case's event alone.
    pub(crate) fn request_body(&self, contract: &Contract) -> Vec<u8> {
        contract.request(self.event.get())
    }

    /// The event's JSON text, exactly as written in `inputs.jsonl`.
    pub(crate) fn event_text(&self) -> &str {
        self.event.get()
    }

    /// The event, parsed.
    pub(crate) fn event_value(&self) -> serde_json::Value {
        serde_json::from_str(self.event.get()).unwrap_or_default()
    }

    /// The case as the contract judges an answer to it.
    pub(crate) fn golden<'a>(&'a self, model_sha256: &'a str) -> Golden<'a> {
        Golden {
            id: &self.case_id,
            event: self.event.get(),
            expected: &self.expected,
            model_sha256,
        }
    }
}

/// The golden set.
#[derive(Clone, Debug)]
pub(crate) struct GoldenSet {
    /// Its manifest.
    pub(crate) manifest: Manifest,
    /// The cases, in input order (those of `inputs.jsonl` that `expected.jsonl` answers).
    pub(crate) cases: Vec<GoldenCase>,
    /// How the files are out of step with each other or with the manifest (inputs edited
    /// after the predictions were computed, a case in one file only, a wrong count); empty
    /// when they agree. Not an error: the golden-replay check fails with it (exit 1), as
    /// `golden check` does, while a file that cannot be read or parsed is an error (exit 2).
    pub(crate) out_of_step: Vec<String>,
}

/// Why the golden files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum GoldenError {
    /// A file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line or file is not in the expected format.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 for the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// There are no cases to replay.
    #[error("{0}: there are no golden cases; the gate needs at least one event to invoke")]
    Empty(PathBuf),
    /// The golden directory holds none of the golden files: they were never written.
    #[error(
        "{dir} holds no golden files (manifest.json, inputs.jsonl, expected.jsonl): write them \
         with `{import}` (FILE: {{\"event\": ..., \"expected\": ...}} a line; PATH: the model \
         file the answers come from), or, with `goldens.regen` set, `{regen}` and `golden accept`"
    )]
    Missing {
        /// The spec's `goldens.dir`.
        dir: PathBuf,
        /// The import command.
        import: String,
        /// The regen command.
        regen: String,
    },
}

/// What to do about golden files that are out of step, said after the problems.
pub(crate) fn out_of_step_fix() -> String {
    format!(
        "Regenerate the goldens from the training-time model: `{}`, review the changes (`{}`), then `{}`.",
        crate::environment::command("golden regen"),
        crate::environment::command("golden review"),
        crate::environment::command("golden accept")
    )
}

#[derive(Deserialize)]
struct InputLine {
    case_id: String,
    event: Box<RawValue>,
}

#[derive(Deserialize)]
struct ExpectedLine {
    case_id: String,
    prediction: serde_json::Value,
    #[serde(default)]
    features: Option<serde_json::Value>,
}

fn read_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, GoldenError> {
    Ok(read_numbered_lines(path, "")?
        .into_iter()
        .map(|(_, line)| line)
        .collect())
}

/// The JSON Lines of `path` with their 1-based line numbers; blank lines are skipped. A line
/// that does not parse is a [`GoldenError::Format`] at its line and column, followed by `hint`
/// (what each line must be).
pub(crate) fn read_numbered_lines<T: for<'de> Deserialize<'de>>(
    path: &Path,
    hint: &str,
) -> Result<Vec<(usize, T)>, GoldenError> {
    let text = std::fs::read_to_string(path).map_err(|source| GoldenError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_numbered_lines(path, &text, hint)
}

/// [`read_numbered_lines`] of `text`, already read from `path`.
pub(crate) fn parse_numbered_lines<T: for<'de> Deserialize<'de>>(
    path: &Path,
    text: &str,
    hint: &str,
) -> Result<Vec<(usize, T)>, GoldenError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map(|line| (i + 1, line))
                .map_err(|e| {
                    // serde's own position counts lines of the one line: keep the column only.
                    let text = e.to_string();
                    let what = text.split(" at line ").next().unwrap_or(&text);
                    GoldenError::Format {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: format!("{what} (column {}){hint}", e.column()),
                    }
                })
        })
        .collect()
}

/// Reads `manifest.json` of a golden directory.
pub(crate) fn read_manifest(path: &Path) -> Result<Manifest, GoldenError> {
    let text = std::fs::read(path).map_err(|source| GoldenError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|e| GoldenError::Format {
        path: path.to_path_buf(),
        line: 0,
        message: e.to_string(),
    })
}

impl GoldenSet {
    /// Reads `inputs.jsonl`, `expected.jsonl` and `manifest.json` from `dir` and notes where
    /// they do not describe the same cases ([`GoldenSet::out_of_step`]). `Err` when a file
    /// cannot be read or parsed, or no case has both an event and a prediction.
    pub(crate) fn load(dir: &Path) -> Result<Self, GoldenError> {
        if FILES_ALL.iter().all(|name| !dir.join(name).exists()) {
            return Err(GoldenError::Missing {
                dir: dir.to_path_buf(),
                import: crate::environment::command("golden import FILE --model PATH"),
                regen: crate::environment::command("golden regen"),
            });
        }
        let manifest = read_manifest(&dir.join("manifest.json"))?;
        let inputs_path = dir.join("inputs.jsonl");
        let inputs: Vec<InputLine> = read_lines(&inputs_path)?;
        let expected: Vec<ExpectedLine> = read_lines(&dir.join("expected.jsonl"))?;
        let inputs_sha256 = sha256_file(&inputs_path).map_err(|source| GoldenError::Read {
            path: inputs_path.clone(),
            source,
        })?;
        let mut out_of_step = Vec::new();
        if inputs_sha256 != manifest.inputs_sha256 {
            out_of_step.push(format!(
                "{} has sha256 {inputs_sha256}, but manifest.json's predictions were computed for {}",
                inputs_path.display(),
                manifest.inputs_sha256
            ));
        }
        let mut by_id: HashMap<String, ExpectedLine> = expected
            .into_iter()
            .map(|e| (e.case_id.clone(), e))
            .collect();
        let mut cases = Vec::with_capacity(inputs.len());
        let mut unanswered = Vec::new();
        for input in inputs {
            match by_id.remove(&input.case_id) {
                Some(exp) => cases.push(GoldenCase {
                    case_id: input.case_id,
                    event: input.event,
                    expected: exp.prediction,
                    features: exp.features,
                }),
                None => unanswered.push(input.case_id),
            }
        }
        if !unanswered.is_empty() {
            out_of_step.push(format!(
                "{} in inputs.jsonl but not in expected.jsonl: {}",
                cases_word(unanswered.len()),
                listed(&unanswered)
            ));
        }
        let mut unasked: Vec<String> = by_id.into_keys().collect();
        if !unasked.is_empty() {
            unasked.sort();
            out_of_step.push(format!(
                "{} in expected.jsonl but not in inputs.jsonl: {}",
                cases_word(unasked.len()),
                listed(&unasked)
            ));
        }
        let held = cases.len() + unanswered.len();
        if held != manifest.cases {
            out_of_step.push(format!(
                "manifest.json counts {} cases, inputs.jsonl holds {held}",
                manifest.cases
            ));
        }
        if cases.is_empty() {
            return Err(GoldenError::Empty(dir.to_path_buf()));
        }
        Ok(GoldenSet {
            manifest,
            cases,
            out_of_step,
        })
    }
}

/// "1 case is" / "3 cases are".
fn cases_word(n: usize) -> String {
    if n == 1 {
        "1 case is".to_owned()
    } else {
        format!("{n} cases are")
    }
}

/// At most five case ids, then how many more.
fn listed(ids: &[String]) -> String {
    let mut text = ids.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if ids.len() > 5 {
        text.push_str(&format!(" and {} more", ids.len() - 5));
    }
    text
}
