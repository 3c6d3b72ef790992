//! A line of `catboost-predict` input (`catboost_eval::rows::parse_row`) and its evaluation,
//! with a golden-corpus model that has float and categorical features and every CTR type:
//! never a panic; a line that parses has one value of the right kind per feature, so it
//! evaluates.
#![no_main]

use catboost_eval::Model;
use catboost_eval::rows::parse_row;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static MODEL: LazyLock<Model> = LazyLock::new(|| {
    Model::from_json(include_bytes!(
        "../../golden/corpus/ctr_binary_str_all_types/model.json"
    ))
    .expect("the golden model loads")
});

fuzz_target!(|bytes: &[u8]| {
    // catboost-predict reads lines as UTF-8 text: other bytes stop it before parsing.
    let Ok(line) = std::str::from_utf8(bytes) else {
        return;
    };
    let Ok(row) = parse_row(line, MODEL.feature_kinds()) else {
        return;
    };
    let values: Vec<_> = row.values().collect();
    MODEL.predict(&values).expect("a parsed row evaluates");
});
