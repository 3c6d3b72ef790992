//! The loan-application record: the JSON contract of one event.
//!
//! Deserialization is strict: every object refuses unknown and duplicate fields, JSON arrays are
//! not accepted in place of objects (serde's derive would accept them), numbers must fit their
//! type exactly (counts are non-negative JSON integers that fit in a `u32`; amounts are any JSON
//! number within the `f64` range). Optional fields may be absent or `null`, with the same
//! meaning. `models/features.py` mirrors these rules for the training side.
//!
//! Value rules, including the length limits of strings and of `tradelines`, are checked after
//! deserialization by [`check_values`](super::check_values).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::InvalidRecord;

/// One loan application, as sent by the upstream loan-application service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct LoanApplication {
    /// The caller's identifier of the application; echoed, never used as a feature. At most
    /// [`MAX_ID_CHARS`](super::MAX_ID_CHARS) characters.
    pub id: Option<String>,
    /// The (main) applicant.
    pub applicant: Applicant,
    /// The co-applicant of a joint application; `None` for an individual application.
    pub joint: Option<JointApplicant>,
    /// The requested loan.
    pub loan: Loan,
    /// The applicant's credit bureau summary.
    pub credit_history: CreditHistory,
    /// The applicant's credit lines (accounts); may be empty, at most
    /// [`MAX_TRADELINES`](super::MAX_TRADELINES) entries.
    pub tradelines: Vec<Tradeline>,
}

/// The (main) applicant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Applicant {
    /// Employment; `None` when unknown (e.g. not employed).
    pub employment: Option<Employment>,
    /// Home ownership, e.g. `MORTGAGE`, `RENT`, `OWN`; at most
    /// [`MAX_TEXT_CHARS`](super::MAX_TEXT_CHARS) characters, as every other category.
    pub home_ownership: String,
    /// Two-letter US state code.
    pub state: String,
    /// Self-reported income.
    pub income: Income,
}

/// The applicant's employment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Employment {
    /// Free-text job title, as typed by the applicant; at most
    /// [`MAX_TITLE_CHARS`](super::MAX_TITLE_CHARS) characters.
    pub title: Option<String>,
    /// Years in the current job (10 means 10 or more).
    pub length_years: Option<u32>,
}

/// The applicant's income.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Income {
    /// Annual income in USD; must not be negative.
    pub annual: f64,
    /// Income verification status, e.g. `Verified`, `Source Verified`, `Not Verified`.
    pub verification: String,
    /// Debt-to-income ratio in percent; must not be negative.
    pub debt_to_income: Option<f64>,
}

/// The joint part of a joint application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct JointApplicant {
    /// Combined annual income of both applicants in USD; must not be negative.
    pub annual_income: f64,
    /// Verification status of the joint income.
    pub verification: Option<String>,
    /// Combined debt-to-income ratio in percent; must not be negative.
    pub debt_to_income: f64,
}

/// The requested loan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Loan {
    /// Amount in USD; must not be negative.
    pub amount: f64,
    /// Term in months; must be positive.
    pub term_months: u32,
    /// Purpose, e.g. `debt_consolidation`, `credit_card`, `moving`.
    pub purpose: String,
}

/// The applicant's credit bureau summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
#[allow(missing_docs)] // the field names are the documentation
pub struct CreditHistory {
    pub earliest_credit_line_year: u32,
    pub inquiries_last_12m: u32,
    pub months_since_last_credit_inquiry: Option<u32>,
    pub delinquencies_2y: u32,
    pub months_since_last_delinquency: Option<u32>,
    pub months_since_90d_late: Option<u32>,
    pub public_record_bankruptcies: u32,
    pub tax_liens: u32,
    pub collections_last_12m: u32,
    pub historical_failed_to_pay: u32,
    pub accounts_opened_24m: u32,
    pub accounts_120d_past_due: Option<u32>,
    /// Share of accounts never delinquent, in percent (0 to 100).
    pub never_delinquent_percent: f64,
    /// USD; must not be negative.
    pub total_credit_limit: f64,
    /// USD; must not be negative.
    pub total_credit_utilized: f64,
    /// USD; must not be negative.
    pub total_collection_amount_ever: f64,
}

/// One credit line (account).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", deny_unknown_fields)]
pub struct Tradeline {
    /// What kind of account this is.
    pub kind: TradelineKind,
    /// Whether the account is open.
    pub open: bool,
    /// Whether the account carries a balance; not every bureau reports it.
    pub carries_balance: Option<bool>,
}

/// The kind of a credit line; JSON: `credit_card`, `mortgage`, `installment`, `other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradelineKind {
    /// A credit card (revolving).
    CreditCard,
    /// A mortgage.
    Mortgage,
    /// An installment loan (auto, student, personal...).
    Installment,
    /// Any other account.
    Other,
}

impl LoanApplication {
    /// Parses one record from JSON text, naming the JSON path of the first offending value
    /// (relative to the record, `.` for the record itself) as `serde_path_to_error` does.
    ///
    /// This only checks the shape; [`FeatureEngineering::transform`] checks the values.
    ///
    /// [`FeatureEngineering::transform`]: super::FeatureEngineering::transform
    pub fn from_json(json: &[u8]) -> Result<Self, InvalidRecord> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let record: Self = serde_path_to_error::deserialize(&mut de)?;
        de.end()
            .map_err(|e| InvalidRecord::new(".", e.to_string()))?;
        Ok(record)
    }
}

impl From<serde_path_to_error::Error<serde_json::Error>> for InvalidRecord {
    fn from(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        InvalidRecord::new(e.path().to_string(), e.into_inner().to_string())
    }
}

/// A struct that only deserializes from a JSON object: the derived (`remote = "Self"`)
/// deserializer would also take an array of field values.
trait ObjectOnly<'de>: Sized {
    const EXPECTING: &'static str;
    fn from_fields<D: Deserializer<'de>>(fields: D) -> Result<Self, D::Error>;
}

struct ObjectVisitor<T>(PhantomData<T>);

impl<'de, T: ObjectOnly<'de>> Visitor<'de> for ObjectVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::from_fields(de::value::MapAccessDeserializer::new(map))
    }
}

macro_rules! object_only {
    ($($ty:ident => $expecting:literal),* $(,)?) => {$(
        impl<'de> ObjectOnly<'de> for $ty {
            const EXPECTING: &'static str = $expecting;
            fn from_fields<D: Deserializer<'de>>(fields: D) -> Result<Self, D::Error> {
                $ty::deserialize(fields) // the derived (remote = "Self") inherent function
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_map(ObjectVisitor::<$ty>(PhantomData))
            }
        }

        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $ty::serialize(self, serializer)
            }
        }
    )*};
}

object_only! {
    LoanApplication => "a loan application object",
    Applicant => "an applicant object",
    Employment => "an employment object",
    Income => "an income object",
    JointApplicant => "a joint applicant object",
    Loan => "a loan object",
    CreditHistory => "a credit history object",
    Tradeline => "a tradeline object",
}
