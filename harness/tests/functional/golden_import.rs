//! `golden import`: a team's own cases into the golden files, read back as the same cases.
//! The classifier fixture's goldens, turned into an import file, must come back byte for byte
//! (so the manifest's `inputs_sha256` is the fixture's own) and pass `golden check`.

use crate::support::*;
use serde_json::value::RawValue;
use std::path::Path;

#[derive(serde::Deserialize)]
struct Input {
    case_id: String,
    tags: Vec<String>,
    event: Box<RawValue>,
}

#[derive(serde::Deserialize)]
struct Expected {
    case_id: String,
    prediction: serde_json::Value,
}

#[derive(serde::Serialize)]
struct ImportLine<'a> {
    case_id: &'a str,
    tags: &'a [String],
    event: &'a RawValue,
    expected: &'a serde_json::Value,
}

fn lines<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn golden(project: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    output(
        cli()
            .current_dir(project)
            .arg("golden")
            .args(args)
            .env_remove("CI")
            .env_remove("LAMBDA_GATE_CONFIG"),
    )
}

#[test]
fn an_import_round_trips_to_the_fixtures_goldens() {
    let fixture = workspace().join("harness/fixtures/classifier");
    let inputs: Vec<Input> = lines(&fixture.join("golden/inputs.jsonl"));
    let expected: Vec<Expected> = lines(&fixture.join("golden/expected.jsonl"));
    let mut file = String::new();
    for (input, answer) in inputs.iter().zip(&expected) {
        assert_eq!(input.case_id, answer.case_id);
        let line = ImportLine {
            case_id: &input.case_id,
            tags: &input.tags,
            event: &input.event,
            expected: &answer.prediction,
        };
        file.push_str(&serde_json::to_string(&line).unwrap());
        file.push('\n');
    }
    let project = tempfile::tempdir().unwrap();
    std::fs::write(project.path().join("cases.jsonl"), file).unwrap();
    let model = workspace().join("golden/corpus/ctr_multiclass_str/model.json");
    let spec = std::fs::read_to_string(fixture.join("lambda-gate.toml"))
        .unwrap()
        .replace("dir = \"golden\"", "dir = \"imported\"")
        .replace(
            "\"../../../golden/corpus/ctr_multiclass_str/model.json\"",
            &format!("\"{}\"", model.display()),
        );
    std::fs::write(project.path().join("lambda-gate.toml"), spec).unwrap();

    // With CI set, like every golden command, it writes nothing.
    let (code, _, stderr) = output(
        cli()
            .current_dir(project.path())
            .args(["golden", "import", "cases.jsonl"])
            .env("CI", "true")
            .env_remove("LAMBDA_GATE_CONFIG"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("CI is set"), "{stderr}");
    assert!(!project.path().join("imported").exists());

    let (code, stdout, stderr) = golden(project.path(), &["import", "cases.jsonl"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with(&format!("imported {} cases into ", inputs.len())),
        "{stdout}"
    );
    let imported = project.path().join("imported");
    assert_eq!(
        std::fs::read(imported.join("inputs.jsonl")).unwrap(),
        std::fs::read(fixture.join("golden/inputs.jsonl")).unwrap(),
        "the events come back byte for byte"
    );
    let theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.join("golden/manifest.json")).unwrap())
            .unwrap();
    let ours: serde_json::Value =
        serde_json::from_slice(&std::fs::read(imported.join("manifest.json")).unwrap()).unwrap();
    for key in ["cases", "inputs_sha256", "model_sha256"] {
        assert_eq!(ours[key], theirs[key], "{key}");
    }
    let back: Vec<Expected> = lines(&imported.join("expected.jsonl"));
    assert_eq!(back.len(), expected.len());
    for (a, b) in back.iter().zip(&expected) {
        assert_eq!((&a.case_id, &a.prediction), (&b.case_id, &b.prediction));
    }
    let (code, stdout, stderr) = golden(project.path(), &["check"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("goldens are current"), "{stdout}");

    // A second import would replace them: refused without --force, done with it.
    let (code, _, stderr) = golden(project.path(), &["import", "cases.jsonl"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("pass --force"), "{stderr}");
    let (code, _, stderr) = golden(project.path(), &["import", "cases.jsonl", "--force"]);
    assert_eq!(code, Some(0), "{stderr}");
}
