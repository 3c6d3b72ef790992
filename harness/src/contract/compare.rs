//! Comparing a function's prediction with the training-time one, by the spec's field rules.
//!
//! The golden's expected prediction says what the answer must contain: every value in it is
//! looked up in the function's prediction (at the same place, or where a rule's `actual` points)
//! and compared: numbers within the nearest enclosing rule's tolerance (exactly without one),
//! everything else exactly, arrays element by element. Keys the function adds (an id, a model
//! version) are not the goldens' business and are ignored.

use serde_json::Value;
use std::collections::BTreeMap;

/// Numeric tolerance of one compared field; a number passes when any given bound holds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Tolerance {
    /// `|actual - expected| <= abs`.
    pub(crate) abs: Option<f64>,
    /// `|actual - expected| <= rel * max(|actual|, |expected|)`.
    pub(crate) rel: Option<f64>,
    /// At most this many representable doubles apart.
    pub(crate) ulps: Option<u64>,
}

impl Tolerance {
    /// Whether any bound is set (otherwise numbers must be equal).
    pub(crate) fn is_exact(&self) -> bool {
        self.abs.is_none() && self.rel.is_none() && self.ulps.is_none()
    }
}

/// How one part of the expected prediction is compared.
#[derive(Clone, Debug)]
pub(crate) struct FieldRule {
    /// JSON pointer into the golden's expected prediction.
    pub(crate) expected: String,
    /// JSON pointer into the function's prediction; `None`: the same place as `expected`.
    pub(crate) actual: Option<String>,
    /// Numeric tolerance for the numbers at and below it.
    pub(crate) tolerance: Tolerance,
    /// Not compared at all.
    pub(crate) ignore: bool,
}

/// One difference between the expected and the actual prediction.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Mismatch {
    /// Where, as a JSON pointer into the expected prediction (and into the answer, when a rule
    /// maps it elsewhere).
    pub(crate) place: String,
    /// What was expected there.
    pub(crate) expected: Value,
    /// What the function answered (`None`: nothing there).
    pub(crate) actual: Option<Value>,
    /// `|actual - expected|` for two numbers.
    pub(crate) difference: Option<f64>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = if self.place.is_empty() {
            "the prediction"
        } else {
            &self.place
        };
        match &self.actual {
            None => write!(f, "{place}: expected {}, actual: missing", self.expected),
            Some(actual) => {
                write!(f, "{place}: expected {}, actual {actual}", self.expected)?;
                if let Some(d) = self.difference {
                    write!(f, ", difference {}", crate::units::difference(d))?;
                }
                Ok(())
            }
        }
    }
}

/// Every difference between `expected` and `actual` under `rules`.
pub(crate) fn compare(expected: &Value, actual: &Value, rules: &[FieldRule]) -> Vec<Mismatch> {
    compare_measured(expected, actual, rules, &mut Diffs::default())
}

/// [`compare`], recording into `diffs` how far apart every pair of numbers compared was.
pub(crate) fn compare_measured(
    expected: &Value,
    actual: &Value,
    rules: &[FieldRule],
    diffs: &mut Diffs,
) -> Vec<Mismatch> {
    let mut walk = Walk {
        rules,
        actual_root: actual,
        out: Vec::new(),
        diffs,
    };
    walk.node(
        expected,
        String::new(),
        Some(actual),
        String::new(),
        Scope::default(),
    );
    walk.out
}

/// The largest differences between compared numbers, per field: what a team needs to choose
/// a tolerance (and to see how much room the one it chose leaves). A field is the pointer of
/// the rule that governs a number, else the number's place with array indices left out
/// (`/probability` for every class of a multiclass answer).
#[derive(Clone, Debug, Default)]
pub(crate) struct Diffs {
    fields: BTreeMap<String, FieldDiff>,
}

/// The largest differences in one field.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct FieldDiff {
    /// Largest `|actual - expected|`.
    pub(crate) abs: f64,
    /// Largest `|actual - expected| / max(|actual|, |expected|)`.
    pub(crate) rel: f64,
    /// Most representable doubles apart.
    pub(crate) ulps: u64,
    /// How many numbers were compared.
    pub(crate) numbers: usize,
    /// The tolerance they were compared with.
    pub(crate) tolerance: Tolerance,
}

impl Diffs {
    fn record(&mut self, field: &str, expected: f64, actual: f64, tolerance: Tolerance) {
        let entry = self.fields.entry(field.to_owned()).or_default();
        entry.numbers += 1;
        entry.tolerance = tolerance;
        if expected == actual {
            return;
        }
        let abs = (actual - expected).abs();
        let rel = abs / actual.abs().max(expected.abs());
        entry.abs = entry.abs.max(abs);
        entry.rel = entry.rel.max(rel);
        entry.ulps = entry.ulps.max(ulps_apart(expected, actual));
    }

    /// Each field with its largest difference.
    pub(crate) fn fields(&self) -> impl Iterator<Item = (&str, &FieldDiff)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One line per field: "largest |diff| on /scores: 3.0e-8, tolerance abs 1e-6".
    pub(crate) fn lines(&self) -> Vec<String> {
        self.fields().map(|(field, d)| d.line(field)).collect()
    }

    /// `{"/scores": {"abs": 3e-8, "rel": ..., "ulps": ..., "numbers": N, "tolerance": {...}}}`.
    pub(crate) fn to_json(&self) -> Value {
        self.fields()
            .map(|(field, d)| {
                let mut tolerance = serde_json::Map::new();
                for (name, bound) in [("abs", d.tolerance.abs), ("rel", d.tolerance.rel)] {
                    if let Some(bound) = bound {
                        tolerance.insert(name.to_owned(), bound.into());
                    }
                }
                if let Some(ulps) = d.tolerance.ulps {
                    tolerance.insert("ulps".to_owned(), ulps.into());
                }
                let entry = serde_json::json!({
                    "abs": d.abs,
                    "rel": d.rel,
                    "ulps": d.ulps,
                    "numbers": d.numbers,
                    "tolerance": if d.tolerance.is_exact() { Value::from("exact") } else { Value::Object(tolerance) },
                });
                (field.to_owned(), entry)
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

impl FieldDiff {
    fn line(&self, field: &str) -> String {
        let field = if field.is_empty() {
            "the prediction"
        } else {
            field
        };
        let t = self.tolerance;
        let mut line = format!("largest |diff| on {field}: {}", short(self.abs));
        if t.rel.is_some() {
            line.push_str(&format!(" (relative {})", short(self.rel)));
        }
        if t.ulps.is_some() {
            line.push_str(&format!(" ({} ulps)", self.ulps));
        }
        line.push_str(&format!(", {t}"));
        line
    }
}

impl std::fmt::Display for Tolerance {
    /// "compared exactly", or "tolerance abs 1.0e-6 or rel 1.0e-12".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_exact() {
            return f.write_str("compared exactly");
        }
        let mut bounds = Vec::new();
        if let Some(abs) = self.abs {
            bounds.push(format!("abs {}", short(abs)));
        }
        if let Some(rel) = self.rel {
            bounds.push(format!("rel {}", short(rel)));
        }
        if let Some(ulps) = self.ulps {
            bounds.push(format!("ulps {ulps}"));
        }
        write!(f, "tolerance {}", bounds.join(" or "))
    }
}

/// A difference or bound in two significant digits: `3.0e-8`, `0`, `2.0`, `1.5e5`.
pub(crate) fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return x.to_string();
    }
    let magnitude = x.abs().log10().floor();
    if (-2.0..4.0).contains(&magnitude) {
        // Decimals for two significant digits; `magnitude` is -2..=3 here.
        let decimals = usize::try_from((1 - magnitude as i64).max(0)).unwrap_or(0);
        format!("{x:.decimals$}")
    } else {
        format!("{x:.1e}")
    }
}

/// The rule in force while walking: the tolerance and the field it is reported under.
#[derive(Clone, Default)]
struct Scope {
    tolerance: Tolerance,
    field: String,
}

struct Walk<'a, 'd> {
    rules: &'a [FieldRule],
    actual_root: &'a Value,
    out: Vec<Mismatch>,
    diffs: &'d mut Diffs,
}

impl<'a> Walk<'a, '_> {
    fn node(
        &mut self,
        expected: &Value,
        place: String,
        mut actual: Option<&'a Value>,
        mut actual_place: String,
        mut scope: Scope,
    ) {
        if let Some(rule) = self.rules.iter().find(|r| r.expected == place) {
            if rule.ignore {
                return;
            }
            if let Some(pointer) = &rule.actual {
                actual = self.actual_root.pointer(pointer);
                actual_place.clone_from(pointer);
            }
            if !rule.tolerance.is_exact() {
                scope.tolerance = rule.tolerance;
            }
            scope.field.clone_from(&place);
        }
        let shown = if actual_place == place {
            place.clone()
        } else {
            format!("{place} (answer at {actual_place:?})")
        };
        match (expected, actual) {
            // Walked even when the answer is not an object here: a rule below may map a key
            // elsewhere in the answer (a bare list of probabilities, say).
            (Value::Object(fields), _) => {
                let answer = actual.and_then(Value::as_object);
                for (key, value) in fields {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    self.node(
                        value,
                        format!("{place}/{escaped}"),
                        answer.and_then(|a| a.get(key)),
                        format!("{actual_place}/{escaped}"),
                        Scope {
                            tolerance: scope.tolerance,
                            field: format!("{}/{escaped}", scope.field),
                        },
                    );
                }
            }
            (Value::Array(items), Some(Value::Array(answer))) if items.len() == answer.len() => {
                for (i, (value, answered)) in items.iter().zip(answer).enumerate() {
                    self.node(
                        value,
                        format!("{place}/{i}"),
                        Some(answered),
                        format!("{actual_place}/{i}"),
                        scope.clone(),
                    );
                }
            }
            (Value::Number(e), Some(Value::Number(a))) => {
                let (e, a) = (
                    e.as_f64().unwrap_or(f64::NAN),
                    a.as_f64().unwrap_or(f64::NAN),
                );
                self.diffs.record(&scope.field, e, a, scope.tolerance);
                if !numbers_match(e, a, scope.tolerance) {
                    self.out.push(Mismatch {
                        place: shown,
                        expected: expected.clone(),
                        actual: actual.cloned(),
                        difference: Some((a - e).abs()),
                    });
                }
            }
            (e, Some(a)) if e == a => {}
            (_, actual) => self.out.push(Mismatch {
                place: shown,
                expected: expected.clone(),
                actual: actual.cloned(),
                difference: None,
            }),
        }
    }
}

/// Whether `actual` is `expected` within any bound of `tolerance` (equal when it has none).
pub(crate) fn numbers_match(expected: f64, actual: f64, tolerance: Tolerance) -> bool {
    if expected == actual {
        return true;
    }
    let difference = (actual - expected).abs();
    tolerance.abs.is_some_and(|abs| difference <= abs)
        || tolerance
            .rel
            .is_some_and(|rel| difference <= rel * actual.abs().max(expected.abs()))
        || tolerance
            .ulps
            .is_some_and(|ulps| ulps_apart(expected, actual) <= ulps)
}

/// Whether the rules compare the prediction's value at `place` exactly (no tolerance, not
/// ignored): the nearest enclosing rule decides.
pub(crate) fn compared_exactly(place: &str, rules: &[FieldRule]) -> bool {
    rule_at(place, rules).is_none_or(|r| !r.ignore && r.tolerance.is_exact())
}

/// How the rules compare the prediction's value at `place`: "ignored", "compared exactly" or
/// "tolerance abs 1.0e-6".
pub(crate) fn comparison_at(place: &str, rules: &[FieldRule]) -> String {
    match rule_at(place, rules) {
        Some(rule) if rule.ignore => "ignored".to_owned(),
        Some(rule) => rule.tolerance.to_string(),
        None => Tolerance::default().to_string(),
    }
}

/// The rule for the prediction's value at `place`: the nearest enclosing one.
fn rule_at<'r>(place: &str, rules: &'r [FieldRule]) -> Option<&'r FieldRule> {
    rules
        .iter()
        .filter(|r| {
            place == r.expected
                || place.starts_with(&format!("{}/", r.expected))
                || r.expected.is_empty()
        })
        .max_by_key(|r| r.expected.len())
}

/// How many representable doubles lie between `a` and `b` (`u64::MAX` for NaN).
fn ulps_apart(a: f64, b: f64) -> u64 {
    if a.is_nan() || b.is_nan() {
        return u64::MAX;
    }
    // Map the sign-magnitude bit patterns onto one ordered integer line.
    let ordered = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 { i64::MIN - bits } else { bits }
    };
    ordered(a).abs_diff(ordered(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(expected: &str, actual: Option<&str>, tolerance: Tolerance, ignore: bool) -> FieldRule {
        FieldRule {
            expected: expected.to_owned(),
            actual: actual.map(str::to_owned),
            tolerance,
            ignore,
        }
    }

    fn abs(value: f64) -> Tolerance {
        Tolerance {
            abs: Some(value),
            ..Tolerance::default()
        }
    }

    #[test]
    fn objects_compare_the_expected_keys_with_their_rules() {
        let expected = json!({"raw": -0.7, "probability": 0.33, "class": 0});
        let rules = [
            rule("/raw", None, Tolerance::default(), true),
            rule("/probability", None, abs(1e-9), false),
        ];
        let good = json!({"id": "a", "probability": 0.330_000_000_1, "class": 0});
        assert_eq!(compare(&expected, &good, &rules), vec![]);
        let bad = json!({"probability": 0.34, "class": 0.0});
        let found = compare(&expected, &bad, &rules);
        assert_eq!(found.len(), 1, "class 0 == 0.0, 0.34 is out: {found:?}");
        let text = found[0].to_string();
        // The difference as `golden review` writes it (was `1.0000000000000009e-2`).
        assert_eq!(
            text,
            "/probability: expected 0.33, actual 0.34, difference 0.01"
        );
        let missing = compare(&expected, &json!({"class": 0}), &rules);
        assert_eq!(
            missing[0].to_string(),
            "/probability: expected 0.33, actual: missing"
        );
    }

    #[test]
    fn a_rule_can_point_elsewhere_in_the_answer_and_applies_to_arrays() {
        let expected = json!({"probability": [0.1, 0.9], "class": "dog"});
        let rules = [
            rule("/probability", Some(""), abs(1e-12), false),
            rule("/class", None, Tolerance::default(), true),
        ];
        assert!(compare(&expected, &json!([0.1, 0.9]), &rules).is_empty());
        let found = compare(&expected, &json!([0.1, 0.8]), &rules);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .to_string()
                .starts_with("/probability/1 (answer at \"/1\")"),
            "{}",
            found[0]
        );
        let found = compare(&expected, &json!([0.1]), &rules);
        assert!(
            found[0]
                .to_string()
                .contains("expected [0.1,0.9], actual [0.1]"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn the_largest_difference_is_kept_per_field_with_its_tolerance() {
        let rules = [
            rule("/probability", Some("/p"), abs(1e-6), false),
            rule("/raw", None, Tolerance::default(), true),
        ];
        let mut diffs = Diffs::default();
        let expected = json!({"probability": [0.25, 0.75], "raw": [1.0], "class": 2});
        for answer in [
            json!({"p": [0.25 + 3e-8, 0.75], "class": 2}),
            json!({"p": [0.25, 0.75 - 1e-8], "class": 2.0}),
        ] {
            assert!(compare_measured(&expected, &answer, &rules, &mut diffs).is_empty());
        }
        let fields: Vec<_> = diffs.fields().collect();
        assert_eq!(
            fields.len(),
            2,
            "{fields:?}: ignored fields are not measured"
        );
        let (field, probability) = fields[1];
        assert_eq!(field, "/probability");
        assert_eq!(probability.numbers, 4);
        assert!((probability.abs - 3e-8).abs() < 1e-15, "{probability:?}");
        assert_eq!(
            diffs.lines(),
            [
                "largest |diff| on /class: 0, compared exactly",
                "largest |diff| on /probability: 3.0e-8, tolerance abs 1.0e-6",
            ]
        );
        let json = diffs.to_json();
        assert_eq!(json["/probability"]["tolerance"]["abs"], 1e-6);
        assert_eq!(json["/class"]["tolerance"], "exact");
        assert!(json["/probability"]["abs"].as_f64().unwrap() <= 1e-6);
    }

    #[test]
    fn a_failing_number_is_measured_too_and_rel_shows_the_relative_difference() {
        let rel = Tolerance {
            rel: Some(1e-3),
            ..Tolerance::default()
        };
        let rules = [rule("", None, rel, false)];
        let mut diffs = Diffs::default();
        let found = compare_measured(&json!([1000.0]), &json!([1002.0]), &rules, &mut diffs);
        assert_eq!(found.len(), 1);
        assert_eq!(
            diffs.lines(),
            ["largest |diff| on the prediction: 2.0 (relative 2.0e-3), tolerance rel 1.0e-3"]
        );
    }

    #[test]
    fn tolerances_abs_rel_and_ulps() {
        let next = f64::from_bits(1.0f64.to_bits() + 2);
        assert!(!numbers_match(1.0, next, Tolerance::default()));
        let ulps = |n| Tolerance {
            ulps: Some(n),
            ..Tolerance::default()
        };
        assert!(numbers_match(1.0, next, ulps(2)));
        assert!(!numbers_match(1.0, next, ulps(1)));
        assert!(numbers_match(-0.0, 0.0, ulps(0)));
        assert_eq!(
            ulps_apart(-f64::MIN_POSITIVE, f64::MIN_POSITIVE),
            2 * (1 << 52)
        );
        let rel = Tolerance {
            rel: Some(1e-3),
            ..Tolerance::default()
        };
        assert!(numbers_match(1000.0, 1000.9, rel));
        assert!(!numbers_match(1000.0, 1002.0, rel));
        assert!(numbers_match(1.0, 1.0 + 1e-10, abs(1e-9)));
    }
}
