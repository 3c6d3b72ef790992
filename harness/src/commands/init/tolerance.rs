//! Field rules from the expected answers of the sample events: the function's predictions are
//! compared with them as golden-replay will compare them, and what was seen becomes the
//! spec's `[[contract.field]]`s. A field of fractional numbers gets an `abs` tolerance above
//! the largest difference seen, with headroom for another machine's rounding; a difference
//! beyond rounding gets no tolerance (it would hide it) but a TODO; a key the expected answers
//! hold and the predictions do not is ignored, and says so.

use serde_json::Value;
use std::collections::BTreeMap;

/// A difference relative to the numbers larger than this is not rounding.
const ROUNDING: f64 = 1e-4;

/// The least tolerance proposed for fractional numbers (those that came back exactly
/// included): room for the rounding of another architecture's double arithmetic.
const EXACT_F64: i32 = -12;
/// The same for numbers that are all float32 values: float32 rounding.
const EXACT_F32: i32 = -6;

/// What was seen in one field: a place in the expected prediction, array indices left out
/// (the place of the outermost array holds the rule for everything in it).
#[derive(Debug)]
struct Field {
    /// Largest `|actual - expected|`.
    abs: f64,
    /// Largest `|actual - expected| / max(|actual|, |expected|)`.
    rel: f64,
    /// The sample event (1-based) the largest difference was seen in.
    at: usize,
    /// How many numbers were compared.
    numbers: usize,
    /// Whether any expected number has a fraction.
    fractional: bool,
    /// Whether every expected number is a float32 value.
    float32: bool,
}

impl Default for Field {
    fn default() -> Self {
        Field {
            abs: 0.0,
            rel: 0.0,
            at: 0,
            numbers: 0,
            fractional: false,
            float32: true,
        }
    }
}

/// A value that is not a number and differs, or a number answered as something else.
#[derive(Debug)]
struct Differs {
    cases: usize,
    /// The first: the sample event (1-based), what was expected and what was answered.
    first: (usize, String, String),
}

/// Everything seen comparing the predictions with the expected answers.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// How many predictions were compared.
    compared: usize,
    fields: BTreeMap<String, Field>,
    /// Places the expected answers hold and the predictions do not, with how many times.
    missing: BTreeMap<String, usize>,
    differs: BTreeMap<String, Differs>,
}

/// Compares each `(expected, prediction)` pair (`None`: the event was not answered with a
/// prediction there).
pub(crate) fn compare(pairs: &[(&Value, Option<&Value>)]) -> Seen {
    let mut seen = Seen::default();
    for (n, (expected, prediction)) in pairs.iter().enumerate() {
        let Some(prediction) = prediction else {
            continue;
        };
        seen.compared += 1;
        seen.walk(n + 1, expected, Some(prediction), String::new(), None);
    }
    seen
}

impl Seen {
    fn walk(
        &mut self,
        case: usize,
        expected: &Value,
        actual: Option<&Value>,
        place: String,
        field: Option<&str>,
    ) {
        let rule_place = field.map_or(place.as_str(), |f| f).to_owned();
        let Some(actual) = actual else {
            if field.is_none() {
                *self.missing.entry(place).or_default() += 1;
            } else {
                self.differ(case, rule_place, expected, None);
            }
            return;
        };
        match (expected, actual) {
            (Value::Object(fields), Value::Object(answer)) => {
                for (key, value) in fields {
                    let escaped = key.replace('~', "~0").replace('/', "~1");
                    self.walk(
                        case,
                        value,
                        answer.get(key),
                        format!("{place}/{escaped}"),
                        field,
                    );
                }
            }
            (Value::Array(items), Value::Array(answer)) if items.len() == answer.len() => {
                let field = field.unwrap_or(&place).to_owned();
                for (i, (value, answered)) in items.iter().zip(answer).enumerate() {
                    self.walk(
                        case,
                        value,
                        Some(answered),
                        format!("{place}/{i}"),
                        Some(&field),
                    );
                }
            }
            (Value::Number(e), Value::Number(a)) => {
                let (e, a) = (
                    e.as_f64().unwrap_or(f64::NAN),
                    a.as_f64().unwrap_or(f64::NAN),
                );
                let entry = self.fields.entry(rule_place).or_default();
                entry.numbers += 1;
                entry.fractional |= e.fract() != 0.0;
                entry.float32 &= f64::from(e as f32) == e;
                let abs = (a - e).abs();
                if abs > entry.abs || abs.is_nan() {
                    entry.abs = abs;
                    entry.at = case;
                }
                if abs > 0.0 {
                    entry.rel = entry.rel.max(abs / a.abs().max(e.abs()));
                }
            }
            (e, a) if e == a => {}
            (e, a) => self.differ(case, rule_place, e, Some(a)),
        }
    }

    fn differ(&mut self, case: usize, place: String, expected: &Value, actual: Option<&Value>) {
        let answered = actual.map_or("nothing".to_owned(), short);
        self.differs
            .entry(place)
            .and_modify(|d| d.cases += 1)
            .or_insert(Differs {
                cases: 1,
                first: (case, short(expected), answered),
            });
    }

    /// The `[[contract.field]]`s, each with the comment that says why, as spec text.
    pub(crate) fn render(&self, total: usize) -> String {
        let mut out = String::new();
        if self.compared == 0 {
            super::comment(
                &mut out,
                "TODO: no sample event was answered with a prediction, so none was compared \
                 with its expected answer: no tolerance could be proposed.",
            );
            return out;
        }
        let of = if self.compared == total {
            format!("{total} sample events")
        } else {
            format!("{} of the {total} sample events", self.compared)
        };
        super::comment(
            &mut out,
            &format!(
                "The predictions for {of} compared with their expected answers, as \
                 golden-replay compares them:"
            ),
        );
        for (place, times) in &self.missing {
            let name = shown(place);
            let how = if *times == self.compared {
                String::new()
            } else {
                format!(" ({times} of {})", self.compared)
            };
            super::comment(
                &mut out,
                &format!(
                    "The expected answers hold {name}, the predictions do not{how}: it is not \
                     compared."
                ),
            );
            out.push_str(&format!(
                "[[contract.field]]\nexpected = {}\nignore = true\n",
                super::quoted(place)
            ));
        }
        for (place, field) in &self.fields {
            if self.missing.contains_key(place) {
                continue;
            }
            let name = shown(place);
            let numbers = if field.numbers == 1 {
                "1 number".to_owned()
            } else {
                format!("{} numbers", field.numbers)
            };
            if field.abs.is_nan() || field.rel > ROUNDING {
                super::comment(
                    &mut out,
                    &format!(
                        "TODO: largest |diff| seen {} on {name} (relative {}, sample event \
                         {}): more than rounding. Find out whether the function or the \
                         expected answer is wrong before giving it a tolerance; it is compared \
                         exactly until then.",
                        short_number(field.abs),
                        short_number(field.rel),
                        field.at
                    ),
                );
                continue;
            }
            if field.abs == 0.0 && !field.fractional {
                continue;
            }
            let (floor, floor_why) = if field.float32 {
                (
                    EXACT_F32,
                    "the values are float32: room for another machine's float32 rounding",
                )
            } else {
                (EXACT_F64, "room for another architecture's rounding")
            };
            // Ten to a hundred times the largest difference, and no less than the floor.
            let above = (field.abs > 0.0).then(|| field.abs.log10().ceil() as i32 + 1);
            let (exponent, why) = match above {
                Some(exponent) if exponent > floor => (
                    exponent,
                    "ten times or more above it, for another machine's rounding",
                ),
                _ => (floor, floor_why),
            };
            super::comment(
                &mut out,
                &format!(
                    "largest |diff| seen {} on {name} ({numbers}); tolerance 1e{exponent}: {why}.",
                    short_number(field.abs)
                ),
            );
            out.push_str(&format!(
                "[[contract.field]]\nexpected = {}\nabs = 1e{exponent}\n",
                super::quoted(place)
            ));
        }
        for (place, differs) in &self.differs {
            let (case, expected, answered) = &differs.first;
            super::comment(
                &mut out,
                &format!(
                    "TODO: {} differs from the expected answer for {} of {} sample events \
                     (event {case}: expected {expected}, answered {answered}); it is compared \
                     exactly: find out which is right.",
                    shown(place),
                    differs.cases,
                    self.compared
                ),
            );
        }
        out
    }

    /// One line for the terminal: what the comparison found.
    pub(crate) fn summary(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (place, field) in &self.fields {
            if field.abs.is_nan() || field.rel > ROUNDING {
                lines.push(format!(
                    "{}: the function's answers differ from the expected ones by up to {}",
                    shown(place),
                    short_number(field.abs)
                ));
            }
        }
        for (place, differs) in &self.differs {
            lines.push(format!(
                "{}: the function's answers differ from the expected ones in {} of {} events",
                shown(place),
                differs.cases,
                self.compared
            ));
        }
        lines
    }
}

/// A place as the comments name it.
fn shown(place: &str) -> &str {
    if place.is_empty() {
        "the prediction"
    } else {
        place
    }
}

/// A JSON value in at most 40 characters.
fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}...", text.chars().take(37).collect::<String>())
    } else {
        text
    }
}

/// A difference in two significant digits: `1.9e-8`, `0`, `0.02`.
fn short_number(x: f64) -> String {
    crate::contract::short(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seen(pairs: &[(Value, Option<Value>)]) -> Seen {
        let pairs: Vec<(&Value, Option<&Value>)> =
            pairs.iter().map(|(e, a)| (e, a.as_ref())).collect();
        compare(&pairs)
    }

    #[test]
    fn init_proposes_a_tolerance_above_the_largest_difference() {
        let found = seen(&[
            (
                json!({"probability": [0.25, 0.75], "raw": [1.5], "class": 1}),
                Some(json!({"probability": [0.25 + 1.9e-8, 0.75], "class": 1, "id": "a"})),
            ),
            (
                json!({"probability": [0.5, 0.5], "raw": [0.1], "class": 0}),
                Some(json!({"probability": [0.5, 0.5 - 1e-9], "class": 0, "id": "b"})),
            ),
            (json!({"probability": [1.0, 0.0]}), None),
        ]);
        let text = found.render(3);
        assert!(
            text.contains(
                "# largest |diff| seen 1.9e-8 on /probability (4 numbers); tolerance 1e-6"
            ),
            "{text}"
        );
        assert!(
            text.contains("[[contract.field]]\nexpected = \"/probability\"\nabs = 1e-6\n"),
            "{text}"
        );
        assert!(
            text.contains("[[contract.field]]\nexpected = \"/raw\"\nignore = true\n"),
            "{text}"
        );
        assert!(text.contains("for 2 of the 3 sample events"), "{text}");
        assert!(!text.contains("/class"), "integers equal: exact\n{text}");
        assert!(found.summary().is_empty());
        // Every line of it is TOML, within 80 columns.
        text.parse::<toml::Table>().unwrap();
        assert!(text.lines().all(|l| l.len() <= 80), "{text}");
    }

    #[test]
    fn exact_answers_get_room_for_rounding_and_float32_its_own() {
        let found = seen(&[(json!([0.1, 0.9]), Some(json!([0.1, 0.9 + 1.1e-16])))]);
        let text = found.render(1);
        assert!(text.contains("seen 1.1e-16 on the prediction"), "{text}");
        assert!(
            text.contains("expected = \"\"\nabs = 1e-12\n"),
            "a bare list: the rule at the root\n{text}"
        );
        let f32_value = f64::from(0.1f32);
        let found = seen(&[(json!({"p": f32_value}), Some(json!({"p": f32_value})))]);
        let text = found.render(1);
        assert!(
            text.contains("float32") && text.contains("expected = \"/p\"\nabs = 1e-6\n"),
            "{text}"
        );
    }

    #[test]
    fn a_difference_beyond_rounding_is_a_todo_not_a_tolerance() {
        let found = seen(&[
            (
                json!({"p": 0.25, "label": "dog"}),
                Some(json!({"p": 0.27, "label": "cat"})),
            ),
            (
                json!({"p": 0.5, "label": "dog"}),
                Some(json!({"p": 0.5, "label": "dog"})),
            ),
        ]);
        let text = found.render(2);
        assert!(!text.contains("abs ="), "{text}");
        assert!(
            text.contains("TODO: largest |diff| seen 0.020 on /p"),
            "{text}"
        );
        assert!(
            text.contains("/label differs from the expected answer for 1 of 2"),
            "{text}"
        );
        assert!(
            text.contains("expected \"dog\", answered \"cat\""),
            "{text}"
        );
        assert_eq!(found.summary().len(), 2);
        assert!(text.lines().all(|l| l.len() <= 80), "{text}");
    }
}
