//! What `push` checks about the registry before the first byte is pushed: that it is reachable
//! and answers `GET /v2/` in time, that a registry on this machine serving plain HTTP is read
//! as such (`--insecure-registry`), and that the read-back tool can read the target with the
//! stored credentials. A push that cannot be proven afterwards is not started.

use super::tools::Skopeo;
use super::{PushError, PushTarget};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The most of an answer's head that is read.
const HEAD_LIMIT: usize = 16 * 1024;

/// What the checks found, for the progress line.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Reachable {
    /// One line: how the registry answered.
    pub(super) summary: String,
}

/// Checks the registry of `target` before pushing; `skopeo` is the read-back as it will run.
pub(super) fn check(
    target: &PushTarget,
    tagged: &str,
    skopeo: &Skopeo,
    timeout: Duration,
) -> Result<Reachable, PushError> {
    let started = Instant::now();
    let (host, port) = host_port(&target.registry);
    let stream = connect(&target.registry, &host, port, timeout)?;
    let mut summary = format!("{} accepts connections", target.registry);
    if target.is_loopback() {
        // On this machine the registry may serve plain HTTP: Docker pushes there over HTTP
        // without settings, skopeo reads it only with --tls-verify=false.
        let url = format!("http://{}/v2/", target.registry);
        match plain_v2(stream, &target.registry, &url, timeout)? {
            PlainAnswer::Registry(status) => {
                if !skopeo.insecure {
                    return Err(PushError::PlainHttp {
                        registry: target.registry.clone(),
                        answer: format!("GET {url} answered {status}"),
                    });
                }
                summary = format!("GET {url} answered {status} (plain HTTP, --insecure-registry)");
            }
            PlainAnswer::NotARegistry(status) => {
                return Err(PushError::NotARegistry {
                    url,
                    answer: status,
                });
            }
            PlainAnswer::Tls => {}
        }
    }
    preflight(target, tagged, skopeo)?;
    Ok(Reachable {
        summary: format!(
            "{summary}; skopeo reads {tagged} ({} ms)",
            started.elapsed().as_millis()
        ),
    })
}

/// `host` and the port of `registry` (`host[:port]`, `[v6]:port`), 443 when none is given.
fn host_port(registry: &str) -> (String, u16) {
    let (host, port) = match registry.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']').unwrap_or((v6, ""));
            (host, rest.strip_prefix(':'))
        }
        None => match registry.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (registry, None),
        },
    };
    (
        host.to_owned(),
        port.and_then(|p| p.parse().ok()).unwrap_or(443),
    )
}

/// A TCP connection to the registry within `timeout` (name resolution included).
fn connect(
    registry: &str,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<TcpStream, PushError> {
    let deadline = Instant::now() + timeout;
    let unreachable = |source| PushError::Unreachable {
        registry: registry.to_owned(),
        source,
    };
    // Resolution has no timeout of its own: it runs aside and is waited for until the deadline.
    let (sent, resolved) = mpsc::channel();
    let name = (host.to_owned(), port);
    std::thread::spawn(move || {
        let _ = sent.send(
            name.to_socket_addrs()
                .map(Iterator::collect::<Vec<SocketAddr>>),
        );
    });
    let addresses = match resolved.recv_timeout(timeout) {
        Ok(result) => result.map_err(unreachable)?,
        Err(_) => {
            return Err(PushError::Timeout {
                command: format!("resolving {host}"),
                after: timeout,
            });
        }
    };
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "the name has no address");
    for address in addresses {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&address, left) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    if last.kind() == std::io::ErrorKind::TimedOut {
        return Err(PushError::Timeout {
            command: format!("connecting to {registry}"),
            after: timeout,
        });
    }
    Err(unreachable(last))
}

/// How a server answered a plain-HTTP `GET /v2/`.
#[derive(Debug, PartialEq, Eq)]
enum PlainAnswer {
    /// As a registry (API v2) over plain HTTP: its status line.
    Registry(String),
    /// Over plain HTTP, but not as a registry: its status line.
    NotARegistry(String),
    /// Not over plain HTTP: it speaks TLS (a TLS alert, a "plain HTTP request to an HTTPS
    /// port" answer, or it closed the connection).
    Tls,
}

/// Sends `GET /v2/` over plain HTTP on `stream` and reads the answer's head within `timeout`.
fn plain_v2(
    mut stream: TcpStream,
    registry: &str,
    url: &str,
    timeout: Duration,
) -> Result<PlainAnswer, PushError> {
    let deadline = Instant::now() + timeout;
    let no_answer = || PushError::Timeout {
        command: format!("GET {url}"),
        after: timeout,
    };
    let unreachable = |source| PushError::Unreachable {
        registry: registry.to_owned(),
        source,
    };
    stream
        .set_write_timeout(Some(timeout))
        .map_err(unreachable)?;
    let request = format!(
        "GET /v2/ HTTP/1.1\r\nHost: {registry}\r\nUser-Agent: lambda-gate\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    if let Err(e) = stream.write_all(request.as_bytes()) {
        return match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Err(no_answer()),
            _ => Ok(PlainAnswer::Tls),
        };
    }
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < HEAD_LIMIT {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(no_answer());
        }
        stream.set_read_timeout(Some(left)).map_err(unreachable)?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(no_answer());
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    Ok(classify(&head))
}

/// Reads the head of an answer to a plain-HTTP `GET /v2/`.
fn classify(head: &[u8]) -> PlainAnswer {
    let text = String::from_utf8_lossy(head);
    let status_line = text.lines().next().unwrap_or_default().trim().to_owned();
    let mut parts = status_line.split_whitespace();
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return PlainAnswer::Tls;
    };
    if !version.starts_with("HTTP/1.") {
        return PlainAnswer::Tls;
    }
    let lower = text.to_ascii_lowercase();
    let registry_header = lower
        .lines()
        .any(|line| line.starts_with("docker-distribution-api-version:"));
    match code {
        // Go's TLS server and nginx answer plain HTTP on a TLS port with 400.
        "400" if lower.contains("https") => PlainAnswer::Tls,
        "200" | "401" => PlainAnswer::Registry(status_line),
        _ if registry_header => PlainAnswer::Registry(status_line),
        _ => PlainAnswer::NotARegistry(status_line),
    }
}

/// Reads the target's tag with skopeo as the read-back will: the registry must answer it (a
/// tag not there yet is fine) with the stored credentials.
fn preflight(target: &PushTarget, tagged: &str, skopeo: &Skopeo) -> Result<(), PushError> {
    match skopeo.inspect(tagged, false) {
        Ok(_) => Ok(()),
        Err(PushError::Inspect { stderr, .. }) => match refusal(&stderr) {
            // Nothing under that tag yet: the registry answered.
            Refusal::NotThereYet => Ok(()),
            Refusal::PlainHttp => Err(PushError::PlainHttp {
                registry: target.registry.clone(),
                answer: "skopeo: \"server gave HTTP response to HTTPS client\"".to_owned(),
            }),
            Refusal::Credentials => Err(PushError::Credentials {
                registry: target.registry.clone(),
                stderr,
            }),
            Refusal::Other => Err(PushError::Preflight {
                reference: tagged.to_owned(),
                stderr,
            }),
        },
        Err(other) => Err(other),
    }
}

/// Why skopeo could not read the target's tag before the push.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// The registry answered: there is nothing under that tag (or repository) yet.
    NotThereYet,
    /// The registry speaks plain HTTP and skopeo asked over HTTPS.
    PlainHttp,
    /// The registry wants credentials it was not given, or refused them.
    Credentials,
    /// Anything else (TLS trust, DNS, a broken registry): said as skopeo said it.
    Other,
}

/// Reads skopeo's error (the registry's error codes as containers/image words them).
fn refusal(stderr: &str) -> Refusal {
    let lower = stderr.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|word| lower.contains(word));
    if has(&["manifest unknown", "name unknown"]) {
        Refusal::NotThereYet
    } else if has(&["server gave http response to https client"]) {
        Refusal::PlainHttp
    } else if has(&[
        "unauthorized",
        "authentication required",
        "denied",
        "forbidden",
    ]) {
        Refusal::Credentials
    } else {
        Refusal::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports() {
        assert_eq!(host_port("127.0.0.1:5000"), ("127.0.0.1".to_owned(), 5000));
        assert_eq!(
            host_port("registry.example"),
            ("registry.example".to_owned(), 443)
        );
        assert_eq!(host_port("[::1]:5000"), ("::1".to_owned(), 5000));
        assert_eq!(host_port("[::1]"), ("::1".to_owned(), 443));
    }

    #[test]
    fn plain_answers_are_told_from_tls_ports_and_other_servers() {
        let registry = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\n";
        assert_eq!(
            classify(registry),
            PlainAnswer::Registry("HTTP/1.1 200 OK".to_owned())
        );
        assert!(matches!(
            classify(b"HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Bearer\r\n\r\n"),
            PlainAnswer::Registry(_)
        ));
        assert_eq!(
            classify(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"),
            PlainAnswer::Tls
        );
        assert_eq!(classify(b"\x15\x03\x01\x00\x02\x02\x46"), PlainAnswer::Tls);
        assert_eq!(classify(b""), PlainAnswer::Tls);
        assert_eq!(
            classify(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n"),
            PlainAnswer::NotARegistry("HTTP/1.1 404 Not Found".to_owned())
        );
    }

    #[test]
    fn skopeos_refusals_before_the_push() {
        let said = |what: &str| {
            format!(
                "time=\"2026-12-03T17:20:10Z\" level=fatal msg=\"Error parsing image name \\\"docker://127.0.0.1:40123/fixture/x:v1\\\": {what}\""
            )
        };
        for (what, expected) in [
            (
                "reading manifest v1 in 127.0.0.1:40123/fixture/x: manifest unknown: manifest unknown",
                Refusal::NotThereYet,
            ),
            (
                "reading manifest v1 in 127.0.0.1:40123/fixture/x: name unknown: repository name not known to registry",
                Refusal::NotThereYet,
            ),
            (
                "pinging container registry 127.0.0.1:40123: Get \\\"https://127.0.0.1:40123/v2/\\\": http: server gave HTTP response to HTTPS client",
                Refusal::PlainHttp,
            ),
            (
                "reading manifest v1 in 127.0.0.1:40123/fixture/x: unauthorized: authentication required",
                Refusal::Credentials,
            ),
            (
                "reading manifest v1 in 127.0.0.1:40123/fixture/x: denied: requested access to the resource is denied",
                Refusal::Credentials,
            ),
            (
                "pinging container registry 127.0.0.1:40123: Get \\\"https://127.0.0.1:40123/v2/\\\": x509: certificate signed by unknown authority",
                Refusal::Other,
            ),
        ] {
            assert_eq!(refusal(&said(what)), expected, "{what}");
        }
    }

    #[test]
    fn a_registry_that_accepts_and_never_answers_is_given_up_on_in_time() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        // Accepts one connection and holds it open, silent, for 3 s (it ends by itself).
        std::thread::spawn(move || {
            let held = listener.accept();
            std::thread::sleep(Duration::from_secs(3));
            drop(held);
        });
        let registry = address.to_string();
        let stream = connect(
            &registry,
            "127.0.0.1",
            address.port(),
            Duration::from_secs(2),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let answer = plain_v2(
            stream,
            &registry,
            &format!("http://{registry}/v2/"),
            Duration::from_millis(400),
        );
        assert!(
            matches!(answer, Err(PushError::Timeout { .. })),
            "{answer:?}"
        );
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        drop(listener);
        let result = connect("127.0.0.1", "127.0.0.1", port, Duration::from_secs(2));
        assert!(
            matches!(result, Err(PushError::Unreachable { .. })),
            "{:?}",
            result.err()
        );
    }
}
