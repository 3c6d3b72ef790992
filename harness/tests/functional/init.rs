//! `lambda-gate init` on functions with different contracts: the classifier fixture (the
//! event is the body, a bare list answered, no batches) goes from `init` to a passing `verify`
//! by filling in only what the written spec marks TODO; the reference function's contract (a
//! wrapped request, batches, an id and a model sha256 echoed) is inferred as its hand-written
//! spec states it, the request included; the Python example, given its events with their
//! expected answers and its model file, is one `init` and one `verify` to a passing gate:
//! `init` infers the request, the tolerance and the ignored field, finds the model in the image
//! by its sha256 and writes the goldens as `golden import` does, and no hand edit follows.

use crate::support::*;
use harness::{Arch, Spec};
use serde_json::value::RawValue;
use std::path::Path;

const CLASSIFIER: &str = "harness/fixtures/classifier";

/// The first `n` golden events of `dir`, one JSON text a line.
fn events(dir: &Path, n: usize) -> String {
    #[derive(serde::Deserialize)]
    struct Input {
        event: Box<RawValue>,
    }
    std::fs::read_to_string(dir.join("inputs.jsonl"))
        .unwrap()
        .lines()
        .take(n)
        .map(|l| {
            serde_json::from_str::<Input>(l)
                .unwrap()
                .event
                .get()
                .to_owned()
                + "\n"
        })
        .collect()
}

/// The spec's text with its comments' wrapped lines joined, to find a sentence in them.
fn flat(text: &str) -> String {
    text.replace("\n# ", " ")
}

fn init(project: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    output(
        cli()
            .current_dir(project)
            .args(["-q", "init", "--events", "events.jsonl", "--arch", "x86_64"])
            .args(args)
            .env_remove("CI")
            .env_remove("LAMBDA_GATE_CONFIG"),
    )
}

#[test]
fn init_then_the_todos_give_the_classifier_a_passing_gate() {
    let _serial = serial();
    let image = build(&format!("{CLASSIFIER}/lambda-gate.toml"), Arch::X86_64);
    let fixture = workspace().join(CLASSIFIER);
    let p = tempfile::tempdir().unwrap();
    std::fs::write(
        p.path().join("events.jsonl"),
        events(&fixture.join("golden"), 5),
    )
    .unwrap();
    // A model file the image does not hold: the model's path stays a TODO that says so.
    std::fs::write(p.path().join("other-model.json"), "{}").unwrap();
    let (code, stdout, stderr) = init(
        p.path(),
        &[
            "--image",
            &image,
            "--name",
            "classifier",
            "--model",
            "other-model.json",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let path = p.path().join("lambda-gate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    for line in [
        "request = '\"$event\"'",
        "prediction = \"\"",
        "function = [\"ValidationError\"]",
        "# expected = \"\"",
        "TODO: no file in the image has the sha256 of other-model.json (--model), \
         44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a: the image does not \
         hold that model.",
        "model = \"/TODO/model\"",
    ] {
        assert!(
            text.contains(line) || flat(&text).contains(line),
            "{line}:\n{text}"
        );
    }
    assert!(!text.contains("batch_request"), "{text}");
    // It is a spec as written: it loads.
    Spec::load(&path).unwrap_or_else(|e| panic!("{e}\n{text}"));

    // Never over an existing spec without --force.
    let (code, _, stderr) = init(p.path(), &["--image", &image]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pass --force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);

    // The TODOs, as their comments say: the model's path, the goldens (imported as the bare
    // lists this function answers), and the tolerance the comment proposes.
    let text = text.replace(
        "model = \"/TODO/model\"",
        "model = \"/opt/model/model.json\"",
    ) + "\n[[contract.field]]\nexpected = \"\"\nabs = 1e-9\n";
    std::fs::write(&path, text).unwrap();
    let inputs = std::fs::read_to_string(fixture.join("golden/inputs.jsonl")).unwrap();
    let expected = std::fs::read_to_string(fixture.join("golden/expected.jsonl")).unwrap();
    let mut cases = String::new();
    for (input, answer) in inputs.lines().zip(expected.lines()) {
        let input: serde_json::Value = serde_json::from_str(input).unwrap();
        let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
        let line = serde_json::json!({
            "case_id": input["case_id"],
            "event": input["event"],
            "expected": answer["prediction"]["probability"],
        });
        cases.push_str(&format!("{line}\n"));
    }
    std::fs::write(p.path().join("cases.jsonl"), cases).unwrap();
    let model = workspace().join("golden/corpus/ctr_multiclass_str/model.json");
    let (code, _, stderr) = output(
        cli()
            .current_dir(p.path())
            .args(["golden", "import", "cases.jsonl", "--model"])
            .arg(&model)
            .env_remove("CI")
            .env_remove("LAMBDA_GATE_CONFIG"),
    );
    assert_eq!(code, Some(0), "{stderr}");
    let scratch = tempfile::tempdir().unwrap();
    let spec = Spec::load_with(&path, &quick(Arch::X86_64, 50, scratch.path())).unwrap();
    assert_all_pass(&run(spec));
}

#[test]
fn init_infers_the_reference_functions_contract_as_its_spec_states_it() {
    let _serial = serial();
    let image = build("lambda-gate.toml", Arch::X86_64);
    let p = tempfile::tempdir().unwrap();
    std::fs::write(
        p.path().join("events.jsonl"),
        events(&workspace().join("golden"), 5),
    )
    .unwrap();
    let (code, stdout, stderr) = init(p.path(), &["--image", &image, "--name", "loan-grade"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let text = std::fs::read_to_string(p.path().join("lambda-gate.toml")).unwrap();
    // What the hand-written lambda-gate.toml says about the contract, found from the answers:
    // the request too, after the event as the body was answered with an error naming
    // `records`.
    for line in [
        "request = '{\"records\": [\"$event\"]}'",
        "# Inferred: each of the 5 sample events sent as '{\"records\": [\"$event\"]}'",
        "the event as the body was answered InvalidPayload",
        "prediction = \"/predictions/0\"",
        "batch_request = '{\"records\": \"$events\"}'",
        "batch_predictions = \"/predictions\"",
        "echo_model_sha256 = \"/model_sha256\"",
        "[contract.id]\nevent = \"/id\"\nprediction = \"/id\"",
        "# expected = \"/probability\"",
        "function = [\"InvalidPayload\"]",
    ] {
        assert!(
            text.contains(line) || flat(&text).contains(line),
            "{line}:\n{text}"
        );
    }
    Spec::load(&p.path().join("lambda-gate.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));

    // --request overrides the inference, and the comment says so.
    let (code, stdout, stderr) = init(
        p.path(),
        &[
            "--image",
            &image,
            "--force",
            "--request",
            r#"{"records": ["$event"], "debug": false}"#,
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let text = std::fs::read_to_string(p.path().join("lambda-gate.toml")).unwrap();
    assert!(
        text.contains(
            "# Given with --request.\nrequest = '{\"records\": [\"$event\"], \"debug\": false}'"
        ),
        "{text}"
    );
}

/// `n` golden cases of the repository as `golden import` reads them: the event with the
/// training-time answer expected for it.
fn cases(n: usize) -> String {
    let golden = workspace().join("golden");
    let inputs = std::fs::read_to_string(golden.join("inputs.jsonl")).unwrap();
    let expected = std::fs::read_to_string(golden.join("expected.jsonl")).unwrap();
    let mut cases = String::new();
    for (input, answer) in inputs.lines().zip(expected.lines()).take(n) {
        let input: serde_json::Value = serde_json::from_str(input).unwrap();
        let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
        assert_eq!(input["case_id"], answer["case_id"]);
        let line = serde_json::json!({
            "case_id": input["case_id"],
            "event": input["event"],
            "expected": answer["prediction"],
        });
        cases.push_str(&format!("{line}\n"));
    }
    cases
}

#[test]
fn one_init_with_the_model_and_one_verify_pass_on_the_python_function() {
    let _serial = serial();
    let image = build("examples/python-function/lambda-gate.toml", Arch::X86_64);
    let p = tempfile::tempdir().unwrap();
    std::fs::write(p.path().join("events.jsonl"), cases(20)).unwrap();
    // The model file as trained, on this machine.
    let model = workspace().join("models/artifacts/model.json");
    let model_arg = model.display().to_string();
    let (code, stdout, stderr) = init(
        p.path(),
        &[
            "--image",
            &image,
            "--name",
            "loan-grade-py",
            "--model",
            &model_arg,
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let path = p.path().join("lambda-gate.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    for line in [
        "request = '{\"records\": [\"$event\"]}'",
        "prediction = \"/predictions/0\"",
        "batch_request = '{\"records\": \"$events\"}'",
        "echo_model_sha256 = \"/model_sha256\"",
        "[contract.id]\nevent = \"/id\"\nprediction = \"/id\"",
        // The goldens' raw score is the training side's own record: not in the answers.
        "# The expected answers hold /raw, the predictions do not: it is not compared.\n\
         [[contract.field]]\nexpected = \"/raw\"\nignore = true\n",
        "# largest |diff| seen ",
        "function = [\"InvalidPayload\"]",
        "runtime = [\"Runtime.UnmarshalError\"]",
    ] {
        assert!(
            text.contains(line) || flat(&text).contains(line),
            "{line}:\n{text}"
        );
    }
    // The tolerance proposed for /probability is above what was seen, by its own comment.
    let table: toml::Table = text.parse().unwrap();
    let fields = table["contract"]["field"].as_array().unwrap();
    let probability = fields
        .iter()
        .find(|f| f["expected"].as_str() == Some("/probability"))
        .unwrap_or_else(|| panic!("no tolerance for /probability:\n{text}"));
    let abs = probability["abs"].as_float().unwrap();
    assert!(abs > 0.0 && abs <= 1e-6, "{abs}\n{text}");
    assert!(
        !text.contains("expected = \"/class\""),
        "integers: exact\n{text}"
    );
    // Over the default budget of 256 MiB: a budget above its size.
    assert!(text.contains("\nmax_size = \""), "{text}");
    // Every comment fits 80 columns.
    assert!(
        text.lines()
            .filter(|l| l.starts_with('#'))
            .all(|l| l.len() <= 80),
        "{text}"
    );

    // The model, found in the image by the sha256 of the file it was trained into, and the
    // goldens, written from the events file with that file as their model.
    for line in [
        "Found by content: /var/task/model/model.json is the file in the image with the \
         sha256 of",
        "model = \"/var/task/model/model.json\"",
        "Written by init from the 20 cases of events.jsonl as `lambda-gate golden \
         import events.jsonl --model",
        "dir = \"golden\"",
    ] {
        assert!(
            text.contains(line) || flat(&text).contains(line),
            "{line}:\n{text}"
        );
    }
    assert!(stdout.contains("imported 20 cases into"), "{stdout}");
    // The one TODO left is max_batch, written as a value verify takes as it is (the most
    // events init sent in one request), for the team to raise to the function's own limit.
    let todos: Vec<&str> = text.lines().filter(|l| l.contains("TODO:")).collect();
    assert_eq!(
        todos,
        ["max_batch = 20  # TODO: the most events the function takes in one request"],
        "{text}"
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(p.path().join("golden/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["cases"], 20);

    // Then one `verify`, the spec and goldens as init wrote them: every check passes.
    let reports = tempfile::tempdir().unwrap();
    let (code, stdout, stderr) = output(
        cli()
            .current_dir(p.path())
            .args(["verify", "--generated-cases", "50", "--report-dir"])
            .arg(reports.path())
            .env_remove("CI")
            .env_remove("LAMBDA_GATE_CONFIG"),
    );
    eprintln!("{stdout}");
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(reports.path().join("gate-x86_64.json")).expect("the JSON report"),
    )
    .unwrap();
    assert_eq!(report["verdict"], "passed", "{report}");
    let checks: Vec<(&str, &str)> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    let all: Vec<(&str, &str)> = harness::CheckId::VERIFY
        .iter()
        .map(|c| (c.name(), "passed"))
        .collect();
    assert_eq!(checks, all, "{stdout}");

    // Goldens that are there stay there: init without --force refuses before it starts
    // anything, and names them.
    std::fs::remove_file(&path).unwrap();
    let before = std::fs::read(p.path().join("golden/expected.jsonl")).unwrap();
    let (code, _, stderr) = init(p.path(), &["--image", &image, "--model", &model_arg]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("golden/inputs.jsonl") && stderr.contains("pass --force"),
        "{stderr}"
    );
    assert!(!path.exists());
    assert_eq!(
        std::fs::read(p.path().join("golden/expected.jsonl")).unwrap(),
        before
    );
}
