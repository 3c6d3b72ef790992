//! The goldens' CatBoost model as the drift search sees it: its features by name, each float
//! feature's borders (the model's prediction is constant between two of them), and the
//! evaluation of many rows at once by `catboost-eval`, with CatBoost's own results.

use super::DriftError;
use catboost_eval::{FeatureKind, FeatureValue, Model, Prediction};
use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

/// A value of one feature in a row.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Cell {
    /// A float feature (`NaN`: missing).
    Float(f64),
    /// A categorical feature, as its text.
    Category(String),
}

impl Cell {
    /// The cell as the evaluator takes it.
    pub(crate) fn value(&self) -> FeatureValue<'_> {
        match self {
            Cell::Float(x) => FeatureValue::Float(*x),
            Cell::Category(text) => FeatureValue::Categorical(text),
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Float(x) if x.is_nan() => f.write_str("missing"),
            Cell::Float(x) => write!(f, "{}", short_float(*x)),
            Cell::Category(text) => write!(f, "{text:?}"),
        }
    }
}

/// A number as a reader wants it: at most 6 significant digits, no trailing zeros.
pub(crate) fn short_float(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{x:.0}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if (-4..15).contains(&magnitude) {
        let decimals = usize::try_from((5 - magnitude).max(0)).unwrap_or(0);
        let text = format!("{x:.decimals$}");
        if text.contains('.') {
            return text.trim_end_matches('0').trim_end_matches('.').to_owned();
        }
        return text;
    }
    format!("{x:.5e}")
}

/// One feature of the model.
#[derive(Clone, Debug)]
pub(crate) struct Feature {
    /// Its name (`feature_id` in the export), or `feature N` when it has none.
    pub(crate) name: String,
    /// Float or categorical.
    pub(crate) kind: FeatureKind,
    /// A float feature's borders, ascending, as the model compares them (`f32`): a value `x`
    /// falls into interval `i` = how many borders it is greater than. Empty when no tree uses
    /// the feature.
    pub(crate) borders: Vec<f32>,
}

impl Feature {
    /// The interval `x` falls into (NaN: the first, as CatBoost's default `Min` treatment
    /// and `AsIs` compare it).
    pub(crate) fn interval(&self, x: f64) -> usize {
        let x = x as f32;
        self.borders.iter().take_while(|b| x > **b).count()
    }

    /// A value inside interval `i`: its upper border, or above the last one.
    pub(crate) fn inside(&self, i: usize) -> f64 {
        match self.borders.get(i) {
            Some(b) => f64::from(*b),
            None => {
                let last = f64::from(self.borders.last().copied().unwrap_or(0.0));
                last + last.abs().max(1.0)
            }
        }
    }

    /// Intervals `first..=last` as the reader sees where a value is: `in (lo, hi]`, `≤ hi`,
    /// `> lo`.
    pub(crate) fn describe_intervals(&self, first: usize, last: usize) -> String {
        let lo = first
            .checked_sub(1)
            .and_then(|i| self.borders.get(i))
            .map(|b| short_float(f64::from(*b)));
        let hi = self.borders.get(last).map(|b| short_float(f64::from(*b)));
        match (lo, hi) {
            (Some(lo), Some(hi)) => format!("in ({lo}, {hi}]"),
            (None, Some(hi)) => format!("≤ {hi}"),
            (Some(lo), None) => format!("> {lo}"),
            (None, None) => "any value".to_owned(),
        }
    }
}

/// The model, with what the drift search needs to know of it.
pub(crate) struct DriftModel {
    model: Model,
    /// Every flat feature, in the model's input order.
    pub(crate) features: Vec<Feature>,
}

/// The part of CatBoost's JSON export that names features and gives their borders (the
/// evaluator itself reads the whole document).
#[derive(Deserialize)]
struct Doc {
    features_info: Info,
}

#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    float_features: Vec<FloatInfo>,
    #[serde(default)]
    categorical_features: Vec<CategoryInfo>,
}

#[derive(Deserialize)]
struct FloatInfo {
    feature_id: Option<String>,
    flat_feature_index: usize,
    #[serde(default)]
    borders: Option<Vec<f64>>,
}

#[derive(Deserialize)]
struct CategoryInfo {
    feature_id: Option<String>,
    flat_feature_index: usize,
}

impl DriftModel {
    /// Loads CatBoost's JSON export at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, DriftError> {
        let bytes = std::fs::read(path).map_err(|source| DriftError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let model = Model::from_json(&bytes).map_err(|e| DriftError::Model {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let doc: Doc = serde_json::from_slice(&bytes).map_err(|e| DriftError::Model {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut features: Vec<Feature> = model
            .feature_kinds()
            .iter()
            .enumerate()
            .map(|(i, kind)| Feature {
                name: format!("feature {i}"),
                kind: *kind,
                borders: Vec::new(),
            })
            .collect();
        for info in doc.features_info.float_features {
            if let Some(feature) = features.get_mut(info.flat_feature_index) {
                if let Some(name) = info.feature_id.filter(|n| !n.is_empty()) {
                    feature.name = name;
                }
                let mut borders: Vec<f32> = info
                    .borders
                    .unwrap_or_default()
                    .into_iter()
                    .map(|b| b as f32)
                    .collect();
                borders.sort_by(f32::total_cmp);
                borders.dedup();
                feature.borders = borders;
            }
        }
        for info in doc.features_info.categorical_features {
            if let Some(feature) = features.get_mut(info.flat_feature_index)
                && let Some(name) = info.feature_id.filter(|n| !n.is_empty())
            {
                feature.name = name;
            }
        }
        Ok(DriftModel { model, features })
    }

    /// A golden case's training-time features as a row: an object by feature name, or an
    /// array in the model's order. `Err`: what does not fit.
    pub(crate) fn row(&self, features: &Value) -> Result<Vec<Cell>, String> {
        let at = |i: usize, f: &Feature| match features {
            Value::Object(map) => map.get(&f.name),
            Value::Array(values) => values.get(i),
            _ => None,
        };
        if !features.is_object() && !features.is_array() {
            return Err("`features` is neither an object by name nor an array".to_owned());
        }
        self.features
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let value = at(i, f).ok_or_else(|| format!("no value for feature {:?}", f.name))?;
                cell(f, value).ok_or_else(|| {
                    format!("feature {:?} is {}, not a {} value", f.name, value, f.kind)
                })
            })
            .collect()
    }

    /// The predictions for `rows`, given flat (one row after another, in the model's
    /// feature order).
    pub(crate) fn predict(&self, rows: &[FeatureValue<'_>]) -> Result<Vec<Prediction>, String> {
        self.predict_raw(rows)?
            .chunks_exact(self.dimension())
            .map(|r| self.interpret(r))
            .collect()
    }

    /// The raw values for `rows` ([`DriftModel::dimension`] per row): the search's fast path,
    /// which interprets only the raw values it has not judged yet.
    pub(crate) fn predict_raw(&self, rows: &[FeatureValue<'_>]) -> Result<Vec<f64>, String> {
        let width = self.features.len().max(1);
        let mut raw = vec![0.0; rows.len() / width * self.dimension()];
        self.model
            .predict_raw_batch(rows, &mut raw)
            .map_err(|e| e.to_string())?;
        Ok(raw)
    }

    /// Raw values per row.
    pub(crate) fn dimension(&self) -> usize {
        self.model.dimension().max(1)
    }

    /// One row's raw values as the model's prediction.
    pub(crate) fn interpret(&self, raw: &[f64]) -> Result<Prediction, String> {
        self.model.interpret_raw(raw).map_err(|e| e.to_string())
    }
}

/// A JSON value as a cell of `feature`: a number (or null: missing) for a float feature; a
/// string, or a number's text, for a categorical one (CatBoost reads categories as text).
fn cell(feature: &Feature, value: &Value) -> Option<Cell> {
    match (feature.kind, value) {
        (FeatureKind::Float, Value::Null) => Some(Cell::Float(f64::NAN)),
        (FeatureKind::Float, Value::Number(n)) => n.as_f64().map(Cell::Float),
        (FeatureKind::Categorical, Value::String(s)) => Some(Cell::Category(s.clone())),
        (FeatureKind::Categorical, Value::Number(n)) => Some(Cell::Category(n.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(borders: &[f32]) -> Feature {
        Feature {
            name: "x".to_owned(),
            kind: FeatureKind::Float,
            borders: borders.to_vec(),
        }
    }

    #[test]
    fn a_value_falls_into_the_interval_above_the_borders_it_is_greater_than() {
        let f = float(&[1.0, 2.5]);
        assert_eq!(f.interval(0.0), 0);
        assert_eq!(
            f.interval(1.0),
            0,
            "a border belongs to the interval below it"
        );
        assert_eq!(f.interval(1.5), 1);
        assert_eq!(f.interval(9.0), 2);
        assert_eq!(f.interval(f64::NAN), 0);
        for i in 0..3 {
            assert_eq!(f.interval(f.inside(i)), i, "inside({i})");
        }
        assert_eq!(f.describe_intervals(0, 0), "≤ 1");
        assert_eq!(f.describe_intervals(1, 1), "in (1, 2.5]");
        assert_eq!(f.describe_intervals(1, 2), "> 1");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_float(2.0), "2");
        assert_eq!(short_float(0.307_692_307_692_307_7), "0.307692");
        assert_eq!(short_float(65000.5), "65000.5");
        assert_eq!(short_float(7.999_999_046_325_684), "8");
        assert_eq!(short_float(1.5e-7), "1.50000e-7");
    }
}
