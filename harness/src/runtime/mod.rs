//! Where the function runs and how it is asked: a [`Target`] takes a request body and returns
//! the answer classified as Lambda would. Two targets exist: the image under the real RIE in a
//! locked-down container ([`FunctionContainer`]), and a deployed function through the Lambda
//! Invoke API (`deployed`). Both answer an over-limit request as Lambda does and classify the
//! same bytes the same way, so the checks cannot tell them apart except by what only a
//! container can say (its init, memory and log).
//!
//! Docker ([`docker`]) and the pinned emulator ([`rie`]) live here too: the image stage builds
//! and reads images through the same client.

mod container;
pub(crate) mod deployed;
pub(crate) mod docker;
mod logs;
pub(crate) mod rie;

pub use container::ContainerError;
pub use container::FunctionContainer;
pub(crate) use container::LambdaSettings;
pub(crate) use docker::DockerClient;
pub use docker::DockerError;
pub use rie::RieError;
pub(crate) use rie::RieOrigin;
pub(crate) use rie::{Rie, managed_mode_runs};

use crate::lambda;
use std::time::Duration;

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
    /// Whether the function ran out of time or memory: what ran before may be the cause (a
    /// leak adds up over many requests), so the request it happened on need not be.
    pub(crate) fn is_exhaustion(&self) -> bool {
        match self {
            Outcome::TimedOut => true,
            Outcome::FunctionError { error_type, .. } => error_type == "Runtime.OutOfMemory",
            _ => false,
        }
    }

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
                "413 RequestEntityTooLargeException from Lambda: {bytes} bytes is over its {}-byte limit (not sent)",
                lambda::PAYLOAD_LIMIT
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

/// Lambda's answer to a body over its payload limit, given without sending it (the RIE would
/// pass it on truncated); `None` for a body Lambda accepts. Every [`Target`] answers this way.
pub(crate) fn refuse_over_limit(body: &[u8]) -> Option<Invocation> {
    (body.len() > lambda::PAYLOAD_LIMIT).then_some(Invocation {
        outcome: Outcome::RequestTooLarge(body.len()),
        request_bytes: body.len(),
        response_bytes: 0,
        elapsed: Duration::ZERO,
    })
}

/// The most of an answer the gate reads: Lambda's payload limit and room for the error it
/// gives instead of a longer one. A function (or a fake endpoint) can send gigabytes.
pub(crate) const RESPONSE_CAP: usize = lambda::PAYLOAD_LIMIT + 4096;

/// An answer's body read up to [`RESPONSE_CAP`]; `Err(bytes read)` when it is longer.
pub(crate) fn read_capped(reader: impl std::io::Read) -> std::io::Result<Result<Vec<u8>, usize>> {
    use std::io::Read as _;
    let mut body = Vec::new();
    reader
        .take(RESPONSE_CAP as u64 + 1)
        .read_to_end(&mut body)?;
    Ok(if body.len() > RESPONSE_CAP {
        Err(body.len())
    } else {
        Ok(body)
    })
}

/// What Lambda answers for a response over its payload limit: the answer is never seen.
pub(crate) fn response_too_large(bytes_read: usize) -> Outcome {
    Outcome::FunctionError {
        error_type: "Function.ResponseSizeTooLarge".to_owned(),
        error_message: format!(
            "the response was longer than {RESPONSE_CAP} bytes (read {bytes_read}, then stopped): over Lambda's {}-byte payload limit",
            lambda::PAYLOAD_LIMIT
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let huge = std::io::repeat(b'x');
        assert_eq!(read_capped(huge).unwrap(), Err(RESPONSE_CAP + 1));
        assert_eq!(read_capped(&b"{}"[..]).unwrap(), Ok(b"{}".to_vec()));
        let long = format!("{{\"p\": [{}], \"id\": NaN}}", "1,".repeat(100) + "1");
        match classify(200, long.as_bytes()) {
            Outcome::Unexpected(what) => assert!(what.contains("\\\"id\\\": NaN"), "{what}"),
            other => panic!("{other:?}"),
        }
    }
}
