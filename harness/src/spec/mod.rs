//! `lambda-gate.toml`: everything the gate knows about one function.
//!
//! The gate has no contract of its own. A team describes its function once, in a spec file at
//! the root of its project: how the image is built (or which image to take), how a golden event
//! becomes a request, where each prediction sits in the answer and how it is compared with the
//! training-time one, which `errorType`s are the function's own, where the model sits in the
//! image, and where the goldens are. The file is parsed strictly (an unknown key is an error
//! naming the key and the keys allowed there) and then validated into typed settings before any
//! work starts, so a mistake costs seconds, not a build.
//!
//! Relative paths in the file are relative to the directory that holds it.

mod raw;
mod required;
#[cfg(test)]
mod tests;
mod validate;

pub use raw::Overrides;
pub(crate) use validate::parse_size;

use crate::arch::Arch;
use crate::contract::{Contract, ErrorContract};
use crate::corpus::{GeneratedSpec, MalformedSpec};
use crate::golden::GoldenSpec;
use crate::image::ImageSource;
use crate::shell::Shell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name the gate looks for, from the current directory upwards.
pub(crate) const SPEC_FILE: &str = "lambda-gate.toml";

/// Why a spec cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// No spec file at or above the directory.
    #[error(
        "no {SPEC_FILE} found in {dir} or any directory above it: write one (see the README's \"The spec file\") or pass --config PATH"
    )]
    NotFound {
        /// Where the search started.
        dir: PathBuf,
    },
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a key is unknown, missing or of the wrong type. The
    /// parser's message names the line, the key and what is allowed there.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, with the offending line.
        message: String,
    },
    /// Required sections or keys are missing: all of them, each with its place and what to
    /// put there, so a first spec is completed in one pass.
    #[error("{path}: {missing}")]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// One line per missing key (at its section's line and column) and per missing
        /// section, after a count.
        missing: String,
    },
    /// A key has a value the gate cannot use.
    #[error("{path}: `{key}`{}: {message}", flag.map_or(String::new(), |f| format!(" (set by {f})")))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`contract.request`).
        key: String,
        /// The command-line flag that set it, when one did.
        flag: Option<&'static str>,
        /// What is wrong and what is allowed.
        message: String,
    },
}

/// A validated `lambda-gate.toml`.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The spec file.
    pub(crate) path: PathBuf,
    /// Its directory: relative paths and commands start here.
    pub(crate) root: PathBuf,
    /// `[function]`.
    pub(crate) function: FunctionSpec,
    /// `[image]`.
    pub(crate) image: ImageSpec,
    /// `[contract]`.
    pub(crate) contract: Contract,
    /// `[errors]`.
    pub(crate) errors: ErrorContract,
    /// `[provenance]`.
    pub(crate) provenance: Provenance,
    /// `[goldens]`.
    pub(crate) goldens: GoldenSpec,
    /// `[malformed]`.
    pub(crate) malformed: MalformedSpec,
    /// `[generated]`.
    pub(crate) generated: GeneratedSpec,
    /// `[tune]`.
    pub(crate) tune: TuneSpec,
    /// How the spec's shell commands run (`[commands]`).
    pub(crate) shell: Shell,
    /// `[snapstart]`: the function is published with SnapStart.
    pub(crate) snapstart: Option<SnapStartSpec>,
    /// `[drift]`: how golden-replay mismatches are explained feature by feature.
    pub(crate) drift: Option<crate::contract::drift::DriftSpec>,
}

/// How a SnapStart function's readiness is checked (`[snapstart]`).
#[derive(Clone, Debug)]
pub(crate) struct SnapStartSpec {
    /// Where the function's answer reports a value it computed at init (a debug contract):
    /// two environments must report the same one, since every environment restored from one
    /// snapshot shares it.
    pub(crate) init_echo: Option<String>,
}

/// How Lambda runs the function.
#[derive(Clone, Debug)]
pub(crate) struct FunctionSpec {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub(crate) name: String,
    /// The architecture it is deployed with.
    pub(crate) arch: Arch,
    /// Memory size in MB (also the container's memory limit).
    pub(crate) memory_mb: u32,
    /// Function timeout.
    pub(crate) timeout: Duration,
    /// Ephemeral storage (`/tmp`) in MB.
    pub(crate) ephemeral_storage_mb: u32,
    /// Requests one execution environment serves at once (Lambda Managed Instances); 1 is
    /// Lambda's classic one at a time, and more adds the `concurrency` check.
    pub(crate) max_concurrency: u32,
    /// The function's own environment variables.
    pub(crate) environment: BTreeMap<String, String>,
}

/// Which image to verify and how big it may be.
#[derive(Clone, Debug)]
pub(crate) struct ImageSpec {
    /// Build it, or take an existing one.
    pub(crate) source: ImageSource,
    /// Budget for the uncompressed size, in bytes.
    pub(crate) max_size: u64,
}

/// Where the model sits in the image and how to prove it is the goldens' model.
#[derive(Clone, Debug)]
pub(crate) struct Provenance {
    /// Path of the model file in the image; `$NAME` expands from the image's environment.
    pub(crate) model: String,
    /// For a model compiled at build time: the source on the host and the command.
    pub(crate) compile: Option<Compile>,
}

/// A model file made from the goldens' model by a command.
#[derive(Clone, Debug)]
pub(crate) struct Compile {
    /// The model on the host whose sha256 must be the goldens' `model_sha256`.
    pub(crate) source: PathBuf,
    /// Shell command with `{source}` and `{output}`; the image's file must equal its output.
    pub(crate) command: String,
}

/// How `lambda-gate tune` sizes the function.
#[derive(Clone, Debug)]
pub(crate) struct TuneSpec {
    /// The p99 latency a size must meet to be recommended; without it `tune` measures and
    /// prices every size but recommends none.
    pub(crate) latency_p99: Option<Duration>,
    /// Memory sizes to try, in MB, ascending and distinct (128-10240).
    pub(crate) sizes: Vec<u32>,
    /// Measured invocations per size (after the cold start and the warm-up).
    pub(crate) invocations: u32,
}

/// Default memory sizes `tune` tries: Lambda's smallest, the powers of two up to 1 GB, one
/// vCPU (1769 MB) and the console's old maximum (3008 MB, about 1.7 vCPUs).
pub(crate) const DEFAULT_TUNE_SIZES: [u32; 6] = [128, 256, 512, 1024, 1769, 3008];
/// Default measured invocations per size: enough for a p99 that is not just the maximum of a
/// handful, few enough that a slow size still ends in a minute.
pub(crate) const DEFAULT_TUNE_INVOCATIONS: u32 = 100;
/// Most measured invocations per size (a bound on a run's length).
pub(crate) const MAX_TUNE_INVOCATIONS: u32 = 10_000;

/// Default number of generated payloads.
pub(crate) const DEFAULT_GENERATED_CASES: u32 = 1000;
/// Default seed of the generated payloads.
pub(crate) const DEFAULT_SEED: u64 = 20_261_126;
/// Default image budget: generous for a model function, far below Lambda's 10 GB.
pub(crate) const DEFAULT_MAX_IMAGE_SIZE: u64 = 256 * 1024 * 1024;

impl Spec {
    /// The spec in `dir` or the nearest directory above it.
    pub fn find(dir: &Path) -> Result<PathBuf, SpecError> {
        dir.ancestors()
            .map(|d| d.join(SPEC_FILE))
            .find(|p| p.is_file())
            .ok_or_else(|| SpecError::NotFound {
                dir: dir.to_path_buf(),
            })
    }

    /// Reads and validates the spec file at `path`.
    pub fn load(path: &Path) -> Result<Self, SpecError> {
        Self::load_with(path, &Overrides::default())
    }

    /// Reads the spec file at `path`, applies `overrides` to it as written, then validates the
    /// result: an override obeys the same rules as the file, and a mistake names the flag.
    pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        Self::parse_with(&text, path, &root, overrides)
    }

    /// Validates spec text as if it were the file `path` in the directory `root`.
    pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Self, SpecError> {
        Self::parse_with(text, path, root, &Overrides::default())
    }

    /// [`Spec::parse`] with `overrides` applied to the text as written.
    pub fn parse_with(
        text: &str,
        path: &Path,
        root: &Path,
        overrides: &Overrides,
    ) -> Result<Self, SpecError> {
        if let Some(missing) = required::Missing::find(text, overrides.image.is_some())
            && !missing.is_empty()
        {
            return Err(SpecError::Incomplete {
                path: path.to_path_buf(),
                missing: missing.render(),
            });
        }
        let mut raw: raw::RawSpec = toml::from_str(text).map_err(|e| SpecError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let flags = overrides.apply(&mut raw);
        validate::Validator { path, root, flags }.spec(raw)
    }

    /// The spec file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its directory: relative paths and commands start there.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The function's name (`function.name`).
    pub fn name(&self) -> &str {
        &self.function.name
    }

    /// The architecture the function is deployed with (`function.architecture`).
    pub fn arch(&self) -> Arch {
        self.function.arch
    }

    /// What the golden review loop needs: the goldens, where their regen command runs, and
    /// the contract's field rules.
    pub(crate) fn review_loop(&self) -> crate::golden::Loop<'_> {
        crate::golden::Loop {
            goldens: &self.goldens,
            spec_file: &self.path,
            shell: &self.shell,
            rules: &self.contract.fields,
        }
    }

    /// The directory of the golden files (`goldens.dir`).
    pub fn goldens_dir(&self) -> &Path {
        &self.goldens.dir
    }
}
