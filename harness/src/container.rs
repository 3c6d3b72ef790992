//! The function under test: the shipped image, started under the RIE through testcontainers.
//!
//! The image is run exactly as built; the emulator is bind-mounted read-only and made the
//! entrypoint, with the image's own entrypoint as its command. The container gets what Lambda
//! imposes and the RIE does not: a read-only root filesystem with a `/tmp` tmpfs, a non-root
//! user, a memory limit, and Lambda's file-descriptor and process limits.

use crate::arch::Arch;
use crate::rie::Rie;
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testcontainers::core::logs::LogFrame;
use testcontainers::core::wait::HttpWaitStrategy;
use testcontainers::core::{AccessMode, ContainerPort, Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, GenericImage, ImageExt};

/// Where the emulator is mounted inside the container.
const RIE_MOUNT: &str = "/aws-lambda/aws-lambda-rie";
/// The RIE's invoke port.
const RIE_PORT: ContainerPort = ContainerPort::Tcp(8080);
/// The RIE's invoke path.
const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";
/// Lambda's own user id for functions (`sbx_user1051`), whatever the image declares.
const LAMBDA_USER: &str = "993:990";

/// Lambda settings the container is given.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LambdaSettings {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// Function timeout (`AWS_LAMBDA_FUNCTION_TIMEOUT`); the RIE enforces it.
    pub timeout: Duration,
    /// Memory size in MB; the RIE only reports it, so it is also the container's memory limit.
    pub memory_mb: u32,
    /// Size of the `/tmp` tmpfs in MB (Lambda's default ephemeral storage is 512).
    pub tmp_mb: u32,
}

impl Default for LambdaSettings {
    fn default() -> Self {
        LambdaSettings {
            function_name: "loan-grade-gate".to_owned(),
            // Generous: arm64 runs under qemu on x86_64 machines, several times slower.
            timeout: Duration::from_secs(30),
            memory_mb: 1024,
            tmp_mb: 512,
        }
    }
}

/// Why the container could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// testcontainers could not start it or find its port.
    #[error("the function container did not start: {source}\n--- container log ---\n{logs}")]
    Start {
        /// The testcontainers error.
        source: testcontainers::TestcontainersError,
        /// What the container printed.
        logs: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot create the HTTP client: {0}")]
    Client(reqwest::Error),
}

/// What one invocation returned, classified the way Lambda would.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A function result (any JSON value).
    Success(serde_json::Value),
    /// A structured function error `{errorType, errorMessage}` (the RIE answers these with HTTP
    /// 200 and no `X-Amz-Function-Error` header; a crashed runtime gets 502).
    FunctionError {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
    /// The RIE's `Task timed out after N.00 seconds`.
    TimedOut,
    /// Anything else: no answer, a non-JSON body, an unexpected status.
    Unexpected(String),
}

impl Outcome {
    /// One line describing the outcome, for reports.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Success(v) => format!("success: {}", shorten(&v.to_string())),
            Outcome::FunctionError {
                error_type,
                error_message,
            } => format!("function error {error_type}: {}", shorten(error_message)),
            Outcome::TimedOut => "timed out".to_owned(),
            Outcome::Unexpected(what) => format!("unexpected: {what}"),
        }
    }
}

/// At most 300 bytes of `text`, cut at a character boundary: responses can be megabytes.
fn shorten(text: &str) -> String {
    if text.len() > 300 {
        format!("{}...", &text[..text.floor_char_boundary(300)])
    } else {
        text.to_owned()
    }
}

/// One invocation as observed from outside.
#[derive(Clone, Debug)]
pub struct Invocation {
    /// The classified result.
    pub outcome: Outcome,
    /// Bytes of the request body.
    pub request_bytes: usize,
    /// Bytes of the response body.
    pub response_bytes: usize,
    /// Wall time seen by the client.
    pub elapsed: Duration,
}

/// Log lines collected from both streams, in arrival order.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<String>>);

impl LogBuffer {
    fn push(&self, frame: &LogFrame) {
        let (prefix, bytes) = match frame {
            LogFrame::StdOut(b) => ("", b),
            LogFrame::StdErr(b) => ("stderr| ", b),
        };
        if let Ok(mut log) = self.0.lock() {
            for line in String::from_utf8_lossy(bytes).lines() {
                log.push_str(prefix);
                log.push_str(line);
                log.push('\n');
            }
        }
    }

    fn text(&self) -> String {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// A running function container: the image under the RIE, ready for invocations. Dropping it
/// stops and removes the container.
pub struct FunctionContainer {
    container: Container<GenericImage>,
    endpoint: String,
    client: reqwest::blocking::Client,
    logs: LogBuffer,
}

impl FunctionContainer {
    /// Starts `image` (for `arch`) under `rie` and waits until the emulator accepts requests.
    pub fn start(
        image: &str,
        arch: Arch,
        rie: &Rie,
        entrypoint: &[String],
        settings: &LambdaSettings,
    ) -> Result<Self, ContainerError> {
        let (name, tag) = split_reference(image);
        let logs = LogBuffer::default();
        let sink = logs.clone();
        let memory = i64::from(settings.memory_mb) * 1024 * 1024;
        let tmp = i64::from(settings.tmp_mb) * 1024 * 1024;
        // Ready when the RIE has exec'd the bootstrap and its HTTP server answers (404 on `/`
        // without invoking anything): readiness is observed, never slept for.
        let request = GenericImage::new(name, tag)
            .with_entrypoint(RIE_MOUNT)
            .with_exposed_port(RIE_PORT)
            .with_wait_for(WaitFor::message_on_stderr("exec '"))
            .with_wait_for(WaitFor::http(
                HttpWaitStrategy::new("/")
                    .with_port(RIE_PORT)
                    .with_expected_status_code(404u16),
            ))
            .with_cmd(entrypoint.iter().cloned())
            .with_platform(arch.docker_platform())
            .with_mount(
                Mount::bind_mount(rie.path.display().to_string(), RIE_MOUNT)
                    .with_access_mode(AccessMode::ReadOnly),
            )
            .with_mount(Mount::tmpfs_mount("/tmp").with_size_bytes(tmp))
            .with_readonly_rootfs(true)
            .with_user(LAMBDA_USER)
            .with_env_var("AWS_LAMBDA_FUNCTION_NAME", settings.function_name.clone())
            .with_env_var(
                "AWS_LAMBDA_FUNCTION_TIMEOUT",
                settings.timeout.as_secs().to_string(),
            )
            .with_env_var(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                settings.memory_mb.to_string(),
            )
            .with_env_var("AWS_REGION", "us-east-1")
            .with_ulimit("nofile", 1024, Some(1024))
            .with_ulimit("nproc", 1024, Some(1024))
            .with_host_config_modifier(move |config| {
                config.memory = Some(memory);
                config.memory_swap = Some(memory);
            })
            .with_startup_timeout(Duration::from_secs(120))
            .with_log_consumer(move |frame: &LogFrame| sink.push(frame));
        let container = request.start().map_err(|source| ContainerError::Start {
            source,
            logs: logs.text(),
        })?;
        let port =
            container
                .get_host_port_ipv4(RIE_PORT)
                .map_err(|source| ContainerError::Start {
                    source,
                    logs: logs.text(),
                })?;
        let client = reqwest::blocking::Client::builder()
            // Past the function timeout, so the RIE's own timeout answer is what we see.
            .timeout(settings.timeout + Duration::from_secs(30))
            .build()
            .map_err(ContainerError::Client)?;
        Ok(FunctionContainer {
            container,
            endpoint: format!("http://127.0.0.1:{port}{INVOKE_PATH}"),
            client,
            logs,
        })
    }

    /// Sends one request body and classifies the answer. Transport failures become
    /// [`Outcome::Unexpected`]: a dead container is a finding, not a harness error.
    pub fn invoke(&self, body: &[u8]) -> Invocation {
        let started = Instant::now();
        let result = self
            .client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .and_then(|r| {
                let status = r.status().as_u16();
                r.bytes().map(|b| (status, b))
            });
        let elapsed = started.elapsed();
        let (outcome, response_bytes) = match result {
            Ok((status, bytes)) => (classify(status, &bytes), bytes.len()),
            Err(e) => (Outcome::Unexpected(format!("no response: {e}")), 0),
        };
        Invocation {
            outcome,
            request_bytes: body.len(),
            response_bytes,
            elapsed,
        }
    }

    /// The last `lines` lines of the log (stderr lines prefixed `stderr| `), for failure
    /// messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = self.logs.text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Peak memory of the container so far, in bytes, as the kernel counts it (the RIE's
    /// `Max Memory Used` is only the configured size). `None` where the engine reports no peak
    /// (cgroup v2).
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        crate::docker::DockerClient::connect()
            .ok()?
            .peak_memory(self.container.id())
    }

    /// The RIE's `Init Duration` from its first `REPORT` line. The RIE initialises lazily, on
    /// the first request, and prints the line before answering it; the log reaches us
    /// asynchronously, so this follows the container's stdout until the line arrives (or `wait`
    /// passes, which means the RIE never reported).
    pub fn init_duration(&self, wait: Duration) -> Option<Duration> {
        let stdout = self.container.stdout(true);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines() {
                let Ok(line) = line else { break };
                if line.starts_with("REPORT RequestId:") {
                    let _ = tx.send(line);
                    break;
                }
            }
        });
        let line = rx.recv_timeout(wait).ok()?;
        report_field(&line, "Init Duration:")
    }
}

/// The value in milliseconds of `field` in the first RIE `REPORT` line that has it.
fn report_field(logs: &str, field: &str) -> Option<Duration> {
    logs.lines()
        .filter(|l| l.starts_with("REPORT RequestId:"))
        .find_map(|line| {
            let rest = &line[line.find(field)? + field.len()..];
            let ms: f64 = rest.trim_start().split(' ').next()?.parse().ok()?;
            Some(Duration::from_secs_f64(ms / 1000.0))
        })
}

fn classify(status: u16, body: &[u8]) -> Outcome {
    if status == 200 && body.starts_with(b"Task timed out after") {
        return Outcome::TimedOut;
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => match (&value["errorType"], &value["errorMessage"]) {
            (serde_json::Value::String(t), message) => Outcome::FunctionError {
                error_type: t.clone(),
                error_message: message.as_str().unwrap_or_default().to_owned(),
            },
            _ if status == 200 => Outcome::Success(value),
            _ => Outcome::Unexpected(format!("HTTP {status}: {value}")),
        },
        Err(_) => Outcome::Unexpected(format!(
            "HTTP {status} with a non-JSON body: {:?}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        )),
    }
}

fn split_reference(reference: &str) -> (String, String) {
    // The tag is after the last ':' unless that ':' belongs to a registry port (then a '/'
    // follows it).
    match reference.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name.to_owned(), tag.to_owned()),
        _ => (reference.to_owned(), "latest".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_at_the_tag_not_the_registry_port() {
        assert_eq!(
            split_reference("loan-grade-service:arm64-0123"),
            ("loan-grade-service".to_owned(), "arm64-0123".to_owned())
        );
        assert_eq!(
            split_reference("localhost:5000/svc"),
            ("localhost:5000/svc".to_owned(), "latest".to_owned())
        );
    }

    #[test]
    fn rie_answers_are_classified() {
        assert!(matches!(
            classify(200, b"Task timed out after 3.00 seconds"),
            Outcome::TimedOut
        ));
        assert!(matches!(
            classify(200, br#"{"errorType":"InvalidPayload","errorMessage":"records: x"}"#),
            Outcome::FunctionError { error_type, .. } if error_type == "InvalidPayload"
        ));
        assert!(matches!(
            classify(502, br#"{"errorType":"Runtime.ExitError","errorMessage":"exit status 101"}"#),
            Outcome::FunctionError { error_type, .. } if error_type == "Runtime.ExitError"
        ));
        assert!(matches!(
            classify(200, br#"{"predictions":[]}"#),
            Outcome::Success(_)
        ));
        assert!(matches!(classify(500, b""), Outcome::Unexpected(_)));
    }

    #[test]
    fn init_duration_is_read_from_the_first_report_line() {
        let logs = "START RequestId: a Version: $LATEST\n\
                    END RequestId: a\n\
                    REPORT RequestId: a\tInit Duration: 12.50 ms\tDuration: 3.00 ms\tBilled Duration: 3 ms\n\
                    REPORT RequestId: b\tDuration: 1.00 ms\n";
        assert_eq!(
            report_field(logs, "Init Duration:"),
            Some(Duration::from_secs_f64(0.0125))
        );
        assert_eq!(report_field("nothing", "Init Duration:"), None);
    }
}
