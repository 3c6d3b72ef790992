//! `lambda-gate init`: a first spec from the function itself. The image is started as the
//! gate starts it, the sample events are sent one at a time and together, `{}`, `null` and a
//! body that is not JSON are sent for the error contract, and the answers say what the
//! contract is: which request the function takes an event in (`request.rs`: shapes tried in
//! turn, unless `--request` gives it), where the prediction sits, whether batches are taken
//! and where their predictions are, an id or model sha256 echoed back, which values are
//! numbers, and, when the events file carries expected answers, how far the predictions are
//! from them and so which tolerance each field needs (`tolerance.rs`). Given the model file
//! the expected answers come from (`--model`), the model's path in the image is the file of the
//! merged layers with that file's sha256, and the goldens are written from the events file by
//! `golden import`'s own function. What neither the answers nor the model can say is left as a
//! `TODO` with what to put there.

mod events;
mod request;
mod tolerance;

use crate::arch::Arch;
use crate::contract::{EVENT, EVENTS, Template};
use crate::golden::RegenError;
use crate::progress::Progress;
use crate::runtime::{Outcome, Target};
use crate::spec::{Spec, SpecError};
pub(crate) use events::{Sample, read as read_events};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What `init` is told.
pub(crate) struct InitOptions {
    /// The function's name in the spec.
    pub(crate) name: String,
    /// Its architecture.
    pub(crate) arch: Arch,
    /// An existing image; without it, `Dockerfile` in the spec's directory is built.
    pub(crate) image: Option<String>,
    /// The request template for one event (`--request`); `None`: found by trying shapes.
    pub(crate) request: Option<String>,
    /// The events file, as given (named in the spec's comments).
    pub(crate) events_file: PathBuf,
    /// The sample events, each with its expected answer when the file gives them.
    pub(crate) samples: Vec<Sample>,
    /// The training-time model file on this machine (`--model`): looked for in the image by
    /// its sha256, and the goldens' model when the events carry expected answers.
    pub(crate) model: Option<PathBuf>,
    /// Replace golden files that are there already (as `golden import --force`).
    pub(crate) force: bool,
}

/// The spec `init` wrote, and what the terminal should hear about it.
pub(crate) struct Written {
    /// The spec's text.
    pub(crate) text: String,
    /// What needs the user's attention beyond the TODOs: answers that differ from the
    /// expected ones, a request no shape was answered in.
    pub(crate) warnings: Vec<String>,
    /// The golden files written: how many cases, into which directory.
    pub(crate) goldens: Option<(usize, PathBuf)>,
}

/// The model file `--model` names, as it is looked for in the image.
struct ModelFile<'a> {
    /// Its path on this machine, as given.
    path: &'a Path,
    /// Its sha256.
    sha256: String,
    /// Its size in bytes.
    size: u64,
}

/// What `init` learnt of the model: the file given, and the image's files with its content.
struct ModelFound<'a> {
    file: ModelFile<'a>,
    in_image: Vec<String>,
}

/// The bodies sent to learn the error contract, and how the spec's comment names them.
const PROBES: [(&str, &str); 3] = [("{}", "{}"), ("null", "null"), ("not json", "not JSON")];

/// How the request template was decided.
enum RequestFrom {
    /// `--request`.
    Flag,
    /// Found by trying shapes.
    Inferred(request::Inference),
}

/// Starts the function and returns a commented spec for it, to be written at `path` (whose
/// directory is the spec's root).
pub(crate) fn init(
    path: &Path,
    options: &InitOptions,
    progress: &Progress,
) -> Result<Written, super::Error> {
    let root = path.parent().unwrap_or(Path::new("."));
    let with_expected = options.samples.iter().all(|s| s.expected.is_some());
    let goldens_dir = root.join(GOLDENS_DIR);
    let model = match &options.model {
        Some(model) => {
            let unreadable = |source| super::Error::Model {
                path: model.clone(),
                source,
            };
            let size = std::fs::metadata(model).map_err(unreadable)?.len();
            let sha256 = crate::digest::sha256_file(model).map_err(unreadable)?;
            Some(ModelFile {
                path: model,
                sha256,
                size,
            })
        }
        None => None,
    };
    // Before the image is built and started: goldens that are there stay there.
    if model.is_some() && with_expected && !options.force {
        let existing = crate::golden::existing_goldens(&goldens_dir);
        if !existing.is_empty() {
            return Err(RegenError::WouldReplace(existing).into());
        }
    }
    let image = match &options.image {
        Some(reference) => format!("reference = {}", quoted(reference)),
        None => "dockerfile = \"Dockerfile\"".to_owned(),
    };
    let given = options.request.as_deref().unwrap_or(request::SHAPES[0]);
    // A spec to start the function with: only the function and the image matter here.
    let provisional = format!(
        "[function]\nname = {}\narchitecture = \"{}\"\n[image]\n{image}\n[contract]\nrequest = {}\n\
         [errors]\nfunction = [\"TODO\"]\n[provenance]\nmodel = \"/TODO\"\n[goldens]\ndir = \"golden\"\n",
        quoted(&options.name),
        options.arch,
        quoted(given),
    );
    // The template is the flag's, not a key of a file the user wrote: say so.
    Template::parse(given, EVENT).map_err(|message| SpecError::Invalid {
        path: path.to_path_buf(),
        key: "contract.request".to_owned(),
        flag: Some("--request"),
        message,
    })?;
    let spec = Spec::parse(&provisional, path, root)?;
    // As `commands::start`, keeping what Docker says of the image.
    let run = super::setup::Run::connect(&spec, progress)?;
    let image = run.image()?;
    // Its size as the gate's image-size check measures it.
    progress.step(format!("reading image {}", image.reference));
    let (facts, model) = match model {
        Some(file) => {
            let content = crate::image::Content {
                sha256: &file.sha256,
                size: file.size,
            };
            let (facts, in_image) =
                crate::image::inspect_finding(&run.docker, &image.reference, &image.id, content)?;
            (facts, Some(ModelFound { file, in_image }))
        }
        None => (
            crate::image::inspect(&run.docker, &image.reference, &image.id, None)?,
            None,
        ),
    };
    let rie = run.rie(None, false)?;
    let container = run
        .start(&image, &rie, &run.settings(), 1)?
        .pop()
        .ok_or_else(|| super::Error::Infrastructure("no container was started".to_owned()))?;
    progress.done();
    let events: Vec<String> = options.samples.iter().map(|s| s.event.clone()).collect();
    let n = events.len();
    let (template, singles, from): (String, Vec<Outcome>, RequestFrom) = match &options.request {
        Some(text) => {
            progress.step(format!("sending {n} sample events"));
            let singles = events
                .iter()
                .map(|e| container.invoke(&spec.contract.request(e)).outcome)
                .collect();
            (text.clone(), singles, RequestFrom::Flag)
        }
        None => {
            progress.step(format!(
                "sending {n} sample events, trying request shapes in turn"
            ));
            let found = request::infer(&events, |body| container.invoke(body).outcome);
            (
                found.template.clone(),
                found.outcomes.clone(),
                RequestFrom::Inferred(found),
            )
        }
    };
    let batch = batch_template(&template).map(|text| {
        let joined = format!("[{}]", events.join(","));
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
    let parsed: Vec<Value> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap_or_default())
        .collect();
    let answers = Answers {
        image_size: facts.size_bytes(),
        template: &template,
        from: &from,
        events: &parsed,
        singles: &singles,
        batch: batch.as_ref(),
        probes: &probes,
    };
    // The goldens as `golden import` writes them, from the same file.
    let goldens = match &model {
        Some(found) if with_expected => {
            let cases = crate::golden::import(
                &options.events_file,
                &crate::golden::Import {
                    dir: &goldens_dir,
                    model: found.file.path,
                    sources: &BTreeMap::new(),
                    force: options.force,
                },
            )?;
            Some((cases, goldens_dir))
        }
        _ => None,
    };
    let mut written = render(options, &answers, model.as_ref(), goldens.as_ref());
    written.goldens = goldens;
    Ok(written)
}

/// `goldens.dir` in the spec `init` writes.
const GOLDENS_DIR: &str = "golden";

/// What the function answered.
struct Answers<'a> {
    /// The image's uncompressed size, as the image-size check measures it.
    image_size: u64,
    /// The request template kept.
    template: &'a str,
    /// How it was decided.
    from: &'a RequestFrom,
    /// The sample events.
    events: &'a [Value],
    /// The answers to them one at a time, in `template` (up to the first that was not a
    /// prediction when no shape was answered).
    singles: &'a [Outcome],
    /// The batch template and the answer to all events in it.
    batch: Option<&'a (String, Outcome)>,
    /// The answers to [`PROBES`].
    probes: &'a [Outcome],
}

/// `text` as `#` comment lines of at most 80 columns.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.len() + 1 + word.len() > 80 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
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
/// answer (`/predictions/0`), the one item of a list answer to a request that put the event in
/// a one-item list (`/0`), else the whole answer.
fn prediction_pointer(answer: &Value, template: &str) -> String {
    let listed = template.contains(&format!("[\"{EVENT}\"]"));
    let Some(object) = answer.as_object() else {
        return if listed && answer.as_array().is_some_and(|a| a.len() == 1) {
            "/0".to_owned()
        } else {
            String::new()
        };
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
    answers: &Answers<'_>,
    model: Option<&ModelFound<'_>>,
    goldens: Option<&(usize, PathBuf)>,
) -> Written {
    let mut out = String::new();
    let mut warnings = Vec::new();
    let n = options.samples.len();
    comment(
        &mut out,
        &format!(
            "Written by `lambda-gate init` from {n} sample events and the function's answers \
             to them. Each inferred value says what it was inferred from; TODO marks what init \
             could not see. The README's \"The spec file\" documents every key."
        ),
    );
    out.push('\n');
    let _ = writeln!(
        out,
        "[function]\nname = {}\narchitecture = \"{}\"\n",
        quoted(&options.name),
        options.arch
    );
    match &options.image {
        Some(reference) => {
            let _ = writeln!(out, "[image]\nreference = {}", quoted(reference));
        }
        None => {
            let _ = writeln!(out, "[image]\ndockerfile = \"Dockerfile\"");
        }
    }
    render_max_size(&mut out, answers.image_size);
    out.push('\n');
    out.push_str("[contract]\n");
    render_request(&mut out, &mut warnings, answers, n);
    let _ = writeln!(out, "request = {}", quoted(answers.template));
    let singles = answers.singles;
    let first = singles.iter().find_map(|o| match o {
        Outcome::Success(v) => Some(v),
        _ => None,
    });
    let answered_all =
        singles.len() == n && singles.iter().all(|o| matches!(o, Outcome::Success(_)));
    if !answered_all && matches!(answers.from, RequestFrom::Flag) {
        for (i, outcome) in singles.iter().enumerate() {
            if !matches!(outcome, Outcome::Success(_)) {
                comment(
                    &mut out,
                    &format!(
                        "TODO: sample event {} was not answered with a prediction ({}): \
                         check `request`",
                        i + 1,
                        request::brief(outcome)
                    ),
                );
            }
        }
    }
    let pointer = first
        .map(|a| prediction_pointer(a, answers.template))
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
    let prediction = first.and_then(|a| a.pointer(&pointer));
    if let Some((text, Outcome::Success(answer))) = answers.batch
        && let Some(at) = batch_pointer(answer, n)
        && n >= 2
    {
        let _ = writeln!(
            out,
            "# {n} events in one request were answered with {n} predictions there.\n\
             batch_request = {}\nbatch_predictions = {}",
            quoted(text),
            quoted(&at)
        );
        comment(
            &mut out,
            &format!(
                "max_batch: {n}, the most events init sent in one request, which verify \
                 passes as it is; raise it to the function's own limit."
            ),
        );
        let _ = writeln!(
            out,
            "max_batch = {n}  # TODO: the most events the function takes in one request"
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
    if let (Some(event), Some(prediction)) = (answers.events.first(), prediction)
        && let Some(id) = id_echo(event, prediction)
    {
        let _ = writeln!(
            out,
            "\n# The event's {id} came back in its prediction.\n[contract.id]\nevent = {}\nprediction = {}",
            quoted(&id),
            quoted(&id)
        );
    }
    let with_expected = options.samples.iter().all(|s| s.expected.is_some());
    if with_expected {
        let pairs: Vec<(&Value, Option<&Value>)> = options
            .samples
            .iter()
            .zip(singles.iter().map(Some).chain(std::iter::repeat(None)))
            .filter_map(|(sample, outcome)| {
                let prediction = match outcome {
                    Some(Outcome::Success(answer)) => answer.pointer(&pointer),
                    _ => None,
                };
                Some((sample.expected.as_ref()?, prediction))
            })
            .collect();
        let seen = tolerance::compare(&pairs);
        out.push('\n');
        out.push_str(&seen.render(n));
        warnings.extend(seen.summary());
    } else {
        for place in prediction.map(float_places).unwrap_or_default() {
            let _ = writeln!(
                out,
                "\n# {} holds fractional numbers, compared exactly by default. After the first\n\
                 # `verify`, golden-replay says the largest |diff| per field: give it a tolerance\n\
                 # above that (or give init expected answers, see `golden import`), e.g.\n\
                 # [[contract.field]]\n# expected = {}\n# abs = 1e-9",
                if place.is_empty() {
                    "The prediction"
                } else {
                    place.as_str()
                },
                quoted(&place)
            );
        }
    }
    render_errors(&mut out, answers.probes);
    out.push_str("\n[provenance]\n");
    render_model(&mut out, model);
    out.push_str("\n[goldens]\n");
    let events = options.events_file.display();
    let import = match (goldens, model) {
        (Some((cases, _)), Some(found)) => format!(
            "Written by init from the {cases} cases of {events} as `lambda-gate golden \
             import {events} --model {}` writes them (model_sha256: that file's sha256).",
            found.file.path.display()
        ),
        _ if with_expected => format!(
            "TODO: write them from the events file: `lambda-gate golden import {events} \
             --model PATH` (PATH: the model file the expected answers come from), or run \
             `init --model PATH` again."
        ),
        _ => "TODO: write them with `lambda-gate golden import FILE --model PATH` (see the \
              README)."
            .to_owned(),
    };
    comment(&mut out, &import);
    let _ = writeln!(out, "dir = {}", quoted(GOLDENS_DIR));
    Written {
        text: out,
        warnings,
        goldens: None,
    }
}

/// `[provenance] model`: the file of the image with the sha256 of `--model`'s file, or a
/// TODO saying why there is none.
fn render_model(out: &mut String, model: Option<&ModelFound<'_>>) {
    let Some(found) = model else {
        comment(
            out,
            "TODO: the model file's absolute path in the image; its sha256 must be the \
             goldens' model_sha256. `init --model PATH` finds it by PATH's sha256.",
        );
        out.push_str("model = \"/TODO/model\"\n");
        return;
    };
    let given = found.file.path.display();
    let sha = &found.file.sha256;
    match found.in_image.as_slice() {
        [] => {
            comment(
                out,
                &format!(
                    "TODO: no file in the image has the sha256 of {given} (--model), {sha}: \
                     the image does not hold that model. Put the model file's absolute path \
                     in the image here; its sha256 must be the goldens' model_sha256."
                ),
            );
            out.push_str("model = \"/TODO/model\"\n");
        }
        [first, others @ ..] => {
            let mut text = format!(
                "Found by content: {first} is the file in the image with the sha256 of \
                 {given} (--model), {sha}."
            );
            if !others.is_empty() {
                text.push_str(&format!(
                    " The same content is also at {}.",
                    others.join(", ")
                ));
            }
            comment(out, &text);
            let _ = writeln!(out, "model = {}", quoted(first));
        }
    }
}

/// `max_size` for an image over the gate's default budget: a tenth above its size, rounded
/// up to 100 MiB, so that the gate catches growth rather than the image as it is.
fn render_max_size(out: &mut String, size: u64) {
    const STEP: u64 = 100 * 1024 * 1024;
    let default = crate::spec::DEFAULT_MAX_IMAGE_SIZE;
    let human = crate::units::human_bytes;
    if size <= default {
        comment(
            out,
            &format!(
                "The image is {} uncompressed, within the default budget (max_size) of {}.",
                human(size),
                human(default)
            ),
        );
        return;
    }
    let budget = (size + size / 10).div_ceil(STEP) * STEP;
    comment(
        out,
        &format!(
            "The image is {} uncompressed, over the default budget of {}: this budget, a \
             tenth above it rounded up to 100 MiB, catches its growth (Lambda allows 10 GB).",
            human(size),
            human(default)
        ),
    );
    let _ = writeln!(out, "max_size = \"{}MiB\"", budget / (1024 * 1024));
}

/// The comment on `request`: how it was decided.
fn render_request(out: &mut String, warnings: &mut Vec<String>, answers: &Answers<'_>, n: usize) {
    let found = match answers.from {
        RequestFrom::Flag => {
            out.push_str("# Given with --request.\n");
            return;
        }
        RequestFrom::Inferred(found) => found,
    };
    let tried: Vec<String> = found
        .ruled_out
        .iter()
        .map(|(shape, answer)| format!("{} was answered {answer}", request::describe(shape)))
        .collect();
    if found.answered {
        let mut text = format!(
            "Inferred: each of the {n} sample events sent as {} was answered with a \
             prediction",
            request::describe(&found.template)
        );
        if !tried.is_empty() {
            text.push_str(&format!(" (tried first: {})", tried.join("; ")));
        }
        text.push_str(". `init --request TEMPLATE` overrides it.");
        comment(out, &text);
        return;
    }
    comment(
        out,
        &format!(
            "TODO: no request shape was answered with a prediction for all {n} sample events: \
             {}. Put the request here, or pass `init --request TEMPLATE`, e.g. \
             '{{\"records\": [\"$event\"]}}'.",
            tried.join("; ")
        ),
    );
    warnings.push(format!(
        "no request shape tried was answered with a prediction for all {n} events: \
         pass --request (see the spec's TODO)"
    ));
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
    out.push_str("\n[errors]\n");
    comment(
        out,
        &format!("The function's answers: {}.", seen.join(", ")),
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
        assert_eq!(prediction_pointer(&answer, "\"$event\""), "/predictions/0");
        assert_eq!(prediction_pointer(&json!([0.1, 0.9]), "\"$event\""), "");
        assert_eq!(
            prediction_pointer(&json!([[0.1, 0.9]]), "[\"$event\"]"),
            "/0"
        );
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

    #[test]
    fn the_models_path_is_the_image_file_with_its_sha256_or_a_todo_saying_none_has_it() {
        let sha = "ab".repeat(32);
        let found = |in_image: &[&str]| ModelFound {
            file: ModelFile {
                path: Path::new("models/artifacts/model.json"),
                sha256: sha.clone(),
                size: 10,
            },
            in_image: in_image.iter().map(|p| (*p).to_owned()).collect(),
        };
        let render = |model: Option<&ModelFound<'_>>| {
            let mut out = String::new();
            render_model(&mut out, model);
            assert!(out.lines().all(|l| l.len() <= 80), "{out}");
            out
        };
        let out = render(Some(&found(&["/var/task/model/model.json"])));
        assert!(
            out.ends_with("model = \"/var/task/model/model.json\"\n"),
            "{out}"
        );
        assert!(!out.contains("TODO"), "{out}");
        assert!(
            out.replace("\n# ", " ").contains(&format!(
                "# Found by content: /var/task/model/model.json is the file in the image with \
                 the sha256 of models/artifacts/model.json (--model), {sha}."
            )),
            "{out}"
        );
        let out = render(Some(&found(&["/a/model.json", "/b/model.json"])));
        assert!(out.ends_with("model = \"/a/model.json\"\n"), "{out}");
        assert!(out.contains("also at /b/model.json."), "{out}");
        let out = render(Some(&found(&[])));
        assert!(out.ends_with("model = \"/TODO/model\"\n"), "{out}");
        assert!(
            out.replace("\n# ", " ").contains(
                "TODO: no file in the image has the sha256 of models/artifacts/model.json"
            ),
            "{out}"
        );
        let out = render(None);
        assert!(out.contains("`init --model PATH` finds it"), "{out}");
    }

    #[test]
    fn init_proposes_a_budget_above_an_image_over_the_default() {
        let mut out = String::new();
        // The Python example's image.
        render_max_size(&mut out, 1_030_225_920);
        assert!(out.ends_with("max_size = \"1100MiB\"\n"), "{out}");
        assert!(
            out.contains("# The image is 982.5 MiB uncompressed"),
            "{out}"
        );
        assert!(out.lines().all(|l| l.len() <= 80), "{out}");
        let mut out = String::new();
        render_max_size(&mut out, 20 * 1024 * 1024);
        assert!(!out.contains("max_size ="), "{out}");
    }
}
