//! `lambda-gate`, the command line: flags are read (`args.rs`), turned into overrides of the
//! spec as written, the spec validated once, and the command run; results go to stdout, errors
//! with their causes to stderr (`terminal.rs`). The only place that uses `anyhow`.

mod args;
mod review;
mod terminal;

use crate::commands::init as harness_init;
use crate::commands::invoke::invoke as invoke_once;
use crate::commands::push::{PushConfig, push as push_image};
use crate::commands::replay::{ReplayOptions, replay as replay_deployed};
use crate::commands::tune::{TuneOptions, tune as tune_sizes};
use crate::commands::verify::{DEFAULT_CHECK_BUDGET, DEFAULT_DEADLINE, VerifyOptions};
use crate::golden::{self, GoldenSet};
use crate::lambda::{DEFAULT_COLD_START_RATE, PRICES_DATED, Prices};
use crate::progress::{Progress, Verbosity, eprint_line, eprint_text};
use crate::runtime::Outcome;
use crate::runtime::deployed::Address;
use crate::spec::{Overrides, Spec};
use anyhow::Context as _;
use args::{
    BuildArgs, Cli, Command, GoldenCommand, InitArgs, InvokeArgs, PushArgs, ReplayArgs, TuneArgs,
    VerifyArgs, default_jobs,
};
use clap::Parser as _;
use std::path::PathBuf;
use std::process::ExitCode;
use terminal::{Terminal, exit, out, out_bytes, report_error};

/// Runs the `lambda-gate` command line with the process's arguments: the binary's `main`.
pub fn main() -> ExitCode {
    crate::interrupt::watch();
    if let Some(argv0) = std::env::args().next() {
        crate::environment::set_program(&argv0);
    }
    let cli = Cli::parse();
    let terminal = Terminal::new(cli.color);
    match run(cli, &terminal) {
        Ok(code) => code,
        Err(error) => {
            report_error(&error, terminal.color_err);
            ExitCode::from(2)
        }
    }
}

/// The spec at `explicit`, or found from the current directory, with `overrides` applied
/// before it is validated.
fn load_spec(explicit: Option<PathBuf>, overrides: &Overrides) -> anyhow::Result<Spec> {
    let path = match explicit {
        Some(path) => path,
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            Spec::find(&cwd)?
        }
    };
    Ok(Spec::load_with(&path, overrides)?)
}

fn run(cli: Cli, terminal: &Terminal) -> anyhow::Result<ExitCode> {
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let progress = Progress::new(verbosity);
    let config = cli.config;
    match cli.command {
        Command::Init(args) => init(args, config, &progress),
        Command::Build(args) => build(args, config, &progress),
        Command::Verify(args) => verify(args, config, progress, terminal),
        Command::Invoke(args) => invoke(args, config, &progress),
        Command::Golden(command) => golden(command, config, terminal),
        Command::Push(args) => push(args, config, progress),
        Command::Replay(args) => replay(args, config, progress, terminal),
        Command::Tune(args) => tune(args, config, progress, terminal),
    }
}

fn init(args: InitArgs, config: Option<PathBuf>, progress: &Progress) -> anyhow::Result<ExitCode> {
    let path = match config {
        Some(path) => path,
        None => std::env::current_dir()
            .context("cannot read the current directory")?
            .join("lambda-gate.toml"),
    };
    if path.exists() && !args.force {
        anyhow::bail!(
            "{} exists already: pass --force to replace it",
            path.display()
        );
    }
    let samples = harness_init::read_events(&args.events)?;
    let arch = args
        .arch
        .or_else(crate::Arch::host)
        .context("this machine's architecture is neither x86_64 nor arm64: pass --arch")?;
    let name = args.name.unwrap_or_else(|| {
        let dir = path.parent().and_then(|d| std::path::absolute(d).ok());
        let raw = dir
            .as_deref()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .take(64)
            .collect();
        if name.is_empty() {
            "function".to_owned()
        } else {
            name
        }
    });
    let options = harness_init::InitOptions {
        name,
        arch,
        image: args.image,
        request: args.request,
        events_file: args.events,
        samples,
        model: args.model,
        force: args.force,
    };
    let written = harness_init::init(&path, &options, progress)?;
    std::fs::write(&path, &written.text)
        .with_context(|| format!("cannot write {}", path.display()))?;
    for warning in &written.warnings {
        eprint_line(&format!("warning: {warning}"));
    }
    if let Some((cases, dir)) = &written.goldens {
        out(&format!("imported {cases} cases into {}\n", dir.display()));
    }
    let todos = written.text.matches("TODO:").count();
    let verify = crate::environment::command("verify");
    out(&match todos {
        0 => format!("wrote {}: run `{verify}`\n", path.display()),
        _ => format!(
            "wrote {}: look at its {todos} TODO{} (each says what to put there), then run \
             `{verify}`\n",
            path.display(),
            if todos == 1 { "" } else { "s" }
        ),
    });
    Ok(ExitCode::SUCCESS)
}

fn build(
    args: BuildArgs,
    config: Option<PathBuf>,
    progress: &Progress,
) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        arch: args.arch,
        ..Overrides::default()
    };
    let spec = load_spec(config, &overrides)?;
    let Some(reference) = crate::commands::build(&spec, progress)? else {
        anyhow::bail!(
            "{} names an existing image (image.reference): there is nothing to build",
            spec.path.display()
        );
    };
    out(&format!("{reference}\n"));
    Ok(ExitCode::SUCCESS)
}

fn verify(
    args: VerifyArgs,
    config: Option<PathBuf>,
    progress: Progress,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    let mut overrides = args.function.overrides();
    overrides.max_image_size = args.max_image_size;
    args.generated.apply(&mut overrides);
    let spec = load_spec(config, &overrides)?;
    let options = VerifyOptions {
        rie: args.rie,
        allow_unverified_rie: args.allow_unverified_rie,
        deadline: args.deadline.unwrap_or(DEFAULT_DEADLINE),
        check_budget: args.check_budget.unwrap_or(DEFAULT_CHECK_BUDGET),
        jobs: args.jobs.map_or_else(default_jobs, usize::from),
        progress,
    };
    let report = crate::verify(&spec, &options)?;
    out(&report.render(terminal.width, terminal.color_out));
    if crate::progress::github_actions() {
        out(&report.workflow_errors());
    }
    if let Some(dir) = args.report_dir {
        for path in report.write_files(&dir)? {
            eprint_line(&format!("report: {}", path.display()));
        }
    }
    if let Some(path) = report.append_step_summary()? {
        eprint_line(&format!("summary appended to {}", path.display()));
    }
    report.append_step_outputs()?;
    Ok(exit(report.passed()))
}

fn invoke(
    args: InvokeArgs,
    config: Option<PathBuf>,
    progress: &Progress,
) -> anyhow::Result<ExitCode> {
    let spec = load_spec(config, &args.function.overrides())?;
    let body = match (args.data, args.file, args.case) {
        (Some(data), _, _) => data.into_bytes(),
        (_, Some(path), _) if path.as_os_str() == "-" => {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut body)
                .context("cannot read the body from standard input")?;
            body
        }
        (_, Some(path), _) => std::fs::read(&path)
            .with_context(|| format!("cannot read the body from {}", path.display()))?,
        (_, _, Some(id)) => {
            let golden = GoldenSet::load(&spec.goldens.dir)?;
            let case = golden
                .cases
                .iter()
                .find(|c| c.case_id == id)
                .with_context(|| {
                    format!(
                        "no golden case {id:?} in {}",
                        spec.goldens.dir.join("inputs.jsonl").display()
                    )
                })?;
            case.request_body(&spec.contract)
        }
        _ => anyhow::bail!("give the body with --data, --file or --case"),
    };
    let result = invoke_once(&spec, args.rie.as_deref(), &body, progress)?;
    for line in &result.reports {
        eprint_line(line);
    }
    // The function's answer byte for byte (key order, numbers and a Python stackTrace as it
    // sent them); what the gate made of anything else goes to stderr.
    match &result.invocation.outcome {
        Outcome::Success(_) | Outcome::FunctionError { .. } => {
            out_bytes(&result.answer);
            // A terminal's prompt would follow the answer on its line; a pipe gets it as is.
            if std::io::IsTerminal::is_terminal(&std::io::stdout())
                && !result.answer.ends_with(b"\n")
            {
                out("\n");
            }
        }
        other => eprint_line(&other.describe()),
    }
    Ok(exit(matches!(
        result.invocation.outcome,
        Outcome::Success(_)
    )))
}

/// `push` runs where nothing is built (the CI push job): with --arch it needs no spec.
fn push(args: PushArgs, config: Option<PathBuf>, progress: Progress) -> anyhow::Result<ExitCode> {
    let arch = match args.arch {
        Some(arch) => arch,
        None => load_spec(config, &Overrides::default())?.function.arch,
    };
    let report = push_image(&PushConfig {
        image: args.image,
        verified_id: args.verified_id,
        target: args.to,
        arch,
        insecure_registry: args.insecure_registry,
        registry_timeout: args.registry_timeout,
        push_timeout: args.push_timeout,
        progress,
    })?;
    eprint_text(&report.render());
    if let Some(line) = report.stdout_line() {
        out(&format!("{line}\n"));
    }
    Ok(exit(report.passed()))
}

fn replay(
    args: ReplayArgs,
    config: Option<PathBuf>,
    progress: Progress,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    let mut overrides = Overrides::default();
    args.generated.apply(&mut overrides);
    let spec = load_spec(config, &overrides)?;
    let report = replay_deployed(
        &spec,
        &ReplayOptions {
            address: Address {
                function_name: args.function_name,
                qualifier: args.qualifier,
                region: args.region,
                endpoint_url: args.endpoint_url,
            },
            generated: args.generated.generated_cases.is_some_and(|n| n > 0),
            jobs: usize::from(args.jobs),
            progress,
        },
    )?;
    out(&report.render(terminal.width, terminal.color_out));
    if crate::progress::github_actions() {
        out(&report.workflow_errors());
    }
    if let Some(dir) = args.report_dir {
        for path in report.write_files(&dir)? {
            eprint_line(&format!("report: {}", path.display()));
        }
    }
    if let Some(path) = report.append_step_summary()? {
        eprint_line(&format!("summary appended to {}", path.display()));
    }
    Ok(exit(report.passed()))
}

fn tune(
    args: TuneArgs,
    config: Option<PathBuf>,
    progress: Progress,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    let mut overrides = args.function.overrides();
    overrides.tune_sizes = (!args.sizes.is_empty()).then(|| args.sizes.clone());
    overrides.tune_invocations = args.invocations;
    overrides.tune_latency_p99_ms = args.latency_p99_ms;
    let spec = load_spec(config, &overrides)?;
    let options = TuneOptions {
        prices: prices(&args, &spec),
        rie: args.rie,
        deadline: args.deadline.unwrap_or(DEFAULT_DEADLINE),
        size_budget: DEFAULT_CHECK_BUDGET,
        cold_start_rate: args
            .cold_starts_percent
            .map_or(DEFAULT_COLD_START_RATE, |p| p / 100.0),
        progress,
    };
    let report = tune_sizes(&spec, &options)?;
    out(&report.render(terminal.width, terminal.color_out));
    if let Some(dir) = args.report_dir {
        for path in report.write_files(&dir)? {
            eprint_line(&format!("report: {}", path.display()));
        }
    }
    Ok(exit(!report.target_missed()))
}

/// Lambda's published prices for the function's architecture, with the flags' in their place;
/// the source says which is which.
fn prices(args: &TuneArgs, spec: &Spec) -> Prices {
    let mut prices = Prices::published(spec.function.arch);
    if let Some(price) = args.price_gb_second {
        prices.gb_second = price;
    }
    if let Some(price) = args.price_per_million_requests {
        prices.per_million_requests = price;
    }
    if args.price_gb_second.is_some() || args.price_per_million_requests.is_some() {
        let published = format!(
            "Lambda's published {} price as of {PRICES_DATED}",
            spec.function.arch
        );
        prices.source = format!(
            "{} per GB-second, {} per request",
            if args.price_gb_second.is_some() {
                "--price-gb-second"
            } else {
                &published
            },
            if args.price_per_million_requests.is_some() {
                "--price-per-million-requests"
            } else {
                &published
            }
        );
    }
    prices
}

fn golden(
    command: GoldenCommand,
    config: Option<PathBuf>,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    let spec = load_spec(config, &Overrides::default())?;
    let review_loop = spec.review_loop();
    match command {
        GoldenCommand::Check => {
            let outcome = golden::check(review_loop)?;
            out(&format!("{}\n", outcome.render()));
            Ok(exit(outcome.passed()))
        }
        GoldenCommand::Regen => {
            let review = golden::regen(review_loop)?;
            out(&review.summary());
            // Pending changes are not a success: a script must not go on as if the goldens
            // were current.
            Ok(exit(!review.differs))
        }
        GoldenCommand::Review => {
            let review = golden::review(review_loop)?;
            let width = usize::from(terminal.width);
            if !review::interactive() {
                review::print_or_page(&review.details(width));
                return Ok(ExitCode::SUCCESS);
            }
            out(&review.overview());
            let tally = review::decide(&review, review_loop, width)?;
            out(&tally.render());
            Ok(if tally.interrupted {
                ExitCode::from(130)
            } else {
                ExitCode::SUCCESS
            })
        }
        GoldenCommand::Accept(args) => {
            let accepted = golden::accept(review_loop, args.all)?;
            for path in &accepted.files {
                out(&format!("accepted: {}\n", path.display()));
            }
            out(&accepted.render());
            Ok(ExitCode::SUCCESS)
        }
        GoldenCommand::Import(args) => {
            let goldens = &spec.goldens;
            let model = args
                .model
                .or_else(|| goldens.sources.get("model_sha256").cloned())
                .or_else(|| spec.provenance.compile.as_ref().map(|c| c.source.clone()))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "which model are the expected answers from? pass --model PATH (or name it in the spec's goldens.sources.model_sha256)"
                    )
                })?;
            let cases = golden::import(
                &args.file,
                &golden::Import {
                    dir: &goldens.dir,
                    model: &model,
                    sources: &goldens.sources,
                    force: args.force,
                },
            )?;
            out(&format!(
                "imported {cases} cases into {} (model sha256 from {})\n",
                goldens.dir.display(),
                model.display()
            ));
            Ok(ExitCode::SUCCESS)
        }
        GoldenCommand::Reject => {
            let dropped = golden::reject(review_loop)?;
            out(if dropped {
                "rejected: the pending goldens are gone\n"
            } else {
                "nothing was pending\n"
            });
            Ok(ExitCode::SUCCESS)
        }
    }
}
