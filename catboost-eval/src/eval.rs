//! Evaluation: the block evaluator over a compiled model (`model.rs`).
//!
//! Rows are evaluated in blocks of [`BLOCK`] rows. A binary feature ("bin": a float border
//! test, a one-hot equality, a CTR border test) is not stored per row. As CatBoost does, each
//! float or CTR value is quantized once per row into a byte: how many of its (sorted) borders
//! it exceeds. A split on border `j` is then `quant > j`, because a value above border `j` is
//! above every border below it. The quantized matrix has one byte row per column (about one
//! per feature rather than one per border), so a block stays in L1 while the trees read it;
//! the per-tree inner loops run over contiguous bytes and vectorise.
//!
//! CTR values are quantized at compile time: a CTR's value depends only on its table's slot,
//! so the compiler stores the quantized bytes per slot, and a row's CTR bytes are one probe
//! and one byte load away.

use crate::ctr::{fold, fold_cat};
use crate::hash::cat_hash;
use crate::model::{
    BUCKET, BinTest, Columns, CtrTable, EMPTY, KeyPart, LEAF_FLAG, NsNode, Output, Parts, Trees,
    biased,
};
use crate::{EvalError, FeatureKind, FeatureValue, Model, Prediction};
use wide::{f32x4, i8x16, u32x4};

/// Rows per evaluation block (quantized matrix rows are this long).
pub(crate) const BLOCK: usize = 256;

/// Rows processed together by the inner loops (one 16-byte vector of quantized bytes), and
/// summed together in registers by `eval_run`. `BLOCK` is a multiple of it.
pub(crate) const LANES: usize = 16;

/// Trees whose leaf indices are computed together before their leaves are summed: their
/// indices for a whole block (`TREE_CHUNK * BLOCK` bytes) stay in L1.
const TREE_CHUNK: usize = 32;

/// Columns with more borders than this are quantized in two levels ([`search_above`]); fewer
/// are counted in vector registers (a compare per border and four rows is cheaper there).
const SEARCH_ABOVE: usize = 32;

/// What the evaluator derives from [`Parts`] at load: cheap to compute, so not stored.
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    /// Whether a categorical feature is read by any split (unused ones are not hashed).
    used_cats: Vec<bool>,
    /// Levels of the key program (buffers of keys per block).
    key_levels: usize,
    /// Deepest oblivious tree (picks the width of leaf indices).
    max_depth: usize,
    /// Start of each oblivious tree's splits and leaves, plus the ends.
    offsets: Vec<(u32, u32)>,
    /// Consecutive oblivious trees of equal depth, for one-dimensional models whose trees are
    /// at most 8 deep (`eval_run`); `None` otherwise.
    runs: Option<Vec<Run>>,
}

/// Consecutive trees of one depth: their splits and leaves are contiguous, `D` and `2^D` per
/// tree, so they are evaluated with the depth as a constant.
#[derive(Debug, Clone, Copy)]
struct Run {
    depth: u8,
    first: u32,
    end: u32,
}

impl Derived {
    pub(crate) fn new(parts: &Parts) -> Self {
        let mut used_cats = vec![false; parts.cat_flat.len()];
        for o in &parts.onehots {
            used_cats[o.cat as usize] = true;
        }
        for s in &parts.steps {
            if let KeyPart::Cat(c) | KeyPart::Exact { cat: c, .. } = s.part {
                used_cats[c as usize] = true;
            }
        }
        let key_levels = parts
            .steps
            .iter()
            .map(|s| s.level as usize + 1)
            .max()
            .unwrap_or(0);
        let (max_depth, offsets, runs) = match &parts.trees {
            Trees::Oblivious { depths, .. } => {
                let mut offsets = Vec::with_capacity(depths.len() + 1);
                let (mut s, mut l) = (0u32, 0u32);
                offsets.push((s, l));
                for &d in depths {
                    s += u32::from(d);
                    l += parts.dim << d;
                    offsets.push((s, l));
                }
                let max_depth = depths.iter().copied().max().unwrap_or(0) as usize;
                let runs = (parts.dim == 1 && max_depth <= 8).then(|| {
                    let mut runs: Vec<Run> = Vec::new();
                    for (t, &d) in depths.iter().enumerate() {
                        match runs.last_mut() {
                            Some(r) if r.depth == d => r.end += 1,
                            _ => runs.push(Run {
                                depth: d,
                                first: t as u32,
                                end: t as u32 + 1,
                            }),
                        }
                    }
                    runs
                });
                (max_depth, offsets, runs)
            }
            Trees::NonSymmetric { .. } => (0, Vec::new(), None),
        };
        Self {
            used_cats,
            key_levels,
            max_depth,
            offsets,
            runs,
        }
    }
}

/// Reusable per-call buffers.
pub(crate) struct Scratch {
    /// Length of a quantized matrix row: rows per block for this call (a multiple of `LANES`).
    stride: usize,
    /// The quantized matrix: one row of `stride` [`biased`] counts per column.
    quant: Vec<i8>,
    xs: Vec<f32>,
    hashes: Vec<i32>,
    /// One row of keys per level of the key program.
    keys: Vec<u64>,
    slots: Vec<u32>,
    /// Leaf indices of a chunk of trees (`TREE_CHUNK` rows of `stride`).
    idx_all: Vec<u8>,
}

impl Scratch {
    /// Buffers for evaluating `rows` rows: a single row gets one lane group, not a block.
    pub(crate) fn new(model: &Model, rows: usize) -> Self {
        let stride = lanes_for(rows.clamp(1, BLOCK));
        let p = &model.parts;
        Self {
            stride,
            quant: vec![0; p.n_cols as usize * stride],
            xs: vec![0.0; stride],
            hashes: vec![0; p.cat_flat.len() * stride],
            keys: vec![0; model.derived.key_levels * stride],
            slots: vec![0; stride],
            idx_all: if model.derived.runs.is_some() && stride >= LANES {
                vec![0; TREE_CHUNK * stride]
            } else {
                Vec::new()
            },
        }
    }
}

impl Model {
    /// Checks every value's kind against the model; `base_row` numbers rows in errors.
    fn validate(&self, rows: &[FeatureValue<'_>], base_row: usize) -> Result<(), EvalError> {
        let kinds = &self.parts.kinds;
        let nf = kinds.len();
        if nf == 0 {
            return Ok(());
        }
        for (r, row) in rows.chunks_exact(nf).enumerate() {
            let is_ok = |(v, k): (&FeatureValue<'_>, &FeatureKind)| {
                matches!(v, FeatureValue::Float(_)) == (*k == FeatureKind::Float)
            };
            // Branch-free check of the whole row first; find the culprit only on failure.
            if !row.iter().zip(kinds).fold(true, |acc, p| acc & is_ok(p)) {
                let i = row.iter().zip(kinds).position(|p| !is_ok(p)).unwrap_or(0);
                return Err(EvalError::WrongKind {
                    row: base_row + r,
                    index: i,
                    expected: kinds[i],
                });
            }
        }
        Ok(())
    }

    /// Evaluates `n` rows (at most `BLOCK`; row-major, already validated) and writes
    /// `n x dim` raw values (after scale and bias) into `out`.
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
        let p = &self.parts;
        let nf = p.kinds.len();
        let stride = scratch.stride;
        debug_assert!(n <= stride);
        let w = lanes_for(n).min(stride);
        let quant = &mut scratch.quant;
        let float_at = |r: usize, flat: u32| match rows.get(r * nf + flat as usize) {
            Some(FeatureValue::Float(x)) => *x as f32,
            _ => f32::NAN,
        };

        // Float borders.
        for col in &p.floats {
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
        for (c, &flat) in p.cat_flat.iter().enumerate() {
            if !self.derived.used_cats[c] {
                continue;
            }
            let dst = &mut scratch.hashes[c * stride..][..w];
            for (r, h) in dst.iter_mut().enumerate().take(n) {
                *h = match rows.get(r * nf + flat as usize) {
                    Some(FeatureValue::Categorical(s)) => cat_hash(s),
                    _ => 0,
                };
            }
        }

        // One-hot values.
        for (i, o) in p.onehots.iter().enumerate() {
            let src = &scratch.hashes[o.cat as usize * stride..][..w];
            let dst = &mut quant[(p.onehot_first_col as usize + i) * stride..][..w];
            for (d, &h) in dst.iter_mut().zip(src) {
                *d = biased(u8::from(h == o.value));
            }
        }

        // CTRs: the key program, then per lookup the slot of every row, then each CTR's bytes.
        for step in &p.steps {
            let level = step.level as usize;
            let (above, rest) = scratch.keys.split_at_mut(level * stride);
            let keys = &mut rest[..w];
            match above.get(above.len().saturating_sub(stride)..) {
                Some(prev) if level > 0 => keys.copy_from_slice(&prev[..w]),
                _ => keys.fill(0),
            }
            match step.part {
                KeyPart::Cat(c) => {
                    let src = &scratch.hashes[c as usize * stride..][..w];
                    for (k, &h) in keys.iter_mut().zip(src) {
                        *k = fold_cat(*k, h);
                    }
                }
                KeyPart::FloatBin(bin) => {
                    let src = quant_row(quant, bin.col, stride, w);
                    for (k, &q) in keys.iter_mut().zip(src) {
                        *k = fold(*k, u64::from(q > bin.thr));
                    }
                }
                KeyPart::FloatValue {
                    pos,
                    border,
                    nan_as_true,
                } => {
                    let flat = p.floats[pos as usize].flat;
                    for (r, k) in keys.iter_mut().enumerate().take(n) {
                        let x = float_at(r, flat);
                        let bit = if x.is_nan() { nan_as_true } else { x > border };
                        *k = fold(*k, u64::from(bit));
                    }
                }
                KeyPart::Exact { cat, value } => {
                    let src = &scratch.hashes[cat as usize * stride..][..w];
                    for (k, &h) in keys.iter_mut().zip(src) {
                        *k = fold(*k, u64::from(h == value));
                    }
                }
            }
            for l in &step.lookups {
                let table = &p.tables[l.table as usize];
                let slots = &mut scratch.slots[..w];
                probe(table, keys, slots);
                let per_column = table.slots.len() + 1;
                for &ci in &l.ctrs {
                    let ctr = &p.ctrs[ci as usize];
                    for c in 0..ctr.n_columns as usize {
                        let src = &ctr.quant[c * per_column..][..per_column];
                        let col = ctr.columns.first as usize + c;
                        let dst = &mut quant[col * stride..][..w];
                        for (d, &s) in dst.iter_mut().zip(slots.iter()) {
                            // `probe` returns slots below `per_column`.
                            *d = src.get(s as usize).copied().unwrap_or(i8::MIN);
                        }
                    }
                }
            }
        }

        // Trees.
        let dim = p.dim as usize;
        let out = &mut out[..n * dim];
        out.fill(0.0);
        match &p.trees {
            Trees::Oblivious { splits, leaves, .. } => {
                let trees = ObliviousRef {
                    splits,
                    offsets: &self.derived.offsets,
                    leaves,
                    w,
                    stride,
                };
                if let Some(runs) = &self.derived.runs {
                    let idx_all = &mut scratch.idx_all;
                    for run in runs {
                        match run.depth {
                            0 => trees.eval_constant(run, out),
                            1 => trees.eval_run::<2, 1>(run, quant, out, idx_all),
                            2 => trees.eval_run::<4, 2>(run, quant, out, idx_all),
                            3 => trees.eval_run::<8, 3>(run, quant, out, idx_all),
                            4 => trees.eval_run::<16, 4>(run, quant, out, idx_all),
                            5 => trees.eval_run::<32, 5>(run, quant, out, idx_all),
                            6 => trees.eval_run::<64, 6>(run, quant, out, idx_all),
                            7 => trees.eval_run::<128, 7>(run, quant, out, idx_all),
                            _ => trees.eval_run::<256, 8>(run, quant, out, idx_all),
                        }
                    }
                } else if self.derived.max_depth <= 8 {
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
            } => eval_non_symmetric(roots, nodes, leaves, quant, stride, out, dim),
        }
        for o in out.chunks_exact_mut(dim) {
            for (o, &b) in o.iter_mut().zip(&p.bias) {
                *o = *o * p.scale + b;
            }
        }
    }

    /// Raw values for the rows into `out` (`dimension()` values per row). The row count is
    /// `out.len() / dimension()`: `rows` holds that many rows of `feature_kinds().len()`
    /// values (none for a model without features).
    pub(crate) fn raw_batch(
        &self,
        rows: &[FeatureValue<'_>],
        out: &mut [f64],
    ) -> Result<(), EvalError> {
        let nf = self.parts.kinds.len();
        let dim = self.parts.dim as usize;
        if !out.len().is_multiple_of(dim) {
            return Err(EvalError::WrongOutputLength {
                expected: out.len().next_multiple_of(dim),
                actual: out.len(),
            });
        }
        let n_rows = out.len() / dim;
        if rows.len() != n_rows * nf {
            if nf > 0 && !rows.len().is_multiple_of(nf) {
                return Err(EvalError::WrongLength {
                    row: rows.len() / nf,
                    expected: nf,
                    actual: rows.len() % nf,
                });
            }
            return Err(EvalError::WrongOutputLength {
                expected: rows.len().checked_div(nf).unwrap_or(0) * dim,
                actual: out.len(),
            });
        }
        let mut scratch = Scratch::new(self, n_rows);
        let stride = scratch.stride;
        for (b, out) in out.chunks_mut(stride * dim).enumerate() {
            let n = out.len() / dim;
            let block = &rows[b * stride * nf..][..n * nf];
            self.validate(block, b * stride)?;
            self.eval_block(block, n, &mut scratch, out);
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
        match &self.parts.output {
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

/// The slot of every row's key in `table` (`table.slots.len()` for a key it does not have).
/// Each row reads its home bucket and decides without branching: found, missing (the bucket
/// has room), or go on (a full bucket without the key: rare, handled in a second pass). The
/// loads of different rows are independent, so they overlap.
#[inline(always)]
fn probe(table: &CtrTable, keys: &[u64], out: &mut [u32]) {
    let (buckets, _) = table.slots.as_chunks::<BUCKET>();
    let shift = table.shift();
    let missing = table.slots.len() as u32;
    let mut pending = false;
    for (o, &key) in out.iter_mut().zip(keys) {
        let b = CtrTable::home(key, shift);
        let bucket = buckets.get(b).copied().unwrap_or([EMPTY; BUCKET]);
        let real = key != EMPTY;
        let hits = bucket
            .iter()
            .enumerate()
            .fold(0u32, |m, (i, &k)| m | (u32::from(k == key && real) << i));
        let room = bucket[BUCKET - 1] == EMPTY;
        let slot = (b * BUCKET) as u32 + hits.trailing_zeros();
        *o = if hits != 0 {
            slot
        } else if room || !real {
            missing
        } else {
            u32::MAX
        };
        pending |= hits == 0 && !room && real;
    }
    if pending {
        for (o, &key) in out.iter_mut().zip(keys) {
            if *o == u32::MAX {
                *o = table.find(key).map_or(missing, |i| i as u32);
            }
        }
    }
}

fn eval_non_symmetric(
    roots: &[u32],
    nodes: &[NsNode],
    leaves: &[f64],
    quant: &[i8],
    stride: usize,
    out: &mut [f64],
    dim: usize,
) {
    for (r, o) in out.chunks_exact_mut(dim).enumerate() {
        for &root in roots {
            let mut node = root;
            // Children have larger indices than their parents (checked at load): this ends.
            while node & LEAF_FLAG == 0 {
                let Some(nd) = nodes.get(node as usize) else {
                    break;
                };
                let q = quant.get(nd.bin.col as usize * stride + r).copied();
                node = if q.unwrap_or(i8::MIN) > nd.bin.thr {
                    nd.right
                } else {
                    nd.left
                };
            }
            let leaf = (node & !LEAF_FLAG) as usize;
            if let Some(values) = leaves.get(leaf * dim..(leaf + 1) * dim) {
                for (o, &v) in o.iter_mut().zip(values) {
                    *o += v;
                }
            }
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
    offsets: &'a [(u32, u32)],
    leaves: &'a [f64],
    /// Rows evaluated (a multiple of `LANES`, or fewer than `LANES`).
    w: usize,
    /// Length of a quantized matrix row.
    stride: usize,
}

impl ObliviousRef<'_> {
    /// The splits and leaves of the trees of `run`.
    fn run_parts(&self, run: &Run) -> (&[BinTest], &[f64]) {
        let (s0, l0) = self.offsets[run.first as usize];
        let (s1, l1) = self.offsets[run.end as usize];
        (
            &self.splits[s0 as usize..s1 as usize],
            &self.leaves[l0 as usize..l1 as usize],
        )
    }

    /// Trees without splits: each adds its one leaf to every row, in model order.
    fn eval_constant(&self, run: &Run, out: &mut [f64]) {
        let (_, leaves) = self.run_parts(run);
        for o in out.iter_mut() {
            for &v in leaves {
                *o += v;
            }
        }
    }

    /// The common case: one output dimension and a run of trees of depth `D` <= 8, `N` = 2^`D`
    /// leaves each. Trees go in chunks of [`TREE_CHUNK`]: first the chunk's leaf indices for
    /// every row, then each group of `LANES` rows sums its leaves in registers, continuing from
    /// the sum so far, so every row adds its trees in model order (results equal CatBoost's
    /// bit for bit). Fixed-size leaf arrays and levels need no bounds checks and unroll.
    #[inline(always)]
    fn eval_run<const N: usize, const D: usize>(
        &self,
        run: &Run,
        quant: &[i8],
        out: &mut [f64],
        idx_all: &mut [u8],
    ) {
        let w = self.w;
        let (splits, leaves) = self.run_parts(run);
        let (trees, _) = leaves.as_chunks::<N>();
        let (levels, _) = splits.as_chunks::<D>();
        let mask = N - 1;
        if w < LANES {
            // A few rows (typically one): walk the trees directly.
            for (r, o) in out.iter_mut().enumerate() {
                let mut acc = *o;
                for (lv, tests) in trees.iter().zip(levels) {
                    let mut i = 0usize;
                    for bin in tests.iter().rev() {
                        let q = quant.get(bin.col as usize * self.stride + r).copied();
                        i = 2 * i + usize::from(q.unwrap_or(i8::MIN) > bin.thr);
                    }
                    acc += lv[i & mask];
                }
                *o = acc;
            }
            return;
        }
        for (trees, levels) in trees.chunks(TREE_CHUNK).zip(levels.chunks(TREE_CHUNK)) {
            // Every byte of `idx` is written below before it is read: no clearing.
            let idx_all = &mut idx_all[..trees.len() * w];
            for (idx, tests) in idx_all.chunks_exact_mut(w).zip(levels) {
                // Each level's column and threshold are set up once per tree, then a group's
                // leaf indices are built in one register, deepest level first, and written once.
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
        for bounds in self.offsets.windows(2) {
            let [(s0, l0), (s1, l1)] = [bounds[0], bounds[1]];
            let sp = &self.splits[s0 as usize..s1 as usize];
            let lv = &self.leaves[l0 as usize..l1 as usize];
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
    for (c, borders) in borders.chunks(columns.per_column as usize).enumerate() {
        let dst = &mut quant[(columns.first as usize + c) * stride..][..w];
        if borders.len() > SEARCH_ABOVE && w >= LANES {
            search_above(dst, xs, borders);
        } else if borders.len() > SEARCH_ABOVE {
            // A few rows: a binary search each, without the set-up of a block's search.
            for (d, &x) in dst.iter_mut().zip(xs) {
                *d = biased(borders.partition_point(|&b| b < x) as u8);
            }
        } else {
            count_above(dst, xs, borders);
        }
    }
}

/// `dst[r] = #{b in borders : xs[r] > b}` for ascending `borders` (at most
/// [`COLUMN_BORDERS`](crate::model::COLUMN_BORDERS)), in two levels of 16 instead of one
/// compare per border: the borders, padded with `+inf` to groups of 16, are first counted by
/// group (how many groups lie entirely below the value, from each group's last border: a
/// vector count across rows, as [`count_above`]), then within the one group the value falls
/// in (four vector compares per row). About 20 operations per value for any number of
/// borders, against one per four borders; and nothing branches on the data, which a binary
/// search would (a mispredicted branch per level costs more than the whole count).
#[inline(always)]
fn search_above(dst: &mut [i8], xs: &[f32], borders: &[f32]) {
    let mut padded = [f32::INFINITY; 256];
    let n = borders.len().min(255);
    padded[..n].copy_from_slice(&borders[..n]);
    let (groups, _) = padded.as_chunks::<16>();
    // Every group but the one holding the last border can lie entirely below a value.
    let full = n.div_ceil(16).saturating_sub(1);
    let coarse: [f32; 16] = std::array::from_fn(|g| groups[g][15]);
    count_above(dst, xs, &coarse[..full]);
    for (d, &x) in dst.iter_mut().zip(xs) {
        let below = (*d as u8 ^ 0x80) as usize;
        let group = &groups[below & 15];
        let x4 = f32x4::splat(x);
        let mut acc = u32x4::ZERO;
        for b in group.as_chunks::<4>().0 {
            acc -= x4.simd_gt(f32x4::new(*b)).to_bits();
        }
        let within: u32 = acc.to_array().iter().sum();
        *d = biased((16 * below as u32 + within) as u8);
    }
}

/// `dst[r] = #{b in borders : xs[r] > b}` (at most 255 borders, so it fits).
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
    /// borders, quantized in two levels), unsorted borders (one 0/1 column each), and trees of
    /// different depths (runs of one depth each). Checked against the definition,
    /// `x > border` per split, one row at a time and in blocks.
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

    /// The fast paths (runs of equal depth summed in registers; byte and 16-bit leaf indices) give
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
                if !matches!(fast.parts.trees, Trees::Oblivious { .. }) {
                    continue;
                }
                let mut bytes = fast.clone();
                bytes.derived.runs = None;
                let mut wide = bytes.clone();
                wide.derived.max_depth = 9;
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
        let raw = |s: &str| m.predict(&[FeatureValue::Categorical(s)]).unwrap().raw()[0];
        assert_eq!(raw("a"), 1.0);
        // Unseen: FeatureFreq (0 + 0.5) / (4 + 1) = 0.1, mean 0.5 / 1 = 0.5 > 0.375.
        assert_eq!(raw("b"), 2.0);
    }

    /// The binary search counts exactly what the vector count counts, for every value around
    /// every border (duplicates, negative zero, infinities and NaN included), at every length
    /// from empty to a full column.
    #[test]
    fn search_and_count_agree() {
        let mut borders: Vec<f32> = (0..255).map(|i| (i as f32 - 100.0) * 0.37).collect();
        borders[10] = borders[9];
        borders[50] = -0.0;
        borders.sort_by(f32::total_cmp);
        let mut xs: Vec<f32> = borders
            .iter()
            .flat_map(|&b| [b, b.next_up(), b.next_down()])
            .chain([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e30])
            .collect();
        xs.truncate(xs.len() / LANES * LANES);
        for n in [0, 1, 2, 3, 7, 24, 25, 64, 200, 255] {
            let b = &borders[..n];
            let (mut searched, mut counted) = (vec![0i8; xs.len()], vec![0i8; xs.len()]);
            search_above(&mut searched, &xs, b);
            count_above(&mut counted, &xs, b);
            assert_eq!(searched, counted, "{n} borders");
        }
    }

    /// The branch-free probe finds what the plain lookup finds, for keys in the home bucket,
    /// keys pushed into a later bucket (a half-full table has full buckets), missing keys and
    /// CatBoost's "no hash" marker.
    #[test]
    fn probe_agrees_with_find() {
        // xorshift64: keys without the regular spacing that would fill buckets evenly.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let keys: Vec<u64> = (0..1000).map(|_| next()).collect();
        let (table, _) = crate::ctr::build_table(&keys).unwrap();
        let queries: Vec<u64> = keys
            .iter()
            .copied()
            .chain((0..2000).map(|_| next()))
            .chain([EMPTY])
            .collect();
        let mut slots = vec![0u32; queries.len()];
        probe(&table, &queries, &mut slots);
        let missing = table.slots.len() as u32;
        for (q, s) in queries.iter().zip(&slots) {
            assert_eq!(*s, table.find(*q).map_or(missing, |i| i as u32), "key {q}");
        }
        let (buckets, _) = table.slots.as_chunks::<BUCKET>();
        let shift = table.shift();
        assert!(
            keys.iter().any(|&k| table
                .find(k)
                .is_some_and(|s| s / BUCKET != CtrTable::home(k, shift))),
            "no key left its home bucket: the second pass is untested"
        );
        assert!(buckets.iter().any(|b| b[BUCKET - 1] != EMPTY));
    }
}
