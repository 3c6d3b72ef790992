//! Turns the parsed JSON document into the flat structures `eval.rs` runs on, refusing at load
//! everything that cannot be evaluated exactly (with the JSON path of the problem).
//!
//! Binary features ("bins") are numbered like CatBoost's own flat split list: every float
//! border (float features in order), then every one-hot value, then every CTR border (in
//! `features_info.ctrs` order). An `OnlineCtr` split only carries a position in that list.
//! Each split is then compiled to the test the evaluator runs: a quantized column and a
//! threshold (see `eval.rs`).

use super::ctr::{self, CtrType, HashIndex};
use super::error::LoadError;
use super::eval::{
    BinTest, Columns, CtrFeature, FloatColumn, FloatPart, LEAF_FLAG, Lookup, NEVER, NsNode,
    OneHotBin, Output, PaddedLeaves, Projection, Trees, biased,
};
use super::json::{self as model, JsonModel, LeafValue, Node, Split};
use super::{ClassLabel, FeatureKind, Model};
use serde_json::Value;
use std::collections::HashMap;

/// Deepest oblivious tree accepted (CatBoost's own limit is 16).
const MAX_DEPTH: usize = 16;

pub(crate) fn compile(json: JsonModel) -> Result<Model, LoadError> {
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

    // --- flat feature layout -------------------------------------------------------------
    let mut kinds: Vec<Option<FeatureKind>> = Vec::new();
    let mut claim = |flat: usize, kind: FeatureKind, path: String| -> Result<(), LoadError> {
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
        Ok(())
    };

    // Float features: position by feature_index.
    let mut float_pos: HashMap<usize, usize> = HashMap::new();
    let mut floats = Vec::with_capacity(fi.float_features.len());
    let mut n_bins = 0usize;
    let mut n_cols = 0usize;
    for (i, f) in fi.float_features.iter().enumerate() {
        let path = format!("features_info.float_features[{i}]");
        claim(
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
        floats.push(FloatColumn {
            flat: f.flat_feature_index,
            columns: Columns::allocate(&borders, &mut n_cols),
            nan_as_true,
            borders,
        });
        n_bins += floats[i].borders.len();
    }

    // Categorical features: position by feature_index; one-hot values become bins.
    let mut cat_pos: HashMap<usize, usize> = HashMap::new();
    let mut cat_flat = Vec::with_capacity(fi.categorical_features.len());
    let mut onehots = Vec::new();
    for (i, c) in fi.categorical_features.iter().enumerate() {
        let path = format!("features_info.categorical_features[{i}]");
        claim(
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
        cat_flat.push(c.flat_feature_index);
        for (j, &v) in c.values.iter().enumerate() {
            onehots.push(OneHotBin {
                cat: i,
                value: to_i32_hash(v, &format!("{path}.values[{j}]"))?,
            });
        }
    }
    // One-hot values take bins (CatBoost's flat split indices count them) and 0/1 columns.
    n_bins += onehots.len();
    let onehot_first_col = n_cols;
    n_cols += onehots.len();

    let kinds: Vec<FeatureKind> = kinds
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

    // --- CTR tables ----------------------------------------------------------------------
    let empty_tables = Default::default();
    let ctr_data = json.ctr_data.as_ref().unwrap_or(&empty_tables);
    let mut table_ids: HashMap<&str, usize> = HashMap::new();
    let mut tables: Vec<(HashIndex, &model::CtrTable, &str)> = Vec::new();

    // --- CTR features and their projections ---------------------------------------------
    let ctr_first_bin = n_bins;
    let mut ctrs = Vec::with_capacity(fi.ctrs.len());
    let mut projections: Vec<Projection> = Vec::new();
    let mut projection_ids: HashMap<String, usize> = HashMap::new();
    for (k, c) in fi.ctrs.iter().enumerate() {
        let path = format!("features_info.ctrs[{k}]");
        let ctr_type = CtrType::parse(&c.ctr_type).ok_or_else(|| {
            LoadError::unsupported(
                format!("{path}.ctr_type"),
                format!("CTR type {:?}", c.ctr_type),
            )
        })?;
        let projection = build_projection(c, &path, &cat_pos, &float_pos, &floats)?;
        let proj_key = format!(
            "{:?}",
            (&projection.cats, &projection.floats, &projection.exact)
        );
        let proj_idx = *projection_ids.entry(proj_key).or_insert_with(|| {
            projections.push(projection);
            projections.len() - 1
        });

        let table_idx = match table_ids.get(c.identifier.as_str()) {
            Some(&t) => t,
            None => {
                let table = ctr_data.get(&c.identifier).ok_or_else(|| {
                    LoadError::inconsistent(
                        format!("{path}.identifier"),
                        format!("no ctr_data entry for identifier {:?}", c.identifier),
                    )
                })?;
                let tpath = format!("ctr_data[{:?}]", c.identifier);
                let index = build_index(table, &tpath)?;
                tables.push((index, table, c.identifier.as_str()));
                table_ids.insert(c.identifier.as_str(), tables.len() - 1);
                tables.len() - 1
            }
        };
        let (_, table, _) = &tables[table_idx];
        let tpath = format!("ctr_data[{:?}]", c.identifier);
        let (values, empty) = ctr_values(c, ctr_type, table, &tpath, &path)?;
        let borders = c
            .borders
            .iter()
            .enumerate()
            .map(|(j, &b)| to_f32_exact(b, &format!("{path}.borders[{j}]")))
            .collect::<Result<Vec<f32>, _>>()?;
        let lookups = &mut projections[proj_idx].lookups;
        match lookups.iter_mut().find(|l| l.table == table_idx) {
            Some(l) => l.ctrs.push(k),
            None => lookups.push(Lookup {
                table: table_idx,
                ctrs: vec![k],
            }),
        }
        ctrs.push(CtrFeature {
            first_bin: n_bins,
            columns: Columns::allocate(&borders, &mut n_cols),
            values,
            empty,
            borders,
            target_border_idx: c.target_border_idx,
        });
        n_bins += ctrs[k].borders.len();
    }
    let tables: Vec<HashIndex> = tables.into_iter().map(|(index, _, _)| index).collect();

    let layout = BinLayout {
        floats: &floats,
        onehots: &onehots,
        onehot_first_col,
        ctrs: &ctrs,
        ctr_first_bin,
        n_bins,
        float_pos: &float_pos,
        cat_pos: &cat_pos,
    };

    // --- output dimension ----------------------------------------------------------------
    let (scale, bias) = match &json.scale_and_bias {
        Some((s, b)) => (*s, b.clone()),
        None => (1.0, Vec::new()),
    };
    let trees = match (&json.oblivious_trees, &json.trees) {
        (Some(_), Some(_)) => {
            return Err(LoadError::inconsistent(
                ".",
                "both oblivious_trees and trees are present",
            ));
        }
        (None, None) => return Err(LoadError::inconsistent(".", "the model has no trees")),
        (Some(ts), None) => compile_oblivious(ts, &layout, bias.len())?,
        (None, Some(ts)) => compile_non_symmetric(ts, &layout, bias.len())?,
    };
    let dim = trees.1;
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

    let output = compile_output(&json, dim)?;
    if !fi.ctrs.is_empty() {
        refuse_lossy_ctrs(&json, dim, &output)?;
    }
    let used_cats = {
        let mut used = vec![false; cat_flat.len()];
        for o in &onehots {
            used[o.cat] = true;
        }
        for p in &projections {
            for &c in &p.cats {
                used[c] = true;
            }
            for &(c, _) in &p.exact {
                used[c] = true;
            }
        }
        used
    };

    let max_depth = match &trees.0 {
        Trees::Oblivious { split_offsets, .. } => split_offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .max()
            .unwrap_or(0),
        Trees::NonSymmetric { .. } => 0,
    };
    Ok(Model {
        kinds,
        floats,
        cat_flat,
        used_cats,
        onehots,
        onehot_first_col,
        projections,
        tables,
        ctrs,
        n_cols,
        max_depth,
        padded: match &trees.0 {
            Trees::Oblivious {
                splits,
                split_offsets,
                leaf_offsets,
                leaves,
            } if dim == 1 && max_depth <= 8 => {
                let n = 1usize << max_depth;
                let n_trees = split_offsets.len() - 1;
                let mut padded = vec![0.0; n_trees * n];
                let mut levels = vec![NEVER; n_trees * max_depth];
                for t in 0..n_trees {
                    let src = &leaves[leaf_offsets[t] as usize..leaf_offsets[t + 1] as usize];
                    padded[t * n..][..src.len()].copy_from_slice(src);
                    let src = &splits[split_offsets[t] as usize..split_offsets[t + 1] as usize];
                    levels[t * max_depth..][..src.len()].copy_from_slice(src);
                }
                Some(PaddedLeaves {
                    depth: max_depth,
                    leaves: padded,
                    splits: levels,
                })
            }
            _ => None,
        },
        trees: trees.0,
        dim,
        scale,
        bias,
        output,
    })
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

fn build_projection(
    c: &model::Ctr,
    path: &str,
    cat_pos: &HashMap<usize, usize>,
    float_pos: &HashMap<usize, usize>,
    floats: &[FloatColumn],
) -> Result<Projection, LoadError> {
    let mut p = Projection {
        cats: Vec::new(),
        floats: Vec::new(),
        exact: Vec::new(),
        lookups: Vec::new(),
    };
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
            "cat_feature_value" => p.cats.push(cat(e)?),
            "cat_feature_exact_value" => {
                let v = e
                    .value
                    .ok_or_else(|| LoadError::inconsistent(format!("{epath}.value"), "missing"))?;
                p.exact
                    .push((cat(e)?, to_i32_hash(v, &format!("{epath}.value"))?));
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
                p.floats.push(FloatPart {
                    pos,
                    border,
                    nan_as_true: col.nan_as_true,
                    bin: col
                        .borders
                        .iter()
                        .position(|&b| b == border)
                        .map(|j| col.columns.test(j)),
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
    Ok(p)
}

/// Parses a `ctr_data` table's keys into a lookup index.
fn build_index(table: &model::CtrTable, path: &str) -> Result<HashIndex, LoadError> {
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
    HashIndex::build(&keys).map_err(|key| {
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

struct BinLayout<'a> {
    floats: &'a [FloatColumn],
    onehots: &'a [OneHotBin],
    onehot_first_col: usize,
    ctrs: &'a [CtrFeature],
    ctr_first_bin: usize,
    n_bins: usize,
    float_pos: &'a HashMap<usize, usize>,
    cat_pos: &'a HashMap<usize, usize>,
}

impl BinLayout<'_> {
    /// The bin a split tests, checked against the model's features.
    fn resolve(&self, s: &Split, path: &str) -> Result<BinTest, LoadError> {
        let missing = |field: &str| LoadError::inconsistent(format!("{path}.{field}"), "missing");
        let bin = match s.split_type.as_str() {
            "FloatFeature" => {
                let idx = s
                    .float_feature_index
                    .ok_or_else(|| missing("float_feature_index"))?;
                let pos = self.float_pos.get(&idx).copied().ok_or_else(|| {
                    LoadError::inconsistent(
                        format!("{path}.float_feature_index"),
                        format!("no float feature {idx}"),
                    )
                })?;
                let b = s.border.ok_or_else(|| missing("border"))?;
                let border = to_f32_exact(b, &format!("{path}.border"))?;
                let col = &self.floats[pos];
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
                let pos = self.cat_pos.get(&idx).copied().ok_or_else(|| {
                    LoadError::inconsistent(
                        format!("{path}.cat_feature_index"),
                        format!("no categorical feature {idx}"),
                    )
                })?;
                let v = s.value.ok_or_else(|| missing("value"))?;
                let value = to_i32_hash(v, &format!("{path}.value"))?;
                let j = self
                    .onehots
                    .iter()
                    .position(|o| o.cat == pos && o.value == value)
                    .ok_or_else(|| {
                        LoadError::inconsistent(
                            format!("{path}.value"),
                            format!("{v} is not a one-hot value of categorical feature {idx}"),
                        )
                    })?;
                BinTest {
                    col: (self.onehot_first_col + j) as u32,
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

fn compile_oblivious(
    ts: &[model::ObliviousTree],
    layout: &BinLayout<'_>,
    bias_len: usize,
) -> Result<(Trees, usize), LoadError> {
    let mut dim = bias_len;
    let mut splits = Vec::new();
    let mut split_offsets = Vec::with_capacity(ts.len() + 1);
    let mut leaf_offsets = Vec::with_capacity(ts.len() + 1);
    let mut leaves = Vec::new();
    split_offsets.push(0u32);
    leaf_offsets.push(0u32);
    for (t, tree) in ts.iter().enumerate() {
        let path = format!("oblivious_trees[{t}]");
        let depth = tree.splits.len();
        if depth > MAX_DEPTH {
            return Err(LoadError::unsupported(
                format!("{path}.splits"),
                format!("tree depth {depth} (at most {MAX_DEPTH})"),
            ));
        }
        let n_leaves = 1usize << depth;
        if dim == 0 {
            if tree.leaf_values.is_empty() || tree.leaf_values.len() % n_leaves != 0 {
                return Err(LoadError::inconsistent(
                    format!("{path}.leaf_values"),
                    format!("{} values for depth {depth}", tree.leaf_values.len()),
                ));
            }
            dim = tree.leaf_values.len() / n_leaves;
        }
        if tree.leaf_values.len() != n_leaves * dim {
            return Err(LoadError::inconsistent(
                format!("{path}.leaf_values"),
                format!(
                    "{} values, expected {} (2^depth {depth} x dimension {dim})",
                    tree.leaf_values.len(),
                    n_leaves * dim
                ),
            ));
        }
        for (l, s) in tree.splits.iter().enumerate() {
            splits.push(layout.resolve(s, &format!("{path}.splits[{l}]"))?);
        }
        check_finite(&tree.leaf_values, &format!("{path}.leaf_values"))?;
        leaves.extend_from_slice(&tree.leaf_values);
        split_offsets.push(u32::try_from(splits.len()).map_err(|_| too_big(&path))?);
        leaf_offsets.push(u32::try_from(leaves.len()).map_err(|_| too_big(&path))?);
    }
    if dim == 0 {
        return Err(LoadError::inconsistent(
            "oblivious_trees",
            "the model has no trees",
        ));
    }
    Ok((
        Trees::Oblivious {
            splits,
            split_offsets,
            leaf_offsets,
            leaves,
        },
        dim,
    ))
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

fn compile_non_symmetric(
    ts: &[Node],
    layout: &BinLayout<'_>,
    bias_len: usize,
) -> Result<(Trees, usize), LoadError> {
    let mut b = NsBuilder {
        layout,
        dim: bias_len,
        nodes: Vec::new(),
        leaves: Vec::new(),
    };
    let mut roots = Vec::with_capacity(ts.len());
    for (t, tree) in ts.iter().enumerate() {
        roots.push(b.node(tree, &format!("trees[{t}]"))?);
    }
    if b.dim == 0 {
        return Err(LoadError::inconsistent("trees", "the model has no trees"));
    }
    Ok((
        Trees::NonSymmetric {
            roots,
            nodes: b.nodes,
            leaves: b.leaves,
        },
        b.dim,
    ))
}

struct NsBuilder<'a, 'b> {
    layout: &'a BinLayout<'b>,
    dim: usize,
    nodes: Vec<NsNode>,
    leaves: Vec<f64>,
}

impl NsBuilder<'_, '_> {
    /// Returns the node's reference: a node index, or `LEAF_FLAG | leaf index`.
    fn node(&mut self, n: &Node, path: &str) -> Result<u32, LoadError> {
        match (&n.split, &n.left, &n.right, &n.value) {
            (None, None, None, Some(v)) => {
                let values: &[f64] = match v {
                    LeafValue::One(x) => std::slice::from_ref(x),
                    LeafValue::Many(xs) => xs,
                };
                if self.dim == 0 {
                    self.dim = values.len();
                }
                if values.is_empty() || values.len() != self.dim {
                    return Err(LoadError::inconsistent(
                        format!("{path}.value"),
                        format!("{} values, expected dimension {}", values.len(), self.dim),
                    ));
                }
                check_finite(values, &format!("{path}.value"))?;
                let leaf = self.leaves.len() / self.dim;
                self.leaves.extend_from_slice(values);
                let leaf = u32::try_from(leaf)
                    .ok()
                    .filter(|l| l & LEAF_FLAG == 0)
                    .ok_or_else(|| too_big(path))?;
                Ok(LEAF_FLAG | leaf)
            }
            (Some(s), Some(l), Some(r), None) => {
                let bin = self.layout.resolve(s, &format!("{path}.split"))?;
                let idx = self.nodes.len();
                self.nodes.push(NsNode {
                    bin,
                    left: 0,
                    right: 0,
                });
                let left = self.node(l, &format!("{path}.left"))?;
                let right = self.node(r, &format!("{path}.right"))?;
                self.nodes[idx].left = left;
                self.nodes[idx].right = right;
                u32::try_from(idx)
                    .ok()
                    .filter(|i| i & LEAF_FLAG == 0)
                    .ok_or_else(|| too_big(path))
            }
            _ => Err(LoadError::inconsistent(
                path,
                "a node must be either {split, left, right} or a leaf {value}",
            )),
        }
    }
}

/// Refuses CTR models whose JSON export is known to be lossy in CatBoost 1.2.10 (CatBoost's own
/// evaluator, reloading the exported JSON, disagrees with the trained model): the export keeps
/// one statistics table per CTR identifier, while these models learn one table per target
/// (multi-target regression) or per target border (mean CTRs with several target borders).
fn refuse_lossy_ctrs(json: &JsonModel, dim: usize, output: &Output) -> Result<(), LoadError> {
    if dim > 1 && matches!(output, Output::Regression { .. }) {
        return Err(LoadError::unsupported(
            "features_info.ctrs",
            "CTR features in a multi-target regression model (the JSON export keeps the \
             CTR tables of only one target)",
        ));
    }
    let Some(cfp) = json
        .model_info
        .as_ref()
        .and_then(|m| m.params.as_ref())
        .and_then(|p| p.get("cat_feature_params"))
    else {
        return Ok(());
    };
    let has_mean_ctr = json.features_info.ctrs.iter().any(|c| {
        matches!(
            c.ctr_type.as_str(),
            "BinarizedTargetMeanValue" | "FloatTargetMeanValue"
        )
    });
    if !has_mean_ctr {
        return Ok(());
    }
    let mut descriptions: Vec<(String, &Value)> = Vec::new();
    for key in ["simple_ctrs", "combinations_ctrs"] {
        if let Some(list) = cfp.get(key).and_then(Value::as_array) {
            for (i, d) in list.iter().enumerate() {
                descriptions.push((format!("{key}[{i}]"), d));
            }
        }
    }
    if let Some(per) = cfp.get("per_feature_ctrs").and_then(Value::as_object) {
        for (f, list) in per {
            for (i, d) in list.as_array().into_iter().flatten().enumerate() {
                descriptions.push((format!("per_feature_ctrs[{f:?}][{i}]"), d));
            }
        }
    }
    for (path, d) in descriptions {
        let mean = matches!(
            d.get("ctr_type").and_then(Value::as_str),
            Some("BinarizedTargetMeanValue" | "FloatTargetMeanValue")
        );
        let borders = d
            .get("target_binarization")
            .and_then(|t| t.get("border_count"))
            .and_then(Value::as_u64)
            .unwrap_or(1);
        if mean && borders > 1 {
            return Err(LoadError::unsupported(
                format!(
                    "model_info.params.cat_feature_params.{path}.target_binarization.border_count"
                ),
                format!(
                    "mean-value CTR with {borders} target borders (the JSON export keeps the \
                     table of only one target border)"
                ),
            ));
        }
    }
    Ok(())
}

fn loss_type(json: &JsonModel) -> Option<&str> {
    json.model_info
        .as_ref()?
        .params
        .as_ref()?
        .get("loss_function")?
        .get("type")?
        .as_str()
}

fn compile_output(json: &JsonModel, dim: usize) -> Result<Output, LoadError> {
    let class_params = json
        .model_info
        .as_ref()
        .and_then(|m| m.class_params.as_ref());
    let labels = match class_params {
        Some(cp) if !cp.class_names.is_empty() => {
            let ty = cp.class_label_type.as_deref();
            cp.class_names
                .iter()
                .enumerate()
                .map(|(i, v)| label(v, ty, &format!("model_info.class_params.class_names[{i}]")))
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => Vec::new(),
    };
    let loss = loss_type(json);
    let path = "model_info.params.loss_function.type";
    let classifier = match loss {
        Some("Logloss" | "CrossEntropy") => Some(false),
        Some("MultiClass") => Some(true),
        Some("MultiClassOneVsAll") => {
            return Ok(Output::OneVsAll {
                labels: class_labels(labels, dim, path)?,
            });
        }
        Some(l @ ("RMSEWithUncertainty" | "MultiLogloss" | "MultiCrossEntropy")) => {
            return Err(LoadError::unsupported(path, format!("loss function {l:?}")));
        }
        Some(_) => None,
        None if !labels.is_empty() => Some(dim > 1),
        None => None,
    };
    match classifier {
        Some(false) if dim == 1 => Ok(Output::Binary {
            labels: class_labels(labels, 2, path)?,
        }),
        Some(true) if dim >= 2 => Ok(Output::MultiClass {
            labels: class_labels(labels, dim, path)?,
        }),
        Some(_) => Err(LoadError::inconsistent(
            path,
            format!("loss {loss:?} does not fit a model of dimension {dim}"),
        )),
        None => Ok(Output::Regression {
            exponent: matches!(loss, Some("Poisson" | "Tweedie")),
        }),
    }
}

/// Class labels for `n` classes: the model's own names, or `0..n` when it has none.
fn class_labels(
    labels: Vec<ClassLabel>,
    n: usize,
    path: &str,
) -> Result<Vec<ClassLabel>, LoadError> {
    if labels.is_empty() {
        return Ok((0..n as i64).map(ClassLabel::Integer).collect());
    }
    if labels.len() != n {
        return Err(LoadError::inconsistent(
            "model_info.class_params.class_names",
            format!("{} class names for {n} classes ({path})", labels.len()),
        ));
    }
    Ok(labels)
}

fn label(v: &Value, ty: Option<&str>, path: &str) -> Result<ClassLabel, LoadError> {
    let bad = || LoadError::inconsistent(path, format!("class name {v} does not fit type {ty:?}"));
    Ok(match (ty, v) {
        (Some("Boolean"), Value::Bool(b)) => ClassLabel::Boolean(*b),
        (Some("String"), Value::String(s)) => ClassLabel::String(s.clone()),
        (Some("Integer"), Value::Number(n)) => ClassLabel::Integer(n.as_i64().ok_or_else(bad)?),
        (Some("Float"), Value::Number(n)) => ClassLabel::Float(n.as_f64().ok_or_else(bad)?),
        (None, Value::Bool(b)) => ClassLabel::Boolean(*b),
        (None, Value::String(s)) => ClassLabel::String(s.clone()),
        (None, Value::Number(n)) => match n.as_i64() {
            Some(i) => ClassLabel::Integer(i),
            None => ClassLabel::Float(n.as_f64().ok_or_else(bad)?),
        },
        (Some("Boolean" | "String" | "Integer" | "Float"), _) => return Err(bad()),
        (Some(other), _) => {
            return Err(LoadError::unsupported(
                "model_info.class_params.class_label_type",
                format!("class label type {other:?}"),
            ));
        }
        (None, _) => return Err(bad()),
    })
}
