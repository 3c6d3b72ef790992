//! The two architectures Lambda runs, and every name each one goes by.
//!
//! Rust, Docker, ELF and Lambda each spell the architecture differently; keeping the mapping in
//! one place is what lets the architecture check compare like with like.

use std::fmt;
use std::str::FromStr;

/// CPU architecture of a Lambda function (and of the image built for it). The spec, the CLI
/// and [`FromStr`] read it through one table ([`Arch::SPELLINGS`]), case-insensitively.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Arch {
    /// Graviton, `aarch64`.
    Arm64,
    /// Intel/AMD, `x86_64`.
    X86_64,
}

impl Arch {
    /// Every architecture, in the order the gate reports them.
    pub const ALL: [Arch; 2] = [Arch::Arm64, Arch::X86_64];

    /// Every name each architecture is accepted by (any case), its Lambda name first: Lambda's,
    /// the kernel's and Docker's.
    const SPELLINGS: [(Arch, &'static [&'static str]); 2] = [
        (Arch::Arm64, &["arm64", "aarch64"]),
        (Arch::X86_64, &["x86_64", "amd64", "x86-64"]),
    ];

    /// The Rust target `bootstrap` is compiled for: static musl, so the image needs no libc.
    pub fn rust_target(self) -> &'static str {
        match self {
            Arch::Arm64 => "aarch64-unknown-linux-musl",
            Arch::X86_64 => "x86_64-unknown-linux-musl",
        }
    }

    /// The platform string Docker uses for builds and containers.
    pub fn docker_platform(self) -> &'static str {
        match self {
            Arch::Arm64 => "linux/arm64",
            Arch::X86_64 => "linux/amd64",
        }
    }

    /// The `architecture` field of an OCI image config.
    pub fn oci_architecture(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "amd64",
        }
    }

    /// The ELF `e_machine` of a binary that runs on this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::Arm64 => object::elf::EM_AARCH64.0,
            Arch::X86_64 => object::elf::EM_X86_64.0,
        }
    }

    /// Name of the RIE build for this architecture inside the `aws-sam-cli` wheel.
    pub(crate) fn rie_binary_name(self) -> &'static str {
        match self {
            Arch::Arm64 => "aws-lambda-rie-arm64",
            Arch::X86_64 => "aws-lambda-rie-x86_64",
        }
    }

    /// The name Lambda's `Architectures` setting uses; also our CLI spelling.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Arch::Arm64 => "arm64",
            Arch::X86_64 => "x86_64",
        }
    }

    /// The architecture of an ELF `e_machine`, if it is one Lambda runs.
    pub(crate) fn from_elf_machine(machine: u16) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.elf_machine() == machine)
    }

    /// The architecture of the machine the gate runs on, when Lambda has one like it.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "aarch64" => Some(Arch::Arm64),
            "x86_64" => Some(Arch::X86_64),
            _ => None,
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.lambda_name())
    }
}

/// An architecture name the gate does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown architecture `{0}`: use `arm64` or `x86_64`")]
pub struct UnknownArch(String);

impl FromStr for Arch {
    type Err = UnknownArch;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::SPELLINGS
            .iter()
            .find(|(_, names)| names.iter().any(|n| n.eq_ignore_ascii_case(s)))
            .map(|(arch, _)| *arch)
            .ok_or_else(|| UnknownArch(s.to_owned()))
    }
}

impl TryFrom<String> for Arch {
    type Error = UnknownArch;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The CLI's `--arch`: the same table, so `--help` lists the Lambda names and a mistake lists
/// them too.
impl clap::ValueEnum for Arch {
    fn value_variants<'a>() -> &'a [Self] {
        &Arch::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let (_, names) = Arch::SPELLINGS.iter().find(|(a, _)| a == self)?;
        Some(clap::builder::PossibleValue::new(names[0]).aliases(names[1..].iter().copied()))
    }
}

/// The ELF `e_machine` of a 64-bit ELF file, `None` for anything else.
pub(crate) fn machine_of_elf(bytes: &[u8]) -> Option<u16> {
    use object::read::elf::FileHeader;
    let header = object::elf::FileHeader64::<object::Endianness>::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    Some(header.e_machine(endian).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        for arch in Arch::ALL {
            assert_eq!(arch.lambda_name().parse::<Arch>().unwrap(), arch);
            assert_eq!(arch.oci_architecture().parse::<Arch>().unwrap(), arch);
            assert_eq!(Arch::from_elf_machine(arch.elf_machine()), Some(arch));
        }
        assert!("ppc64le".parse::<Arch>().is_err());
    }

    #[test]
    fn the_spec_the_cli_and_from_str_agree() {
        use clap::ValueEnum;
        for (arch, names) in Arch::SPELLINGS {
            for name in names.iter().flat_map(|n| [n.to_string(), n.to_uppercase()]) {
                assert_eq!(name.parse::<Arch>().unwrap(), arch, "{name}");
                assert_eq!(
                    <Arch as ValueEnum>::from_str(&name, true).unwrap(),
                    arch,
                    "{name}"
                );
                let toml: Arch = serde_json::from_value(serde_json::json!(name)).unwrap();
                assert_eq!(toml, arch, "{name}");
            }
        }
        assert!(serde_json::from_value::<Arch>(serde_json::json!("ppc64le")).is_err());
    }
}
