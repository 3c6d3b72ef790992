//! The search: per failing case, the features (alone, then in pairs) whose change makes the
//! model predict what the function served; across cases, the ranking and the headline.

use super::model::{Cell, DriftModel, Feature, short_float};
use super::{MAX_CATEGORIES, Outputs, PAIR_CANDIDATES, PAIR_EVALUATIONS, PAIR_TIME};
use crate::contract::{FieldRule, compare};
use catboost_eval::{FeatureKind, FeatureValue, Prediction};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// A category no golden case has: what a serving code that invents a value would send.
const UNSEEN: &str = "\u{1}lambda-gate: a category the model never saw";

/// One failing golden case, as the search needs it.
pub(crate) struct Failing<'a> {
    /// Its id.
    pub(crate) case_id: &'a str,
    /// Its training-time features, if the goldens carry them.
    pub(crate) features: Option<&'a Value>,
    /// The training-time prediction.
    pub(crate) expected: &'a Value,
    /// What the function served.
    pub(crate) served: &'a Value,
}

/// One feature's change that explains a case.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub(crate) struct Shift {
    /// The feature.
    pub(crate) feature: String,
    /// Its training-time value.
    pub(crate) trained: String,
    /// The values it must have had when served: intervals or categories.
    pub(crate) served: String,
}

impl std::fmt::Display for Shift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}`: trained {}, served {}",
            self.feature, self.trained, self.served
        )
    }
}

/// What the search found for one case.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Finding {
    /// Each of these features alone explains it.
    Alone {
        /// One change per feature.
        shifts: Vec<Shift>,
    },
    /// These pairs of features together explain it (no feature alone does).
    Pair {
        /// Up to three pairs.
        pairs: Vec<[Shift; 2]>,
    },
    /// Every difference is at the size of float32 rounding: no feature is to blame.
    Rounding,
    /// The model at the training-time features does not give the golden prediction.
    ModelDisagrees {
        /// The first difference.
        difference: String,
    },
    /// The goldens carry no usable training-time features for the case.
    NoFeatures {
        /// Why not.
        why: String,
    },
    /// The function's feature echo differs from the training-time features in these.
    Echoed {
        /// One per feature that differs.
        shifts: Vec<Shift>,
    },
    /// Nothing within the budget explains it.
    Unexplained {
        /// Whether the pair search ran out of time before this case.
        pairs_cut: bool,
    },
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Alone { shifts } => {
                let text: Vec<String> = shifts.iter().map(Shift::to_string).collect();
                write!(f, "explained by one feature alone: {}", text.join("; or "))
            }
            Finding::Pair { pairs } => {
                let text: Vec<String> = pairs
                    .iter()
                    .map(|[a, b]| format!("{a} with {b}"))
                    .collect();
                write!(
                    f,
                    "explained by two features together: {}",
                    text.join("; or ")
                )
            }
            Finding::Echoed { shifts } if shifts.is_empty() => f.write_str(
                "the function's feature echo equals the training-time features: the features are right, what follows them is not",
            ),
            Finding::Echoed { shifts } => {
                let text: Vec<String> = shifts.iter().map(Shift::to_string).collect();
                write!(f, "the function's features differ: {}", text.join("; "))
            }
            Finding::Rounding => f.write_str(
                "the difference is at the size of float32 rounding, not a feature's",
            ),
            Finding::ModelDisagrees { difference } => write!(
                f,
                "the drift model does not reproduce this golden prediction from its features ({difference})"
            ),
            Finding::NoFeatures { why } => write!(f, "not explained: {why}"),
            Finding::Unexplained { pairs_cut: true } => f.write_str(
                "no single feature explains it; the pair search ran out of its time budget first",
            ),
            Finding::Unexplained { pairs_cut: false } => {
                f.write_str("no single feature, nor a pair of the closest ones, explains it")
            }
        }
    }
}

/// What the search found over all failing cases.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Explanation {
    /// What explains the most cases, for the check's summary: "`x` alone explains 338 of
    /// them".
    pub(crate) headline: Option<String>,
    /// Every explanation with the number of cases it covers, most first (a case explained by
    /// two features alone counts for both).
    pub(crate) ranked: Vec<Ranked>,
    /// A pattern of the cases nothing explains, when there is one (a constant offset).
    pub(crate) pattern: Option<String>,
    /// Per case, in the order given.
    pub(crate) cases: Vec<CaseFinding>,
    /// Model evaluations made.
    pub(crate) evaluations: usize,
    /// Wall time of the search.
    #[serde(serialize_with = "seconds")]
    pub(crate) duration: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// One ranked explanation.
#[derive(Debug, serde::Serialize)]
pub(crate) struct Ranked {
    /// `feature` (alone explains), `pair` (two features together), `echo` (the function's
    /// feature echo differs), `echo_equal`, `rounding`, `model`, `unexplained` or
    /// `no_features`.
    pub(crate) kind: &'static str,
    /// The features, for `feature` and `pair`.
    pub(crate) features: Vec<String>,
    /// Cases it explains.
    pub(crate) cases: usize,
}

impl std::fmt::Display for Ranked {
    /// "`x` alone 338", "float32 rounding 12": an entry of the ranking's line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.features.iter().map(|n| format!("`{n}`")).collect();
        let what = match self.kind {
            "feature" => format!("{} alone", names.join("")),
            "pair" => format!("{} together", names.join(" with ")),
            "echo" => format!("{} echoed otherwise", names.join("")),
            "echo_equal" => "features echoed right".to_owned(),
            "rounding" => "float32 rounding".to_owned(),
            "model" => "not the drift model's predictions".to_owned(),
            "no_features" => "no training-time features".to_owned(),
            _ => "nothing found".to_owned(),
        };
        write!(f, "{what} {}", self.cases)
    }
}

/// One case's finding.
#[derive(Debug, serde::Serialize)]
pub(crate) struct CaseFinding {
    /// The case.
    pub(crate) case_id: String,
    /// What explains it.
    pub(crate) finding: Finding,
}

/// The search over `failing`, with the categories of `all_features` (every golden case's
/// training-time features) as the categorical values to try. `Err`: the outputs cannot be
/// placed in the golden predictions (a pointer that finds nothing), said once.
pub(crate) fn explain<'a>(
    model: &DriftModel,
    outputs: &Outputs,
    rules: &[FieldRule],
    all_features: impl Iterator<Item = &'a Value>,
    failing: &[Failing<'_>],
) -> Result<Explanation, String> {
    let started = Instant::now();
    if let Some(first) = failing.first() {
        outputs.check(first.expected)?;
    }
    let search = Search {
        model,
        outputs,
        rules,
        same_place: rules
            .iter()
            .map(|r| FieldRule {
                actual: None,
                ..r.clone()
            })
            .collect(),
        categories: categories(model, all_features),
    };
    let deadline = started + PAIR_TIME;
    // The cases are independent: one part of them per core.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let part = failing.len().div_ceil(cores).max(1);
    let parts: Vec<(Vec<Finding>, usize)> = std::thread::scope(|scope| {
        let search = &search;
        let running: Vec<_> = failing
            .chunks(part)
            .map(|cases| {
                scope.spawn(move || {
                    let mut evaluations = 0;
                    let findings = cases
                        .iter()
                        .map(|case| search.case(case, deadline, &mut evaluations))
                        .collect();
                    (findings, evaluations)
                })
            })
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    let evaluations = parts.iter().map(|(_, n)| n).sum();
    let findings = parts.into_iter().flat_map(|(f, _)| f).collect();
    let mut explanation = summarize(findings, failing, rules);
    explanation.evaluations = evaluations;
    explanation.duration = started.elapsed();
    Ok(explanation)
}

/// The explanation of `failing` from one finding per case (in the same order): ranked, with
/// its headline and the pattern of what nothing explains.
pub(crate) fn summarize(
    findings: Vec<Finding>,
    failing: &[Failing<'_>],
    rules: &[FieldRule],
) -> Explanation {
    let cases: Vec<CaseFinding> = failing
        .iter()
        .zip(findings)
        .map(|(case, finding)| CaseFinding {
            case_id: case.case_id.to_owned(),
            finding,
        })
        .collect();
    let ranked = rank(&cases);
    Explanation {
        headline: ranked.first().and_then(|r| headline(r, failing.len())),
        pattern: pattern(&cases, failing, rules),
        ranked,
        cases,
        evaluations: 0,
        duration: Duration::ZERO,
    }
}

impl Outputs {
    fn pointers(&self) -> [(&'static str, Option<&String>); 4] {
        [
            ("raw", self.raw.as_ref()),
            ("probability", self.probability.as_ref()),
            ("class", self.class.as_ref()),
            ("value", self.value.as_ref()),
        ]
    }

    /// Every pointer finds a value in `expected`.
    fn check(&self, expected: &Value) -> Result<(), String> {
        for (key, pointer) in self.pointers() {
            if let Some(pointer) = pointer
                && expected.pointer(pointer).is_none()
            {
                let mut text = expected.to_string();
                if text.len() > 80 {
                    let end = (0..=77)
                        .rev()
                        .find(|i| text.is_char_boundary(*i))
                        .unwrap_or(0);
                    text.truncate(end);
                    text.push_str("...");
                }
                return Err(format!(
                    "drift.output.{key} is {pointer:?}, which is not in the golden prediction {text}"
                ));
            }
        }
        Ok(())
    }

    /// `expected` with the model's prediction `p` in place of its outputs.
    fn answer(&self, expected: &Value, p: &Prediction) -> Value {
        let mut answer = expected.clone();
        for (key, pointer) in self.pointers() {
            let Some(slot) = pointer.and_then(|ptr| answer.pointer_mut(ptr)) else {
                continue;
            };
            let numbers: &[f64] = match (key, p) {
                ("raw", _) => p.raw(),
                ("probability", Prediction::Classification { probabilities, .. }) => probabilities,
                ("value", Prediction::Regression { values, .. }) => values,
                ("class", Prediction::Classification { class, .. }) => {
                    *slot = serde_json::to_value(class).unwrap_or_default();
                    continue;
                }
                _ => continue,
            };
            *slot = numbers_like(slot, numbers);
        }
        answer
    }
}

/// `numbers` shaped like `slot`: an array for an array; else the one number, or the positive
/// class's of a binary classifier's two probabilities.
fn numbers_like(slot: &Value, numbers: &[f64]) -> Value {
    let number = |x: f64| serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number);
    match (slot, numbers) {
        (Value::Array(_), _) => Value::Array(numbers.iter().map(|x| number(*x)).collect()),
        (_, [one]) | (_, [_, one]) => number(*one),
        _ => Value::Array(numbers.iter().map(|x| number(*x)).collect()),
    }
}

/// Each categorical feature's values across the goldens, most frequent first (at most
/// [`MAX_CATEGORIES`]), then [`UNSEEN`].
fn categories<'a>(
    model: &DriftModel,
    all_features: impl Iterator<Item = &'a Value>,
) -> Vec<Vec<String>> {
    let mut counts: Vec<HashMap<String, usize>> = vec![HashMap::new(); model.features.len()];
    for features in all_features {
        let Ok(row) = model.row(features) else {
            continue;
        };
        for (i, cell) in row.into_iter().enumerate() {
            if let Cell::Category(text) = cell {
                *counts[i].entry(text).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .map(|count| {
            let mut values: Vec<(String, usize)> = count.into_iter().collect();
            values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            values
                .into_iter()
                .take(MAX_CATEGORIES)
                .map(|(text, _)| text)
                .chain(std::iter::once(UNSEEN.to_owned()))
                .collect()
        })
        .collect()
}

struct Search<'a> {
    model: &'a DriftModel,
    outputs: &'a Outputs,
    rules: &'a [FieldRule],
    /// The rules comparing two values at the same place (a golden prediction with the model's).
    same_place: Vec<FieldRule>,
    categories: Vec<Vec<String>>,
}

/// A candidate value of one feature: a float interval, or a category.
#[derive(Clone, Debug)]
enum Candidate {
    Interval(usize),
    Category(usize),
}

/// One case's verdicts so far, by raw value, and the evaluations counted for the search.
struct Memo<'a> {
    verdicts: HashMap<Vec<u64>, Verdict>,
    evaluations: &'a mut usize,
}

/// How a candidate's prediction compares with the served one.
#[derive(Clone, Copy)]
struct Verdict {
    matches: bool,
    /// The sum of the numeric differences left (infinite when a non-number differs).
    distance: f64,
}

impl Search<'_> {
    fn case(&self, case: &Failing<'_>, deadline: Instant, evaluations: &mut usize) -> Finding {
        if self.rounding(case) {
            return Finding::Rounding;
        }
        let Some(features) = case.features else {
            return Finding::NoFeatures {
                why: "the goldens carry no training-time `features` for it".to_owned(),
            };
        };
        let row = match self.model.row(features) {
            Ok(row) => row,
            Err(why) => {
                return Finding::NoFeatures {
                    why: format!("its training-time features do not fit the model: {why}"),
                };
            }
        };
        let base: Vec<FeatureValue<'_>> = row.iter().map(Cell::value).collect();
        let trained = match self.model.predict(&base) {
            Ok(p) => p,
            Err(why) => return Finding::NoFeatures { why },
        };
        *evaluations += 1;
        let at_training = self.outputs.answer(case.expected, &trained[0]);
        if let Some(m) = compare(case.expected, &at_training, &self.same_place).first() {
            return Finding::ModelDisagrees {
                difference: m.to_string(),
            };
        }
        let mut memo = Memo {
            verdicts: HashMap::new(),
            evaluations,
        };
        // Every feature's candidates in one batch: the evaluator works in blocks of rows.
        let candidates: Vec<Vec<Candidate>> = (0..row.len())
            .map(|f| self.candidates(f, &row[f]))
            .collect();
        let mut rows =
            Vec::with_capacity(candidates.iter().map(Vec::len).sum::<usize>() * base.len());
        for (f, list) in candidates.iter().enumerate() {
            for c in list {
                let at = rows.len() + f;
                rows.extend_from_slice(&base);
                rows[at] = self.value(f, c);
            }
        }
        let verdicts = self.judge(&rows, case, &mut memo);
        let mut closest: Vec<(f64, usize)> = Vec::new();
        let mut shifts = Vec::new();
        let mut start = 0;
        for (f, (feature, list)) in self.model.features.iter().zip(&candidates).enumerate() {
            let verdicts = verdicts.get(start..start + list.len()).unwrap_or_default();
            start += list.len();
            let matching: Vec<&Candidate> = list
                .iter()
                .zip(verdicts)
                .filter(|(_, v)| v.matches)
                .map(|(c, _)| c)
                .collect();
            if !matching.is_empty() {
                shifts.push(self.shift(f, feature, &row[f], &matching));
            }
            let best = verdicts
                .iter()
                .map(|v| v.distance)
                .fold(f64::INFINITY, f64::min);
            if best.is_finite() {
                closest.push((best, f));
            }
        }
        if !shifts.is_empty() {
            return Finding::Alone { shifts };
        }
        closest.sort_by(|a, b| a.0.total_cmp(&b.0));
        let near: Vec<usize> = closest
            .iter()
            .take(PAIR_CANDIDATES)
            .map(|(_, f)| *f)
            .collect();
        self.pairs(case, &row, &base, &near, deadline, &mut memo)
    }

    /// Every difference between the golden and the served prediction is a number at most a
    /// few float32 steps away.
    fn rounding(&self, case: &Failing<'_>) -> bool {
        let mismatches = compare(case.expected, case.served, self.rules);
        !mismatches.is_empty()
            && mismatches.iter().all(|m| {
                let (Some(e), Some(a)) = (
                    m.expected.as_f64(),
                    m.actual.as_ref().and_then(Value::as_f64),
                ) else {
                    return false;
                };
                (a - e).abs() <= 4.0 * f64::from(f32::EPSILON) * a.abs().max(e.abs())
            })
    }

    /// The values of feature `f` to try: every border interval but the trained value's, or
    /// every known category but the trained one, and an unseen one.
    fn candidates(&self, f: usize, trained: &Cell) -> Vec<Candidate> {
        let feature = &self.model.features[f];
        match (feature.kind, trained) {
            (FeatureKind::Float, Cell::Float(x)) => {
                let own = feature.interval(*x);
                (0..=feature.borders.len())
                    .filter(|i| *i != own && !feature.borders.is_empty())
                    .map(Candidate::Interval)
                    .collect()
            }
            (_, Cell::Category(text)) => self.categories[f]
                .iter()
                .enumerate()
                .filter(|(_, c)| c.as_str() != text.as_str())
                .map(|(i, _)| Candidate::Category(i))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn value(&self, f: usize, candidate: &Candidate) -> FeatureValue<'_> {
        match candidate {
            Candidate::Interval(i) => FeatureValue::Float(self.model.features[f].inside(*i)),
            Candidate::Category(i) => FeatureValue::Categorical(&self.categories[f][*i]),
        }
    }

    /// Verdicts on the model's predictions for `rows` against the served prediction; equal
    /// raw values are judged once per case (`memo`).
    fn judge(
        &self,
        rows: &[FeatureValue<'_>],
        case: &Failing<'_>,
        memo: &mut Memo<'_>,
    ) -> Vec<Verdict> {
        let Ok(raw) = self.model.predict_raw(rows) else {
            return Vec::new();
        };
        let dim = self.model.dimension();
        *memo.evaluations += raw.len() / dim;
        let mut key = Vec::with_capacity(dim);
        raw.chunks_exact(dim)
            .map(|raw| {
                key.clear();
                key.extend(raw.iter().map(|x| x.to_bits()));
                if let Some(verdict) = memo.verdicts.get(key.as_slice()) {
                    return *verdict;
                }
                let verdict = match self.model.interpret(raw) {
                    Ok(p) => {
                        let answer = self.outputs.answer(case.expected, &p);
                        let left = compare(&answer, case.served, self.rules);
                        Verdict {
                            matches: left.is_empty(),
                            distance: left
                                .iter()
                                .map(|m| m.difference.unwrap_or(f64::INFINITY))
                                .sum(),
                        }
                    }
                    Err(_) => Verdict {
                        matches: false,
                        distance: f64::INFINITY,
                    },
                };
                memo.verdicts.insert(key.clone(), verdict);
                verdict
            })
            .collect()
    }

    /// The change of feature `f` from `trained` to the `matching` candidates, for the reader.
    fn shift(&self, f: usize, feature: &Feature, trained: &Cell, matching: &[&Candidate]) -> Shift {
        let served = match matching.first() {
            Some(Candidate::Interval(_)) => {
                let mut ranges: Vec<(usize, usize)> = Vec::new();
                for c in matching {
                    let Candidate::Interval(i) = c else { continue };
                    match ranges.last_mut() {
                        Some((_, hi)) if *hi + 1 == *i => *hi = *i,
                        _ => ranges.push((*i, *i)),
                    }
                }
                let mut text: Vec<String> = ranges
                    .iter()
                    .take(3)
                    .map(|(lo, hi)| feature.describe_intervals(*lo, *hi))
                    .collect();
                if ranges.len() > 3 {
                    text.push(format!("{} more ranges", ranges.len() - 3));
                }
                format!("a value {}", text.join(" or "))
            }
            _ => {
                let names: Vec<String> = matching
                    .iter()
                    .filter_map(|c| match c {
                        Candidate::Category(i) => Some(&self.categories[f][*i]),
                        Candidate::Interval(_) => None,
                    })
                    .map(|c| {
                        if c == UNSEEN {
                            "a category the model never saw".to_owned()
                        } else {
                            format!("{c:?}")
                        }
                    })
                    .collect();
                let mut text = names
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" or ");
                if names.len() > 3 {
                    text.push_str(&format!(" (or {} more)", names.len() - 3));
                }
                text
            }
        };
        Shift {
            feature: feature.name.clone(),
            trained: trained.to_string(),
            served,
        }
    }

    /// Pairs of the features in `near` (closest first), within the budgets.
    fn pairs(
        &self,
        case: &Failing<'_>,
        row: &[Cell],
        base: &[FeatureValue<'_>],
        near: &[usize],
        deadline: Instant,
        memo: &mut Memo<'_>,
    ) -> Finding {
        let mut found = Vec::new();
        let mut spent = 0;
        for (n, &f) in near.iter().enumerate() {
            for &g in &near[n + 1..] {
                if Instant::now() > deadline {
                    return Finding::Unexplained { pairs_cut: true };
                }
                let (cf, cg) = (self.candidates(f, &row[f]), self.candidates(g, &row[g]));
                if spent + cf.len() * cg.len() > PAIR_EVALUATIONS {
                    continue;
                }
                spent += cf.len() * cg.len();
                let combos: Vec<(&Candidate, &Candidate)> = cf
                    .iter()
                    .flat_map(|a| cg.iter().map(move |b| (a, b)))
                    .collect();
                let mut rows = Vec::with_capacity(combos.len() * base.len());
                for (a, b) in &combos {
                    let at = rows.len();
                    rows.extend_from_slice(base);
                    rows[at + f] = self.value(f, a);
                    rows[at + g] = self.value(g, b);
                }
                let verdicts = self.judge(&rows, case, memo);
                let hit = combos.iter().zip(&verdicts).find(|(_, v)| v.matches);
                if let Some(((a, b), _)) = hit {
                    let (ff, fg) = (&self.model.features[f], &self.model.features[g]);
                    found.push([
                        self.shift(f, ff, &row[f], &[*a]),
                        self.shift(g, fg, &row[g], &[*b]),
                    ]);
                    if found.len() == 3 {
                        break;
                    }
                }
            }
        }
        if found.is_empty() {
            Finding::Unexplained { pairs_cut: false }
        } else {
            Finding::Pair { pairs: found }
        }
    }
}

/// How many cases each explanation covers, most first.
fn rank(cases: &[CaseFinding]) -> Vec<Ranked> {
    let mut counts: BTreeMap<(&'static str, Vec<String>), usize> = BTreeMap::new();
    for case in cases {
        let keys: Vec<(&'static str, Vec<String>)> = match &case.finding {
            Finding::Alone { shifts } => shifts
                .iter()
                .map(|s| ("feature", vec![s.feature.clone()]))
                .collect(),
            Finding::Pair { pairs } => pairs
                .iter()
                .map(|[a, b]| ("pair", vec![a.feature.clone(), b.feature.clone()]))
                .collect(),
            Finding::Echoed { shifts } if shifts.is_empty() => vec![("echo_equal", Vec::new())],
            Finding::Echoed { shifts } => shifts
                .iter()
                .map(|s| ("echo", vec![s.feature.clone()]))
                .collect(),
            Finding::Rounding => vec![("rounding", Vec::new())],
            Finding::ModelDisagrees { .. } => vec![("model", Vec::new())],
            Finding::NoFeatures { .. } => vec![("no_features", Vec::new())],
            Finding::Unexplained { .. } => vec![("unexplained", Vec::new())],
        };
        for key in keys {
            *counts.entry(key).or_default() += 1;
        }
    }
    let mut ranked: Vec<Ranked> = counts
        .into_iter()
        .map(|((kind, features), cases)| Ranked {
            kind,
            features,
            cases,
        })
        .collect();
    // Most cases first; an explanation before "nothing explains it" at equal counts.
    ranked.sort_by_key(|r| {
        (
            std::cmp::Reverse(r.cases),
            matches!(r.kind, "unexplained" | "no_features"),
        )
    });
    ranked
}

/// The summary's sentence for the top explanation, of `failing` cases.
fn headline(top: &Ranked, failing: usize) -> Option<String> {
    let n = top.cases;
    let names = |f: &[String]| {
        f.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(" with ")
    };
    let of = if n == failing {
        if n == 1 {
            "it".to_owned()
        } else {
            "all of them".to_owned()
        }
    } else {
        format!("{n} of them")
    };
    Some(match top.kind {
        "feature" => format!("{} alone explains {of}", names(&top.features)),
        "pair" => format!("{} together explain {of}", names(&top.features)),
        "echo" => format!(
            "the function computes {} otherwise than training in {of}",
            names(&top.features)
        ),
        "echo_equal" => {
            format!("its features match training in {of}: what follows the features differs")
        }
        "rounding" => format!("{of} differ at the size of float32 rounding, not by a feature"),
        "model" => format!(
            "the drift model does not reproduce {of} from the training-time features: it is not the goldens' model"
        ),
        "no_features" => format!("the goldens carry no usable training-time features for {of}"),
        _ => return None,
    })
}

/// What the cases nothing explains look like: a constant offset, or, when nothing explains
/// any case, another model.
fn pattern(cases: &[CaseFinding], failing: &[Failing<'_>], rules: &[FieldRule]) -> Option<String> {
    let unexplained = cases
        .iter()
        .filter(|c| matches!(c.finding, Finding::Unexplained { .. }))
        .count();
    if unexplained == 0 {
        return None;
    }
    constant_offset(cases, failing, rules).or_else(|| {
        (unexplained == cases.len()).then(|| {
            "no feature, nor a pair, explains any failing case: the function's predictions look like another model's (provenance says which model the image holds), or several features drifted at once".to_owned()
        })
    })
}

/// When every case nothing explains differs at one place by the same amount: "every
/// unexplained case is off by the same 0.25 at /probability".
fn constant_offset(
    cases: &[CaseFinding],
    failing: &[Failing<'_>],
    rules: &[FieldRule],
) -> Option<String> {
    let mut offset: Option<(String, f64)> = None;
    let mut count = 0;
    for (found, case) in cases.iter().zip(failing) {
        if !matches!(found.finding, Finding::Unexplained { .. }) {
            continue;
        }
        let mismatches = compare(case.expected, case.served, rules);
        let [m] = mismatches.as_slice() else {
            return None;
        };
        let d = m.actual.as_ref().and_then(Value::as_f64)? - m.expected.as_f64()?;
        match &offset {
            None => offset = Some((m.place.clone(), d)),
            Some((place, first)) => {
                if *place != m.place || (d - first).abs() > 1e-9 * d.abs().max(first.abs()) {
                    return None;
                }
            }
        }
        count += 1;
    }
    let (place, d) = offset.filter(|_| count >= 2)?;
    Some(format!(
        "every one of the {count} cases nothing explains is off by the same {} at {place}: a constant added after the model, not a feature",
        short_float(d)
    ))
}

#[cfg(test)]
mod tests;
