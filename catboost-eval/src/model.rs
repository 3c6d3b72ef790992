//! The compiled model: the flat structures the evaluator runs on, and the invariants it relies
//! on. The JSON compiler (`compile/`) builds them; the binary format (`format.rs`) stores them
//! as they are and checks [`Parts::validate`] when it reads them back, so that a file that is
//! well-formed but inconsistent is refused at load instead of panicking (or looping) later.
//!
//! Every index here is a `u32` and every count fits one: the binary format has no `usize`.

use crate::{ClassLabel, FeatureKind};

/// Deepest oblivious tree accepted (CatBoost's own limit is 16).
pub(crate) const MAX_DEPTH: usize = 16;

/// Most borders one quantized byte column counts: a feature with more borders uses several
/// columns of this many borders each.
pub(crate) const COLUMN_BORDERS: usize = 255;

/// Marks a non-symmetric tree reference as a leaf index rather than a node index.
pub(crate) const LEAF_FLAG: u32 = 1 << 31;

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

/// How a value with a list of borders is quantized: which columns hold it and how many borders
/// each column counts. Counting is exact only for borders in ascending order (then the borders a
/// value exceeds are always the first ones); borders in any other order, which CatBoost does
/// not write but a hand-edited model might, get one 0/1 column each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    pub(crate) first: u32,
    /// Borders per column: [`COLUMN_BORDERS`], or 1 for unsorted borders.
    pub(crate) per_column: u32,
}

impl Columns {
    /// Columns for `borders`, starting at column `*next`, which is advanced past them.
    pub(crate) fn allocate(borders: &[f32], next: &mut u32) -> Self {
        let per_column = if borders.is_sorted() {
            COLUMN_BORDERS
        } else {
            1
        };
        let first = *next;
        *next += borders.len().div_ceil(per_column) as u32;
        Self {
            first,
            per_column: per_column as u32,
        }
    }

    /// Number of columns for `borders` borders.
    pub(crate) fn count(self, borders: usize) -> usize {
        borders.div_ceil(self.per_column.max(1) as usize)
    }

    /// The test for the value's border `j`.
    pub(crate) fn test(self, j: usize) -> BinTest {
        let per = self.per_column as usize;
        BinTest {
            col: self.first + (j / per) as u32,
            thr: biased((j % per) as u8),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FloatColumn {
    pub(crate) flat: u32,
    pub(crate) columns: Columns,
    /// NaN counts as greater than every border (`nan_value_treatment: AsTrue`).
    pub(crate) nan_as_true: bool,
    pub(crate) borders: Vec<f32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OneHotBin {
    /// Position of the categorical feature in `features_info.categorical_features`.
    pub(crate) cat: u32,
    pub(crate) value: i32,
}

/// One part of a CTR key, folded in CatBoost's order: categorical hashes, then float-border
/// bits, then one-hot equality bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum KeyPart {
    /// A categorical feature's hash (sign-extended).
    Cat(u32),
    /// A float border bit that is one of the feature's own borders: read from its column.
    FloatBin(BinTest),
    /// A float border bit computed from the value (a border the feature does not have).
    FloatValue {
        /// Position of the float column.
        pos: u32,
        border: f32,
        nan_as_true: bool,
    },
    /// Equality of a categorical feature's hash with a value.
    Exact { cat: u32, value: i32 },
}

/// One step of the key program. Projections that share their first parts share the keys of
/// that prefix: the steps walk the trie of all projections depth first, and step `s` computes
/// the key of level `level` from the key of level `level - 1` (or from 0 at level 0), then
/// runs the lookups of the projections that end there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyStep {
    pub(crate) level: u32,
    pub(crate) part: KeyPart,
    pub(crate) lookups: Vec<Lookup>,
}

/// One table lookup, shared by every CTR feature that reads that table with that key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Lookup {
    pub(crate) table: u32,
    pub(crate) ctrs: Vec<u32>,
}

/// A CTR statistics table as an open-addressing set of keys: a key's position is its slot,
/// and each CTR reading the table keeps its quantized bytes by slot (see [`CtrFeature`]).
///
/// Slots come in buckets of [`BUCKET`], filled in order; a key goes to the first bucket from
/// its home bucket that has room. A lookup reads one bucket (half a cache line) and compares
/// its four keys at once: the key is there, or the bucket has room and so the key is nowhere,
/// or (rarely, the table being at most half full) the next bucket is read. Keys are
/// CatBoost's already well-mixed 64-bit hashes; a multiplicative (Fibonacci) index spreads
/// them further. `u64::MAX` marks an empty slot: CatBoost uses it as its own "no hash" value,
/// so it is never a real key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CtrTable {
    /// A power of two slots, at least two buckets, at least one bucket with its last slot
    /// empty (so that every probe ends).
    pub(crate) slots: Vec<u64>,
}

/// The marker of an empty table slot.
pub(crate) const EMPTY: u64 = u64::MAX;

/// Slots per bucket of a [`CtrTable`].
pub(crate) const BUCKET: usize = 4;

impl CtrTable {
    /// `64 - log2(buckets)`: the shift of the multiplicative index.
    #[inline(always)]
    pub(crate) fn shift(&self) -> u32 {
        64 - (self.slots.len() / BUCKET).trailing_zeros()
    }

    /// The bucket where the probe for `key` starts.
    #[inline(always)]
    pub(crate) fn home(key: u64, shift: u32) -> usize {
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
    }

    /// The slot holding `key`, if the table has it.
    pub(crate) fn find(&self, key: u64) -> Option<usize> {
        let (buckets, _) = self.slots.as_chunks::<BUCKET>();
        if key == EMPTY || buckets.is_empty() {
            return None;
        }
        let mut b = Self::home(key, self.shift()) % buckets.len();
        // `validate` guarantees an empty slot, so the probe ends.
        loop {
            let bucket = &buckets[b];
            if let Some(i) = bucket.iter().position(|&k| k == key) {
                return Some(b * BUCKET + i);
            }
            if bucket[BUCKET - 1] == EMPTY {
                return None;
            }
            b = (b + 1) % buckets.len();
        }
    }
}

/// A CTR feature, reduced at compile time to what a split reads: for each slot of its table
/// (and one more for a key the table does not have), the quantized bytes of the CTR value,
/// one per column (`quant[c * (slots + 1) + slot]`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CtrFeature {
    pub(crate) table: u32,
    pub(crate) columns: Columns,
    pub(crate) n_columns: u32,
    pub(crate) quant: Vec<i8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NsNode {
    pub(crate) bin: BinTest,
    /// Taken when the bin is 0.
    pub(crate) left: u32,
    /// Taken when the bin is 1.
    pub(crate) right: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Trees {
    /// Symmetric trees: tree `t` has `depths[t]` levels, tests the next `depths[t]` entries of
    /// `splits` (level 0 first; bit `l` of the leaf index) and owns the next
    /// `dim << depths[t]` leaf values, interleaved per dimension.
    Oblivious {
        depths: Vec<u8>,
        splits: Vec<BinTest>,
        leaves: Vec<f64>,
    },
    /// Depthwise / Lossguide trees as node arrays; `roots[t]` and children are node indices or
    /// `LEAF_FLAG | leaf`. A child's node index is greater than its parent's.
    NonSymmetric {
        roots: Vec<u32>,
        nodes: Vec<NsNode>,
        leaves: Vec<f64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Output {
    Binary { labels: Vec<ClassLabel> },
    MultiClass { labels: Vec<ClassLabel> },
    OneVsAll { labels: Vec<ClassLabel> },
    Regression { exponent: bool },
}

/// Everything a model is, as the compiler writes it and the binary format stores it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Parts {
    pub(crate) kinds: Vec<FeatureKind>,
    pub(crate) floats: Vec<FloatColumn>,
    /// Flat index of each categorical feature (by position in `categorical_features`).
    pub(crate) cat_flat: Vec<u32>,
    pub(crate) onehots: Vec<OneHotBin>,
    /// Quantized column of the first one-hot value (one 0/1 column per value).
    pub(crate) onehot_first_col: u32,
    pub(crate) steps: Vec<KeyStep>,
    pub(crate) tables: Vec<CtrTable>,
    pub(crate) ctrs: Vec<CtrFeature>,
    /// Columns of the quantized matrix.
    pub(crate) n_cols: u32,
    pub(crate) trees: Trees,
    pub(crate) dim: u32,
    pub(crate) scale: f64,
    pub(crate) bias: Vec<f64>,
    pub(crate) output: Output,
    /// sha256 of the JSON export the model was compiled from.
    pub(crate) source_sha256: [u8; 32],
}

impl Parts {
    /// Checks every invariant the evaluator relies on; the message names the first violation.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let nf = self.kinds.len();
        let n_cols = self.n_cols as usize;
        let n_cats = self.cat_flat.len();
        let col_ok = |b: BinTest| (b.col as usize) < n_cols;
        let columns_ok = |c: Columns, borders: usize| {
            (1..=COLUMN_BORDERS).contains(&(c.per_column as usize))
                && c.first as usize + c.count(borders) <= n_cols
        };
        let mut claimed = vec![false; nf];
        let mut claim = |flat: u32, kind: FeatureKind, what: &str| -> Result<(), String> {
            match (
                self.kinds.get(flat as usize),
                claimed.get_mut(flat as usize),
            ) {
                (Some(k), Some(c)) if *k == kind && !*c => {
                    *c = true;
                    Ok(())
                }
                _ => Err(format!("{what} has a bad flat index {flat}")),
            }
        };
        for (i, f) in self.floats.iter().enumerate() {
            claim(f.flat, FeatureKind::Float, &format!("float feature {i}"))?;
            let sorted = f.borders.is_sorted();
            if !columns_ok(f.columns, f.borders.len())
                || (!sorted && f.columns.per_column != 1)
                || f.borders.iter().any(|b| !b.is_finite())
            {
                return Err(format!("float feature {i} has bad borders or columns"));
            }
        }
        for (i, &flat) in self.cat_flat.iter().enumerate() {
            claim(
                flat,
                FeatureKind::Categorical,
                &format!("categorical feature {i}"),
            )?;
        }
        if claimed.iter().any(|c| !c) {
            return Err("a flat feature is neither a float nor a categorical feature".into());
        }
        // The columns are exactly the ones the features take, as the compiler allocates them:
        // the quantized matrix of a block has `n_cols` rows, so a larger count would make the
        // evaluator allocate memory that nothing in the file accounts for.
        let used_cols = self
            .floats
            .iter()
            .map(|f| f.columns.count(f.borders.len()))
            .chain(self.ctrs.iter().map(|c| c.n_columns as usize))
            .fold(self.onehots.len(), usize::saturating_add);
        if n_cols != used_cols {
            return Err(format!(
                "{n_cols} quantized columns, the features take {used_cols}"
            ));
        }
        if self.onehots.iter().any(|o| o.cat as usize >= n_cats)
            || self.onehot_first_col as usize + self.onehots.len() > n_cols
        {
            return Err("a one-hot value has a bad feature or column".into());
        }
        for (i, t) in self.tables.iter().enumerate() {
            // A probe stops at the first bucket whose last slot is empty (buckets fill in
            // order), so one such bucket must exist; an empty slot elsewhere would not end it.
            let (buckets, _) = t.slots.as_chunks::<BUCKET>();
            if !t.slots.len().is_power_of_two()
                || t.slots.len() < 2 * BUCKET
                || !buckets.iter().any(|b| b[BUCKET - 1] == EMPTY)
            {
                return Err(format!("CTR table {i} is malformed"));
            }
        }
        for (i, c) in self.ctrs.iter().enumerate() {
            let slots = self
                .tables
                .get(c.table as usize)
                .map(|t| t.slots.len() + 1)
                .ok_or_else(|| format!("CTR {i} reads a missing table"))?;
            let n = c.n_columns as usize;
            if !(1..=COLUMN_BORDERS).contains(&(c.columns.per_column as usize))
                || c.columns.first as usize + n > n_cols
                || c.quant.len() != n * slots
            {
                return Err(format!("CTR {i} has bad columns"));
            }
        }
        let mut level = 0u32;
        for (s, step) in self.steps.iter().enumerate() {
            let ok = match step.part {
                KeyPart::Cat(c) => (c as usize) < n_cats,
                KeyPart::FloatBin(b) => col_ok(b),
                KeyPart::FloatValue { pos, .. } => (pos as usize) < self.floats.len(),
                KeyPart::Exact { cat, .. } => (cat as usize) < n_cats,
            };
            let lookups_ok = step.lookups.iter().all(|l| {
                (l.table as usize) < self.tables.len()
                    && l.ctrs.iter().all(|&c| {
                        self.ctrs
                            .get(c as usize)
                            .is_some_and(|ctr| ctr.table == l.table)
                    })
            });
            // A step extends the key of the level above it (or starts a new one at 0).
            let level_ok = if s == 0 {
                step.level == 0
            } else {
                step.level <= level + 1
            };
            if !ok || !lookups_ok || !level_ok || step.level as usize >= MAX_KEY_PARTS {
                return Err(format!("key step {s} is malformed"));
            }
            level = step.level;
        }
        let dim = self.dim as usize;
        if dim == 0 || self.bias.len() != dim {
            return Err("bad dimension or bias".into());
        }
        match &self.trees {
            Trees::Oblivious {
                depths,
                splits,
                leaves,
            } => {
                let mut n_splits = 0usize;
                let mut n_leaves = 0usize;
                for &d in depths {
                    if d as usize > MAX_DEPTH {
                        return Err(format!("tree depth {d}"));
                    }
                    n_splits += d as usize;
                    n_leaves += dim << d;
                }
                if n_splits != splits.len() || n_leaves != leaves.len() {
                    return Err("tree sizes do not add up".into());
                }
                if !splits.iter().all(|&b| col_ok(b)) {
                    return Err("a split reads a missing column".into());
                }
            }
            Trees::NonSymmetric {
                roots,
                nodes,
                leaves,
            } => {
                let n_leaf = leaves.len() / dim;
                if leaves.len() % dim != 0 {
                    return Err("leaf values do not fill whole leaves".into());
                }
                let target_ok = |r: u32, parent: Option<usize>| {
                    if r & LEAF_FLAG != 0 {
                        ((r & !LEAF_FLAG) as usize) < n_leaf
                    } else {
                        (r as usize) < nodes.len() && parent.is_none_or(|p| r as usize > p)
                    }
                };
                for (i, n) in nodes.iter().enumerate() {
                    if !col_ok(n.bin) || !target_ok(n.left, Some(i)) || !target_ok(n.right, Some(i))
                    {
                        return Err(format!("tree node {i} is malformed"));
                    }
                }
                if !roots.iter().all(|&r| target_ok(r, None)) {
                    return Err("a tree root is malformed".into());
                }
            }
        }
        let labels = match &self.output {
            Output::Binary { labels } => Some((labels.len(), 2, dim == 1)),
            Output::MultiClass { labels } => Some((labels.len(), dim, dim >= 2)),
            Output::OneVsAll { labels } => Some((labels.len(), dim, true)),
            Output::Regression { .. } => None,
        };
        if let Some((n, want, fits)) = labels
            && (n != want || !fits)
        {
            return Err("class labels do not fit the dimension".into());
        }
        if !self.scale.is_finite() || self.bias.iter().any(|b| !b.is_finite()) {
            return Err("scale and bias must be finite".into());
        }
        Ok(())
    }
}

/// Most parts of one CTR key (CatBoost's `max_ctr_complexity` is far below).
pub(crate) const MAX_KEY_PARTS: usize = 64;
