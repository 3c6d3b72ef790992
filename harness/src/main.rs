//! `harness`: build the Lambda image and verify it before it is pushed.
//!
//! Exit status: 0 when every check passed, 1 when a check failed (or goldens are stale, or
//! regenerated goldens wait for `--accept`), 2 for setup or usage errors (Docker missing, no
//! emulation, unreadable goldens, no Python for the training side, bad flags).

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use harness::{Arch, BuildOptions, GateConfig, ImageSource, Progress};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "harness",
    version,
    about = "Verify a Lambda container image before it is pushed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cross-compile bootstrap and build the image; prints the image reference last on stdout.
    Build(BuildArgs),
    /// Build (or take) the image and run every check; exit 0 only if all pass.
    Verify(VerifyArgs),
    /// Keep the golden files in step with the training-time model.
    #[command(subcommand)]
    Golden(GoldenCommand),
}

#[derive(Subcommand)]
enum GoldenCommand {
    /// Recompute the goldens with the training side (models/, its pinned Python) into
    /// golden/.pending and review the changes; replace the goldens only with --accept.
    Regen {
        /// Replace golden/expected.jsonl and golden/manifest.json with the regenerated ones.
        #[arg(long)]
        accept: bool,
        /// Root of the project; default: found from the current directory upwards.
        #[arg(long)]
        workspace: Option<PathBuf>,
    },
    /// Fail unless the goldens belong to the model in models/artifacts (no Python needed).
    Check {
        /// Root of the project; default: found from the current directory upwards.
        #[arg(long)]
        workspace: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Common {
    /// Architecture of the Lambda function.
    #[arg(long, default_value = "arm64", value_parser = parse_arch)]
    arch: Arch,
    /// Root of the project (holds Dockerfile, golden/, models/); default: found from the
    /// current directory upwards.
    #[arg(long)]
    workspace: Option<PathBuf>,
}

#[derive(Args)]
struct BuildArgs {
    #[command(flatten)]
    common: Common,
    /// Directory holding model.json, feature_set.json and metadata.json.
    #[arg(long)]
    model_dir: Option<PathBuf>,
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    common: Common,
    /// Verify this local image instead of building one.
    #[arg(long)]
    image: Option<String>,
    /// Directory for gate-<arch>.json, .junit.xml and .md.
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Budget for the uncompressed image size, e.g. 256MiB or 1GB.
    #[arg(long, default_value = "256MiB", value_parser = parse_size)]
    max_image_size: u64,
    /// Absolute tolerance for probabilities against the training-time model.
    #[arg(long, default_value_t = 1e-9)]
    tolerance: f64,
    /// A local aws-lambda-rie binary instead of the pinned download (also HARNESS_RIE).
    #[arg(long)]
    rie: Option<PathBuf>,
    /// Number of proptest-generated malformed payloads.
    #[arg(long, default_value_t = harness::DEFAULT_GENERATED_CASES)]
    generated_cases: u32,
    /// Seed for the generated payloads.
    #[arg(long, default_value_t = harness::DEFAULT_SEED)]
    seed: u64,
    /// Function timeout in seconds given to the RIE.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Function memory in MB (also the container's memory limit).
    #[arg(long, default_value_t = 1024)]
    memory: u32,
}

fn parse_arch(s: &str) -> Result<Arch, String> {
    s.parse().map_err(|e: harness::UnknownArch| e.to_string())
}

fn parse_size(s: &str) -> Result<u64, String> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|e| format!("not a size ({e}): use e.g. 256MiB, 1GB or 1048576"))
}

/// The nearest directory at or above the current one that holds the Dockerfile and goldens.
fn find_workspace(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = explicit {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    cwd.ancestors()
        .find(|d| d.join("Dockerfile").is_file() && d.join("golden").is_dir())
        .map(Path::to_path_buf)
        .with_context(|| {
            format!(
                "no project found at or above {}: run inside the project or pass --workspace",
                cwd.display()
            )
        })
}

fn main() -> ExitCode {
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
    match cli.command {
        Command::Build(args) => {
            let workspace = find_workspace(args.common.workspace)?;
            let mut options = BuildOptions::new(args.common.arch, workspace);
            options.model_dir = args.model_dir;
            let image = harness::build(&options, Progress::stderr())?;
            println!("{}", image.reference);
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => verify(args),
        Command::Golden(GoldenCommand::Check { workspace }) => {
            let paths = harness::GoldenPaths::new(&find_workspace(workspace)?);
            let outcome = harness::check_goldens(&paths);
            println!("{}", outcome.render());
            Ok(exit(outcome.passed()))
        }
        Command::Golden(GoldenCommand::Regen { accept, workspace }) => {
            let paths = harness::GoldenPaths::new(&find_workspace(workspace)?);
            let review = harness::regen_goldens(&paths, accept)?;
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

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let workspace = find_workspace(args.common.workspace)?;
    let mut config = GateConfig::new(args.common.arch, &workspace);
    if let Some(image) = args.image {
        config.image = ImageSource::Existing(image);
    }
    config.max_image_size = args.max_image_size;
    config.tolerance = args.tolerance;
    config.rie = args.rie;
    config.generated_cases = args.generated_cases;
    config.seed = args.seed;
    config.lambda.timeout = Duration::from_secs(args.timeout);
    config.lambda.memory_mb = args.memory;
    let report = harness::verify(&config)?;
    print!("{}", report.table());
    if let Some(dir) = args.report_dir {
        for path in report.write_files(&dir)? {
            eprintln!("report: {}", path.display());
        }
    }
    if let Some(path) = report.append_step_summary()? {
        eprintln!("summary appended to {}", path.display());
    }
    Ok(exit(report.passed()))
}
