//! The feature set and the transformation of a record into model features.

use serde::{Deserialize, Serialize};

use super::record::{LoanApplication, TradelineKind};
use super::text::{self, TITLE_FLAGS, TitleFlags};
use super::{FeatureSetError, InvalidRecord};
use catboost_eval::FeatureValue;

/// Identifier of the feature engineering this code implements; `feature_set.json` must name it.
pub const FEATURE_ENGINEERING_ID: &str = "loan-application-features/v1";

/// The `format_version` of `feature_set.json` this code reads.
pub const FEATURE_SET_FORMAT_VERSION: u32 = 1;

/// Categorical value of a missing categorical input (and of a title with no token).
pub const NONE_CATEGORY: &str = "(none)";

/// The kind of a model feature: the evaluator's own (`feature_set.json` spells it `"float"` /
/// `"categorical"`).
pub use catboost_eval::FeatureKind;

/// One entry of `feature_set.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Feature name.
    pub name: String,
    /// Feature kind.
    pub kind: FeatureKind,
    /// For title flags: the regex applied to the normalised title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// What the model predicts (informational).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Target name.
    pub name: String,
    /// Its definition.
    pub description: String,
    /// The class whose probability the model reports.
    pub positive_class: i64,
}

/// `feature_set.json`, written at training time: the model's features (names and kinds) in
/// model column order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureSet {
    format_version: u32,
    feature_engineering: String,
    target: Target,
    features: Vec<FeatureSpec>,
}

impl FeatureSet {
    /// Parses `feature_set.json`. This checks the shape only; [`FeatureEngineering::new`]
    /// checks that it is the feature set this code computes.
    pub fn from_json(json: &[u8]) -> Result<Self, FeatureSetError> {
        let mut de = serde_json::Deserializer::from_slice(json);
        let set: Self = serde_path_to_error::deserialize(&mut de)?;
        de.end().map_err(|e| FeatureSetError::Malformed {
            path: ".".to_owned(),
            message: e.to_string(),
        })?;
        Ok(set)
    }

    /// The features in model column order.
    pub fn features(&self) -> &[FeatureSpec] {
        &self.features
    }

    /// The feature engineering the model was trained with.
    pub fn feature_engineering(&self) -> &str {
        &self.feature_engineering
    }

    /// What the model predicts.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

/// One feature value.
#[derive(Debug, Clone, PartialEq)]
pub enum Feature {
    /// A number, finite or NaN (missing).
    Float(f64),
    /// A category.
    Categorical(String),
}

/// The features of one record, in feature-set (model column) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Features(Vec<Feature>);

impl Features {
    /// The values in model column order.
    pub fn as_slice(&self) -> &[Feature] {
        &self.0
    }

    /// The values in model column order.
    pub fn into_vec(self) -> Vec<Feature> {
        self.0
    }
}

impl Feature {
    /// The value as the CatBoost evaluator takes it (borrowing the category text).
    pub fn as_value(&self) -> FeatureValue<'_> {
        match self {
            Feature::Float(v) => FeatureValue::Float(*v),
            Feature::Categorical(c) => FeatureValue::Categorical(c),
        }
    }
}

impl Features {
    /// The row as the CatBoost evaluator takes it, e.g. for
    /// [`Model::predict`](catboost_eval::Model::predict).
    pub fn as_values(&self) -> Vec<FeatureValue<'_>> {
        self.0.iter().map(Feature::as_value).collect()
    }
}

impl AsRef<[Feature]> for Features {
    fn as_ref(&self) -> &[Feature] {
        &self.0
    }
}

macro_rules! feature_list {
    ($($id:ident = $name:literal : $kind:ident),* $(,)?) => {
        /// Every feature this code computes; declaration order is model column order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum FeatureId { $($id),* }

        const FEATURES: &[(FeatureId, &str, FeatureKind)] =
            &[$((FeatureId::$id, $name, FeatureKind::$kind)),*];
    };
}

// Same names, kinds and order as FEATURES in models/features.py.
feature_list! {
    AnnualIncome = "annual_income": Float,
    DebtToIncome = "debt_to_income": Float,
    EmpLengthYears = "emp_length_years": Float,
    LoanAmount = "loan_amount": Float,
    LoanToIncome = "loan_to_income": Float,
    IsJoint = "is_joint": Float,
    JointAnnualIncome = "joint_annual_income": Float,
    JointToIndividualDti = "joint_to_individual_dti": Float,
    EarliestCreditLineYear = "earliest_credit_line_year": Float,
    InquiriesLast12m = "inquiries_last_12m": Float,
    MonthsSinceLastCreditInquiry = "months_since_last_credit_inquiry": Float,
    Delinquencies2y = "delinquencies_2y": Float,
    MonthsSinceLastDelinquency = "months_since_last_delinquency": Float,
    DerogatoryMarks = "derogatory_marks": Float,
    AccountsOpened24m = "accounts_opened_24m": Float,
    TotalCreditLimit = "total_credit_limit": Float,
    CreditUtilization = "credit_utilization": Float,
    TradelinesTotal = "tradelines_total": Float,
    TradelinesOpenShare = "tradelines_open_share": Float,
    CreditCardCount = "credit_card_count": Float,
    CreditCardBalanceShare = "credit_card_balance_share": Float,
    MortgageCount = "mortgage_count": Float,
    TitleLength = "title_length": Float,
    TitleWordCount = "title_word_count": Float,
    TitleSenior = "title_senior": Float,
    TitleMedical = "title_medical": Float,
    TitleDriver = "title_driver": Float,
    TitleTeacher = "title_teacher": Float,
    EmpTitleNorm = "emp_title_norm": Categorical,
    State = "state": Categorical,
    HomeOwnership = "home_ownership": Categorical,
    IncomeVerification = "income_verification": Categorical,
    JointIncomeVerification = "joint_income_verification": Categorical,
    LoanPurpose = "loan_purpose": Categorical,
    Term = "term": Categorical,
}

/// The pattern of a title-flag feature, `None` for other features.
fn pattern_of(name: &str) -> Option<String> {
    TITLE_FLAGS
        .iter()
        .find(|(flag, _)| *flag == name)
        .map(|(_, words)| text::word_pattern(words))
}

/// Turns records into model features, exactly as `models/features.py` did at training time.
#[derive(Debug, Clone)]
pub struct FeatureEngineering {
    title_flags: TitleFlags,
}

impl FeatureEngineering {
    /// Checks that `feature_set` is exactly the feature set this code computes (identifier,
    /// names, kinds, order, patterns) and prepares the transformation.
    pub fn new(feature_set: &FeatureSet) -> Result<Self, FeatureSetError> {
        if feature_set.format_version != FEATURE_SET_FORMAT_VERSION {
            return Err(FeatureSetError::FormatVersion {
                expected: FEATURE_SET_FORMAT_VERSION,
                found: feature_set.format_version,
            });
        }
        if feature_set.feature_engineering != FEATURE_ENGINEERING_ID {
            return Err(FeatureSetError::FeatureEngineering {
                expected: FEATURE_ENGINEERING_ID.to_owned(),
                found: feature_set.feature_engineering.clone(),
            });
        }
        if feature_set.features.len() != FEATURES.len() {
            return Err(FeatureSetError::Count {
                expected: FEATURES.len(),
                found: feature_set.features.len(),
            });
        }
        for (index, ((_, name, kind), spec)) in
            FEATURES.iter().zip(&feature_set.features).enumerate()
        {
            if spec.name != *name || spec.kind != *kind {
                return Err(FeatureSetError::Mismatch {
                    index,
                    expected: format!("{name} ({kind})"),
                    found: format!("{} ({})", spec.name, spec.kind),
                });
            }
            let expected = pattern_of(name);
            if spec.pattern != expected {
                return Err(FeatureSetError::Pattern {
                    name: spec.name.clone(),
                    expected: expected.unwrap_or_default(),
                });
            }
        }
        Ok(FeatureEngineering {
            title_flags: TitleFlags::new(),
        })
    }

    /// Feature names in model column order.
    pub fn feature_names(&self) -> impl ExactSizeIterator<Item = &'static str> {
        FEATURES.iter().map(|(_, name, _)| *name)
    }

    /// Validates the values of `record` (see [`check_values`]) and computes its features in
    /// model column order. Every float feature is finite or NaN (missing).
    pub fn transform(&self, record: &LoanApplication) -> Result<Features, InvalidRecord> {
        check_values(record)?;
        let applicant = &record.applicant;
        let income = &applicant.income;
        let joint = record.joint.as_ref();
        let history = &record.credit_history;
        let employment = applicant.employment.as_ref();

        // `+ 0.0` turns -0.0 (JSON `-0`) into 0.0, as the reference does on reading.
        let annual = income.annual + 0.0;
        let dti = opt(income.debt_to_income.map(|v| v + 0.0));
        let amount = record.loan.amount + 0.0;
        let title = employment.and_then(|e| e.title.as_deref());
        let normalized = title.map(text::normalize_title).unwrap_or_default();
        let flags = self.title_flags.flags(&normalized);

        let (mut open, mut cards, mut cards_open, mut cards_balance, mut mortgages) =
            (0usize, 0usize, 0usize, 0usize, 0usize);
        for line in &record.tradelines {
            open += usize::from(line.open);
            match line.kind {
                TradelineKind::CreditCard => {
                    cards += 1;
                    cards_open += usize::from(line.open);
                    cards_balance += usize::from(line.carries_balance == Some(true));
                }
                TradelineKind::Mortgage => mortgages += 1,
                TradelineKind::Installment | TradelineKind::Other => {}
            }
        }
        let total = record.tradelines.len();

        let values = FEATURES
            .iter()
            .map(|(id, _, _)| {
                use Feature::{Categorical, Float};
                match id {
                    FeatureId::AnnualIncome => Float(annual),
                    FeatureId::DebtToIncome => Float(dti),
                    FeatureId::EmpLengthYears => {
                        Float(opt(employment.and_then(|e| e.length_years).map(f64::from)))
                    }
                    FeatureId::LoanAmount => Float(amount),
                    FeatureId::LoanToIncome => Float(ratio(amount, annual)),
                    FeatureId::IsJoint => Float(if joint.is_some() { 1.0 } else { 0.0 }),
                    FeatureId::JointAnnualIncome => {
                        Float(opt(joint.map(|j| j.annual_income + 0.0)))
                    }
                    FeatureId::JointToIndividualDti => {
                        Float(opt(joint.map(|j| ratio(j.debt_to_income + 0.0, dti))))
                    }
                    FeatureId::EarliestCreditLineYear => {
                        Float(f64::from(history.earliest_credit_line_year))
                    }
                    FeatureId::InquiriesLast12m => Float(f64::from(history.inquiries_last_12m)),
                    FeatureId::MonthsSinceLastCreditInquiry => {
                        Float(opt(history.months_since_last_credit_inquiry.map(f64::from)))
                    }
                    FeatureId::Delinquencies2y => Float(f64::from(history.delinquencies_2y)),
                    FeatureId::MonthsSinceLastDelinquency => {
                        Float(opt(history.months_since_last_delinquency.map(f64::from)))
                    }
                    FeatureId::DerogatoryMarks => Float(count(
                        u64::from(history.public_record_bankruptcies)
                            + u64::from(history.tax_liens)
                            + u64::from(history.collections_last_12m)
                            + u64::from(history.historical_failed_to_pay),
                    )),
                    FeatureId::AccountsOpened24m => Float(f64::from(history.accounts_opened_24m)),
                    FeatureId::TotalCreditLimit => Float(history.total_credit_limit + 0.0),
                    FeatureId::CreditUtilization => Float(ratio(
                        history.total_credit_utilized + 0.0,
                        history.total_credit_limit + 0.0,
                    )),
                    FeatureId::TradelinesTotal => Float(count(total)),
                    FeatureId::TradelinesOpenShare => Float(ratio(count(open), count(total))),
                    FeatureId::CreditCardCount => Float(count(cards)),
                    FeatureId::CreditCardBalanceShare => {
                        Float(ratio(count(cards_balance), count(cards_open)))
                    }
                    FeatureId::MortgageCount => Float(count(mortgages)),
                    FeatureId::TitleLength => Float(opt(title.map(|t| count(t.chars().count())))),
                    FeatureId::TitleWordCount => {
                        Float(opt(title.map(|_| count(text::word_count(&normalized)))))
                    }
                    FeatureId::TitleSenior => Float(flags[0]),
                    FeatureId::TitleMedical => Float(flags[1]),
                    FeatureId::TitleDriver => Float(flags[2]),
                    FeatureId::TitleTeacher => Float(flags[3]),
                    FeatureId::EmpTitleNorm => Categorical(if normalized.is_empty() {
                        NONE_CATEGORY.to_owned()
                    } else {
                        normalized.clone()
                    }),
                    FeatureId::State => Categorical(applicant.state.clone()),
                    FeatureId::HomeOwnership => Categorical(applicant.home_ownership.clone()),
                    FeatureId::IncomeVerification => Categorical(income.verification.clone()),
                    FeatureId::JointIncomeVerification => Categorical(
                        joint
                            .and_then(|j| j.verification.clone())
                            .unwrap_or_else(|| NONE_CATEGORY.to_owned()),
                    ),
                    FeatureId::LoanPurpose => Categorical(record.loan.purpose.clone()),
                    FeatureId::Term => Categorical(record.loan.term_months.to_string()),
                }
            })
            .collect();
        Ok(Features(values))
    }
}

/// `a / b`; NaN when `b` is zero or the quotient overflows (inputs are finite or NaN).
fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        return f64::NAN;
    }
    let q = a / b;
    if q.is_infinite() { f64::NAN } else { q }
}

fn opt(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// A count as a float; exact below 2^53, which every count here is.
#[allow(clippy::cast_precision_loss)]
fn count(n: impl TryInto<u64>) -> f64 {
    n.try_into().map_or(f64::NAN, |n: u64| n as f64)
}

/// Longest `id`, in characters (Unicode code points).
pub const MAX_ID_CHARS: usize = 128;

/// Longest `applicant.employment.title`, in characters (Unicode code points).
pub const MAX_TITLE_CHARS: usize = 2048;

/// Longest other string of a record (`applicant.home_ownership`, `applicant.state`,
/// `applicant.income.verification`, `joint.verification`, `loan.purpose`), in characters
/// (Unicode code points).
pub const MAX_TEXT_CHARS: usize = 128;

/// Most entries in `tradelines`.
pub const MAX_TRADELINES: usize = 10_000;

/// The value rules, checked in the declaration order of the record's fields (the same order as
/// `_semantic` in `models/features.py`); the first failure is reported:
///
/// - `id`: at most [`MAX_ID_CHARS`] characters;
/// - `applicant.employment.title`: at most [`MAX_TITLE_CHARS`] characters;
/// - `applicant.home_ownership`, `applicant.state`: at most [`MAX_TEXT_CHARS`] characters;
/// - `applicant.income.annual` must not be negative; `applicant.income.verification`: at most
///   [`MAX_TEXT_CHARS`] characters; `applicant.income.debt_to_income` must not be negative;
/// - `joint.annual_income` must not be negative; `joint.verification`: at most
///   [`MAX_TEXT_CHARS`] characters; `joint.debt_to_income` must not be negative;
/// - `loan.amount` must not be negative; `loan.term_months` must be positive; `loan.purpose`:
///   at most [`MAX_TEXT_CHARS`] characters;
/// - `credit_history.never_delinquent_percent` must be between 0 and 100;
/// - `credit_history.total_credit_limit`, `total_credit_utilized`,
///   `total_collection_amount_ever` must not be negative;
/// - `tradelines`: at most [`MAX_TRADELINES`] entries.
///
/// Lengths count Unicode code points (`chars().count()`, Python's `len`), not bytes; a string
/// over its limit is refused with `longer than N characters`, a list with `more than N entries`.
/// Floats must also be finite (JSON cannot express anything else; this guards records built
/// in code).
pub fn check_values(record: &LoanApplication) -> Result<(), InvalidRecord> {
    if let Some(id) = &record.id {
        at_most_chars(id, MAX_ID_CHARS, "id")?;
    }
    let applicant = &record.applicant;
    if let Some(title) = applicant
        .employment
        .as_ref()
        .and_then(|e| e.title.as_deref())
    {
        at_most_chars(title, MAX_TITLE_CHARS, "applicant.employment.title")?;
    }
    at_most_chars(
        &applicant.home_ownership,
        MAX_TEXT_CHARS,
        "applicant.home_ownership",
    )?;
    at_most_chars(&applicant.state, MAX_TEXT_CHARS, "applicant.state")?;
    let income = &applicant.income;
    non_negative(income.annual, "applicant.income.annual")?;
    at_most_chars(
        &income.verification,
        MAX_TEXT_CHARS,
        "applicant.income.verification",
    )?;
    if let Some(dti) = income.debt_to_income {
        non_negative(dti, "applicant.income.debt_to_income")?;
    }
    if let Some(joint) = &record.joint {
        non_negative(joint.annual_income, "joint.annual_income")?;
        if let Some(verification) = &joint.verification {
            at_most_chars(verification, MAX_TEXT_CHARS, "joint.verification")?;
        }
        non_negative(joint.debt_to_income, "joint.debt_to_income")?;
    }
    non_negative(record.loan.amount, "loan.amount")?;
    if record.loan.term_months == 0 {
        return Err(InvalidRecord::new("loan.term_months", "must be positive"));
    }
    at_most_chars(&record.loan.purpose, MAX_TEXT_CHARS, "loan.purpose")?;
    let history = &record.credit_history;
    let pct = history.never_delinquent_percent;
    finite(pct, "credit_history.never_delinquent_percent")?;
    if !(0.0..=100.0).contains(&pct) {
        return Err(InvalidRecord::new(
            "credit_history.never_delinquent_percent",
            "must be between 0 and 100",
        ));
    }
    non_negative(
        history.total_credit_limit,
        "credit_history.total_credit_limit",
    )?;
    non_negative(
        history.total_credit_utilized,
        "credit_history.total_credit_utilized",
    )?;
    non_negative(
        history.total_collection_amount_ever,
        "credit_history.total_collection_amount_ever",
    )?;
    if record.tradelines.len() > MAX_TRADELINES {
        return Err(InvalidRecord::new(
            "tradelines",
            format!("more than {MAX_TRADELINES} entries"),
        ));
    }
    Ok(())
}

/// Refuses `s` if it has more than `max` characters (code points). A string has at most as
/// many characters as bytes, so only strings of more than `max` bytes are counted.
fn at_most_chars(s: &str, max: usize, path: &str) -> Result<(), InvalidRecord> {
    if s.len() > max && s.chars().count() > max {
        return Err(InvalidRecord::new(
            path,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

fn finite(v: f64, path: &str) -> Result<(), InvalidRecord> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(InvalidRecord::new(path, "must be a finite number"))
    }
}

fn non_negative(v: f64, path: &str) -> Result<(), InvalidRecord> {
    finite(v, path)?;
    if v >= 0.0 {
        Ok(())
    } else {
        Err(InvalidRecord::new(path, "must not be negative"))
    }
}

#[cfg(test)]
pub(super) mod tests_support {
    use super::{FEATURES, FeatureKind, pattern_of};

    /// `(name, kind, pattern)` of every feature, for building feature sets in tests.
    pub(in crate::features) fn features() -> Vec<(&'static str, FeatureKind, Option<String>)> {
        FEATURES
            .iter()
            .map(|(_, name, kind)| (*name, *kind, pattern_of(name)))
            .collect()
    }
}
