//! What changed between the goldens and regenerated ones, case by case and field by field.
//!
//! Each line of `expected.jsonl` is flattened to `/pointer -> value` leaves (the prediction and
//! whatever else the team keeps, such as features). The review lists the cases added, removed
//! and changed; per changed case every field with its old and new value and their difference;
//! the cases whose prediction flipped (a value the spec compares exactly, such as a class
//! label) first; and how many cases the function serving the old model would now fail, by the
//! spec's own comparison rules.

use super::{GoldenError, Manifest, read_manifest};
use crate::contract::{FieldRule, compare, compared_exactly};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

type Flat = BTreeMap<String, Value>;

/// One case's expected line: flattened leaves, and the prediction itself.
struct Line {
    flat: Flat,
    prediction: Value,
}

fn read_expected(path: &Path) -> Result<(Vec<u8>, BTreeMap<String, Line>), GoldenError> {
    let bytes = std::fs::read(path).map_err(|source| GoldenError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut cases = BTreeMap::new();
    for (line, mut value) in super::read_numbered_lines::<Value>(path, "")? {
        let id = value
            .as_object_mut()
            .and_then(|o| o.remove("case_id"))
            .and_then(|id| id.as_str().map(str::to_owned))
            .ok_or_else(|| GoldenError::Format {
                path: path.to_path_buf(),
                line,
                message: "no case_id".to_owned(),
            })?;
        let mut flat = Flat::new();
        flatten(&value, String::new(), &mut flat);
        let prediction = value.get("prediction").cloned().unwrap_or_default();
        cases.insert(id, Line { flat, prediction });
    }
    Ok((bytes, cases))
}

fn flatten(value: &Value, at: String, out: &mut Flat) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(v, format!("{at}/{i}"), out);
            }
        }
        leaf => {
            out.insert(at, leaf.clone());
        }
    }
}

/// One field of one case that changed.
#[derive(Clone, Debug)]
pub(crate) struct FieldChange {
    /// `/prediction/probability`, `/features/annual_income`, ...
    pub(crate) field: String,
    /// Old value (`null` when absent).
    pub(crate) old: Value,
    /// New value (`null` when absent).
    pub(crate) new: Value,
    /// `|new - old|` for two numbers.
    pub(crate) difference: Option<f64>,
}

/// How a case differs between the goldens and the regenerated ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// In both, with other values.
    Changed,
    /// Only in the regenerated goldens.
    Added,
    /// Only in the current goldens.
    Removed,
}

impl ChangeKind {
    /// "changed", "added", "removed".
    pub(crate) fn word(self) -> &'static str {
        match self {
            ChangeKind::Changed => "changed",
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
        }
    }
}

/// A case whose expected line changed, appeared or went away.
#[derive(Clone, Debug)]
pub(crate) struct CaseChange {
    /// The case.
    pub(crate) case_id: String,
    /// Changed, added or removed.
    pub(crate) kind: ChangeKind,
    /// Whether its prediction flipped: a value compared exactly (a class label) changed.
    pub(crate) flipped: bool,
    /// Whether the old prediction is outside the spec's tolerance of the new one.
    pub(crate) outside_tolerance: bool,
    /// Every changed field (every field of an added or removed case).
    pub(crate) fields: Vec<FieldChange>,
}

impl CaseChange {
    fn largest(&self) -> f64 {
        self.fields
            .iter()
            .filter_map(|f| f.difference)
            .fold(0.0, f64::max)
    }
}

/// What regeneration found.
#[derive(Clone, Debug)]
pub(crate) struct Review {
    /// Cases only in the new goldens.
    pub(crate) added: Vec<CaseChange>,
    /// Cases only in the old goldens.
    pub(crate) removed: Vec<CaseChange>,
    /// Changed cases: flips first, then by largest change.
    pub(crate) changed: Vec<CaseChange>,
    /// The current manifest.
    pub(crate) old_manifest: Option<Manifest>,
    /// The manifest of the regenerated goldens.
    pub(crate) new_manifest: Manifest,
    /// Whether anything differs at all (byte-wise).
    pub(crate) differs: bool,
    /// Where the regenerated files are.
    pub(crate) pending_dir: PathBuf,
}

impl Review {
    /// Compares the goldens in `current` with the regenerated ones in `pending`, judging
    /// predictions by the contract's field `rules`.
    pub(crate) fn compare(
        rules: &[FieldRule],
        current: &Path,
        pending: &Path,
    ) -> Result<Self, GoldenError> {
        let (new_bytes, new_cases) = read_expected(&pending.join("expected.jsonl"))?;
        let new_manifest = read_manifest(&pending.join("manifest.json"))?;
        let old_expected = current.join("expected.jsonl");
        let (old_bytes, old_cases) = if old_expected.exists() {
            read_expected(&old_expected)?
        } else {
            (Vec::new(), BTreeMap::new())
        };
        let old_manifest_path = current.join("manifest.json");
        let old_manifest = read_manifest(&old_manifest_path).ok();
        let same_manifest = std::fs::read(&old_manifest_path).ok()
            == std::fs::read(pending.join("manifest.json")).ok();
        let absent = Line {
            flat: Flat::new(),
            prediction: Value::Null,
        };
        let mut changed = Vec::new();
        let mut added = Vec::new();
        for (id, new) in &new_cases {
            match old_cases.get(id) {
                Some(old) => changed.extend(case_change(id, ChangeKind::Changed, old, new, rules)),
                None => added.extend(case_change(id, ChangeKind::Added, &absent, new, rules)),
            }
        }
        let removed = old_cases
            .iter()
            .filter(|(id, _)| !new_cases.contains_key(*id))
            .filter_map(|(id, old)| case_change(id, ChangeKind::Removed, old, &absent, rules))
            .collect();
        changed.sort_by(|a, b| {
            b.flipped
                .cmp(&a.flipped)
                .then(b.largest().total_cmp(&a.largest()))
                .then(a.case_id.cmp(&b.case_id))
        });
        Ok(Review {
            added,
            removed,
            changed,
            old_manifest,
            new_manifest,
            differs: old_bytes != new_bytes || !same_manifest,
            pending_dir: pending.to_path_buf(),
        })
    }

    /// Every case that differs, in the order a review shows them: changed (flips first, then
    /// by largest change), added, removed.
    pub(crate) fn cases(&self) -> impl Iterator<Item = &CaseChange> {
        self.changed.iter().chain(&self.added).chain(&self.removed)
    }

    /// Cases the function serving the old model would now fail.
    pub(crate) fn outside_tolerance(&self) -> usize {
        self.changed.iter().filter(|c| c.outside_tolerance).count()
    }

    /// The short summary `golden regen` prints: the [`Review::overview`] and what to run next.
    pub(crate) fn summary(&self) -> String {
        let mut out = self.overview();
        if self.differs {
            let _ = writeln!(
                out,
                "pending in {}: review with `{}`, then `{}` or `{}`",
                self.pending_dir.display(),
                crate::environment::command("golden review"),
                crate::environment::command("golden accept"),
                crate::environment::command("golden reject")
            );
        }
        out
    }

    /// The models, how many cases changed and how, and the largest change per field.
    pub(crate) fn overview(&self) -> String {
        let mut out = self.header();
        if !self.differs {
            out.push_str(
                "no changes: the goldens already hold what the training-time model says\n",
            );
            return out;
        }
        let flips = self.changed.iter().filter(|c| c.flipped).count();
        let _ = writeln!(
            out,
            "{} case(s) added, {} removed, {} changed ({flips} with a flipped prediction); {} now outside the spec's tolerance",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.outside_tolerance()
        );
        let mut largest: BTreeMap<&str, (&FieldChange, &str, usize)> = BTreeMap::new();
        for case in &self.changed {
            for f in &case.fields {
                let entry = largest.entry(&f.field).or_insert((f, &case.case_id, 0));
                entry.2 += 1;
                if f.difference.unwrap_or(0.0) > entry.0.difference.unwrap_or(0.0) {
                    entry.0 = f;
                    entry.1 = &case.case_id;
                }
            }
        }
        let mut fields: Vec<_> = largest.into_iter().collect();
        fields.sort_by(|a, b| {
            let d =
                |x: &(&str, (&FieldChange, &str, usize))| x.1.0.difference.unwrap_or(f64::INFINITY);
            d(b).total_cmp(&d(a)).then(b.1.2.cmp(&a.1.2))
        });
        if !fields.is_empty() {
            out.push_str("largest change per field:\n");
            for (field, (change, case, count)) in fields.iter().take(12) {
                let _ = writeln!(
                    out,
                    "  {field}: {count} case(s); largest in {case}: {} -> {}{}",
                    show(&change.old),
                    show(&change.new),
                    change.difference.map_or(String::new(), |d| format!(
                        " (difference {})",
                        crate::units::difference(d)
                    ))
                );
            }
            if fields.len() > 12 {
                let _ = writeln!(out, "  ... and {} more fields", fields.len() - 12);
            }
        }
        out
    }

    /// The full review `golden review` prints: every changed case and field (flips first), cut
    /// to `width` columns.
    pub(crate) fn details(&self, width: usize) -> String {
        let mut out = self.header();
        let _ = writeln!(
            out,
            "{} case(s) added, {} removed, {} changed; {} now outside the spec's tolerance",
            self.added.len(),
            self.removed.len(),
            self.changed.len(),
            self.outside_tolerance()
        );
        for (title, cases) in [("added", &self.added), ("removed", &self.removed)] {
            if !cases.is_empty() {
                let ids: Vec<&str> = cases.iter().map(|c| c.case_id.as_str()).collect();
                let _ = writeln!(out, "{title}: {}", ids.join(", "));
            }
        }
        for case in &self.changed {
            let mut marks = Vec::new();
            if case.flipped {
                marks.push("prediction flipped");
            }
            if case.outside_tolerance {
                marks.push("outside tolerance");
            }
            let marks = if marks.is_empty() {
                String::new()
            } else {
                format!(" ({})", marks.join(", "))
            };
            let _ = writeln!(out, "\n{}{marks}", case.case_id);
            for f in &case.fields {
                let line = format!(
                    "  {}: {} -> {}{}",
                    f.field,
                    show(&f.old),
                    show(&f.new),
                    f.difference.map_or(String::new(), |d| format!(
                        " ({})",
                        crate::units::difference(d)
                    ))
                );
                let _ = writeln!(out, "{}", cut(&line, width));
            }
        }
        let _ = writeln!(
            out,
            "\nto decide case by case, run `{}` in a terminal; `{}` takes every pending case unseen, `{}` drops them",
            crate::environment::command("golden review"),
            crate::environment::command("golden accept --all"),
            crate::environment::command("golden reject")
        );
        out
    }

    fn header(&self) -> String {
        let old = self
            .old_manifest
            .as_ref()
            .map_or("(none)", |m| m.model_sha256.as_str());
        let version = |m: &Manifest| {
            m.model_version
                .as_ref()
                .map_or(String::new(), |v| format!(" (model_version {v})"))
        };
        format!(
            "old model sha256: {old}{}\nnew model sha256: {}{}\n",
            self.old_manifest.as_ref().map_or(String::new(), version),
            self.new_manifest.model_sha256,
            version(&self.new_manifest)
        )
    }
}

fn case_change(
    id: &str,
    kind: ChangeKind,
    old: &Line,
    new: &Line,
    rules: &[FieldRule],
) -> Option<CaseChange> {
    static NULL: Value = Value::Null;
    let keys: std::collections::BTreeSet<&String> =
        old.flat.keys().chain(new.flat.keys()).collect();
    let fields: Vec<FieldChange> = keys
        .into_iter()
        .filter_map(|k| {
            let a = old.flat.get(k).unwrap_or(&NULL);
            let b = new.flat.get(k).unwrap_or(&NULL);
            (a != b).then(|| FieldChange {
                field: k.clone(),
                old: a.clone(),
                new: b.clone(),
                difference: a.as_f64().zip(b.as_f64()).map(|(a, b)| (b - a).abs()),
            })
        })
        .collect();
    if fields.is_empty() && kind == ChangeKind::Changed {
        return None;
    }
    if kind != ChangeKind::Changed {
        return Some(CaseChange {
            case_id: id.to_owned(),
            kind,
            flipped: false,
            outside_tolerance: false,
            fields,
        });
    }
    // The old prediction, served, against the new goldens by the spec's own rules.
    let mismatches = compare(&new.prediction, &old.prediction, rules);
    let flipped = fields.iter().any(|f| {
        f.field.starts_with("/prediction")
            && compared_exactly(&f.field["/prediction".len()..], rules)
            && (f.difference.is_none() || is_label(&f.old) || is_label(&f.new))
    });
    Some(CaseChange {
        case_id: id.to_owned(),
        kind,
        flipped,
        outside_tolerance: !mismatches.is_empty(),
        fields,
    })
}

/// A class label rather than a measurement: a string, a boolean, or an integer.
fn is_label(value: &Value) -> bool {
    value.is_string() || value.is_boolean() || value.is_i64() || value.is_u64()
}

/// A value as people read it: integers as integers, strings quoted.
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            format!("{x:?}")
        }
        Value::Null => "(absent)".to_owned(),
        other => other.to_string(),
    }
}

/// `line` cut to `width` characters (never below 10: too narrow to say anything).
pub(crate) fn cut(line: &str, width: usize) -> String {
    if line.chars().count() <= width || width < 10 {
        line.to_owned()
    } else {
        let mut s: String = line.chars().take(width - 3).collect();
        s.push_str("...");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_read_as_people_write_them() {
        assert_eq!(show(&serde_json::json!(1)), "1");
        assert_eq!(show(&serde_json::json!(0.5)), "0.5");
        assert_eq!(show(&Value::Null), "(absent)");
    }
}
