//! The flat input layout: which column is a float or a categorical feature, float borders and
//! their quantized columns, one-hot values and theirs.

use super::{to_f32_exact, to_i32_hash};
use crate::FeatureKind;
use crate::error::LoadError;
use crate::json::FeaturesInfo;
use crate::model::{Columns, FloatColumn, OneHotBin};
use std::collections::HashMap;

/// The input features as the rest of the compiler refers to them.
pub(super) struct Features {
    pub(super) kinds: Vec<FeatureKind>,
    pub(super) floats: Vec<FloatColumn>,
    /// Position in `floats` by `feature_index`.
    pub(super) float_pos: HashMap<usize, usize>,
    pub(super) cat_flat: Vec<u32>,
    /// Position in `categorical_features` by `feature_index`.
    pub(super) cat_pos: HashMap<usize, usize>,
    pub(super) onehots: Vec<OneHotBin>,
    pub(super) onehot_first_col: u32,
    /// Bins so far: float borders, then one-hot values (CTR borders follow).
    pub(super) n_bins: usize,
    /// Quantized columns so far (CTRs add theirs).
    pub(super) n_cols: u32,
}

pub(super) fn layout(fi: &FeaturesInfo) -> Result<Features, LoadError> {
    let mut kinds: Vec<Option<FeatureKind>> = Vec::new();
    let mut claim = |flat: usize, kind: FeatureKind, path: String| -> Result<u32, LoadError> {
        if flat > 1_000_000 {
            return Err(LoadError::inconsistent(
                path,
                "flat_feature_index is implausibly large",
            ));
        }
        if kinds.len() <= flat {
            kinds.resize(flat + 1, None);
        }
        if kinds[flat].is_some() {
            return Err(LoadError::inconsistent(
                path,
                format!("flat_feature_index {flat} is used by two features"),
            ));
        }
        kinds[flat] = Some(kind);
        Ok(flat as u32)
    };

    // Float features: position by feature_index.
    let mut float_pos = HashMap::new();
    let mut floats = Vec::with_capacity(fi.float_features.len());
    let mut n_bins = 0usize;
    let mut n_cols = 0u32;
    for (i, f) in fi.float_features.iter().enumerate() {
        let path = format!("features_info.float_features[{i}]");
        let flat = claim(
            f.flat_feature_index,
            FeatureKind::Float,
            format!("{path}.flat_feature_index"),
        )?;
        if float_pos.insert(f.feature_index, i).is_some() {
            return Err(LoadError::inconsistent(
                format!("{path}.feature_index"),
                format!("feature_index {} appears twice", f.feature_index),
            ));
        }
        let nan_as_true = match f.nan_value_treatment.as_deref() {
            None | Some("AsIs") | Some("AsFalse") => false,
            Some("AsTrue") => true,
            Some(other) => {
                return Err(LoadError::unsupported(
                    format!("{path}.nan_value_treatment"),
                    format!("NaN treatment {other:?}"),
                ));
            }
        };
        let borders = f
            .borders
            .iter()
            .enumerate()
            .map(|(j, &b)| to_f32_exact(b, &format!("{path}.borders[{j}]")))
            .collect::<Result<Vec<f32>, _>>()?;
        n_bins += borders.len();
        floats.push(FloatColumn {
            flat,
            columns: Columns::allocate(&borders, &mut n_cols),
            nan_as_true,
            borders,
        });
    }

    // Categorical features: position by feature_index; one-hot values become bins.
    let mut cat_pos = HashMap::new();
    let mut cat_flat = Vec::with_capacity(fi.categorical_features.len());
    let mut onehots = Vec::new();
    for (i, c) in fi.categorical_features.iter().enumerate() {
        let path = format!("features_info.categorical_features[{i}]");
        let flat = claim(
            c.flat_feature_index,
            FeatureKind::Categorical,
            format!("{path}.flat_feature_index"),
        )?;
        if cat_pos.insert(c.feature_index, i).is_some() {
            return Err(LoadError::inconsistent(
                format!("{path}.feature_index"),
                format!("feature_index {} appears twice", c.feature_index),
            ));
        }
        cat_flat.push(flat);
        for (j, &v) in c.values.iter().enumerate() {
            onehots.push(OneHotBin {
                cat: i as u32,
                value: to_i32_hash(v, &format!("{path}.values[{j}]"))?,
            });
        }
    }
    // One-hot values take bins (CatBoost's flat split indices count them) and 0/1 columns.
    n_bins += onehots.len();
    let onehot_first_col = n_cols;
    n_cols += onehots.len() as u32;

    let kinds = kinds
        .into_iter()
        .enumerate()
        .map(|(flat, k)| {
            k.ok_or_else(|| {
                LoadError::unsupported(
                    "features_info",
                    format!("flat feature {flat} is neither a float nor a categorical feature"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Features {
        kinds,
        floats,
        float_pos,
        cat_flat,
        cat_pos,
        onehots,
        onehot_first_col,
        n_bins,
        n_cols,
    })
}
