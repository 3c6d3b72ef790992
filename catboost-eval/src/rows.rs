//! Rows as text: one JSON array per row, in the model's flat feature order, the input format
//! of `catboost-predict`. It lives in the library (not in the binary) so that the fuzz target
//! `predict_rows` and the tests parse lines exactly as the binary does.
//!
//! A float feature is a number, `null` (missing, i.e. NaN) or one of the strings "NaN",
//! "Infinity", "-Infinity". A categorical feature is a string, or an integer number, which
//! stands for its decimal text (`3` is the category "3", `-0` is "0"), as CatBoost's Python
//! package reads an int in a categorical column; like CatBoost, a non-integer number there
//! (`3.0`, `3.5`, `1e3`) is an error. (One exception: `-0.0` is taken as "0", since it parses
//! to the same value as `-0`.)

use crate::{FeatureKind, FeatureValue};
use serde_json::Value;

/// One parsed row: a value per flat feature, of the kind the model expects there.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    cells: Vec<Cell>,
}

/// A value of a row, owned (the line it comes from is gone by the time rows are evaluated).
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Float(f64),
    Categorical(String),
}

impl Row {
    /// The row's values, in flat feature order, as the `predict*` methods of
    /// [`crate::Model`] take them.
    pub fn values(&self) -> impl ExactSizeIterator<Item = FeatureValue<'_>> {
        self.cells.iter().map(|c| match c {
            Cell::Float(x) => FeatureValue::Float(*x),
            Cell::Categorical(s) => FeatureValue::Categorical(s),
        })
    }

    /// Number of values (the model's number of flat features).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Whether the row has no values (a model without features).
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

/// Why a line is not a row of the model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RowError {
    /// The line is not one JSON value.
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    /// The line is JSON but not an array.
    #[error("expected a JSON array of {expected} feature values")]
    NotArray {
        /// Number of flat features of the model.
        expected: usize,
    },
    /// The array does not have one value per flat feature.
    #[error("expected {expected} values (one per flat feature of the model), got {actual}")]
    WrongLength {
        /// Number of flat features of the model.
        expected: usize,
        /// Number of values in the line.
        actual: usize,
    },
    /// A value does not fit its column ([`RowError::column`] says which).
    #[error("{problem}")]
    Value {
        /// Flat feature index, from 0.
        column: usize,
        /// What is wrong with the value.
        problem: ValueProblem,
    },
}

impl RowError {
    /// The flat feature index of a bad value; `None` when the line as a whole is wrong.
    pub fn column(&self) -> Option<usize> {
        match self {
            Self::Value { column, .. } => Some(*column),
            _ => None,
        }
    }
}

/// What is wrong with one value of a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueProblem {
    /// A float column holds a string other than the three spellings of non-finite values.
    #[error(
        "float feature: expected a number, null, \"NaN\", \"Infinity\" or \"-Infinity\", got the \
         string {0:?}"
    )]
    FloatString(String),
    /// A float column holds neither a number, `null` nor a string.
    #[error("float feature: expected a number or null, got {0}")]
    FloatType(String),
    /// A number that has no `f64` value.
    #[error("float feature: number out of range")]
    OutOfRange,
    /// A categorical column holds a number that is not an integer.
    #[error(
        "categorical feature: {0} is not an integer (CatBoost accepts only strings and integers \
         as categories)"
    )]
    NotInteger(String),
    /// A categorical column holds neither a string nor a number.
    #[error("categorical feature: expected a string or an integer, got {0}")]
    CategoricalType(String),
}

/// Parses one line into a row of a model whose flat features have `kinds`. Never panics: any
/// line that is not such a row is a [`RowError`].
pub fn parse_row(line: &str, kinds: &[FeatureKind]) -> Result<Row, RowError> {
    let n_features = kinds.len();
    let value: Value = serde_json::from_str(line).map_err(RowError::Json)?;
    let Value::Array(values) = value else {
        return Err(RowError::NotArray {
            expected: n_features,
        });
    };
    if values.len() != n_features {
        return Err(RowError::WrongLength {
            expected: n_features,
            actual: values.len(),
        });
    }
    let cells = values
        .into_iter()
        .zip(kinds)
        .enumerate()
        .map(|(column, (v, kind))| {
            cell(v, *kind).map_err(|problem| RowError::Value { column, problem })
        })
        .collect::<Result<_, _>>()?;
    Ok(Row { cells })
}

fn cell(v: Value, kind: FeatureKind) -> Result<Cell, ValueProblem> {
    Ok(match kind {
        FeatureKind::Float => Cell::Float(match v {
            Value::Number(n) => n.as_f64().ok_or(ValueProblem::OutOfRange)?,
            Value::Null => f64::NAN,
            Value::String(s) => match s.as_str() {
                "NaN" => f64::NAN,
                "Infinity" => f64::INFINITY,
                "-Infinity" => f64::NEG_INFINITY,
                _ => return Err(ValueProblem::FloatString(s)),
            },
            other => return Err(ValueProblem::FloatType(other.to_string())),
        }),
        FeatureKind::Categorical => Cell::Categorical(match v {
            Value::String(s) => s,
            // Integers stand for their decimal text, so that every category is a string.
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            // serde_json reads the integer literal `-0` as the float -0.0 (Python reads it as
            // the int 0). `-0.0` cannot be told apart from it here: both mean "0".
            Value::Number(n) if n.as_f64().is_some_and(|x| x == 0.0 && x.is_sign_negative()) => {
                "0".to_owned()
            }
            Value::Number(n) => return Err(ValueProblem::NotInteger(n.to_string())),
            other => return Err(ValueProblem::CategoricalType(other.to_string())),
        }),
    })
}
