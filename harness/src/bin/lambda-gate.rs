//! `lambda-gate`: verify a Lambda container image before it is pushed. The command line lives
//! in the library (`harness::cli`), so its commands stay crate-private.

fn main() -> std::process::ExitCode {
    harness::cli::main()
}
