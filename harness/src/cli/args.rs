//! The command line as clap reads it: every flag, the help, the exit codes and environment
//! variables. Flags that change the spec are gathered in [`FunctionArgs`] and
//! [`GeneratedArgs`] and become [`Overrides`] of the file as written, so they pass the spec's
//! own validation.

use crate::arch::Arch;
use crate::spec::Overrides;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

pub(super) const EXIT_AND_ENVIRONMENT: &str = "\
Exit status:
  0  every check passed (verify), the goldens are current (golden check), done
  1  a check failed: do not push (verify); the goldens are stale or wait for
     review (golden); no memory size meets the latency target (tune)
  2  the gate could not run: no Docker, no emulation, a bad spec or flag,
     unreadable goldens

Environment:
  LAMBDA_GATE_CONFIG  the spec file, as --config
  LAMBDA_GATE_RIE     a local aws-lambda-rie binary, as --rie
  LAMBDA_GATE_PYTHON  the Python that fetches the pinned RIE (default python3)
  CARGO_TERM_COLOR    auto, always or never, as --color; NO_COLOR: no colour
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
pub(super) struct Cli {
    /// The function's spec; default: lambda-gate.toml here or in the nearest directory above.
    #[arg(long, global = true, value_name = "PATH", env = "LAMBDA_GATE_CONFIG")]
    pub(super) config: Option<PathBuf>,
    /// Colour: auto (on a terminal), always or never [default: CARGO_TERM_COLOR, else auto].
    #[arg(long, global = true, value_enum, value_name = "WHEN")]
    pub(super) color: Option<ColorChoice>,
    /// Print only results and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(super) quiet: bool,
    /// Also show the function container's log as it arrives.
    #[arg(short, long, global = true)]
    pub(super) verbose: bool,
    #[command(subcommand)]
    pub(super) command: Command,
}

/// `--color`.
#[derive(Clone, Copy, ValueEnum)]
pub(super) enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Write a first lambda-gate.toml from the function itself: start its image under the RIE,
    /// send the sample events singly and together, and {}, null and a body that is not JSON,
    /// and infer the request, the contract and the error types from the answers (and, given
    /// expected answers, a tolerance per field; given --model, the model's path in the image
    /// and the goldens).
    #[command(
        after_help = "Examples:\n  lambda-gate init --events cases.jsonl --model model.cbm --arch x86_64\n  lambda-gate init --events events.jsonl --image my-fn:latest \\\n      --request '{\"records\": [\"$event\"]}'"
    )]
    Init(InitArgs),
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
        after_help = "Example:\n  lambda-gate push --image loan-grade-service:arm64-1a2b \\\n      --verified-id sha256:... \\\n      --to 127.0.0.1:5000/loan-grade-service:v1 --insecure-registry",
        after_long_help = PUSH_HELP
    )]
    Push(PushArgs),
    /// Replay the goldens and the malformed corpus through the Lambda Invoke API against a
    /// deployed function (or the RIE, with --endpoint-url); exit 0 only if all pass.
    #[command(
        after_help = "Example:\n  lambda-gate replay --function-name loan-grade --qualifier live \\\n      --region eu-west-1",
        after_long_help = REPLAY_HELP
    )]
    Replay(ReplayArgs),
    /// Run the image at several memory sizes, each with Lambda's CPU share for it; report init,
    /// latency, peak memory, failures and cost, and recommend the cheapest size that meets the
    /// latency target (exit 1 when none does).
    #[command(
        after_help = "Example:\n  lambda-gate tune --arch x86_64 --sizes 128,512,1769 --latency-p99-ms 50 \\\n      --report-dir reports"
    )]
    Tune(TuneArgs),
}

/// The flags that say which function runs, shared by `verify`, `invoke` and `tune`.
#[derive(Args)]
pub(super) struct FunctionArgs {
    /// Architecture of the function, instead of the spec's function.architecture
    /// (aarch64 and amd64 are accepted too).
    #[arg(long, value_enum, ignore_case = true)]
    pub(super) arch: Option<Arch>,
    /// Take this local image instead of building the spec's.
    #[arg(long, value_name = "REFERENCE")]
    pub(super) image: Option<String>,
    /// An environment variable for the function, added to the spec's function.environment.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env)]
    pub(super) environment: Vec<(String, String)>,
}

impl FunctionArgs {
    /// These flags as overrides of the spec file.
    pub(super) fn overrides(&self) -> Overrides {
        Overrides {
            arch: self.arch,
            image: self.image.clone(),
            environment: self.environment.clone(),
            ..Overrides::default()
        }
    }
}

/// The generated payloads' flags, shared by `verify` and `replay`.
#[derive(Args)]
pub(super) struct GeneratedArgs {
    /// Number of proptest-generated malformed payloads, instead of the spec's (for replay:
    /// also run malformed-generated, each payload an invocation).
    #[arg(long, value_name = "N")]
    pub(super) generated_cases: Option<u32>,
    /// Seed for the generated payloads, instead of the spec's.
    #[arg(long)]
    pub(super) seed: Option<u64>,
}

impl GeneratedArgs {
    /// Writes these flags into `overrides`.
    pub(super) fn apply(&self, overrides: &mut Overrides) {
        overrides.generated_cases = self.generated_cases;
        overrides.seed = self.seed;
    }
}

#[derive(Args)]
pub(super) struct TuneArgs {
    #[command(flatten)]
    pub(super) function: FunctionArgs,
    /// Memory sizes in MB (128-10240), comma-separated, instead of the spec's tune.sizes.
    #[arg(long, value_delimiter = ',', value_name = "MB,...")]
    pub(super) sizes: Vec<u32>,
    /// Measured invocations per size, instead of the spec's tune.invocations.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::spec::MAX_TUNE_INVOCATIONS)))]
    pub(super) invocations: Option<u32>,
    /// The p99 latency a size must meet, in ms, instead of the spec's tune.latency_p99_ms.
    #[arg(long, value_name = "MS", value_parser = parse_positive)]
    pub(super) latency_p99_ms: Option<f64>,
    /// USD per GB-second, instead of Lambda's published price for the architecture.
    #[arg(long, value_name = "USD", value_parser = parse_price)]
    pub(super) price_gb_second: Option<f64>,
    /// USD per million requests, instead of Lambda's published price.
    #[arg(long, value_name = "USD", value_parser = parse_price)]
    pub(super) price_per_million_requests: Option<f64>,
    /// Percent of invocations that start cold, each billed its init (Lambda bills init since
    /// 2025-08) [default: 1, AWS's figure for production traffic].
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub(super) cold_starts_percent: Option<f64>,
    /// Directory for tune-<arch>.json and the plot tune-<arch>.svg.
    #[arg(long, value_name = "DIR")]
    pub(super) report_dir: Option<PathBuf>,
    /// A local aws-lambda-rie binary instead of the pinned download (reported as unverified).
    #[arg(long, env = "LAMBDA_GATE_RIE", value_name = "PATH")]
    pub(super) rie: Option<PathBuf>,
    /// The whole run must end within this, e.g. 30m; sizes not reached are not measured
    /// [default: 1h].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub(super) deadline: Option<Duration>,
}

fn parse_positive(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0)
        .ok_or_else(|| format!("{s:?} is not a number above 0"))
}

fn parse_percent(s: &str) -> Result<f64, String> {
    s.trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|v| (0.0..=100.0).contains(v))
        .ok_or_else(|| format!("{s:?} is not a percentage from 0 to 100"))
}

fn parse_price(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("{s:?} is not a price in USD (a number >= 0)"))
}

#[derive(Args)]
#[command(group = clap::ArgGroup::new("body").required(true).args(["data", "file", "case"]))]
pub(super) struct InvokeArgs {
    #[command(flatten)]
    pub(super) function: FunctionArgs,
    /// The request body, inline.
    #[arg(long, value_name = "JSON")]
    pub(super) data: Option<String>,
    /// A file holding the request body; `-` reads standard input.
    #[arg(long, value_name = "PATH")]
    pub(super) file: Option<PathBuf>,
    /// A golden case by id, sent through the spec's request template.
    #[arg(long, value_name = "CASE_ID")]
    pub(super) case: Option<String>,
    /// A local aws-lambda-rie binary instead of the pinned download.
    #[arg(long, env = "LAMBDA_GATE_RIE", value_name = "PATH")]
    pub(super) rie: Option<PathBuf>,
}

pub(super) const PUSH_HELP: &str = "\
Example:
  lambda-gate push --image loan-grade-service:arm64-1a2b \\
      --verified-id sha256:... \\
      --to 127.0.0.1:5000/loan-grade-service:v1 --insecure-registry

Before pushing: the image must still be the verified id (a tag moved after
verification is refused) and its config must be linux/<the function's
architecture>; the registry must answer GET /v2/ in time (plain HTTP only with
--insecure-registry) and skopeo must read the target with the stored
credentials. It is tagged by id and pushed with the docker CLI; then skopeo
reads back, by digest, what the registry holds: a single image manifest (no
index) whose bytes are the digest, whose config is the verified id and whose
platform is the function's; the tag must name that same manifest. Both tools use
the credentials `docker login` stored (ECR: after amazon-ecr-login). Each
registry call and read-back is stopped after --registry-timeout.

Exit status:
  0  pushed and proven; the last line on stdout is
     REGISTRY/REPOSITORY@sha256:...
  1  refused (nothing pushed), or pushed and not proven: stdout says
     `pushed sha256:..., not proven: CAUSE`; do not deploy
  2  could not run, nothing pushed: no Docker or skopeo, a bad flag, the
     registry unreachable, plain HTTP, no credentials, the push failed";

pub(super) const REPLAY_HELP: &str = "\
Example:
  lambda-gate replay --function-name loan-grade --qualifier live \\
      --region eu-west-1
  lambda-gate replay --function-name function \\
      --endpoint-url http://127.0.0.1:9000 --region us-east-1

Runs golden-replay and malformed-corpus (and malformed-generated with
--generated-cases) from the spec, through the Invoke API (synchronous, each
payload sent once, bounded by the function's timeout plus 30 s). Credentials and
the region come from the AWS SDK's chain:
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, AWS_PROFILE,
AWS_REGION, web identity, credential_process.

Exit status:
  0  every check passed
  1  a check failed
  2  could not run: a bad spec or flag, or the function could not be invoked
     at all";

#[derive(Subcommand)]
pub(super) enum GoldenCommand {
    /// Recompute the goldens with the spec's goldens.regen into <goldens>/.pending and
    /// summarise the changes; nothing is replaced.
    #[command(after_help = "Example:\n  lambda-gate golden regen && lambda-gate golden review")]
    Regen,
    /// Go through the pending goldens' changes: on a terminal one case at a time (accept,
    /// reject, skip), recording each decision; piped, every change listed, nothing recorded.
    #[command(after_help = "Example:\n  lambda-gate golden review")]
    Review,
    /// Replace the goldens' answers with the cases accepted in review (the pending files
    /// checked by sha256), or with every pending case unseen (--all).
    #[command(after_help = "Example:\n  lambda-gate golden accept")]
    Accept(AcceptArgs),
    /// Drop the pending goldens.
    #[command(after_help = "Example:\n  lambda-gate golden reject")]
    Reject,
    /// Fail unless the goldens belong to the files goldens.sources names (no training side
    /// needed; this is the CI step).
    #[command(after_help = "Example:\n  lambda-gate golden check")]
    Check,
    /// Write the golden files from a JSON Lines file of a team's own cases: each line
    /// {"event": ..., "expected": ...}, optionally with "case_id", "tags" and "features".
    #[command(after_help = "Example:\n  lambda-gate golden import cases.jsonl --model model.cbm")]
    Import(ImportArgs),
}

#[derive(Args)]
pub(super) struct AcceptArgs {
    /// Take every pending case as regenerated, without deciding case by case.
    #[arg(long)]
    pub(super) all: bool,
}

#[derive(Args)]
pub(super) struct InitArgs {
    /// Sample events, one JSON value a line (what the function takes, as the goldens hold it),
    /// or golden import's {"event": ..., "expected": ...} lines: then the answers are compared
    /// with the expected ones and a tolerance is proposed per numeric field.
    #[arg(long, value_name = "FILE")]
    pub(super) events: PathBuf,
    /// Take this local image instead of building ./Dockerfile.
    #[arg(long, value_name = "REF")]
    pub(super) image: Option<String>,
    /// The request for one event, JSON holding "$event" once [default: the first shape the
    /// function answers every event in: the event as the body, in a list under a key its
    /// error names, {"records": ["$event"]}, {"body": "$event"}, ...].
    #[arg(long, value_name = "TEMPLATE")]
    pub(super) request: Option<String>,
    /// The architecture the function is deployed with [default: this machine's].
    #[arg(long, value_enum, ignore_case = true)]
    pub(super) arch: Option<Arch>,
    /// The function's name [default: the directory's name].
    #[arg(long)]
    pub(super) name: Option<String>,
    /// The model file the function serves, as trained (on this machine): provenance.model is
    /// the file in the image with its sha256, and with expected answers in the events file the
    /// goldens are written from them as `golden import FILE --model PATH` writes them.
    #[arg(long, value_name = "PATH")]
    pub(super) model: Option<PathBuf>,
    /// Replace an existing spec (and, with --model, existing golden files).
    #[arg(long)]
    pub(super) force: bool,
}

#[derive(Args)]
pub(super) struct ImportArgs {
    /// The JSON Lines file; an event is kept byte for byte as written.
    pub(super) file: PathBuf,
    /// The model file the expected answers come from; its sha256 becomes the manifest's
    /// model_sha256. Default: the spec's goldens.sources.model_sha256, else provenance.source.
    #[arg(long, value_name = "PATH")]
    pub(super) model: Option<PathBuf>,
    /// Replace golden files that are there already.
    #[arg(long)]
    pub(super) force: bool,
}

#[derive(Args)]
pub(super) struct BuildArgs {
    /// Architecture to build for, instead of the spec's function.architecture.
    #[arg(long, value_enum, ignore_case = true)]
    pub(super) arch: Option<Arch>,
}

#[derive(Args)]
pub(super) struct VerifyArgs {
    #[command(flatten)]
    pub(super) function: FunctionArgs,
    /// Directory for gate-<arch>.json, .junit.xml and .md.
    #[arg(long, value_name = "DIR")]
    pub(super) report_dir: Option<PathBuf>,
    /// Budget for the uncompressed image size, instead of the spec's image.max_size.
    #[arg(long, value_parser = crate::spec::parse_size, value_name = "SIZE")]
    pub(super) max_image_size: Option<u64>,
    /// A local aws-lambda-rie binary instead of the pinned download (reported as unverified).
    #[arg(long, env = "LAMBDA_GATE_RIE", value_name = "PATH")]
    pub(super) rie: Option<PathBuf>,
    /// Allow a local --rie with CI set (refused there by default).
    #[arg(long)]
    pub(super) allow_unverified_rie: bool,
    /// The whole run must end within this, e.g. 45m; later checks stop and fail [default: 1h].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub(super) deadline: Option<Duration>,
    /// Containers serving the checks at once [default: half the machine's CPUs, at least 1];
    /// results do not depend on it.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(super) jobs: Option<u16>,
    /// One check may take this long, e.g. 10m; then it stops and fails [default: 20m].
    #[arg(long, value_parser = humantime::parse_duration, value_name = "DURATION")]
    pub(super) check_budget: Option<Duration>,
    #[command(flatten)]
    pub(super) generated: GeneratedArgs,
}

#[derive(Args)]
pub(super) struct PushArgs {
    /// The local image that was verified.
    #[arg(long, value_name = "REFERENCE")]
    pub(super) image: String,
    /// The image id `verify` saw (sha256:...); a different id refuses the push.
    #[arg(long, value_name = "ID")]
    pub(super) verified_id: String,
    /// Where to push: REGISTRY/REPOSITORY[:TAG] (TAG defaults to the local image's tag).
    #[arg(long, value_name = "TARGET")]
    pub(super) to: crate::commands::push::PushTarget,
    /// The function's architecture, instead of the spec's function.architecture (then no
    /// spec is needed).
    #[arg(long, value_enum, ignore_case = true)]
    pub(super) arch: Option<Arch>,
    /// Read the registry over plain HTTP; only for a registry on this machine (localhost,
    /// 127.0.0.0/8, [::1]).
    #[arg(long)]
    pub(super) insecure_registry: bool,
    /// How long each registry check and read-back may take before it is given up.
    #[arg(
        long,
        env = "LAMBDA_GATE_REGISTRY_TIMEOUT",
        value_parser = humantime::parse_duration,
        value_name = "DURATION",
        default_value = "60s"
    )]
    pub(super) registry_timeout: Duration,
    /// How long `docker push` may take before it is stopped.
    #[arg(
        long,
        env = "LAMBDA_GATE_PUSH_TIMEOUT",
        value_parser = humantime::parse_duration,
        value_name = "DURATION",
        default_value = "30m"
    )]
    pub(super) push_timeout: Duration,
}

#[derive(Args)]
pub(super) struct ReplayArgs {
    /// The deployed function's name or ARN (`function` for the RIE).
    #[arg(long, value_name = "NAME")]
    pub(super) function_name: String,
    /// A version or alias of the function.
    #[arg(long, value_name = "QUALIFIER")]
    pub(super) qualifier: Option<String>,
    /// The AWS region, instead of the SDK's (AWS_REGION, the profile).
    #[arg(long)]
    pub(super) region: Option<String>,
    /// Another endpoint than Lambda's, e.g. the RIE's http://127.0.0.1:PORT.
    #[arg(long, value_name = "URL")]
    pub(super) endpoint_url: Option<String>,
    #[command(flatten)]
    pub(super) generated: GeneratedArgs,
    /// Directory for gate-<arch>.json, .junit.xml and .md.
    #[arg(long, value_name = "DIR")]
    pub(super) report_dir: Option<PathBuf>,
    /// Invocations in flight at once (Lambda runs them in as many execution environments).
    #[arg(long, short = 'j', value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(super) jobs: u16,
}

/// `verify`'s containers when `--jobs` is not given: half the CPUs, at least one. Each job is a
/// container running the function and the emulator, and the gate drives them from a core of its
/// own; on a 2-core machine two jobs were slower than one (BENCHMARKS.md, gate wall time).
pub(super) fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every example and note after the flags, of every command, fits an 80-column terminal
    /// (long commands are pre-wrapped with `\`, so a copied line still runs).
    #[test]
    fn help_examples_fit_80_columns() {
        fn walk(command: &clap::Command, path: &str) {
            let texts = [command.get_after_help(), command.get_after_long_help()];
            for text in texts.into_iter().flatten() {
                let wide: Vec<String> = text
                    .to_string()
                    .lines()
                    .filter(|line| line.chars().count() > 80)
                    .map(|line| format!("{} columns: {line}", line.chars().count()))
                    .collect();
                assert!(wide.is_empty(), "{path}:\n{}", wide.join("\n"));
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        walk(&Cli::command(), "lambda-gate");
    }
}
