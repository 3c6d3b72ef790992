//! A deployed function as a [`Target`]: invoked synchronously through the Lambda Invoke API
//! (`aws-sdk-lambda`), so `replay` runs the same checks against what Lambda actually runs. The
//! RIE serves the Invoke API's path too, so the same code is tested against a function
//! container by pointing `endpoint_url` at it.

use super::{Health, Invocation, Outcome, Target, classify, refuse_over_limit};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::{InvokeError, InvokeOutput};
use aws_sdk_lambda::primitives::{Blob, SdkBody};
use aws_sdk_lambda::types::InvocationType;
use std::time::{Duration, Instant};

/// Which deployed function, and how to reach it.
#[derive(Clone, Debug)]
pub(crate) struct Address {
    /// The function's name or ARN (`function` for the RIE).
    pub(crate) function_name: String,
    /// A version or alias.
    pub(crate) qualifier: Option<String>,
    /// The AWS region; default: the SDK's (`AWS_REGION`, the profile).
    pub(crate) region: Option<String>,
    /// Another endpoint than Lambda's, such as the RIE's `http://127.0.0.1:PORT`.
    pub(crate) endpoint_url: Option<String>,
}

impl Address {
    /// `Lambda function NAME[:QUALIFIER][ at URL]`, for reports.
    pub(crate) fn describe(&self) -> String {
        format!(
            "Lambda function {}{}{}",
            self.function_name,
            self.qualifier
                .as_ref()
                .map_or(String::new(), |q| format!(":{q}")),
            self.endpoint_url
                .as_ref()
                .map_or(String::new(), |url| format!(" at {url}"))
        )
    }
}

/// Why a deployed function cannot be replayed against.
#[derive(Debug, thiserror::Error)]
pub enum DeployedError {
    /// The private runtime could not start.
    #[error("cannot start the async runtime for the Lambda client")]
    Runtime(#[source] std::io::Error),
    /// The first invocation got no answer from the function: no connection, no credentials,
    /// no such function, no permission.
    #[error(
        "cannot invoke {function}: check the function name, --qualifier, --region or --endpoint-url, and the AWS credentials"
    )]
    Unreachable {
        /// The function as named.
        function: String,
        /// The SDK's error.
        source: Box<SdkError<InvokeError>>,
    },
}

/// A deployed function, invoked synchronously through the Lambda Invoke API (`aws-sdk-lambda`).
/// Each payload is sent once: retries are off, so a crash is never hidden by a second attempt,
/// and each call is bounded by the function's timeout plus a margin.
pub(crate) struct DeployedFunction {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_lambda::Client,
    name: String,
    qualifier: Option<String>,
    described: String,
    /// Invocations that got no HTTP answer at all, and the last one's cause.
    transport_failures: std::sync::Mutex<(usize, String)>,
}

/// Invocations without any HTTP answer (a reset, a refused or dropped connection) a replay
/// tolerates before it stops, as `verify` stops after 3 timeouts: an endpoint that resets every
/// connection is not a function that answers every case wrongly.
const MAX_TRANSPORT_FAILURES: usize = 3;

impl DeployedFunction {
    /// A client for the function at `address` whose timeout is `timeout`. Credentials and,
    /// without a region, the region come from the SDK's usual chain (environment, profile, web
    /// identity, `credential_process`).
    pub(crate) fn connect(address: &Address, timeout: Duration) -> Result<Self, DeployedError> {
        use aws_config::retry::RetryConfig;
        use aws_config::timeout::TimeoutConfig;
        use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DeployedError::Runtime)?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    // Past the function timeout, so Lambda's own timeout answer is what we see.
                    .operation_timeout(timeout + Duration::from_secs(30))
                    .build(),
            );
        if let Some(region) = &address.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &address.endpoint_url {
            loader = loader.endpoint_url(url.clone());
        }
        let sdk = runtime.block_on(loader.load());
        let config = aws_sdk_lambda::config::Builder::from(&sdk)
            .interceptor(CapResponse)
            .build();
        Ok(DeployedFunction {
            client: aws_sdk_lambda::Client::from_conf(config),
            runtime,
            name: address.function_name.clone(),
            qualifier: address.qualifier.clone(),
            described: address.describe(),
            transport_failures: std::sync::Mutex::new((0, String::new())),
        })
    }

    fn call(&self, body: &[u8]) -> Result<InvokeOutput, Box<SdkError<InvokeError>>> {
        self.runtime
            .block_on(
                self.client
                    .invoke()
                    .function_name(&self.name)
                    .set_qualifier(self.qualifier.clone())
                    .invocation_type(InvocationType::RequestResponse)
                    .payload(Blob::new(body))
                    .send(),
            )
            .map_err(Box::new)
    }
}

impl DeployedFunction {
    /// Sends `body` once to learn whether the function can be reached at all, so that a wrong
    /// name, region or credentials is a setup error rather than every case failing alike.
    pub(crate) fn check_reachable(&self, body: &[u8]) -> Result<(), DeployedError> {
        match self.call(body) {
            Err(error) if unreachable(&error) => Err(DeployedError::Unreachable {
                function: self.described.clone(),
                source: error,
            }),
            _ => Ok(()),
        }
    }
}

impl Target for DeployedFunction {
    /// Sends one payload and classifies the answer as the container target does. A body over
    /// Lambda's payload limit is answered as Lambda answers it, without sending it.
    fn invoke(&self, body: &[u8]) -> Invocation {
        if let Some(refused) = refuse_over_limit(body) {
            return refused;
        }
        let started = Instant::now();
        let answer = self.call(body);
        let elapsed = started.elapsed();
        let (mut outcome, response_bytes) = outcome(&answer);
        if let (Err(error), Outcome::Unexpected(_)) = (&answer, &outcome)
            && error.raw_response().is_none()
        {
            let mut failures = self
                .transport_failures
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            failures.0 += 1;
            failures.1 = crate::error_chain(error.as_ref());
            if failures.0 >= MAX_TRANSPORT_FAILURES {
                // No answer: the run stops and cannot be judged (see `health`).
                outcome = Outcome::NoAnswer(failures.1.clone());
            }
        }
        Invocation {
            outcome,
            request_bytes: body.len(),
            response_bytes,
            elapsed,
        }
    }

    /// Unreachable once [`MAX_TRANSPORT_FAILURES`] invocations got no answer.
    fn health(&self) -> Health {
        let failures = self
            .transport_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if failures.0 >= MAX_TRANSPORT_FAILURES {
            Health::Unreachable(format!(
                "{} gave no answer {} times (the last: {}); the replay stopped",
                self.described, failures.0, failures.1
            ))
        } else {
            Health::Running
        }
    }
}

/// Wraps each answer's body in a length limit before the SDK reads it: the SDK buffers a
/// payload whole, and a fake endpoint can send gigabytes (a 1 GiB body took 9.2 GB before).
#[derive(Debug)]
struct CapResponse;

impl aws_sdk_lambda::config::Intercept for CapResponse {
    fn name(&self) -> &'static str {
        "CapResponse"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_lambda::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _components: &aws_sdk_lambda::config::RuntimeComponents,
        _config: &mut aws_sdk_lambda::config::ConfigBag,
    ) -> Result<(), aws_sdk_lambda::error::BoxError> {
        let body = context.response_mut().body_mut();
        let taken = std::mem::replace(body, SdkBody::taken());
        *body = taken.map(|inner| {
            SdkBody::from_body_1_x(http_body_util::Limited::new(inner, super::RESPONSE_CAP))
        });
        Ok(())
    }
}

/// Whether `error` is the length limit of [`CapResponse`].
fn over_cap(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The outcome of an invocation and the size of the answer's body.
fn outcome(answer: &Result<InvokeOutput, Box<SdkError<InvokeError>>>) -> (Outcome, usize) {
    if let Err(error) = answer
        && over_cap(error.as_ref())
    {
        let read = super::RESPONSE_CAP + 1;
        return (super::response_too_large(read), read);
    }
    match answer {
        Ok(output) => {
            let payload = output.payload().map_or(&[][..], Blob::as_ref);
            (answered(output, payload), payload.len())
        }
        Err(error) => match error.raw_response() {
            // An HTTP error status: the RIE answers a runtime that exited with 502 and an
            // `errorType` body, classified as the container target does; anything else (a
            // Lambda service error, a proxy's page) is unexpected.
            Some(raw) => {
                let body = raw.body().bytes().unwrap_or_default();
                (classify(raw.status().as_u16(), body), body.len())
            }
            None => (
                Outcome::Unexpected(format!("no answer: {}", crate::error_chain(error.as_ref()))),
                0,
            ),
        },
    }
}

/// The outcome of a 2xx answer. Lambda marks a function error with `X-Amz-Function-Error`; the
/// RIE does not, so a body `{"errorType", "errorMessage"}` is recognised either way.
fn answered(output: &InvokeOutput, payload: &[u8]) -> Outcome {
    let status = u16::try_from(output.status_code()).unwrap_or(200);
    let Some(kind) = output.function_error() else {
        return classify(status, payload);
    };
    let value: serde_json::Value = serde_json::from_slice(payload).unwrap_or_default();
    let message = value["errorMessage"].as_str().map_or_else(
        || String::from_utf8_lossy(payload).into_owned(),
        str::to_owned,
    );
    // Lambda reports a timeout as an error whose message says so, with or without an errorType.
    if message.contains("Task timed out after") {
        return Outcome::TimedOut;
    }
    Outcome::FunctionError {
        error_type: value["errorType"].as_str().unwrap_or(kind).to_owned(),
        error_message: message,
    }
}

/// Whether an error from the first invocation means the function was never reached (so replay
/// cannot judge it) rather than the function answering badly.
fn unreachable(error: &SdkError<InvokeError>) -> bool {
    match error.raw_response() {
        None => true,
        // A Lambda service error (no such function, no permission, throttled) has a code; an
        // answer from the function runtime does not.
        Some(_) => error.as_service_error().and_then(|e| e.code()).is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::config::http::HttpResponse;
    use aws_sdk_lambda::error::ErrorMetadata;
    use aws_sdk_lambda::primitives::SdkBody;

    /// The SDK's error for an HTTP error status, as it builds it from a response.
    fn http_error(
        status: u16,
        code: Option<&str>,
        body: &'static str,
    ) -> Box<SdkError<InvokeError>> {
        let mut meta = ErrorMetadata::builder();
        if let Some(code) = code {
            meta = meta.code(code);
        }
        let raw = HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(status)
                .unwrap_or_else(|e| panic!("{e}")),
            SdkBody::from(body),
        );
        Box::new(SdkError::service_error(
            InvokeError::generic(meta.build()),
            raw,
        ))
    }

    #[test]
    fn a_runtime_that_exited_is_a_function_error_and_a_service_error_is_unexpected() {
        let exited = || {
            http_error(
                502,
                None,
                r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited with error: exit status 101"}"#,
            )
        };
        assert!(matches!(
            outcome(&Err(exited())).0,
            Outcome::FunctionError { error_type, .. } if error_type == "Runtime.ExitError"
        ));
        assert!(
            !unreachable(&exited()),
            "a function's answer is not a setup error"
        );
        let missing = || {
            http_error(
                404,
                Some("ResourceNotFoundException"),
                r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:1:function:x"}"#,
            )
        };
        assert!(matches!(
            outcome(&Err(missing())).0,
            Outcome::Unexpected(what) if what.starts_with("HTTP 404")
        ));
        assert!(unreachable(&missing()), "no such function is a setup error");
    }

    fn output(function_error: Option<&str>) -> InvokeOutput {
        InvokeOutput::builder()
            .status_code(200)
            .set_function_error(function_error.map(str::to_owned))
            .build()
    }

    #[test]
    fn lambdas_function_error_header_and_the_ries_error_body_give_the_same_outcome() {
        let body = br#"{"errorType":"ValidationError","errorMessage":"[0]: expected a number"}"#;
        for header in [Some("Unhandled"), None] {
            assert!(
                matches!(
                    answered(&output(header), body),
                    Outcome::FunctionError { error_type, error_message }
                        if error_type == "ValidationError" && error_message == "[0]: expected a number"
                ),
                "{header:?}"
            );
        }
        assert!(matches!(
            answered(&output(None), br#"[0.1, 0.9]"#),
            Outcome::Success(_)
        ));
    }

    #[test]
    fn lambdas_timeout_and_bodies_without_an_error_type_are_recognised() {
        let timeout = br#"{"errorMessage":"2026-12-01T10:00:00.000Z 1b2c Task timed out after 3.00 seconds"}"#;
        assert!(matches!(
            answered(&output(Some("Unhandled")), timeout),
            Outcome::TimedOut
        ));
        assert!(matches!(
            answered(&output(Some("Unhandled")), b"not json"),
            Outcome::FunctionError { error_type, error_message }
                if error_type == "Unhandled" && error_message == "not json"
        ));
    }
}
