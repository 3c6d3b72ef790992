//! Symmetric (oblivious) and non-symmetric (Depthwise, Lossguide) trees.

use super::splits::BinLayout;
use super::{check_finite, too_big};
use crate::error::LoadError;
use crate::json::{LeafValue, Node, ObliviousTree};
use crate::model::{LEAF_FLAG, MAX_DEPTH, NsNode, Trees};

/// Symmetric trees, and the model's dimension (from the biases, else the first tree).
pub(super) fn oblivious(
    ts: &[ObliviousTree],
    layout: &BinLayout<'_>,
    bias_len: usize,
) -> Result<(Trees, usize), LoadError> {
    let mut dim = bias_len;
    let mut splits = Vec::new();
    let mut depths = Vec::with_capacity(ts.len());
    let mut leaves = Vec::new();
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
        if u32::try_from(leaves.len()).is_err() {
            return Err(too_big(&path));
        }
        depths.push(depth as u8);
    }
    if dim == 0 {
        return Err(LoadError::inconsistent(
            "oblivious_trees",
            "the model has no trees",
        ));
    }
    Ok((
        Trees::Oblivious {
            depths,
            splits,
            leaves,
        },
        dim,
    ))
}

/// Non-symmetric trees, and the model's dimension (from the biases, else the first leaf).
pub(super) fn non_symmetric(
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
