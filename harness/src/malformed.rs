//! The curated corpus of malformed payloads, `golden/malformed/cases.json`.
//!
//! Each case says how to make its request body and which structured error the function must
//! answer with. Small bodies are written inline; the big ones (10k-deep nesting, megabyte
//! strings, a request over 6 MB) are described by a generator, so the repository stays small and
//! the bytes are still exactly reproducible. Most cases are one edit of a valid base request,
//! which keeps each case about one thing.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Lambda's synchronous payload cut-off: 6 MiB plus 100 bytes, as Lambda and the RIE apply it.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024 + 100;

/// What the function must answer.
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expectation {
    /// The `errorType` the function must return.
    pub(crate) error_type: String,
    /// A prefix the `errorMessage` must start with (the JSON path of the problem).
    #[serde(default)]
    pub(crate) message_starts_with: Option<String>,
}

/// One edit of the base request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Edit {
    /// Set the value at a path (creating the last key if needed).
    Set { path: String, value: Value },
    /// Remove the value at a path.
    Remove { path: String },
}

/// How a case's body is produced.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Body {
    /// These bytes, verbatim (UTF-8 text).
    Text(String),
    /// These bytes, base64-encoded (for invalid UTF-8).
    Base64(String),
    /// This JSON value, serialized compactly.
    Json(Value),
    /// The base request with these edits applied.
    Edits(Vec<Edit>),
    /// A large body made by a generator.
    Generate(Generator),
}

/// Generators for bodies too large to commit.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
enum Generator {
    /// `depth` nested arrays as the `records` value: `{"records":[[[...]]]}`.
    DeepNesting { depth: usize },
    /// The base request with the string at `path` replaced by `bytes` bytes of `fill`.
    LongString {
        path: String,
        bytes: usize,
        fill: String,
    },
    /// The base request with its record repeated `count` times.
    ManyRecords { count: usize },
    /// A number literal with `digits` digits at `path` (written into the JSON text).
    LongNumber { path: String, digits: usize },
    /// Any JSON text (even text serde cannot hold, like `1e400` or `"\ud800"`) at `path`.
    Literal { path: String, literal: String },
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    name: String,
    why: String,
    body: Body,
    #[serde(default)]
    expect: Option<Expectation>,
    #[serde(default)]
    lambda_rejects: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    base_request: Value,
    cases: Vec<RawCase>,
}

/// A malformed payload, ready to send.
#[derive(Clone, Debug)]
pub(crate) struct MalformedCase {
    /// Unique name.
    pub(crate) name: String,
    /// What it exercises.
    pub(crate) why: String,
    /// The request body.
    pub(crate) body: Vec<u8>,
    /// The answer the function must give; `None` only for requests Lambda rejects before the
    /// function runs (any structured error is then accepted from the truncating RIE).
    pub(crate) expect: Option<Expectation>,
    /// Whether the body is over Lambda's payload limit (Lambda answers 413 itself).
    pub(crate) lambda_rejects: bool,
}

/// Why the corpus cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a corpus.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (case name first).
        message: String,
    },
}

/// Loads `dir/cases.json` and materialises every body.
pub(crate) fn load(dir: &Path) -> Result<Vec<MalformedCase>, CorpusError> {
    let path = dir.join("cases.json");
    let text = std::fs::read(&path).map_err(|source| CorpusError::Read {
        path: path.clone(),
        source,
    })?;
    let invalid = |message: String| CorpusError::Invalid {
        path: path.clone(),
        message,
    };
    let file: CorpusFile = serde_json::from_slice(&text).map_err(|e| invalid(e.to_string()))?;
    let mut names = std::collections::HashSet::new();
    let mut cases = Vec::with_capacity(file.cases.len());
    for raw in file.cases {
        if !names.insert(raw.name.clone()) {
            return Err(invalid(format!("duplicate case name {}", raw.name)));
        }
        let body = materialise(&file.base_request, &raw.body)
            .map_err(|m| invalid(format!("case {}: {m}", raw.name)))?;
        let over = body.len() > LAMBDA_PAYLOAD_LIMIT;
        if over != raw.lambda_rejects {
            return Err(invalid(format!(
                "case {}: body is {} bytes, so lambda_rejects must be {over}",
                raw.name,
                body.len()
            )));
        }
        if raw.expect.is_none() && !raw.lambda_rejects {
            return Err(invalid(format!(
                "case {}: needs `expect` (only requests Lambda rejects may omit it)",
                raw.name
            )));
        }
        cases.push(MalformedCase {
            name: raw.name,
            why: raw.why,
            body,
            expect: raw.expect,
            lambda_rejects: raw.lambda_rejects,
        });
    }
    Ok(cases)
}

fn materialise(base: &Value, body: &Body) -> Result<Vec<u8>, String> {
    match body {
        Body::Text(text) => Ok(text.as_bytes().to_vec()),
        Body::Base64(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("bad base64: {e}")),
        Body::Json(value) => Ok(value.to_string().into_bytes()),
        Body::Edits(edits) => {
            let mut request = base.clone();
            for edit in edits {
                apply(&mut request, edit)?;
            }
            Ok(request.to_string().into_bytes())
        }
        Body::Generate(generator) => generate(base, generator),
    }
}

fn generate(base: &Value, generator: &Generator) -> Result<Vec<u8>, String> {
    match generator {
        Generator::DeepNesting { depth } => {
            let mut body = b"{\"records\":".to_vec();
            body.extend(std::iter::repeat_n(b'[', *depth));
            body.extend(std::iter::repeat_n(b']', *depth));
            body.push(b'}');
            Ok(body)
        }
        Generator::LongString { path, bytes, fill } => {
            if fill.is_empty() {
                return Err("fill must not be empty".to_owned());
            }
            let mut text = fill.repeat(bytes / fill.len() + 1);
            text.truncate(text.floor_char_boundary(*bytes));
            let mut request = base.clone();
            apply(
                &mut request,
                &Edit::Set {
                    path: path.clone(),
                    value: Value::String(text),
                },
            )?;
            Ok(request.to_string().into_bytes())
        }
        Generator::ManyRecords { count } => {
            let record = base["records"][0].clone();
            let mut request = base.clone();
            request["records"] = Value::Array(vec![record; *count]);
            Ok(request.to_string().into_bytes())
        }
        Generator::LongNumber { path, digits } => {
            let number = format!("1{}", "0".repeat(digits.saturating_sub(1)));
            splice(base, path, &number)
        }
        Generator::Literal { path, literal } => splice(base, path, literal),
    }
}

/// The base request as text with `literal` at `path`: serde cannot hold such values, so a
/// marker string is set there and replaced in the serialized text.
fn splice(base: &Value, path: &str, literal: &str) -> Result<Vec<u8>, String> {
    const MARKER: &str = "\u{0}splice\u{0}";
    let mut request = base.clone();
    edit_json(&mut request, path, Some(Value::String(MARKER.to_owned())))?;
    let marker = Value::String(MARKER.to_owned()).to_string();
    Ok(request
        .to_string()
        .replacen(&marker, literal, 1)
        .into_bytes())
}

/// A path step: an object key or an array index.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Parses `records[0].applicant.income.annual` into steps.
fn steps(path: &str) -> Result<Vec<Step<'_>>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            out.push(Step::Key(key));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let end = stripped
                .find(']')
                .ok_or_else(|| format!("unclosed [ in {path}"))?;
            let index = stripped[..end]
                .parse()
                .map_err(|_| format!("bad index in {path}"))?;
            out.push(Step::Index(index));
            rest = &stripped[end + 1..];
        }
    }
    if out.is_empty() {
        return Err("empty path".to_owned());
    }
    Ok(out)
}

fn apply(request: &mut Value, edit: &Edit) -> Result<(), String> {
    match edit {
        Edit::Set { path, value } => edit_json(request, path, Some(value.clone())),
        Edit::Remove { path } => edit_json(request, path, None),
    }
}

/// Sets (`Some`) or removes (`None`) the value at `path` (`records[0].loan.amount` syntax);
/// setting may create the last object key.
pub(crate) fn edit_json(
    request: &mut Value,
    path: &str,
    value: Option<Value>,
) -> Result<(), String> {
    let steps = steps(path)?;
    let (last, parents) = steps.split_last().ok_or("empty path")?;
    let mut node = request;
    for step in parents {
        node = match step {
            Step::Key(k) => node.get_mut(*k),
            Step::Index(i) => node.get_mut(*i),
        }
        .ok_or_else(|| format!("{path}: no such location in the base request"))?;
    }
    match (last, value, node) {
        (Step::Key(k), Some(v), Value::Object(map)) => {
            map.insert((*k).to_owned(), v);
        }
        (Step::Key(k), None, Value::Object(map)) => {
            map.remove(*k)
                .ok_or_else(|| format!("{path}: nothing to remove"))?;
        }
        (Step::Index(i), Some(v), Value::Array(items)) if *i < items.len() => items[*i] = v,
        (Step::Index(i), None, Value::Array(items)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => return Err(format!("{path}: no such location in the base request")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"records": [{"id": "a", "loan": {"amount": 1}}]})
    }

    #[test]
    fn edits_set_and_remove_nested_values() {
        let body = materialise(
            &base(),
            &Body::Edits(vec![
                Edit::Set {
                    path: "records[0].loan.amount".into(),
                    value: json!("x"),
                },
                Edit::Remove {
                    path: "records[0].id".into(),
                },
            ]),
        )
        .unwrap();
        assert_eq!(body, br#"{"records":[{"loan":{"amount":"x"}}]}"#);
    }

    #[test]
    fn an_edit_of_a_missing_location_is_an_error() {
        let err = materialise(
            &base(),
            &Body::Edits(vec![Edit::Remove {
                path: "records[3].id".into(),
            }]),
        )
        .unwrap_err();
        assert!(err.contains("records[3].id"), "{err}");
    }

    #[test]
    fn generators_make_the_promised_bodies() {
        let deep = generate(&base(), &Generator::DeepNesting { depth: 3 }).unwrap();
        assert_eq!(deep, br#"{"records":[[[]]]}"#);
        let long = generate(
            &base(),
            &Generator::LongString {
                path: "records[0].id".into(),
                bytes: 10,
                fill: "é".into(),
            },
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(long).unwrap(),
            r#"{"records":[{"id":"ééééé","loan":{"amount":1}}]}"#
        );
        let number = generate(
            &base(),
            &Generator::LongNumber {
                path: "records[0].loan.amount".into(),
                digits: 5,
            },
        )
        .unwrap();
        assert_eq!(
            number,
            br#"{"records":[{"id":"a","loan":{"amount":10000}}]}"#
        );
        let many = generate(&base(), &Generator::ManyRecords { count: 3 }).unwrap();
        let parsed: Value = serde_json::from_slice(&many).unwrap();
        assert_eq!(parsed["records"].as_array().unwrap().len(), 3);
    }

    /// The shipped corpus agrees with the shipped service, checked in process so a wrong
    /// expectation shows up without Docker (the gate then checks the real image).
    #[test]
    fn the_shipped_corpus_matches_the_service_in_process() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let corpus = load(&root.join("golden/malformed")).unwrap();
        assert!(corpus.len() >= 40, "only {} cases", corpus.len());
        let function = service::Function::load(&root.join("models/artifacts")).unwrap();
        let mut wrong = Vec::new();
        for case in &corpus {
            match (function.handle_json(&case.body), &case.expect) {
                (Err(_), None) => {}
                (Err(e), Some(expect)) => {
                    let prefix = expect.message_starts_with.as_deref().unwrap_or("");
                    if e.error_type() != expect.error_type || !e.to_string().starts_with(prefix) {
                        wrong.push(format!(
                            "{}: expected {} {prefix:?}, got {} {:?}",
                            case.name,
                            expect.error_type,
                            e.error_type(),
                            e.to_string()
                        ));
                    }
                }
                (Ok(_), _) => wrong.push(format!("{}: accepted", case.name)),
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
