//! Turns the parsed JSON document into the flat structures the evaluator runs on
//! (`model.rs`), refusing at load everything that cannot be evaluated exactly (with the JSON
//! path of the problem). One module per section of the document:
//!
//! - `features`: the flat input layout, float borders and one-hot values;
//! - `ctrs`: CTR features, their tables and the key program that builds their keys;
//! - `splits`: what each split tests, as a quantized column and a threshold;
//! - `trees`: symmetric and non-symmetric trees;
//! - `output`: the output dimension, class labels and what the loss makes of raw values.
//!
//! Binary features ("bins") are numbered like CatBoost's own flat split list: every float
//! border (float features in order), then every one-hot value, then every CTR border (in
//! `features_info.ctrs` order). An `OnlineCtr` split only carries a position in that list.

mod ctrs;
mod features;
mod output;
mod splits;
mod trees;

use crate::error::LoadError;
use crate::json::JsonModel;
use crate::model::Parts;
use serde_json::Value;

pub(crate) fn compile(json: JsonModel, source_sha256: [u8; 32]) -> Result<Parts, LoadError> {
    let fi = &json.features_info;
    refuse_present(
        &fi.text_features,
        "features_info.text_features",
        "text features",
    )?;
    refuse_present(
        &fi.embedding_features,
        "features_info.embedding_features",
        "embedding features",
    )?;
    let mut features = features::layout(fi)?;
    let ctrs = ctrs::compile(fi, json.ctr_data.as_ref(), &mut features)?;
    let layout = splits::BinLayout {
        features: &features,
        ctrs: &ctrs.info,
        ctr_first_bin: ctrs.first_bin,
        n_bins: ctrs.end_bin,
    };

    let (scale, bias) = match &json.scale_and_bias {
        Some((s, b)) => (*s, b.clone()),
        None => (1.0, Vec::new()),
    };
    let (trees, dim) = match (&json.oblivious_trees, &json.trees) {
        (Some(_), Some(_)) => {
            return Err(LoadError::inconsistent(
                ".",
                "both oblivious_trees and trees are present",
            ));
        }
        (None, None) => return Err(LoadError::inconsistent(".", "the model has no trees")),
        (Some(ts), None) => trees::oblivious(ts, &layout, bias.len())?,
        (None, Some(ts)) => trees::non_symmetric(ts, &layout, bias.len())?,
    };
    let bias = if bias.is_empty() {
        vec![0.0; dim]
    } else {
        bias
    };
    if bias.len() != dim {
        return Err(LoadError::inconsistent(
            "scale_and_bias[1]",
            format!("{} biases for a model of dimension {dim}", bias.len()),
        ));
    }
    if !scale.is_finite() || bias.iter().any(|b| !b.is_finite()) {
        return Err(LoadError::inconsistent(
            "scale_and_bias",
            "scale and bias must be finite",
        ));
    }
    let output = output::compile(&json, dim)?;
    if !fi.ctrs.is_empty() {
        output::refuse_lossy_ctrs(&json, dim, &output)?;
    }
    let parts = Parts {
        kinds: features.kinds,
        floats: features.floats,
        cat_flat: features.cat_flat,
        onehots: features.onehots,
        onehot_first_col: features.onehot_first_col,
        steps: ctrs.steps,
        tables: ctrs.tables,
        ctrs: ctrs.ctrs,
        n_cols: features.n_cols,
        trees,
        dim: u32::try_from(dim).map_err(|_| too_big("."))?,
        scale,
        bias,
        output,
        source_sha256,
    };
    // What the compiler built satisfies what the evaluator relies on (as a compiled file
    // must); a failure here is a bug of the compiler, reported rather than evaluated.
    parts
        .validate()
        .map_err(|m| LoadError::inconsistent(".", format!("internal error: {m}")))?;
    Ok(parts)
}

fn refuse_present(v: &Option<Value>, path: &str, what: &str) -> Result<(), LoadError> {
    let present = match v {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    };
    if present {
        return Err(LoadError::unsupported(path, what));
    }
    Ok(())
}

/// Borders are `f32` values written as doubles; anything else would be compared differently.
fn to_f32_exact(v: f64, path: &str) -> Result<f32, LoadError> {
    let f = v as f32;
    if f64::from(f) != v || !f.is_finite() {
        return Err(LoadError::inconsistent(
            path,
            format!("{v} is not a finite f32 value"),
        ));
    }
    Ok(f)
}

/// Category hashes are 32-bit; exports write them signed, `cat_features_hash` unsigned.
fn to_i32_hash(v: i64, path: &str) -> Result<i32, LoadError> {
    if v < i64::from(i32::MIN) || v > i64::from(u32::MAX) {
        return Err(LoadError::inconsistent(
            path,
            format!("{v} is not a 32-bit hash"),
        ));
    }
    Ok(v as u32 as i32)
}

fn too_big(path: &str) -> LoadError {
    LoadError::unsupported(path, "model size (more than 2^32 splits or leaves)")
}

fn check_finite(values: &[f64], path: &str) -> Result<(), LoadError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(LoadError::inconsistent(
            format!("{path}[{i}]"),
            "leaf value is not finite",
        )),
        None => Ok(()),
    }
}
