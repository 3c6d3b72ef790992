//! `catboost-compile`: compiles a CatBoost JSON export into the binary form that
//! `Model::load_compiled` reads without parsing (see the crate's README).
//!
//! The output is the same bytes for the same input on every machine and every run, so an
//! image build can produce it and a gate can check it byte for byte.

use anyhow::{Context, Result};
use catboost_eval::Model;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

/// Compile a CatBoost JSON model export into catboost-eval's binary form.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// The model, as exported by CatBoost's `save_model(path, format="json")`.
    #[arg(long)]
    model: PathBuf,
    /// Where to write the compiled model.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catboost-compile: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let json = std::fs::read(&args.model)
        .with_context(|| format!("cannot read model {}", args.model.display()))?;
    let model = Model::from_json(&json)
        .with_context(|| format!("cannot compile model {}", args.model.display()))?;
    std::fs::write(&args.out, model.to_compiled())
        .with_context(|| format!("cannot write {}", args.out.display()))?;
    Ok(())
}
