//! The sample events `init` sends: one JSON value a line, or the lines `golden import` reads
//! (`{"event": …, "expected": …}`, optionally with `case_id`, `tags` and `features`), whose
//! expected answers `init` compares the function's answers with to propose tolerances.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::path::{Path, PathBuf};

/// One sample event, with the answer expected for it when the file gives one.
#[derive(Clone, Debug)]
pub(crate) struct Sample {
    /// The event's JSON text, as written.
    pub(crate) event: String,
    /// The expected prediction (`golden import`'s `expected`).
    pub(crate) expected: Option<Value>,
}

/// Why the events file cannot be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventsError {
    /// It cannot be read.
    #[error("cannot read the events file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line is not what the file's first line says the file holds.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Only blank lines.
    #[error(
        "{0} holds no events: one JSON value a line, or {{\"event\": ..., \"expected\": ...}} a line"
    )]
    Empty(PathBuf),
}

/// What `init` takes of a line in `golden import`'s format (whose keys [`is_case`] checks).
#[derive(Deserialize)]
struct Case {
    event: Box<RawValue>,
    expected: Value,
}

/// The keys of a line in `golden import`'s format.
const CASE_KEYS: [&str; 5] = ["case_id", "tags", "event", "expected", "features"];

/// Whether `value` is a line of `golden import`'s format rather than an event.
fn is_case(value: &Value) -> bool {
    value.as_object().is_some_and(|o| {
        o.contains_key("event")
            && o.contains_key("expected")
            && o.keys().all(|k| CASE_KEYS.contains(&k.as_str()))
    })
}

/// The samples of the events file at `path`. The first line decides the format: a case
/// (`{"event": …, "expected": …}`) makes every line a case; anything else makes every line an
/// event.
pub(crate) fn read(path: &Path) -> Result<Vec<Sample>, EventsError> {
    let text = std::fs::read_to_string(path).map_err(|source| EventsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

fn parse(text: &str, path: &Path) -> Result<Vec<Sample>, EventsError> {
    let error = |line: usize, message: String| EventsError::Line {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut samples = Vec::new();
    let mut cases: Option<(bool, usize)> = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| {
            let text = e.to_string();
            let what = text.split(" at line ").next().unwrap_or(&text).to_owned();
            error(
                i + 1,
                format!("not a JSON value: {what} (column {})", e.column()),
            )
        })?;
        let (as_cases, first) = *cases.get_or_insert((is_case(&value), i + 1));
        if !as_cases {
            if is_case(&value) {
                return Err(error(
                    i + 1,
                    format!(
                        "an {{\"event\", \"expected\"}} line, but line {first} is a bare \
                         event: give every line one way"
                    ),
                ));
            }
            samples.push(Sample {
                event: line.to_owned(),
                expected: None,
            });
            continue;
        }
        let case = is_case(&value)
            .then(|| serde_json::from_str::<Case>(line).ok())
            .flatten()
            .ok_or_else(|| {
                error(
                    i + 1,
                    format!(
                        "not {{\"event\": ..., \"expected\": ...}} (keys: {}), as line \
                         {first} is: give every line one way",
                        CASE_KEYS.join(", ")
                    ),
                )
            })?;
        samples.push(Sample {
            event: case.event.get().to_owned(),
            expected: Some(case.expected),
        });
    }
    if samples.is_empty() {
        return Err(EventsError::Empty(path.to_path_buf()));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_reads_bare_events_and_golden_import_lines() {
        let path = Path::new("events.jsonl");
        let bare = parse("{\"x\": 1.50}\n\n[1, 2]\n", path).unwrap();
        assert_eq!(bare.len(), 2);
        assert_eq!(bare[0].event, "{\"x\": 1.50}");
        assert!(bare.iter().all(|s| s.expected.is_none()));

        let cases = parse(
            "{\"case_id\": \"a\", \"event\": {\"x\": 1.50}, \"expected\": [0.5]}\n\
             {\"event\": [1], \"expected\": {\"p\": 0.1}, \"tags\": [\"t\"]}\n",
            path,
        )
        .unwrap();
        // The event byte for byte, as `golden import` keeps it.
        assert_eq!(cases[0].event, "{\"x\": 1.50}");
        assert_eq!(cases[0].expected, Some(serde_json::json!([0.5])));
        assert_eq!(cases[1].expected, Some(serde_json::json!({"p": 0.1})));
    }

    #[test]
    fn init_names_the_line_that_breaks_the_format() {
        let path = Path::new("events.jsonl");
        let mixed = "{\"event\": 1, \"expected\": 2}\n{\"x\": 1}\n";
        let err = parse(mixed, path).unwrap_err().to_string();
        assert!(
            err.starts_with("events.jsonl:2: not {\"event\"") && err.contains("line 1 is"),
            "{err}"
        );
        let err = parse("{\"x\": 1}\n{\"event\": 1, \"expected\": 2}\n", path)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("events.jsonl:2: ") && err.contains("line 1 is a bare event"));
        let err = parse("{\"x\": 1}\n{oops\n", path).unwrap_err().to_string();
        assert!(err.starts_with("events.jsonl:2: not a JSON value"), "{err}");
        let err = parse("\n \n", path).unwrap_err().to_string();
        assert!(err.contains("holds no events"), "{err}");
    }
}
