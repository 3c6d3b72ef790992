//! CTR features: their tables, their values quantized per table slot, and the key program
//! that computes every CTR key of a row (projections sharing a prefix share its keys).

use super::features::Features;
use super::{to_f32_exact, to_i32_hash};
use crate::ctr::{self, CtrType};
use crate::error::LoadError;
use crate::json::{self as model, FeaturesInfo};
use crate::model::{Columns, CtrFeature, CtrTable, KeyPart, KeyStep, Lookup, biased};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What the splits need to know about a CTR feature to resolve an `OnlineCtr` split.
pub(super) struct CtrInfo {
    /// CatBoost's flat index of the CTR's first border (`split_index` of `OnlineCtr` splits).
    pub(super) first_bin: usize,
    pub(super) columns: Columns,
    pub(super) borders: Vec<f32>,
    pub(super) target_border_idx: i64,
}

pub(super) struct Ctrs {
    pub(super) steps: Vec<KeyStep>,
    pub(super) tables: Vec<CtrTable>,
    pub(super) ctrs: Vec<CtrFeature>,
    pub(super) info: Vec<CtrInfo>,
    /// Bins of CTR borders: `first_bin..end_bin`.
    pub(super) first_bin: usize,
    pub(super) end_bin: usize,
}

/// Compiles `features_info.ctrs` against `ctr_data`; their bins and columns follow those of
/// `features`, whose column count grows by theirs.
pub(super) fn compile(
    fi: &FeaturesInfo,
    ctr_data: Option<&BTreeMap<String, model::CtrTable>>,
    features: &mut Features,
) -> Result<Ctrs, LoadError> {
    let empty_tables = BTreeMap::new();
    let ctr_data = ctr_data.unwrap_or(&empty_tables);
    let mut table_ids: HashMap<&str, usize> = HashMap::new();
    // Per table: the lookup table and the slot of each of its buckets.
    let mut tables: Vec<(CtrTable, Vec<u32>)> = Vec::new();
    let mut projections: Vec<(Vec<KeyPart>, u32, u32)> = Vec::new();
    let mut ctrs = Vec::with_capacity(fi.ctrs.len());
    let mut info = Vec::with_capacity(fi.ctrs.len());
    let first_bin = features.n_bins;
    let mut n_bins = first_bin;
    for (k, c) in fi.ctrs.iter().enumerate() {
        let path = format!("features_info.ctrs[{k}]");
        let ctr_type = CtrType::parse(&c.ctr_type).ok_or_else(|| {
            LoadError::unsupported(
                format!("{path}.ctr_type"),
                format!("CTR type {:?}", c.ctr_type),
            )
        })?;
        let parts = key_parts(c, &path, features)?;
        let table = ctr_data.get(&c.identifier).ok_or_else(|| {
            LoadError::inconsistent(
                format!("{path}.identifier"),
                format!("no ctr_data entry for identifier {:?}", c.identifier),
            )
        })?;
        let tpath = format!("ctr_data[{:?}]", c.identifier);
        let table_idx = match table_ids.get(c.identifier.as_str()) {
            Some(&t) => t,
            None => {
                tables.push(build_table(table, &tpath)?);
                table_ids.insert(c.identifier.as_str(), tables.len() - 1);
                tables.len() - 1
            }
        };
        let (values, empty) = ctr_values(c, ctr_type, table, &tpath, &path)?;
        let borders = c
            .borders
            .iter()
            .enumerate()
            .map(|(j, &b)| to_f32_exact(b, &format!("{path}.borders[{j}]")))
            .collect::<Result<Vec<f32>, _>>()?;
        let columns = Columns::allocate(&borders, &mut features.n_cols);
        let (lookup, slot_of_bucket) = &tables[table_idx];
        ctrs.push(quantize_ctr(
            table_idx as u32,
            columns,
            &borders,
            lookup.slots.len(),
            slot_of_bucket,
            &values,
            empty,
        ));
        projections.push((parts, table_idx as u32, k as u32));
        info.push(CtrInfo {
            first_bin: n_bins,
            columns,
            borders,
            target_border_idx: c.target_border_idx,
        });
        n_bins += info[k].borders.len();
    }
    features.n_bins = n_bins;
    let mut steps = Vec::new();
    let all: Vec<usize> = (0..projections.len()).collect();
    key_program(&projections, &all, 0, &mut steps);
    Ok(Ctrs {
        steps,
        tables: tables.into_iter().map(|(t, _)| t).collect(),
        ctrs,
        info,
        first_bin,
        end_bin: n_bins,
    })
}

/// A CTR's quantized bytes per slot of its table (see [`CtrFeature`]): every value is
/// compared with the borders once, here, instead of once per row.
fn quantize_ctr(
    table: u32,
    columns: Columns,
    borders: &[f32],
    slots: usize,
    slot_of_bucket: &[u32],
    values: &[f32],
    empty: f32,
) -> CtrFeature {
    // Slots without a bucket are never read; the last entry is the value of a missing key,
    // which CatBoost's "no hash" bucket (whose slot is that one) must not overwrite.
    let mut by_slot = vec![empty; slots + 1];
    for (&slot, &v) in slot_of_bucket.iter().zip(values) {
        if (slot as usize) < slots {
            by_slot[slot as usize] = v;
        }
    }
    let per = columns.per_column as usize;
    let mut quant = Vec::with_capacity(columns.count(borders.len()) * (slots + 1));
    for chunk in borders.chunks(per) {
        quant.extend(
            by_slot
                .iter()
                .map(|&v| biased(chunk.iter().filter(|&&b| v > b).count() as u8)),
        );
    }
    CtrFeature {
        table,
        columns,
        n_columns: columns.count(borders.len()) as u32,
        quant,
    }
}

/// Appends the steps of the trie of `members` (projections: key parts, table, CTR) below
/// `level`, depth first: one step per distinct part at this level (in order of first
/// appearance, so the program is deterministic), with the lookups of the projections that
/// end there, followed by the steps of those that go on.
fn key_program(
    projections: &[(Vec<KeyPart>, u32, u32)],
    members: &[usize],
    level: usize,
    steps: &mut Vec<KeyStep>,
) {
    let mut groups: Vec<(KeyPart, Vec<usize>)> = Vec::new();
    for &m in members {
        let Some(&part) = projections[m].0.get(level) else {
            continue;
        };
        match groups.iter_mut().find(|(p, _)| *p == part) {
            Some((_, g)) => g.push(m),
            None => groups.push((part, vec![m])),
        }
    }
    for (part, group) in groups {
        let mut lookups: Vec<Lookup> = Vec::new();
        for &m in &group {
            let (parts, table, ctr) = &projections[m];
            if parts.len() != level + 1 {
                continue;
            }
            match lookups.iter_mut().find(|l| l.table == *table) {
                Some(l) => l.ctrs.push(*ctr),
                None => lookups.push(Lookup {
                    table: *table,
                    ctrs: vec![*ctr],
                }),
            }
        }
        steps.push(KeyStep {
            level: level as u32,
            part,
            lookups,
        });
        key_program(projections, &group, level + 1, steps);
    }
}

/// The parts of a CTR's key in CatBoost's folding order: categorical hashes, then float-border
/// bits, then one-hot equality bits (each group in element order).
fn key_parts(c: &model::Ctr, path: &str, features: &Features) -> Result<Vec<KeyPart>, LoadError> {
    let (cat_pos, float_pos, floats) = (&features.cat_pos, &features.float_pos, &features.floats);
    let (mut cats, mut float_bits, mut exact) = (Vec::new(), Vec::new(), Vec::new());
    if c.elements.is_empty() {
        return Err(LoadError::inconsistent(
            format!("{path}.elements"),
            "no elements",
        ));
    }
    for (e_idx, e) in c.elements.iter().enumerate() {
        let epath = format!("{path}.elements[{e_idx}]");
        let cat = |e: &model::CtrElement| -> Result<usize, LoadError> {
            let idx = e.cat_feature_index.ok_or_else(|| {
                LoadError::inconsistent(format!("{epath}.cat_feature_index"), "missing")
            })?;
            cat_pos.get(&idx).copied().ok_or_else(|| {
                LoadError::inconsistent(
                    format!("{epath}.cat_feature_index"),
                    format!("no categorical feature {idx}"),
                )
            })
        };
        match e.combination_element.as_str() {
            "cat_feature_value" => cats.push(KeyPart::Cat(cat(e)? as u32)),
            "cat_feature_exact_value" => {
                let v = e
                    .value
                    .ok_or_else(|| LoadError::inconsistent(format!("{epath}.value"), "missing"))?;
                exact.push(KeyPart::Exact {
                    cat: cat(e)? as u32,
                    value: to_i32_hash(v, &format!("{epath}.value"))?,
                });
            }
            "float_feature" => {
                let idx = e.float_feature_index.ok_or_else(|| {
                    LoadError::inconsistent(format!("{epath}.float_feature_index"), "missing")
                })?;
                let pos = float_pos.get(&idx).copied().ok_or_else(|| {
                    LoadError::inconsistent(
                        format!("{epath}.float_feature_index"),
                        format!("no float feature {idx}"),
                    )
                })?;
                let b = e
                    .border
                    .ok_or_else(|| LoadError::inconsistent(format!("{epath}.border"), "missing"))?;
                let border = to_f32_exact(b, &format!("{epath}.border"))?;
                let col = &floats[pos];
                // The bit is read from the feature's column when the border is one of the
                // feature's own (as CatBoost requires), else computed from the value.
                float_bits.push(match col.borders.iter().position(|&b| b == border) {
                    Some(j) => KeyPart::FloatBin(col.columns.test(j)),
                    None => KeyPart::FloatValue {
                        pos: pos as u32,
                        border,
                        nan_as_true: col.nan_as_true,
                    },
                });
            }
            other => {
                return Err(LoadError::unsupported(
                    format!("{epath}.combination_element"),
                    format!("combination element {other:?}"),
                ));
            }
        }
    }
    cats.extend(float_bits);
    cats.extend(exact);
    Ok(cats)
}

/// Parses a `ctr_data` table's keys into a lookup table; also returns the slot of each bucket.
fn build_table(table: &model::CtrTable, path: &str) -> Result<(CtrTable, Vec<u32>), LoadError> {
    let stride = table.hash_stride;
    if stride < 2 {
        return Err(LoadError::inconsistent(
            format!("{path}.hash_stride"),
            format!("stride {stride} leaves no room for statistics"),
        ));
    }
    if !table.hash_map.len().is_multiple_of(stride) {
        return Err(LoadError::inconsistent(
            format!("{path}.hash_map"),
            format!(
                "{} entries is not a multiple of hash_stride {stride}",
                table.hash_map.len()
            ),
        ));
    }
    let mut keys = Vec::with_capacity(table.hash_map.len() / stride);
    for (b, chunk) in table.hash_map.chunks_exact(stride).enumerate() {
        let at = b * stride;
        let key = match &chunk[0] {
            Value::String(s) => s.parse::<u64>().ok(),
            Value::Number(n) => n.as_u64(),
            _ => None,
        }
        .ok_or_else(|| {
            LoadError::inconsistent(format!("{path}.hash_map[{at}]"), "bucket hash is not a u64")
        })?;
        keys.push(key);
    }
    ctr::build_table(&keys).map_err(|key| {
        LoadError::inconsistent(
            format!("{path}.hash_map"),
            format!("hash {key} appears twice"),
        )
    })
}

/// Precomputes the CTR value of every bucket of its table, and the value of a missing key,
/// exactly as CatBoost's `TStaticCtrProvider::CalcCtrs` does.
fn ctr_values(
    c: &model::Ctr,
    ctr_type: CtrType,
    table: &model::CtrTable,
    tpath: &str,
    path: &str,
) -> Result<(Vec<f32>, f32), LoadError> {
    let pn = c.prior_numerator as f32;
    let pd = c.prior_denomerator as f32;
    let shift = c.shift as f32;
    let scale = c.scale as f32;
    let calc = |num: f32, den: f32| ctr::calc(num, den, pn, pd, shift, scale);
    let stride = table.hash_stride;
    let stats = stride - 1;
    let mut values = Vec::with_capacity(table.hash_map.len() / stride);
    let number = |at: usize| -> Result<f64, LoadError> {
        table.hash_map[at].as_f64().ok_or_else(|| {
            LoadError::inconsistent(
                format!("{tpath}.hash_map[{at}]"),
                "statistic is not a number",
            )
        })
    };
    let count = |at: usize| -> Result<i64, LoadError> {
        let v = number(at)?;
        if v.fract() != 0.0 || v.abs() > 2_147_483_647.0 {
            return Err(LoadError::inconsistent(
                format!("{tpath}.hash_map[{at}]"),
                format!("count {v} is not a 32-bit integer"),
            ));
        }
        Ok(v as i64)
    };
    let want_stats = |n: usize| -> Result<(), LoadError> {
        if stats != n {
            return Err(LoadError::inconsistent(
                format!("{tpath}.hash_stride"),
                format!(
                    "{:?} CTR needs {} entries per bucket, table has {stride}",
                    c.ctr_type,
                    n + 1
                ),
            ));
        }
        Ok(())
    };
    let tbi = c.target_border_idx;
    let n_buckets = table.hash_map.len() / stride;
    let empty = match ctr_type {
        CtrType::BinarizedTargetMeanValue | CtrType::FloatTargetMeanValue => {
            want_stats(2)?;
            for b in 0..n_buckets {
                let at = b * stride + 1;
                let sum = number(at)? as f32;
                let cnt = count(at + 1)? as f32;
                values.push(calc(sum, cnt));
            }
            calc(0.0, 0.0)
        }
        CtrType::Counter | CtrType::FeatureFreq => {
            want_stats(1)?;
            let den = table.counter_denominator.ok_or_else(|| {
                LoadError::inconsistent(format!("{tpath}.counter_denominator"), "missing")
            })?;
            if den.fract() != 0.0 || den.abs() > 2_147_483_647.0 {
                return Err(LoadError::inconsistent(
                    format!("{tpath}.counter_denominator"),
                    format!("{den} is not a 32-bit integer"),
                ));
            }
            let den = den as f32;
            for b in 0..n_buckets {
                values.push(calc(count(b * stride + 1)? as f32, den));
            }
            calc(0.0, den)
        }
        CtrType::Buckets | CtrType::Borders => {
            if stats < 2 {
                return Err(LoadError::inconsistent(
                    format!("{tpath}.hash_stride"),
                    format!("{:?} CTR needs at least two target classes", c.ctr_type),
                ));
            }
            let max_tbi = if ctr_type == CtrType::Buckets {
                stats
            } else {
                stats - 1
            };
            if tbi < 0 || tbi as usize >= max_tbi {
                return Err(LoadError::inconsistent(
                    format!("{path}.target_border_idx"),
                    format!("{tbi} is out of range for {stats} target classes"),
                ));
            }
            let tbi = tbi as usize;
            for b in 0..n_buckets {
                let at = b * stride + 1;
                let mut total = 0i64;
                let mut good = 0i64;
                for class in 0..stats {
                    let n = count(at + class)?;
                    total += n;
                    let is_good = match ctr_type {
                        CtrType::Buckets => class == tbi,
                        // With two classes CatBoost takes class 1 whatever the border index.
                        _ if stats == 2 => class == 1,
                        _ => class > tbi,
                    };
                    if is_good {
                        good += n;
                    }
                }
                values.push(calc(good as f32, total as f32));
            }
            calc(0.0, 0.0)
        }
    };
    Ok((values, empty))
}
