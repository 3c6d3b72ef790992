//! Whole-process measurements: wall time and peak RSS of a command, repeated.
//!
//! Peak RSS is read with `getrusage(RUSAGE_CHILDREN)` in a wrapper process (this binary again,
//! in [`CHILD_MODE`]) whose only child is the measured command, so the kernel's number is that
//! command's own peak.

use crate::stats::Summary;
use anyhow::{Context, Result, bail};
use std::process::{Command, Stdio};
use std::time::Instant;

/// First argument that makes this binary the measuring wrapper.
pub(crate) const CHILD_MODE: &str = "__measure-child";

/// Runs in the wrapper: executes `args`, then prints `wall_seconds max_rss_bytes`.
pub(crate) fn child(args: &[String]) -> Result<()> {
    let (program, rest) = args.split_first().context("no command to measure")?;
    let started = Instant::now();
    let status = Command::new(program)
        .args(rest)
        .stdout(Stdio::null())
        .status()
        .with_context(|| format!("running {program}"))?;
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{program} exited with {status}");
    }
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)?;
    // Linux reports ru_maxrss in kilobytes.
    println!("{wall} {}", usage.max_rss() * 1024);
    Ok(())
}

/// Wall time and peak RSS over repeated runs.
pub(crate) struct Runs {
    pub(crate) wall: Summary,
    pub(crate) max_rss_bytes: f64,
}

/// Runs `command` `n` times through the wrapper.
pub(crate) fn repeat(n: usize, command: &mut Command) -> Result<Runs> {
    let me = std::env::current_exe()?;
    let mut walls = Vec::with_capacity(n);
    let mut rss = Vec::with_capacity(n);
    for _ in 0..n {
        let mut wrapper = Command::new(&me);
        wrapper.arg(CHILD_MODE).arg(command.get_program());
        wrapper.args(command.get_args());
        if let Some(dir) = command.get_current_dir() {
            wrapper.current_dir(dir);
        }
        let output = wrapper.stderr(Stdio::inherit()).output()?;
        if !output.status.success() {
            bail!("measuring {:?} failed", command.get_program());
        }
        let text = String::from_utf8_lossy(&output.stdout);
        let mut parts = text.split_whitespace();
        walls.push(parts.next().context("wall time")?.parse::<f64>()?);
        rss.push(parts.next().context("max rss")?.parse::<f64>()?);
    }
    Ok(Runs {
        wall: Summary::of(&walls),
        max_rss_bytes: Summary::of(&rss).median,
    })
}
