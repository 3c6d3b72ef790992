//! `lambda-gate`: verify a Lambda container image before it is pushed.
//!
//! Exit status: 0 when every check passed, 1 when a check failed (or goldens are stale, or
//! regenerated goldens wait for `--accept`), 2 for setup or usage errors (Docker missing, no
//! emulation, a bad spec, unreadable goldens, bad flags).

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use harness::{Arch, GateConfig, ImageSource, Progress, Spec};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lambda-gate",
    version,
    about = "Verify a Lambda container image before it is pushed"
)]
struct Cli {
    /// The function's spec; default: lambda-gate.toml in the current directory or above.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the image as the spec says; prints the image reference last on stdout.
    Build(BuildArgs),
    /// Build (or take) the image and run every check; exit 0 only if all pass.
    Verify(VerifyArgs),
    /// Keep the golden files in step with the training-time model.
    #[command(subcommand)]
    Golden(GoldenCommand),
}

#[derive(Subcommand)]
enum GoldenCommand {
    /// Recompute the goldens with the spec's goldens.regen command into <goldens>/.pending and
    /// review the changes; replace the goldens only with --accept.
    Regen {
        /// Replace expected.jsonl and manifest.json with the regenerated ones.
        #[arg(long)]
        accept: bool,
    },
    /// Fail unless the goldens belong to the files goldens.sources names (no training side needed).
    Check,
}

#[derive(Args)]
struct BuildArgs {
    /// Architecture to build for, instead of the spec's function.architecture.
    #[arg(long, value_parser = parse_arch)]
    arch: Option<Arch>,
}

#[derive(Args)]
struct VerifyArgs {
    /// Architecture of the function, instead of the spec's function.architecture.
    #[arg(long, value_parser = parse_arch)]
    arch: Option<Arch>,
    /// Verify this local image instead of the spec's.
    #[arg(long)]
    image: Option<String>,
    /// Directory for gate-<arch>.json, .junit.xml and .md.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Budget for the uncompressed image size, instead of the spec's image.max_size.
    #[arg(long, value_parser = harness::parse_size)]
    max_image_size: Option<u64>,
    /// A local aws-lambda-rie binary instead of the pinned download (also HARNESS_RIE).
    #[arg(long)]
    rie: Option<PathBuf>,
    /// Number of proptest-generated malformed payloads, instead of the spec's.
    #[arg(long)]
    generated_cases: Option<u32>,
    /// Seed for the generated payloads, instead of the spec's.
    #[arg(long)]
    seed: Option<u64>,
    /// An environment variable for the function, added to the spec's function.environment.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    environment: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    s.parse().map_err(|e: harness::UnknownArch| e.to_string())
}

fn load_spec(explicit: Option<PathBuf>) -> anyhow::Result<Spec> {
    let path = match explicit {
        Some(path) => path,
        None => {
            let cwd = std::env::current_dir().context("cannot read the current directory")?;
            Spec::find(&cwd)?
        }
    };
    Ok(Spec::load(&path)?)
}

fn main() -> ExitCode {
    if let Some(argv0) = std::env::args().next() {
        harness::set_program(&argv0);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut spec = load_spec(cli.config)?;
    match cli.command {
        Command::Build(args) => {
            let arch = args.arch.unwrap_or(spec.function.arch);
            let ImageSource::Build(build) = &spec.image.source else {
                anyhow::bail!(
                    "{} names an existing image (image.reference); there is nothing to build",
                    spec.path.display()
                );
            };
            let image = harness::build(build, arch, &spec.root, Progress::stderr())?;
            println!("{}", image.reference);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => {
            if let Some(arch) = args.arch {
                spec.function.arch = arch;
            }
            if let Some(image) = args.image {
                spec.image.source = ImageSource::Reference(image);
            }
            if let Some(size) = args.max_image_size {
                spec.image.max_size = size;
            }
            if let Some(cases) = args.generated_cases {
                spec.generated.cases = cases;
            }
            if let Some(seed) = args.seed {
                spec.generated.seed = seed;
            }
            spec.function.environment.extend(args.environment);
            let mut config = GateConfig::new(spec);
            config.rie = args.rie;
            verify(&config, args.report_dir)
        }
        Command::Golden(GoldenCommand::Check) => {
            let outcome = harness::check_goldens(&spec);
            println!("{}", outcome.render());
            Ok(exit(outcome.passed()))
        }
        Command::Golden(GoldenCommand::Regen { accept }) => {
            let review = harness::regen_goldens(&spec, accept)?;
            print!("{}", review.render());
            // Pending, unaccepted changes are not a success: a script must not go on as if the
            // goldens were current.
            Ok(exit(!review.differs || review.accepted))
        }
    }
}

fn exit(passed: bool) -> ExitCode {
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn verify(config: &GateConfig, report_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let report = harness::verify(config)?;
    print!("{}", report.table());
    if let Some(dir) = report_dir {
        for path in report.write_files(&dir)? {
            eprintln!("report: {}", path.display());
        }
    }
    if let Some(path) = report.append_step_summary()? {
        eprintln!("summary appended to {}", path.display());
    }
    Ok(exit(report.passed()))
}
