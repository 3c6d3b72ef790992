//! The function under test: the shipped image, started under the RIE through testcontainers.
//!
//! The image is run exactly as built; the emulator is bind-mounted read-only and made the
//! entrypoint, with the image's own entrypoint as its command. The container gets what Lambda
//! imposes and the RIE does not: a read-only root filesystem with a `/tmp` tmpfs, a non-root
//! user, a memory limit, and Lambda's file-descriptor and process limits.

use crate::arch::Arch;
use crate::docker::{DockerClient, DockerError};
use crate::malformed::LAMBDA_PAYLOAD_LIMIT;
use crate::progress::Progress;
use crate::rie::Rie;
use crate::spec::FunctionSpec;
use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex};
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
    /// The function's own environment variables.
    pub environment: BTreeMap<String, String>,
    /// CPUs the container may use (Lambda gives CPU in proportion to memory); `None`: no limit.
    pub cpus: Option<f64>,
}

impl LambdaSettings {
    /// The settings a spec's `[function]` describes.
    pub fn from_spec(function: &FunctionSpec) -> Self {
        LambdaSettings {
            function_name: function.name.clone(),
            timeout: function.timeout,
            memory_mb: function.memory_mb,
            tmp_mb: 512,
            environment: function.environment.clone(),
            cpus: None,
        }
    }
}

/// Why the container could not be started or reached.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// testcontainers could not start it or find its port.
    #[error("the function container did not start: {cause}\n--- container log ---\n{logs}")]
    Start {
        /// The testcontainers error (shown in the message, with the log after it).
        cause: testcontainers::TestcontainersError,
        /// What the container printed.
        logs: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot create the HTTP client")]
    Client(#[source] reqwest::Error),
    /// Docker failed around the container (its network, its state).
    #[error(transparent)]
    Docker(#[from] DockerError),
}

/// Whether the container under test can still answer, as far as Docker knows.
#[derive(Clone, Debug, PartialEq)]
pub enum Health {
    /// It runs.
    Running,
    /// It stopped: killed from outside, or the emulator itself died. Not the function's
    /// fault as far as the gate can tell, so the run cannot be judged.
    Stopped(String),
    /// Docker does not answer any more.
    Unreachable(String),
}

/// What one invocation returned, classified the way Lambda would.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// A function result (any JSON value).
    Success(serde_json::Value),
    /// A structured error `{errorType, errorMessage}`: the function's own, or the runtime's (the
    /// RIE answers these with HTTP 200 and no `X-Amz-Function-Error` header; a crashed runtime
    /// gets 502).
    FunctionError {
        /// `errorType`.
        error_type: String,
        /// `errorMessage`.
        error_message: String,
    },
    /// The RIE's `Task timed out after N.00 seconds`.
    TimedOut,
    /// Over Lambda's payload limit: Lambda answers 413 `RequestEntityTooLargeException` before
    /// the function runs, so the gate does not send it (the RIE would pass it on truncated).
    RequestTooLarge(usize),
    /// An answer that is not one: a body that is not JSON, an unexpected status.
    Unexpected(String),
    /// No HTTP answer at all: the emulator (which answers even for a crashed runtime) or its
    /// container is gone. Not the function's doing.
    NoAnswer(String),
}

impl Outcome {
    /// One line describing the outcome, for reports.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Success(v) => format!("success: {}", shorten(&v.to_string())),
            Outcome::FunctionError {
                error_type,
                error_message,
            } => format!("error {error_type}: {}", shorten(error_message)),
            Outcome::TimedOut => "timed out".to_owned(),
            Outcome::RequestTooLarge(bytes) => format!(
                "413 RequestEntityTooLargeException from Lambda: {bytes} bytes is over its {LAMBDA_PAYLOAD_LIMIT}-byte limit (not sent)"
            ),
            Outcome::Unexpected(what) => format!("unexpected: {what}"),
            Outcome::NoAnswer(why) => format!("no answer: {why}"),
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

/// Log lines collected from both streams, in arrival order; readers can wait for a line.
#[derive(Clone, Default)]
struct LogBuffer(Arc<(Mutex<String>, Condvar)>);

impl LogBuffer {
    /// Appends a frame; returns its lines as stored.
    fn push(&self, frame: &LogFrame) -> Vec<String> {
        let (prefix, bytes) = match frame {
            LogFrame::StdOut(b) => ("", b),
            LogFrame::StdErr(b) => ("stderr| ", b),
        };
        let lines: Vec<String> = String::from_utf8_lossy(bytes)
            .lines()
            .map(|line| format!("{prefix}{line}"))
            .collect();
        let (lock, changed) = &*self.0;
        if let Ok(mut log) = lock.lock() {
            for line in &lines {
                log.push_str(line);
                log.push('\n');
            }
        }
        changed.notify_all();
        lines
    }

    fn text(&self) -> String {
        self.0.0.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The first value `find` gets from the log, waiting up to `wait` for it to arrive.
    fn wait_for<T>(&self, wait: Duration, find: impl Fn(&str) -> Option<T>) -> Option<T> {
        let (lock, changed) = &*self.0;
        let deadline = Instant::now() + wait;
        let mut log = lock.lock().ok()?;
        loop {
            if let Some(found) = find(&log) {
                return Some(found);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            log = changed.wait_timeout(log, left).ok()?.0;
        }
    }
}

/// Something the checks can invoke: a function container under the RIE, or a deployed
/// function through the Lambda Invoke API. Only a container can say how long its init took,
/// how much memory it used and what it logged.
pub trait Target: Sync {
    /// Sends one request body and classifies the answer the way Lambda would.
    fn invoke(&self, body: &[u8]) -> Invocation;

    /// The init phase, if the target can tell (`wait`: how long its report may take).
    fn init_report(&self, _wait: Duration) -> Option<Duration> {
        None
    }

    /// Peak memory so far, if the target can tell.
    fn peak_memory_bytes(&self) -> Option<u64> {
        None
    }

    /// The end of the function's log, for failure messages; empty if the target has none.
    fn log_tail(&self, _lines: usize) -> String {
        String::new()
    }

    /// Whether the target can still answer (asked when an invocation got no answer).
    fn health(&self) -> Health {
        Health::Running
    }
}

/// A running function container: the image under the RIE, ready for invocations. Dropping it
/// stops and removes the container.
pub struct FunctionContainer {
    /// `None` only while dropping (the container goes before its network).
    container: Option<Container<GenericImage>>,
    endpoint: String,
    client: reqwest::blocking::Client,
    logs: LogBuffer,
    docker: DockerClient,
    network: String,
    memory_bytes: u64,
    /// One invocation at a time, as one Lambda execution environment serves them (and as the
    /// RIE, which panics on a second concurrent request, needs).
    turn: Mutex<()>,
}

impl Drop for FunctionContainer {
    fn drop(&mut self) {
        drop(self.container.take());
        self.docker.remove_network(&self.network);
    }
}

impl FunctionContainer {
    /// Starts `image` (for `arch`) under `rie`, running `command` (the image's `ENTRYPOINT` +
    /// `CMD`, as Lambda does) as the function, and waits until the emulator accepts requests.
    pub fn start(
        image: &str,
        arch: Arch,
        rie: &Rie,
        command: &[String],
        settings: &LambdaSettings,
        progress: &Progress,
    ) -> Result<Self, ContainerError> {
        let (name, tag) = split_reference(image);
        let logs = LogBuffer::default();
        let sink = logs.clone();
        let shown = progress.clone();
        let memory = i64::from(settings.memory_mb) * 1024 * 1024;
        let tmp = i64::from(settings.tmp_mb) * 1024 * 1024;
        let nano_cpus = settings.cpus.map(|c| (c * 1e9) as i64);
        let docker = DockerClient::connect()?;
        docker.remove_stale_networks();
        let network = format!(
            "lambda-gate-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        docker.create_isolated_network(&network)?;
        // Ready when the RIE has exec'd the runtime and its HTTP server answers (404 on `/`
        // without invoking anything): readiness is observed, never slept for.
        let mut request = GenericImage::new(name, tag)
            .with_entrypoint(RIE_MOUNT)
            .with_exposed_port(RIE_PORT)
            .with_wait_for(WaitFor::message_on_stderr("exec '"))
            .with_wait_for(WaitFor::http(
                HttpWaitStrategy::new("/")
                    .with_port(RIE_PORT)
                    .with_expected_status_code(404u16),
            ))
            .with_cmd(command.iter().cloned())
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
            .with_env_var("AWS_REGION", "us-east-1");
        for (key, value) in &settings.environment {
            request = request.with_env_var(key.clone(), value.clone());
        }
        let request = request
            .with_network(network.clone())
            .with_ulimit("nofile", 1024, Some(1024))
            .with_ulimit("nproc", 1024, Some(1024))
            .with_host_config_modifier(move |config| {
                config.memory = Some(memory);
                config.memory_swap = Some(memory);
                config.nano_cpus = nano_cpus;
                // Least privilege: the port on the loopback interface only (not 0.0.0.0 and
                // [::]), no capabilities, no privilege gain, no name resolution.
                config.publish_all_ports = Some(false);
                config.port_bindings = Some(
                    [(
                        RIE_PORT.to_string(),
                        Some(vec![testcontainers::bollard::models::PortBinding {
                            host_ip: Some("127.0.0.1".to_owned()),
                            host_port: Some(String::new()),
                        }]),
                    )]
                    .into_iter()
                    .collect(),
                );
                config.cap_drop = Some(vec!["ALL".to_owned()]);
                config.security_opt = Some(vec!["no-new-privileges".to_owned()]);
                config.dns = Some(vec!["127.0.0.1".to_owned()]);
            })
            .with_startup_timeout(Duration::from_secs(120))
            .with_log_consumer(move |frame: &LogFrame| {
                for line in sink.push(frame) {
                    shown.log(&line);
                }
            });
        let started = request
            .start()
            .and_then(|container| {
                let port = container.get_host_port_ipv4(RIE_PORT)?;
                Ok((container, port))
            })
            .map_err(|cause| ContainerError::Start {
                cause,
                logs: logs.text(),
            });
        let (container, port) = match started {
            Ok(started) => started,
            Err(error) => {
                docker.remove_network(&network);
                return Err(error);
            }
        };
        let client = reqwest::blocking::Client::builder()
            // Past the function timeout, so the RIE's own timeout answer is what we see.
            .timeout(settings.timeout + Duration::from_secs(30))
            .build()
            .map_err(ContainerError::Client)?;
        Ok(FunctionContainer {
            container: Some(container),
            endpoint: format!("http://127.0.0.1:{port}{INVOKE_PATH}"),
            client,
            logs,
            docker,
            network,
            memory_bytes: u64::from(settings.memory_mb) * 1024 * 1024,
            turn: Mutex::new(()),
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        self.container.as_ref().map_or("", |c| c.id())
    }

    /// The RIE's `INIT REPORT` and `REPORT` lines so far, after waiting up to `wait` for the
    /// first `REPORT` (it follows the answer, and logs arrive asynchronously).
    pub fn report_lines(&self, wait: Duration) -> Vec<String> {
        let report = |l: &str| l.starts_with("REPORT RequestId") || l.contains("INIT REPORT(");
        self.logs.wait_for(wait, |log| {
            log.lines()
                .any(|l| l.starts_with("REPORT RequestId"))
                .then_some(())
        });
        self.logs
            .text()
            .lines()
            .map(|l| l.trim_start_matches("stderr| "))
            .filter(|l| report(l))
            .map(str::to_owned)
            .collect()
    }
}

impl FunctionContainer {
    /// The emulator's base URL on this machine (`http://127.0.0.1:PORT`), which serves the
    /// Lambda Invoke API's path: an AWS SDK client pointed there invokes this function as
    /// `function`.
    pub fn api_url(&self) -> &str {
        self.endpoint
            .strip_suffix(INVOKE_PATH)
            .unwrap_or(&self.endpoint)
    }
}

impl Target for FunctionContainer {
    /// Sends one request body and classifies the answer. Transport failures become
    /// [`Outcome::Unexpected`]: a dead container is a finding, not a harness error. A body over
    /// Lambda's payload limit is answered as Lambda answers it, without sending it.
    fn invoke(&self, body: &[u8]) -> Invocation {
        if let Some(refused) = refuse_over_limit(body) {
            return refused;
        }
        let _turn = self.turn.lock().unwrap_or_else(|p| p.into_inner());
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
        let (mut outcome, response_bytes) = match result {
            Ok((status, bytes)) => (classify(status, &bytes), bytes.len()),
            Err(e) => (Outcome::NoAnswer(e.to_string()), 0),
        };
        if let Outcome::FunctionError {
            error_type,
            error_message,
        } = &outcome
            && error_type == "Runtime.ExitError"
            && error_message.contains("signal: killed")
            && let Some(peak) = self.peak_memory_bytes()
            && peak * 100 >= self.memory_bytes * 95
        {
            // The kernel killed the runtime at the memory limit: Lambda calls that
            // Runtime.OutOfMemory (the RIE, which enforces no limit, says Runtime.ExitError).
            outcome = Outcome::FunctionError {
                error_type: "Runtime.OutOfMemory".to_owned(),
                error_message: format!(
                    "the function ran out of memory: peak {} MiB of {} MiB ({error_message})",
                    peak / (1024 * 1024),
                    self.memory_bytes / (1024 * 1024)
                ),
            };
        }
        Invocation {
            outcome,
            request_bytes: body.len(),
            response_bytes,
            elapsed,
        }
    }

    /// The last `lines` lines of the log (stderr lines prefixed `stderr| `), for failure
    /// messages.
    fn log_tail(&self, lines: usize) -> String {
        let text = self.logs.text();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Peak memory of the container so far, in bytes, as the kernel counts it (the RIE's
    /// `Max Memory Used` is only the configured size). `None` where the engine reports no peak
    /// (cgroup v2).
    fn peak_memory_bytes(&self) -> Option<u64> {
        self.docker.peak_memory(self.id())
    }

    /// The init phase as the RIE measured it: `INIT REPORT(durationMs: N)`, from the runtime's
    /// start to its first request for work (the RIE initialises lazily, on the first invoke).
    /// The RIE prints it before answering that invoke, but logs reach us asynchronously, so this
    /// waits up to `wait` for the line.
    fn init_report(&self, wait: Duration) -> Option<Duration> {
        self.logs.wait_for(wait, init_report)
    }

    fn health(&self) -> Health {
        match self.docker.container_state(self.id()) {
            Ok(state) if state.running => Health::Running,
            Ok(state) => Health::Stopped(format!(
                "the function container is {}{}{}: it was stopped or killed from outside, or the emulator died",
                state.status,
                state
                    .exit_code
                    .map_or(String::new(), |c| format!(" (exit code {c})")),
                if state.oom_killed {
                    ", killed for memory"
                } else {
                    ""
                }
            )),
            Err(e) => Health::Unreachable(format!(
                "Docker stopped answering while the function container ran ({e}); the container may still run: docker rm -f {}",
                self.id()
            )),
        }
    }
}

/// `durationMs` of the RIE's `INIT REPORT(durationMs: N)` line.
fn init_report(logs: &str) -> Option<Duration> {
    const MARK: &str = "INIT REPORT(durationMs: ";
    logs.lines().find_map(|line| {
        let rest = &line[line.find(MARK)? + MARK.len()..];
        let ms: f64 = rest.split(')').next()?.trim().parse().ok()?;
        Some(Duration::from_secs_f64(ms / 1000.0))
    })
}

/// Lambda's answer to a body over its payload limit, given without sending it (the RIE would
/// pass it on truncated); `None` for a body Lambda accepts. Every [`Target`] answers this way.
pub(crate) fn refuse_over_limit(body: &[u8]) -> Option<Invocation> {
    (body.len() > LAMBDA_PAYLOAD_LIMIT).then_some(Invocation {
        outcome: Outcome::RequestTooLarge(body.len()),
        request_bytes: body.len(),
        response_bytes: 0,
        elapsed: Duration::ZERO,
    })
}

/// Classifies an invoke answer by its HTTP status and body, as the RIE gives them (also used
/// for a deployed function's answers, so the same bytes get the same verdict).
pub(crate) fn classify(status: u16, body: &[u8]) -> Outcome {
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
        // The RIE answers an empty body when the runtime exits mid-invocation (its issue #86);
        // Lambda answers Runtime.ExitError.
        Err(_) if body.is_empty() && (status == 200 || status == 502) => Outcome::FunctionError {
            error_type: "Runtime.ExitError".to_owned(),
            error_message: format!(
                "the runtime exited without answering (the RIE sent HTTP {status} with an empty body; Lambda answers Runtime.ExitError)"
            ),
        },
        Err(_) if body.is_empty() => {
            Outcome::Unexpected(format!("HTTP {status} with an empty body"))
        }
        Err(e) => Outcome::Unexpected(format!(
            "HTTP {status} with a body that is not JSON ({e}), near: {:?}",
            String::from_utf8_lossy(around(body, &e))
        )),
    }
}

/// Up to 60 bytes either side of where `error` stopped reading `body`: the place that is not
/// JSON (`"id": NaN` from pandas, say), not just the start of a long answer.
fn around<'b>(body: &'b [u8], error: &serde_json::Error) -> &'b [u8] {
    let line_start: usize = body
        .split_inclusive(|&b| b == b'\n')
        .take(error.line().saturating_sub(1))
        .map(<[u8]>::len)
        .sum();
    let at = (line_start + error.column().saturating_sub(1)).min(body.len());
    &body[at.saturating_sub(60)..(at + 60).min(body.len())]
}

fn split_reference(reference: &str) -> (String, String) {
    // The tag is after the last ':' unless that ':' belongs to a registry port (then a '/'
    // follows it). Joined again with ':', `name@sha256:hex` and `sha256:hex` survive too.
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
        // The RIE's answer when the runtime exits mid-invocation, in Lambda's shape.
        assert!(matches!(
            classify(200, b""),
            Outcome::FunctionError { error_type, .. } if error_type == "Runtime.ExitError"
        ));
        let long = format!("{{\"p\": [{}], \"id\": NaN}}", "1,".repeat(100) + "1");
        match classify(200, long.as_bytes()) {
            Outcome::Unexpected(what) => assert!(what.contains("\\\"id\\\": NaN"), "{what}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn init_is_read_from_the_init_report_line() {
        let logs = "stderr| 01 Dec 2026 20:34:05,850 [INFO] (rapid) INIT RTDONE(status: success)\n\
                    stderr| 01 Dec 2026 20:34:05,851 [INFO] (rapid) INIT REPORT(durationMs: 116.513000)\n\
                    REPORT RequestId: a\tInit Duration: 0.31 ms\tDuration: 118.37 ms\n";
        assert_eq!(init_report(logs), Some(Duration::from_secs_f64(0.116513)));
        assert_eq!(
            init_report("REPORT RequestId: a\tInit Duration: 0.31 ms"),
            None
        );
    }
}
