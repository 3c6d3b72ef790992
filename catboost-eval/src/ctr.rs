//! CTR (counter) features: the key of a category combination, the learned statistics table,
//! and the value formula.
//!
//! CatBoost computes a CTR from a *projection* (one or more categorical features, optionally
//! combined with float-border bits and one-hot equality bits): it folds the parts into one
//! `u64` key, looks the key up in the table learned at training (`ctr_data`), and turns the
//! bucket's statistics into an `f32` value that is then compared with the CTR's borders.

/// Multiplier of CatBoost's `CalcHash(a, b) = M * (a + M * b)`.
const MAGIC_MULT: u64 = 0x4906_ba49_4954_cb65;

/// Folds one part into a projection key, exactly as CatBoost's `CalcHash(a, b)`.
#[inline(always)]
pub(crate) fn fold(key: u64, value: u64) -> u64 {
    MAGIC_MULT.wrapping_mul(key.wrapping_add(MAGIC_MULT.wrapping_mul(value)))
}

/// Folds a categorical hash: CatBoost casts the `int` hash to `ui64`, i.e. sign-extends it.
#[inline(always)]
pub(crate) fn fold_cat(key: u64, hash: i32) -> u64 {
    fold(key, i64::from(hash) as u64)
}

/// CTR types CatBoost can write into a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CtrType {
    Borders,
    Buckets,
    BinarizedTargetMeanValue,
    FloatTargetMeanValue,
    Counter,
    FeatureFreq,
}

impl CtrType {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Borders" => Self::Borders,
            "Buckets" => Self::Buckets,
            "BinarizedTargetMeanValue" => Self::BinarizedTargetMeanValue,
            "FloatTargetMeanValue" => Self::FloatTargetMeanValue,
            "Counter" => Self::Counter,
            "FeatureFreq" => Self::FeatureFreq,
            _ => return None,
        })
    }
}

/// CatBoost's `TModelCtr::Calc`, in `f32` as CatBoost computes it.
#[inline]
pub(crate) fn calc(
    num: f32,
    den: f32,
    prior_num: f32,
    prior_den: f32,
    shift: f32,
    scale: f32,
) -> f32 {
    let ctr = (num + prior_num) / (den + prior_den);
    (ctr + shift) * scale
}

/// Open-addressing map from a projection key to a bucket index, built once at load.
///
/// Keys are CatBoost's already well-mixed 64-bit hashes; a multiplicative (Fibonacci) index
/// spreads them further. `u64::MAX` marks an empty slot: CatBoost uses it as its own "no
/// hash" value, so it is never a real key (tables drop it at load, lookups of it miss).
#[derive(Debug, Clone)]
pub(crate) struct HashIndex {
    slots: Vec<(u64, u32)>,
    shift: u32,
    /// Number of buckets of the table (keys given to `build`, empty marker included).
    len: usize,
}

const EMPTY: u64 = u64::MAX;

impl HashIndex {
    /// Builds the index; `Err(key)` on a duplicate key.
    pub(crate) fn build(keys: &[u64]) -> Result<Self, u64> {
        let mut cap = 4usize;
        while cap < keys.len().saturating_mul(2) {
            cap *= 2;
        }
        let shift = 64 - cap.trailing_zeros();
        let mut index = Self {
            slots: vec![(EMPTY, 0); cap],
            shift,
            len: keys.len(),
        };
        let mask = cap - 1;
        for (bucket, &key) in keys.iter().enumerate() {
            if key == EMPTY {
                continue;
            }
            let mut i = index.start(key);
            loop {
                let slot = &mut index.slots[i];
                if slot.0 == EMPTY {
                    *slot = (key, bucket as u32);
                    break;
                }
                if slot.0 == key {
                    return Err(key);
                }
                i = (i + 1) & mask;
            }
        }
        Ok(index)
    }

    #[inline(always)]
    fn start(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    /// Number of buckets in the table.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The bucket of `key`, if the table has it.
    #[inline]
    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        if key == EMPTY {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.start(key);
        loop {
            let (k, v) = self.slots[i];
            if k == key {
                return Some(v);
            }
            if k == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_matches_catboost_formula() {
        // CalcHash(0, v) = M * (0 + M * v).
        assert_eq!(fold(0, 1), MAGIC_MULT.wrapping_mul(MAGIC_MULT));
        assert_eq!(fold(0, 0), 0);
        // Two-step fold is not commutative: order of parts matters.
        assert_ne!(fold(fold(0, 1), 2), fold(fold(0, 2), 1));
    }

    #[test]
    fn cat_hash_is_sign_extended() {
        assert_eq!(fold_cat(0, -1), fold(0, u64::MAX));
        assert_eq!(fold_cat(0, 5), fold(0, 5));
        assert_ne!(fold_cat(0, -1), fold(0, u32::MAX as u64));
    }

    #[test]
    fn hash_index_finds_every_key_and_misses_others() {
        let keys: Vec<u64> = (0..1000u64).map(|i| fold(0, i * 3)).collect();
        let index = HashIndex::build(&keys).unwrap();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(index.get(*k), Some(i as u32));
        }
        assert_eq!(index.get(fold(0, 1)), None);
        assert_eq!(index.get(u64::MAX), None);
    }

    #[test]
    fn hash_index_skips_catboost_empty_marker_and_rejects_duplicates() {
        let index = HashIndex::build(&[7, u64::MAX, 9]).unwrap();
        assert_eq!(index.get(9), Some(2));
        assert_eq!(index.get(u64::MAX), None);
        assert_eq!(HashIndex::build(&[7, 8, 7]).unwrap_err(), 7);
    }

    #[test]
    fn calc_is_f32() {
        // (1 + 0.5) / (3 + 1) = 0.375, shifted and scaled.
        assert_eq!(calc(1.0, 3.0, 0.5, 1.0, 0.0, 15.0), 5.625);
        // Division by zero is not an error: CatBoost produces inf/NaN the same way.
        assert!(calc(0.0, 0.0, 0.0, 0.0, 0.0, 1.0).is_nan());
    }
}
