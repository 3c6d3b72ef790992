//! Arbitrary bytes as a request body to the Lambda handler (`Function::handle_json`, which
//! `bootstrap` hands each raw body), with the shipped model. Every body ends in a response or a
//! `FunctionError`, never a panic: an `Ok` serializes to JSON with a probability in [0, 1] per
//! record, an `Err` has a stable, non-empty `errorType` and a message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use service::Function;
use std::path::Path;
use std::sync::LazyLock;

static FUNCTION: LazyLock<Function> = LazyLock::new(|| {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/artifacts");
    Function::load(&dir).expect("the shipped model loads")
});

fuzz_target!(|body: &[u8]| {
    match FUNCTION.handle_json(body) {
        Ok(response) => {
            assert!(!response.predictions.is_empty(), "an empty response");
            for p in &response.predictions {
                assert!(
                    (0.0..=1.0).contains(&p.probability),
                    "probability {} out of [0, 1]",
                    p.probability
                );
            }
            let json = serde_json::to_vec(&response).expect("a response serializes");
            serde_json::from_slice::<serde_json::Value>(&json).expect("a response is JSON");
        }
        Err(e) => {
            assert!(!e.error_type().is_empty(), "an empty errorType");
            assert!(!e.to_string().is_empty(), "an empty errorMessage");
        }
    }
});
