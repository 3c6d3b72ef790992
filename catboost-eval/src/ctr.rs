//! CTR (counter) features: the key of a category combination, the learned statistics table,
//! and the value formula.
//!
//! CatBoost computes a CTR from a *projection* (one or more categorical features, optionally
//! combined with float-border bits and one-hot equality bits): it folds the parts into one
//! `u64` key, looks the key up in the table learned at training (`ctr_data`), and turns the
//! bucket's statistics into an `f32` value that is then compared with the CTR's borders.

use crate::model::{BUCKET, CtrTable, EMPTY};

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

/// The lookup table of a CTR statistics table's keys (bucket `b` holds `keys[b]`), and the
/// slot of each bucket; `Err(key)` on a duplicate key. CatBoost's "no hash" marker
/// (`u64::MAX`) is not a key: its bucket gets the slot of a missing key.
pub(crate) fn build_table(keys: &[u64]) -> Result<(CtrTable, Vec<u32>), u64> {
    // At most half full, so a lookup rarely reads a second bucket.
    let mut cap = 2 * BUCKET;
    while cap < keys.len().saturating_mul(2) {
        cap *= 2;
    }
    let mut table = CtrTable {
        slots: vec![EMPTY; cap],
    };
    let shift = table.shift();
    let n_buckets = cap / BUCKET;
    let mut slot_of = Vec::with_capacity(keys.len());
    for &key in keys {
        if key == EMPTY {
            slot_of.push(cap as u32);
            continue;
        }
        if table.find(key).is_some() {
            return Err(key);
        }
        let mut b = CtrTable::home(key, shift);
        // Half full at most: a bucket with room exists.
        let slot = loop {
            let bucket = &mut table.slots[b * BUCKET..][..BUCKET];
            if let Some(i) = bucket.iter().position(|&k| k == EMPTY) {
                bucket[i] = key;
                break b * BUCKET + i;
            }
            b = (b + 1) % n_buckets;
        };
        slot_of.push(slot as u32);
    }
    Ok((table, slot_of))
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
    fn tables_find_every_key_and_miss_others() {
        let keys: Vec<u64> = (0..1000u64).map(|i| fold(0, i * 3)).collect();
        let (table, slot_of) = build_table(&keys).unwrap();
        for (k, &slot) in keys.iter().zip(&slot_of) {
            assert_eq!(table.find(*k), Some(slot as usize));
        }
        let mut distinct = slot_of.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), keys.len());
        assert_eq!(table.find(fold(0, 1)), None);
        assert_eq!(table.find(u64::MAX), None);
    }

    #[test]
    fn tables_skip_catboost_empty_marker_and_reject_duplicates() {
        let (table, slot_of) = build_table(&[7, u64::MAX, 9]).unwrap();
        assert_eq!(table.find(9), Some(slot_of[2] as usize));
        assert_eq!(slot_of[1] as usize, table.slots.len());
        assert_eq!(table.find(u64::MAX), None);
        assert_eq!(build_table(&[7, 8, 7]).unwrap_err(), 7);
    }

    #[test]
    fn calc_is_f32() {
        // (1 + 0.5) / (3 + 1) = 0.375, shifted and scaled.
        assert_eq!(calc(1.0, 3.0, 0.5, 1.0, 0.0, 15.0), 5.625);
        // Division by zero is not an error: CatBoost produces inf/NaN the same way.
        assert!(calc(0.0, 0.0, 0.0, 0.0, 0.0, 1.0).is_nan());
    }
}
