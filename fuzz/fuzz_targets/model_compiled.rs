//! Arbitrary bytes as a compiled model (`Model::from_compiled`): never a panic, never an
//! allocation beyond what the bytes justify (run with `-rss_limit_mb` / `-malloc_limit_mb`).
//!
//! Each input is tried twice: as it is (the payload is decoded before the checksum at its end
//! is checked, so the decoder sees mutated bytes either way), and with its header repaired
//! (magic, version, payload length and CRC-32 made to fit the bytes), so that mutated payloads
//! get past the checksum to the invariant checks and the evaluator. A model that loads predicts
//! an all-missing row and an all-zero row, and compiles back to bytes that load again.
#![no_main]

use catboost_eval::{FORMAT_VERSION, FeatureKind, FeatureValue, Model};
use libfuzzer_sys::fuzz_target;

const HEADER: usize = 64;

/// `bytes` with a header that matches them (see catboost-eval's `format.rs` for the layout).
fn repair(bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER.max(bytes.len())];
    out[..bytes.len()].copy_from_slice(bytes);
    out[..8].copy_from_slice(b"\x89CBEVAL\n");
    out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[12..16].fill(0);
    let payload = (out.len() - HEADER) as u64;
    out[16..24].copy_from_slice(&payload.to_le_bytes());
    out[28..32].fill(0);
    let crc = crc32fast::hash(&out[32..]);
    out[24..28].copy_from_slice(&crc.to_le_bytes());
    out
}

fn check(bytes: &[u8]) {
    let Ok(model) = Model::from_compiled(bytes) else {
        return;
    };
    for (float, cat) in [(f64::NAN, ""), (0.0, "0")] {
        let row: Vec<FeatureValue<'_>> = model
            .feature_kinds()
            .iter()
            .map(|k| match k {
                FeatureKind::Float => FeatureValue::Float(float),
                FeatureKind::Categorical => FeatureValue::Categorical(cat),
            })
            .collect();
        let _ = model
            .predict(&row)
            .expect("a row of the right kinds evaluates");
    }
    let again = model.to_compiled();
    Model::from_compiled(&again).expect("a loaded model compiles back to a loadable file");
}

fuzz_target!(|bytes: &[u8]| {
    check(bytes);
    check(&repair(bytes));
});
