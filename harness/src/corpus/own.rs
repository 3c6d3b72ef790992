//! The function's own malformed cases (`cases.json`, named by `malformed.cases`).
//!
//! Small bodies are written inline; big ones are described by a generator, so the repository
//! stays small and the bytes are still exactly reproducible. A generated body is kept as its
//! parts ([`LazyBody`]) and made only when it is sent, so a corpus of many large bodies costs
//! one at a time. Most cases are one edit of a valid base request, which keeps each case about
//! one thing.

use super::body::LazyBody;
use super::edit::{edit_json, lookup};
use super::{CorpusError, MalformedCase, MalformedSpec};
use crate::contract::Expect;
use crate::lambda;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

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

/// Loads the function's own corpus as the spec adapts it: cases skipped, expectations
/// replaced (each name must be a case of the corpus).
pub(super) fn load_for(
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

/// Loads the function's own corpus file, every body as its parts (made when sent).
fn load(path: &Path) -> Result<Vec<MalformedCase>, CorpusError> {
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
        let over = body.len() > lambda::PAYLOAD_LIMIT;
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

fn materialise(base: &Value, body: &Body) -> Result<LazyBody, String> {
    match body {
        Body::Text(text) => Ok(LazyBody::bytes(text.as_bytes())),
        Body::Base64(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map(LazyBody::bytes)
            .map_err(|e| format!("bad base64: {e}")),
        Body::Json(value) => Ok(LazyBody::bytes(value.to_string())),
        Body::Edits(edits) => {
            let mut request = base.clone();
            for edit in edits {
                apply(&mut request, edit)?;
            }
            Ok(LazyBody::bytes(request.to_string()))
        }
        Body::Generate(generator) => generate(base, generator),
    }
}

/// The most bytes a generator may make: twice Lambda's payload limit. Lambda refuses every body
/// over its limit alike, so a larger one tests nothing more, and a body is made whole (one at a
/// time) when it is sent.
const MAX_GENERATED: usize = 2 * lambda::PAYLOAD_LIMIT;

/// Refuses a generator whose `key` would make `bytes` bytes, before anything is allocated.
fn bounded(key: &str, value: usize, bytes: usize) -> Result<(), String> {
    if bytes > MAX_GENERATED {
        return Err(format!(
            "`{key}` = {value} makes a body of about {bytes} bytes; at most {MAX_GENERATED} (twice Lambda's payload limit: anything over the limit is refused alike)"
        ));
    }
    Ok(())
}

fn generate(base: &Value, generator: &Generator) -> Result<LazyBody, String> {
    let base_bytes = base.to_string().len();
    match generator {
        Generator::DeepNesting { depth, .. } => {
            bounded(
                "depth",
                *depth,
                depth.saturating_mul(2).saturating_add(base_bytes),
            )?;
        }
        Generator::LongString { bytes, .. } => {
            bounded("bytes", *bytes, bytes.saturating_add(base_bytes))?;
        }
        Generator::LongNumber { digits, .. } => {
            bounded("digits", *digits, digits.saturating_add(base_bytes))?;
        }
        Generator::Repeat { count, .. } => {
            // Each repetition is at least one byte and a comma; the item's size is checked below.
            bounded(
                "count",
                *count,
                count.saturating_mul(2).saturating_add(base_bytes),
            )?;
        }
        Generator::Literal { .. } => {}
    }
    match generator {
        Generator::DeepNesting { depth, path } => {
            let nested = LazyBody::default()
                .then_repeat("[", *depth)
                .then_repeat("]", *depth);
            match path {
                None => Ok(nested),
                Some(path) => splice(base, path, nested),
            }
        }
        Generator::LongString { path, bytes, fill } => {
            if fill.is_empty() {
                return Err("fill must not be empty".to_owned());
            }
            // `fill` repeated and cut at `bytes` (at a character boundary), as a JSON string:
            // JSON escapes each character on its own, so the escaped fill repeats too.
            let escaped = |text: &str| {
                let quoted = Value::String(text.to_owned()).to_string();
                quoted[1..quoted.len() - 1].to_owned()
            };
            let rest = &fill[..fill.floor_char_boundary(bytes % fill.len())];
            let string = LazyBody::bytes("\"")
                .then_repeat(escaped(fill), bytes / fill.len())
                .then(escaped(rest))
                .then("\"");
            splice(base, path, string)
        }
        Generator::Repeat { path, count } => {
            let item = lookup(base, path)?
                .as_array()
                .and_then(|items| items.first())
                .ok_or_else(|| format!("{path}: not a non-empty array in the base request"))?
                .to_string();
            let item_bytes = item.len() + 1;
            bounded(
                "count",
                *count,
                count.saturating_mul(item_bytes).saturating_add(base_bytes),
            )?;
            let items = match count.checked_sub(1) {
                None => LazyBody::bytes("[]"),
                Some(more) => LazyBody::bytes("[")
                    .then_repeat(format!("{item},"), more)
                    .then(format!("{item}]")),
            };
            splice(base, path, items)
        }
        Generator::LongNumber { path, digits } => splice(
            base,
            path,
            LazyBody::bytes("1").then_repeat("0", digits.saturating_sub(1)),
        ),
        Generator::Literal { path, literal } => {
            splice(base, path, LazyBody::bytes(literal.as_bytes()))
        }
    }
}

/// The base request as text with `value` at `path`: serde cannot hold such values (nor should
/// it hold megabytes of them), so a marker string is set there and the text around it kept.
fn splice(base: &Value, path: &str, value: LazyBody) -> Result<LazyBody, String> {
    const MARKER: &str = "\u{0}splice\u{0}";
    let mut request = base.clone();
    edit_json(&mut request, path, Some(Value::String(MARKER.to_owned())))?;
    let marker = Value::String(MARKER.to_owned()).to_string();
    let text = request.to_string();
    let at = text.find(&marker).ok_or_else(|| {
        format!("{path}: the value's place is not in the serialized base request")
    })?;
    Ok(LazyBody::bytes(&text.as_bytes()[..at])
        .then_body(value)
        .then(&text.as_bytes()[at + marker.len()..]))
}

fn apply(request: &mut Value, edit: &Edit) -> Result<(), String> {
    match edit {
        Edit::Set { path, value } => edit_json(request, path, Some(value.clone())),
        Edit::Remove { path } => edit_json(request, path, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"records": [{"id": "a", "loan": {"amount": 1}}]})
    }

    #[test]
    fn a_generator_too_large_for_any_request_is_refused_before_it_allocates() {
        for (generator, key) in [
            (
                Generator::LongString {
                    path: "records[0].id".into(),
                    bytes: 100_000_000_000,
                    fill: "x".into(),
                },
                "`bytes` = 100000000000",
            ),
            (
                Generator::DeepNesting {
                    depth: usize::MAX,
                    path: None,
                },
                "`depth`",
            ),
            (
                Generator::Repeat {
                    path: "records".into(),
                    count: 1_000_000,
                },
                "`count` = 1000000",
            ),
            (
                Generator::LongNumber {
                    path: "records[0].loan.amount".into(),
                    digits: usize::MAX,
                },
                "`digits`",
            ),
        ] {
            let err = generate(&base(), &generator).unwrap_err();
            assert!(err.contains(key) && err.contains("at most"), "{err}");
        }
        // Just over Lambda's limit is still a case (a request Lambda refuses).
        let over = generate(
            &base(),
            &Generator::LongString {
                path: "records[0].id".into(),
                bytes: lambda::PAYLOAD_LIMIT + 1,
                fill: "x".into(),
            },
        )
        .unwrap();
        assert!(over.len() > lambda::PAYLOAD_LIMIT);
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
        assert_eq!(body.make(), br#"{"records":[{"loan":{"amount":"x"}}]}"#);
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
        .unwrap()
        .make();
        assert_eq!(deep, br#"{"records":[[[]]]}"#);
        let bare = generate(
            &base(),
            &Generator::DeepNesting {
                depth: 2,
                path: None,
            },
        )
        .unwrap()
        .make();
        assert_eq!(bare, b"[[]]");
        let long = generate(
            &base(),
            &Generator::LongString {
                path: "records[0].id".into(),
                bytes: 10,
                fill: "é".into(),
            },
        )
        .unwrap()
        .make();
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
        .unwrap()
        .make();
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
        .unwrap()
        .make();
        let parsed: Value = serde_json::from_slice(&many).unwrap();
        assert_eq!(parsed["records"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_generated_string_is_the_json_string_serde_writes() {
        // Characters JSON escapes, one of two bytes, cut inside a character: the parts must be
        // exactly what setting the string as a value and serializing the request gives.
        for (fill, bytes) in [("a\"b\\\n\u{1}é", 23), ("é", 7), ("x", 0), ("ab", 1)] {
            let made = generate(
                &base(),
                &Generator::LongString {
                    path: "records[0].id".into(),
                    bytes,
                    fill: fill.into(),
                },
            )
            .unwrap();
            let mut text = fill.repeat(bytes / fill.len() + 1);
            text.truncate(text.floor_char_boundary(bytes));
            let mut request = base();
            edit_json(&mut request, "records[0].id", Some(Value::String(text))).unwrap();
            assert_eq!(made.make(), request.to_string().into_bytes(), "{fill:?}");
            assert_eq!(made.len(), made.make().len());
        }
        for count in [0, 1, 4] {
            let made = generate(
                &base(),
                &Generator::Repeat {
                    path: "records".into(),
                    count,
                },
            )
            .unwrap();
            let mut request = base();
            let item = request["records"][0].clone();
            edit_json(
                &mut request,
                "records",
                Some(Value::Array(vec![item; count])),
            )
            .unwrap();
            assert_eq!(made.make(), request.to_string().into_bytes(), "{count}");
        }
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
        for case in corpus.iter().chain(&super::super::generic::generic(&[])) {
            match (function.handle_json(&case.body.make()), &case.expect) {
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
