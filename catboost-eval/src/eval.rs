//! Evaluation: the compiled model's structures and the block evaluator.
//!
//! Rows are evaluated in blocks of [`BLOCK`] rows. A binary feature ("bin": a float border
//! test, a one-hot equality, a CTR border test) is not stored per row. As CatBoost does, each
//! float or CTR value is quantized once per row into a byte: how many of its (sorted) borders
//! it exceeds. A split on border `j` is then `quant > j`, because a value above border `j` is
//! above every border below it. The quantized matrix has one byte row per column (about one
//! per feature rather than one per border), so a block stays in L1 while the trees read it;
//! the per-tree inner loops run over contiguous bytes and vectorise.

use super::ctr::{HashIndex, fold, fold_cat};
use super::hash::cat_hash;
use crate::{ClassLabel, EvalError, FeatureKind, FeatureValue, Model, Prediction};
use wide::{f32x4, i8x16, u32x4};

/// Rows per evaluation block (quantized matrix rows are this long).
pub(crate) const BLOCK: usize = 256;

/// Rows processed together by the inner loops (one 16-byte vector of quantized bytes), and
/// summed together in registers by `eval_padded`. `BLOCK` is a multiple of it.
pub(crate) const LANES: usize = 16;

/// Marks a non-symmetric tree reference as a leaf index rather than a node index.
pub(crate) const LEAF_FLAG: u32 = 1 << 31;

/// Most borders one quantized byte column counts: a feature with more borders uses several
/// columns of this many borders each.
pub(crate) const COLUMN_BORDERS: usize = 255;

/// A bin as the evaluator reads it: the bin is 1 for a row when the row's byte in quantized
/// column `col` is greater than `thr` (both [`biased`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BinTest {
    pub(crate) col: u32,
    pub(crate) thr: i8,
}

/// How a count (0..=255) is stored in the quantized matrix: as `count - 128`, an `i8`, which
/// keeps the order. SSE2 and NEON compare signed bytes in one instruction; an unsigned byte
/// compare takes SSE2 three.
#[inline(always)]
pub(crate) const fn biased(count: u8) -> i8 {
    (count ^ 0x80) as i8
}

/// How a value with `borders` is quantized: which columns hold it and how many borders each
/// column counts. Counting is exact only for borders in ascending order (then the borders a
/// value exceeds are always the first ones); borders in any other order, which CatBoost does
/// not write but a hand-edited model might, get one 0/1 column each.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Columns {
    pub(crate) first: usize,
    /// Borders per column: [`COLUMN_BORDERS`], or 1 for unsorted borders.
    pub(crate) per_column: usize,
}

impl Columns {
    /// Columns for `borders`, starting at column `*next`, which is advanced past them.
    pub(crate) fn allocate(borders: &[f32], next: &mut usize) -> Self {
        let per_column = if borders.is_sorted() {
            COLUMN_BORDERS
        } else {
            1
        };
        let first = *next;
        *next += borders.len().div_ceil(per_column);
        Self { first, per_column }
    }

    /// The test for the value's border `j`.
    pub(crate) fn test(self, j: usize) -> BinTest {
        BinTest {
            col: (self.first + j / self.per_column) as u32,
            thr: biased((j % self.per_column) as u8),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FloatColumn {
    pub(crate) flat: usize,
    pub(crate) columns: Columns,
    /// NaN counts as greater than every border (`nan_value_treatment: AsTrue`).
    pub(crate) nan_as_true: bool,
    pub(crate) borders: Vec<f32>,
}

#[derive(Debug, Clone)]
pub(crate) struct OneHotBin {
    /// Position of the categorical feature in `features_info.categorical_features`.
    pub(crate) cat: usize,
    pub(crate) value: i32,
}

/// The parts of a CTR key, folded in CatBoost's order: categorical hashes, then float-border
/// bits, then one-hot equality bits.
#[derive(Debug, Clone)]
pub(crate) struct Projection {
    pub(crate) cats: Vec<usize>,
    pub(crate) floats: Vec<FloatPart>,
    pub(crate) exact: Vec<(usize, i32)>,
    pub(crate) lookups: Vec<Lookup>,
}

/// A float-border bit of a CTR key.
#[derive(Debug, Clone)]
pub(crate) struct FloatPart {
    /// Position of the float column.
    pub(crate) pos: usize,
    pub(crate) border: f32,
    pub(crate) nan_as_true: bool,
    /// The bin holding this very test when the border is one of the feature's borders (as
    /// CatBoost requires); otherwise the bit is computed from the value.
    pub(crate) bin: Option<BinTest>,
}

/// One table lookup for a projection, shared by every CTR feature that reads that table.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    pub(crate) table: usize,
    pub(crate) ctrs: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) struct CtrFeature {
    /// CatBoost's flat index of the CTR's first border (`split_index` of `OnlineCtr` splits).
    pub(crate) first_bin: usize,
    pub(crate) columns: Columns,
    /// The CTR value of each bucket of its table, precomputed at load.
    pub(crate) values: Vec<f32>,
    /// The value for a key the table does not have.
    pub(crate) empty: f32,
    pub(crate) borders: Vec<f32>,
    pub(crate) target_border_idx: i64,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NsNode {
    pub(crate) bin: BinTest,
    /// Taken when the bin is 0.
    pub(crate) left: u32,
    /// Taken when the bin is 1.
    pub(crate) right: u32,
}

#[derive(Debug, Clone)]
pub(crate) enum Trees {
    /// Symmetric trees: level `l` of tree `t` tests bin `splits[split_offsets[t] + l]` and
    /// contributes bit `l` of the leaf index; leaf values are interleaved per dimension.
    Oblivious {
        splits: Vec<BinTest>,
        split_offsets: Vec<u32>,
        leaf_offsets: Vec<u32>,
        leaves: Vec<f64>,
    },
    /// Depthwise / Lossguide trees as node arrays; `roots[t]` and children are node indices or
    /// `LEAF_FLAG | leaf`.
    NonSymmetric {
        roots: Vec<u32>,
        nodes: Vec<NsNode>,
        leaves: Vec<f64>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Output {
    Binary { labels: Vec<ClassLabel> },
    MultiClass { labels: Vec<ClassLabel> },
    OneVsAll { labels: Vec<ClassLabel> },
    Regression { exponent: bool },
}

/// Leaves of oblivious trees padded to `2^depth` per tree (`depth` = the deepest tree, at most
/// 8), for one-dimensional models: the fast path of `eval_padded`.
#[derive(Debug, Clone)]
pub(crate) struct PaddedLeaves {
    pub(crate) depth: usize,
    pub(crate) leaves: Vec<f64>,
    /// `depth` tests per tree, level 0 first. A shallower tree's missing top levels test
    /// [`NEVER`]: their bit is 0, which leaves its leaf index unchanged.
    pub(crate) splits: Vec<BinTest>,
}

/// A test that is never true (no biased byte is greater than `i8::MAX`).
pub(crate) const NEVER: BinTest = BinTest {
    col: 0,
    thr: i8::MAX,
};

/// Trees whose leaf indices are computed together before their leaves are summed: their
/// indices for a whole block (`TREE_CHUNK * BLOCK` bytes) stay in L1.
const TREE_CHUNK: usize = 32;

/// Reusable per-call buffers.
pub(crate) struct Scratch {
    /// Length of a quantized matrix row: rows per block for this call (a multiple of `LANES`).
    stride: usize,
    /// The quantized matrix: one row of `stride` [`biased`] counts per column.
    quant: Vec<i8>,
    xs: Vec<f32>,
    hashes: Vec<i32>,
    keys: Vec<u64>,
    buckets: Vec<u32>,
    vals: Vec<f32>,
    idx_all: Vec<u8>,
}

impl Scratch {
    /// Buffers for evaluating `rows` rows: a single row gets one lane group, not a block.
    pub(crate) fn new(model: &Model, rows: usize) -> Self {
        let stride = lanes_for(rows.clamp(1, BLOCK));
        Self {
            stride,
            quant: vec![0; model.n_cols * stride],
            xs: vec![0.0; stride],
            hashes: vec![0; model.cat_flat.len() * stride],
            keys: vec![0; stride],
            buckets: vec![0; stride],
            vals: vec![0.0; stride],
            idx_all: Vec::new(),
        }
    }
}

impl Model {
    /// Checks every value's kind against the model; `base_row` numbers rows in errors.
    fn validate(&self, rows: &[FeatureValue<'_>], base_row: usize) -> Result<(), EvalError> {
        let nf = self.kinds.len();
        for (r, row) in rows.chunks_exact(nf.max(1)).enumerate() {
            let is_ok = |(v, k): (&FeatureValue<'_>, &FeatureKind)| {
                matches!(v, FeatureValue::Float(_)) == (*k == FeatureKind::Float)
            };
            // Branch-free check of the whole row first; find the culprit only on failure.
            if !row
                .iter()
                .zip(&self.kinds)
                .fold(true, |acc, p| acc & is_ok(p))
            {
                let i = row
                    .iter()
                    .zip(&self.kinds)
                    .position(|p| !is_ok(p))
                    .unwrap_or(0);
                return Err(EvalError::WrongKind {
                    row: base_row + r,
                    index: i,
                    expected: self.kinds[i],
                });
            }
        }
        Ok(())
    }

    /// Evaluates up to `BLOCK` rows (row-major, already validated) and writes
    /// `rows x dim` raw values (after scale and bias) into `out`.
    ///
    /// Loops run over `w` rows: `n` rounded up to [`LANES`] (or exactly `n` below that), so a
    /// single row costs one row, not a whole block; rows past `n` hold stale values whose
    /// results are never read.
    pub(crate) fn eval_block(
        &self,
        rows: &[FeatureValue<'_>],
        n: usize,
        scratch: &mut Scratch,
        out: &mut [f64],
    ) {
        let nf = self.kinds.len();
        let stride = scratch.stride;
        debug_assert!(n <= stride);
        let w = lanes_for(n).min(stride);
        let quant = &mut scratch.quant;
        let float_at = |r: usize, flat: usize| match rows[r * nf + flat] {
            FeatureValue::Float(x) => x as f32,
            FeatureValue::Categorical(_) => f32::NAN,
        };

        // Float borders.
        for col in &self.floats {
            let xs = &mut scratch.xs[..w];
            for (r, x) in xs.iter_mut().enumerate().take(n) {
                let v = float_at(r, col.flat);
                *x = if v.is_nan() && col.nan_as_true {
                    f32::INFINITY
                } else {
                    v
                };
            }
            quantize(quant, stride, col.columns, &col.borders, xs);
        }

        // Category hashes.
        for (c, &flat) in self.cat_flat.iter().enumerate() {
            if !self.used_cats[c] {
                continue;
            }
            let dst = &mut scratch.hashes[c * stride..][..w];
            for (r, h) in dst.iter_mut().enumerate().take(n) {
                *h = match rows[r * nf + flat] {
                    FeatureValue::Categorical(s) => cat_hash(s),
                    FeatureValue::Float(_) => 0,
                };
            }
        }

        // One-hot values.
        for (i, o) in self.onehots.iter().enumerate() {
            let src = &scratch.hashes[o.cat * stride..][..w];
            let dst = &mut quant[(self.onehot_first_col + i) * stride..][..w];
            for (d, &h) in dst.iter_mut().zip(src) {
                *d = biased(u8::from(h == o.value));
            }
        }

        // CTRs.
        for p in &self.projections {
            let keys = &mut scratch.keys[..w];
            keys.fill(0);
            for &c in &p.cats {
                let src = &scratch.hashes[c * stride..][..w];
                for (k, &h) in keys.iter_mut().zip(src) {
                    *k = fold_cat(*k, h);
                }
            }
            for f in &p.floats {
                match f.bin {
                    Some(bin) => {
                        let src = quant_row(quant, bin.col, stride, w);
                        for (k, &q) in keys.iter_mut().zip(src) {
                            *k = fold(*k, u64::from(q > bin.thr));
                        }
                    }
                    None => {
                        let flat = self.floats[f.pos].flat;
                        for (r, k) in keys.iter_mut().enumerate().take(n) {
                            let x = float_at(r, flat);
                            let bit = if x.is_nan() {
                                f.nan_as_true
                            } else {
                                x > f.border
                            };
                            *k = fold(*k, u64::from(bit));
                        }
                    }
                }
            }
            for &(c, value) in &p.exact {
                let src = &scratch.hashes[c * stride..][..w];
                for (k, &h) in keys.iter_mut().zip(src) {
                    *k = fold(*k, u64::from(h == value));
                }
            }
            for l in &p.lookups {
                let table: &HashIndex = &self.tables[l.table];
                // Bucket per row (a missing key maps to the "empty" slot after the buckets),
                // then each CTR's value and border bits as straight loops over the rows.
                let buckets = &mut scratch.buckets[..w];
                let missing = table.len() as u32;
                for (b, &key) in buckets.iter_mut().zip(keys.iter()).take(n) {
                    *b = table.get(key).unwrap_or(missing);
                }
                for &ci in &l.ctrs {
                    let ctr = &self.ctrs[ci];
                    let vals = &mut scratch.vals[..w];
                    for (v, &b) in vals.iter_mut().zip(buckets.iter()).take(n) {
                        *v = ctr.values.get(b as usize).copied().unwrap_or(ctr.empty);
                    }
                    quantize(quant, stride, ctr.columns, &ctr.borders, vals);
                }
            }
        }

        // Trees.
        let dim = self.dim;
        let out = &mut out[..n * dim];
        out.fill(0.0);
        match &self.trees {
            Trees::Oblivious {
                splits,
                split_offsets,
                leaf_offsets,
                leaves,
            } => {
                let trees = ObliviousRef {
                    splits,
                    split_offsets,
                    leaf_offsets,
                    leaves,
                    w,
                    stride,
                };
                if let Some(p) = &self.padded {
                    let idx_all = &mut scratch.idx_all;
                    match p.depth {
                        0 => trees.eval_padded::<1, 0>(p, quant, out, idx_all),
                        1 => trees.eval_padded::<2, 1>(p, quant, out, idx_all),
                        2 => trees.eval_padded::<4, 2>(p, quant, out, idx_all),
                        3 => trees.eval_padded::<8, 3>(p, quant, out, idx_all),
                        4 => trees.eval_padded::<16, 4>(p, quant, out, idx_all),
                        5 => trees.eval_padded::<32, 5>(p, quant, out, idx_all),
                        6 => trees.eval_padded::<64, 6>(p, quant, out, idx_all),
                        7 => trees.eval_padded::<128, 7>(p, quant, out, idx_all),
                        _ => trees.eval_padded::<256, 8>(p, quant, out, idx_all),
                    }
                } else if self.max_depth <= 8 {
                    // Depth <= 8 fits leaf indices in bytes: 16 rows per SSE/NEON op.
                    trees.eval::<u8>(quant, out, dim);
                } else {
                    trees.eval::<u16>(quant, out, dim);
                }
            }
            Trees::NonSymmetric {
                roots,
                nodes,
                leaves,
            } => {
                for (r, o) in out.chunks_exact_mut(dim).enumerate() {
                    for &root in roots {
                        let mut node = root;
                        while node & LEAF_FLAG == 0 {
                            let nd = nodes[node as usize];
                            node = if quant[nd.bin.col as usize * stride + r] > nd.bin.thr {
                                nd.right
                            } else {
                                nd.left
                            };
                        }
                        let leaf = (node & !LEAF_FLAG) as usize;
                        for (o, &v) in o.iter_mut().zip(&leaves[leaf * dim..][..dim]) {
                            *o += v;
                        }
                    }
                }
            }
        }
        for o in out.chunks_exact_mut(dim) {
            for (o, &b) in o.iter_mut().zip(&self.bias) {
                *o = *o * self.scale + b;
            }
        }
    }

    /// Raw values for `rows` (row-major, `feature_kinds().len()` values per row) into `out`
    /// (`dimension()` values per row).
    pub(crate) fn raw_batch(
        &self,
        rows: &[FeatureValue<'_>],
        out: &mut [f64],
    ) -> Result<(), EvalError> {
        let nf = self.kinds.len();
        if nf == 0 || !rows.len().is_multiple_of(nf) {
            return Err(EvalError::WrongLength {
                row: rows.len() / nf.max(1),
                expected: nf,
                actual: rows.len() % nf.max(1),
            });
        }
        let n_rows = rows.len() / nf;
        if out.len() != n_rows * self.dim {
            return Err(EvalError::WrongOutputLength {
                expected: n_rows * self.dim,
                actual: out.len(),
            });
        }
        let mut scratch = Scratch::new(self, n_rows);
        let stride = scratch.stride;
        for (b, (block, out)) in rows
            .chunks(stride * nf)
            .zip(out.chunks_mut(stride * self.dim))
            .enumerate()
        {
            self.validate(block, b * stride)?;
            self.eval_block(block, block.len() / nf, &mut scratch, out);
        }
        Ok(())
    }

    /// Turns raw values (one per dimension) into the model's prediction.
    pub(crate) fn interpret(&self, raw: &[f64]) -> Prediction {
        let argmax = || {
            let mut best = 0;
            for (i, &v) in raw.iter().enumerate() {
                if v > raw[best] {
                    best = i;
                }
            }
            best
        };
        match &self.output {
            Output::Binary { labels } => {
                let p = sigmoid(raw[0]);
                Prediction::Classification {
                    raw: raw.to_vec(),
                    probabilities: vec![1.0 - p, p],
                    class: labels[usize::from(raw[0] > 0.0)].clone(),
                }
            }
            Output::MultiClass { labels } => {
                let max = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let exps: Vec<f64> = raw.iter().map(|&v| (v - max).exp()).collect();
                let sum: f64 = exps.iter().sum();
                Prediction::Classification {
                    raw: raw.to_vec(),
                    probabilities: exps.iter().map(|e| e / sum).collect(),
                    class: labels[argmax()].clone(),
                }
            }
            Output::OneVsAll { labels } => Prediction::Classification {
                raw: raw.to_vec(),
                probabilities: raw.iter().map(|&v| sigmoid(v)).collect(),
                class: labels[argmax()].clone(),
            },
            Output::Regression { exponent } => Prediction::Regression {
                raw: raw.to_vec(),
                values: if *exponent {
                    raw.iter().map(|v| v.exp()).collect()
                } else {
                    raw.to_vec()
                },
            },
        }
    }
}

/// A leaf index being built level by level: `idx = 2 * idx + bit`, from the deepest level
/// up, which gives CatBoost's `sum(bit_l << l)` with plain adds (they vectorise on bytes).
trait LeafIndex: Copy + Default {
    fn push(self, bit: u8) -> Self;
    fn get(self) -> usize;
}

impl LeafIndex for u8 {
    #[inline(always)]
    fn push(self, bit: u8) -> Self {
        self.wrapping_add(self).wrapping_add(bit)
    }
    #[inline(always)]
    fn get(self) -> usize {
        usize::from(self)
    }
}

impl LeafIndex for u16 {
    #[inline(always)]
    fn push(self, bit: u8) -> Self {
        self.wrapping_add(self).wrapping_add(u16::from(bit))
    }
    #[inline(always)]
    fn get(self) -> usize {
        usize::from(self)
    }
}

struct ObliviousRef<'a> {
    splits: &'a [BinTest],
    split_offsets: &'a [u32],
    leaf_offsets: &'a [u32],
    leaves: &'a [f64],
    /// Rows evaluated (a multiple of `LANES`, or fewer than `LANES`).
    w: usize,
    /// Length of a quantized matrix row.
    stride: usize,
}

impl ObliviousRef<'_> {
    /// The common case: one output dimension and trees of depth <= 8, whose leaves were
    /// padded at load to `N` = 2^`D` per tree and whose splits to `D` levels. Trees go in
    /// chunks of [`TREE_CHUNK`]: first the chunk's leaf indices for every row, then each group
    /// of `LANES` rows sums its leaves in registers, continuing from the previous chunks' sum,
    /// so every row adds its trees in model order (results equal CatBoost's bit for bit).
    /// Fixed-size leaf arrays and levels need no bounds checks and unroll.
    #[inline(always)]
    fn eval_padded<const N: usize, const D: usize>(
        &self,
        padded: &PaddedLeaves,
        quant: &[i8],
        out: &mut [f64],
        idx_all: &mut Vec<u8>,
    ) {
        let w = self.w;
        let (trees, _) = padded.leaves.as_chunks::<N>();
        let (levels, _) = padded.splits.as_chunks::<D>();
        let mask = N - 1;
        if w == 1 {
            // One row: walk the trees directly.
            if let Some(o) = out.first_mut() {
                let mut acc = *o;
                for (lv, tests) in trees.iter().zip(levels) {
                    let mut i = 0usize;
                    for bin in tests.iter().rev() {
                        let q = quant.get(bin.col as usize * self.stride).copied();
                        i = 2 * i + usize::from(q.unwrap_or(i8::MIN) > bin.thr);
                    }
                    acc += lv[i & mask];
                }
                *o = acc;
            }
            return;
        }
        for (trees, levels) in trees.chunks(TREE_CHUNK).zip(levels.chunks(TREE_CHUNK)) {
            idx_all.clear();
            idx_all.resize(trees.len() * w, 0);
            for (idx, tests) in idx_all.chunks_exact_mut(w).zip(levels) {
                if w < LANES {
                    for bin in tests.iter().rev() {
                        push_bits(idx, quant_row(quant, bin.col, self.stride, w), bin.thr);
                    }
                    continue;
                }
                // Whole groups of LANES rows: each level's column and threshold are set up
                // once per tree, then a group's leaf indices are built in one register, deepest
                // level first, and written once.
                let cols: [(&[[i8; LANES]], i8x16); D] = std::array::from_fn(|l| {
                    let bin = tests[D - 1 - l];
                    let col = quant_row(quant, bin.col, self.stride, w);
                    (col.as_chunks::<LANES>().0, i8x16::splat(bin.thr))
                });
                for (g, dst) in idx.as_chunks_mut::<LANES>().0.iter_mut().enumerate() {
                    let mut leaf = i8x16::ZERO;
                    for &(col, thr) in &cols {
                        // 2 * leaf + bit; the compare's mask is -1 where the bit is set.
                        leaf = leaf + leaf - i8x16::new(col[g]).simd_gt(thr);
                    }
                    *dst = leaf.to_array().map(|i| i as u8);
                }
            }
            if out.len() < LANES {
                // A few rows (typically one): sum only those.
                for (r, o) in out.iter_mut().enumerate() {
                    let mut acc = *o;
                    for (lv, idx) in trees.iter().zip(idx_all.chunks_exact(w)) {
                        acc += lv[usize::from(idx[r]) & mask];
                    }
                    *o = acc;
                }
                continue;
            }
            // The last group may be partial: its lanes past `n` sum stale indices, unread.
            for (g, out) in out.chunks_mut(LANES).enumerate() {
                let mut acc = [0.0f64; LANES];
                acc[..out.len()].copy_from_slice(out);
                for (lv, idx) in trees.iter().zip(idx_all.chunks_exact(w)) {
                    let ids = idx.as_chunks::<LANES>().0[g];
                    for (a, i) in acc.iter_mut().zip(ids) {
                        *a += lv[usize::from(i) & mask];
                    }
                }
                out.copy_from_slice(&acc[..out.len()]);
            }
        }
    }

    /// Adds every tree's leaf values to `out` (`dim` values per row), trees in model order as
    /// CatBoost sums them.
    #[inline(always)]
    fn eval<I: LeafIndex>(&self, quant: &[i8], out: &mut [f64], dim: usize) {
        let mut idx = [I::default(); BLOCK];
        let idx = &mut idx[..self.w];
        for t in 0..self.split_offsets.len().saturating_sub(1) {
            let sp =
                &self.splits[self.split_offsets[t] as usize..self.split_offsets[t + 1] as usize];
            let lv = &self.leaves[self.leaf_offsets[t] as usize..self.leaf_offsets[t + 1] as usize];
            idx.fill(I::default());
            for &bin in sp.iter().rev() {
                let col = quant_row(quant, bin.col, self.stride, self.w);
                for (i, &q) in idx.iter_mut().zip(col.iter()) {
                    *i = i.push(u8::from(q > bin.thr));
                }
            }
            if dim == 1 {
                for (o, &i) in out.iter_mut().zip(idx.iter()) {
                    *o += lv.get(i.get()).copied().unwrap_or(0.0);
                }
            } else {
                for (o, &i) in out.chunks_exact_mut(dim).zip(idx.iter()) {
                    if let Some(leaf) = lv.get(i.get() * dim..(i.get() + 1) * dim) {
                        for (o, &v) in o.iter_mut().zip(leaf) {
                            *o += v;
                        }
                    }
                }
            }
        }
    }
}

/// Writes the quantized columns of one value (`xs`, one per row) with `borders`: per column,
/// how many of its borders each row's value exceeds.
#[inline(always)]
fn quantize(quant: &mut [i8], stride: usize, columns: Columns, borders: &[f32], xs: &[f32]) {
    let w = xs.len();
    for (c, borders) in borders.chunks(columns.per_column).enumerate() {
        count_above(&mut quant[(columns.first + c) * stride..][..w], xs, borders);
    }
}

/// `dst[r] = #{b in borders : xs[r] > b}` (at most [`COLUMN_BORDERS`] borders, so it fits).
///
/// Groups of [`LANES`] rows keep their values and counts in four vector registers each for the
/// whole border list: a border costs one compare and one subtract of the all-ones mask per
/// four rows, and nothing is written until the group is done. Written with `wide` because,
/// from plain loops, the optimiser vectorises across borders instead and spills.
#[inline(always)]
fn count_above(dst: &mut [i8], xs: &[f32], borders: &[f32]) {
    let (groups, rest) = dst.as_chunks_mut::<LANES>();
    let (xgroups, xrest) = xs.as_chunks::<LANES>();
    for (d, x) in groups.iter_mut().zip(xgroups) {
        let (x4, _) = x.as_chunks::<4>();
        let x4: [f32x4; 4] = std::array::from_fn(|k| f32x4::new(x4[k]));
        let mut acc = [u32x4::ZERO; 4];
        for &b in borders {
            let b = f32x4::splat(b);
            for (a, &x) in acc.iter_mut().zip(&x4) {
                // The mask is all ones (u32::MAX, i.e. -1) where x > b: subtracting it adds 1.
                *a -= x.simd_gt(b).to_bits();
            }
        }
        for (d, a) in d.as_chunks_mut::<4>().0.iter_mut().zip(acc) {
            *d = a.to_array().map(|c| biased(c as u8));
        }
    }
    for (d, &x) in rest.iter_mut().zip(xrest) {
        *d = biased(borders.iter().map(|&b| u8::from(x > b)).sum());
    }
}

/// `idx[r] = 2 * idx[r] + (quant[r] > thr)` (see `LeafIndex`), as whole byte vectors.
#[inline(always)]
fn push_bits(idx: &mut [u8], quant: &[i8], thr: i8) {
    for (i, &q) in idx.iter_mut().zip(quant) {
        *i = i.wrapping_add(*i).wrapping_add(u8::from(q > thr));
    }
}

/// Rows the loops process for `n` rows: fewer than `LANES` rows exactly (a single row stays
/// cheap), otherwise whole groups of `LANES`.
#[inline]
fn lanes_for(n: usize) -> usize {
    if n < LANES {
        n
    } else {
        n.next_multiple_of(LANES)
    }
}

/// The first `w` rows of column `col` of the quantized matrix.
#[inline(always)]
fn quant_row(quant: &[i8], col: u32, stride: usize, w: usize) -> &[i8] {
    let start = col as usize * stride;
    // Columns are validated at load; an out-of-range column would read as count 0.
    quant
        .get(start..start + w)
        .unwrap_or(&[i8::MIN; BLOCK][..w])
}

#[inline]
fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::cat_hash;
    use serde_json::json;

    fn one_border_model(border: f64, nan: &str) -> Model {
        let doc = json!({
            "features_info": {"float_features": [{
                "feature_index": 0, "flat_feature_index": 0, "borders": [border],
                "nan_value_treatment": nan
            }]},
            "oblivious_trees": [{
                "splits": [{"split_type": "FloatFeature", "float_feature_index": 0,
                            "border": border, "split_index": 0}],
                "leaf_values": [0.0, 1.0]
            }],
            "scale_and_bias": [1.0, [0.0]]
        });
        Model::from_json(doc.to_string().as_bytes()).unwrap()
    }

    fn bit(m: &Model, x: f64) -> f64 {
        m.predict(&[FeatureValue::Float(x)]).unwrap().raw()[0]
    }

    /// A split is `f32(x) > border`: values that round onto the border in f32 are not above
    /// it, even when they are above it as f64.
    #[test]
    fn float_split_compares_in_f32_strictly() {
        let b32 = 0.1f32;
        let b = f64::from(b32);
        let m = one_border_model(b, "AsIs");
        assert_eq!(bit(&m, b), 0.0);
        assert_eq!(bit(&m, 0.1), 0.0, "0.1 rounds onto the f32 border");
        let just_above = f64::from_bits(b.to_bits() + 1);
        assert!(just_above > b);
        assert_eq!(
            bit(&m, just_above),
            0.0,
            "rounds down onto the border in f32"
        );
        let next_f32 = f64::from(f32::from_bits(b32.to_bits() + 1));
        assert_eq!(bit(&m, next_f32), 1.0);
        assert_eq!(bit(&m, f64::INFINITY), 1.0);
        assert_eq!(bit(&m, f64::NEG_INFINITY), 0.0);
        assert_eq!(bit(&m, 1e300), 1.0, "overflows to +inf in f32");
    }

    #[test]
    fn nan_treatments() {
        assert_eq!(bit(&one_border_model(0.5, "AsIs"), f64::NAN), 0.0);
        assert_eq!(bit(&one_border_model(0.5, "AsFalse"), f64::NAN), 0.0);
        assert_eq!(bit(&one_border_model(0.5, "AsTrue"), f64::NAN), 1.0);
        // nan_mode Min adds a border at the lowest f32; NaN (AsFalse) stays below it.
        let low = f64::from(f32::MIN);
        assert_eq!(bit(&one_border_model(low, "AsFalse"), f64::NAN), 0.0);
        assert_eq!(bit(&one_border_model(low, "AsFalse"), -1e30), 1.0);
    }

    /// Quantization is exact whatever the borders: more than one byte column can count (300
    /// borders), unsorted borders (one 0/1 column each), and trees shallower than the deepest
    /// (padded with never-true levels). Checked against the definition, `x > border` per
    /// split, one row at a time and in blocks.
    #[test]
    fn quantized_splits_match_the_definition() {
        let sorted: Vec<f64> = (0..300).map(|j| f64::from(j) * 0.5).collect();
        // A fixed permutation of 40 borders (7 is coprime with 40).
        let unsorted: Vec<f64> = (0..40).map(|j| f64::from((j * 7) % 40)).collect();
        for borders in [sorted, unsorted] {
            let split = |b: f64| json!({"split_type": "FloatFeature", "float_feature_index": 0, "border": b});
            // Tree j adds j + 1 when x > border j; a last, deeper tree encodes two borders'
            // bits in its leaf index.
            let mut trees: Vec<_> = borders
                .iter()
                .enumerate()
                .map(|(j, &b)| json!({"splits": [split(b)], "leaf_values": [0.0, j as f64 + 1.0]}))
                .collect();
            let (lo, hi) = (borders[3], borders[borders.len() - 2]);
            trees.push(json!({
                "splits": [split(lo), split(hi)],
                "leaf_values": [0.0, 1e4, 2e4, 3e4]
            }));
            let doc = json!({
                "features_info": {"float_features": [{
                    "feature_index": 0, "flat_feature_index": 0, "borders": borders,
                    "nan_value_treatment": "AsIs"
                }]},
                "oblivious_trees": trees,
                "scale_and_bias": [1.0, [0.0]]
            });
            let m = Model::from_json(doc.to_string().as_bytes()).unwrap();
            let expected = |x: f64| {
                let x = x as f32;
                let above = |b: f64| x > b as f32;
                let mut sum: f64 = borders
                    .iter()
                    .enumerate()
                    .filter(|&(_, &b)| above(b))
                    .map(|(j, _)| j as f64 + 1.0)
                    .sum();
                sum += 1e4 * f64::from(u8::from(above(lo))) + 2e4 * f64::from(u8::from(above(hi)));
                sum
            };
            let xs: Vec<f64> = (-4..=610)
                .map(|i| f64::from(i) * 0.25)
                .chain([f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e300])
                .collect();
            let rows: Vec<FeatureValue<'_>> = xs.iter().map(|&x| FeatureValue::Float(x)).collect();
            let mut batch = vec![0.0; xs.len()];
            m.predict_raw_batch(&rows, &mut batch).unwrap();
            for ((&x, &got), row) in xs.iter().zip(&batch).zip(&rows) {
                assert_eq!(got, expected(x), "x = {x}, in a block");
                let one = m.predict(std::slice::from_ref(row)).unwrap().raw()[0];
                assert_eq!(one, expected(x), "x = {x}, alone");
            }
        }
    }

    /// The fast paths (padded leaves summed in registers; byte and 16-bit leaf indices) give
    /// bit-identical raw values on every corpus and benchmark model and row.
    #[test]
    fn tree_paths_agree_bit_for_bit() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden");
        let mut checked = 0;
        for dir in ["corpus", "bench"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let case = entry.unwrap().path();
                let Ok(rows) = std::fs::read_to_string(case.join("rows.jsonl")) else {
                    continue;
                };
                let fast =
                    Model::from_json(&std::fs::read(case.join("model.json")).unwrap()).unwrap();
                if !matches!(fast.trees, Trees::Oblivious { .. }) {
                    continue;
                }
                let mut bytes = fast.clone();
                bytes.padded = None;
                let mut wide = bytes.clone();
                wide.max_depth = 9;
                let owned: Vec<Vec<serde_json::Value>> = rows
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                let texts: Vec<Vec<String>> = owned
                    .iter()
                    .map(|r| {
                        r.iter()
                            .map(|v| match v {
                                serde_json::Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect()
                    })
                    .collect();
                let values: Vec<FeatureValue<'_>> = owned
                    .iter()
                    .zip(&texts)
                    .flat_map(|(r, t)| {
                        r.iter()
                            .zip(t)
                            .zip(fast.feature_kinds())
                            .map(|((v, t), k)| match k {
                                FeatureKind::Float => FeatureValue::Float(match v {
                                    serde_json::Value::Number(n) => n.as_f64().unwrap(),
                                    serde_json::Value::String(s) if s == "Infinity" => {
                                        f64::INFINITY
                                    }
                                    serde_json::Value::String(s) if s == "-Infinity" => {
                                        f64::NEG_INFINITY
                                    }
                                    _ => f64::NAN,
                                }),
                                FeatureKind::Categorical => FeatureValue::Categorical(t),
                            })
                    })
                    .collect();
                let raw = |m: &Model| {
                    let mut out = vec![0.0; owned.len() * m.dimension()];
                    m.predict_raw_batch(&values, &mut out).unwrap();
                    out.iter().map(|v| v.to_bits()).collect::<Vec<u64>>()
                };
                let reference = raw(&wide);
                assert_eq!(raw(&bytes), reference, "{}", case.display());
                assert_eq!(raw(&fast), reference, "{}", case.display());
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} models checked");
    }

    /// CTR types CatBoost trains only on GPU (FeatureFreq, FloatTargetMeanValue) follow the
    /// same formulas as their CPU siblings (Counter, BinarizedTargetMeanValue).
    #[test]
    fn gpu_only_ctr_types_follow_catboost_formulas() {
        let key_a = fold_cat(0, cat_hash("a")).to_string();
        let ctr = |ty: &str, id: &str| {
            json!({
                "ctr_type": ty, "identifier": id, "target_border_idx": 0,
                "prior_numerator": 0.5, "prior_denomerator": 1.0, "shift": 0.0, "scale": 1.0,
                "borders": [0.375],
                "elements": [{"combination_element": "cat_feature_value", "cat_feature_index": 0}]
            })
        };
        let doc = json!({
            "features_info": {
                "categorical_features": [{"feature_index": 0, "flat_feature_index": 0}],
                "ctrs": [ctr("FeatureFreq", "ff"), ctr("FloatTargetMeanValue", "fm")]
            },
            "ctr_data": {
                "ff": {"hash_stride": 2, "counter_denominator": 4, "hash_map": [key_a, 3]},
                "fm": {"hash_stride": 3, "hash_map": [key_a, 0.25, 2]}
            },
            "oblivious_trees": [{
                "splits": [
                    {"split_type": "OnlineCtr", "split_index": 0, "border": 0.375, "ctr_target_border_idx": 0},
                    {"split_type": "OnlineCtr", "split_index": 1, "border": 0.375, "ctr_target_border_idx": 0}
                ],
                "leaf_values": [0.0, 1.0, 2.0, 3.0]
            }]
        });
        let m = Model::from_json(doc.to_string().as_bytes()).unwrap();
        // "a": FeatureFreq (3 + 0.5) / (4 + 1) = 0.7 > 0.375; mean (0.25 + 0.5) / (2 + 1) = 0.25.
        assert_eq!(m.ctrs[0].values, vec![0.7f32]);
        assert_eq!(m.ctrs[1].values, vec![0.25f32]);
        let raw = |s: &str| m.predict(&[FeatureValue::Categorical(s)]).unwrap().raw()[0];
        assert_eq!(raw("a"), 1.0);
        // Unseen: FeatureFreq (0 + 0.5) / (4 + 1) = 0.1, mean 0.5 / 1 = 0.5 > 0.375.
        assert_eq!(m.ctrs[0].empty, 0.1f32);
        assert_eq!(raw("b"), 2.0);
    }
}
