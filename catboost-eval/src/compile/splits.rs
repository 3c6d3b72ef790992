//! What each split tests: a quantized column and a threshold, checked against the features.

use super::ctrs::CtrInfo;
use super::features::Features;
use super::{to_f32_exact, to_i32_hash};
use crate::error::LoadError;
use crate::json::Split;
use crate::model::{BinTest, biased};

pub(super) struct BinLayout<'a> {
    pub(super) features: &'a Features,
    pub(super) ctrs: &'a [CtrInfo],
    pub(super) ctr_first_bin: usize,
    pub(super) n_bins: usize,
}

impl BinLayout<'_> {
    /// The bin a split tests, checked against the model's features.
    pub(super) fn resolve(&self, s: &Split, path: &str) -> Result<BinTest, LoadError> {
        let missing = |field: &str| LoadError::inconsistent(format!("{path}.{field}"), "missing");
        let bin = match s.split_type.as_str() {
            "FloatFeature" => {
                let idx = s
                    .float_feature_index
                    .ok_or_else(|| missing("float_feature_index"))?;
                let pos = self.features.float_pos.get(&idx).copied().ok_or_else(|| {
                    LoadError::inconsistent(
                        format!("{path}.float_feature_index"),
                        format!("no float feature {idx}"),
                    )
                })?;
                let b = s.border.ok_or_else(|| missing("border"))?;
                let border = to_f32_exact(b, &format!("{path}.border"))?;
                let col = &self.features.floats[pos];
                let j = col
                    .borders
                    .iter()
                    .position(|&x| x == border)
                    .ok_or_else(|| {
                        LoadError::inconsistent(
                            format!("{path}.border"),
                            format!("{b} is not a border of float feature {idx}"),
                        )
                    })?;
                col.columns.test(j)
            }
            "OneHotFeature" => {
                let idx = s
                    .cat_feature_index
                    .ok_or_else(|| missing("cat_feature_index"))?;
                let pos = self.features.cat_pos.get(&idx).copied().ok_or_else(|| {
                    LoadError::inconsistent(
                        format!("{path}.cat_feature_index"),
                        format!("no categorical feature {idx}"),
                    )
                })?;
                let v = s.value.ok_or_else(|| missing("value"))?;
                let value = to_i32_hash(v, &format!("{path}.value"))?;
                let j = self
                    .features
                    .onehots
                    .iter()
                    .position(|o| o.cat as usize == pos && o.value == value)
                    .ok_or_else(|| {
                        LoadError::inconsistent(
                            format!("{path}.value"),
                            format!("{v} is not a one-hot value of categorical feature {idx}"),
                        )
                    })?;
                BinTest {
                    col: self.features.onehot_first_col + j as u32,
                    thr: biased(0),
                }
            }
            "OnlineCtr" => {
                let idx = s.split_index.ok_or_else(|| missing("split_index"))?;
                if idx < self.ctr_first_bin || idx >= self.n_bins {
                    return Err(LoadError::inconsistent(
                        format!("{path}.split_index"),
                        format!(
                            "{idx} is not a CTR split (CTR splits are {}..{})",
                            self.ctr_first_bin, self.n_bins
                        ),
                    ));
                }
                // Check that the position names a CTR border equal to the split's own border
                // and target border index; this guards the flat-list interpretation.
                let ctr = self
                    .ctrs
                    .iter()
                    .find(|c| idx >= c.first_bin && idx < c.first_bin + c.borders.len());
                let b = s.border.ok_or_else(|| missing("border"))?;
                let border = to_f32_exact(b, &format!("{path}.border"))?;
                match ctr {
                    Some(c)
                        if c.borders[idx - c.first_bin] == border
                            && s.ctr_target_border_idx
                                .is_none_or(|t| t == c.target_border_idx) =>
                    {
                        c.columns.test(idx - c.first_bin)
                    }
                    _ => {
                        return Err(LoadError::inconsistent(
                            format!("{path}.split_index"),
                            format!("CTR split {idx} does not match a CTR border {b}"),
                        ));
                    }
                }
            }
            other => {
                return Err(LoadError::unsupported(
                    format!("{path}.split_type"),
                    format!("split type {other:?}"),
                ));
            }
        };
        Ok(bin)
    }
}
