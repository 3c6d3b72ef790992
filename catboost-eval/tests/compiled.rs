//! The compiled form: it predicts bit for bit what the JSON export predicts, the same input
//! always gives the same bytes, and a truncated, corrupt or foreign file is refused with an
//! error saying which (never a panic).

#[path = "common/parity_support.rs"]
mod parity_support;

use catboost_eval::{CompiledError, FORMAT_VERSION, FeatureKind, FeatureValue, Model};
use parity_support::{case_dirs, corpus_dir, read_jsonl, repo_root};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn all_cases() -> Vec<PathBuf> {
    let mut dirs = case_dirs(&corpus_dir());
    dirs.extend(case_dirs(&repo_root().join("golden/bench")));
    dirs
}

/// Raw values of every row of a case, as bits.
fn raw_bits(model: &Model, rows: &[Value]) -> Vec<u64> {
    let texts: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    let values: Vec<FeatureValue<'_>> = rows
        .iter()
        .zip(&texts)
        .flat_map(|(r, t)| {
            r.as_array()
                .expect("row")
                .iter()
                .zip(t)
                .zip(model.feature_kinds())
                .map(|((v, t), k)| match k {
                    FeatureKind::Float => FeatureValue::Float(match (v, t.as_str()) {
                        (Value::Number(n), _) => n.as_f64().expect("f64"),
                        (_, "Infinity") => f64::INFINITY,
                        (_, "-Infinity") => f64::NEG_INFINITY,
                        _ => f64::NAN,
                    }),
                    FeatureKind::Categorical => FeatureValue::Categorical(t),
                })
        })
        .collect();
    let mut out = vec![0.0; rows.len() * model.dimension()];
    model
        .predict_raw_batch(&values, &mut out)
        .expect("evaluate");
    out.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn compiled_models_predict_bit_for_bit_what_their_json_predicts() {
    let dirs = all_cases();
    assert!(dirs.len() >= 20, "only {} cases", dirs.len());
    for dir in dirs {
        let json = std::fs::read(dir.join("model.json")).expect("read");
        let from_json = Model::from_json(&json).expect("load");
        let compiled = from_json.to_compiled();
        assert_eq!(
            Model::from_json(&json).expect("load").to_compiled(),
            compiled,
            "{}: compiling twice gives other bytes",
            dir.display()
        );
        let loaded = Model::from_compiled(&compiled).expect("load compiled");
        assert_eq!(loaded.to_compiled(), compiled, "{}", dir.display());
        let sha: [u8; 32] = Sha256::digest(&json).into();
        assert_eq!(loaded.source_sha256(), sha, "{}", dir.display());
        let rows = read_jsonl(&dir.join("rows.jsonl"));
        assert_eq!(
            raw_bits(&loaded, &rows),
            raw_bits(&from_json, &rows),
            "{}",
            dir.display()
        );
    }
}

/// The file on disk loads as the bytes in memory do.
#[test]
fn load_compiled_reads_a_file() {
    let dir = corpus_dir().join("ctr_binary_str_all_types");
    let model = Model::from_json(&std::fs::read(dir.join("model.json")).expect("read"))
        .expect("test setup");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ctr_binary_str_all_types.cbm");
    std::fs::write(&path, model.to_compiled()).expect("write");
    let loaded = Model::load_compiled(&path).expect("load");
    assert_eq!(loaded.to_compiled(), model.to_compiled());
    let missing =
        Model::load_compiled(&path.with_extension("missing")).expect_err("must be refused");
    assert!(matches!(missing, CompiledError::Io(_)), "{missing}");
}

fn small_compiled() -> Vec<u8> {
    let dir = corpus_dir().join("ctr_binary_str_all_types");
    Model::from_json(&std::fs::read(dir.join("model.json")).expect("read"))
        .expect("load")
        .to_compiled()
}

#[test]
fn foreign_files_are_not_compiled_models() {
    let json =
        std::fs::read(corpus_dir().join("float_asis_binary/model.json")).expect("test setup");
    for bytes in [&json[..], b"", b"\x89CBEVA", b"PK\x03\x04 a zip file"] {
        let e = Model::from_compiled(bytes).expect_err("must be refused");
        assert!(matches!(e, CompiledError::NotCompiled), "{e}");
        assert!(e.to_string().contains("catboost-compile"), "{e}");
    }
}

#[test]
fn another_format_version_is_refused_with_what_to_do() {
    let mut bytes = small_compiled();
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = Model::from_compiled(&bytes).expect_err("must be refused");
    assert!(
        matches!(e, CompiledError::Version { found, expected } if found == FORMAT_VERSION + 1 && expected == FORMAT_VERSION),
        "{e}"
    );
    assert!(e.to_string().contains("recompile"), "{e}");
}

#[test]
fn truncated_files_are_refused_at_every_length() {
    let bytes = small_compiled();
    for len in (8..bytes.len()).step_by(7).chain([bytes.len() - 1]) {
        match Model::from_compiled(&bytes[..len]) {
            Err(CompiledError::Truncated(_)) => {}
            other => panic!("{len} of {} bytes: {other:?}", bytes.len()),
        }
    }
}

#[test]
fn extra_bytes_are_refused() {
    let mut bytes = small_compiled();
    bytes.push(0);
    let e = Model::from_compiled(&bytes).expect_err("must be refused");
    assert!(matches!(e, CompiledError::Corrupt(_)), "{e}");
}

/// Every single-byte change is refused (the checksum covers the payload; the header fields
/// are checked one by one), whatever the byte.
#[test]
fn corrupt_bytes_are_refused_everywhere() {
    let bytes = small_compiled();
    for at in (0..bytes.len()).step_by(13) {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = bytes.clone();
            b[at] ^= flip;
            match Model::from_compiled(&b) {
                Ok(_) => panic!("byte {at} ^ {flip:#x} loaded"),
                Err(
                    CompiledError::Corrupt(_)
                    | CompiledError::Truncated(_)
                    | CompiledError::NotCompiled
                    | CompiledError::Version { .. },
                ) => {}
                Err(other) => panic!("byte {at}: {other}"),
            }
        }
    }
}

/// A file with a valid checksum but inconsistent content (as a buggy or hostile writer could
/// make) is refused by the structural checks, not evaluated: here a split's column is out of
/// range.
#[test]
fn inconsistent_content_with_a_valid_checksum_is_refused() {
    let doc = json!({
        "features_info": {"float_features": [{
            "feature_index": 0, "flat_feature_index": 0, "borders": [0.5],
            "nan_value_treatment": "AsIs"
        }]},
        "oblivious_trees": [{
            "splits": [{"split_type": "FloatFeature", "float_feature_index": 0, "border": 0.5}],
            "leaf_values": [0.0, 1.0]
        }]
    });
    let mut bytes = Model::from_json(doc.to_string().as_bytes())
        .expect("test setup")
        .to_compiled();
    // The last split's column is the u32 right after the split count: find the one-column
    // model's split (column 0, threshold biased(0) = -128) and point it at column 7.
    let split = [0u8, 0, 0, 0, 0x80];
    let at = bytes
        .windows(9)
        .rposition(|w| w[..4] == 1u32.to_le_bytes() && w[4..] == split)
        .expect("the split in the payload")
        + 4;
    bytes[at..at + 4].copy_from_slice(&7u32.to_le_bytes());
    let crc = crc32fast::hash(&bytes[32..]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
    let e = Model::from_compiled(&bytes).expect_err("must be refused");
    assert!(
        matches!(&e, CompiledError::Corrupt(m) if m.contains("column")),
        "{e}"
    );
}

/// One depth-8 tree and many trees without splits: the compiled model (and so the memory a
/// loaded one takes) grows with the leaves the trees have, not with the deepest tree times
/// the number of trees, as the padded layout did (2 KiB per tree here, 20 MiB in all).
#[test]
fn mixed_depth_models_stay_proportional_to_their_leaves() {
    const STUMPS: usize = 10_000;
    let split =
        |b: f64| json!({"split_type": "FloatFeature", "float_feature_index": 0, "border": b});
    let borders: Vec<f64> = (0..8).map(f64::from).collect();
    let mut trees = vec![json!({
        "splits": borders.iter().map(|&b| split(b)).collect::<Vec<_>>(),
        "leaf_values": (0..256).map(f64::from).collect::<Vec<_>>()
    })];
    trees.extend(
        (0..STUMPS)
            .map(|i| json!({"splits": null, "leaf_values": [f64::from(i as u32 % 7) * 0.125]})),
    );
    let doc = json!({
        "features_info": {"float_features": [{
            "feature_index": 0, "flat_feature_index": 0, "borders": borders,
            "nan_value_treatment": "AsIs"
        }]},
        "oblivious_trees": trees
    });
    let json = doc.to_string();
    let model = Model::from_json(json.as_bytes()).expect("test setup");
    let compiled = model.to_compiled();
    // A stump is one depth byte and one f64 leaf.
    assert!(
        compiled.len() < 9 * STUMPS + 8 * 256 + 1024,
        "{} bytes for {STUMPS} stumps",
        compiled.len()
    );
    let loaded = Model::from_compiled(&compiled).expect("test setup");
    let stumps: f64 = (0..STUMPS).map(|i| f64::from(i as u32 % 7) * 0.125).sum();
    for x in [-1.0, 0.5, 3.5, 7.5, f64::NAN] {
        // x exceeds floor(x) + 1 borders (none for NaN): leaf index = 2^that - 1.
        let above = if x.is_nan() {
            0
        } else {
            (x + 1.0).clamp(0.0, 8.0) as u32
        };
        let leaf = f64::from((1u32 << above) - 1);
        let raw = loaded
            .predict(&[FeatureValue::Float(x)])
            .expect("test setup")
            .raw()[0];
        assert_eq!(raw, leaf + stumps, "x = {x}");
    }
}
