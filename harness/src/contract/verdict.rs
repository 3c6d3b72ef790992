//! The verdict on answers to payloads the function must refuse: the generic and the team's own
//! malformed cases, and generated payloads. A crash, a timeout, no structured answer or an
//! `errorType` outside the contract always fails.

use super::{Contract, ErrorContract, Shape};
use crate::lambda;
use crate::runtime::{Invocation, Outcome};

/// What the function must answer to a malformed payload.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expect {
    /// This `errorType`, with an `errorMessage` starting with the prefix.
    Error {
        /// The `errorType`.
        error_type: String,
        /// How the `errorMessage` starts (the JSON path), if the corpus says.
        message_starts_with: Option<String>,
    },
    /// Any structured error the contract allows.
    ContractError,
    /// Lambda's own 413: the request is over the payload limit and never reaches the function.
    TooLarge,
}

impl Expect {
    fn describe(&self) -> String {
        match self {
            Expect::TooLarge => "Lambda's 413".to_owned(),
            Expect::ContractError => "a structured error".to_owned(),
            Expect::Error { error_type, .. } => format!("errorType {error_type}"),
        }
    }
}

/// Why the outcome is not an answer the contract allows, if it is not: a crash, a timeout, no
/// structured answer, or an `errorType` the contract does not list.
fn outside_contract(outcome: &Outcome, errors: &ErrorContract) -> Option<String> {
    match outcome {
        Outcome::TimedOut => Some("the function timed out".to_owned()),
        Outcome::Unexpected(what) => Some(format!("no structured answer: {what}")),
        Outcome::NoAnswer(why) => Some(format!("no answer: {why}")),
        Outcome::FunctionError {
            error_type,
            error_message,
        } if !errors.allows(error_type) => Some(if error_type.starts_with("Runtime.") {
            format!("the function crashed ({error_type}: {error_message})")
        } else {
            format!(
                "the function crashed or raised an error outside its contract ({error_type}: {error_message}); the contract's errorTypes are {}",
                errors
                    .function
                    .iter()
                    .chain(&errors.runtime)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }),
        Outcome::FunctionError { error_message, .. } if error_message.is_empty() => {
            Some("a structured error with an empty errorMessage".to_owned())
        }
        _ => None,
    }
}

/// `None` if the function answered the malformed payload `label` as `expect` says, else the
/// problem (starting with `label`).
pub(crate) fn judge_malformed(
    label: &str,
    expect: &Expect,
    invocation: &Invocation,
    errors: &ErrorContract,
) -> Option<String> {
    let outcome = &invocation.outcome;
    if let Some(problem) = outside_contract(outcome, errors) {
        return Some(format!("{label}: {problem}"));
    }
    match (expect, outcome) {
        (Expect::TooLarge, Outcome::RequestTooLarge(_))
        | (Expect::ContractError, Outcome::FunctionError { .. }) => None,
        (
            Expect::Error {
                error_type: expected,
                message_starts_with,
            },
            Outcome::FunctionError {
                error_type,
                error_message,
            },
        ) => {
            if error_type != expected {
                Some(format!(
                    "{label}: expected errorType {expected}, got {error_type}: {error_message}"
                ))
            } else if let Some(prefix) = message_starts_with
                && !error_message.starts_with(prefix.as_str())
            {
                Some(format!(
                    "{label}: errorMessage should start with {prefix:?} (the JSON path), got {error_message:?}"
                ))
            } else {
                None
            }
        }
        (expect, other) => Some(format!(
            "{label}: expected {}, got {}",
            expect.describe(),
            other.describe()
        )),
    }
}

/// The verdict on a generated payload of `shape`: a structured error the contract allows, or,
/// when the mutation happened to leave a valid request (an optional field removed, say), a real
/// answer of the contract.
pub(crate) fn judge_generated(
    shape: Shape,
    invocation: &Invocation,
    contract: &Contract,
    errors: &ErrorContract,
) -> Result<(), String> {
    if let Some(problem) = outside_contract(&invocation.outcome, errors) {
        return Err(problem);
    }
    if invocation.response_bytes > lambda::PAYLOAD_LIMIT {
        return Err(format!(
            "response of {} bytes is over Lambda's limit",
            invocation.response_bytes
        ));
    }
    match &invocation.outcome {
        Outcome::Success(answer) if !contract.answers(answer, shape) => Err(format!(
            "accepted, but the answer is not a prediction of the contract: {}",
            invocation.outcome.describe()
        )),
        _ => Ok(()),
    }
}
