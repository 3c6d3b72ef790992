//! The JSON schema of CatBoost's model export (`save_model(..., format="json")`), as plain serde
//! structs. Only what evaluation needs is read; unknown keys are ignored. Turning this document
//! into something that can be evaluated (and refusing what cannot) is `compile.rs`'s job.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The whole document.
#[derive(Debug, Deserialize)]
pub(crate) struct JsonModel {
    #[serde(default)]
    pub(crate) model_info: Option<ModelInfo>,
    pub(crate) features_info: FeaturesInfo,
    #[serde(default)]
    pub(crate) oblivious_trees: Option<Vec<ObliviousTree>>,
    #[serde(default)]
    pub(crate) trees: Option<Vec<Node>>,
    #[serde(default)]
    pub(crate) scale_and_bias: Option<(f64, Vec<f64>)>,
    #[serde(default)]
    pub(crate) ctr_data: Option<BTreeMap<String, CtrTable>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ModelInfo {
    #[serde(default)]
    pub(crate) class_params: Option<ClassParams>,
    /// Training parameters; only `loss_function.type` is used.
    #[serde(default)]
    pub(crate) params: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ClassParams {
    #[serde(default)]
    pub(crate) class_label_type: Option<String>,
    #[serde(default)]
    pub(crate) class_names: Vec<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FeaturesInfo {
    #[serde(default)]
    pub(crate) float_features: Vec<FloatFeature>,
    #[serde(default)]
    pub(crate) categorical_features: Vec<CatFeature>,
    #[serde(default)]
    pub(crate) ctrs: Vec<Ctr>,
    #[serde(default)]
    pub(crate) text_features: Option<Value>,
    #[serde(default)]
    pub(crate) embedding_features: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct FloatFeature {
    pub(crate) feature_index: usize,
    pub(crate) flat_feature_index: usize,
    #[serde(default)]
    pub(crate) borders: Vec<f64>,
    #[serde(default)]
    pub(crate) nan_value_treatment: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CatFeature {
    pub(crate) feature_index: usize,
    pub(crate) flat_feature_index: usize,
    /// One-hot values (category hashes), present for one-hot encoded features.
    #[serde(default)]
    pub(crate) values: Vec<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Ctr {
    pub(crate) elements: Vec<CtrElement>,
    pub(crate) ctr_type: String,
    pub(crate) identifier: String,
    #[serde(default)]
    pub(crate) prior_numerator: f64,
    #[serde(default = "one")]
    pub(crate) prior_denomerator: f64,
    #[serde(default)]
    pub(crate) shift: f64,
    #[serde(default = "one")]
    pub(crate) scale: f64,
    #[serde(default)]
    pub(crate) target_border_idx: i64,
    #[serde(default)]
    pub(crate) borders: Vec<f64>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
pub(crate) struct CtrElement {
    pub(crate) combination_element: String,
    #[serde(default)]
    pub(crate) cat_feature_index: Option<usize>,
    #[serde(default)]
    pub(crate) float_feature_index: Option<usize>,
    #[serde(default)]
    pub(crate) border: Option<f64>,
    #[serde(default)]
    pub(crate) value: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ObliviousTree {
    /// CatBoost writes a tree without splits (a depth-0 tree, one leaf) as `"splits": null`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) splits: Vec<Split>,
    pub(crate) leaf_values: Vec<f64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Split {
    pub(crate) split_type: String,
    #[serde(default)]
    pub(crate) split_index: Option<usize>,
    #[serde(default)]
    pub(crate) float_feature_index: Option<usize>,
    #[serde(default)]
    pub(crate) cat_feature_index: Option<usize>,
    #[serde(default)]
    pub(crate) border: Option<f64>,
    #[serde(default)]
    pub(crate) value: Option<i64>,
    #[serde(default)]
    pub(crate) ctr_target_border_idx: Option<i64>,
}

/// A node of a non-symmetric tree: either `{split, left, right}` or a leaf `{value, weight}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Node {
    #[serde(default)]
    pub(crate) split: Option<Split>,
    #[serde(default)]
    pub(crate) left: Option<Box<Node>>,
    #[serde(default)]
    pub(crate) right: Option<Box<Node>>,
    #[serde(default)]
    pub(crate) value: Option<LeafValue>,
}

/// A leaf holds one value per model dimension; single-dimension models write a bare number.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum LeafValue {
    One(f64),
    Many(Vec<f64>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct CtrTable {
    /// Flat `[hash as decimal string, stat, stat, ...]`, `hash_stride` entries per bucket.
    pub(crate) hash_map: Vec<Value>,
    pub(crate) hash_stride: usize,
    #[serde(default)]
    pub(crate) counter_denominator: Option<f64>,
}

/// Parses the document, reporting the JSON path of the first problem.
pub(crate) fn parse(bytes: &[u8]) -> Result<JsonModel, crate::LoadError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: JsonModel =
        serde_path_to_error::deserialize(&mut de).map_err(|e| crate::LoadError::Json {
            path: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    de.end().map_err(|e| crate::LoadError::Json {
        path: ".".to_string(),
        message: e.to_string(),
    })?;
    Ok(parsed)
}

/// `null` read as an empty list.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}
