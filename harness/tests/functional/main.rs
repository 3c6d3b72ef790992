//! The gate's functional tests: one test binary (the crate links once), a module per area,
//! shared helpers in `support.rs` with one lock for every test that runs containers.
//!
//! These tests need a Docker engine, arm64 emulation (qemu binfmt) on x86_64 machines, Python
//! with the training side's environment, and for `push` Debian's docker-registry and skopeo
//! (`.ci/install` sets all of it up). Without them they fail with the gate's own message
//! naming the fix; they never pass silently.

// A test fails by panicking; helpers outside #[test] functions may unwrap too.
#![allow(clippy::unwrap_used)]

mod registry;
mod support;

mod action;
mod action_install;
mod bounded;
mod cli;
mod concurrency;
mod contracts;
mod gate;
mod golden_import;
mod golden_loop;
mod hardening;
mod image_layers;
mod init;
mod interrupt;
mod push;
mod python_function;
mod replay;
mod root_cause;
mod snapstart;
mod tune;
mod wheel;
