//! The corpora a function is replayed with besides its goldens: malformed payloads (a generic
//! corpus every function gets, and the function's own) and generated ones.
//!
//! The generic cases are bad for any contract: not JSON, empty, the wrong kind of JSON value,
//! invalid UTF-8, numbers no double holds, 10k-deep nesting, a body at Lambda's payload limit
//! and one over it. Each must get a structured answer the contract allows (the function's own
//! `errorType`, or a runtime error the team accepts, such as Python's
//! `Runtime.UnmarshalError`), within the timeout, and the function must still serve afterwards.
//!
//! The function's own corpus (`cases.json`, named in the spec) says for each payload which
//! `errorType` it must get and how the `errorMessage` starts (the JSON path of the problem);
//! the spec may skip cases or expect other answers. [`malformed`] assembles both, the one way
//! every command does. Generated payloads ([`generated`]) are proptest strategies derived from
//! the golden events.

mod body;
mod edit;
mod generated;
mod generic;
mod own;

pub(crate) use body::LazyBody;
pub(crate) use generated::{Payload, payloads};
pub(crate) use generic::generic_names;

use crate::contract::Expect;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The malformed corpus as the spec's `[malformed]` adapts it.
#[derive(Clone, Debug)]
pub(crate) struct MalformedSpec {
    /// The function's own cases (`cases.json`), if any.
    pub(crate) cases: Option<PathBuf>,
    /// Generic cases that are valid requests for this function.
    pub(crate) skip_generic: Vec<String>,
    /// Cases of the own corpus this function does not take (a corpus shared by two
    /// implementations of one contract, one of which cannot see a case, say).
    pub(crate) skip: Vec<String>,
    /// Own-corpus case -> the `errorType` this function answers instead (for example the
    /// runtime's `Runtime.UnmarshalError` where the body never reaches the handler).
    pub(crate) expect_instead: BTreeMap<String, String>,
}

/// The generated payloads, as the spec's `[generated]` sets them.
#[derive(Clone, Debug)]
pub(crate) struct GeneratedSpec {
    /// How many.
    pub(crate) cases: u32,
    /// The seed.
    pub(crate) seed: u64,
    /// Where failing seeds are kept (outside the source tree by default).
    pub(crate) regressions: PathBuf,
}

/// A malformed payload, ready to send.
#[derive(Clone, Debug)]
pub(crate) struct MalformedCase {
    /// Unique name.
    pub(crate) name: String,
    /// What it exercises.
    pub(crate) why: String,
    /// The request body, made when it is sent.
    pub(crate) body: LazyBody,
    /// The answer the function must give.
    pub(crate) expect: Expect,
    /// Whether it comes from the generic corpus.
    pub(crate) generic: bool,
}

impl MalformedCase {
    /// How the case is named in reports: `generic not-json (plain text)`.
    pub(crate) fn label(&self) -> String {
        format!(
            "{}{} ({})",
            if self.generic { "generic " } else { "" },
            self.name,
            self.why
        )
    }
}

/// Why the corpus cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a corpus.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (case name first).
        message: String,
    },
}

/// The malformed corpus of a function: the generic cases it does not skip, then its own cases
/// as the spec adapts them (skipped, or expecting another answer). Every command that sends
/// the corpus (`verify`, `replay`) assembles it here, so they send the same payloads and expect
/// the same answers.
pub(crate) fn malformed(spec: &MalformedSpec) -> Result<Vec<MalformedCase>, CorpusError> {
    let mut corpus = generic::generic(&spec.skip_generic);
    if let Some(path) = &spec.cases {
        corpus.extend(own::load_for(spec, path)?);
    }
    Ok(corpus)
}
