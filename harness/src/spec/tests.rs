//! The spec's validation: defaults, strictness, and each mistake named by its key.

use super::*;
use crate::spec::validate::parse_size;

const MINIMAL: &str = r#"
[function]
name = "f"
architecture = "x86_64"

[image]
reference = "f:latest"

[contract]

[errors]
function = ["BadInput"]

[provenance]
model = "/var/task/model.json"

[goldens]
dir = "golden"
"#;

fn parse(text: &str) -> Result<Spec, SpecError> {
    Spec::parse(text, Path::new("lambda-gate.toml"), Path::new("/p"))
}

/// `text` parsed with `--image reference`.
fn parse_with_image(text: &str, reference: &str) -> Result<Spec, SpecError> {
    let overrides = Overrides {
        image: Some(reference.to_owned()),
        ..Overrides::default()
    };
    Spec::parse_with(
        text,
        Path::new("lambda-gate.toml"),
        Path::new("/p"),
        &overrides,
    )
}

#[test]
fn a_minimal_spec_gets_the_defaults() {
    let spec = parse(MINIMAL).unwrap();
    assert_eq!(spec.function.memory_mb, 1024);
    assert_eq!(
        spec.function.max_concurrency, 1,
        "one request at a time, as classic Lambda"
    );
    assert_eq!(spec.contract.request.render(b"[1]"), b"[1]");
    assert_eq!(spec.contract.prediction, "");
    assert!(spec.contract.batch.is_none());
    assert_eq!(spec.goldens.dir, Path::new("/p/golden"));
    assert!(
        !spec.generated.regressions.starts_with("/p"),
        "regressions stay out of the project: {}",
        spec.generated.regressions.display()
    );
}

#[test]
fn an_unknown_key_is_named_with_the_keys_allowed() {
    let text = MINIMAL.replace("name = \"f\"", "name = \"f\"\nmemory = 512");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("unknown field `memory`"), "{err}");
    assert!(err.contains("`memory_mb`"), "{err}");
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn an_unknown_architecture_lists_the_allowed_ones() {
    let text = MINIMAL.replace("x86_64", "ppc64le");
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("ppc64le") && err.contains("arm64"), "{err}");
}

#[test]
fn templates_need_their_placeholder_once() {
    let text = MINIMAL.replace(
        "[contract]",
        "[contract]\nrequest = '{\"records\": [\"$event\"]}'",
    );
    let spec = parse(&text).unwrap();
    assert_eq!(
        spec.contract.request.render(br#"{"a":1}"#),
        br#"{"records": [{"a":1}]}"#
    );
    let text = MINIMAL.replace("[contract]", "[contract]\nrequest = '{\"records\": []}'");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.contains("`contract.request`") && err.contains("exactly once"),
        "{err}"
    );
    let text = MINIMAL.replace(
        "[contract]",
        "[contract]\nrequest = '{\"records\": [\"$event\"]'",
    );
    let err = parse(&text).unwrap_err().to_string();
    assert!(err.contains("not JSON"), "{err}");
}

#[test]
fn semantic_mistakes_name_the_key() {
    let cases = [
        ("name = \"f\"", "name = \"f g\"", "function.name"),
        (
            "architecture = \"x86_64\"",
            "architecture = \"x86_64\"\nmemory_mb = 64",
            "function.memory_mb",
        ),
        (
            "architecture = \"x86_64\"",
            "architecture = \"x86_64\"\nmax_concurrency = 0",
            "function.max_concurrency",
        ),
        (
            "architecture = \"x86_64\"",
            "architecture = \"x86_64\"\nmax_concurrency = 1601",
            "function.max_concurrency",
        ),
        (
            "architecture = \"x86_64\"",
            "architecture = \"x86_64\"\nenvironment = { AWS_LAMBDA_MAX_CONCURRENCY = \"4\" }",
            "function.environment.AWS_LAMBDA_MAX_CONCURRENCY",
        ),
        (
            "architecture = \"x86_64\"",
            "architecture = \"x86_64\"\nenvironment = { AWS_REGION = \"x\" }",
            "function.environment.AWS_REGION",
        ),
        (
            "function = [\"BadInput\"]",
            "function = [\"BadInput\"]\nruntime = [\"Runtime.ExitError\"]",
            "errors.runtime",
        ),
        (
            "[contract]",
            "[contract]\nprediction = \"predictions/0\"",
            "contract.prediction",
        ),
        (
            "[contract]",
            "[contract]\nbatch_request = '\"$events\"'",
            "contract.batch_predictions",
        ),
        (
            "[contract]",
            "[contract]\nbatch_request = '\"$events\"'\nbatch_predictions = \"\"\nmax_batch = 1000000000",
            "contract.max_batch",
        ),
        (
            "reference = \"f:latest\"",
            "reference = \"f:latest\"\nmax_size = \"99999999999999999999TiB\"",
            "image.max_size",
        ),
        (
            "[goldens]",
            "[commands]\npass_env = [\"NOT A NAME\"]\n[goldens]",
            "commands.pass_env",
        ),
        (
            "model = \"/var/task/model.json\"",
            "model = \"model.json\"",
            "provenance.model",
        ),
        (
            "reference = \"f:latest\"",
            "reference = \"f:latest\"\ndockerfile = \"Dockerfile\"",
            "image.reference",
        ),
        (
            "reference = \"f:latest\"",
            "reference = \"f:latest\"\nbuild_args = { PY = \"3.12\" }",
            "image.build_args",
        ),
        (
            "reference = \"f:latest\"",
            "dockerfile = \"Dockerfile\"\nbuild_args = { TARGETARCH = \"arm64\" }",
            "image.build_args.TARGETARCH",
        ),
        (
            "reference = \"f:latest\"",
            "dockerfile = \"Dockerfile\"\nbuild_args = { \"1X\" = \"a\" }",
            "image.build_args.1X",
        ),
    ];
    for (from, to, key) in cases {
        let err = parse(&MINIMAL.replace(from, to)).unwrap_err().to_string();
        assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
    }
}

#[test]
fn field_rules_are_read() {
    let text = MINIMAL.replace(
        "[errors]",
        "[[contract.field]]\nexpected = \"/probability\"\nabs = 1e-9\n\n[[contract.field]]\nexpected = \"/raw\"\nignore = true\n\n[errors]",
    );
    let spec = parse(&text).unwrap();
    assert_eq!(spec.contract.fields.len(), 2);
    assert_eq!(spec.contract.fields[0].tolerance.abs, Some(1e-9));
    assert!(spec.contract.fields[1].ignore);
}

#[test]
fn tune_defaults_to_the_usual_sizes_and_no_target() {
    let spec = parse(MINIMAL).unwrap();
    assert_eq!(spec.tune.sizes, DEFAULT_TUNE_SIZES);
    assert_eq!(spec.tune.latency_p99, None);
    assert_eq!(spec.tune.invocations, DEFAULT_TUNE_INVOCATIONS);
}

#[test]
fn tune_is_read_with_its_sizes_in_order() {
    let text = format!(
        "{MINIMAL}\n[tune]\nlatency_p99_ms = 12.5\nsizes = [1024, 128, 10240]\ninvocations = 20\n"
    );
    let spec = parse(&text).unwrap();
    assert_eq!(spec.tune.latency_p99, Some(Duration::from_micros(12_500)));
    assert_eq!(spec.tune.sizes, [128, 1024, 10_240]);
    assert_eq!(spec.tune.invocations, 20);
}

#[test]
fn tune_mistakes_name_the_key_and_what_is_allowed() {
    let with = |body: &str| {
        parse(&format!("{MINIMAL}\n[tune]\n{body}\n"))
            .unwrap_err()
            .to_string()
    };
    let err = with("latency_ms = 10");
    assert!(
        err.contains("unknown field `latency_ms`") && err.contains("`latency_p99_ms`"),
        "{err}"
    );
    let cases = [
        (
            "sizes = [64, 256]",
            "tune.sizes",
            "64 MB: Lambda allows 128 to 10240",
        ),
        ("sizes = [256, 10241]", "tune.sizes", "10241 MB"),
        ("sizes = []", "tune.sizes", "at least one"),
        (
            "sizes = [512, 256, 512]",
            "tune.sizes",
            "512 MB is given twice",
        ),
        ("latency_p99_ms = 0", "tune.latency_p99_ms", "above 0"),
        ("latency_p99_ms = -5.0", "tune.latency_p99_ms", "above 0"),
        ("latency_p99_ms = nan", "tune.latency_p99_ms", "above 0"),
        ("invocations = 0", "tune.invocations", "1 to 10000"),
    ];
    for (body, key, what) in cases {
        let err = with(body);
        assert!(
            err.contains(&format!("`{key}`")) && err.contains(what),
            "{body}: {err}"
        );
    }
}

#[test]
fn overrides_obey_the_files_rules_and_name_their_flag() {
    let with = |overrides: Overrides| {
        Spec::parse_with(
            MINIMAL,
            Path::new("lambda-gate.toml"),
            Path::new("/p"),
            &overrides,
        )
    };
    let err = with(Overrides {
        environment: vec![("AWS_REGION".to_owned(), "eu-west-1".to_owned())],
        ..Overrides::default()
    })
    .unwrap_err()
    .to_string();
    assert_eq!(
        err,
        "lambda-gate.toml: `function.environment.AWS_REGION` (set by --env): Lambda sets this variable itself; a function cannot define it"
    );
    let err = with(Overrides {
        environment: vec![("BIG".to_owned(), "x".repeat(5000))],
        ..Overrides::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("(set by --env)") && err.contains("4 KB"),
        "{err}"
    );
    let err = with(Overrides {
        tune_sizes: Some(vec![64]),
        ..Overrides::default()
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`tune.sizes` (set by --sizes): 64 MB"),
        "{err}"
    );
    let spec = with(Overrides {
        arch: Some(Arch::Arm64),
        image: Some("other:1".to_owned()),
        generated_cases: Some(7),
        ..Overrides::default()
    })
    .unwrap();
    assert_eq!(spec.function.arch, Arch::Arm64);
    assert!(matches!(&spec.image.source, ImageSource::Reference(r) if r == "other:1"));
    assert_eq!(spec.generated.cases, 7);
}

#[test]
fn build_args_are_read_for_a_build() {
    let text = MINIMAL.replace(
        "reference = \"f:latest\"",
        "dockerfile = \"Dockerfile\"\nbuild_args = { PYTHON_VERSION = \"3.12\" }",
    );
    let spec = parse(&text).unwrap();
    let ImageSource::Build(build) = &spec.image.source else {
        panic!("a build: {:?}", spec.image.source);
    };
    assert_eq!(build.build_args["PYTHON_VERSION"], "3.12");
}

#[test]
fn an_image_override_replaces_the_build() {
    let text = MINIMAL.replace(
        "reference = \"f:latest\"",
        "dockerfile = \"Dockerfile\"\nbefore = \"make\"",
    );
    let spec = parse_with_image(&text, "mine:1").unwrap();
    assert!(matches!(&spec.image.source, ImageSource::Reference(r) if r == "mine:1"));
}

#[test]
fn the_architecture_takes_every_spelling_in_the_file_too() {
    for spelling in ["aarch64", "ARM64", "amd64"] {
        let spec = parse(&MINIMAL.replace("\"x86_64\"", &format!("\"{spelling}\""))).unwrap();
        let expected = if spelling == "amd64" {
            Arch::X86_64
        } else {
            Arch::Arm64
        };
        assert_eq!(spec.function.arch, expected, "{spelling}");
    }
}

#[test]
fn sizes_parse_in_every_unit() {
    assert_eq!(parse_size("1048576"), Ok(1_048_576));
    assert_eq!(parse_size("1MiB"), Ok(1_048_576));
    assert!(parse_size("lots").is_err());
    for huge in ["99999999999999999999TiB", "99999999999999999999"] {
        let err = parse_size(huge).unwrap_err();
        assert!(
            err.contains("is not a size") || err.contains("more bytes than"),
            "{huge}: {err}"
        );
    }
}

#[test]
fn contract_may_be_left_out_since_every_key_has_a_default() {
    let spec = parse(&MINIMAL.replace("[contract]\n", "")).unwrap();
    assert_eq!(spec.contract.request.render(b"[1]"), b"[1]");
    assert_eq!(spec.contract.prediction, "");
}

#[test]
fn every_missing_section_and_key_is_reported_in_one_run() {
    // A first spec: [function] without its architecture, [errors], [provenance] and [goldens]
    // not written yet, [contract] left out (it has defaults).
    let text = "[function]\nname = \"f\"\n\n[image]\nreference = \"f:latest\"\n";
    let err = parse(text).unwrap_err();
    assert!(matches!(err, SpecError::Incomplete { .. }), "{err:?}");
    let err = err.to_string();
    assert_eq!(
        err,
        "lambda-gate.toml: 3 sections and 1 key missing:\n  \
         line 1, column 1: [function] needs `architecture`: \"x86_64\" or \"arm64\", the architecture it is deployed with\n  \
         missing section [errors] with `function`: the errorTypes the function answers bad input with, e.g. [\"ValidationError\"]\n  \
         missing section [provenance] with `model`: the model file's absolute path in the image, e.g. \"/var/task/model.cbm\"\n  \
         missing section [goldens] with `dir`: the directory of inputs.jsonl, expected.jsonl and manifest.json, e.g. \"golden\""
    );
}

#[test]
fn missing_keys_are_named_at_their_own_sections() {
    let text = MINIMAL
        .replace("reference = \"f:latest\"", "max_size = \"1GB\"")
        .replace("dir = \"golden\"", "regen = \"make goldens\"")
        .replace(
            "[errors]",
            "[contract.id]\nevent = \"/id\"\n\n[[contract.field]]\nabs = 1e-9\n\n[errors]",
        );
    let err = parse(&text).unwrap_err().to_string();
    let lines: Vec<&str> = err.lines().map(str::trim_start).collect();
    assert_eq!(lines[0], "lambda-gate.toml: 4 keys missing:", "{err}");
    assert!(
        lines[1].starts_with("line 6, column 1: [image] needs `dockerfile` or `reference`: "),
        "{err}"
    );
    assert!(
        lines[2].starts_with("line 11, column 1: [contract.id] needs `prediction`: "),
        "{err}"
    );
    assert!(
        lines[3].starts_with("line 14, column 1: [[contract.field]] needs `expected`: "),
        "{err}"
    );
    assert!(
        lines[4].starts_with("line 23, column 1: [goldens] needs `dir`: "),
        "{err}"
    );
    assert_eq!(lines.len(), 5, "{err}");
}

#[test]
fn an_image_override_stands_for_the_image_section() {
    let text = MINIMAL.replace("[image]\nreference = \"f:latest\"\n", "");
    let err = parse(&text).unwrap_err().to_string();
    assert!(
        err.contains("missing section [image] with `dockerfile` or `reference`"),
        "{err}"
    );
    let spec = parse_with_image(&text, "mine:1").unwrap();
    assert!(matches!(&spec.image.source, ImageSource::Reference(r) if r == "mine:1"));
}

#[test]
fn a_toml_syntax_error_is_still_the_parsers_message() {
    let err = parse("[function\nname = 1").unwrap_err();
    assert!(matches!(err, SpecError::Syntax { .. }), "{err:?}");
}

#[test]
fn drift_is_read_with_its_model_and_outputs_or_its_echo() {
    let spec = parse(&format!(
        "{MINIMAL}\n[drift]\nmodel = \"models/model.json\"\n[drift.output]\nprobability = \"/probability\"\n"
    ))
    .unwrap();
    let drift = spec.drift.unwrap();
    assert_eq!(
        drift.model.as_deref(),
        Some(Path::new("/p/models/model.json"))
    );
    assert_eq!(drift.output.probability.as_deref(), Some("/probability"));
    assert!(drift.echo.is_none());
    let spec = parse(&format!(
        "{MINIMAL}\n[drift.echo]\nrequest = '{{\"echo\": \"$event\"}}'\nfeatures = \"/features\"\nabs = 1e-9\n"
    ))
    .unwrap();
    let echo = spec.drift.unwrap().echo.unwrap();
    assert_eq!(echo.features, "/features");
    assert_eq!(echo.tolerance.abs, Some(1e-9));
    assert!(parse(MINIMAL).unwrap().drift.is_none());
}

#[test]
fn drift_mistakes_name_the_key() {
    let cases = [
        ("[drift]\nmodel = \"m.json\"\n", "`drift.output`"),
        ("[drift.output]\nraw = \"/raw\"\n", "`drift.model`"),
        ("[drift]\n", "`drift`: needs `model`"),
        (
            "[drift]\nmodel = \"m.json\"\n[drift.output]\nraw = \"raw\"\n",
            "`drift.output.raw`",
        ),
        (
            "[drift.echo]\nrequest = '{}'\nfeatures = \"/f\"\n",
            "`drift.echo.request`",
        ),
        (
            "[drift.echo]\nrequest = '\"$event\"'\nfeatures = \"/f\"\nrel = -1\n",
            "`drift.echo.rel`",
        ),
        (
            "[drift]\nmodel = \"m.json\"\n[drift.output]\nraw = \"/raw\"\n[drift.echo]\nrequest = '\"$event\"'\nfeatures = \"/f\"\n",
            "`drift.echo`: give `model` or `[drift.echo]`, not both",
        ),
    ];
    for (section, key) in cases {
        let e = parse(&format!("{MINIMAL}\n{section}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{section}: {e}");
    }
}
