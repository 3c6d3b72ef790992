//! A real registry for the push tests: Debian's `docker-registry` (the CNCF distribution
//! registry) serving a temporary directory on 127.0.0.1, and `skopeo` to read it back.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long the registry may take to say it is listening.
const START_WAIT: Duration = Duration::from_secs(30);

/// A running `docker-registry serve` on 127.0.0.1; dropping it kills the process and removes
/// its storage.
pub(crate) struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    _storage: tempfile::TempDir,
}

/// Panics, naming the install step, unless `program` runs.
pub(crate) fn require(program: &str) {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "`{program}` is not installed: the push tests need a real registry and skopeo; run `.ci/install registry` (Debian: apt-get install docker-registry skopeo)"
    );
}

impl Registry {
    /// Starts a registry on a port the kernel picks and waits until it is listening (its own
    /// log line says where), then until `GET /v2/` answers.
    pub(crate) fn start() -> Registry {
        require("docker-registry");
        require("skopeo");
        let storage = tempfile::tempdir().expect("a temporary directory");
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:0\n",
                storage.path().join("data").display()
            ),
        )
        .expect("write the registry's config");
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start docker-registry");
        let stderr = child.stderr.take().expect("the registry's stderr");
        let (found, listening) = mpsc::channel();
        // Reads the log for good (an unread pipe would block the registry), sending the
        // address once.
        std::thread::spawn(move || {
            const MARK: &str = "listening on ";
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find(MARK) {
                    let address: String = line[at + MARK.len()..]
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect();
                    let _ = found.send(address);
                }
            }
        });
        let mut registry = Registry {
            address: String::new(),
            child,
            _storage: storage,
        };
        registry.address = listening.recv_timeout(START_WAIT).unwrap_or_else(|_| {
            panic!(
                "docker-registry did not say it was listening within {START_WAIT:?} (exit status: {:?})",
                registry.child.try_wait()
            )
        });
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        let answer = client
            .get(format!("http://{}/v2/", registry.address))
            .send()
            .unwrap_or_else(|e| {
                panic!("the registry at {} does not answer: {e}", registry.address)
            });
        assert!(
            answer.status().is_success(),
            "GET /v2/ answered {}",
            answer.status()
        );
        registry
    }

    /// The raw manifest (or with `config`, the raw config blob) of `reference` in this
    /// registry, read with skopeo.
    pub(crate) fn inspect(&self, reference: &str, config: bool) -> Vec<u8> {
        let mut command = Command::new("skopeo");
        command.args(["inspect", "--tls-verify=false"]);
        if config {
            command.arg("--config");
        }
        let output = command
            .arg("--raw")
            .arg(format!("docker://{}/{reference}", self.address))
            .output()
            .expect("run skopeo");
        assert!(
            output.status.success(),
            "skopeo inspect {reference}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Whether the registry has any tag in `repository`.
    pub(crate) fn has_repository(&self, repository: &str) -> bool {
        reqwest::blocking::get(format!("http://{}/v2/{repository}/tags/list", self.address))
            .is_ok_and(|answer| answer.status().is_success())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a [`Meddler`] does with a `GET` of a manifest by digest (the gate's read-back).
#[derive(Clone)]
pub(crate) enum Meddle {
    /// Never answers (the connection is held open, silent, for at most [`HOLD`]).
    Hang,
    /// Answers these bytes as the manifest, whatever digest was asked.
    Answer(Vec<u8>),
    /// Wants credentials for every manifest, by tag or by digest (401, as a registry that
    /// refuses an anonymous or wrong login answers).
    Unauthorized,
}

/// How long a [`Meddle::Hang`] holds a connection before it closes it: the meddler stops by
/// itself, whatever the test does.
const HOLD: Duration = Duration::from_secs(40);

/// A registry in the middle on 127.0.0.1: every request goes to `upstream` unchanged (one
/// request a connection), except a `GET` of a manifest by digest, which it meddles with.
/// Docker pushes through it (127.0.0.0/8 over HTTP); the read-back then meets the meddling.
pub(crate) struct Meddler {
    /// `127.0.0.1:PORT`.
    pub(crate) address: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Meddler {
    pub(crate) fn start(upstream: &str, meddle: Meddle) -> Meddler {
        use std::net::TcpListener;
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let address = listener.local_addr().expect("its address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let (upstream, stopping) = (upstream.to_owned(), Arc::clone(&stop));
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        std::thread::spawn(move || {
            // Accepts until the meddler is dropped (or for at most ten minutes).
            let until = std::time::Instant::now() + Duration::from_secs(600);
            while !stopping.load(std::sync::atomic::Ordering::Relaxed)
                && std::time::Instant::now() < until
            {
                match listener.accept() {
                    Ok((client, _)) => {
                        let (upstream, meddle) = (upstream.clone(), meddle.clone());
                        let stopping = Arc::clone(&stopping);
                        std::thread::spawn(move || {
                            let _ = relay(client, &upstream, &meddle, &stopping);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Meddler { address, stop }
    }
}

impl Drop for Meddler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One connection: its request read, then meddled with or relayed to `upstream`.
fn relay(
    mut client: std::net::TcpStream,
    upstream: &str,
    meddle: &Meddle,
    stop: &std::sync::atomic::AtomicBool,
) -> std::io::Result<()> {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpStream};
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut head: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 8192];
    let end = loop {
        if let Some(at) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break Some(at + 4);
        }
        // Not HTTP (Docker tries TLS first): relayed as it is, the registry answers it.
        if head.first().is_some_and(|b| !b.is_ascii_uppercase()) {
            break None;
        }
        let n = client.read(&mut buffer)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buffer[..n]);
    };
    let Some(end) = end else {
        return pipe(client, TcpStream::connect(upstream)?, &head);
    };
    let (head, rest) = head.split_at(end);
    let text = String::from_utf8_lossy(head).into_owned();
    let mut request_line = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (
        request_line.next().unwrap_or_default(),
        request_line.next().unwrap_or_default(),
    );
    if matches!(meddle, Meddle::Unauthorized) && path.contains("/manifests/") {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        client.write_all(
            format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )?;
        return client.shutdown(Shutdown::Both);
    }
    if method == "GET" && path.contains("/manifests/sha256:") {
        match meddle {
            Meddle::Hang => {
                let until = std::time::Instant::now() + HOLD;
                while std::time::Instant::now() < until
                    && !stop.load(std::sync::atomic::Ordering::Relaxed)
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Meddle::Unauthorized => {}
            Meddle::Answer(bytes) => {
                client.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nContent-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\nConnection: close\r\n\r\n",
                        bytes.len()
                    )
                    .as_bytes(),
                )?;
                client.write_all(bytes)?;
            }
        }
        return client.shutdown(Shutdown::Both);
    }
    // One request a connection: the registry closes after answering it.
    let mut rewritten: String = text
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .take_while(|line| !line.is_empty())
        .map(|line| format!("{line}\r\n"))
        .collect();
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut sent = rewritten.into_bytes();
    sent.extend_from_slice(rest);
    pipe(client, TcpStream::connect(upstream)?, &sent)
}

/// Sends `first` to `server`, then relays both ways until the server is done.
fn pipe(
    mut client: std::net::TcpStream,
    mut server: std::net::TcpStream,
    first: &[u8],
) -> std::io::Result<()> {
    use std::io::Write;
    use std::net::Shutdown;
    server.write_all(first)?;
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let upload = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    server.set_read_timeout(Some(Duration::from_secs(120)))?;
    let _ = std::io::copy(&mut server, &mut client);
    let _ = client.shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
    let _ = upload.join();
    Ok(())
}
