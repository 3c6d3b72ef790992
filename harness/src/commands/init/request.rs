//! Which request the function takes an event in, found by asking it: the sample events are
//! sent in one request shape after the other (the event as the body first, then the event in
//! a list under a key the function's error named, then the usual wrappers), and the first
//! shape every sample event is answered in without an error is kept.

use crate::contract::{EVENT, Template};
use crate::runtime::Outcome;

/// The shapes tried, in order, after the keys an error named. `"$event"` (the event is the
/// body) is first.
pub(crate) const SHAPES: [&str; 9] = [
    "\"$event\"",
    "{\"records\": [\"$event\"]}",
    "{\"instances\": [\"$event\"]}",
    "{\"inputs\": [\"$event\"]}",
    "{\"data\": [\"$event\"]}",
    "[\"$event\"]",
    "{\"body\": \"$event\"}",
    "{\"event\": \"$event\"}",
    "{\"input\": \"$event\"}",
];

/// At most this many keys named by the first error are tried.
const NAMED_KEYS: usize = 3;

/// What the shapes got.
pub(crate) struct Inference {
    /// The shape kept: the first every event was answered in, else the one most events were.
    pub(crate) template: String,
    /// Whether every sample event was answered in it without an error.
    pub(crate) answered: bool,
    /// The answers to the events in it (up to the first that was not a prediction).
    pub(crate) outcomes: Vec<Outcome>,
    /// The shapes tried before it (or all of them, when none was answered), each with the
    /// answer that ruled it out.
    pub(crate) ruled_out: Vec<(String, String)>,
}

/// Sends `events` (JSON texts) through `invoke` in each shape until one is answered.
pub(crate) fn infer(events: &[String], mut invoke: impl FnMut(&[u8]) -> Outcome) -> Inference {
    let mut candidates: Vec<String> = vec![SHAPES[0].to_owned()];
    let mut ruled_out = Vec::new();
    // (successes, template, outcomes) of the best shape so far.
    let mut best: Option<(usize, String, Vec<Outcome>)> = None;
    let mut i = 0;
    while let Some(template) = candidates.get(i).cloned() {
        i += 1;
        let Ok(parsed) = Template::parse(&template, EVENT) else {
            continue;
        };
        let mut outcomes = Vec::new();
        for event in events {
            let outcome = invoke(&parsed.render(event.as_bytes()));
            let answered = matches!(outcome, Outcome::Success(_));
            outcomes.push(outcome);
            if !answered {
                break;
            }
        }
        let successes = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Success(_)))
            .count();
        if successes == events.len() {
            return Inference {
                template,
                answered: true,
                outcomes,
                ruled_out,
            };
        }
        if let Some(last) = outcomes.last() {
            ruled_out.push((template.clone(), brief(last)));
        }
        if i == 1 {
            // The first error may name what the function wants: `missing field `records``.
            let keys = outcomes
                .last()
                .map(|o| named_keys(o, events.first().map(String::as_str)))
                .unwrap_or_default();
            for key in keys {
                let shape = format!("{{{}: [\"{EVENT}\"]}}", json_string(&key));
                if !candidates.contains(&shape) {
                    candidates.push(shape);
                }
            }
            for shape in &SHAPES[1..] {
                if !candidates.iter().any(|c| c == shape) {
                    candidates.push((*shape).to_owned());
                }
            }
        }
        if best.as_ref().is_none_or(|(n, _, _)| successes > *n) {
            best = Some((successes, template, outcomes));
        }
    }
    let (_, template, outcomes) = best.unwrap_or_default();
    Inference {
        template,
        answered: false,
        outcomes,
        ruled_out,
    }
}

/// One answer that ruled a shape out, short: `InvalidPayload ("id: unknown field ...")`.
pub(crate) fn brief(outcome: &Outcome) -> String {
    match outcome {
        Outcome::FunctionError {
            error_type,
            error_message,
        } => {
            let message: String = error_message.chars().take(60).collect();
            let cut = if message.len() < error_message.len() {
                "..."
            } else {
                ""
            };
            format!("{error_type} \"{message}{cut}\"")
        }
        other => other.describe().chars().take(80).collect(),
    }
}

/// How a template is named in a comment: "the event as the body" or the template itself.
pub(crate) fn describe(template: &str) -> String {
    if template == SHAPES[0] {
        "the event as the body".to_owned()
    } else {
        format!("'{template}'")
    }
}

/// The names an error message quotes (`records`, 'records', "records") that are not keys of
/// the event itself: what the function may want the event under.
fn named_keys(outcome: &Outcome, event: Option<&str>) -> Vec<String> {
    let Outcome::FunctionError { error_message, .. } = outcome else {
        return Vec::new();
    };
    let event: Option<serde_json::Value> = event.and_then(|e| serde_json::from_str(e).ok());
    let own = |key: &str| {
        event
            .as_ref()
            .and_then(|e| e.as_object())
            .is_some_and(|o| o.contains_key(key))
    };
    let mut keys: Vec<String> = Vec::new();
    for quote in ['`', '\'', '"'] {
        for (n, part) in error_message.split(quote).enumerate() {
            let word = n % 2 == 1
                && !part.is_empty()
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
            if word && !own(part) && !keys.iter().any(|k| k == part) {
                keys.push(part.to_owned());
            }
        }
    }
    keys.truncate(NAMED_KEYS);
    keys
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn error(error_type: &str, message: &str) -> Outcome {
        Outcome::FunctionError {
            error_type: error_type.to_owned(),
            error_message: message.to_owned(),
        }
    }

    /// A function that takes `{"items": [event]}` and says so when it gets anything else.
    fn wants_items(body: &[u8]) -> Outcome {
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error("Runtime.UnmarshalError", "not JSON");
        };
        match request.get("items").and_then(Value::as_array) {
            Some(items) if items.len() == 1 && request.as_object().unwrap().len() == 1 => {
                Outcome::Success(json!({"predictions": [{"p": 0.5}]}))
            }
            _ => error("InvalidPayload", "missing field `items`"),
        }
    }

    #[test]
    fn init_keeps_the_first_shape_every_event_is_answered_in() {
        let events = vec!["{\"id\": \"a\"}".to_owned(), "{\"id\": \"b\"}".to_owned()];
        let mut sent = Vec::new();
        let found = infer(&events, |body| {
            sent.push(String::from_utf8_lossy(body).into_owned());
            wants_items(body)
        });
        assert!(found.answered);
        assert_eq!(found.template, "{\"items\": [\"$event\"]}");
        assert_eq!(found.outcomes.len(), 2);
        // The body first, then the key the error named: two events, three requests.
        assert_eq!(
            sent,
            [
                "{\"id\": \"a\"}",
                "{\"items\": [{\"id\": \"a\"}]}",
                "{\"items\": [{\"id\": \"b\"}]}"
            ]
        );
        assert_eq!(
            found.ruled_out,
            [(
                "\"$event\"".to_owned(),
                "InvalidPayload \"missing field `items`\"".to_owned()
            )]
        );

        // A function that takes the event as it is is asked nothing else.
        let found = infer(&events, |_| Outcome::Success(json!([0.1, 0.9])));
        assert!(found.answered && found.ruled_out.is_empty());
        assert_eq!(found.template, "\"$event\"");

        // The usual wrappers without a hint: `records` is second.
        let found = infer(&events, |body| {
            let r: Value = serde_json::from_slice(body).unwrap();
            if r.get("records").is_some() {
                Outcome::Success(json!({"predictions": [1]}))
            } else {
                error("KeyError", "'id'")
            }
        });
        assert_eq!(found.template, "{\"records\": [\"$event\"]}");
        assert_eq!(found.ruled_out.len(), 1, "`id` is the event's own key");
    }

    #[test]
    fn init_falls_back_to_the_shape_most_events_were_answered_in() {
        let events: Vec<String> = ["1", "2", "3"].map(str::to_owned).into();
        let found = infer(&events, |body| {
            if body == b"1" || body == b"2" {
                Outcome::Success(json!(0.5))
            } else {
                error("ValueError", "bad event")
            }
        });
        assert!(!found.answered);
        assert_eq!(found.template, "\"$event\"");
        assert_eq!(found.outcomes.len(), 3);
        assert_eq!(found.ruled_out.len(), SHAPES.len());
        assert_eq!(
            brief(&error("E", &"x".repeat(70))),
            format!("E \"{}...\"", "x".repeat(60))
        );
    }
}
