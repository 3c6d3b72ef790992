//! The x86_64 image under the RIE: cold first requests, warm latencies, memory.

use crate::stats::{Samples, Summary};
use anyhow::{Context, Result};
use harness::{Outcome, Progress, Spec, Target};
use std::path::Path;
use std::time::Duration;

/// Container starts for the cold numbers.
pub(crate) const STARTS: usize = 5;
/// Warm one-record invocations.
pub(crate) const WARM_ONE: usize = 500;
/// Warm hundred-record invocations.
pub(crate) const WARM_HUNDRED: usize = 200;

pub(crate) struct RieNumbers {
    pub(crate) first_request: Summary,
    pub(crate) init_duration: Summary,
    pub(crate) one_record: Samples,
    pub(crate) hundred_records: Samples,
    pub(crate) peak_memory: Option<u64>,
    pub(crate) max_memory_used: Option<String>,
}

fn body(events: &[String]) -> Vec<u8> {
    format!("{{\"records\":[{}]}}", events.join(",")).into_bytes()
}

fn seconds(invocation: &harness::Invocation) -> Result<f64> {
    match &invocation.outcome {
        Outcome::Success(_) => Ok(invocation.elapsed.as_secs_f64()),
        other => anyhow::bail!("invocation failed: {}", other.describe()),
    }
}

pub(crate) fn measure(spec: &Spec, ws: &Path) -> Result<RieNumbers> {
    let inputs = std::fs::read_to_string(ws.join("golden/inputs.jsonl"))?;
    let events: Vec<String> = inputs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).map(|v| v["event"].to_string()))
        .collect::<Result<_, _>>()?;
    let one = body(&events[..1]);
    let hundred = body(&events.iter().cycle().take(100).cloned().collect::<Vec<_>>());
    let mut first = Vec::new();
    let mut init = Vec::new();
    let mut last = None;
    for _ in 0..STARTS {
        let container = harness::start(spec, &Progress::silent())?;
        first.push(seconds(&container.invoke(&one))?);
        if let Some(d) = container.init_report(Duration::from_secs(10)) {
            init.push(d.as_secs_f64());
        }
        last = Some(container);
    }
    let container = last.context("no container started")?;
    for _ in 0..20 {
        seconds(&container.invoke(&one))?;
    }
    let one_record = (0..WARM_ONE)
        .map(|_| seconds(&container.invoke(&one)))
        .collect::<Result<Vec<_>>>()?;
    let hundred_records = (0..WARM_HUNDRED)
        .map(|_| seconds(&container.invoke(&hundred)))
        .collect::<Result<Vec<_>>>()?;
    let max_memory_used = container
        .log_tail(5)
        .lines()
        .filter_map(|l| l.split("Max Memory Used:").nth(1))
        .map(|v| v.trim().to_owned())
        .next_back();
    Ok(RieNumbers {
        first_request: Summary::of(&first),
        init_duration: Summary::of(&init),
        one_record: Samples(one_record),
        hundred_records: Samples(hundred_records),
        peak_memory: container.peak_memory_bytes(),
        max_memory_used,
    })
}
