//! AWS Lambda's own numbers and rules, in one place: what production Lambda enforces (and the
//! emulator does not), so every check, the spec's validation and `tune`'s arithmetic use the
//! same figure. Sources: Lambda's quotas and pricing pages as written down in
//! `shared/lambda-limits.md`; each constant says when it could change.

use crate::arch::Arch;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The synchronous payload cut-off for requests and responses: 6 MiB plus 100 bytes, as Lambda
/// and the RIE apply it.
pub(crate) const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024 + 100;

/// The most a container image may hold uncompressed, all layers together (10 GB).
pub(crate) const IMAGE_LIMIT: u64 = 10_000_000_000;

/// The init phase's limit.
pub(crate) const INIT_LIMIT: Duration = Duration::from_secs(10);

/// The `PATH` Lambda gives the function's process when the image sets none (a reserved
/// runtime variable in Lambda's "defined runtime environment variables").
pub(crate) const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";

/// Memory sizes Lambda offers, in MB.
pub(crate) const MEMORY_MB: RangeInclusive<u32> = 128..=10_240;

/// Function timeouts Lambda allows, in seconds.
pub(crate) const TIMEOUT_S: RangeInclusive<u32> = 1..=900;
/// Ephemeral storage (`/tmp`) sizes Lambda allows, in MB.
pub(crate) const EPHEMERAL_STORAGE_MB: RangeInclusive<u32> = 512..=10_240;
/// The most ephemeral storage a SnapStart function may have, in MB.
pub(crate) const SNAPSTART_EPHEMERAL_STORAGE_MB: u32 = 512;
/// The image label a container image opts in to SnapStart with (publishing a version of a
/// SnapStart function whose image lacks it fails; AWS's own base images carry it).
pub(crate) const SNAPSTART_LABEL: (&str, &str) =
    ("com.amazonaws.lambda.feature.snapstart", "Allow");

/// Requests one Lambda Managed Instances execution environment may serve at once
/// (`PerExecutionEnvironmentMaxConcurrency`).
pub(crate) const MAX_CONCURRENCY: RangeInclusive<u32> = 1..=1600;
/// How Lambda Managed Instances tells the runtime how many requests to serve at once; the RIE
/// runs in its Managed Instances mode when it is set.
pub(crate) const MAX_CONCURRENCY_ENV: &str = "AWS_LAMBDA_MAX_CONCURRENCY";

/// The total size of a function's environment variables (names and values).
pub(crate) const ENV_LIMIT: usize = 4 * 1024;

/// Environment variables Lambda sets itself; a function may not define them.
pub(crate) const RESERVED_ENV: [&str; 19] = [
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    MAX_CONCURRENCY_ENV,
];

/// `errorType`s that mean the function crashed: never an answer a contract may accept.
pub(crate) const CRASH_ERRORS: [&str; 3] = [
    "Runtime.ExitError",
    "Runtime.InvalidEntrypoint",
    "Runtime.OutOfMemory",
];

/// The user every function runs as (`sbx_user1051`), whatever the image declares.
pub(crate) const SANDBOX_USER: &str = "993:990";

/// The default size of `/tmp`, the only writable place (ephemeral storage), in MB.
pub(crate) const TMP_MB: u32 = 512;

/// File descriptors and processes/threads a function may have.
pub(crate) const FD_AND_PROCESS_LIMIT: i64 = 1024;

/// Memory that buys one vCPU: Lambda allocates CPU in proportion to memory.
const MB_PER_VCPU: f64 = 1769.0;

/// The most vCPUs Lambda gives a function (at 10,240 MB).
const MAX_VCPUS: f64 = 6.0;

/// Lambda's price per GB-second for x86_64 functions, in USD: us-east-1, first tier (the first
/// 6 billion GB-seconds of a month). Written down on 2026-12-01 from Lambda's pricing page, not
/// re-read since; prices change by region and over time, so `tune` takes `--price-gb-second`.
const PRICE_GB_SECOND_X86_64: f64 = 0.000_016_666_7;
/// Lambda's price per GB-second for arm64 (Graviton) functions, in USD: us-east-1, first tier.
const PRICE_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
/// Lambda's price per million requests, in USD, either architecture: us-east-1.
const PRICE_PER_MILLION_REQUESTS: f64 = 0.20;
/// When the prices above were written down.
pub(crate) const PRICES_DATED: &str = "2026-12-01";

/// Why a function name cannot be a Lambda function's: 1-64 letters, digits, `-` or `_`.
pub(crate) fn function_name_problem(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    (!ok).then(|| format!("{name:?}: Lambda function names are 1-64 letters, digits, '-' or '_'"))
}

/// Why a function whose container peaked at `peak` bytes fails at `memory_mb`, if it does:
/// Lambda stops a function that reaches its memory size, even where the kernel here kept it
/// alive by dropping cached pages.
pub(crate) fn memory_problem(peak: u64, memory_mb: u32) -> Option<String> {
    (peak >= u64::from(memory_mb) * 1024 * 1024).then(|| {
        format!(
            "peak memory {} reached the function's memory size ({memory_mb} MB): Lambda would stop it (Runtime.OutOfMemory)",
            crate::units::human_bytes(peak)
        )
    })
}

/// The vCPUs Lambda gives a function of `memory_mb`: `memory_mb / 1769`, at most 6.
pub(crate) fn vcpus(memory_mb: u32) -> f64 {
    (f64::from(memory_mb) / MB_PER_VCPU).min(MAX_VCPUS)
}

/// The duration Lambda bills for an invocation (or an init) of `ms` milliseconds: rounded up
/// to the next whole millisecond, at least 1.
pub(crate) fn billed_ms(ms: f64) -> u64 {
    (ms.ceil() as u64).max(1)
}

/// The share of invocations that start cold when nothing better is known: AWS's Lambda
/// documentation says cold starts "typically occur in under 1% of invocations" for production
/// workloads; a function called rarely, or scaled up often, has many more. Since 2025-08-01
/// Lambda bills the init phase of every function, so each cold start adds its init to the bill.
pub(crate) const DEFAULT_COLD_START_RATE: f64 = 0.01;

/// The prices costs are computed with.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub(crate) struct Prices {
    /// USD per GB-second of billed duration.
    pub(crate) gb_second: f64,
    /// USD per million requests.
    pub(crate) per_million_requests: f64,
    /// Where they come from: the dated published prices, or the user's.
    pub(crate) source: String,
}

impl Prices {
    /// Lambda's published prices for `arch` (us-east-1, first tier), as of [`PRICES_DATED`].
    pub(crate) fn published(arch: Arch) -> Self {
        Prices {
            gb_second: match arch {
                Arch::Arm64 => PRICE_GB_SECOND_ARM64,
                Arch::X86_64 => PRICE_GB_SECOND_X86_64,
            },
            per_million_requests: PRICE_PER_MILLION_REQUESTS,
            source: format!(
                "Lambda's published {arch} prices, us-east-1, first tier, as of {PRICES_DATED}"
            ),
        }
    }

    /// What a million invocations cost at `memory_mb` when each is billed `billed_ms`:
    /// `1e6 × (price per GB-second × memory in GB × billed seconds + price per request)`.
    pub(crate) fn per_million(&self, memory_mb: u32, billed_ms: u64) -> f64 {
        let gb = f64::from(memory_mb) / 1024.0;
        let seconds = billed_ms as f64 / 1000.0;
        1e6 * (self.gb_second * gb * seconds + self.per_million_requests / 1e6)
    }

    /// What the init phase adds to a million invocations at `memory_mb` when `cold_start_rate`
    /// of them start cold and each init is billed `init_billed_ms`: init is billed like a
    /// duration, at the function's memory, for every cold start (no request charge: the cold
    /// start's request is already counted).
    pub(crate) fn init_per_million(
        &self,
        memory_mb: u32,
        init_billed_ms: u64,
        cold_start_rate: f64,
    ) -> f64 {
        let gb = f64::from(memory_mb) / 1024.0;
        let seconds = init_billed_ms as f64 / 1000.0;
        1e6 * cold_start_rate * self.gb_second * gb * seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_share_is_proportional_to_memory_as_lambda_gives_it() {
        // 128 / 1769 = 0.072357...
        assert!((vcpus(128) - 0.0724).abs() < 5e-5, "{}", vcpus(128));
        assert_eq!(vcpus(1769), 1.0);
        // 3538 = 2 x 1769.
        assert_eq!(vcpus(3538), 2.0);
        // 10240 / 1769 = 5.78858...: within Lambda's 6 vCPUs, so the cap does not bind at
        // Lambda's largest size; nothing ever gets more than 6.
        assert!((vcpus(10_240) - 5.7886).abs() < 5e-5, "{}", vcpus(10_240));
        assert_eq!(vcpus(20_000), 6.0);
    }

    #[test]
    fn init_adds_its_billed_duration_for_each_cold_start() {
        let x86 = Prices::published(Arch::X86_64);
        // 1024 MB, a 900 ms init at 1% cold starts: 10,000 inits per million invocations, each
        // 1 GB x 0.9 s = 0.9 GB-s, so 9,000 GB-s x 0.0000166667 $ = 0.15 $.
        let init = x86.init_per_million(1024, 900, 0.01);
        assert!((init - 0.150_000_3).abs() < 1e-9, "{init}");
        // Twice the rate, twice the cost; no cold starts, no cost.
        assert!((x86.init_per_million(1024, 900, 0.02) - 2.0 * init).abs() < 1e-12);
        assert_eq!(x86.init_per_million(1024, 900, 0.0), 0.0);
    }

    #[test]
    fn billed_duration_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(0.2), 1);
        assert_eq!(billed_ms(12.0), 12);
        assert_eq!(billed_ms(12.01), 13);
        assert_eq!(billed_ms(99.999), 100);
    }

    #[test]
    fn cost_per_million_is_the_published_formula() {
        let x86 = Prices::published(Arch::X86_64);
        let arm = Prices::published(Arch::Arm64);
        // 1024 MB x86_64, 12.3 ms billed as 13 ms:
        //   GB-seconds per invocation = 1024/1024 x 0.013 = 0.013
        //   compute = 0.013 x 0.0000166667 = 0.000000216667 $; request = 0.20 / 1e6 = 0.0000002 $
        //   per million = 1e6 x (0.000000216667 + 0.0000002) = 0.216667 + 0.2 = 0.416667 $
        let cost = x86.per_million(1024, billed_ms(12.3));
        assert!((cost - 0.416_667_1).abs() < 1e-9, "{cost}");
        // 128 MB arm64, exactly 100 ms:
        //   0.125 GB x 0.1 s = 0.0125 GB-s; x 0.0000133334 = 0.000000166667 $
        //   per million = 0.1666675 + 0.2 = 0.3666675 $
        let cost = arm.per_million(128, billed_ms(100.0));
        assert!((cost - 0.366_667_5).abs() < 1e-9, "{cost}");
        // 3008 MB x86_64, 1.2 ms billed as 2 ms:
        //   2.9375 GB x 0.002 s = 0.005875 GB-s; x 0.0000166667 = 0.0000000979169 $
        //   per million = 0.0979169 + 0.2 = 0.2979169 $
        let cost = x86.per_million(3008, billed_ms(1.2));
        assert!((cost - 0.297_916_9).abs() < 1e-7, "{cost}");
        // Overridden prices: $0.00002 per GB-s and $0.25 per million requests, 2048 MB, 50 ms:
        //   2 GB x 0.05 s = 0.1 GB-s; x 0.00002 = 0.000002 $ -> 2.0 $ per million + 0.25 = 2.25 $
        let custom = Prices {
            gb_second: 0.000_02,
            per_million_requests: 0.25,
            source: "test".to_owned(),
        };
        let cost = custom.per_million(2048, billed_ms(50.0));
        assert!((cost - 2.25).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn function_names_follow_lambdas_rule() {
        assert_eq!(function_name_problem("loan-grade_2"), None);
        assert!(function_name_problem("f g").is_some());
        assert!(function_name_problem("").is_some());
        assert!(function_name_problem(&"x".repeat(65)).is_some());
    }
}
