//! The function under test: the shipped image, started under the RIE through testcontainers.
//!
//! The image is run exactly as built; the emulator is bind-mounted read-only and made the
//! entrypoint, with the image's own entrypoint as its command. The container gets what Lambda
//! imposes and the RIE does not: a read-only root filesystem with a `/tmp` tmpfs, a non-root
//! user, a memory limit, and Lambda's file-descriptor and process limits.

use super::logs::{LogBuffer, init_report, reports_arrived};
use super::{
    DockerClient, DockerError, Health, Invocation, Outcome, Rie, Target, classify,
    refuse_over_limit,
};
use crate::arch::Arch;
use crate::lambda;
use crate::progress::Progress;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use testcontainers::core::logs::LogFrame;
use testcontainers::core::wait::HttpWaitStrategy;
use testcontainers::core::{AccessMode, ContainerPort, Mount, WaitFor};
use testcontainers::runners::SyncRunner;
use testcontainers::{Container, ContainerRequest, GenericImage, ImageExt};

/// Where the emulator is mounted inside the container.
const RIE_MOUNT: &str = "/aws-lambda/aws-lambda-rie";
/// The RIE's invoke port.
const RIE_PORT: ContainerPort = ContainerPort::Tcp(8080);
/// The RIE's invoke path.
const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";
/// How soon a request the Managed Instances mode refused as busy is sent again.
const BUSY_RETRY: Duration = Duration::from_millis(5);

/// Lambda settings the container is given.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct LambdaSettings {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub(crate) function_name: String,
    /// Function timeout (`AWS_LAMBDA_FUNCTION_TIMEOUT`); the RIE enforces it.
    pub(crate) timeout: Duration,
    /// Memory size in MB; the RIE only reports it, so it is also the container's memory limit.
    pub(crate) memory_mb: u32,
    /// Size of the `/tmp` tmpfs in MB (Lambda's default ephemeral storage is 512).
    pub(crate) tmp_mb: u32,
    /// The function's own environment variables.
    pub(crate) environment: BTreeMap<String, String>,
    /// CPUs the container may use (Lambda gives CPU in proportion to memory); `None`: no limit.
    pub(crate) cpus: Option<f64>,
    /// Requests served at once (Lambda Managed Instances, `AWS_LAMBDA_MAX_CONCURRENCY`; the
    /// RIE then runs in its Managed Instances mode); `None`: one at a time, as classic Lambda.
    pub(crate) max_concurrency: Option<u32>,
}

impl LambdaSettings {
    /// The settings of a function named `name` with Lambda's defaults for the rest (no CPU
    /// limit, the default `/tmp`).
    pub(crate) fn new(
        name: &str,
        timeout: Duration,
        memory_mb: u32,
        environment: BTreeMap<String, String>,
    ) -> Self {
        LambdaSettings {
            function_name: name.to_owned(),
            timeout,
            memory_mb,
            tmp_mb: lambda::TMP_MB,
            environment,
            cpus: None,
            max_concurrency: None,
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
    /// The start failed and Docker no longer answers: the engine went away, so the failure
    /// says nothing about the image.
    #[error(
        "Docker stopped answering while the function container was being started; a container may be left behind (docker ps -a)"
    )]
    DockerLost(#[source] Box<ContainerError>),
}

impl ContainerError {
    /// Whether the failure may be the image's own (it exits or cannot be executed before the
    /// emulator answers): only then is it a finding about the image. Docker failing around
    /// the container, or going away, leaves the image unjudged.
    pub(crate) fn may_be_the_images(&self) -> bool {
        matches!(self, ContainerError::Start { .. })
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
    /// One invocation at a time, as one classic Lambda execution environment serves them (and
    /// as the RIE's classic mode, which panics on a second concurrent request, needs); `None`
    /// in the Managed Instances mode, which serves several at once.
    turn: Option<Mutex<()>>,
    /// How long a request refused because the runtime's polling loops are all busy is sent
    /// again (Managed Instances mode): the function's timeout.
    busy_wait: Duration,
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
    pub(crate) fn start(
        image: &str,
        arch: Arch,
        rie: &Rie,
        command: &[String],
        settings: &LambdaSettings,
        progress: &Progress,
    ) -> Result<Self, ContainerError> {
        let logs = LogBuffer::default();
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
        let sink = logs.clone();
        let shown = progress.clone();
        let request = request(image, arch, rie, command, settings)
            .with_network(network.clone())
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
            turn: settings.max_concurrency.is_none().then(|| Mutex::new(())),
            busy_wait: settings.timeout,
        })
    }

    /// The container's id.
    pub fn id(&self) -> &str {
        self.container.as_ref().map_or("", |c| c.id())
    }

    /// Whether the kernel killed the container for memory.
    pub(crate) fn oom_killed(&self) -> bool {
        self.docker
            .container_state(self.id())
            .is_ok_and(|state| state.oom_killed)
    }

    /// The RIE's `INIT REPORT` and `REPORT` lines so far, after waiting up to `wait` for both
    /// (they follow the answer, and logs arrive asynchronously, each line on its own: waiting
    /// for the `REPORT` alone sometimes returned before the `INIT REPORT` had arrived).
    pub fn report_lines(&self, wait: Duration) -> Vec<String> {
        let report = |l: &str| l.starts_with("REPORT RequestId") || l.contains("INIT REPORT(");
        self.logs
            .wait_for(wait, |log| reports_arrived(log).then_some(()));
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

impl FunctionContainer {
    /// [`Target::invoke`], also returning the answer's bytes as the function sent them (for
    /// `invoke`, which prints them unchanged).
    pub(crate) fn invoke_keeping_body(&self, body: &[u8]) -> (Invocation, Vec<u8>) {
        if let Some(refused) = refuse_over_limit(body) {
            return (refused, Vec::new());
        }
        let _turn = self
            .turn
            .as_ref()
            .map(|turn| turn.lock().unwrap_or_else(|p| p.into_inner()));
        let started = Instant::now();
        let mut result = self.post(body);
        // Every polling loop of the runtime busy: Lambda would hold the request back, the
        // RIE's Managed Instances mode refuses it; sent again until one is free.
        while self.turn.is_none()
            && started.elapsed() < self.busy_wait
            && matches!(&result, Ok((400, Ok(b))) if is_busy(b))
        {
            std::thread::sleep(BUSY_RETRY);
            result = self.post(body);
        }
        let elapsed = started.elapsed();
        let (mut outcome, answer, response_bytes) = match result {
            Ok((status, Ok(bytes))) => {
                let length = bytes.len();
                (classify(status, &bytes), bytes, length)
            }
            Ok((_, Err(read))) => (super::response_too_large(read), Vec::new(), read),
            Err(e) => (Outcome::NoAnswer(e), Vec::new(), 0),
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
        let invocation = Invocation {
            outcome,
            request_bytes: body.len(),
            response_bytes,
            elapsed,
        };
        (invocation, answer)
    }
}

impl FunctionContainer {
    /// Posts `body` to the emulator: the HTTP status and the answer (or its length, when it
    /// is over Lambda's response limit), or why there is none.
    fn post(&self, body: &[u8]) -> Result<(u16, Result<Vec<u8>, usize>), String> {
        self.client
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .map_err(|e| e.to_string())
            .and_then(|mut r| {
                let status = r.status().as_u16();
                super::read_capped(&mut r)
                    .map(|b| (status, b))
                    .map_err(|e| e.to_string())
            })
    }
}

/// Whether an answer of the RIE's Managed Instances mode says every polling loop is busy.
fn is_busy(answer: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(answer)
        .is_ok_and(|v| v["errorType"] == "Runtime.Unavailable")
}

impl Target for FunctionContainer {
    /// Sends one request body and classifies the answer. Transport failures become
    /// [`Outcome::Unexpected`]: a dead container is a finding, not a harness error. A body over
    /// Lambda's payload limit is answered as Lambda answers it, without sending it.
    fn invoke(&self, body: &[u8]) -> Invocation {
        self.invoke_keeping_body(body).0
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

/// The container request for `image` under `rie`: Lambda's environment, limits and least
/// privilege, ready when the RIE has exec'd the runtime and its HTTP server answers (404 on
/// `/` without invoking anything): readiness is observed, never slept for.
fn request(
    image: &str,
    arch: Arch,
    rie: &Rie,
    command: &[String],
    settings: &LambdaSettings,
) -> ContainerRequest<GenericImage> {
    let (name, tag) = split_reference(image);
    let memory = i64::from(settings.memory_mb) * 1024 * 1024;
    let tmp = i64::from(settings.tmp_mb) * 1024 * 1024;
    let nano_cpus = settings.cpus.map(|c| (c * 1e9) as i64);
    let managed = settings.max_concurrency.is_some();
    // The classic mode says when it has exec'd the runtime; the Managed Instances mode
    // initialises before its HTTP server answers.
    let image = GenericImage::new(name, tag)
        .with_entrypoint(RIE_MOUNT)
        .with_exposed_port(RIE_PORT);
    let image = if managed {
        image
    } else {
        image.with_wait_for(WaitFor::message_on_stderr("exec '"))
    };
    // The Managed Instances mode starts the runtime as the sandbox user itself (setuid and
    // setgid to 993:990), so the emulator runs as root with those two capabilities alone; the
    // function still runs as the sandbox user with none.
    let user = if managed { "0:0" } else { lambda::SANDBOX_USER };
    let mut request = image
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
        .with_user(user)
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
    if let Some(n) = settings.max_concurrency {
        request = request.with_env_var(lambda::MAX_CONCURRENCY_ENV, n.to_string());
    }
    request
        .with_ulimit(
            "nofile",
            lambda::FD_AND_PROCESS_LIMIT,
            Some(lambda::FD_AND_PROCESS_LIMIT),
        )
        .with_ulimit(
            "nproc",
            lambda::FD_AND_PROCESS_LIMIT,
            Some(lambda::FD_AND_PROCESS_LIMIT),
        )
        .with_host_config_modifier(move |config| {
            config.memory = Some(memory);
            config.memory_swap = Some(memory);
            config.nano_cpus = nano_cpus;
            lock_down(config, managed);
        })
        .with_startup_timeout(Duration::from_secs(120))
}

/// Least privilege: the port on the loopback interface only (not 0.0.0.0 and [::]), no
/// capabilities (but setuid and setgid for the Managed Instances mode, `managed`, whose
/// emulator starts the runtime as the sandbox user), no privilege gain, no name resolution.
fn lock_down(config: &mut testcontainers::bollard::models::HostConfig, managed: bool) {
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
    if managed {
        config.cap_add = Some(vec!["SETUID".to_owned(), "SETGID".to_owned()]);
    }
    config.security_opt = Some(vec!["no-new-privileges".to_owned()]);
    config.dns = Some(vec!["127.0.0.1".to_owned()]);
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
}
