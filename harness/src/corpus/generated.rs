//! Generated malformed payloads: proptest strategies that derive bad requests from the golden
//! events (so they reach deep into the contract) and from nothing at all (arbitrary JSON,
//! arbitrary bytes, truncated bodies). Events become requests through the spec's templates.

use super::edit::edit_json;
use crate::contract::{Contract, Shape};
use crate::golden::GoldenCase;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::fmt;

/// A generated request body.
#[derive(Clone)]
pub(crate) struct Payload {
    /// How it was made, for the failure report.
    pub(crate) recipe: String,
    /// The bytes sent.
    pub(crate) body: Vec<u8>,
    /// What an answer must look like if the function accepts it.
    pub(crate) shape: Shape,
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = String::from_utf8_lossy(&self.body);
        let shown: String = text.chars().take(400).collect();
        let more = if text.chars().count() > 400 {
            "..."
        } else {
            ""
        };
        write!(
            f,
            "{} ({} bytes): {shown}{more}",
            self.recipe,
            self.body.len()
        )
    }
}

/// Every path (to a value) in `value`, in the `a.b[0]` syntax edits understand.
fn paths(value: &Value, prefix: &str, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{prefix}[{i}]");
                out.push(p.clone());
                paths(v, &p, out);
            }
        }
        _ => {}
    }
}

fn keys(value: &Value, out: &mut std::collections::BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
        _ => {}
    }
}

/// Arbitrary JSON, with object keys drawn partly from the contract's own field names so that
/// nested objects look almost right.
fn json(known_keys: Vec<String>) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("JSON has no NaN or infinity", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        "\\PC{0,24}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        proptest::sample::select(known_keys),
        "[a-z_]{1,12}",
        "\\PC{0,8}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
    .boxed()
}

/// The strategy: a mix of mutated golden events, arbitrary JSON, arbitrary bytes and truncated
/// valid bodies.
pub(crate) fn payloads(
    cases: &[GoldenCase],
    contract: &Contract,
) -> impl Strategy<Value = Payload> + use<> {
    let events: Vec<Value> = cases.iter().map(GoldenCase::event_value).collect();
    let bodies: Vec<Vec<u8>> = cases
        .iter()
        .take(20)
        .map(|c| c.request_body(contract))
        .collect();
    let mut known = std::collections::BTreeSet::new();
    events.iter().for_each(|e| keys(e, &mut known));
    let known: Vec<String> = known.into_iter().chain(["id".to_owned()]).collect();
    let any_json = json(known);

    let mutated = {
        let events = events.clone();
        let template = contract.request.clone();
        let any_json = any_json.clone();
        (
            0..events.len().max(1),
            any::<prop::sample::Index>(),
            0..3u8,
            any_json,
        )
            .prop_map(move |(case, at, op, value)| {
                let mut event = events.get(case).cloned().unwrap_or(Value::Null);
                let mut all = Vec::new();
                paths(&event, "", &mut all);
                let recipe = if all.is_empty() {
                    event = value;
                    "the event replaced".to_owned()
                } else {
                    let path = &all[at.index(all.len())];
                    let (recipe, path, value) = match op {
                        0 => (format!("event.{path} replaced"), path.clone(), Some(value)),
                        1 => (format!("event.{path} removed"), path.clone(), None),
                        _ => {
                            let unknown = format!("{path}.unexpected_field");
                            (format!("event.{unknown} added"), unknown, Some(value))
                        }
                    };
                    // An edit that does not apply (a field added to a number) or changes
                    // nothing (a value replaced by itself) leaves the valid event, which is a
                    // fine payload too, and says so.
                    let original = event.clone();
                    let _ = edit_json(&mut event, &path, value);
                    if event == original {
                        format!("the golden event unchanged ({recipe} did not change it)")
                    } else {
                        recipe
                    }
                };
                Payload {
                    recipe,
                    body: template.render(event.to_string().as_bytes()),
                    shape: Shape::Single,
                }
            })
            .boxed()
    };
    let whole = any_json
        .clone()
        .prop_map(|v| Payload {
            recipe: "arbitrary JSON body".to_owned(),
            body: v.to_string().into_bytes(),
            shape: Shape::Unknown,
        })
        .boxed();
    let single = {
        let template = contract.request.clone();
        any_json
            .clone()
            .prop_map(move |v| Payload {
                recipe: "arbitrary JSON as the event".to_owned(),
                body: template.render(v.to_string().as_bytes()),
                shape: Shape::Single,
            })
            .boxed()
    };
    let batch = match &contract.batch {
        Some(batch) => {
            let template = batch.request.clone();
            proptest::collection::vec(any_json, 0..4)
                .prop_map(move |v| Payload {
                    recipe: "arbitrary JSON as a batch of events".to_owned(),
                    shape: Shape::Batch(v.len()),
                    body: template.render(Value::Array(v).to_string().as_bytes()),
                })
                .boxed()
        }
        None => single.clone(),
    };
    let bytes = proptest::collection::vec(any::<u8>(), 0..256)
        .prop_map(|b| Payload {
            recipe: "arbitrary bytes".to_owned(),
            body: b,
            shape: Shape::Unknown,
        })
        .boxed();
    let truncated = (0..bodies.len().max(1), any::<prop::sample::Index>())
        .prop_map(move |(case, at)| {
            let body = bodies.get(case).cloned().unwrap_or_default();
            let cut = if body.is_empty() {
                0
            } else {
                at.index(body.len())
            };
            Payload {
                recipe: format!("golden request truncated to {cut} bytes"),
                body: body[..cut].to_vec(),
                shape: Shape::Unknown,
            }
        })
        .boxed();
    prop_oneof![
        5 => mutated,
        1 => whole,
        1 => single,
        1 => batch,
        1 => bytes,
        1 => truncated,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_are_the_ones_edits_understand() {
        let mut request = json!({"a": {"b": [1, {"c": 2}]}});
        let mut all = Vec::new();
        paths(&request, "", &mut all);
        assert_eq!(all, ["a", "a.b", "a.b[0]", "a.b[1]", "a.b[1].c"]);
        edit_json(&mut request, "a.b[1].c", Some(json!("x"))).unwrap();
        edit_json(&mut request, "a.b[0]", None).unwrap();
        assert_eq!(request, json!({"a": {"b": [{"c": "x"}]}}));
    }

    #[test]
    fn a_mutation_that_leaves_the_event_as_it_was_says_unchanged() {
        use proptest::strategy::ValueTree;
        let case = GoldenCase {
            case_id: "c".to_owned(),
            event: serde_json::value::RawValue::from_string("{\"n\": 1}".to_owned()).unwrap(),
            expected: Value::Null,
            features: None,
        };
        let contract = crate::contract::Contract {
            request: crate::contract::Template::parse("\"$event\"", "$event").unwrap(),
            prediction: String::new(),
            batch: None,
            fields: Vec::new(),
            id: None,
            echo_model_sha256: None,
        };
        let strategy = payloads(std::slice::from_ref(&case), &contract);
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut seen = 0;
        for _ in 0..2000 {
            let payload = strategy.new_tree(&mut runner).unwrap().current();
            if payload.body == br#"{"n":1}"# && payload.recipe != "arbitrary JSON as the event" {
                assert!(payload.recipe.contains("unchanged"), "{payload:?}");
                seen += 1;
            } else if payload.recipe.starts_with("event.") {
                assert!(!payload.recipe.contains("unchanged"), "{payload:?}");
            }
        }
        assert!(seen > 0, "no mutation left the event as it was");
    }
}
