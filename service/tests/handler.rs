//! The Lambda contract, exercised in process through `Function::handle_json` (which
//! `bootstrap` hands each raw request body), with the shipped model.

use proptest::prelude::*;
use serde_json::{Value, json};
use service::{Function, FunctionError, MAX_RECORDS};
use std::path::Path;
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the service crate lives in the workspace")
}

fn function() -> &'static Function {
    static FUNCTION: OnceLock<Function> = OnceLock::new();
    FUNCTION.get_or_init(|| {
        Function::load(&root().join("models/artifacts")).expect("the shipped model loads")
    })
}

/// The golden inputs, as raw event text, with the training-time predictions.
fn golden() -> &'static [(String, String, Value)] {
    static GOLDEN: OnceLock<Vec<(String, String, Value)>> = OnceLock::new();
    GOLDEN.get_or_init(read_golden)
}

fn read_golden() -> Vec<(String, String, Value)> {
    let inputs = std::fs::read_to_string(root().join("golden/inputs.jsonl")).expect("inputs");
    let expected = std::fs::read_to_string(root().join("golden/expected.jsonl")).expect("expected");
    let expected: Vec<Value> = expected
        .lines()
        .map(|l| serde_json::from_str(l).expect("an expected.jsonl line"))
        .collect();
    inputs
        .lines()
        .zip(expected)
        .map(|(line, exp)| {
            #[derive(serde::Deserialize)]
            struct Input<'a> {
                case_id: String,
                #[serde(borrow)]
                event: &'a serde_json::value::RawValue,
            }
            let input: Input<'_> = serde_json::from_str(line).expect("an inputs.jsonl line");
            assert_eq!(exp["case_id"], input.case_id.as_str());
            (input.case_id, input.event.get().to_owned(), exp)
        })
        .collect()
}

fn body(events: &[&str]) -> Vec<u8> {
    format!("{{\"records\":[{}]}}", events.join(",")).into_bytes()
}

fn error(body: &[u8]) -> FunctionError {
    match function().handle_json(body) {
        Ok(response) => panic!(
            "expected an error for {:?}, got {response:?}",
            String::from_utf8_lossy(body)
        ),
        Err(e) => e,
    }
}

#[test]
fn every_golden_case_gets_the_training_time_prediction_singly_and_in_one_batch() {
    let cases = golden();
    assert!(cases.len() >= 200, "only {} golden cases", cases.len());
    let check = |case_id: &str, got: &service::PredictionRecord, exp: &Value| {
        let p = exp["prediction"]["probability"].as_f64().unwrap();
        assert!(
            (got.probability - p).abs() <= 1e-9,
            "{case_id}: probability {} vs training-time {p}",
            got.probability
        );
        assert_eq!(got.class, exp["prediction"]["class"], "{case_id}: class");
    };
    for (case_id, event, exp) in cases {
        let response = function().handle_json(&body(&[event])).unwrap();
        assert_eq!(response.predictions.len(), 1);
        check(case_id, &response.predictions[0], exp);
    }
    let events: Vec<&str> = cases.iter().map(|(_, e, _)| e.as_str()).collect();
    let response = function().handle_json(&body(&events)).unwrap();
    assert_eq!(response.predictions.len(), cases.len());
    for ((case_id, _, exp), got) in cases.iter().zip(&response.predictions) {
        check(case_id, got, exp);
    }
}

#[test]
fn the_response_echoes_ids_and_names_the_model() {
    let cases = golden();
    let (_, event, _) = &cases[0];
    let mut with_id: Value = serde_json::from_str(event).unwrap();
    with_id["id"] = json!("app-42");
    let mut without_id = with_id.clone();
    without_id.as_object_mut().unwrap().remove("id");
    let request = json!({"records": [with_id, without_id]}).to_string();
    let response = function().handle_json(request.as_bytes()).unwrap();
    let out = serde_json::to_value(&response).unwrap();
    assert_eq!(out["predictions"][0]["id"], "app-42");
    assert!(out["predictions"][1].get("id").is_none(), "{out}");
    let metadata: Value = serde_json::from_slice(
        &std::fs::read(root().join("models/artifacts/metadata.json")).unwrap(),
    )
    .unwrap();
    for p in out["predictions"].as_array().unwrap() {
        assert_eq!(p["model_sha256"], metadata["model_sha256"]);
        assert_eq!(p["model_version"], metadata["model_version"]);
    }
}

#[test]
fn bodies_that_are_not_requests_get_invalid_payload_with_a_path() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "."),
        (b"not json", "."),
        (b"null", "."),
        (b"[]", "."),
        (b"{}", "."),
        (b"{\"records\": null}", "records"),
        (b"{\"records\": {}}", "records"),
        (b"{\"records\": [], \"extra\": 1}", "extra"),
        (b"{\"records\": [1]}", "records[0]"),
        (b"{\"records\": []}", "records"),
        (b"\xff\xfe{\"records\": []}", "."),
        (b"{\"records\": [\"\xff\"]}", "records[0]"),
    ];
    for (body, path) in cases {
        let e = error(body);
        assert_eq!(e.error_type(), "InvalidPayload", "{e}");
        assert!(
            e.to_string().starts_with(path),
            "{:?}: message {e:?} should start with {path:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn field_level_problems_name_the_record_and_the_field() {
    let cases = golden();
    let (_, event, _) = &cases[0];
    let base: Value = serde_json::from_str(event).unwrap();

    let mut wrong_type = base.clone();
    wrong_type["loan"]["amount"] = json!("a lot");
    let e = error(
        json!({"records": [base.clone(), wrong_type]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(e.error_type(), "InvalidPayload");
    assert!(e.to_string().starts_with("records[1].loan.amount"), "{e}");

    let mut unknown = base.clone();
    unknown["applicant"]["shoe_size"] = json!(42);
    let e = error(json!({"records": [unknown]}).to_string().as_bytes());
    assert_eq!(e.error_type(), "InvalidPayload");
    assert!(e.to_string().starts_with("records[0].applicant"), "{e}");
    assert!(e.to_string().contains("shoe_size"), "{e}");

    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("loan");
    let e = error(json!({"records": [missing]}).to_string().as_bytes());
    assert_eq!(e.error_type(), "InvalidPayload");
    assert!(e.to_string().contains("loan"), "{e}");

    let mut negative = base.clone();
    negative["loan"]["amount"] = json!(-5);
    let e = error(json!({"records": [negative]}).to_string().as_bytes());
    assert!(
        ["InvalidPayload", "InvalidRecord"].contains(&e.error_type()),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("records[0].loan.amount"), "{e}");
}

#[test]
fn oversized_batches_and_deep_nesting_are_refused_cleanly() {
    let cases = golden();
    let (_, event, _) = &cases[0];
    let events = vec![event.as_str(); MAX_RECORDS + 1];
    let e = error(&body(&events));
    assert_eq!(e.error_type(), "BatchTooLarge", "{e}");

    let deep = format!(
        "{{\"records\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let e = error(deep.as_bytes());
    assert_eq!(e.error_type(), "InvalidPayload", "{e}");
}

/// Arbitrary JSON shaped like a request or not; object keys partly from the contract.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        Just("records".to_owned()),
        Just("applicant".to_owned()),
        Just("loan".to_owned()),
        Just("tradelines".to_owned()),
        Just("id".to_owned()),
        "[a-z_]{1,10}",
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// No JSON value, and no byte string, makes the handler panic; every refusal is one of the
    /// contract's error types with a non-empty message.
    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json(), wrap in any::<bool>()) {
        let body = if wrap { json!({"records": [value]}) } else { value };
        if let Err(e) = function().handle_json(body.to_string().as_bytes()) {
            prop_assert!(["InvalidPayload", "InvalidRecord", "BatchTooLarge"].contains(&e.error_type()), "{e:?}");
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(e) = function().handle_json(&bytes) {
            prop_assert!(["InvalidPayload", "InvalidRecord", "BatchTooLarge"].contains(&e.error_type()), "{e:?}");
        }
    }

    /// Every value of a real event replaced by arbitrary JSON: refused with the path of that
    /// value (or accepted, when the replacement is valid there).
    #[test]
    fn a_bad_value_anywhere_in_a_real_event_is_refused_with_its_path(
        case in 0usize..50,
        at in any::<prop::sample::Index>(),
        value in arbitrary_json(),
    ) {
        let cases = golden();
        let (_, event, _) = &cases[case % cases.len()];
        let mut event: Value = serde_json::from_str(event).unwrap();
        let mut pointers = Vec::new();
        collect_pointers(&event, String::new(), &mut pointers);
        let pointer = &pointers[at.index(pointers.len())];
        *event.pointer_mut(pointer).unwrap() = value;
        let body = json!({"records": [event]}).to_string();
        if let Err(e) = function().handle_json(body.as_bytes()) {
            prop_assert!(["InvalidPayload", "InvalidRecord"].contains(&e.error_type()), "{e:?}");
            prop_assert!(e.to_string().starts_with("records[0]"), "{e}");
        }
    }
}

fn collect_pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                collect_pointers(v, p, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                collect_pointers(v, p, out);
            }
        }
        _ => {}
    }
}

/// The message of a bad body is the one a path-tracking parse gives (the fast parse does not
/// track paths; the body is parsed again with tracking to describe the failure).
#[test]
fn invalid_payload_messages_are_those_of_a_path_tracking_parse() {
    let cases: &[(&[u8], &str)] = &[
        (
            br#"{"records":[{"id":1}]}"#,
            "records[0].id: invalid type: integer `1`, expected a string at line 1 column 19",
        ),
        (
            br#"{"records":[{"loan":{"amount": tru}}]}"#,
            "records[0].loan.amount: expected ident at line 1 column 35",
        ),
        (
            b"{\"records\":[]",
            ".: EOF while parsing an object at line 1 column 13",
        ),
    ];
    for (body, message) in cases {
        assert_eq!(error(body).to_string(), *message);
    }
}
