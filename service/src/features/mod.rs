//! Feature engineering: a loan-application record in, model features out.
//!
//! This is a port of `models/features.py`, the training-time definition, and must agree with it
//! bit for bit (`service/tests/golden_features.rs` checks every golden case). The rules that make
//! that possible:
//!
//! - float math uses only `+ - * /` and comparisons; a ratio is NaN when its denominator is zero
//!   or it overflows, so every float feature is finite or NaN (missing);
//! - text rules are ASCII-only and count code points (no Unicode case mapping or whitespace
//!   tables, whose versions differ between Python and Rust);
//! - JSON numbers are parsed with correct rounding (serde_json `float_roundtrip`, like Python's
//!   `json`), and `-0` is read as `0`;
//! - validation (shape via serde, values via [`check_values`], including the length limits
//!   [`MAX_ID_CHARS`], [`MAX_TITLE_CHARS`], [`MAX_TEXT_CHARS`] and [`MAX_TRADELINES`]) is
//!   mirrored by the reference, which names the same JSON path and message for the same error.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use service::features::{FeatureEngineering, FeatureSet, LoanApplication};
//!
//! let feature_set = FeatureSet::from_json(&std::fs::read("models/artifacts/feature_set.json")?)?;
//! let engineering = FeatureEngineering::new(&feature_set)?; // refuses a mismatched model
//! let record = LoanApplication::from_json(br#"{"applicant": {}}"#)?; // Err: names the path
//! let features = engineering.transform(&record)?;
//! # let _ = features; Ok(()) }
//! ```

mod engineering;
mod error;
mod record;
mod text;

pub use engineering::{
    FEATURE_ENGINEERING_ID, FEATURE_SET_FORMAT_VERSION, Feature, FeatureEngineering, FeatureKind,
    FeatureSet, FeatureSpec, Features, MAX_ID_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS,
    MAX_TRADELINES, NONE_CATEGORY, Target, check_values,
};
pub use error::{FeatureSetError, InvalidRecord};
pub use record::{
    Applicant, CreditHistory, Employment, Income, JointApplicant, Loan, LoanApplication, Tradeline,
    TradelineKind,
};

#[cfg(test)]
mod tests;
