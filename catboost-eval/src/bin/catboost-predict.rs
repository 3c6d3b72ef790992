//! `catboost-predict`: evaluates a CatBoost JSON model over JSON-lines rows with the pure-Rust
//! evaluator (`catboost_eval`), printing one JSON object per row.
//!
//! Input: one JSON array per line, in the model's flat feature order, as
//! [`catboost_eval::rows`] reads it. A float feature is a number, `null` (missing, i.e. NaN)
//! or one of the strings "NaN", "Infinity", "-Infinity". A categorical feature is a string, or
//! an integer number, which stands for its decimal text (`3` is the category "3").
//!
//! Output: `{"raw": [...], "probability": [...], "class": ...}` for classifiers,
//! `{"raw": [...], "prediction": ...}` for regressors (`prediction` is a number, or an array
//! for multi-target models). A bad line stops the run with an error naming its line number
//! (from 1) and column (the flat feature index, from 0); the exit code is then non-zero.

use anyhow::{Context, Result};
use catboost_eval::rows::{self, Row};
use catboost_eval::{ClassLabel, FeatureValue, Model, Prediction};
use clap::Parser;
use serde::Serialize;
use serde_json::Value;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Evaluate a CatBoost JSON model over JSON-lines rows.
#[derive(Debug, Parser)]
#[command(version, about, long_about = None)]
struct Args {
    /// The model, as exported by CatBoost's `save_model(path, format="json")`.
    #[arg(long)]
    model: PathBuf,
    /// Input rows, one JSON array per line in flat feature order; `-` reads standard input.
    #[arg(long)]
    rows: PathBuf,
}

/// Lines parsed and evaluated together.
const CHUNK: usize = 4096;

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catboost-predict: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read model {}", args.model.display()))?;
    let model = Model::from_json(&bytes)
        .with_context(|| format!("cannot load model {}", args.model.display()))?;
    let input: Box<dyn BufRead> = if args.rows.as_os_str() == "-" {
        Box::new(BufReader::with_capacity(1 << 20, io::stdin().lock()))
    } else {
        let f = File::open(&args.rows)
            .with_context(|| format!("cannot open rows {}", args.rows.display()))?;
        Box::new(BufReader::with_capacity(1 << 20, f))
    };
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let result = predict_lines(&model, input, &mut out);
    // Whatever was evaluated before an error is still written out.
    let flushed = out.flush().context("cannot write to standard output");
    result.and(flushed)
}

fn predict_lines(model: &Model, input: Box<dyn BufRead>, out: &mut impl Write) -> Result<()> {
    let kinds = model.feature_kinds();
    let dim = model.dimension();
    let mut parsed: Vec<Row> = Vec::with_capacity(CHUNK);
    let mut first_line = 1usize;
    let mut raw = Vec::new();
    let mut lines = input.lines();
    loop {
        parsed.clear();
        for line in lines.by_ref() {
            let number = first_line + parsed.len();
            let line = line.with_context(|| format!("line {number}: cannot read"))?;
            let row = rows::parse_row(&line, kinds).map_err(|e| {
                let at = match e.column() {
                    Some(col) => format!("line {number}, column {col}"),
                    None => format!("line {number}"),
                };
                anyhow::Error::new(e).context(at)
            })?;
            parsed.push(row);
            if parsed.len() == CHUNK {
                break;
            }
        }
        if parsed.is_empty() {
            return Ok(());
        }
        let mut values: Vec<FeatureValue<'_>> = Vec::with_capacity(parsed.len() * kinds.len());
        for row in &parsed {
            values.extend(row.values());
        }
        raw.resize(parsed.len() * dim, 0.0);
        model
            .predict_raw_batch(&values, &mut raw)
            .with_context(|| format!("lines {first_line}..{}", first_line + parsed.len() - 1))?;
        for r in raw.chunks_exact(dim) {
            let prediction = model.interpret_raw(r)?;
            serde_json::to_writer(&mut *out, &Output::from(&prediction))
                .context("cannot write to standard output")?;
            out.write_all(b"\n")
                .context("cannot write to standard output")?;
        }
        first_line += parsed.len();
    }
}

#[derive(Serialize)]
struct Output<'a> {
    raw: &'a [f64],
    #[serde(skip_serializing_if = "Option::is_none")]
    probability: Option<&'a [f64]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<&'a ClassLabel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    prediction: Option<Value>,
}

impl<'a> From<&'a Prediction> for Output<'a> {
    fn from(p: &'a Prediction) -> Self {
        match p {
            Prediction::Classification {
                raw,
                probabilities,
                class,
            } => Output {
                raw,
                probability: Some(probabilities),
                class: Some(class),
                prediction: None,
            },
            Prediction::Regression { raw, values } => Output {
                raw,
                probability: None,
                class: None,
                prediction: Some(match values.as_slice() {
                    [one] => Value::from(*one),
                    many => Value::from(many.to_vec()),
                }),
            },
        }
    }
}
