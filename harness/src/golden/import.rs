//! `golden import`: a team's own cases, one JSON object a line, into the gate's golden files.
//!
//! A team that already has events and the training-time answers for them (a notebook's
//! output, a test fixture) should not convert them by hand: each line of the import file is
//! `{"event": <any JSON>, "expected": <any JSON>}` with an optional `case_id`, `tags` and
//! `features`, and the import writes `inputs.jsonl`, `expected.jsonl` and `manifest.json` with
//! the sha256s the gate checks, through the same writer `golden accept` promotes files with.

use super::{GoldenError, Manifest, RegenError, write_files};
use crate::digest::{sha256_file, sha256_hex};
use crate::environment::in_ci;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// One line of the import file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    case_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    event: Box<RawValue>,
    expected: serde_json::Value,
    features: Option<serde_json::Value>,
}

/// A line of `inputs.jsonl` as the import writes it: the event byte for byte as imported.
#[derive(Serialize)]
struct InputOut<'a> {
    case_id: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    event: &'a RawValue,
}

/// A line of `expected.jsonl`.
#[derive(Serialize)]
struct ExpectedOut<'a> {
    case_id: &'a str,
    prediction: &'a serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    features: Option<&'a serde_json::Value>,
}

/// What `golden import` needs besides the file.
pub(crate) struct Import<'a> {
    /// The golden directory (`goldens.dir`).
    pub(crate) dir: &'a Path,
    /// The model the expected answers come from: its sha256 is the manifest's `model_sha256`.
    pub(crate) model: &'a Path,
    /// Other manifest keys -> the file whose sha256 each records (`goldens.sources`, without
    /// `model_sha256`).
    pub(crate) sources: &'a BTreeMap<String, PathBuf>,
    /// Replace golden files that are there already.
    pub(crate) force: bool,
}

/// Reads `file` and writes the golden files; returns the number of cases. With `CI` set
/// nothing is written, as for every golden command.
pub(crate) fn import(file: &Path, to: &Import<'_>) -> Result<usize, RegenError> {
    if in_ci() {
        return Err(RegenError::InCi("golden import"));
    }
    write_import(file, to)
}

/// The golden files in `dir` that an import would replace (only with `force`).
pub(crate) fn existing(dir: &Path) -> Vec<PathBuf> {
    super::FILES_ALL
        .iter()
        .map(|name| dir.join(name))
        .filter(|p| p.exists())
        .collect()
}

fn write_import(file: &Path, to: &Import<'_>) -> Result<usize, RegenError> {
    let existing = existing(to.dir);
    if !to.force && !existing.is_empty() {
        return Err(RegenError::WouldReplace(existing));
    }
    let lines = read_import(file)?;
    let mut inputs = Vec::new();
    let mut expected = Vec::new();
    let mut seen = HashSet::new();
    for (number, line) in &lines {
        let case_id = line
            .case_id
            .clone()
            .unwrap_or_else(|| format!("line-{number}"));
        if !seen.insert(case_id.clone()) {
            return Err(GoldenError::Format {
                path: file.to_path_buf(),
                line: *number,
                message: format!("case_id {case_id:?} is given twice"),
            }
            .into());
        }
        let input = InputOut {
            case_id: &case_id,
            tags: &line.tags,
            event: &line.event,
        };
        let answer = ExpectedOut {
            case_id: &case_id,
            prediction: &line.expected,
            features: line.features.as_ref(),
        };
        for (out, value) in [
            (&mut inputs, serde_json::to_vec(&input)),
            (&mut expected, serde_json::to_vec(&answer)),
        ] {
            out.extend(value.unwrap_or_default());
            out.push(b'\n');
        }
    }
    if lines.is_empty() {
        return Err(GoldenError::Empty(file.to_path_buf()).into());
    }
    let sha = |path: &Path| {
        sha256_file(path).map_err(|source| RegenError::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut other = BTreeMap::new();
    for (key, path) in to.sources {
        if key != "model_sha256" {
            other.insert(key.clone(), serde_json::Value::String(sha(path)?));
        }
    }
    let manifest = Manifest {
        cases: lines.len(),
        model_sha256: sha(to.model)?,
        inputs_sha256: sha256_hex(&inputs),
        model_version: None,
        other,
    };
    let mut manifest_text = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    manifest_text.push(b'\n');
    std::fs::create_dir_all(to.dir).map_err(|source| RegenError::Io {
        path: to.dir.to_path_buf(),
        source,
    })?;
    write_files(
        to.dir,
        &[
            ("inputs.jsonl", &inputs),
            ("expected.jsonl", &expected),
            ("manifest.json", &manifest_text),
        ],
    )?;
    Ok(lines.len())
}

/// The import file's cases with their 1-based line numbers; blank lines are skipped.
fn read_import(file: &Path) -> Result<Vec<(usize, ImportLine)>, GoldenError> {
    super::read_numbered_lines(
        file,
        r#": each line is {"event": ..., "expected": ...}, optionally with "case_id", "tags" and "features""#,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::{GoldenSet, GoldenSpec, Loop, check};

    const CASES: &str = r#"{"case_id": "a", "tags": ["edge"], "event": {"x": 1.50, "y": "é"}, "expected": {"score": 0.25}, "features": {"x": 1.5}}

{"event": [1, "b",  3e2], "expected": [0.1, 0.9]}
"#;

    fn scratch() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cases.jsonl");
        std::fs::write(&file, CASES).unwrap();
        let model = dir.path().join("model.cbm");
        std::fs::write(&model, b"model bytes").unwrap();
        (dir, file, model)
    }

    #[test]
    fn an_import_reads_back_as_the_same_cases_and_is_current() {
        let (dir, file, model) = scratch();
        let goldens = dir.path().join("golden");
        let sources = BTreeMap::from([("model_sha256".to_owned(), model.clone())]);
        let to = Import {
            dir: &goldens,
            model: &model,
            sources: &sources,
            force: false,
        };
        assert_eq!(write_import(&file, &to).unwrap(), 2);
        let set = GoldenSet::load(&goldens).unwrap();
        assert_eq!(set.cases.len(), 2);
        assert_eq!(set.cases[0].case_id, "a");
        // Events byte for byte, as the team wrote them.
        assert_eq!(set.cases[0].event_text(), r#"{"x": 1.50, "y": "é"}"#);
        assert_eq!(set.cases[0].expected, serde_json::json!({"score": 0.25}));
        assert_eq!(set.cases[1].case_id, "line-3");
        assert_eq!(set.cases[1].event_text(), r#"[1, "b",  3e2]"#);
        assert_eq!(set.manifest.model_sha256, sha256_hex(b"model bytes"));
        let inputs = std::fs::read(goldens.join("inputs.jsonl")).unwrap();
        assert_eq!(set.manifest.inputs_sha256, sha256_hex(&inputs));
        let expected = std::fs::read_to_string(goldens.join("expected.jsonl")).unwrap();
        assert!(expected.contains(r#""features":{"x":1.5}"#), "{expected}");
        let spec = GoldenSpec {
            dir: goldens.clone(),
            regen: None,
            sources,
        };
        let shell = crate::shell::Shell {
            root: dir.path().to_path_buf(),
            pass_env: Vec::new(),
        };
        let outcome = check(Loop {
            goldens: &spec,
            spec_file: Path::new("lambda-gate.toml"),
            shell: &shell,
            rules: &[],
        });
        let outcome = outcome.unwrap();
        assert!(outcome.passed(), "{}", outcome.render());
    }

    #[test]
    fn goldens_never_written_are_reported_with_the_import_that_writes_them() {
        let (dir, _, _) = scratch();
        let err = GoldenSet::load(&dir.path().join("golden"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("holds no golden files")
                && err.contains("golden import FILE --model PATH"),
            "{err}"
        );
    }

    #[test]
    fn existing_goldens_are_replaced_only_with_force() {
        let (dir, file, model) = scratch();
        let goldens = dir.path().join("golden");
        let sources = BTreeMap::new();
        let mut to = Import {
            dir: &goldens,
            model: &model,
            sources: &sources,
            force: false,
        };
        write_import(&file, &to).unwrap();
        let err = write_import(&file, &to).unwrap_err().to_string();
        assert!(
            err.contains("--force") && err.contains("inputs.jsonl"),
            "{err}"
        );
        to.force = true;
        assert_eq!(write_import(&file, &to).unwrap(), 2);
    }

    #[test]
    fn a_bad_line_is_named_with_the_format() {
        let (dir, file, model) = scratch();
        let sources = BTreeMap::new();
        let to = Import {
            dir: &dir.path().join("golden"),
            model: &model,
            sources: &sources,
            force: false,
        };
        std::fs::write(
            &file,
            "{\"event\": 1, \"expected\": 2}\n{\"event\": 1, \"expect\": 2}\n",
        )
        .unwrap();
        let err = write_import(&file, &to).unwrap_err().to_string();
        // The file's line, not serde's "line 1" of that one line.
        assert!(
            err.contains("cases.jsonl:2: unknown field `expect`") && !err.contains("line 1"),
            "{err}"
        );
        std::fs::write(&file, "{\"case_id\": \"x\", \"event\": 1, \"expected\": 2}\n{\"case_id\": \"x\", \"event\": 1, \"expected\": 2}\n").unwrap();
        let err = write_import(&file, &to).unwrap_err().to_string();
        assert!(
            err.contains("cases.jsonl:2: case_id \"x\" is given twice"),
            "{err}"
        );
    }
}
