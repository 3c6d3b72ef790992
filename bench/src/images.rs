//! The two Lambda images of the same model, side by side through the same pinned RIE: the Rust
//! function (`Dockerfile`, compiled model) and the Python function
//! (`examples/python-function/`, catboost + pandas + awslambdaric), each built for the shipped
//! model and for the 2,000-tree depth-8 model, all native x86_64.

use crate::init::BenchModel;
use crate::rie::{self, RieNumbers};
use anyhow::{Context, Result};
use harness::{Arch, Overrides, Progress, Spec};
use std::path::{Path, PathBuf};

/// One image under test.
pub(crate) struct Image {
    pub(crate) size_bytes: u64,
    pub(crate) numbers: RieNumbers,
}

/// The Rust and the Python image of one model.
pub(crate) struct Pair {
    pub(crate) model: &'static str,
    pub(crate) rust: Image,
    pub(crate) python: Image,
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(from, to).with_context(|| format!("copying {}", from.display()))?;
    Ok(())
}

/// The spec file `path` for x86_64 with `image` taken instead of built, when given.
fn spec(path: &Path, image: Option<String>) -> Result<Spec> {
    let overrides = Overrides {
        arch: Some(Arch::X86_64),
        image,
        ..Overrides::default()
    };
    Ok(Spec::load_with(path, &overrides)?)
}

/// Builds the image of the spec file `spec_path` from `dockerfile` in `context` (made here)
/// instead of its own: the spec's `[image]` edited as written, the rest as it is.
fn build_from(
    spec_path: &Path,
    dockerfile: PathBuf,
    context: &Path,
    repository: &str,
) -> Result<String> {
    let mut table: toml::Table = std::fs::read_to_string(spec_path)?.parse()?;
    let image = table
        .get_mut("image")
        .and_then(toml::Value::as_table_mut)
        .context("the spec has no [image]")?;
    image.remove("before");
    image.insert(
        "dockerfile".to_owned(),
        dockerfile.display().to_string().into(),
    );
    image.insert("context".to_owned(), context.display().to_string().into());
    image.insert("repository".to_owned(), repository.into());
    let root = spec_path.parent().context("the spec's directory")?;
    let overrides = Overrides {
        arch: Some(Arch::X86_64),
        ..Overrides::default()
    };
    let spec = Spec::parse_with(&table.to_string(), spec_path, root, &overrides)?;
    harness::build(&spec, &Progress::stderr())?.context("the spec builds no image")
}

/// Measures `reference` started as the spec file `spec_path` says.
fn measure(ws: &Path, spec_path: &Path, reference: String) -> Result<Image> {
    let facts = harness::inspect_image(&reference, None)?;
    eprintln!("==> {reference} under the RIE");
    let numbers = rie::measure(&spec(spec_path, Some(reference))?, ws)?;
    Ok(Image {
        size_bytes: facts.size_bytes(),
        numbers,
    })
}

/// Builds and measures both images for every model.
pub(crate) fn pairs(ws: &Path, scratch: &Path, models: &[BenchModel]) -> Result<Vec<Pair>> {
    let rust_spec = ws.join("lambda-gate.toml");
    let python_spec = ws.join("examples/python-function/lambda-gate.toml");
    // The specs' own builds first: the Rust bootstrap for x86_64, the Python base image.
    for path in [&rust_spec, &python_spec] {
        harness::build(&spec(path, None)?, &Progress::stderr())?;
    }
    let bootstrap = crate::target_dir()
        .join(Arch::X86_64.rust_target())
        .join("release/bootstrap");
    let mut out = Vec::new();
    for (i, model) in models.iter().enumerate() {
        // The Rust image: bootstrap and the compiled model where the Dockerfile copies them.
        let rust_context = scratch.join(format!("rust-{i}"));
        copy(
            &bootstrap,
            &rust_context.join("target/lambda/bootstrap/bootstrap"),
        )?;
        copy(
            &model.compiled_dir.join("model.compiled"),
            &rust_context.join("target/lambda/model/model.compiled"),
        )?;
        for file in ["feature_set.json", "metadata.json"] {
            copy(
                &model.compiled_dir.join(file),
                &rust_context.join("models/artifacts").join(file),
            )?;
        }
        let rust = build_from(
            &rust_spec,
            ws.join("Dockerfile"),
            &rust_context,
            "bench-rust",
        )?;
        // The Python image: the function's files and the model export it serves.
        let python_context = scratch.join(format!("python-{i}"));
        for file in [
            "examples/python-function/Dockerfile",
            "examples/python-function/pyproject.toml",
            "examples/python-function/poetry.lock",
            "examples/python-function/handler.py",
            "models/features.py",
        ] {
            copy(&ws.join(file), &python_context.join(file))?;
        }
        let source = model.cbm.parent().context("the model's directory")?;
        for file in ["model.json", "feature_set.json", "metadata.json"] {
            copy(
                &source.join(file),
                &python_context.join("models/artifacts").join(file),
            )?;
        }
        let python = build_from(
            &python_spec,
            python_context.join("examples/python-function/Dockerfile"),
            &python_context,
            "bench-python",
        )?;
        out.push(Pair {
            model: model.label,
            rust: measure(ws, &rust_spec, rust)?,
            python: measure(ws, &python_spec, python)?,
        });
    }
    Ok(out)
}
