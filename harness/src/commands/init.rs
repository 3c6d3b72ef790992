//! `lambda-gate init`: a first spec from the function itself. The image is started as the
//! gate starts it, the sample events are sent one at a time and together, `{}`, `null` and a
//! body that is not JSON are sent for the error contract, and the answers say what the
//! contract is: where the prediction sits, whether batches are taken and where their
//! predictions are, an id or model sha256 echoed back, which values are numbers. What the
//! answers cannot say (the model's path in the image, the goldens) is left as a `TODO` with
//! what to put there.

use crate::arch::Arch;
use crate::contract::{EVENT, EVENTS, Template};
use crate::progress::Progress;
use crate::runtime::{Outcome, Target};
use crate::spec::{Spec, SpecError};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

/// What `init` is told.
pub(crate) struct InitOptions {
    /// The function's name in the spec.
    pub(crate) name: String,
    /// Its architecture.
    pub(crate) arch: Arch,
    /// An existing image; without it, `Dockerfile` in the spec's directory is built.
    pub(crate) image: Option<String>,
    /// The request template for one event (`"$event"`: the event is the body).
    pub(crate) request: String,
    /// The sample events, each its JSON text.
    pub(crate) events: Vec<String>,
}

/// The bodies sent to learn the error contract, and how the spec's comment names them.
const PROBES: [(&str, &str); 3] = [("{}", "{}"), ("null", "null"), ("not json", "not JSON")];

/// Starts the function and returns the text of a commented spec for it, to be written at
/// `path` (whose directory is the spec's root).
pub(crate) fn init(
    path: &Path,
    options: &InitOptions,
    progress: &Progress,
) -> Result<String, super::Error> {
    let root = path.parent().unwrap_or(Path::new("."));
    let image = match &options.image {
        Some(reference) => format!("reference = {}", quoted(reference)),
        None => "dockerfile = \"Dockerfile\"".to_owned(),
    };
    // A spec to start the function with: only the function and the image matter here.
    let provisional = format!(
        "[function]\nname = {}\narchitecture = \"{}\"\n[image]\n{image}\n[contract]\nrequest = {}\n\
         [errors]\nfunction = [\"TODO\"]\n[provenance]\nmodel = \"/TODO\"\n[goldens]\ndir = \"golden\"\n",
        quoted(&options.name),
        options.arch,
        quoted(&options.request),
    );
    // The template is the flag's, not a key of a file the user wrote: say so.
    Template::parse(&options.request, EVENT).map_err(|message| SpecError::Invalid {
        path: path.to_path_buf(),
        key: "contract.request".to_owned(),
        flag: Some("--request"),
        message,
    })?;
    let spec = Spec::parse(&provisional, path, root)?;
    let container = super::start(&spec, progress)?;
    progress.step(format!("sending {} sample events", options.events.len()));
    let singles: Vec<Outcome> = options
        .events
        .iter()
        .map(|e| container.invoke(&spec.contract.request(e)).outcome)
        .collect();
    let batch = batch_template(&options.request).map(|text| {
        let joined = format!("[{}]", options.events.join(","));
        let body = Template::parse(&text, EVENTS)
            .map(|t| t.render(joined.as_bytes()))
            .unwrap_or_default();
        (text, container.invoke(&body).outcome)
    });
    let probes: Vec<Outcome> = PROBES
        .iter()
        .map(|(body, _)| container.invoke(body.as_bytes()).outcome)
        .collect();
    progress.done();
    let events: Vec<Value> = options
        .events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap_or_default())
        .collect();
    Ok(render(options, &events, &singles, batch.as_ref(), &probes))
}

/// The batch template of a request template that puts the event in a one-item list:
/// `{"records": ["$event"]}` gives `{"records": "$events"}`.
fn batch_template(request: &str) -> Option<String> {
    let one = format!("[\"{EVENT}\"]");
    request
        .contains(&one)
        .then(|| request.replacen(&one, &format!("\"{EVENTS}\""), 1))
}

/// A TOML string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

/// The pointer to the prediction in the answer to one event: the one-item list of an object
/// answer (`/predictions/0`), else the whole answer.
fn prediction_pointer(answer: &Value) -> String {
    let Some(object) = answer.as_object() else {
        return String::new();
    };
    let singles: Vec<&String> = object
        .iter()
        .filter(|(_, v)| v.as_array().is_some_and(|a| a.len() == 1))
        .map(|(k, _)| k)
        .collect();
    match singles.as_slice() {
        [key] => format!("/{}/0", escape(key)),
        _ => String::new(),
    }
}

/// The pointer to the list of `n` predictions in a batch answer, if there is one.
fn batch_pointer(answer: &Value, n: usize) -> Option<String> {
    if answer.as_array().is_some_and(|a| a.len() == n) {
        return Some(String::new());
    }
    let object = answer.as_object()?;
    let keys: Vec<&String> = object
        .iter()
        .filter(|(_, v)| v.as_array().is_some_and(|a| a.len() == n))
        .map(|(k, _)| k)
        .collect();
    match keys.as_slice() {
        [key] => Some(format!("/{}", escape(key))),
        _ => None,
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A key of the event whose string value comes back under the same key of the prediction.
fn id_echo(event: &Value, prediction: &Value) -> Option<String> {
    let event = event.as_object()?;
    event
        .iter()
        .find(|(k, v)| v.is_string() && prediction.get(k.as_str()) == Some(*v))
        .map(|(k, _)| format!("/{}", escape(k)))
}

/// A key of the prediction holding a sha256.
fn sha_echo(prediction: &Value) -> Option<String> {
    prediction.as_object()?.iter().find_map(|(k, v)| {
        let s = v.as_str()?;
        (s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| format!("/{}", escape(k)))
    })
}

/// Where the prediction holds numbers that are not integers: its keys, or `""` for a list.
fn float_places(prediction: &Value) -> Vec<String> {
    let fractional = |v: &Value| match v {
        Value::Number(n) => !n.is_i64() && !n.is_u64(),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_number().is_some_and(|n| n.is_f64())),
        _ => false,
    };
    match prediction {
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| fractional(v))
            .map(|(k, _)| format!("/{}", escape(k)))
            .collect(),
        other if fractional(other) => vec![String::new()],
        _ => Vec::new(),
    }
}

/// The commented spec.
fn render(
    options: &InitOptions,
    events: &[Value],
    singles: &[Outcome],
    batch: Option<&(String, Outcome)>,
    probes: &[Outcome],
) -> String {
    let mut out = String::new();
    let n = options.events.len();
    let _ = writeln!(
        out,
        "# Written by `lambda-gate init` from {n} sample events and the function's answers to them.\n\
         # Each inferred value says what it was inferred from; TODO marks what init could not see.\n\
         # The README's \"The spec file\" documents every key.\n"
    );
    let _ = writeln!(
        out,
        "[function]\nname = {}\narchitecture = \"{}\"\n",
        quoted(&options.name),
        options.arch
    );
    match &options.image {
        Some(reference) => {
            let _ = writeln!(out, "[image]\nreference = {}\n", quoted(reference));
        }
        None => {
            let _ = writeln!(out, "[image]\ndockerfile = \"Dockerfile\"\n");
        }
    }
    out.push_str("[contract]\n");
    let _ = writeln!(out, "request = {}", quoted(&options.request));
    let answers: Vec<&Value> = singles
        .iter()
        .filter_map(|o| match o {
            Outcome::Success(v) => Some(v),
            _ => None,
        })
        .collect();
    for (i, outcome) in singles.iter().enumerate() {
        if !matches!(outcome, Outcome::Success(_)) {
            let _ = writeln!(
                out,
                "# TODO: sample event {} was not answered with a prediction ({}): check `request`",
                i + 1,
                outcome.describe()
            );
        }
    }
    let pointer = answers
        .first()
        .map(|a| prediction_pointer(a))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "# Where the answer to one event held its prediction{}.\nprediction = {}",
        if pointer.is_empty() {
            " (the whole answer)"
        } else {
            ""
        },
        quoted(&pointer)
    );
    let prediction = answers.first().and_then(|a| a.pointer(&pointer));
    if let Some((text, Outcome::Success(answer))) = batch
        && let Some(at) = batch_pointer(answer, n)
        && n >= 2
    {
        let _ = writeln!(
            out,
            "# {n} events in one request were answered with {n} predictions there.\n\
             batch_request = {}\nbatch_predictions = {}\n\
             max_batch = {n}  # TODO: the most events the function takes in one request",
            quoted(text),
            quoted(&at)
        );
    }
    if let Some(sha) = prediction.and_then(sha_echo) {
        let _ = writeln!(
            out,
            "# Each prediction carried a sha256: the goldens' model must be that model.\n\
             echo_model_sha256 = {}",
            quoted(&sha)
        );
    }
    if let (Some(event), Some(prediction)) = (events.first(), prediction)
        && let Some(id) = id_echo(event, prediction)
    {
        let _ = writeln!(
            out,
            "\n# The event's {id} came back in its prediction.\n[contract.id]\nevent = {}\nprediction = {}",
            quoted(&id),
            quoted(&id)
        );
    }
    for place in prediction.map(float_places).unwrap_or_default() {
        let _ = writeln!(
            out,
            "\n# {} holds fractional numbers, compared exactly by default. After the first\n\
             # `verify`, golden-replay says the largest |diff| per field: give it a tolerance\n\
             # above that, e.g.\n# [[contract.field]]\n# expected = {}\n# abs = 1e-9",
            if place.is_empty() {
                "The prediction"
            } else {
                place.as_str()
            },
            quoted(&place)
        );
    }
    render_errors(&mut out, probes);
    out.push_str(
        "\n[provenance]\n# TODO: the model file's absolute path in the image; its sha256 must be the goldens' model_sha256.\nmodel = \"/TODO/model\"\n\
         \n[goldens]\n# TODO: write them with `lambda-gate golden import FILE --model PATH` (see the README).\ndir = \"golden\"\n",
    );
    out
}

/// `[errors]` from the answers to the probes.
fn render_errors(out: &mut String, probes: &[Outcome]) {
    let mut function: Vec<&str> = Vec::new();
    let mut runtime: Vec<&str> = Vec::new();
    let mut seen = Vec::new();
    for ((_, name), outcome) in PROBES.iter().zip(probes) {
        let answer = match outcome {
            Outcome::FunctionError { error_type, .. } => {
                let list = if error_type.starts_with("Runtime.") {
                    &mut runtime
                } else {
                    &mut function
                };
                let crash = crate::lambda::CRASH_ERRORS.contains(&error_type.as_str());
                if !crash && !list.contains(&error_type.as_str()) {
                    list.push(error_type);
                }
                if crash {
                    format!("{error_type} (a crash: fix the handler)")
                } else {
                    error_type.clone()
                }
            }
            other => other.describe(),
        };
        seen.push(format!("{name} -> {answer}"));
    }
    let _ = writeln!(
        out,
        "\n[errors]\n# The function's answers: {}.",
        seen.join(", ")
    );
    if function.is_empty() {
        out.push_str(
            "# TODO: the errorTypes the function answers bad input with.\nfunction = [\"TODO\"]\n",
        );
    } else {
        let names: Vec<String> = function.iter().map(|n| quoted(n)).collect();
        let _ = writeln!(out, "function = [{}]", names.join(", "));
    }
    if !runtime.is_empty() {
        let names: Vec<String> = runtime.iter().map(|n| quoted(n)).collect();
        let _ = writeln!(out, "runtime = [{}]", names.join(", "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_contract_is_read_from_the_answers() {
        assert_eq!(
            batch_template(r#"{"records": ["$event"]}"#).unwrap(),
            r#"{"records": "$events"}"#
        );
        assert_eq!(batch_template("\"$event\""), None);
        let answer =
            json!({"predictions": [{"id": "a", "p": 0.5, "model_sha256": "f".repeat(64)}]});
        assert_eq!(prediction_pointer(&answer), "/predictions/0");
        assert_eq!(prediction_pointer(&json!([0.1, 0.9])), "");
        let batch = json!({"predictions": [1, 2, 3], "n": [1]});
        assert_eq!(batch_pointer(&batch, 3).unwrap(), "/predictions");
        let prediction = &answer["predictions"][0];
        assert_eq!(
            id_echo(&json!({"id": "a", "x": 1}), prediction).unwrap(),
            "/id"
        );
        assert_eq!(sha_echo(prediction).unwrap(), "/model_sha256");
        assert_eq!(float_places(prediction), ["/p"]);
        assert_eq!(float_places(&json!([0.1, 0.9])), [""]);
        assert!(float_places(&json!({"class": 2})).is_empty());
    }
}
