//! Malformed payloads: a generic corpus every function gets, and the function's own.
//!
//! The generic cases are bad for any contract: not JSON, empty, the wrong kind of JSON value,
//! invalid UTF-8, numbers no double holds, 10k-deep nesting, a body at Lambda's payload limit
//! and one over it. Each must get a structured answer the contract allows (the function's own
//! `errorType`, or a runtime error the team accepts, such as Python's
//! `Runtime.UnmarshalError`), within the timeout, and the function must still serve afterwards.
//!
//! The function's own corpus (`cases.json`, named in the spec) says for each payload which
//! `errorType` it must get and how the `errorMessage` starts (the JSON path of the problem).
//! Small bodies are written inline; big ones are described by a generator, so the repository
//! stays small and the bytes are still exactly reproducible. Most cases are one edit of a valid
//! base request, which keeps each case about one thing.

use crate::spec::MalformedSpec;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Lambda's synchronous payload cut-off: 6 MiB plus 100 bytes, as Lambda and the RIE apply it.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024 + 100;

/// What the function must answer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expect {
    /// This `errorType`, with an `errorMessage` starting with the prefix.
    Error {
        /// The `errorType`.
        error_type: String,
        /// How the `errorMessage` starts (the JSON path), if the corpus says.
        message_starts_with: Option<String>,
    },
    /// Any structured error the contract allows.
    ContractError,
    /// Lambda's own 413: the request is over the payload limit and never reaches the function.
    TooLarge,
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
    /// The answer the function must give.
    pub(crate) expect: Expect,
    /// Whether it comes from the generic corpus.
    pub(crate) generic: bool,
}

/// The generic cases: (name, why, body).
fn generic_cases() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let padding = |total: usize| {
        let mut body = b"{\"padding\": \"".to_vec();
        body.resize(total - 2, b'x');
        body.extend_from_slice(b"\"}");
        body
    };
    vec![
        ("empty-body", "no bytes at all", Vec::new()),
        ("whitespace-body", "only whitespace", b" \n\t ".to_vec()),
        ("not-json", "plain text", b"predict this please".to_vec()),
        (
            "truncated-json",
            "JSON cut off in the middle",
            b"{\"a\": [1, 2".to_vec(),
        ),
        (
            "single-quotes",
            "Python's repr, not JSON",
            b"{'a': 1}".to_vec(),
        ),
        ("json-null", "the literal null", b"null".to_vec()),
        ("json-true", "a boolean", b"true".to_vec()),
        ("json-number", "a number", b"42".to_vec()),
        ("json-string", "a string", b"\"event\"".to_vec()),
        ("json-empty-array", "[]", b"[]".to_vec()),
        ("json-empty-object", "{}", b"{}".to_vec()),
        (
            "invalid-utf8",
            "bytes that are not UTF-8",
            vec![0xff, 0xfe, 0x00, 0x7b],
        ),
        (
            "invalid-utf8-in-string",
            "a string with a byte that is not UTF-8",
            b"{\"a\": \"\xff\"}".to_vec(),
        ),
        (
            "lone-surrogate",
            "an unpaired UTF-16 escape",
            b"{\"a\": \"\\ud800\"}".to_vec(),
        ),
        (
            "nan-literal",
            "NaN is not JSON (Python's json accepts it)",
            b"{\"a\": NaN}".to_vec(),
        ),
        (
            "number-1e400",
            "a number no double holds",
            b"{\"a\": 1e400}".to_vec(),
        ),
        ("number-400-digits", "a 400-digit integer", {
            let mut body = b"{\"a\": 1".to_vec();
            body.extend(std::iter::repeat_n(b'0', 399));
            body.push(b'}');
            body
        }),
        ("deep-nesting-10k", "10,000 nested arrays", {
            let mut body = vec![b'['; 10_000];
            body.extend(std::iter::repeat_n(b']', 10_000));
            body
        }),
        (
            "body-at-the-limit",
            "6 MiB of JSON: the largest request Lambda passes on",
            padding(6 * 1024 * 1024),
        ),
        (
            "body-over-the-limit",
            "one byte over Lambda's payload limit",
            padding(LAMBDA_PAYLOAD_LIMIT + 1),
        ),
    ]
}

/// The names of the generic cases (for `malformed.skip_generic`).
pub(crate) fn generic_names() -> Vec<&'static str> {
    generic_cases().into_iter().map(|(name, ..)| name).collect()
}

/// The generic cases not skipped.
pub(crate) fn generic(skip: &[String]) -> Vec<MalformedCase> {
    generic_cases()
        .into_iter()
        .filter(|(name, ..)| !skip.iter().any(|s| s == name))
        .map(|(name, why, body)| MalformedCase {
            name: name.to_owned(),
            why: why.to_owned(),
            expect: if body.len() > LAMBDA_PAYLOAD_LIMIT {
                Expect::TooLarge
            } else {
                Expect::ContractError
            },
            body,
            generic: true,
        })
        .collect()
}

/// An expectation as the corpus file writes it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExpect {
    error_type: String,
    #[serde(default)]
    message_starts_with: Option<String>,
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
    /// `depth` nested arrays at `path` of the base request (the whole body without a path).
    DeepNesting {
        depth: usize,
        #[serde(default)]
        path: Option<String>,
    },
    /// The base request with the string at `path` replaced by `bytes` bytes of `fill`.
    LongString {
        path: String,
        bytes: usize,
        fill: String,
    },
    /// The base request with the first item of the array at `path` repeated `count` times.
    Repeat { path: String, count: usize },
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
    expect: Option<RawExpect>,
    #[serde(default)]
    lambda_rejects: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorpusFile {
    #[serde(default)]
    base_request: Value,
    cases: Vec<RawCase>,
}

/// Why the corpus cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
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

/// Loads the function's own corpus as the spec adapts it: cases skipped, expectations
/// replaced (each name must be a case of the corpus).
pub(crate) fn load_for(
    spec: &MalformedSpec,
    path: &Path,
) -> Result<Vec<MalformedCase>, CorpusError> {
    let mut cases = load(path)?;
    let unknown = spec
        .skip
        .iter()
        .chain(spec.expect_instead.keys())
        .find(|name| !cases.iter().any(|c| &c.name == *name));
    if let Some(name) = unknown {
        return Err(CorpusError::Invalid {
            path: path.to_path_buf(),
            message: format!(
                "the spec's malformed.skip or malformed.expect_instead names {name:?}, which is not a case of this corpus"
            ),
        });
    }
    cases.retain(|c| !spec.skip.contains(&c.name));
    for case in &mut cases {
        if let Some(error_type) = spec.expect_instead.get(&case.name) {
            case.expect = Expect::Error {
                error_type: error_type.clone(),
                message_starts_with: None,
            };
        }
    }
    Ok(cases)
}

/// Loads the function's own corpus file and materialises every body.
pub(crate) fn load(path: &Path) -> Result<Vec<MalformedCase>, CorpusError> {
    let text = std::fs::read(path).map_err(|source| CorpusError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let invalid = |message: String| CorpusError::Invalid {
        path: path.to_path_buf(),
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
        let expect = match (raw.expect, raw.lambda_rejects) {
            (_, true) => Expect::TooLarge,
            (Some(e), false) => Expect::Error {
                error_type: e.error_type,
                message_starts_with: e.message_starts_with,
            },
            (None, false) => {
                return Err(invalid(format!(
                    "case {}: needs `expect` (only requests Lambda rejects may omit it)",
                    raw.name
                )));
            }
        };
        cases.push(MalformedCase {
            name: raw.name,
            why: raw.why,
            body,
            expect,
            generic: false,
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
        Generator::DeepNesting { depth, path } => {
            let mut nested = vec![b'['; *depth];
            nested.extend(std::iter::repeat_n(b']', *depth));
            match path {
                None => Ok(nested),
                Some(path) => splice(base, path, &String::from_utf8_lossy(&nested)),
            }
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
        Generator::Repeat { path, count } => {
            let mut request = base.clone();
            let item = lookup(&request, path)?
                .as_array()
                .and_then(|items| items.first())
                .cloned()
                .ok_or_else(|| format!("{path}: not a non-empty array in the base request"))?;
            edit_json(&mut request, path, Some(Value::Array(vec![item; *count])))?;
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

fn lookup<'v>(value: &'v Value, path: &str) -> Result<&'v Value, String> {
    let mut node = value;
    for step in steps(path)? {
        node = match step {
            Step::Key(k) => node.get(k),
            Step::Index(i) => node.get(i),
        }
        .ok_or_else(|| format!("{path}: no such location in the base request"))?;
    }
    Ok(node)
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
        let deep = generate(
            &base(),
            &Generator::DeepNesting {
                depth: 3,
                path: Some("records".into()),
            },
        )
        .unwrap();
        assert_eq!(deep, br#"{"records":[[[]]]}"#);
        let bare = generate(
            &base(),
            &Generator::DeepNesting {
                depth: 2,
                path: None,
            },
        )
        .unwrap();
        assert_eq!(bare, b"[[]]");
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
        let many = generate(
            &base(),
            &Generator::Repeat {
                path: "records".into(),
                count: 3,
            },
        )
        .unwrap();
        let parsed: Value = serde_json::from_slice(&many).unwrap();
        assert_eq!(parsed["records"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn the_generic_corpus_straddles_lambdas_payload_limit() {
        let cases = generic(&[]);
        let at = cases
            .iter()
            .find(|c| c.name == "body-at-the-limit")
            .unwrap();
        assert_eq!(at.body.len(), 6 * 1024 * 1024);
        assert!(serde_json::from_slice::<Value>(&at.body).is_ok());
        assert_eq!(at.expect, Expect::ContractError);
        let over = cases
            .iter()
            .find(|c| c.name == "body-over-the-limit")
            .unwrap();
        assert_eq!(over.body.len(), LAMBDA_PAYLOAD_LIMIT + 1);
        assert_eq!(over.expect, Expect::TooLarge);
        let skipped = generic(&["json-empty-object".to_owned()]);
        assert_eq!(skipped.len(), cases.len() - 1);
    }

    /// The shipped corpus agrees with the shipped service, checked in process so a wrong
    /// expectation shows up without Docker (the gate then checks the real image).
    #[test]
    fn the_shipped_corpus_matches_the_service_in_process() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let corpus = load(&root.join("golden/malformed/cases.json")).unwrap();
        assert!(corpus.len() >= 40, "only {} cases", corpus.len());
        let function = service::Function::load(&root.join("models/artifacts")).unwrap();
        let mut wrong = Vec::new();
        for case in corpus.iter().chain(&generic(&[])) {
            match (function.handle_json(&case.body), &case.expect) {
                (Err(_), Expect::TooLarge | Expect::ContractError) => {}
                (
                    Err(e),
                    Expect::Error {
                        error_type,
                        message_starts_with,
                    },
                ) => {
                    let prefix = message_starts_with.as_deref().unwrap_or("");
                    if e.error_type() != error_type || !e.to_string().starts_with(prefix) {
                        wrong.push(format!(
                            "{}: expected {error_type} {prefix:?}, got {} {:?}",
                            case.name,
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
