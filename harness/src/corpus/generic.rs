//! The generic malformed cases: bad requests for any contract.

use super::{LazyBody, MalformedCase};
use crate::contract::Expect;
use crate::lambda;

/// The generic cases: (name, why, body).
fn generic_cases() -> Vec<(&'static str, &'static str, LazyBody)> {
    // A JSON object of `total` bytes: made when sent, like every body of the corpus.
    let padding = |total: usize| {
        let open = b"{\"padding\": \"";
        LazyBody::bytes(open.as_slice())
            .then_repeat("x", total - open.len() - 2)
            .then("\"}")
    };
    let small = |bytes: &[u8]| LazyBody::bytes(bytes);
    vec![
        ("empty-body", "no bytes at all", LazyBody::default()),
        ("whitespace-body", "only whitespace", small(b" \n\t ")),
        ("not-json", "plain text", small(b"predict this please")),
        (
            "truncated-json",
            "JSON cut off in the middle",
            small(b"{\"a\": [1, 2"),
        ),
        (
            "single-quotes",
            "Python's repr, not JSON",
            small(b"{'a': 1}"),
        ),
        ("json-null", "the literal null", small(b"null")),
        ("json-true", "a boolean", small(b"true")),
        ("json-number", "a number", small(b"42")),
        ("json-string", "a string", small(b"\"event\"")),
        ("json-empty-array", "[]", small(b"[]")),
        ("json-empty-object", "{}", small(b"{}")),
        (
            "invalid-utf8",
            "bytes that are not UTF-8",
            small(&[0xff, 0xfe, 0x00, 0x7b]),
        ),
        (
            "invalid-utf8-in-string",
            "a string with a byte that is not UTF-8",
            small(b"{\"a\": \"\xff\"}"),
        ),
        (
            "lone-surrogate",
            "an unpaired UTF-16 escape",
            small(b"{\"a\": \"\\ud800\"}"),
        ),
        (
            "nan-literal",
            "NaN is not JSON (Python's json accepts it)",
            small(b"{\"a\": NaN}"),
        ),
        (
            "number-1e400",
            "a number no double holds",
            small(b"{\"a\": 1e400}"),
        ),
        (
            "number-400-digits",
            "a 400-digit integer",
            LazyBody::bytes("{\"a\": 1").then_repeat("0", 399).then("}"),
        ),
        (
            "deep-nesting-10k",
            "10,000 nested arrays",
            LazyBody::default()
                .then_repeat("[", 10_000)
                .then_repeat("]", 10_000),
        ),
        (
            "body-at-the-limit",
            "6 MiB of JSON: the largest request Lambda passes on",
            padding(6 * 1024 * 1024),
        ),
        (
            "body-over-the-limit",
            "one byte over Lambda's payload limit",
            padding(lambda::PAYLOAD_LIMIT + 1),
        ),
    ]
}

/// The names of the generic cases (what `malformed.skip_generic` may name).
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
            expect: if body.len() > lambda::PAYLOAD_LIMIT {
                Expect::TooLarge
            } else {
                Expect::ContractError
            },
            body,
            generic: true,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generic_corpus_straddles_lambdas_payload_limit() {
        let cases = generic(&[]);
        let at = cases
            .iter()
            .find(|c| c.name == "body-at-the-limit")
            .unwrap();
        assert_eq!(at.body.len(), 6 * 1024 * 1024);
        assert_eq!(at.body.make().len(), 6 * 1024 * 1024);
        assert!(serde_json::from_slice::<serde_json::Value>(&at.body.make()).is_ok());
        assert_eq!(at.expect, Expect::ContractError);
        let over = cases
            .iter()
            .find(|c| c.name == "body-over-the-limit")
            .unwrap();
        assert_eq!(over.body.len(), lambda::PAYLOAD_LIMIT + 1);
        assert_eq!(over.expect, Expect::TooLarge);
        let skipped = generic(&["json-empty-object".to_owned()]);
        assert_eq!(skipped.len(), cases.len() - 1);
    }
}
