//! The generic malformed cases: bad requests for any contract.

use super::MalformedCase;
use crate::contract::Expect;
use crate::lambda;

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
        assert!(serde_json::from_slice::<serde_json::Value>(&at.body).is_ok());
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
