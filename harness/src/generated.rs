//! Generated malformed payloads: proptest strategies that derive bad requests from the golden
//! events (so they reach deep into the contract) and from nothing at all (arbitrary JSON,
//! arbitrary bytes, truncated bodies).

use crate::golden::{GoldenCase, batch_body};
use crate::malformed::edit_json;
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

/// Every JSON path (to a value) in `value`, with `records[0].` in front, as the function
/// reports them.
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
pub(crate) fn payloads(cases: &[GoldenCase]) -> impl Strategy<Value = Payload> + use<> {
    let events: Vec<Value> = cases
        .iter()
        .filter_map(|c| serde_json::from_str(c.event.get()).ok())
        .collect();
    let bodies: Vec<Vec<u8>> = cases.iter().take(20).map(|c| batch_body([c])).collect();
    let mut known = std::collections::BTreeSet::new();
    events.iter().for_each(|e| keys(e, &mut known));
    known.insert("records".to_owned());
    let known: Vec<String> = known.into_iter().collect();
    let any_json = json(known.clone());

    let mutated = {
        let events = events.clone();
        let any_json = any_json.clone();
        (
            0..events.len().max(1),
            any::<prop::sample::Index>(),
            0..3u8,
            any_json,
        )
            .prop_map(move |(case, at, op, value)| {
                let event = events.get(case).cloned().unwrap_or(Value::Null);
                let mut all = Vec::new();
                paths(&event, "records[0]", &mut all);
                let mut request = serde_json::json!({ "records": [event] });
                let recipe = if all.is_empty() {
                    request["records"][0] = value;
                    "records[0] replaced".to_owned()
                } else {
                    let path = &all[at.index(all.len())];
                    let (recipe, path, value) = match op {
                        0 => (format!("{path} replaced"), path.clone(), Some(value)),
                        1 => (format!("{path} removed"), path.clone(), None),
                        _ => {
                            let unknown = format!("{path}.unexpected_field");
                            (format!("{unknown} added"), unknown, Some(value))
                        }
                    };
                    // An edit that does not apply (a field added to a number) leaves the valid
                    // event, which is a fine payload too.
                    let _ = edit_json(&mut request, &path, value);
                    recipe
                };
                Payload {
                    recipe,
                    body: request.to_string().into_bytes(),
                }
            })
    };
    let whole = any_json.clone().prop_map(|v| Payload {
        recipe: "arbitrary JSON body".to_owned(),
        body: v.to_string().into_bytes(),
    });
    let records = proptest::collection::vec(any_json, 0..4).prop_map(|v| Payload {
        recipe: "arbitrary records".to_owned(),
        body: serde_json::json!({ "records": v }).to_string().into_bytes(),
    });
    let bytes = proptest::collection::vec(any::<u8>(), 0..256).prop_map(|b| Payload {
        recipe: "arbitrary bytes".to_owned(),
        body: b,
    });
    let truncated =
        (0..bodies.len().max(1), any::<prop::sample::Index>()).prop_map(move |(case, at)| {
            let body = bodies.get(case).cloned().unwrap_or_default();
            let cut = if body.is_empty() {
                0
            } else {
                at.index(body.len())
            };
            Payload {
                recipe: format!("golden body truncated to {cut} bytes"),
                body: body[..cut].to_vec(),
            }
        });
    prop_oneof![
        5 => mutated,
        2 => whole,
        1 => records,
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
        let mut request = json!({"records": [{"a": {"b": [1, {"c": 2}]}}]});
        let mut all = Vec::new();
        paths(&request["records"][0], "records[0]", &mut all);
        assert_eq!(
            all,
            [
                "records[0].a",
                "records[0].a.b",
                "records[0].a.b[0]",
                "records[0].a.b[1]",
                "records[0].a.b[1].c"
            ]
        );
        edit_json(&mut request, "records[0].a.b[1].c", Some(json!("x"))).unwrap();
        edit_json(&mut request, "records[0].a.b[0]", None).unwrap();
        assert_eq!(request, json!({"records": [{"a": {"b": [{"c": "x"}]}}]}));
    }
}
